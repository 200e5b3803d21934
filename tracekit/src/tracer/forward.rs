//! Forwarding: a [`Sink`](crate::Sink) that hands spans on to other tracers, as
//! [`Tee`](crate::sinks::Tee) does.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Stats, Tracer};
use crate::sink::{BatchInlet, Refused, Written};
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

    /// Hands spans received from elsewhere (another process over OTLP, a file, a message
    /// queue) to this tracer's backend, and waits until `deadline` to learn whether they were
    /// stored, so that the sender can be told to retry if not. Each span is counted as if it
    /// had ended here; head sampling does not apply (the sender decided), tail sampling does.
    ///
    /// A queued backend (SQLite, DynamoDB, OTLP, [`batched`](Self::batched),
    /// [`in_background`](Self::in_background)) takes the batch whole if its queue has room
    /// now, never waiting for room, and answers once its writer has written the batch (into
    /// the spool, with one). Any other tracer gets each span as [`forward`](Self::forward)
    /// would hand it, then a flush. A [no-op tracer](Self::noop) takes and forgets them.
    /// Snapshots of open spans (`ended_at == None`) are left out.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tracekit::{Received, Tracer};
    ///
    /// // Spans that came from somewhere else (here: from another tracer).
    /// let elsewhere = Tracer::in_memory(10);
    /// drop(elsewhere.trace("remote work"));
    /// let spans = elsewhere.get_traces(&Default::default())?;
    ///
    /// let store = Tracer::in_memory(10);
    /// let deadline = Instant::now() + Duration::from_secs(5);
    /// assert_eq!(store.receive(spans, deadline), Ok(Received::Stored));
    /// assert_eq!(store.get_traces(&Default::default())?[0].span_name, "remote work");
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`NotReceived`] says why the spans may not be stored: a full queue or a failing
    /// backend (worth retrying), a tracer shut down, or a deadline that came first (the spans
    /// may still be written later; a store that keeps each span id once, as SQLite and
    /// DynamoDB do, makes the retry harmless).
    pub fn receive(
        &self,
        mut spans: Vec<Trace>,
        deadline: Instant,
    ) -> Result<Received, NotReceived> {
        let Some(inner) = &self.inner else {
            return Ok(Received::Stored);
        };
        // Finished spans only, as a sink gets them: a snapshot of an open span is not stored.
        spans.retain(|s| s.ended_at.is_some());
        if inner.shut_down.load(Ordering::Acquire) {
            return Err(NotReceived::ShutDown);
        }
        if spans.is_empty() {
            return Ok(Received::Stored);
        }
        if let Some(inlet) = &inner.inlet {
            let receipt = inner
                .offer_batch(&**inlet, spans)
                .map_err(|refused| match refused {
                    Refused::Full => NotReceived::QueueFull,
                    Refused::Closed => NotReceived::ShutDown,
                })?;
            return match receipt.wait(deadline) {
                Some(Written::Stored) => Ok(Received::Stored),
                Some(Written::Held) => Ok(Received::HeldForSampling),
                Some(Written::Failed(why)) => Err(NotReceived::Failed(why)),
                None => Err(NotReceived::TimedOut),
            };
        }
        for span in spans.iter().filter_map(FinishedSpan::from_trace) {
            inner.deliver(&span);
        }
        match inner.sink.flush(deadline) {
            Ok(()) => Ok(Received::Stored),
            Err(Error::Timeout { .. }) => Err(NotReceived::TimedOut),
            Err(e) => Err(NotReceived::Failed(e.to_string())),
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

/// What became of spans handed to [`Tracer::receive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// Stored or sent (with a spool: in the spool, which sends them on).
    Stored,
    /// Held by tail sampling until their trace is decided (see
    /// [`Sampler::decision_wait`](crate::Sampler::decision_wait)): kept or dropped with the
    /// rest of the trace.
    HeldForSampling,
}

/// Why spans handed to [`Tracer::receive`] may not have been stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotReceived {
    /// The backend's queue has no room for them now: send them again shortly.
    #[error("the tracer's queue is full; send the spans again shortly")]
    QueueFull,
    /// The tracer was shut down.
    #[error("the tracer was shut down")]
    ShutDown,
    /// The backend failed to store them (counted in [`Tracer::stats`]); sending them again
    /// may work once it is back.
    #[error("the backend could not store the spans: {0}")]
    Failed(String),
    /// The deadline came before the backend said: they may be stored later, or not.
    #[error("the backend did not store the spans in the time given; they may be written later")]
    TimedOut,
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
