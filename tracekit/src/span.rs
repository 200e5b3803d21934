//! Open spans: the shared record ([`Span`]), the guard that makes one current
//! ([`SpanGuard`]) and the builder that starts them ([`SpanBuilder`]).

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use triomphe::UniqueArc;

use crate::attributes::{upsert, Fields};
use crate::context;
use crate::finished::{FinishedSpan, Resource};
use crate::instrument::Instrumented;
use crate::tracer::{TracerInner, TracerOwner};
use crate::{
    lock, Attributes, Event, Key, Scope, SpanId, SpanKind, SpanStatus, Timestamp, Trace, TraceId,
    Tracer, Value,
};

/// A counted reference to a span. `triomphe`'s `Arc` has no weak count, so checking that a
/// reference is the only one (done as every span ends) is a load, not a compare-and-swap.
pub(crate) type SpanRef = triomphe::Arc<SpanInner>;

/// The state of one open span, shared by its guard, its children and any [`Span`] handles.
pub(crate) struct SpanInner {
    header: Header,
    /// Set once the span has inheritable attributes, so descendants skip locking the spans
    /// that have none.
    has_inheritable: AtomicBool,
    state: Mutex<State>,
}

/// The parts fixed at start.
struct Header {
    tracer: TracerRef,
    name: Key,
    kind: SpanKind,
    /// Whether the sink wanted snapshots when the span started (the reference binds this at
    /// start, so toggling later does not affect open spans).
    snapshots: bool,
    trace_id: TraceId,
    span_id: SpanId,
    parent: Parent,
    started_at: Timestamp,
    scope: SpanScope,
}

/// A span's tracer. Every thread tracing with a tracer shares its reference count, so a span
/// whose local parent has the same tracer borrows it through the parent (which it keeps
/// alive) instead of counting one more reference; only roots and spans under another tracer's
/// span hold one.
struct TracerRef {
    ptr: NonNull<TracerInner>,
    /// `None` when the parent keeps the tracer alive (while the span is being built: the
    /// builder's borrow of the `Tracer`).
    owned: Option<TracerOwner>,
}

// SAFETY: a `TracerRef` is a shared reference to a `TracerInner` plus maybe an `Arc` of it;
// `TracerInner` is `Send + Sync`.
unsafe impl Send for TracerRef {}
unsafe impl Sync for TracerRef {}

impl Deref for TracerRef {
    type Target = TracerInner;

    #[inline]
    fn deref(&self) -> &TracerInner {
        // SAFETY: `owned` keeps the tracer alive, or the span's local parent does (it holds
        // an `Arc` to its own tracer, directly or through its parent, and the span holds the
        // parent until it is dropped), or, before the span starts, the builder's `&Tracer`.
        unsafe { self.ptr.as_ref() }
    }
}

/// A span's instrumentation scope, without copying the usual ones.
enum SpanScope {
    /// The tracer's.
    Tracer,
    /// A `#[traced]` function's crate.
    Static(&'static Scope),
    /// Given to [`SpanBuilder::scope`].
    Owned(Box<Scope>),
}

enum Parent {
    Root,
    Local(SpanRef),
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
            Parent::Local(p) => Some(p.header.span_id),
            Parent::Remote(id) => Some(*id),
        }
    }
}

/// Attributes set when a span starts or while it runs, in place up to a few.
type Own = Fields<3>;
/// Inheritable attributes: usually none or one per span.
type Inheritable = Fields<1>;

/// Mutable parts. A key lives in exactly one of `inheritable` / `own`: once added as
/// inheritable it stays inheritable, and a later plain `add_attribute` only changes its value
/// (the reference keeps the old inheritable value visible to descendants instead).
#[derive(Default)]
struct State {
    inheritable: Inheritable,
    own: Own,
    events: Vec<Event>,
    status: SpanStatus,
    ended: bool,
}

