//! Open spans: the shared record ([`Span`]), the guard that makes one current
//! ([`SpanGuard`]) and the builder that starts them ([`SpanBuilder`]).

use std::ops::Deref;

use crate::sync::lock;
use crate::{Event, Key, SpanId, SpanStatus, Timestamp, Trace, TraceId, Value};
use context::ThreadBound;

mod builder;
pub(crate) mod context;
mod inner;
pub(crate) mod instrument;
mod link;
mod pool;
mod start;

pub use builder::SpanBuilder;
pub(crate) use inner::{finish, SpanInner, SpanRef};
pub(crate) use link::Entry;

/// A handle to an open span (or a no-op handle): add attributes, events and a status from
/// anywhere. Cheap to clone, `Send + Sync`; it does not end the span when dropped.
///
/// Get one from [`Tracer::current_trace`](crate::Tracer::current_trace) inside a span, or by dereferencing a [`SpanGuard`].
/// Calls on a no-op handle do nothing; calls after the span ended are ignored and counted in
/// [`Stats::late_writes`](crate::Stats::late_writes).
///
/// ```
/// use tracekit::{SpanStatus, Tracer, Value};
/// let tracer = Tracer::in_memory(10);
/// {
///     let _span = tracer.trace("llm-invocation");
///     let current = tracer.current_trace();
///     current
///         .add_attribute("ai.trace.type", "llm-invocation")
///         .add_event("retry", [("attempt", Value::from(2))])
///         .set_status(SpanStatus::Ok);
/// }
/// let span = &tracer.get_traces(&Default::default()).unwrap()[0];
/// assert_eq!(span.events[0].name, "retry");
/// assert_eq!(span.span_status, SpanStatus::Ok);
/// ```
#[derive(Clone, Default)]
pub struct Span {
    pub(crate) inner: Option<SpanRef>,
}

// As for `Tracer`: span state stays consistent across panics.
impl std::panic::UnwindSafe for Span {}
impl std::panic::RefUnwindSafe for Span {}

impl Span {
    /// A handle that records nothing.
    pub const fn none() -> Span {
        Span { inner: None }
    }

    /// Whether the span goes to its tracer when it ends: `false` when a
    /// [`Sampler`](crate::Sampler)'s head ratio left its trace out (or its caller's did), and
    /// for a no-op handle. Code can skip work only a stored span would show.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// assert!(tracer.trace("turn").is_sampled());
    /// ```
    pub fn is_sampled(&self) -> bool {
        self.inner.as_ref().is_some_and(|s| s.is_sampled())
    }

    /// Whether this is a real span that has not ended yet.
    pub fn is_recording(&self) -> bool {
        self.inner.as_ref().is_some_and(|s| !lock(&s.state).ended)
    }

    /// Sets an attribute visible on this span only.
    #[inline]
    pub fn add_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) -> &Self {
        if let Some(s) = &self.inner {
            s.add(key.into(), value.into(), false);
        }
        self
    }

    /// Sets several attributes at once (one lock of the span instead of one per attribute).
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(1);
    /// let span = tracer.trace("call");
    /// span.add_attributes([("tokens.in", 120), ("tokens.out", 25)]);
    /// assert_eq!(span.snapshot().unwrap().attributes.len(), 2);
    /// ```
    pub fn add_attributes<K, V>(&self, attributes: impl IntoIterator<Item = (K, V)>) -> &Self
    where
        K: Into<Key>,
        V: Into<Value>,
    {
        if let Some(s) = &self.inner {
            s.update(|st| {
                for (k, v) in attributes {
                    st.set(k.into(), v.into(), false);
                }
            });
        }
        self
    }

    /// Sets an attribute visible on this span and every descendant that ends after this call
    /// (unless a nearer ancestor or the descendant sets the key itself).
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// {
    ///     let turn = tracer.trace("converse");
    ///     let tool = tracer.trace("tool");
    ///     turn.add_inheritable_attribute("ai.conversation.id", "c-7"); // after the child started
    ///     drop(tool);
    /// }
    /// let spans = tracer.get_traces(&Default::default()).unwrap();
    /// assert!(spans.iter().all(|s| s.attributes.get("ai.conversation.id") == Some(&"c-7".into())));
    /// ```
    pub fn add_inheritable_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) -> &Self {
        if let Some(s) = &self.inner {
            s.add(key.into(), value.into(), true);
        }
        self
    }

    /// Records an event now.
    pub fn add_event<K, V>(
        &self,
        name: impl Into<Key>,
        attributes: impl IntoIterator<Item = (K, V)>,
    ) -> &Self
    where
        K: Into<Key>,
        V: Into<Value>,
    {
        if let Some(s) = &self.inner {
            let event = Event {
                name: name.into(),
                timestamp: Timestamp::now(),
                attributes: attributes.into_iter().collect(),
            };
            s.update(|st| st.events.push(event));
        }
        self
    }

    /// Sets the outcome.
    pub fn set_status(&self, status: SpanStatus) -> &Self {
        if let Some(s) = &self.inner {
            s.update(|st| st.status = status);
        }
        self
    }

    /// Sends a flattened copy of the span as it is now (`ended_at == None`) to the tracer's
    /// sinks that took snapshots when the span started; does nothing otherwise.
    pub fn emit_snapshot(&self) -> &Self {
        if let Some(s) = &self.inner {
            if let Some(snapshot) = s.header.snapshots.then(|| s.snapshot()).flatten() {
                s.tracer().deliver_snapshot(&snapshot);
            }
        }
        self
    }

    /// A flattened copy of the span as it is now (inherited attributes included), or `None`
    /// for a no-op handle or a span that has ended.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// let span = tracer.trace("x");
    /// span.add_attribute("k", 1);
    /// let now = span.snapshot().unwrap();
    /// assert!(now.ended_at.is_none());
    /// assert_eq!(now.attributes.get("k"), Some(&1.into()));
    /// ```
    pub fn snapshot(&self) -> Option<Trace> {
        self.inner.as_ref().and_then(|s| s.snapshot())
    }

    /// The span's trace id (`None` for a no-op handle).
    pub fn trace_id(&self) -> Option<TraceId> {
        self.inner.as_ref().map(|s| s.header.trace_id)
    }

    /// The span's own id (`None` for a no-op handle).
    pub fn span_id(&self) -> Option<SpanId> {
        self.inner.as_ref().map(|s| s.header.span_id)
    }

    /// The span's name (`None` for a no-op handle).
    pub fn span_name(&self) -> Option<&str> {
        self.inner.as_deref().map(|s| s.header.name.as_ref())
    }
}

