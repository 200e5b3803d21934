//! [`SpanBuilder`]: configuring a span before it starts.

use std::future::Future;

use triomphe::UniqueArc;

use super::inner::{Parent, SpanInner, SpanRef, SpanScope};
use super::link::ParentLink;
use super::{Span, SpanGuard};
use crate::sampling::by_trace_id;
use crate::span::context;
use crate::span::instrument::Instrumented;
use crate::{Key, Scope, SpanId, SpanKind, Timestamp, TraceId, Tracer, Value};

/// How a span started under the current span links to it.
#[derive(Clone, Copy)]
enum LinkToCurrent {
    /// A counted reference: the span may be kept or sent anywhere.
    Counted,
    /// A borrow (see `link`): only for a span entered at once and held by a guard.
    Borrowed,
}

enum ParentChoice {
    Current,
    Root,
    Span(Option<SpanRef>),
    /// A caller's span: its trace, its id, the `tracestate` it sent, and its `sampled` flag
    /// (`None` when the caller's flags are unknown: the trace id decides).
    Remote(TraceId, SpanId, Option<Box<str>>, Option<bool>),
    /// A root of its own in an existing trace (feedback on a trace from elsewhere).
    InTrace(TraceId),
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
#[must_use = "a span builder does nothing until `.start()` or `.instrument(..)`: dropped now, \
              its span is never recorded"]
pub struct SpanBuilder<'a> {
    /// The span being configured (`None` for a no-op tracer). Nothing else holds it yet, so
    /// the builder writes into it without locking, and moving the builder copies a pointer.
    span: Option<UniqueArc<SpanInner>>,
    parent: ParentChoice,
    /// The span's tracer (see `link::TracerLink` for what keeps it alive once started).
    tracer: &'a Tracer,
    /// Whether the caller keeps `tracer` borrowed for as long as the span is reachable
    /// without being promoted (see `borrowing_tracer`).
    borrows_tracer: bool,
}

impl std::fmt::Debug for SpanBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.span {
            None => f.write_str("SpanBuilder(none)"),
            Some(s) => f
                .debug_struct("SpanBuilder")
                .field("name", &s.header.name)
                .field("kind", &s.header.kind)
                .field(
                    "parent",
                    &match &self.parent {
                        ParentChoice::Current => "current",
                        ParentChoice::Root => "root",
                        ParentChoice::Span(_) => "span",
                        ParentChoice::Remote(..) => "remote",
                        ParentChoice::InTrace(_) => "in trace",
                    },
                )
                .finish_non_exhaustive(),
        }
    }
}

