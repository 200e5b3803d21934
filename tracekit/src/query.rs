//! Listing traces at scale: [`Query`] says which traces, in which order, how many and from
//! where ([`Cursor`]); a store answers with a [`Page`] of [`TraceHead`]s
//! ([`Tracer::list_traces`](crate::Tracer::list_traces)).
//!
//! A store answers in its own way: SQLite walks its spans newest first on an index and looks
//! each candidate trace up by id, so a page costs what it holds, not what the file holds; the
//! in-memory store and any other sink scan what [`get_traces`](crate::Sink::get_traces)
//! returns ([`scan`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use crate::{Error, Key, SpanId, SpanStatus, Timestamp, Trace, TraceFilter, TraceId, Value};

/// The attribute that names a conversation.
const CONVERSATION_ID: &str = "ai.conversation.id";

/// Which traces to list. A trace is listed when it started in the time range and one of its
/// spans matches every span condition at once (name, status, attributes); conversation and
/// errors-only look at any of its spans.
///
/// ```
/// use tracekit::query::{Predicate, Query};
/// let query = Query::new()
///     .conversation("c-1")
///     .errors_only()
///     .span_name("tool")
///     .attribute(Predicate::prefix("ai.tool.name", "search"))
///     .limit(20);
/// # drop(query);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "a query does nothing until it is given to `Tracer::list_traces`"]
pub struct Query {
    pub(crate) since: Option<Timestamp>,
    pub(crate) until: Option<Timestamp>,
    pub(crate) errors_only: bool,
    pub(crate) span_name: Option<String>,
    pub(crate) conversation: Option<String>,
    pub(crate) predicates: Vec<Predicate>,
    pub(crate) oldest_first: bool,
    pub(crate) limit: usize,
    pub(crate) after: Option<Cursor>,
}

impl Default for Query {
    fn default() -> Self {
        Query::new()
    }
}

/// A condition on one attribute of a span.
#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    /// The attribute is present with this value.
    Equals(Key, Value),
    /// The attribute is present (with any value).
    Exists(Key),
    /// The attribute is a string that starts with this text.
    Prefix(Key, String),
}

impl Predicate {
    /// [`Predicate::Equals`].
    pub fn equals(key: impl Into<Key>, value: impl Into<Value>) -> Self {
        Predicate::Equals(key.into(), value.into())
    }

    /// [`Predicate::Exists`].
    pub fn exists(key: impl Into<Key>) -> Self {
        Predicate::Exists(key.into())
    }

    /// [`Predicate::Prefix`].
    pub fn prefix(key: impl Into<Key>, prefix: impl Into<String>) -> Self {
        Predicate::Prefix(key.into(), prefix.into())
    }

    /// Whether `span` meets it.
    pub fn matches(&self, span: &Trace) -> bool {
        match self {
            Predicate::Equals(key, value) => span.attributes.get(key) == Some(value),
            Predicate::Exists(key) => span.attributes.get(key).is_some(),
            Predicate::Prefix(key, prefix) => span
                .attributes
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with(prefix.as_str())),
        }
    }
}

impl Query {
    /// Every trace, newest first, 50 per page.
    pub fn new() -> Self {
        Query {
            since: None,
            until: None,
            errors_only: false,
            span_name: None,
            conversation: None,
            predicates: Vec::new(),
            oldest_first: false,
            limit: 50,
            after: None,
        }
    }

    /// Only traces that started at or after `at`.
    pub fn since(mut self, at: Timestamp) -> Self {
        self.since = Some(at);
        self
    }

    /// Only traces that started before `at`.
    pub fn until(mut self, at: Timestamp) -> Self {
        self.until = Some(at);
        self
    }

    /// Only traces with a failed span.
    pub fn errors_only(mut self) -> Self {
        self.errors_only = true;
        self
    }

    /// Only traces with a span of this name (meeting the attribute conditions too).
    pub fn span_name(mut self, name: impl Into<String>) -> Self {
        self.span_name = Some(name.into());
        self
    }

