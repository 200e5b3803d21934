//! A span as a row of the reference's `traces` table, and a [`TraceFilter`] as SQL.

use std::str::FromStr;

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{params, CachedStatement, Connection, Row};

use super::super::json;
use crate::{Attributes, Event, Key, Scope, StoreProblem, Timestamp, Trace, TraceFilter, Value};

/// The attributes the reference copies into indexed columns.
pub(super) const CONVERSATION_ID: &str = "ai.conversation.id";
pub(super) const SUBCONTEXT_ID: &str = "ai.subcontext.id";

/// A span's row.
pub(super) const INSERT: &str = "INSERT INTO traces (trace_id, span_id, span_kind, span_name, \
    span_status, scope_name, scope_version, resource_attributes, parent_span_id, started_at, \
    ended_at, attributes, identifier, conversation_id, subcontext_id) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

/// Whether the table has a span already (on the reference's `span_id` index), so that a
/// span sent twice (a collector's client retrying a request whose answer it missed) is
/// stored once. A separate statement: an `INSERT ... SELECT ... WHERE NOT EXISTS` on the
/// same table makes SQLite stage every row in a temporary table, which halved the writer's
/// rate.
pub(super) const EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM traces WHERE span_id = ?1 AND trace_id = ?2)";

pub(super) const INSERT_EVENTS: &str =
    "INSERT INTO tracekit_events (trace_row, events) VALUES (?1, ?2)";

pub(super) const SELECT: &str = "SELECT t.id, t.trace_id, t.span_id, t.span_kind, t.span_name, \
    t.span_status, t.scope_name, t.scope_version, t.resource_attributes, t.parent_span_id, \
    t.started_at, t.ended_at, t.attributes, e.events \
    FROM traces t LEFT JOIN tracekit_events e ON e.trace_row = t.id";

/// Encodes spans into rows; keeps the last resource's JSON, which nearly every span shares.
#[derive(Default)]
pub(super) struct RowEncoder {
    resource: Option<(Attributes, String)>,
    attributes: String,
}

impl RowEncoder {
    /// Inserts `trace` with `statements`, unless their [`EXISTS`] finds it stored already.
    pub(super) fn insert(
        &mut self,
        statements: &mut Inserts<'_>,
        trace: &Trace,
        identifier: Option<&str>,
    ) -> rusqlite::Result<()> {
        let (trace_id, span_id) = (trace.trace_id.to_string(), trace.span_id.to_string());
        if let Some(exists) = &mut statements.exists {
            if exists.query_row(params![span_id, trace_id], |row| row.get::<_, bool>(0))? {
                return Ok(());
            }
        }
        if self
            .resource
            .as_ref()
            .is_none_or(|(r, _)| *r != trace.resource_attributes)
        {
            let text = json::attributes_to_string(&trace.resource_attributes);
            self.resource = Some((trace.resource_attributes.clone(), text));
        }
        let resource = self.resource.as_ref().map(|(_, text)| text.as_str());
        self.attributes.clear();
        json::write_object(&mut self.attributes, trace.attributes.iter());
        let row = statements.insert.insert(params![
            trace_id,
            span_id,
            trace.span_kind.as_str(),
            &*trace.span_name,
            trace.span_status.as_str(),
            &*trace.scope.name,
            &*trace.scope.version,
            resource,
            trace.parent_span_id.map(|id| id.to_string()),
            iso(trace.started_at),
            trace.ended_at.map(iso),
            &self.attributes,
            identifier,
            indexed(trace.attributes.get(CONVERSATION_ID)),
            indexed(trace.attributes.get(SUBCONTEXT_ID)),
        ])?;
        if !trace.events.is_empty() {
            statements
                .insert_events
                .execute(params![row, events_json(&trace.events)])?;
        }
        Ok(())
    }
}

/// The prepared statements a batch's inserts run.
pub(super) struct Inserts<'c> {
    pub(super) insert: CachedStatement<'c>,
    pub(super) insert_events: CachedStatement<'c>,
    /// Present where a span may arrive twice and the table can find it: a store's, not a
    /// spool's (its file has no index to look a span up by).
    pub(super) exists: Option<CachedStatement<'c>>,
}

