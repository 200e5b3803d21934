//! The backend extension point: [`Sink`].

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::{Error, FinishedSpan, Trace, TraceFilter};

/// Where finished spans go. Implement it for a custom backend and wrap it with
/// [`Tracer::new`](crate::Tracer::new).
///
/// Only [`persist`](Sink::persist) is required. A sink handles its own failures: it never
/// returns an error to the traced code; it counts them (a [`FailureLog`] does that and
/// reports the first one on stderr) and reports the count in [`stats`](Sink::stats). A
/// panic in a sink is caught by the tracer and counted too.
///
/// `persist` runs on the thread that ended the span, so it should be quick; a backend that
/// does I/O should hand spans to a worker of its own and bound how long it can block. A sink
/// that only reads or encodes spans can override [`persist_span`](Sink::persist_span) to skip
/// building a [`Trace`] (see [`FinishedSpan`]).
///
/// ```
/// use std::sync::Mutex;
/// use tracekit::{Sink, Trace, Tracer};
///
/// #[derive(Default)]
/// struct Names(Mutex<Vec<String>>);
///
/// impl Sink for Names {
///     fn persist(&self, trace: &Trace) {
///         self.0.lock().unwrap().push(trace.span_name.to_string());
///     }
/// }
///
/// let tracer = Tracer::new(Names::default());
/// drop(tracer.trace("hello"));
/// ```
pub trait Sink: Send + Sync + 'static {
    /// Stores or sends one finished span (children arrive before their parents).
    fn persist(&self, trace: &Trace);

    /// Receives a span that just ended, borrowed from the span itself; the tracer calls this
    /// one. By default it builds a [`Trace`] and calls [`persist`](Sink::persist). Override
    /// it to read the fields without that copy (stores that encode spans, exporters).
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        self.persist(&span.to_trace());
    }

    /// Receives a snapshot of an open span (`ended_at == None`), if
    /// [`snapshot_enabled`](Sink::snapshot_enabled).
    fn persist_snapshot(&self, _snapshot: &Trace) {}

    /// Whether this sink wants snapshots; asked when each span starts.
    fn snapshot_enabled(&self) -> bool {
        false
    }

    /// Reads stored spans back; by default [`Error::Unsupported`].
    fn get_traces(&self, _filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        Err(Error::Unsupported {
            sink: self.name(),
            operation: "get_traces",
        })
    }

    /// Delivers everything accepted so far, giving up at `deadline`.
    fn flush(&self, _deadline: Instant) -> Result<(), Error> {
        Ok(())
    }

    /// Flushes and stops background work; spans arriving later are dropped (and counted).
    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        self.flush(deadline)
    }

    /// What went wrong so far (the tracer adds its own counts).
    fn stats(&self) -> SinkStats {
        SinkStats::default()
    }

    /// A short name for messages (defaults to the type's name).
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// What a tracer over a queued sink keeps so that a tee can hand it batches of spans already
/// unpacked, instead of each member packing every span again (`queue::Inlet` is the one
/// implementation; `sinks::Tee` the one user).
pub(crate) trait BatchInlet: Send + Sync + 'static {
    /// Queues `batch` (counted by the caller as accepted).
    fn accept(&self, batch: &Arc<[Trace]>);

    /// For the tee to read the queue's settings.
    fn as_any(&self) -> &dyn Any;
}

/// Counts a sink reports through [`Sink::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Spans the sink failed to store or send.
    pub failures: u64,
    /// Spans the sink discarded on purpose (a full buffer, after shutdown).
    pub dropped: u64,
    /// Spans accepted but not yet stored or sent (queued for a worker).
    pub pending: u64,
    /// Snapshots the sink discarded (a full buffer).
    pub snapshots_dropped: u64,
}

/// Counts a sink's failures and prints the first one on stderr, once, so a broken backend is
/// noticed without flooding the terminal.
///
/// ```
/// let log = tracekit::FailureLog::new();
/// log.record("my-sink", &"disk full");   // printed once
/// log.record("my-sink", &"disk full");   // only counted
/// assert_eq!(log.count(), 2);
/// ```
#[derive(Debug, Default)]
pub struct FailureLog {
    count: AtomicU64,
    reported: AtomicBool,
}

impl FailureLog {
    /// No failures yet.
    pub const fn new() -> Self {
        FailureLog {
            count: AtomicU64::new(0),
            reported: AtomicBool::new(false),
        }
    }

    /// Counts one failure; the first is printed on stderr.
    pub fn record(&self, sink: &str, error: &dyn fmt::Display) {
        self.record_many(sink, 1, error);
    }

    /// Counts `n` failures at once (a batch that could not be written); reported like
    /// [`record`](Self::record).
    pub fn record_many(&self, sink: &str, n: u64, error: &dyn fmt::Display) {
        self.count.fetch_add(n, Ordering::Relaxed);
        if !self.reported.swap(true, Ordering::Relaxed) {
            eprintln!(
                "tracekit: the `{sink}` tracer failed: {error}. Tracing goes on; later failures \
                 are counted in Tracer::stats() and not printed again."
            );
        }
    }

    /// Failures so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}
