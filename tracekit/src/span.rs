//! Open spans: the shared record ([`Span`]), the guard that makes one current
//! ([`SpanGuard`]) and the builder that starts them ([`SpanBuilder`]).

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::context;
use crate::instrument::Instrumented;
use crate::tracer::TracerInner;
use crate::{
    lock, Attributes, Event, Key, Scope, SpanId, SpanKind, SpanStatus, Timestamp, Trace, TraceId,
    Tracer, Value,
};

/// The state of one open span, shared by its guard, its children and any [`Span`] handles.
pub(crate) struct SpanInner {
    pub(crate) tracer: Arc<TracerInner>,
    name: Key,
    kind: SpanKind,
    trace_id: TraceId,
    span_id: SpanId,
    parent: Parent,
    started_at: Timestamp,
    scope: Option<Scope>,
    /// Whether the sink wanted snapshots when the span started (the reference binds this at
    /// start, so toggling later does not affect open spans).
    snapshots: bool,
    /// Set once the span has inheritable attributes, so descendants skip locking the spans
    /// that have none.
    has_inheritable: AtomicBool,
    state: Mutex<State>,
}

enum Parent {
    Root,
    Local(Arc<SpanInner>),
    Remote(SpanId),
}

impl Parent {
    fn local(&self) -> Option<&SpanInner> {
        match self {
            Parent::Local(p) => Some(p),
            _ => None,
        }
    }

    fn span_id(&self) -> Option<SpanId> {
        match self {
            Parent::Root => None,
            Parent::Local(p) => Some(p.span_id),
            Parent::Remote(id) => Some(*id),
        }
    }
}

/// Mutable parts. A key lives in exactly one of `inheritable` / `own`: once added as
/// inheritable it stays inheritable, and a later plain `add_attribute` only changes its value
/// (the reference keeps the old inheritable value visible to descendants instead).
#[derive(Default)]
struct State {
    inheritable: Attributes,
    own: Attributes,
    events: Vec<Event>,
    status: SpanStatus,
    ended: bool,
}

impl State {
    /// Sets `key`: an inheritable key stays inheritable (see `State`).
    fn set(&mut self, key: Key, value: Value, inheritable: bool) {
        if inheritable {
            self.own.remove(&key);
            self.inheritable.insert(key, value);
        } else if let Some(slot) = self.inheritable.get_mut(&key) {
            *slot = value;
        } else {
            self.own.insert(key, value);
        }
    }
}

impl SpanInner {
    fn add(&self, key: Key, value: Value, inheritable: bool) {
        let written = self.update(|st| st.set(key, value, inheritable)).is_some();
        if written && inheritable {
            self.has_inheritable.store(true, Ordering::Release);
        }
    }

    fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let mut st = lock(&self.state);
        if st.ended {
            drop(st);
            self.tracer.count_late_write();
            return None;
        }
        Some(f(&mut st))
    }

    pub(crate) fn record_panic(&self, payload: &(dyn Any + Send)) {
        let message = panic_message(payload);
        self.update(|st| {
            st.status = SpanStatus::Error;
            st.set(
                Key::Borrowed("exception.type"),
                Value::from_static("panic"),
                false,
            );
            st.set(Key::Borrowed("exception.message"), message.into(), false);
        });
    }

    pub(crate) fn record_cancelled(&self) {
        self.add(Key::Borrowed("cancelled"), Value::Bool(true), false);
    }

    /// Inherited attributes of this span's ancestors, root first, nearest ancestor winning.
    fn inherited(&self) -> Attributes {
        let mut chain: Vec<&SpanInner> = Vec::new();
        let mut cursor = self.parent.local();
        while let Some(span) = cursor {
            if span.has_inheritable.load(Ordering::Acquire) {
                chain.push(span);
            }
            cursor = span.parent.local();
        }
        let mut out = Attributes::new();
        for span in chain.iter().rev() {
            out.overlay_ref(&lock(&span.state).inheritable);
        }
        out
    }

    fn record(&self, attributes: Attributes, events: Vec<Event>, status: SpanStatus) -> Trace {
        Trace {
            span_name: self.name.clone(),
            span_kind: self.kind,
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent.span_id(),
            started_at: self.started_at,
            ended_at: None,
            attributes,
            span_status: status,
            resource_attributes: self.tracer.resource_attributes(),
            scope: self
                .scope
                .clone()
                .unwrap_or_else(|| self.tracer.scope.clone()),
            events,
            snapshot_at: None,
        }
    }

    /// A flattened copy of the span as it is now; `None` once it has ended.
    fn snapshot(&self) -> Option<Trace> {
        let (attributes, events, status) = {
            let st = lock(&self.state);
            if st.ended {
                return None;
            }
            let mut attributes = st.inheritable.clone();
            attributes.overlay_ref(&st.own);
            (attributes, st.events.clone(), st.status)
        };
        let mut merged = self.inherited();
        merged.overlay(attributes);
        let mut trace = self.record(merged, events, status);
        trace.snapshot_at = Some(Timestamp::now());
        Some(trace)
    }
}