impl<'c> Inserts<'c> {
    /// The statements on `conn`, checking for spans stored already if `once`.
    pub(super) fn prepare(conn: &'c Connection, once: bool) -> rusqlite::Result<Inserts<'c>> {
        Ok(Inserts {
            insert: conn.prepare_cached(INSERT)?,
            insert_events: conn.prepare_cached(INSERT_EVENTS)?,
            exists: once.then(|| conn.prepare_cached(EXISTS)).transpose()?,
        })
    }
}

/// A timestamp as the reference writes it (Python's `isoformat()` of a UTC datetime):
/// microseconds, left out when zero, and `+00:00`.
pub(super) fn iso(t: Timestamp) -> String {
    t.truncated_to_micros().to_string()
}

/// The reference's `attributes.get(key) or None`: a falsy value (absent, null, false, 0, "",
/// empty) is SQL NULL; a number is bound as a number (the TEXT column keeps its text). Maps
/// and arrays, which the reference cannot bind, are NULL too.
fn indexed(value: Option<&Value>) -> Sql {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Sql::Text(s.to_string()),
        Some(Value::Bool(true)) => Sql::Integer(1),
        Some(Value::Int(n)) if *n != 0 => Sql::Integer(*n),
        Some(Value::UInt(n)) if *n != 0 => Sql::Text(n.to_string()),
        Some(Value::Float(f)) if *f != 0.0 && !f.is_nan() => Sql::Real(*f),
        _ => Sql::Null,
    }
}

/// Events as a JSON array of `{"name", "timestamp", "attributes"}` (nanosecond timestamps).
fn events_json(events: &[Event]) -> String {
    let mut out = String::from("[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("{\"name\": ");
        json::write_str(&mut out, &event.name);
        out.push_str(", \"timestamp\": ");
        json::write_str(&mut out, &event.timestamp.to_string());
        out.push_str(", \"attributes\": ");
        json::write_object(&mut out, event.attributes.iter());
        out.push('}');
    }
    out.push(']');
    out
}

/// A query for `filter`: the SQL narrows with the indexes (and a substring test for other
/// attributes), then [`TraceFilter::matches`] decides exactly.
pub(super) struct Query {
    pub(super) sql: String,
    pub(super) params: Vec<Sql>,
}

impl Query {
    pub(super) fn new(filter: &TraceFilter, identifier: Option<&str>) -> Query {
        let mut sql = format!("{SELECT} WHERE t.identifier IS ?1");
        let mut params = vec![identifier.map_or(Sql::Null, |i| Sql::Text(i.to_owned()))];
        let mut param = |sql: &mut String, clause: &str, value: Sql| {
            params.push(value);
            sql.push_str(&clause.replace('?', &format!("?{}", params.len())));
        };
        if let Some(id) = filter.trace_id {
            param(&mut sql, " AND t.trace_id = ?", Sql::Text(id.to_string()));
        }
        let text = |key: &str| {
            filter
                .attributes
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let conversation = text(CONVERSATION_ID);
        if let Some(conversation) = conversation {
            param(
                &mut sql,
                " AND t.conversation_id = ?",
                Sql::Text(conversation.to_owned()),
            );
            match filter.attributes.get(SUBCONTEXT_ID) {
                Some(Value::Null) => sql.push_str(" AND t.subcontext_id IS NULL"),
                Some(Value::String(s)) if !s.is_empty() => param(
                    &mut sql,
                    " AND t.subcontext_id = ?",
                    Sql::Text(s.to_string()),
                ),
                _ => {}
            }
        }
        for (key, value) in filter.attributes.iter() {
            if conversation.is_some() && (key == CONVERSATION_ID || key == SUBCONTEXT_ID) {
                continue;
            }
            // The row's JSON holds `"key": ` (written as the reference writes it) wherever
            // the span has that attribute, and a string value's JSON too.
            let mut needle = String::new();
            json::write_str(&mut needle, key);
            needle.push_str(": ");
            param(
                &mut sql,
                " AND instr(t.attributes, ?) > 0",
                Sql::Text(needle),
            );
            if let Value::String(s) = value {
                let mut needle = String::new();
                json::write_str(&mut needle, s);
                param(
                    &mut sql,
                    " AND instr(t.attributes, ?) > 0",
                    Sql::Text(needle),
                );
            }
        }
        sql.push_str(" ORDER BY t.started_at, t.id");
        Query { sql, params }
    }
}

/// Reads a row of [`Query`]'s select back into a span.
pub(super) fn decode(row: &Row<'_>) -> Result<Trace, StoreProblem> {
    let r = Columns {
        row,
        id: row.get(0).unwrap_or_default(),
    };
    let scope = match (r.text(6, "scope_name")?, r.text(7, "scope_version")?) {
        (Some(name), version) => {
            Scope::new(name.to_owned(), version.unwrap_or_default().to_owned())
        }
        (None, _) => Scope::default(),
    };
    let events = match r.text(13, "tracekit_events.events")? {
        None => Vec::new(),
        Some(s) => events(s).map_err(|e| r.corrupt("tracekit_events.events", e))?,
    };
    Ok(Trace {
        trace_id: r.parse(1, "trace_id")?,
        span_id: r.parse(2, "span_id")?,
        span_kind: r.parse(3, "span_kind")?,
        span_name: Key::Owned(r.required(4, "span_name")?.to_owned()),
        span_status: r.parse(5, "span_status")?,
        scope,
        resource_attributes: r.attributes(8, "resource_attributes")?,
        parent_span_id: r.optional(9, "parent_span_id")?,
        started_at: r.parse(10, "started_at")?,
        ended_at: r.optional(11, "ended_at")?,
        attributes: r.attributes(12, "attributes")?,
        events,
        snapshot_at: None,
    })
}

/// One row's columns, read with errors that name the row and column.
struct Columns<'a, 'r> {
    row: &'a Row<'r>,
    id: i64,
}

impl<'a> Columns<'a, '_> {
    fn corrupt(&self, column: &str, reason: impl std::fmt::Display) -> StoreProblem {
        StoreProblem::CorruptRow {
            row: format!("id {} (column {column})", self.id),
            reason: reason.to_string(),
        }
    }