impl State {
    /// Sets `key`: an inheritable key stays inheritable (see `State`).
    fn set(&mut self, key: Key, value: Value, inheritable: bool) {
        if inheritable {
            if let Some(i) = crate::attributes::position(&self.own, &key) {
                self.own.remove(i);
            }
            upsert(&mut self.inheritable, key, value);
        } else if let Some(i) = crate::attributes::position(&self.inheritable, &key) {
            self.inheritable[i].1 = value;
        } else {
            upsert(&mut self.own, key, value);
        }
    }
}

impl SpanInner {
    /// A span of `tracer` being configured: a root with fresh ids until it starts.
    #[inline(always)]
    fn pending(tracer: &Arc<TracerInner>, name: Key) -> SpanInner {
        SpanInner {
            header: Header::pending(tracer, name),
            has_inheritable: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        }
    }

    /// A span to configure: a finished span's allocation from this thread's pool, or a new
    /// one.
    #[inline]
    fn allocate(tracer: &Arc<TracerInner>, name: Key) -> UniqueArc<SpanInner> {
        if let Some(mut span) = pool::take() {
            span.header = Header::pending(tracer, name);
            return span;
        }
        // Allocated first and written in place: `UniqueArc::new` would build the span on the
        // stack and copy all of it, unused inline attribute slots included.
        let mut span = UniqueArc::new_uninit();
        span.write(SpanInner::pending(tracer, name));
        // SAFETY: written just above.
        unsafe { UniqueArc::assume_init(span) }
    }

    /// One more reference to the span at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is from [`triomphe::Arc::as_ptr`] of a reference that is still alive.
    pub(crate) unsafe fn clone_from_ptr(ptr: *const SpanInner) -> SpanRef {
        // SAFETY: the caller guarantees the allocation is alive; `ManuallyDrop` leaves the
        // borrowed reference's count as it was, and the clone adds one.
        let borrowed = ManuallyDrop::new(unsafe { SpanRef::from_raw(ptr) });
        SpanRef::clone(&borrowed)
    }

    #[inline]
    pub(crate) fn tracer(&self) -> &TracerInner {
        &self.header.tracer
    }

    /// A new reference to the span's tracer.
    pub(crate) fn tracer_arc(&self) -> Arc<TracerInner> {
        let ptr = self.header.tracer.ptr.as_ptr().cast_const();
        // SAFETY: `ptr` came from an `Arc` that this span keeps alive (see `TracerRef`).
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    /// The state, through a unique reference (no locking).
    #[inline(always)]
    fn state_mut(&mut self) -> &mut State {
        self.state.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

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
            self.header.tracer.count_late_write();
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
        let mut cursor = self.header.parent.local();
        while let Some(span) = cursor {
            if span.has_inheritable.load(Ordering::Acquire) {
                chain.push(span);
            }
            cursor = span.header.parent.local();
        }
        let mut out = Attributes::new();
        for span in chain.iter().rev() {
            out.overlay(&lock(&span.state).inheritable);
        }
        out
    }

    /// A flattened copy of the span as it is now; `None` once it has ended.
    fn snapshot(&self) -> Option<Trace> {
        let mut inherited = self.inherited();
        let st = lock(&self.state);
        if st.ended {
            return None;
        }
        Header::merge(&mut inherited, &st);
        let now = Timestamp::now();
        let mut trace = self.header.view(&inherited, &st, now).to_trace();
        trace.ended_at = None;
        trace.snapshot_at = Some(now);
        Some(trace)
    }
}

impl Header {
    /// What a pooled span holds: no references.
    const EMPTY: Header = Header {
        tracer: TracerRef {
            ptr: NonNull::dangling(),
            owned: None,
        },
        name: Key::Borrowed(""),
        kind: SpanKind::Internal,
        snapshots: false,
        trace_id: TraceId::PLACEHOLDER,
        span_id: SpanId::PLACEHOLDER,
        parent: Parent::Root,
        started_at: Timestamp::from_unix_nanos(0),
        scope: SpanScope::Tracer,
    };

