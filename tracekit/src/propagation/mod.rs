//! W3C Trace Context and Baggage: one trace, and one conversation, across processes.
//!
//! The calling side [`inject`]s the current span into its outgoing request's headers:
//! `traceparent` names the trace and the span, and `baggage` carries the span's inheritable
//! attributes whose keys are allowlisted (by default the conversation, subcontext and agent
//! keys). The serving side [`extract`]s a [`RemoteContext`] from the incoming headers and
//! starts its span with [`SpanBuilder::remote`](crate::SpanBuilder::remote) (or
//! `#[traced(parent = ..)]`): the span joins the caller's trace as a child of the caller's
//! span, and the baggage comes back as inheritable attributes, so every span of the request
//! carries the conversation id.
//!
//! ```
//! use std::collections::HashMap;
//! use tracekit::propagation::{extract, inject};
//! use tracekit::{SpanKind, Tracer};
//!
//! // The agent, calling a tool service.
//! let agent = Tracer::in_memory(10);
//! let turn = agent.span("turn").inheritable_attribute("ai.conversation.id", "c-42").start();
//! let mut headers = HashMap::new();
//! inject(&turn, &mut headers);
//! assert!(headers["traceparent"].starts_with("00-"));
//! assert_eq!(headers["baggage"], "ai.conversation.id=c-42");
//!
//! // The tool service, handling the request.
//! let service = Tracer::in_memory(10);
//! let remote = extract(&headers).expect("a valid traceparent");
//! let handler = service.span("search").kind(SpanKind::Server).remote(remote).start();
//! assert_eq!(handler.trace_id(), turn.trace_id());
//! drop(handler);
//! let served = &service.get_traces(&Default::default()).unwrap()[0];
//! assert_eq!(served.parent_span_id, turn.span_id());
//! assert_eq!(served.attributes.get("ai.conversation.id").unwrap(), "c-42");
//! ```
//!
//! What the specs ask is followed exactly, in both directions: an invalid `traceparent` (a
//! version of `ff`, uppercase or non-hex digits, an all-zero id, a wrong length) means no
//! remote parent; `tracestate` is passed on (its malformed members dropped); baggage values
//! are percent-encoded; malformed baggage members are skipped without losing the good ones;
//! at most 64 members and 8192 bytes of baggage are read or written.
//!
//! Incoming baggage is untrusted input: only allowlisted keys become attributes, so a client
//! cannot set `ai.auth.context` on the server's spans unless the server allowlists it. Use a
//! [`Propagator`] for another allowlist.

mod baggage;
mod carrier;
mod traceparent;

#[cfg(feature = "otlp")]
pub(crate) use baggage::percent_decode;
pub use baggage::{
    BaggageEntry, MAX_BYTES as MAX_BAGGAGE_BYTES, MAX_ENTRIES as MAX_BAGGAGE_ENTRIES,
};
pub use carrier::{Extractor, Injector};

use crate::{Key, Span, SpanBuilder, SpanId, TraceId, Value};

/// The header that names the trace and the calling span.
pub const TRACEPARENT: &str = "traceparent";
/// The header with vendors' trace state, passed on unchanged.
pub const TRACESTATE: &str = "tracestate";
/// The header with the propagated attributes.
pub const BAGGAGE: &str = "baggage";

/// The keys [`inject`] and [`extract`] let through: the conversation, the subcontext and the
/// agent name.
pub const DEFAULT_ALLOWLIST: &[&str] = &["ai.conversation.id", "ai.subcontext.id", "ai.agent.name"];

/// The caller's side of a trace, read from incoming headers by [`extract`].
///
/// Start a span with it ([`SpanBuilder::remote`](crate::SpanBuilder::remote)) to continue the
/// trace: the span gets the caller's trace id, the caller's span as its parent, and the
/// baggage as inheritable attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
    trace_state: Option<String>,
    baggage: Vec<BaggageEntry>,
}

impl RemoteContext {
    /// A context for a caller's span, sampled, with no trace state or baggage.
    ///
    /// ```
    /// use tracekit::propagation::RemoteContext;
    /// let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
    /// let ctx = RemoteContext::new(trace_id, "00f067aa0ba902b7".parse().unwrap())
    ///     .with_baggage("ai.conversation.id", "c-1");
    /// assert_eq!(ctx.trace_id(), trace_id);
    /// assert_eq!(ctx.baggage()[0].value, "c-1");
    /// ```
    pub fn new(trace_id: TraceId, span_id: SpanId) -> RemoteContext {
        RemoteContext {
            trace_id,
            span_id,
            flags: traceparent::SAMPLED,
            trace_state: None,
            baggage: Vec::new(),
        }
    }