    /// Only traces of this conversation (`ai.conversation.id` on any of their spans).
    pub fn conversation(mut self, id: impl Into<String>) -> Self {
        self.conversation = Some(id.into());
        self
    }

    /// Only traces with a span meeting `predicate` (and the other span conditions).
    pub fn attribute(mut self, predicate: Predicate) -> Self {
        self.predicates.push(predicate);
        self
    }

    /// Oldest first instead of newest first.
    pub fn oldest_first(mut self) -> Self {
        self.oldest_first = true;
        self
    }

    /// At most this many traces per page (at least 1).
    pub fn limit(mut self, traces: usize) -> Self {
        self.limit = traces.max(1);
        self
    }

    /// The page after the one that gave `cursor` ([`Page::next`]).
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// Whether one span meets the span conditions (name, attributes); traces need one such
    /// span.
    pub(crate) fn span_matches(&self, span: &Trace) -> bool {
        self.span_name
            .as_deref()
            .is_none_or(|name| span.span_name == name)
            && self.predicates.iter().all(|p| p.matches(span))
    }

    /// Whether the query has span conditions at all.
    pub(crate) fn has_span_conditions(&self) -> bool {
        self.span_name.is_some() || !self.predicates.is_empty()
    }

    /// Whether a trace that started at `start` with id `id` is in the time range and on the
    /// far side of the cursor.
    pub(crate) fn in_range(&self, start: Timestamp, id: TraceId) -> bool {
        self.since.is_none_or(|s| start >= s)
            && self.until.is_none_or(|u| start < u)
            && self.after.is_none_or(|c| {
                let key = (start, id.to_int());
                let cursor = (c.started_at, c.trace_id.to_int());
                if self.oldest_first {
                    key > cursor
                } else {
                    key < cursor
                }
            })
    }
}

/// Where a page ended; give it to [`Query::after`] for the next one. Pages stay stable while
/// spans are written: the next page starts after the last trace of this one, in the query's
/// order (start time, then trace id), whatever was added meanwhile.
///
/// Its text form (`Display`, `FromStr`) is for URLs and command lines; treat it as opaque.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) started_at: Timestamp,
    pub(crate) trace_id: TraceId,
}

impl Cursor {
    /// When the trace the cursor stands at started.
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// The trace the cursor stands at.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.started_at.unix_nanos(), self.trace_id)
    }
}

/// A cursor's text that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a page cursor (expected what Page::next gave, e.g. 1733500000000000000-4bf92f3577b34da6a3ce929d0e0e4736)")]
pub struct ParseCursorError {
    text: String,
}

impl FromStr for Cursor {
    type Err = ParseCursorError;

