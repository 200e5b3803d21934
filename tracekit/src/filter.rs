//! Selecting stored spans: [`TraceFilter`].

use crate::{Attributes, Key, Trace, TraceId, Value};

/// Which spans [`Tracer::get_traces`](crate::Tracer::get_traces) returns: an AND of exact
/// matches, as in the reference (§7).
///
/// * `trace_id`: only spans of that trace.
/// * each `attribute(key, value)`: the span's merged attributes (inherited included) hold
///   `key` with a value equal to `value`. Whole values are compared (a sub-map does not match);
///   numbers compare by value (`1 == 1.0`). A missing key never matches, and
///   `Value::Null` matches only a key explicitly set to null.
/// * no conditions: every stored span.
///
/// Results are ordered by `started_at` (ties keep storage order).
///
/// Where this differs from the reference, on purpose: a bool never equals a number (Python's
/// `True == 1` is an accident of its type system), and the same rule holds for every tracer
/// (the reference's SQLite and DynamoDB tracers treat a missing key like `None`).
///
/// ```
/// use tracekit::{TraceFilter, Tracer};
/// let tracer = Tracer::in_memory(100);
/// {
///     let turn = tracer.trace("converse");
///     turn.add_inheritable_attribute("ai.conversation.id", "c-1");
///     let _tool = tracer.trace("search");
/// }
/// drop(tracer.trace("unrelated"));
/// let spans = tracer
///     .get_traces(&TraceFilter::new().attribute("ai.conversation.id", "c-1"))
///     .unwrap();
/// let names: Vec<_> = spans.iter().map(|s| s.span_name.as_ref()).collect();
/// assert_eq!(names, ["converse", "search"]);
/// ```
///
/// A filter is also data: it reads from and writes to JSON (or any serde format), for filters
/// that arrive in a request or a config file. Unknown fields are an error, so a misspelt
/// condition never silently matches everything.
///
/// ```
/// use tracekit::TraceFilter;
/// let filter: TraceFilter = serde_json::from_str(
///     r#"{"trace_id": "d065753a35e29066b9245130a24c201f", "attributes": {"ai.agent.name": "planner"}}"#,
/// )?;
/// assert_eq!(filter.attributes.len(), 1);
/// assert!(serde_json::from_str::<TraceFilter>(r#"{"atributes": {}}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceFilter {
    /// Only spans of this trace.
    pub trace_id: Option<TraceId>,
    /// Attributes that must all be present with equal values.
    pub attributes: Attributes,
}

impl TraceFilter {
    /// A filter that matches every span.
    #[must_use = "a filter does nothing by itself: pass it to `get_traces`"]
    pub fn new() -> Self {
        TraceFilter::default()
    }

    /// Keep only spans of this trace.
    #[must_use = "a filter does nothing by itself: pass it to `get_traces`"]
    pub fn trace_id(mut self, id: TraceId) -> Self {
        self.trace_id = Some(id);
        self
    }

    /// Keep only spans whose merged attributes hold `key == value`.
    #[must_use = "a filter does nothing by itself: pass it to `get_traces`"]
    pub fn attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key, value);
        self
    }

    /// Whether `trace` passes every condition.
    ///
    /// ```
    /// use tracekit::{TraceFilter, Value};
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// tracer.trace("x").add_attribute("n", 1);
    /// let span = &tracer.get_traces(&TraceFilter::new()).unwrap()[0];
    /// assert!(TraceFilter::new().attribute("n", 1.0).matches(span));
    /// assert!(!TraceFilter::new().attribute("n", Value::Null).matches(span));
    /// assert!(!TraceFilter::new().attribute("missing", Value::Null).matches(span));
    /// ```
    pub fn matches(&self, trace: &Trace) -> bool {
        self.trace_id.is_none_or(|id| trace.trace_id == id)
            && self
                .attributes
                .iter()
                .all(|(k, v)| trace.attributes.get(k) == Some(v))
    }

    /// Filters and orders spans as `get_traces` returns them: matching ones, by `started_at`,
    /// stable. Backends that hold spans in memory call this.
    pub fn apply<'a>(&self, spans: impl IntoIterator<Item = &'a Trace>) -> Vec<Trace> {
        let mut out: Vec<Trace> = spans
            .into_iter()
            .filter(|t| self.matches(t))
            .cloned()
            .collect();
        out.sort_by_key(|t| t.started_at);
        out
    }
}