    #[inline(always)]
    fn pending(tracer: &Arc<TracerInner>, name: Key) -> Header {
        Header {
            tracer: TracerRef {
                ptr: NonNull::from(&**tracer),
                owned: None,
            },
            name,
            kind: SpanKind::Internal,
            snapshots: false,
            // Set when the span starts: its parent's or a fresh one.
            trace_id: TraceId::PLACEHOLDER,
            span_id: SpanId::random(),
            parent: Parent::Root,
            started_at: Timestamp::from_unix_nanos(0),
            scope: SpanScope::Tracer,
        }
    }

    /// The span as a sink sees it, with `inherited` (from the ancestors) merged in.
    fn view<'a>(
        &'a self,
        inherited: &'a Attributes,
        st: &'a State,
        ended_at: Timestamp,
    ) -> FinishedSpan<'a> {
        FinishedSpan {
            name: &self.name,
            kind: self.kind,
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent.span_id(),
            started_at: self.started_at,
            ended_at,
            status: st.status,
            // Without inherited attributes the span's two lists have distinct keys and can be
            // handed over as they are; `finish` merges them into `inherited` otherwise.
            attributes: if inherited.is_empty() {
                [&st.inheritable, &st.own]
            } else {
                [inherited.as_slice(), &[]]
            },
            events: &st.events,
            scope: match &self.scope {
                SpanScope::Tracer => &self.tracer.scope,
                SpanScope::Static(scope) => scope,
                SpanScope::Owned(scope) => scope,
            },
            resource: Resource::Tracer(&self.tracer),
        }
    }

    /// Merges the span's own attributes into `inherited` (when there are any; see `view`).
    fn merge(inherited: &mut Attributes, st: &State) {
        if !inherited.is_empty() {
            inherited.overlay(&st.inheritable);
            inherited.overlay(&st.own);
        }
    }
}

/// Ends the span and hands it to the tracer (once; later calls do nothing).
pub(crate) fn finish(span: SpanRef) {
    let ended_at = Timestamp::now();
    let mut inherited = span.inherited();
    match SpanRef::try_unique(span) {
        // No other handle or child: read the state in place, without locking or copying.
        Ok(mut unique) => {
            let SpanInner {
                header,
                state,
                has_inheritable,
            } = &mut *unique;
            let st = state.get_mut().unwrap_or_else(PoisonError::into_inner);
            if st.ended {
                return;
            }
            Header::merge(&mut inherited, st);
            header
                .tracer
                .deliver(&header.view(&inherited, st, ended_at));
            // Nobody else can see the span: empty it for the next one on this thread.
            *header = Header::EMPTY;
            st.inheritable.clear();
            st.own.clear();
            st.events.clear();
            st.status = SpanStatus::Unset;
            *has_inheritable.get_mut() = false;
            pool::put(unique);
        }
        Err(span) => {
            let st = {
                let mut st = lock(&span.state);
                if st.ended {
                    return;
                }
                st.ended = true;
                // Children still open may read the inheritable attributes later.
                State {
                    inheritable: st.inheritable.clone(),
                    own: std::mem::take(&mut st.own),
                    events: std::mem::take(&mut st.events),
                    status: st.status,
                    ended: true,
                }
            };
            Header::merge(&mut inherited, &st);
            let header = &span.header;
            header
                .tracer
                .deliver(&header.view(&inherited, &st, ended_at));
        }
    }
}

/// Finished spans' allocations, kept per thread for the next spans: most spans start and end
/// on one thread, and reusing one saves the allocator a `malloc` and a `free`.
mod pool {
    use std::cell::RefCell;

    use triomphe::UniqueArc;

    use super::SpanInner;

    /// Enough for the spans a thread has open at once in usual code.
    const SIZE: usize = 16;

    thread_local! {
        static POOL: RefCell<Vec<UniqueArc<SpanInner>>> = const { RefCell::new(Vec::new()) };
    }

    /// A span from the pool, holding no references (see `put`).
    #[inline]
    pub(super) fn take() -> Option<UniqueArc<SpanInner>> {
        POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten()
    }