/// Ends the span and hands its record to the tracer (once; later calls do nothing).
pub(crate) fn finish(span: Arc<SpanInner>) {
    let ended_at = Timestamp::now();
    // With no other handle alive nobody can read this span's inheritable attributes any more,
    // so they can be moved out instead of copied.
    let unique = Arc::strong_count(&span) == 1;
    let (inheritable, own, events, status) = {
        let mut st = lock(&span.state);
        if st.ended {
            return;
        }
        st.ended = true;
        let inheritable = if unique {
            std::mem::take(&mut st.inheritable)
        } else {
            st.inheritable.clone()
        };
        (
            inheritable,
            std::mem::take(&mut st.own),
            std::mem::take(&mut st.events),
            st.status,
        )
    };
    let mut attributes = span.inherited();
    attributes.overlay(inheritable);
    attributes.overlay(own);
    let mut trace = span.record(attributes, events, status);
    trace.ended_at = Some(ended_at);
    span.tracer.deliver(trace);
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// A handle to an open span (or a no-op handle): add attributes, events and a status from
/// anywhere. Cheap to clone, `Send + Sync`; it does not end the span when dropped.
///
/// Get one from [`Tracer::current_trace`] inside a span, or by dereferencing a [`SpanGuard`].
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
    pub(crate) inner: Option<Arc<SpanInner>>,
}

// As for `Tracer`: span state stays consistent across panics.
impl std::panic::UnwindSafe for Span {}
impl std::panic::RefUnwindSafe for Span {}

