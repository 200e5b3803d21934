//! [`FinishedSpan`]: a span that just ended, as the tracer hands it to a sink.

use std::sync::Arc;

use crate::resource::ResourceCell;
use crate::{
    Attributes, Event, Key, Scope, SpanId, SpanKind, SpanStatus, Timestamp, Trace, TraceId, Value,
};

/// A span that just ended, lent to [`Sink::persist_span`](crate::Sink::persist_span).
///
/// It borrows the span's own storage, so a sink that encodes or forwards spans reads them
/// without an intermediate copy; [`to_trace`](Self::to_trace) makes an owned [`Trace`].
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tracekit::{FinishedSpan, Sink, SpanStatus, Tracer};
///
/// /// Keeps only the names of failed spans.
/// #[derive(Clone, Default)]
/// struct Failures(Arc<Mutex<Vec<String>>>);
///
/// impl Sink for Failures {
///     fn persist_span(&self, span: &FinishedSpan<'_>) {
///         if span.span_status() == SpanStatus::Error {
///             self.0.lock().unwrap().push(span.span_name().to_string());
///         }
///     }
/// }
///
/// let failures = Failures::default();
/// let tracer = Tracer::new(failures.clone());
/// tracer.trace("ok").end();
/// tracer.trace("bad").set_status(SpanStatus::Error);
/// assert_eq!(*failures.0.lock().unwrap(), ["bad"]);
/// ```
#[derive(Clone, Copy)]
pub struct FinishedSpan<'a> {
    pub(crate) name: &'a Key,
    pub(crate) kind: SpanKind,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: Option<SpanId>,
    /// The parent is a caller's span in another process.
    pub(crate) remote_parent: bool,
    pub(crate) started_at: Timestamp,
    pub(crate) ended_at: Timestamp,
    pub(crate) status: SpanStatus,
    /// The merged attributes, in order: the two parts have distinct keys.
    pub(crate) attributes: [&'a [(Key, Value)]; 2],
    pub(crate) events: &'a [Event],
    pub(crate) scope: &'a Scope,
    pub(crate) resource: Resource<'a>,
}

/// Where a finished span's resource attributes come from.
#[derive(Clone, Copy)]
pub(crate) enum Resource<'a> {
    /// The tracer's current ones (read only when asked for).
    Tracer(&'a ResourceCell),
    /// A record's own.
    Given(&'a Attributes),
}

impl<'a> FinishedSpan<'a> {
    /// A view of a finished record; `None` for a snapshot (`ended_at == None`).
    pub fn from_trace(trace: &'a Trace) -> Option<FinishedSpan<'a>> {
        Some(FinishedSpan {
            name: &trace.span_name,
            kind: trace.span_kind,
            trace_id: trace.trace_id,
            span_id: trace.span_id,
            parent_span_id: trace.parent_span_id,
            remote_parent: false,
            started_at: trace.started_at,
            ended_at: trace.ended_at?,
            status: trace.span_status,
            attributes: [trace.attributes.as_slice(), &[]],
            events: &trace.events,
            scope: &trace.scope,
            resource: Resource::Given(&trace.resource_attributes),
        })
    }

    /// The span's name.
    pub fn span_name(&self) -> &'a str {
        self.name
    }

    /// Its kind.
    pub fn span_kind(&self) -> SpanKind {
        self.kind
    }

    /// The trace it belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// Its own id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The parent's id; `None` for a root span.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.parent_span_id
    }

    /// When it started.
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// When it ended.
    pub fn ended_at(&self) -> Timestamp {
        self.ended_at
    }

    /// Its outcome.
    pub fn span_status(&self) -> SpanStatus {
        self.status
    }

    /// The merged attributes (inherited first, then its own), as [`Trace::attributes`] holds
    /// them.
    pub fn attributes(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a Value)> + 'a {
        let [first, second] = self.attributes;
        // `Chain` is not `ExactSizeIterator`; collecting would copy, so count by hand.
        Exact {
            inner: first.iter().chain(second),
            left: first.len() + second.len(),
        }
    }

    /// Events in the order they were added.
    pub fn events(&self) -> &'a [Event] {
        self.events
    }

    /// The instrumenting library.
    pub fn scope(&self) -> &'a Scope {
        self.scope
    }

    /// The resource attributes (the tracer's as the span ended).
    pub fn resource_attributes(&self) -> Arc<Attributes> {
        match self.resource {
            Resource::Tracer(cell) => cell.attributes(),
            Resource::Given(attributes) => Arc::new(attributes.clone()),
        }
    }

    /// Which version of the tracer's resource attributes applies: equal versions mean equal
    /// attributes, so a store can keep one copy. `None` when the record carries its own.
    pub(crate) fn resource_version(&self) -> Option<u64> {
        match self.resource {
            Resource::Tracer(cell) => Some(cell.version()),
            Resource::Given(_) => None,
        }
    }

    /// An owned record of the span.
    pub fn to_trace(&self) -> Trace {
        Trace {
            span_name: self.name.clone(),
            span_kind: self.kind,
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            started_at: self.started_at,
            ended_at: Some(self.ended_at),
            attributes: Attributes::concat(self.attributes),
            span_status: self.status,
            resource_attributes: match self.resource {
                Resource::Tracer(cell) => (*cell.attributes()).clone(),
                Resource::Given(attributes) => attributes.clone(),
            },
            scope: self.scope.clone(),
            events: self.events.to_vec(),
            snapshot_at: None,
        }
    }
}

impl std::fmt::Debug for FinishedSpan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FinishedSpan")
            .field("span_name", &self.name)
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .finish_non_exhaustive()
    }
}

struct Exact<I> {
    inner: I,
    left: usize,
}

impl<'a, I: Iterator<Item = &'a (Key, Value)>> Iterator for Exact<I> {
    type Item = (&'a str, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = self.inner.next()?;
        self.left -= 1;
        Some((k.as_ref(), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, I: Iterator<Item = &'a (Key, Value)>> ExactSizeIterator for Exact<I> {}
