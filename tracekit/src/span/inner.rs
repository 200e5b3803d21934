//! The shared state of a span and how it ends.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use triomphe::UniqueArc;

use super::link::{ParentLink, TracerLink};
use super::pool;
use crate::attributes::{upsert, Fields};
use crate::error::panic_message;
use crate::finished::{FinishedSpan, Resource};
use crate::sync::lock;
use crate::tracer::TracerInner;
use crate::{
    Attributes, Event, Key, Scope, SpanId, SpanKind, SpanStatus, Timestamp, Trace, TraceId, Value,
};

/// A counted reference to a span. `triomphe`'s `Arc` has no weak count, so checking that a
/// reference is the only one (done as every span ends) is a load, not a compare-and-swap.
pub(crate) type SpanRef = triomphe::Arc<SpanInner>;

/// The state of one open span, shared by its guard, its children and any [`Span`](crate::Span) handles.
pub(crate) struct SpanInner {
    pub(super) header: Header,
    /// Set once the span has inheritable attributes, so descendants skip locking the spans
    /// that have none.
    pub(super) has_inheritable: AtomicBool,
    pub(super) state: Mutex<State>,
}

/// The parts fixed at start.
pub(super) struct Header {
    pub(super) tracer: TracerLink,
    pub(super) name: Key,
    pub(super) kind: SpanKind,
    /// Whether the sink wanted snapshots when the span started (the reference binds this at
    /// start, so toggling later does not affect open spans).
    pub(super) snapshots: bool,
    /// Whether the span goes to the tracer when it ends (`sampling.rs`): decided at start,
    /// from the parent, or from the trace id for a new trace.
    pub(super) sampled: bool,
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    pub(super) parent: Parent,
    pub(super) started_at: Timestamp,
    pub(super) scope: SpanScope,
}

/// A span's instrumentation scope, without copying the usual ones.
pub(super) enum SpanScope {
    /// The tracer's.
    Tracer,
    /// A `#[traced]` function's crate.
    Static(&'static Scope),
    /// Given to [`SpanBuilder::scope`](super::SpanBuilder::scope).
    Owned(Box<Scope>),
}

pub(super) enum Parent {
    Root,
    /// A span of this process (see `link` for when the link is a borrow).
    Local(ParentLink),
    /// A span of another process.
    /// A caller's span in another process, with the `tracestate` its request carried.
    Remote(SpanId, Option<Box<str>>),
}

impl Parent {
    fn local(&self) -> Option<&SpanInner> {
        match self {
            Parent::Local(p) => Some(p.get()),
            _ => None,
        }
    }