    /// Adds a baggage entry (restored as an inheritable attribute by `SpanBuilder::remote`).
    pub fn with_baggage(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.baggage.push(BaggageEntry {
            key: key.into(),
            value: value.into(),
            properties: Vec::new(),
        });
        self
    }

    /// The caller's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The caller's span: the parent of the span started with this context.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// Whether the caller may have recorded its side (the `sampled` trace flag).
    ///
    /// A tracer with head sampling ([`Sampler::ratio`](crate::Sampler::ratio)) follows it:
    /// a span started with this context is not sampled when the caller's was not. A tracer
    /// without records every span, and sends `sampled` on.
    pub fn is_sampled(&self) -> bool {
        self.flags & traceparent::SAMPLED != 0
    }

    /// All the trace flags as received.
    pub fn trace_flags(&self) -> u8 {
        self.flags
    }

    /// The `tracestate` to pass on, if the caller sent a valid one.
    pub fn trace_state(&self) -> Option<&str> {
        self.trace_state.as_deref()
    }

    /// The allowlisted baggage entries, in the order they came.
    pub fn baggage(&self) -> &[BaggageEntry] {
        &self.baggage
    }

    /// The caller's `traceparent` again (for a proxy that forwards it).
    pub fn traceparent(&self) -> String {
        traceparent::format(self.trace_id, self.span_id, self.flags)
    }

    pub(crate) fn into_parts(self) -> (TraceId, SpanId, Option<String>, Vec<BaggageEntry>, bool) {
        let sampled = self.is_sampled();
        (
            self.trace_id,
            self.span_id,
            self.trace_state,
            self.baggage,
            sampled,
        )
    }
}

/// Continuing a caller's trace: with the propagation formats, which the span itself does not
/// need to know.
impl SpanBuilder<'_> {
    /// Continues a caller's trace from another process, as [`propagation::extract`] read it:
    /// the span gets the caller's trace id and the caller's span as its parent, its baggage
    /// entries become inheritable attributes, and its `tracestate` goes on to the span's own
    /// outgoing calls.
    ///
    /// Pass `None` (an `extract` that found no valid `traceparent`) to start a new trace:
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracekit::{propagation, Tracer};
    ///
    /// let tracer = Tracer::in_memory(10);
    /// let no_headers = HashMap::<String, String>::new();
    /// let span = tracer.span("handle").remote(propagation::extract(&no_headers)).start();
    /// assert!(span.trace_id().is_some()); // a trace of its own
    /// ```
    ///
    /// [`propagation::extract`]: crate::propagation::extract
    pub fn remote(mut self, context: impl Into<Option<RemoteContext>>) -> Self {
        let Some(context) = context.into() else {
            return self;
        };
        let (trace_id, span_id, trace_state, baggage, sampled) = context.into_parts();
        self = self.remote_with_state(trace_id, span_id, trace_state, sampled);
        for entry in baggage {
            self = self.inheritable_attribute(entry.key, entry.value);
        }
        self
    }
}

/// Which inheritable attributes cross process boundaries, in both directions.
///
/// [`inject`] and [`extract`] use [`Propagator::default`], which allows
/// [`DEFAULT_ALLOWLIST`]. An entry ending in `*` allows every key that starts with the rest.
///
/// ```
/// use std::collections::HashMap;
/// use tracekit::propagation::Propagator;
///
/// let propagator = Propagator::default().allow("app.tenant").allow("feature.*");
/// let tracer = tracekit::Tracer::in_memory(1);
/// let span = tracer
///     .span("call")
///     .inheritable_attribute("app.tenant", "acme")
///     .inheritable_attribute("feature.beta", true)
///     .inheritable_attribute("ai.auth.context", "secret")
///     .start();
/// let mut headers = HashMap::new();
/// propagator.inject(&span, &mut headers);
/// assert_eq!(headers["baggage"], "app.tenant=acme,feature.beta=true");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Propagator {
    allowed: Vec<Key>,
}

impl Default for Propagator {
    fn default() -> Propagator {
        Propagator {
            allowed: DEFAULT_ALLOWLIST.iter().map(|k| Key::Borrowed(k)).collect(),
        }
    }
}