    fn from_str(s: &str) -> Result<Cursor, ParseCursorError> {
        let bad = || ParseCursorError {
            text: s.chars().take(80).collect(),
        };
        let (nanos, id) = s.rsplit_once('-').ok_or_else(bad)?;
        Ok(Cursor {
            started_at: Timestamp::from_unix_nanos(nanos.parse().map_err(|_| bad())?),
            trace_id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// One trace as a list shows it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TraceHead {
    /// The trace.
    pub trace_id: TraceId,
    /// When its first span started.
    pub started_at: Timestamp,
    /// When its last span ended (`None` if none has).
    pub ended_at: Option<Timestamp>,
    /// Its spans.
    pub spans: usize,
    /// Its failed spans.
    pub errors: usize,
    /// The name of its root span (a span without a parent), if stored.
    pub root_name: Option<String>,
    /// Its `ai.conversation.id`, if any span has one.
    pub conversation_id: Option<String>,
}

impl TraceHead {
    /// The head of the trace made of `spans` (all of one trace, at least one).
    pub(crate) fn of(spans: &[&Trace]) -> Option<TraceHead> {
        let first = spans.first()?;
        Some(TraceHead {
            trace_id: first.trace_id,
            started_at: spans.iter().map(|s| s.started_at).min()?,
            ended_at: spans.iter().filter_map(|s| s.ended_at).max(),
            spans: spans.len(),
            errors: spans
                .iter()
                .filter(|s| s.span_status == SpanStatus::Error)
                .count(),
            root_name: spans
                .iter()
                .find(|s| s.parent_span_id.is_none())
                .map(|s| s.span_name.to_string()),
            conversation_id: spans.iter().find_map(|s| {
                s.attributes
                    .get(CONVERSATION_ID)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
        })
    }

    /// Whether the trace of these spans is one `query` lists (time range and cursor aside).
    pub(crate) fn qualifies(query: &Query, spans: &[&Trace], head: &TraceHead) -> bool {
        (!query.errors_only || head.errors > 0)
            && query.conversation.as_deref().is_none_or(|c| {
                spans
                    .iter()
                    .any(|s| s.attributes.get(CONVERSATION_ID).and_then(Value::as_str) == Some(c))
            })
            && (!query.has_span_conditions() || spans.iter().any(|s| query.span_matches(s)))
    }

    /// The cursor just past this trace: a listing [`after`](Query::after) it starts with the
    /// next trace in the query's order.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            started_at: self.started_at,
            trace_id: self.trace_id,
        }
    }
}

/// A page of results.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// This page's items, in the query's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

impl Page<TraceHead> {
    /// The page `query` asks for among `heads` (each a trace that qualifies).
    pub(crate) fn select(query: &Query, mut heads: Vec<TraceHead>) -> Page<TraceHead> {
        heads.retain(|h| query.in_range(h.started_at, h.trace_id));
        heads.sort_by_key(|h| (h.started_at, h.trace_id.to_int()));
        if !query.oldest_first {
            heads.reverse();
        }
        let more = heads.len() > query.limit;
        heads.truncate(query.limit);
        let next = more.then(|| heads.last().map(TraceHead::cursor)).flatten();
        Page { items: heads, next }
    }
}

/// Answers `query` by scanning every stored span, as `read` returns them for an empty filter:
/// what a store without an index of its own does (the default of `Sink::list_traces`).
pub(crate) fn scan_all(
    read: impl FnOnce(&TraceFilter) -> Result<Vec<Trace>, Error>,
    query: &Query,
) -> Result<Page<TraceHead>, Error> {
    Ok(scan(&read(&TraceFilter::new())?, query))
}

/// Answers `query` by scanning `spans` (what a store without an index of its own does).
pub fn scan(spans: &[Trace], query: &Query) -> Page<TraceHead> {
    let mut by_trace: HashMap<TraceId, Vec<&Trace>> = HashMap::new();
    for span in spans.iter().filter(|s| s.ended_at.is_some()) {
        by_trace.entry(span.trace_id).or_default().push(span);
    }
    let heads = by_trace
        .values()
        .filter_map(|spans| {
            let head = TraceHead::of(spans)?;
            TraceHead::qualifies(query, spans, &head).then_some(head)
        })
        .collect();
    Page::select(query, heads)
}

/// How far a follower of a store has read ([`Tracer::new_spans`](crate::Tracer::new_spans)):
/// each call returns the spans stored since the last and moves the mark past them.
///
/// A SQLite store follows its rows in the order they were written and answers a call when
/// nothing was written without reading a row; other stores read every span and remember
/// which they returned (memory grows with the store: for in-memory stores and small tables).
///
/// ```
/// use tracekit::query::Watermark;
/// let tracer = tracekit::Tracer::in_memory(100);
/// drop(tracer.trace("before"));
/// let mut mark = Watermark::now();
/// assert!(tracer.new_spans(&mut mark)?.is_empty()); // what was there is skipped
/// drop(tracer.trace("after"));
/// let new = tracer.new_spans(&mut mark)?;
/// assert_eq!(new[0].span_name, "after");
/// assert!(tracer.new_spans(&mut mark)?.is_empty());
/// # Ok::<(), tracekit::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Watermark {
    pub(crate) at: Mark,
}

/// Where a [`Watermark`] stands, in the terms of the store that set it.
#[derive(Clone, Debug, Default)]
pub(crate) enum Mark {
    /// Not read yet; the first call skips what is stored.
    #[default]
    Now,
    /// Not read yet; the first call returns what is stored.
    Start,
    /// A SQLite store: the last row returned, and the file's version when it was read.
    #[cfg(feature = "sqlite")]
    Row { id: i64, version: i64 },
    /// Any other store: the spans returned so far.
    Seen(HashSet<(TraceId, SpanId)>),
}

impl Watermark {
    /// A mark at the end of the store: the first call returns nothing, later ones what was
    /// written after it.
    pub fn now() -> Watermark {
        Watermark { at: Mark::Now }
    }

    /// A mark at the start of the store: the first call returns every stored span.
    pub fn start() -> Watermark {
        Watermark { at: Mark::Start }
    }
}

/// The spans stored since `mark`, found by reading every span (`read` with an empty filter):
/// what a store without an order of writes does (the default of `Sink::new_spans`).
pub(crate) fn new_by_scan(
    read: impl FnOnce(&TraceFilter) -> Result<Vec<Trace>, Error>,
    mark: &mut Watermark,
) -> Result<Vec<Trace>, Error> {
    let spans = read(&TraceFilter::new())?;
    let skip_all = matches!(mark.at, Mark::Now);
    if !matches!(mark.at, Mark::Seen(_)) {
        mark.at = Mark::Seen(HashSet::new());
    }
    let Mark::Seen(seen) = &mut mark.at else {
        return Ok(Vec::new());
    };
    let new: Vec<Trace> = spans
        .into_iter()
        .filter(|s| seen.insert((s.trace_id, s.span_id)))
        .collect();
    Ok(if skip_all { Vec::new() } else { new })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SpanStatus, Tracer};

    fn traces(tracer: &Tracer, n: usize) {
        for i in 0..n {
            let root = tracer.trace(format!("turn-{i}"));
            root.add_inheritable_attribute(CONVERSATION_ID, format!("c-{}", i % 3));
            let tool = tracer.trace("tool");
            tool.add_attribute("ai.tool.name", if i % 2 == 0 { "search" } else { "fetch" });
            if i % 4 == 0 {
                tool.set_status(SpanStatus::Error);
            }
        }
    }

    #[test]
    fn pages_walk_every_trace_once_in_order() {
        let tracer = Tracer::in_memory(1_000);
        traces(&tracer, 23);
        let spans = tracer.get_traces(&Default::default()).unwrap();
        let mut seen = Vec::new();
        let mut query = Query::new().limit(5);
        loop {
            let page = scan(&spans, &query);
            seen.extend(
                page.items
                    .iter()
                    .map(|h| (h.started_at, h.root_name.clone())),
            );
            match page.next {
                Some(next) => query = query.after(next.to_string().parse().unwrap()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 23);
        assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");
        assert_eq!(seen[0].1.as_deref(), Some("turn-22"));
    }

    #[test]
    fn conditions_select_traces() {
        let tracer = Tracer::in_memory(1_000);
        traces(&tracer, 12);
        let spans = tracer.get_traces(&Default::default()).unwrap();
        let count = |q: Query| scan(&spans, &q.limit(100)).items.len();
        assert_eq!(count(Query::new()), 12);
        assert_eq!(count(Query::new().errors_only()), 3);
        assert_eq!(count(Query::new().conversation("c-1")), 4);
        assert_eq!(
            count(Query::new().attribute(Predicate::equals("ai.tool.name", "search"))),
            6
        );
        assert_eq!(
            count(Query::new().attribute(Predicate::prefix("ai.tool.name", "fe"))),
            6
        );
        // One span must meet every span condition at once.
        assert_eq!(
            count(
                Query::new()
                    .span_name("turn-0")
                    .attribute(Predicate::exists("ai.tool.name"))
            ),
            0
        );
        let head = &scan(&spans, &Query::new().limit(1)).items[0];
        assert_eq!((head.spans, head.errors), (2, 0));
        assert_eq!(head.conversation_id.as_deref(), Some("c-2"));
    }

    #[test]
    fn bad_cursors_are_typed_errors() {
        for text in ["", "abc", "12-zz", "-4bf92f3577b34da6a3ce929d0e0e4736"] {
            assert!(text.parse::<Cursor>().is_err(), "{text}");
        }
    }
}