    fn span_id(&self) -> Option<SpanId> {
        match self {
            Parent::Root => None,
            Parent::Local(p) => Some(p.get().header.span_id),
            Parent::Remote(id, _) => Some(*id),
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
pub(super) struct State {
    pub(super) inheritable: Inheritable,
    pub(super) own: Own,
    pub(super) events: Vec<Event>,
    pub(super) status: SpanStatus,
    pub(super) ended: bool,
}

impl State {
    /// Empties it for reuse, keeping the events' allocation.
    fn reset(&mut self) {
        self.inheritable.clear();
        self.own.clear();
        self.events.clear();
        self.status = SpanStatus::Unset;
        self.ended = false;
    }

    /// Sets `key`: an inheritable key stays inheritable (see `State`).
    pub(super) fn set(&mut self, key: Key, value: Value, inheritable: bool) {
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
    /// A span to configure: a finished span's allocation from this thread's pool, or a new
    /// one. Its tracer link is unset: only `SpanBuilder` holds it, and sets the link as it
    /// starts the span.
    #[inline]
    pub(super) fn allocate(name: Key) -> UniqueArc<SpanInner> {
        let mut span = pool::take().unwrap_or_else(|| {
            // Allocated first and written in place: `UniqueArc::new` would build the span on
            // the stack and copy all of it, unused inline attribute slots included.
            let mut span = UniqueArc::new_uninit();
            span.write(SpanInner {
                header: Header::empty(),
                has_inheritable: AtomicBool::new(false),
                state: Mutex::new(State::default()),
            });
            // SAFETY: written just above.
            unsafe { UniqueArc::assume_init(span) }
        });
        // The header is empty (new, or emptied when pooled): only what differs is written,
        // which spares dropping and rebuilding the rest.
        let header = &mut span.header;
        header.name = name;
        header.span_id = SpanId::random();
        span
    }

    #[inline]
    pub(crate) fn tracer(&self) -> &TracerInner {
        self.header.tracer.get()
    }

    /// A new reference to the span's tracer.
    pub(crate) fn tracer_arc(&self) -> Arc<TracerInner> {
        self.header.tracer.arc()
    }

    /// The state, through a unique reference (no locking).
    #[inline(always)]
    pub(super) fn state_mut(&mut self) -> &mut State {
        self.state.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The top of this span's chain of parents in this process (itself for a root): where a
    /// trace's shared state is kept. Alive as long as `self` is, as every ancestor is.
    pub(crate) fn local_root(&self) -> &SpanInner {
        let mut span = self;
        while let Some(parent) = span.header.parent.local() {
            span = parent;
        }
        span
    }

    /// Replaces own attribute `key` with what `f` makes of its current value, under the
    /// span's lock; `None` once the span has ended.
    pub(crate) fn replace_attribute<R>(
        &self,
        key: &'static str,
        f: impl FnOnce(Option<&Value>) -> (Value, R),
    ) -> Option<R> {
        self.update(|st| {
            let current = crate::attributes::position(&st.own, key).map(|i| &st.own[i].1);
            let (value, result) = f(current);
            st.set(Key::Borrowed(key), value, false);
            result
        })
    }

    /// A copy of own attribute `key`.
    pub(crate) fn attribute(&self, key: &str) -> Option<Value> {
        let st = lock(&self.state);
        crate::attributes::position(&st.own, key).map(|i| st.own[i].1.clone())
    }

    /// Runs `f` on the span's events under its lock; `None` once the span has ended.
    pub(crate) fn with_events<R>(&self, f: impl FnOnce(&mut Vec<Event>) -> R) -> Option<R> {
        self.update(|st| f(&mut st.events))
    }

    pub(super) fn add(&self, key: Key, value: Value, inheritable: bool) {
        let written = self.update(|st| st.set(key, value, inheritable)).is_some();
        if written && inheritable {
            self.has_inheritable.store(true, Ordering::Release);
        }
    }

    pub(super) fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let mut st = lock(&self.state);
        if st.ended {
            drop(st);
            self.tracer().count_late_write();
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

    /// Whether the span goes to its tracer when it ends (head sampling).
    pub(crate) fn is_sampled(&self) -> bool {
        self.header.sampled
    }

    /// The span's trace and span ids.
    pub(crate) fn ids(&self) -> (TraceId, SpanId) {
        (self.header.trace_id, self.header.span_id)
    }

    /// What crosses a process boundary with the span: its inheritable attributes (its own
    /// over its ancestors'), and the `tracestate` its trace arrived with, if any.
    pub(crate) fn propagated(&self) -> (Attributes, Option<&str>) {
        let mut attributes = self.inherited();
        attributes.overlay(&lock(&self.state).inheritable);
        let mut cursor = self;
        let trace_state = loop {
            match &cursor.header.parent {
                Parent::Local(p) => cursor = p.get(),
                Parent::Remote(_, state) => break state.as_deref(),
                Parent::Root => break None,
            }
        };
        (attributes, trace_state)
    }

    /// A flattened copy of the span as it is now; `None` once it has ended.
    pub(super) fn snapshot(&self) -> Option<Trace> {
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
    const fn empty() -> Header {
        Header {
            tracer: TracerLink::unset(),
            name: Key::Borrowed(""),
            kind: SpanKind::Internal,
            snapshots: false,
            sampled: true,
            trace_id: TraceId::PLACEHOLDER,
            span_id: SpanId::PLACEHOLDER,
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
            remote_parent: matches!(self.parent, Parent::Remote(..)),
            started_at: self.started_at,
            ended_at,
            status: st.status,
            // Without inherited attributes the span's two lists have distinct keys and can be
            // handed over as they are; `merge` put them into `inherited` otherwise.
            attributes: if inherited.is_empty() {
                [&st.inheritable, &st.own]
            } else {
                [inherited.as_slice(), &[]]
            },
            events: &st.events,
            scope: match &self.scope {
                SpanScope::Tracer => &self.tracer.get().scope,
                SpanScope::Static(scope) => scope,
                SpanScope::Owned(scope) => scope,
            },
            resource: Resource::Tracer(&self.tracer.get().resource),
        }
    }

    /// Hands the ended span to its tracer, or counts it if it was not sampled.
    #[inline]
    fn hand_over(&self, inherited: &Attributes, st: &State, ended_at: Timestamp) {
        let tracer = self.tracer.get();
        if self.sampled {
            tracer.deliver(&self.view(inherited, st, ended_at));
        } else {
            tracer.count_sampled_out(!matches!(self.parent, Parent::Local(_)));
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
            header.hand_over(&inherited, st, ended_at);
            // Nobody else can see the span: empty it for the next one on this thread.
            *header = Header::empty();
            st.reset();
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
            span.header.hand_over(&inherited, &st, ended_at);
        }
    }
}