impl Span {
    /// The innermost open span on this thread, whichever tracer it belongs to.
    #[cfg(feature = "mcp")]
    pub(crate) fn innermost() -> Option<Span> {
        context::innermost().map(|span| Span { inner: Some(span) })
    }

    /// One of the span's own attributes (not inherited ones).
    #[cfg(feature = "mcp")]
    pub(crate) fn attribute(&self, key: &str) -> Option<Value> {
        self.inner.as_deref()?.attribute(key)
    }

    /// The shared state, for modules that keep their own on spans (`eval`).
    pub(crate) fn shared(&self) -> Option<&SpanInner> {
        self.inner.as_deref()
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            None => f.write_str("Span(none)"),
            Some(s) => f
                .debug_struct("Span")
                .field("name", &s.header.name)
                .field("trace_id", &s.header.trace_id)
                .field("span_id", &s.header.span_id)
                .finish(),
        }
    }
}

/// Keeps a span current on this thread and ends it when dropped.
///
/// It derefs to [`Span`], so attributes can be added through it. It is `!Send`: a guard
/// held across `.await` would leak its span into whatever else the thread runs, so the
/// compiler refuses it in `Send` futures; use [`SpanBuilder::instrument`] for async code.
/// If the thread panics while the guard is alive, the span ends with status `Error`.
///
/// ```
/// let tracer = tracekit::Tracer::in_memory(10);
/// let parent = tracer.trace("parent");
/// parent.add_attribute("foo", "bar");
/// let child = tracer.trace("child");
/// assert_eq!(tracer.current_trace().span_name(), Some("child"));
/// drop(child);
/// assert_eq!(tracer.current_trace().span_name(), Some("parent"));
/// parent.end();
/// assert!(tracer.try_current_trace().is_none());
/// ```
///
/// A guard cannot move to another thread:
///
/// ```compile_fail
/// fn needs_send<T: Send>(_: T) {}
/// needs_send(tracekit::Tracer::in_memory(1).trace("x"));
/// ```
#[must_use = "a span guard ends its span when dropped: bind it (`let _span = ...`) to keep the \
              span open for the scope"]
pub struct SpanGuard {
    pub(crate) span: Span,
    /// Whether the thread was already unwinding when the span started; then unwinding at the
    /// end is not this span's failure.
    started_panicking: bool,
    _thread_bound: ThreadBound<SpanGuard>,
}

impl SpanGuard {
    /// Makes `span` current on this thread until the guard drops.
    #[inline]
    pub(crate) fn enter(span: Option<SpanRef>) -> SpanGuard {
        if let Some(span) = &span {
            // SAFETY: the guard holds `span`'s reference until `Drop` (or `detach`) removes
            // the entry first; a forgotten guard leaks the reference.
            unsafe { context::enter(span) };
        }
        SpanGuard {
            started_panicking: span.is_some() && std::thread::panicking(),
            span: Span { inner: span },
            _thread_bound: ThreadBound::new(),
        }
    }

    /// Leaves the context without ending the span, and promotes it (see `link`): its owner
    /// becomes the caller, which may keep or send it.
    pub(crate) fn detach(mut self) -> Option<SpanRef> {
        let span = self.span.inner.take();
        if let Some(span) = &span {
            context::exit(span);
            span.promote();
        }
        span
    }

    /// Ends the span now (the same as dropping the guard).
    #[inline]
    pub fn end(self) {}

    /// The span this guard keeps open.
    #[inline]
    pub fn span(&self) -> &Span {
        // The handle may be cloned and kept beyond the guard: from now on the span keeps
        // its ancestors alive itself (see `link`).
        if let Some(span) = &self.span.inner {
            span.promote();
        }
        &self.span
    }
}

impl Deref for SpanGuard {
    type Target = Span;
    #[inline]
    fn deref(&self) -> &Span {
        self.span()
    }
}

impl Drop for SpanGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(inner) = self.span.inner.take() {
            context::exit(&inner);
            if !self.started_panicking && std::thread::panicking() {
                inner.record_panic(&"the thread panicked while the span was open");
            }
            finish(inner);
        }
    }
}

impl std::fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SpanGuard").field(&self.span).finish()
    }
}