impl Span {
    /// A handle that records nothing.
    pub const fn none() -> Span {
        Span { inner: None }
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
            if let Some(snapshot) = s.snapshots.then(|| s.snapshot()).flatten() {
                s.tracer.deliver_snapshot(&snapshot);
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
        self.inner.as_ref().map(|s| s.trace_id)
    }

    /// The span's own id (`None` for a no-op handle).
    pub fn span_id(&self) -> Option<SpanId> {
        self.inner.as_ref().map(|s| s.span_id)
    }

    /// The span's name (`None` for a no-op handle).
    pub fn span_name(&self) -> Option<&str> {
        self.inner.as_deref().map(|s| s.name.as_ref())
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            None => f.write_str("Span(none)"),
            Some(s) => f
                .debug_struct("Span")
                .field("name", &s.name)
                .field("trace_id", &s.trace_id)
                .field("span_id", &s.span_id)
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
pub struct SpanGuard {
    span: Span,
    /// Whether the thread was already unwinding when the span started; then unwinding at the
    /// end is not this span's failure.
    started_panicking: bool,
    _not_send: PhantomData<*const ()>,
}

impl SpanGuard {
    /// Makes `span` current on this thread until the guard drops.
    #[inline]
    pub(crate) fn enter(span: Option<Arc<SpanInner>>) -> SpanGuard {
        if let Some(span) = &span {
            context::enter(span);
        }
        SpanGuard {
            started_panicking: span.is_some() && std::thread::panicking(),
            span: Span { inner: span },
            _not_send: PhantomData,
        }
    }

    /// Leaves the context without ending the span (its owner becomes the caller).
    pub(crate) fn detach(mut self) -> Option<Arc<SpanInner>> {
        let span = self.span.inner.take();
        if let Some(span) = &span {
            context::exit(span);
        }
        span
    }

    /// Ends the span now (the same as dropping the guard).
    #[inline]
    pub fn end(self) {}

    /// The span this guard keeps open.
    #[inline]
    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl Deref for SpanGuard {
    type Target = Span;
    #[inline]
    fn deref(&self) -> &Span {
        &self.span
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

enum ParentChoice {
    Current,
    Root,
    Span(Option<Arc<SpanInner>>),
    Remote(TraceId, SpanId),
}

/// Configures a span before starting it: from [`Tracer::span`].
///
/// ```
/// use tracekit::{SpanKind, Tracer};
/// let tracer = Tracer::in_memory(10);
/// let span = tracer
///     .span("llm-invocation")
///     .kind(SpanKind::Client)
///     .attribute("ai.trace.type", "llm-invocation")
///     .inheritable_attribute("ai.agent.name", "planner")
///     .start();
/// drop(span);
/// let spans = tracer.get_traces(&Default::default()).unwrap();
/// assert_eq!(spans[0].span_kind, SpanKind::Client);
/// ```
#[must_use = "a span builder does nothing until `.start()` or `.instrument(..)`"]
pub struct SpanBuilder<'a> {
    tracer: &'a Tracer,
    name: Key,
    kind: SpanKind,
    parent: ParentChoice,
    own: Attributes,
    inheritable: Attributes,
    scope: Option<Scope>,
}

impl<'a> SpanBuilder<'a> {
    #[inline]
    pub(crate) fn new(tracer: &'a Tracer, name: Key) -> Self {
        SpanBuilder {
            tracer,
            name,
            kind: SpanKind::Internal,
            parent: ParentChoice::Current,
            own: Attributes::new(),
            inheritable: Attributes::new(),
            scope: None,
        }
    }

    /// Sets the span kind (default [`SpanKind::Internal`]).
    #[inline]
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets an attribute from the start.
    #[inline]
    pub fn attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        if self.tracer.is_enabled() {
            self.own.insert(key, value);
        }
        self
    }

    /// Sets an inheritable attribute from the start.
    #[inline]
    pub fn inheritable_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        if self.tracer.is_enabled() {
            let key = key.into();
            self.own.remove(&key);
            self.inheritable.insert(key, value);
        }
        self
    }

    /// Makes `parent` the parent instead of the current span (it may belong to another
    /// tracer; its inheritable attributes still flow). A no-op handle makes this a root span.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// let parent = tracer.trace("parent").span().clone();
    /// let child = std::thread::spawn({
    ///     let tracer = tracer.clone();
    ///     move || tracer.span("child").parent(&parent).start().span_id()
    /// }).join().unwrap();
    /// assert!(child.is_some());
    /// ```
    #[inline]
    pub fn parent(mut self, parent: &Span) -> Self {
        self.parent = ParentChoice::Span(parent.inner.clone());
        self
    }

    /// Continues a trace started elsewhere (another process): the span gets `trace_id` and
    /// `parent_span_id`; nothing is inherited.
    pub fn remote_parent(mut self, trace_id: TraceId, parent_span_id: SpanId) -> Self {
        self.parent = ParentChoice::Remote(trace_id, parent_span_id);
        self
    }

    /// Starts a new trace even inside another span of this tracer.
    #[inline]
    pub fn root(mut self) -> Self {
        self.parent = ParentChoice::Root;
        self
    }

    /// Sets the instrumentation scope (default: the tracer's, `tracekit@<version>`).
    #[inline]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Starts the span and makes it current on this thread until the guard drops.
    #[inline]
    pub fn start(self) -> SpanGuard {
        SpanGuard::enter(self.build())
    }

    /// Starts the span now and returns `future` wrapped so the span is current whenever it
    /// is polled (on any thread) and ends when it completes, panics or is dropped
    /// (then with `cancelled = true`).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// let answer = tracer
    ///     .span("step")
    ///     .instrument(async {
    ///         tokio::task::yield_now().await;
    ///         42
    ///     })
    ///     .await;
    /// assert_eq!(answer, 42);
    /// assert_eq!(tracer.get_traces(&Default::default()).unwrap()[0].span_name, "step");
    /// # });
    /// ```
    pub fn instrument<F: Future>(self, future: F) -> Instrumented<F> {
        Instrumented::new(self.build(), future, ())
    }

    /// Starts the span now and returns `iter` wrapped so the span is current during each
    /// `next()` and ends after the last item, or with `cancelled = true` if the iterator is
    /// dropped before it is exhausted.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// let tokens = tracer.span("tokens").instrument_iter(["Hel", "lo"]);
    /// assert!(tracer.get_traces(&Default::default()).unwrap().is_empty()); // still open
    /// assert_eq!(tokens.collect::<String>(), "Hello");
    /// assert_eq!(tracer.get_traces(&Default::default()).unwrap().len(), 1);
    /// ```
    pub fn instrument_iter<I: IntoIterator>(self, iter: I) -> Instrumented<I::IntoIter> {
        Instrumented::new(self.build(), iter.into_iter(), ())
    }

    /// Starts the span now and returns `stream` wrapped so the span is current during each
    /// poll and ends after the last item, or with `cancelled = true` if the stream is dropped
    /// before it is exhausted. Needs the `stream` feature.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::{pin, Pin};
    /// use std::task::{Context, Poll};
    /// use futures_core::Stream;
    ///
    /// /// A stream of ready chunks.
    /// struct Chunks(std::vec::IntoIter<&'static str>);
    /// impl Stream for Chunks {
    ///     type Item = &'static str;
    ///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<&'static str>> {
    ///         Poll::Ready(self.0.next())
    ///     }
    /// }
    ///
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// let chunks = Chunks(vec!["Hel", "lo"].into_iter());
    /// let mut traced = pin!(tracer.span("llm-stream").instrument_stream(chunks));
    /// let mut text = String::new();
    /// while let Some(chunk) = poll_fn(|cx| traced.as_mut().poll_next(cx)).await {
    ///     text.push_str(chunk);
    /// }
    /// assert_eq!(text, "Hello");
    /// assert_eq!(tracer.get_traces(&Default::default()).unwrap()[0].span_name, "llm-stream");
    /// # });
    /// ```
    #[cfg(feature = "stream")]
    pub fn instrument_stream<S: futures_core::Stream>(self, stream: S) -> Instrumented<S> {
        Instrumented::new(self.build(), stream, ())
    }

    pub(crate) fn build(self) -> Option<Arc<SpanInner>> {
        let tracer = self.tracer.inner.as_ref()?;
        let (trace_id, parent) = match self.parent {
            ParentChoice::Current => match context::current(tracer) {
                Some(p) => (p.trace_id, Parent::Local(p)),
                None => (TraceId::random(), Parent::Root),
            },
            ParentChoice::Root | ParentChoice::Span(None) => (TraceId::random(), Parent::Root),
            ParentChoice::Span(Some(p)) => (p.trace_id, Parent::Local(p)),
            ParentChoice::Remote(trace_id, id) => (trace_id, Parent::Remote(id)),
        };
        Some(Arc::new(SpanInner {
            tracer: Arc::clone(tracer),
            name: self.name,
            kind: self.kind,
            trace_id,
            span_id: SpanId::random(),
            parent,
            started_at: Timestamp::now(),
            scope: self.scope,
            snapshots: tracer.sink.snapshot_enabled(),
            has_inheritable: AtomicBool::new(!self.inheritable.is_empty()),
            state: Mutex::new(State {
                inheritable: self.inheritable,
                own: self.own,
                ..State::default()
            }),
        }))
    }
}