impl<'a> SpanBuilder<'a> {
    #[inline]
    pub(crate) fn new(tracer: &'a Tracer, name: Key) -> Self {
        SpanBuilder {
            span: tracer.inner.as_ref().map(|_| SpanInner::allocate(name)),
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

    /// Continues a trace from another process with the caller's `tracestate`
    /// ([`SpanBuilder::remote`] reads them from a `RemoteContext`).
    pub(crate) fn remote_with_state(
        mut self,
        trace_id: TraceId,
        parent_span_id: SpanId,
        trace_state: Option<String>,
        sampled: bool,
    ) -> Self {
        self.parent = ParentChoice::Remote(
            trace_id,
            parent_span_id,
            trace_state.map(Into::into),
            Some(sampled),
        );
        self
    }

    /// Continues a trace started elsewhere (another process): the span gets `trace_id` and
    /// `parent_span_id`; nothing is inherited. [`SpanBuilder::remote`](SpanBuilder::remote) also restores baggage.
    pub fn remote_parent(mut self, trace_id: TraceId, parent_span_id: SpanId) -> Self {
        self.parent = ParentChoice::Remote(trace_id, parent_span_id, None, None);
        self
    }

    /// Starts the span as a root of its own inside trace `trace_id` (no parent).
    pub(crate) fn in_trace(mut self, trace_id: TraceId) -> Self {
        self.parent = ParentChoice::InTrace(trace_id);
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
    /// [`Tracer`] (this builder's lifetime `'a`) keeps it alive, as `#[traced]` on a `&self`
    /// method does (see `__private::BorrowsTracer`). Saves two locked instructions per root
    /// span.
    ///
    /// # Safety
    ///
    /// Until the span is promoted or has ended, the caller keeps it reachable only through
    /// values that cannot outlive `'a` (see `link::TracerLink::set_borrowed_from_caller`).
    #[inline(always)]
    pub(crate) unsafe fn borrowing_tracer(mut self) -> Self {
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
        // SAFETY: the span is entered on the next line, above its parent's entry, and only
        // the guard holds it.
        let span = unsafe { self.build(LinkToCurrent::Borrowed) };
        SpanGuard::enter(span)
    }

    /// Starts the span to be held by something other than a guard (a future, stream,
    /// iterator or a span waiting to be entered): its links are counted, so it may be kept,
    /// sent or entered later.
    #[inline]
    pub(crate) fn start_shared(self) -> Option<SpanRef> {
        // SAFETY: `Counted` links have no requirement.
        unsafe { self.build(LinkToCurrent::Counted) }
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
        Instrumented::new(self.start_shared(), future, ())
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
        Instrumented::new(self.start_shared(), iter.into_iter(), ())
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
    #[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
    pub fn instrument_stream<S: futures_core::Stream>(self, stream: S) -> Instrumented<S> {
        Instrumented::new(self.start_shared(), stream, ())
    }

    /// Starts the span: resolves its parent, links it to its tracer, reads the clock.
    ///
    /// # Safety
    ///
    /// With [`LinkToCurrent::Borrowed`], the caller enters the returned span at once and holds
    /// it only in a guard (see `ParentLink::borrowed`): [`start`](Self::start) does.
    #[inline]
    unsafe fn build(self, link: LinkToCurrent) -> Option<SpanRef> {
        let mut span = self.span?;
        let tracer = self.tracer.inner.as_ref()?;
        let header = &mut span.header;
        header.snapshots = tracer.sink.snapshot_enabled();
        // A root in a given trace (`in_trace`) keeps that trace's id; other roots get a new one.
        let mut given_trace = None;
        let mut caller_sampled = None;
        let parent = match self.parent {
            ParentChoice::Current => match link {
                LinkToCurrent::Borrowed => context::current_borrowed(tracer).map(|p| {
                    // SAFETY: `p` is from the context stack, and our caller enters the span
                    // at once and holds it only in a guard (this function's contract).
                    Parent::Local(unsafe { ParentLink::borrowed(p) })
                }),
                LinkToCurrent::Counted => {
                    context::current(tracer).map(|p| Parent::Local(ParentLink::counted(p)))
                }
            },
            ParentChoice::Root | ParentChoice::Span(None) => None,
            ParentChoice::InTrace(id) => {
                given_trace = Some(id);
                None
            }
            ParentChoice::Span(Some(p)) => Some(Parent::Local(ParentLink::counted(p))),
            ParentChoice::Remote(trace_id, id, trace_state, sampled) => {
                header.trace_id = trace_id;
                caller_sampled = sampled;
                Some(Parent::Remote(id, trace_state))
            }
        };
        match parent {
            Some(parent) => {
                if let Parent::Local(p) = &parent {
                    header.trace_id = p.get().header.trace_id;
                    header.sampled = p.get().header.sampled;
                }
                header.parent = parent;
            }
            None => header.trace_id = given_trace.unwrap_or_else(TraceId::random),
        }
        // Head sampling (`sampling.rs`): a caller's decision is followed, and a new trace (or
        // a caller that did not say) is decided by its trace id; a local parent's decision
        // was copied above.
        if let (Some(head), false) = (tracer.head, matches!(header.parent, Parent::Local(_))) {
            header.sampled = caller_sampled.unwrap_or_else(|| by_trace_id(header.trace_id, head));
        }
        match &header.parent {
            Parent::Local(p) if p.get().header.tracer.is(tracer) => {
                // SAFETY: `header.parent` is that local parent, with this tracer.
                unsafe { header.tracer.set_through_parent(&p.get().header.tracer) }
            }
            // SAFETY: `borrowing_tracer`'s caller promised it.
            _ if self.borrows_tracer => unsafe { header.tracer.set_borrowed_from_caller(tracer) },
            _ => {
                if let Some(owner) = self.tracer.lease() {
                    header.tracer.set_owned(owner);
                }
            }
        }
        header.snapshots &= header.sampled;
        header.started_at = Timestamp::now();
        Some(span.shareable())
    }
}
