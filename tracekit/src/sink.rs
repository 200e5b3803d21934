//! The backend extension point: [`Sink`].

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::query::{Page, Query, TraceHead, Watermark};
use crate::{Error, FinishedSpan, Trace, TraceFilter};

/// Where finished spans go. Implement it for a custom backend and wrap it with
/// [`Tracer::new`](crate::Tracer::new).
///
/// The one method to implement is [`persist_span`](Sink::persist_span): the tracer calls it
/// with each span that ends, borrowed from the span itself ([`FinishedSpan`]; call
/// [`to_trace`](FinishedSpan::to_trace) for an owned copy). A sink handles its own failures:
/// it never returns an error to the traced code; it counts them (a [`FailureLog`] does that
/// and reports the first one on stderr) and reports the count in [`stats`](Sink::stats). A
/// panic in a sink is caught by the tracer and counted too.
///
/// `persist_span` runs on the thread that ended the span, so it should be quick; a backend
/// that does I/O should hand spans to a worker of its own and bound how long it can block, or
/// be an [`Exporter`](crate::Exporter) on tracekit's queue ([`Tracer::batched`](crate::Tracer::batched)).
///
/// ```
/// use std::sync::Mutex;
/// use tracekit::{FinishedSpan, Sink, Tracer};
///
/// #[derive(Default)]
/// struct Names(Mutex<Vec<String>>);
///
/// impl Sink for Names {
///     fn persist_span(&self, span: &FinishedSpan<'_>) {
///         self.0.lock().unwrap().push(span.span_name().to_string());
///     }
/// }
///
/// let tracer = Tracer::new(Names::default());
/// drop(tracer.trace("hello"));
/// ```
///
/// Sinks written before `persist_span` was the method to implement implement
/// [`persist`](Sink::persist) instead; they keep working (each span is copied into a
/// [`Trace`] for them). A sink that implements neither drops every span, and says so once on
/// stderr.
pub trait Sink: Send + Sync + 'static {
    /// Receives a span that just ended (children end before their parents). By default it
    /// makes a [`Trace`] and calls [`persist`](Sink::persist), for sinks written before this
    /// was the method to implement.
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        defaults::persist_span(self, span);
    }

    /// Stores an owned record of a finished span (one read from a file, or made by hand). By
    /// default it lends it to [`persist_span`](Sink::persist_span); a snapshot
    /// (`ended_at == None`) is ignored.
    fn persist(&self, trace: &Trace) {
        defaults::persist(self, trace);
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

    /// Lists the stored traces `query` selects, a page at a time. By default it scans what
    /// [`get_traces`](Sink::get_traces) returns ([`query::scan`](crate::query::scan)); a
    /// store with indexes answers from them.
    fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
        crate::query::scan_all(|all| self.get_traces(all), query)
    }

    /// The spans stored since `mark`, moving it past them. By default it reads every span
    /// and remembers which it returned ([`Watermark`]); a store that knows the order of its
    /// writes answers from it.
    fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
        crate::query::new_by_scan(|all| self.get_traces(all), mark)
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

/// The default `persist_span` and `persist` call each other; a sink that overrides neither
/// would recurse. Each default marks the sink it runs for on this thread, and a default that
/// finds its own sink marked has come round: it drops the span and says so once.
mod defaults {
    use std::any::TypeId;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::Sink;
    use crate::{FinishedSpan, Trace};

    /// A sink, by address and type (zero-sized sinks of different types share an address).
    type Mark = Option<(usize, TypeId)>;

    thread_local! {
        static IN_DEFAULT: Cell<Mark> = const { Cell::new(None) };
    }

    /// Runs `f` marked as inside a default method of `sink`; `None` if it already was.
    fn guarded<S: Sink + ?Sized>(sink: &S, f: impl FnOnce()) -> Option<()> {
        let me = Some(((sink as *const S).cast::<()>() as usize, TypeId::of::<S>()));
        let outer = IN_DEFAULT.with(|c| c.replace(me));
        if outer == me {
            static REPORTED: AtomicBool = AtomicBool::new(false);
            if !REPORTED.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "tracekit: the `{}` sink implements neither Sink::persist_span nor \
                     Sink::persist, so it drops every span; implement persist_span.",
                    sink.name()
                );
            }
            return None;
        }
        // Restored however `f` ends (a sink may panic; the tracer catches it).
        struct Restore(Mark);
        impl Drop for Restore {
            fn drop(&mut self) {
                let outer = self.0;
                let _ = IN_DEFAULT.try_with(|c| c.set(outer));
            }
        }
        let _restore = Restore(outer);
        f();
        Some(())
    }

    pub(super) fn persist_span<S: Sink + ?Sized>(sink: &S, span: &FinishedSpan<'_>) {
        guarded(sink, || sink.persist(&span.to_trace()));
    }

    pub(super) fn persist<S: Sink + ?Sized>(sink: &S, trace: &Trace) {
        if let Some(span) = FinishedSpan::from_trace(trace) {
            guarded(sink, || sink.persist_span(&span));
        }
    }
}

