//! [`SpanBuilder`]: configuring a span before it starts.

use std::future::Future;

use triomphe::UniqueArc;

use super::inner::{LocalParent, Parent, SpanInner, SpanRef, SpanScope};
use super::{Span, SpanGuard};
use crate::context;
use crate::instrument::Instrumented;
use crate::{Key, Scope, SpanId, SpanKind, Timestamp, TraceId, Tracer, Value};

/// What will hold a span being started.
#[derive(Clone, Copy)]
pub(crate) enum Lifetime {
    /// A [`SpanGuard`], entered on this thread as soon as the span starts.
    Guard,
    /// Anything that can be sent or kept: the span's links are counted.
    Shared,
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
    /// Whether the caller keeps `tracer` borrowed for as long as the span is reachable
    /// without being promoted (see `borrowing_tracer`).
    borrows_tracer: bool,
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
            borrows_tracer: false,
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
            span.state_mut().set(key.into(), value.into(), false);
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

    /// The span will not hold a lease on its tracer while the caller's borrow of the
    /// [`Tracer`] (this builder's lifetime) keeps it alive: for code that ties the span's
    /// unpromoted life to that borrow, as `#[traced]` on a `&self` method does (see
    /// `__private::Scoped`). Saves two locked instructions per root span.
    #[inline(always)]
    pub(crate) fn borrowing_tracer(mut self) -> Self {
        self.borrows_tracer = true;
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
        SpanGuard::enter(self.build(Lifetime::Guard))
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
        Instrumented::new(self.build(Lifetime::Shared), future, ())
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
        Instrumented::new(self.build(Lifetime::Shared), iter.into_iter(), ())
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
        Instrumented::new(self.build(Lifetime::Shared), stream, ())
    }

    /// Starts the span. A span for a guard borrows its parent from the context (see
    /// `LocalParent`); the caller enters it before anything else runs on this thread.
    pub(crate) fn build(self, lifetime: Lifetime) -> Option<SpanRef> {
        let mut span = self.span?;
        let header = &mut span.header;
        let parent = match self.parent {
            ParentChoice::Current => match lifetime {
                // SAFETY: the span is entered next, above its parent's entry.
                Lifetime::Guard => context::current_borrowed(&header.tracer)
                    .map(|p| Parent::Local(unsafe { LocalParent::borrowed(p) })),
                Lifetime::Shared => {
                    context::current(&header.tracer).map(|p| Parent::Local(LocalParent::counted(p)))
                }
            },
            ParentChoice::Root | ParentChoice::Span(None) => None,
            ParentChoice::Span(Some(p)) => Some(Parent::Local(LocalParent::counted(p))),
            ParentChoice::Remote(trace_id, id) => {
                header.trace_id = trace_id;
                Some(Parent::Remote(id))
            }
        };
        match parent {
            Some(parent) => {
                if let Parent::Local(p) = &parent {
                    header.trace_id = p.get().header.trace_id;
                }
                header.parent = parent;
            }
            None => header.trace_id = TraceId::random(),
        }
        let same_tracer = match &header.parent {
            Parent::Local(p) => p.get().header.tracer.ptr == header.tracer.ptr,
            _ => false,
        };
        if !same_tracer {
            if self.borrows_tracer {
                header.tracer.borrowed_from_caller = true;
            } else {
                header.tracer.owner = self.tracer.lease();
            }
        }
        header.snapshots = header.tracer.sink.snapshot_enabled();
        header.started_at = Timestamp::now();
        Some(span.shareable())
    }
}
