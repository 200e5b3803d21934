//! Which span is current, per tracer, following the task rather than the thread.
//!
//! Each thread keeps a small stack of the spans entered on it. A [`SpanGuard`](crate::SpanGuard)
//! pushes its span while it lives; an instrumented future pushes its span only while it is
//! being polled, so a task's span is current on whichever worker thread polls it and never
//! leaks into other tasks on that thread. Looking up the current span of a tracer walks the
//! stack from the top for the nearest entry of that tracer, which keeps tracers' contexts
//! apart (as in the reference) without a lock.

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use crate::span::{Entry, SpanInner, SpanRef};
use crate::tracer::TracerInner;

/// This thread's entered spans, innermost last.
struct Stack(Vec<Entry>);

impl Drop for Stack {
    /// Guards still open when the thread's locals are torn down (kept in another
    /// thread-local, or forgotten) can no longer find their entries: their spans stop
    /// borrowing from the spans beneath.
    fn drop(&mut self) {
        self.0.iter().for_each(Entry::promote);
    }
}

thread_local! {
    static STACK: RefCell<Stack> = const { RefCell::new(Stack(Vec::new())) };
}

/// Makes `span` current on this thread until [`exit`].
///
/// # Safety
///
/// The caller keeps the reference `span` borrows from until it has called [`exit`] for it
/// (or leaks that reference): the entry points at the span without owning it (see
/// [`Entry::new`]).
#[inline]
pub(crate) unsafe fn enter(span: &SpanRef) {
    // SAFETY: forwarded: the entry is removed by `exit` before the reference is dropped.
    let entry = unsafe { Entry::new(span) };
    // During thread teardown the stack may be gone; then there is nothing to be current in.
    let _ = STACK.try_with(|s| s.borrow_mut().0.push(entry));
}

/// Runs `f` with `spans` current on this thread (around each poll of a future, for one).
#[inline]
pub(crate) fn with_entered<R>(spans: &[SpanRef], f: impl FnOnce() -> R) -> R {
    /// Exits the spans when `f` returns or unwinds.
    struct Exit<'a>(&'a [SpanRef]);
    impl Drop for Exit<'_> {
        fn drop(&mut self) {
            self.0.iter().rev().for_each(exit);
        }
    }
    // Made first, so that even an unwinding `enter` leaves no entry behind.
    let _exit = Exit(spans);
    for span in spans {
        // SAFETY: `spans` is borrowed for this call, and `_exit` removes the entries before
        // it returns, also when `f` unwinds.
        unsafe { enter(span) };
    }
    f()
}

/// Undoes the latest [`enter`] of `span`, wherever it is in the stack (guards may drop out of
/// order).
#[inline]
pub(crate) fn exit(span: &SpanRef) {
    let _ = STACK.try_with(|s| {
        let stack = &mut s.borrow_mut().0;
        if stack.last().is_some_and(|e| e.is(span)) {
            stack.pop();
        } else if let Some(i) = stack.iter().rposition(|e| e.is(span)) {
            // The spans above may borrow from this entry's span or from those beneath it,
            // and can now outlive them (see `span::link`).
            stack[i + 1..].iter().for_each(Entry::promote);
            stack.remove(i);
        }
    });
}

/// The current span of `tracer` on this thread, as a reference that may go anywhere.
pub(crate) fn current(tracer: &TracerInner) -> Option<SpanRef> {
    find(tracer, Entry::counted)
}

/// The current span of `tracer` on this thread, for a child that will be entered above it
/// and may borrow it (see `span::link`).
pub(crate) fn current_borrowed(tracer: &TracerInner) -> Option<NonNull<SpanInner>> {
    find(tracer, Entry::borrowable)
}

/// `f` of the nearest entry of `tracer`.
#[inline]
fn find<R>(tracer: &TracerInner, f: impl FnOnce(&Entry) -> R) -> Option<R> {
    STACK
        .try_with(|s| {
            s.borrow()
                .0
                .iter()
                .rev()
                .find(|e| e.belongs_to(tracer))
                .map(f)
        })
        .ok()
        .flatten()
}

/// The innermost entered span on this thread, whichever tracer it belongs to, as a reference
/// that may go anywhere.
#[cfg(any(feature = "tracing", feature = "mcp"))]
pub(crate) fn innermost() -> Option<SpanRef> {
    STACK
        .try_with(|s| s.borrow().0.last().map(Entry::counted))
        .ok()
        .flatten()
}

/// The tracer of the innermost entered span on this thread, whichever tracer that is.
pub(crate) fn innermost_tracer() -> Option<Arc<TracerInner>> {
    STACK
        .try_with(|s| s.borrow().0.last().map(Entry::tracer_arc))
        .ok()
        .flatten()
}