/// What a tracer over a queued sink keeps so that a tee can hand it batches of spans already
/// unpacked, instead of each member packing every span again (`queue::Inlet` is the one
/// implementation; `sinks::Tee` the one user).
pub(crate) trait BatchInlet: Send + Sync + 'static {
    /// Queues `batch` (counted by the caller as accepted).
    fn accept(&self, batch: &Arc<[Trace]>);

    /// Queues `batch` if the queue has room for it now, never waiting (`Err` otherwise): for
    /// spans received from elsewhere (`ingest`), whose sender is told to retry. The receipt
    /// says when the writer has written the batch, and how that went.
    fn offer(&self, batch: Vec<Trace>) -> Result<Arc<Receipt>, Refused>;

    /// Has the queue's writer decide traces by `rules` (tail sampling, `sampling.rs`).
    fn sample_tails(&self, rules: Arc<crate::sampling::TailRules>);

    /// For the tee to read the queue's settings.
    fn as_any(&self) -> &dyn Any;
}

/// Why a batch offered to a queue was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue holds as many spans as it may.
    Full,
    /// The tracer was shut down.
    Closed,
}

/// What became of a batch a queue took ([`BatchInlet::offer`]): completed once by the queue's
/// writer, waited on by whoever offered it.
#[derive(Debug, Default)]
pub(crate) struct Receipt {
    outcome: std::sync::Mutex<Option<Written>>,
    done: std::sync::Condvar,
}

/// How the writer dealt with a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// Stored or sent (or, with a spool, in the spool).
    Stored,
    /// Taken by tail sampling, to be kept or dropped with the rest of its trace.
    Held,
    /// Not written; why.
    Failed(String),
}

impl Receipt {
    /// Records the outcome (the first one counts) and wakes the waiter.
    pub(crate) fn complete(&self, outcome: Written) {
        let mut slot = crate::sync::lock(&self.outcome);
        if slot.is_none() {
            *slot = Some(outcome);
        }
        self.done.notify_all();
    }

    /// The outcome, waiting for it until `deadline`; `None` if it is not known by then.
    pub(crate) fn wait(&self, deadline: Instant) -> Option<Written> {
        let mut slot = crate::sync::lock(&self.outcome);
        loop {
            if let Some(outcome) = &*slot {
                return Some(outcome.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            slot = self
                .done
                .wait_timeout(slot, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// Counts a sink reports through [`Sink::stats`]. Start from `SinkStats::default()` and set
/// what your sink counts (more counts may come).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// Spans the sink failed to store or send.
    pub failures: u64,
    /// Spans the sink discarded on purpose (a full buffer, after shutdown).
    pub dropped: u64,
    /// Spans accepted but not yet stored or sent (queued for a worker).
    pub pending: u64,
    /// Snapshots the sink discarded (a full buffer).
    pub snapshots_dropped: u64,
    /// Traces tail sampling kept (see [`Sampler`](crate::Sampler)).
    pub traces_kept: u64,
    /// Traces tail sampling left out.
    pub traces_sampled_out: u64,
    /// Spans of the traces tail sampling left out (accepted, then not stored on purpose).
    pub sampled_out: u64,
}

impl SinkStats {
    /// The counts of two sinks added up (a tee's members, a queue and what is behind it).
    pub(crate) fn plus(self, other: SinkStats) -> SinkStats {
        SinkStats {
            failures: self.failures + other.failures,
            dropped: self.dropped + other.dropped,
            pending: self.pending + other.pending,
            snapshots_dropped: self.snapshots_dropped + other.snapshots_dropped,
            traces_kept: self.traces_kept + other.traces_kept,
            traces_sampled_out: self.traces_sampled_out + other.traces_sampled_out,
            sampled_out: self.sampled_out + other.sampled_out,
        }
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::Tracer;

    /// A sink written before `persist_span` was the method to implement.
    #[derive(Default)]
    struct OldStyle(Mutex<Vec<String>>);

    impl Sink for OldStyle {
        fn persist(&self, trace: &Trace) {
            self.0.lock().unwrap().push(trace.span_name.to_string());
        }
    }

    /// A sink that forgot both.
    struct Neither;

    impl Sink for Neither {}

    #[test]
    fn a_sink_implementing_only_persist_still_gets_every_span() {
        let sink = Arc::new(OldStyle::default());
        struct Shared(Arc<OldStyle>);
        impl Sink for Shared {
            fn persist_span(&self, span: &FinishedSpan<'_>) {
                self.0.persist_span(span);
            }
        }
        let tracer = Tracer::new(Shared(sink.clone()));
        tracer.trace("a").end();
        tracer.trace("b").end();
        assert_eq!(*sink.0.lock().unwrap(), ["a", "b"]);
    }

    /// Two zero-sized old-style sinks (one address) in a chain: each still gets the span.
    #[test]
    fn old_style_sinks_of_no_size_forward_to_each_other() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::OnceLock;
        static LAST: OnceLock<Tracer> = OnceLock::new();
        static GOT: AtomicUsize = AtomicUsize::new(0);
        struct First;
        struct Last;
        impl Sink for First {
            fn persist(&self, trace: &Trace) {
                if let Some(span) = FinishedSpan::from_trace(trace) {
                    LAST.get().unwrap().forward(&span);
                }
            }
        }
        impl Sink for Last {
            fn persist(&self, _: &Trace) {
                GOT.fetch_add(1, Ordering::Relaxed);
            }
        }
        LAST.get_or_init(|| Tracer::new(Last));
        Tracer::new(First).trace("a").end();
        assert_eq!(GOT.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_sink_implementing_neither_drops_spans_without_recursing() {
        let tracer = Tracer::new(Neither);
        tracer.trace("a").end();
        let record = Tracer::in_memory(1);
        record.trace("b").end();
        Neither.persist(&record.get_traces(&Default::default()).unwrap()[0]);
        assert_eq!(tracer.stats().sink_failures, 0);
    }
}