impl Propagator {
    /// A propagator that lets no attribute through (only `traceparent` and `tracestate`).
    pub fn none() -> Propagator {
        Propagator {
            allowed: Vec::new(),
        }
    }

    /// Also lets `key` through (`prefix*` for every key with that prefix). `ai.auth.context`
    /// crosses only when allowed here by name.
    pub fn allow(mut self, key: impl Into<Key>) -> Self {
        self.allowed.push(key.into());
        self
    }

    /// Whether `key` may cross.
    pub fn allows(&self, key: &str) -> bool {
        self.allowed.iter().any(|a| match a.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix) && (key != "ai.auth.context" || a == key),
            None => a == key,
        })
    }

    /// Writes `traceparent` (and `tracestate`, if the trace arrived with one) for `span`, and
    /// `baggage` for its allowlisted inheritable attributes. A no-op span writes nothing.
    ///
    /// String values are sent as they are; other values as their JSON text.
    pub fn inject<C: Injector + ?Sized>(&self, span: &Span, carrier: &mut C) {
        let Some(inner) = span.inner.as_deref() else {
            return;
        };
        let (trace_id, span_id) = inner.ids();
        carrier.set(
            TRACEPARENT,
            traceparent::format(
                trace_id,
                span_id,
                if inner.is_sampled() {
                    traceparent::SAMPLED
                } else {
                    0
                },
            ),
        );
        let (attributes, trace_state) = inner.propagated();
        if let Some(state) = trace_state {
            carrier.set(TRACESTATE, state.to_owned());
        }
        let texts: Vec<(&str, std::borrow::Cow<'_, str>)> = attributes
            .iter()
            .filter(|(k, _)| self.allows(k))
            .map(|(k, v)| (k, baggage_text(v)))
            .collect();
        if let Some(baggage) = baggage::format(texts.iter().map(|(k, v)| (*k, v.as_ref()))) {
            carrier.set(BAGGAGE, baggage);
        }
    }

    /// Reads a [`RemoteContext`] from `carrier`; `None` when `traceparent` is missing, sent
    /// more than once, or invalid. Baggage entries whose keys are not allowed are dropped.
    pub fn extract<C: Extractor + ?Sized>(&self, carrier: &C) -> Option<RemoteContext> {
        let mut parents = carrier.get_all(TRACEPARENT);
        let parent = traceparent::parse(parents.next()?)?;
        if parents.next().is_some() {
            return None;
        }
        let mut baggage = baggage::parse(carrier.get_all(BAGGAGE));
        baggage.retain(|e| self.allows(&e.key));
        Some(RemoteContext {
            trace_id: parent.trace_id,
            span_id: parent.span_id,
            flags: parent.flags,
            trace_state: traceparent::trace_state(carrier.get_all(TRACESTATE)),
            baggage,
        })
    }
}

fn baggage_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

/// Writes `span`'s context into `carrier` with the default allowlist
/// ([`Propagator::inject`]).
///
/// ```
/// use std::collections::HashMap;
/// let tracer = tracekit::Tracer::in_memory(1);
/// let span = tracer.span("call").inheritable_attribute("ai.conversation.id", "c 1").start();
/// let mut headers = HashMap::new();
/// tracekit::propagation::inject(&span, &mut headers);
/// assert_eq!(headers["baggage"], "ai.conversation.id=c%201");
/// ```
pub fn inject<C: Injector + ?Sized>(span: &Span, carrier: &mut C) {
    Propagator::default().inject(span, carrier)
}

/// Reads a caller's context from `carrier` with the default allowlist
/// ([`Propagator::extract`]).
///
/// ```
/// use std::collections::HashMap;
/// let headers = HashMap::from([
///     ("traceparent".to_string(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string()),
///     ("baggage".to_string(), "ai.conversation.id=c%201,ai.auth.context=forged".to_string()),
/// ]);
/// let remote = tracekit::propagation::extract(&headers).unwrap();
/// assert_eq!(remote.span_id().to_string(), "b7ad6b7169203331");
/// assert_eq!(remote.baggage().len(), 1, "ai.auth.context is not allowlisted");
/// assert_eq!(remote.baggage()[0].value, "c 1");
/// ```
pub fn extract<C: Extractor + ?Sized>(carrier: &C) -> Option<RemoteContext> {
    Propagator::default().extract(carrier)
}