/// The current span of every tracer, captured to be made current somewhere else: another
/// thread ([`Context::wrap`]), or a spawned task ([`FutureExt::in_current_trace`]).
///
/// ```
/// use tracekit::{Context, Tracer};
/// let tracer = Tracer::in_memory(10);
/// let parent = tracer.trace("parent");
/// let worker = std::thread::spawn(Context::current().wrap({
///     let tracer = tracer.clone();
///     move || tracer.trace("in-thread").trace_id()
/// }));
/// assert_eq!(worker.join().unwrap(), parent.trace_id());
/// ```
#[derive(Clone, Default)]
pub struct Context {
    spans: Vec<SpanRef>,
}

impl Context {
    /// The spans current on this thread (the nearest one of each tracer).
    pub fn current() -> Context {
        let mut spans: Vec<SpanRef> = Vec::new();
        let _ = STACK.try_with(|s| {
            let stack = &s.borrow().0;
            for (i, e) in stack.iter().enumerate() {
                let shadowed = stack[i + 1..].iter().any(|later| later.same_tracer(e));
                if !shadowed {
                    spans.push(e.counted());
                }
            }
        });
        Context { spans }
    }

    /// Whether no span was current.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Makes these spans current on this thread until the guard drops.
    pub fn attach(self) -> ContextGuard {
        for span in &self.spans {
            // SAFETY: the guard holds the references until its `Drop` removes the entries
            // first; a forgotten guard leaks them.
            unsafe { enter(span) };
        }
        ContextGuard {
            spans: self.spans,
            _thread_bound: ThreadBound::new(),
        }
    }

    /// Wraps `f` so it runs with these spans current, e.g. in `std::thread::spawn`.
    pub fn wrap<F, R>(self, f: F) -> impl FnOnce() -> R
    where
        F: FnOnce() -> R,
    {
        move || {
            let _attached = self.attach();
            f()
        }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("spans", &self.spans.len())
            .finish()
    }
}

/// Keeps a [`Context`] attached; from [`Context::attach`]. `!Send`, like a span guard.
#[must_use = "a context guard detaches its spans when dropped: bind it (`let _attached = ...`)"]
pub struct ContextGuard {
    spans: Vec<SpanRef>,
    _thread_bound: ThreadBound<ContextGuard>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        self.spans.iter().rev().for_each(exit);
    }
}

impl std::fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextGuard")
            .field("spans", &self.spans.len())
            .finish()
    }
}

/// Carries the current spans into a future that will run elsewhere (`tokio::spawn`, an
/// executor, another thread).
///
/// ```
/// # let rt = tokio::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// use tracekit::{FutureExt, Tracer};
/// let tracer = Tracer::in_memory(10);
/// let parent = tracer.trace("parent");
/// let task = tokio::spawn({
///     let tracer = tracer.clone();
///     async move { tracer.current_trace().span_id() }.in_current_trace()
/// });
/// assert_eq!(task.await.unwrap(), parent.span_id());
/// # });
/// ```
pub trait FutureExt: Future + Sized {
    /// Makes the spans current now also current whenever this future is polled.
    fn in_current_trace(self) -> WithContext<Self> {
        self.with_context(Context::current())
    }

    /// Makes the spans of `context` current whenever this future is polled.
    fn with_context(self, context: Context) -> WithContext<Self> {
        WithContext {
            spans: context.spans,
            inner: self,
        }
    }
}

impl<F: Future> FutureExt for F {}

pin_project_lite::pin_project! {
    /// A future polled with a captured [`Context`]; from [`FutureExt`].
    #[must_use = "futures do nothing unless polled or awaited"]
    pub struct WithContext<F> {
        spans: Vec<SpanRef>,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        with_entered(this.spans, || this.inner.poll(cx))
    }
}

/// Makes the guards that keep spans current on a thread `!Send` (and `!Sync`), with an error
/// that names the guard and says what to do instead, rather than one about `*const ()`.
pub(crate) struct ThreadBound<G>(PhantomData<(G, *const ())>);

impl<G> ThreadBound<G> {
    pub(crate) const fn new() -> Self {
        ThreadBound(PhantomData)
    }
}

/// Implemented by no type, so `ThreadBound<G>` is never `Send`; it exists for its message.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to another thread or held across an `.await` in a `Send` future",
    note = "a `{Self}` keeps spans current on the thread that made it; in async code, wrap the \
            future instead: `tracer.span(..).instrument(future)`, or `#[traced]` on the async fn"
)]
pub(crate) trait MayLeaveItsThread {}

// SAFETY: `ThreadBound` has no data and no API; this impl applies to no type (nothing
// implements `MayLeaveItsThread`), so it only replaces the compiler's message.
unsafe impl<G: MayLeaveItsThread> Send for ThreadBound<G> {}
