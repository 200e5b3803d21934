//! Forwarding: a [`Sink`](crate::Sink) that hands spans on to other tracers, as
//! [`Tee`](crate::sinks::Tee) does.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Stats, Tracer};
use crate::sink::BatchInlet;
use crate::{Error, FinishedSpan, SinkStats, Trace};

/// # Forwarding
///
/// A [`Sink`](crate::Sink) can hand the spans it receives on to other tracers: to sample,
/// route or filter them, or to fan out as [`Tracer::tee`] does. Each of these calls
/// behaves as if the span had ended on that tracer: it is counted in the tracer's
/// [`stats`](Tracer::stats), a panicking sink is contained, and spans that arrive after
/// [`shutdown`](Tracer::shutdown) are dropped and counted. On a no-op tracer they do nothing.
///
/// ```
/// use std::time::Instant;
/// use tracekit::{Error, FinishedSpan, Sink, SinkStats, SpanStatus, Tracer};
///
/// /// Keeps every span, and sends the failed ones on to an alerting tracer too.
/// struct Failures {
///     all: Tracer,
///     failed: Tracer,
/// }
///
/// impl Sink for Failures {
///     fn persist_span(&self, span: &FinishedSpan<'_>) {
///         self.all.forward(span);
///         if span.span_status() == SpanStatus::Error {
///             self.failed.forward(span);
///         }
///     }
///     fn flush(&self, deadline: Instant) -> Result<(), Error> {
///         self.all.flush_until(deadline).and(self.failed.flush_until(deadline))
///     }
///     fn stats(&self) -> SinkStats {
///         self.all.stats().into()
///     }
/// }
///
/// let (all, failed) = (Tracer::in_memory(100), Tracer::in_memory(100));
/// let tracer = Tracer::new(Failures { all: all.clone(), failed: failed.clone() });
/// tracer.trace("fine").end();
/// tracer.trace("broken").set_status(SpanStatus::Error);
/// assert_eq!(all.get_traces(&Default::default())?.len(), 2);
/// assert_eq!(failed.get_traces(&Default::default())?[0].span_name, "broken");
/// # Ok::<(), Error>(())
/// ```
impl Tracer {
    /// This tracer's way in for unpacked batches, if its sink is a queue (see `BatchInlet`).
    pub(crate) fn inlet(&self) -> Option<&dyn BatchInlet> {
        self.inner.as_ref()?.inlet.as_deref()
    }

    /// Hands a batch another queue unpacked to this tracer's queue, counted as if each span
    /// had ended here; does nothing unless [`inlet`](Self::inlet) is `Some`.
    pub(crate) fn forward_batch(&self, batch: &std::sync::Arc<[Trace]>) {
        if let Some(inner) = &self.inner {
            if let Some(inlet) = &inner.inlet {
                inner.deliver_batch(&**inlet, batch);
            }
        }
    }

    /// Hands a finished span to this tracer's sink, as if it had ended on this tracer.
    pub fn forward(&self, span: &FinishedSpan<'_>) {
        if let Some(inner) = &self.inner {
            inner.deliver(span);
        }
    }

    /// Hands a snapshot of an open span to this tracer's sink, if it
    /// [takes snapshots](Self::takes_snapshots).
    pub fn forward_snapshot(&self, snapshot: &Trace) {
        if let Some(inner) = &self.inner {
            if inner.sink.snapshot_enabled() {
                inner.deliver_snapshot(snapshot);
            }
        }
    }

    /// Whether this tracer's sink wants snapshots of open spans (see
    /// [`Sink::snapshot_enabled`](crate::Sink::snapshot_enabled)).
    pub fn takes_snapshots(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.sink.snapshot_enabled())
    }

    /// Like [`flush`](Self::flush), giving up at `deadline`: for a sink whose own
    /// [`flush`](crate::Sink::flush) has one deadline for all the tracers it forwards to.
    pub fn flush_until(&self, deadline: Instant) -> Result<(), Error> {
        match &self.inner {
            Some(inner) => inner.sink.flush(deadline),
            None => Ok(()),
        }
    }

    /// Like [`shutdown`](Self::shutdown), giving up at `deadline`.
    pub fn shutdown_until(&self, deadline: Instant) -> Result<(), Error> {
        match &self.inner {
            Some(inner) if !inner.shut_down.swap(true, Ordering::AcqRel) => {
                inner.sink.shutdown(deadline)
            }
            _ => Ok(()),
        }
    }
}

/// A tracer's counts as a forwarding sink reports them in [`Sink::stats`](crate::Sink::stats).
impl From<Stats> for SinkStats {
    fn from(s: Stats) -> SinkStats {
        SinkStats {
            failures: s.sink_failures,
            dropped: s.spans_dropped,
            pending: s.spans_pending,
            snapshots_dropped: s.snapshots_dropped,
            traces_kept: s.traces_kept,
            traces_sampled_out: s.traces_sampled_out,
            sampled_out: s.spans_sampled_out,
        }
    }
}