    /// Keeps `span` (ended and emptied) for reuse, if there is room.
    #[inline]
    pub(super) fn put(span: UniqueArc<SpanInner>) {
        let _ = POOL.try_with(|p| {
            let mut pool = p.borrow_mut();
            if pool.len() < SIZE {
                pool.push(span);
            }
        });
    }
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
            if let Some(snapshot) = s.header.snapshots.then(|| s.snapshot()).flatten() {
                s.header.tracer.deliver_snapshot(&snapshot);
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
    pub(crate) fn enter(span: Option<SpanRef>) -> SpanGuard {
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
    pub(crate) fn detach(mut self) -> Option<SpanRef> {
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
    Span(Option<SpanRef>),
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
    /// The span being configured (`None` for a no-op tracer). Nothing else holds it yet, so
    /// the builder writes into it without locking, and moving the builder copies a pointer.
    span: Option<UniqueArc<SpanInner>>,
    parent: ParentChoice,
    /// Keeps the tracer alive while the span is built (see `TracerRef`).
    tracer: &'a Tracer,
}

impl<'a> SpanBuilder<'a> {
    #[inline]
    pub(crate) fn new(tracer: &'a Tracer, name: Key) -> Self {
        SpanBuilder {
            span: tracer
                .inner
                .as_ref()
                .map(|tracer| SpanInner::allocate(tracer, name)),
            parent: ParentChoice::Current,
            tracer,
        }
    }

    /// The span being configured; `None` for a no-op tracer.
    #[inline(always)]
    fn pending(&mut self) -> Option<&mut SpanInner> {
        self.span.as_deref_mut()
    }

    /// Sets the span kind (default [`SpanKind::Internal`]).
    #[inline(always)]
    pub fn kind(mut self, kind: SpanKind) -> Self {
        if let Some(span) = self.pending() {
            span.header.kind = kind;
        }
        self
    }

    /// Sets an attribute from the start.
    #[inline(always)]
    pub fn attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        if let Some(span) = self.pending() {
            upsert(&mut span.state_mut().own, key.into(), value.into());
        }
        self
    }

    /// Sets an inheritable attribute from the start.
    #[inline(always)]
    pub fn inheritable_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        if let Some(span) = self.pending() {
            *span.has_inheritable.get_mut() = true;
            span.state_mut().set(key.into(), value.into(), true);
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
    #[inline(always)]
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
    #[inline(always)]
    pub fn root(mut self) -> Self {
        self.parent = ParentChoice::Root;
        self
    }

    /// Sets the instrumentation scope (default: the tracer's, `tracekit@<version>`).
    #[inline(always)]
    pub fn scope(mut self, scope: Scope) -> Self {
        if let Some(span) = self.pending() {
            span.header.scope = SpanScope::Owned(Box::new(scope));
        }
        self
    }

    #[inline(always)]
    pub(crate) fn static_scope(mut self, scope: &'static Scope) -> Self {
        if let Some(span) = self.pending() {
            span.header.scope = SpanScope::Static(scope);
        }
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

    pub(crate) fn build(self) -> Option<SpanRef> {
        let mut span = self.span?;
        let header = &mut span.header;
        let parent = match self.parent {
            ParentChoice::Current => context::current(&header.tracer).map(Parent::Local),
            ParentChoice::Root | ParentChoice::Span(None) => None,
            ParentChoice::Span(Some(p)) => Some(Parent::Local(p)),
            ParentChoice::Remote(trace_id, id) => {
                header.trace_id = trace_id;
                Some(Parent::Remote(id))
            }
        };
        match parent {
            Some(parent) => {
                if let Parent::Local(p) = &parent {
                    header.trace_id = p.header.trace_id;
                }
                header.parent = parent;
            }
            None => header.trace_id = TraceId::random(),
        }
        let same_tracer = match &header.parent {
            Parent::Local(p) => p.header.tracer.ptr == header.tracer.ptr,
            _ => false,
        };
        if !same_tracer {
            header.tracer.owned = self.tracer.lease();
        }
        header.snapshots = header.tracer.sink.snapshot_enabled();
        header.started_at = Timestamp::now();
        Some(span.shareable())
    }
}