    /// Text (or a blob of UTF-8, as the reference binds JSON); `None` for NULL.
    fn text(&self, i: usize, column: &str) -> Result<Option<&'a str>, StoreProblem> {
        match self.row.get_ref(i).map_err(|e| self.corrupt(column, e))? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(b) | ValueRef::Blob(b) => std::str::from_utf8(b)
                .map(Some)
                .map_err(|e| self.corrupt(column, e)),
            other => Err(self.corrupt(
                column,
                format_args!("expected text, found {}", other.data_type()),
            )),
        }
    }

    fn required(&self, i: usize, column: &str) -> Result<&'a str, StoreProblem> {
        self.text(i, column)?
            .ok_or_else(|| self.corrupt(column, "it is NULL"))
    }

    fn parse<T: FromStr<Err: std::fmt::Display>>(
        &self,
        i: usize,
        column: &str,
    ) -> Result<T, StoreProblem> {
        self.required(i, column)?
            .parse()
            .map_err(|e| self.corrupt(column, e))
    }

    /// NULL or empty is `None`.
    fn optional<T: FromStr<Err: std::fmt::Display>>(
        &self,
        i: usize,
        column: &str,
    ) -> Result<Option<T>, StoreProblem> {
        match self.text(i, column)? {
            None | Some("") => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|e| self.corrupt(column, e)),
        }
    }

    /// A JSON object; NULL or empty is no attributes.
    fn attributes(&self, i: usize, column: &str) -> Result<Attributes, StoreProblem> {
        match self.text(i, column)? {
            None | Some("") => Ok(Attributes::new()),
            Some(s) => json::parse_object(s).map_err(|e| self.corrupt(column, e)),
        }
    }
}

/// The events JSON that [`events_json`] wrote.
fn events(text: &str) -> Result<Vec<Event>, String> {
    let Value::Array(items) = json::parse(text).map_err(|e| e.to_string())? else {
        return Err("expected an array".into());
    };
    items
        .iter()
        .map(|item| {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .ok_or("an event without a name")?;
            let timestamp = item
                .get("timestamp")
                .and_then(Value::as_str)
                .ok_or("an event without a timestamp")?
                .parse::<Timestamp>()
                .map_err(|e| e.to_string())?;
            let attributes = match item.get("attributes") {
                Some(Value::Map(map)) => {
                    map.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect()
                }
                _ => Attributes::new(),
            };
            Ok(Event {
                name: Key::Owned(name.to_owned()),
                timestamp,
                attributes,
            })
        })
        .collect()
}
