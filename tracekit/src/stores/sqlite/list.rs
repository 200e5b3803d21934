//! Listing traces from the file a page at a time ([`Query`]), without reading the file.
//!
//! Spans are walked in start order (newest first, or oldest) on tracekit's index
//! `(started_at)` (a conversation's on the reference's conversation index), and each trace met
//! for the first time is looked up by id (the reference's `trace_id` index): its start, end,
//! span count, errors, root and conversation, and, when the query has span conditions, its
//! spans. The walk stops as soon as no trace it
//! has not met could make the page: newest first, a trace not met yet has every span, so its
//! start, at or before the walk's position; once a page's worth (and one more, to know there
//! is a next page) of listed traces started after that position, the page is settled. Oldest
//! first, a trace is met at its first span.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension};

use super::row::{self, Query as RowQuery};
use crate::query::{Page, Query, TraceHead};
use crate::{Error, StoreProblem, Timestamp, TraceFilter, TraceId};

/// The page `query` asks for, from the spans tagged `identifier`.
pub(super) fn list(
    conn: &Connection,
    identifier: Option<&str>,
    query: &Query,
    location: &dyn Fn() -> String,
) -> Result<Page<TraceHead>, Error> {
    let sql_error = |e: rusqlite::Error| Error::Store {
        location: location(),
        problem: StoreProblem::Backend(e.to_string()),
    };
    let bad_row = |problem: StoreProblem| Error::Store {
        location: location(),
        problem,
    };
    // Where the walk starts: the cursor's trace, or the end of the time range.
    let (op, order, bound) = if query.oldest_first {
        let from = match (query.after, query.since) {
            (Some(c), Some(s)) => Some(c.started_at.max(s)),
            (Some(c), None) => Some(c.started_at),
            (None, s) => s,
        };
        (">=", "ASC", from)
    } else {
        let to = match (query.after, query.until) {
            (Some(c), Some(u)) => Some(c.started_at.min(u)),
            (Some(c), None) => Some(c.started_at),
            (None, u) => u,
        };
        ("<=", "DESC", to)
    };
    // A conversation's spans are walked on the reference's conversation index (every span of
    // a conversation carries its id, inherited), the rest on tracekit's start-time index.
    let conversation = match &query.conversation {
        Some(_) => "AND conversation_id = ?3",
        None => "AND ?3 IS NULL",
    };
    let walk_sql = format!(
        "SELECT trace_id, started_at FROM traces WHERE identifier IS ?1 {conversation} \
         AND (?2 IS NULL OR started_at {op} ?2) ORDER BY started_at {order}"
    );
    let mut walk = conn.prepare_cached(&walk_sql).map_err(sql_error)?;
    let mut rows = walk
        .query(rusqlite::params![
            identifier,
            bound.map(row::iso),
            query.conversation
        ])
        .map_err(sql_error)?;
    let mut met: HashSet<TraceId> = HashSet::new();
    let mut heads = Vec::new();
    while let Some(r) = rows.next().map_err(sql_error)? {
        let (id, at): (String, String) =
            (r.get(0).map_err(sql_error)?, r.get(1).map_err(sql_error)?);
        let position: Timestamp = at
            .parse()
            .map_err(|_| bad_row(StoreProblem::Backend(format!("started_at `{at}`"))))?;
        if query.oldest_first {
            if query.until.is_some_and(|u| position >= u) {
                break;
            }
        } else if query.since.is_some_and(|s| position < s) {
            break;
        }
        let settled = heads
            .iter()
            .filter(|h: &&TraceHead| {
                if query.oldest_first {
                    h.started_at < position
                } else {
                    h.started_at > position
                }
            })
            .count();
        if settled > query.limit {
            break;
        }
        let Ok(trace_id) = id.parse::<TraceId>() else {
            continue;
        };
        if !met.insert(trace_id) {
            continue;
        }
        if let Some(head) = head(conn, identifier, trace_id, query, &sql_error, &bad_row)? {
            if query.in_range(head.started_at, head.trace_id) {
                heads.push(head);
            }
        }
    }
    Ok(Page::select(query, heads))
}

/// The head of trace `trace_id`, if the query lists it (time range and cursor aside).
fn head(
    conn: &Connection,
    identifier: Option<&str>,
    trace_id: TraceId,
    query: &Query,
    sql_error: &dyn Fn(rusqlite::Error) -> Error,
    bad_row: &dyn Fn(StoreProblem) -> Error,
) -> Result<Option<TraceHead>, Error> {
    let mut statement = conn
        .prepare_cached(
            "SELECT MIN(started_at), MAX(ended_at), COUNT(*), \
             SUM(span_status = 'ERROR'), \
             MAX(CASE WHEN parent_span_id IS NULL THEN span_name END), \
             MAX(conversation_id), \
             SUM(conversation_id IS ?3) \
             FROM traces WHERE trace_id = ?1 AND identifier IS ?2 AND ended_at IS NOT NULL",
        )
        .map_err(sql_error)?;
    let id = trace_id.to_string();
    let found = statement
        .query_row(rusqlite::params![id, identifier, query.conversation], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })
        .optional()
        .map_err(sql_error)?;
    let Some((Some(start), end, spans, errors, root, conversation, in_conversation)) = found else {
        return Ok(None);
    };
    let time = |text: &str| {
        text.parse::<Timestamp>()
            .map_err(|_| bad_row(StoreProblem::Backend(format!("a time `{text}`"))))
    };
    let head = TraceHead {
        trace_id,
        started_at: time(&start)?,
        ended_at: end.as_deref().map(time).transpose()?,
        spans: spans as usize,
        errors: errors.unwrap_or(0) as usize,
        root_name: root,
        conversation_id: conversation,
    };
    if query.errors_only && head.errors == 0 {
        return Ok(None);
    }
    if query.conversation.is_some() && in_conversation.unwrap_or(0) == 0 {
        return Ok(None);
    }
    if query.has_span_conditions() {
        // Narrowed by the trace index; the conditions are checked on the decoded spans.
        let filter = TraceFilter::new().trace_id(trace_id);
        let rq = RowQuery::new(&filter, identifier);
        let mut statement = conn.prepare_cached(&rq.sql).map_err(sql_error)?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(&rq.params))
            .map_err(sql_error)?;
        let mut any = false;
        while let Some(r) = rows.next().map_err(sql_error)? {
            if query.span_matches(&row::decode(r).map_err(bad_row)?) {
                any = true;
                break;
            }
        }
        if !any {
            return Ok(None);
        }
    }
    Ok(Some(head))
}
