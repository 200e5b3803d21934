//! The machinery behind the batching contract (`batch.rs`): the hand-off from traced code to a
//! writer thread, for stores and exporters, through a bounded queue of packed spans.
//!
//! The traced thread does what the in-memory store does: it packs the span into its lane
//! (`collect.rs`, no lock) with the in-memory store's record format. It never does I/O. One
//! writer thread per queue takes the lanes' records (and batches a tee's queue already
//! unpacked, through `Inlet`), unpacks them and hands the backend's [`Exporter`] batches of up
//! to `batch_size` spans.
//!
//! * Bounded: at most `capacity` spans wait. A span that finds the queue full is dropped and
//!   counted, or, with [`Overflow::Block`], waits for room up to a time limit first.
//! * The writer wakes when a batch is ready, on `flush`, or after `linger` at the latest.
//! * `flush` takes a ticket; the writer's next pass starts after it, so it drains everything
//!   pushed before the flush began, and the flush returns when that pass is written.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::batch::{
    BatchConfig, ExportError, Exporter, Overflow, Pacer, QueueConfig, Retries, TraceReader,
};
use crate::collect::Lanes;
use crate::error::panic_message;
use crate::query::{Page, Query, TraceHead, Watermark};
use crate::record;
use crate::sampling::TailRules;
use crate::sink::{BatchInlet, Receipt, Refused, Written};
use crate::sync::lock;
use crate::{Error, FailureLog, FinishedSpan, Sink, SinkStats, Trace, TraceFilter, Tracer};

mod tail;

/// What stands behind a queue besides its writer, the only part in which the queued backends
/// (stores, the OTLP exporter, `in_background`) differ: reading back, and a tracer further
/// down to flush and count. [`Queued`] is the one sink over a queue.
pub(crate) trait Behind: Send + Sync + 'static {
    /// The sink's name (`Sink::name`).
    fn name(&self) -> &'static str;

    /// Reads spans back, once the queue has written what was accepted before the call.
    fn get_traces(&self, _filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        Err(Error::Unsupported {
            sink: self.name(),
            operation: "get_traces",
        })
    }

    /// Lists traces, once the queue has written what was accepted before the call; by
    /// default by scanning what `get_traces` reads.
    fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
        crate::query::scan_all(|all| self.get_traces(all), query)
    }

    /// The spans stored since `mark`, once the queue has written what was accepted before
    /// the call; by default by reading every span.
    fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
        crate::query::new_by_scan(|all| self.get_traces(all), mark)
    }

    /// Flushes what is further down, once the queue has.
    fn flush(&self, _deadline: Instant) -> Result<(), Error> {
        Ok(())
    }

    /// Shuts down what is further down, once the queue has.
    fn shutdown(&self, _deadline: Instant) -> Result<(), Error> {
        Ok(())
    }

    /// Counts of what is further down, added to the queue's.
    fn stats(&self) -> SinkStats {
        SinkStats::default()
    }
}

/// A sink that hands finished spans to a [`SpanQueue`] (packed on the caller's thread, no I/O)
/// and reads back through what is [`Behind`] it.
pub(crate) struct Queued<B> {
    pub(crate) queue: SpanQueue,
    pub(crate) behind: B,
}

impl<B: Behind> Sink for Queued<B> {
    #[inline]
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        self.queue.push(span);
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        self.settle()?;
        self.behind.get_traces(filter)
    }

    fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
        self.settle()?;
        self.behind.list_traces(query)
    }

    fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
        self.settle()?;
        self.behind.new_spans(mark)
    }

    fn flush(&self, deadline: Instant) -> Result<(), Error> {
        self.queue.flush(deadline)?;
        self.behind.flush(deadline)
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        self.queue.shutdown(deadline)?;
        self.behind.shutdown(deadline)
    }

    fn stats(&self) -> SinkStats {
        self.queue.stats().plus(self.behind.stats())
    }

    fn name(&self) -> &'static str {
        self.behind.name()
    }
}

/// A batch that arrived unpacked.
enum Ready {
    /// From a tee's queue, shared with its other members.
    Unpacked(Arc<[Trace]>),
    /// Received from elsewhere (`Inlet::offer`), with whoever waits to hear how it was written.
    Received(Vec<Trace>, Arc<Receipt>),
}

/// Received batches gathered for one write, and their senders' receipts.
#[derive(Default)]
struct Gathered {
    spans: Vec<Trace>,
    receipts: Vec<Arc<Receipt>>,
}

/// What an exporter counts of the spans past the queue (a spool's): those it holds unsent,
/// and those that failed outside a batch the queue handed it (when it sends on a flush).
#[derive(Default)]
pub(crate) struct Held {
    pub(crate) pending: AtomicU64,
    pub(crate) failed: AtomicU64,
}

/// The writer is woken each time this many spans (or a batch, if smaller) are queued.
const WAKE_EVERY: usize = 512;

/// The caller's side of the queue; dropping it flushes and stops the writer.
pub(crate) struct SpanQueue {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    name: &'static str,
    config: QueueConfig,
    /// The exporter's retry budget (`Retries::budget`).
    retry_for: Duration,
    lanes: Lanes,
    /// Batches another queue already unpacked (a tee's, see `Inlet`) or received from
    /// elsewhere (`Inlet::offer`), written after the lanes' records of the same pass.
    ready: Mutex<Vec<Ready>>,
    /// Spans pushed and not yet written (or failed).
    queued: AtomicUsize,
    /// Set when the writer has stopped: later spans are dropped.
    closed: AtomicBool,
    dropped: AtomicU64,
    failures: FailureLog,
    /// The latest failure, for the error of a flush during which spans failed.
    last_failure: Mutex<String>,
    state: Mutex<State>,
    /// Signalled after every pass and batch: flushes and blocked callers wait on it.
    progress: Condvar,
    writer: OnceLock<Thread>,
    /// Tail sampling's rules, once `Tracer::with_sampler` gave some.
    tail: OnceLock<Arc<TailRules>>,
    /// What tail sampling did, as of the writer's last pass.
    tail_counts: Mutex<tail::Counts>,
    /// Spans the exporter holds past the queue (a spool's).
    held_by_exporter: Option<Arc<Held>>,
}

#[derive(Default)]
struct State {
    /// Flush tickets handed out.
    requested: u64,
    /// The highest ticket whose pass has been written.
    completed: u64,
    stop: bool,
    /// Shutdown's deadline: an exporter's retries stop there.
    give_up_at: Option<Instant>,
    /// The process is ending: tail sampling decides every trace it holds.
    decide_all: bool,
    finished: bool,
}

impl SpanQueue {
    /// Starts the writer thread, which hands `exporter` the batches.
    pub(crate) fn start(
        name: &'static str,
        batch: &BatchConfig,
        exporter: impl Exporter,
    ) -> Result<SpanQueue, Error> {
        SpanQueue::start_with(name, batch, exporter, None)
    }

    /// [`start`](Self::start) for an exporter that may hold spans unsent (a spool): `held`
    /// counts them (in `stats().pending`), and the writer's first pass calls the exporter's
    /// `flush`, so it sends what an earlier process left before any span ends here.
    pub(crate) fn start_with(
        name: &'static str,
        batch: &BatchConfig,
        exporter: impl Exporter,
        held: Option<Arc<Held>>,
    ) -> Result<SpanQueue, Error> {
        let config = QueueConfig {
            capacity: batch.queue.capacity.max(1),
            batch_size: batch.queue.batch_size.max(1),
            ..batch.queue
        };
        let shared = Arc::new(Shared {
            name,
            config,
            retry_for: batch.retry_for,
            lanes: Lanes::new(usize::MAX),
            ready: Mutex::new(Vec::new()),
            queued: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            failures: FailureLog::new(),
            last_failure: Mutex::new(String::new()),
            state: Mutex::new(State {
                requested: u64::from(held.is_some()),
                ..State::default()
            }),
            progress: Condvar::new(),
            writer: OnceLock::new(),
            tail: OnceLock::new(),
            tail_counts: Mutex::default(),
            held_by_exporter: held,
        });
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("tracekit-{name}"))
                .spawn(move || shared.run(exporter))
                .map_err(|e| Error::Sink {
                    sink: name,
                    operation: "start its writer thread",
                    message: e.to_string(),
                })?
        };
        let _ = shared.writer.set(worker.thread().clone());
        // Written out however the process ends (`exit.rs`).
        let weak: std::sync::Weak<dyn crate::exit::Drain> =
            Arc::downgrade(&(Arc::clone(&shared) as Arc<dyn crate::exit::Drain>));
        crate::exit::watch(weak);
        Ok(SpanQueue {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Queues a finished span; never does I/O.
    #[inline]
    pub(crate) fn push(&self, span: &FinishedSpan<'_>) {
        let shared = &*self.shared;
        let config = &shared.config;
        if shared.closed.load(Ordering::Relaxed) {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let queued = shared.queued.fetch_add(1, Ordering::Relaxed);
        if queued >= config.capacity && !shared.wait_for_room(config.capacity) {
            shared.queued.fetch_sub(1, Ordering::Relaxed);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        shared.lanes.push(span);
        if (queued + 1).is_multiple_of(config.batch_size.min(WAKE_EVERY)) {
            shared.wake_writer();
        }
    }

    /// Returns once every span pushed before the call is written, or errs at the deadline
    /// (saying how many still wait), or when spans failed meanwhile (saying how many, and why).
    pub(crate) fn flush(&self, deadline: Instant) -> Result<(), Error> {
        self.shared.flush("flush", deadline)
    }

    /// Flushes, then stops the writer; later spans are dropped and counted.
    pub(crate) fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        {
            let mut state = lock(&self.shared.state);
            state.stop = true;
            // The writer gives up a little before the deadline, so the pass can end in time
            // and the caller learns how many spans failed rather than that time ran out.
            let margin = (deadline.saturating_duration_since(Instant::now()) / 10)
                .min(Duration::from_millis(100));
            let give_up = deadline.checked_sub(margin).unwrap_or(deadline);
            state.give_up_at = Some(state.give_up_at.map_or(give_up, |at| at.min(give_up)));
            self.shared.progress.notify_all();
        }
        let flushed = self.shared.flush("shutdown", deadline);
        // Unless the pass itself is still running, the writer has stopped.
        if !matches!(flushed, Err(Error::Timeout { .. })) {
            if let Some(worker) = lock(&self.worker).take() {
                let _ = worker.join();
            }
        }
        flushed
    }

    pub(crate) fn stats(&self) -> SinkStats {
        let tail = *lock(&self.shared.tail_counts);
        let held = |count: fn(&Held) -> &AtomicU64| {
            self.shared
                .held_by_exporter
                .as_ref()
                .map_or(0, |held| count(held).load(Ordering::Relaxed))
        };
        SinkStats {
            failures: self.shared.failures.count() + held(|h| &h.failed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            pending: self.shared.queued.load(Ordering::Relaxed) as u64
                + tail.held
                + held(|h| &h.pending),
            traces_kept: tail.traces_kept,
            traces_sampled_out: tail.traces_dropped,
            sampled_out: tail.spans_dropped,
            ..SinkStats::default()
        }
    }
}

/// A second way into a queue: batches of spans another queue already unpacked. A tee of
/// several queued tracers packs each span once, into a queue of its own, and hands each
/// unpacked batch to every member's inlet (see `sinks::Tee`).
#[derive(Clone)]
pub(crate) struct Inlet(Arc<Shared>);

impl Inlet {
    /// Queues `batch` whole, or drops and counts it whole when the queue has no room for it
    /// (after waiting for room as long as [`Overflow::Block`] says: the caller is a tee's or
    /// a background tracer's writer thread, which then holds up its own queue, as a traced
    /// thread would be held up by this one).
    pub(crate) fn accept(&self, batch: &Arc<[Trace]>) {
        let shared = &*self.0;
        if shared.reserve(batch.len(), true).is_err() {
            shared
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            return;
        }
        lock(&shared.ready).push(Ready::Unpacked(Arc::clone(batch)));
        shared.wake_writer();
    }

    /// Queues `batch` whole if there is room for it now (never waiting, whatever the
    /// overflow setting: the sender is told to come back), with a receipt the writer
    /// completes once the batch is written.
    pub(crate) fn offer(&self, batch: Vec<Trace>) -> Result<Arc<Receipt>, Refused> {
        let shared = &*self.0;
        shared.reserve(batch.len(), false)?;
        let receipt = Arc::new(Receipt::default());
        lock(&shared.ready).push(Ready::Received(batch, Arc::clone(&receipt)));
        shared.wake_writer();
        Ok(receipt)
    }

    /// The queue's settings.
    pub(crate) fn config(&self) -> QueueConfig {
        self.0.config
    }
}

impl BatchInlet for Inlet {
    fn accept(&self, batch: &Arc<[Trace]>) {
        Inlet::accept(self, batch);
    }

    fn offer(&self, batch: Vec<Trace>) -> Result<Arc<Receipt>, Refused> {
        Inlet::offer(self, batch)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn sample_tails(&self, rules: Arc<TailRules>) {
        let _ = self.0.tail.set(rules);
    }
}

impl<B: Behind> Queued<B> {
    /// Writes what was accepted before a read. Spans that failed to be written are counted
    /// and cannot be read: read what is stored. Only a flush that ran out of time is an error.
    pub(crate) fn settle(&self) -> Result<(), Error> {
        match self.queue.flush(Instant::now() + crate::DEFAULT_DEADLINE) {
            Err(e @ Error::Timeout { .. }) => Err(e),
            _ => Ok(()),
        }
    }

    /// The tracer over this sink; a tee of it and other queued tracers packs each span once
    /// (see `Inlet`).
    pub(crate) fn into_tracer(self) -> Tracer {
        let inlet = Inlet(Arc::clone(&self.queue.shared));
        Tracer::with_inlet(self, Some(Box::new(inlet)))
    }
}

impl Drop for SpanQueue {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(Instant::now() + self.shared.config.shutdown) {
            eprintln!(
                "tracekit: the `{}` tracer was dropped with spans unwritten: {e}",
                self.shared.name
            );
        }
    }
}

impl crate::exit::Drain for Shared {
    fn name(&self) -> &'static str {
        self.name
    }

    fn drain(&self, deadline: Instant) {
        lock(&self.state).decide_all = true;
        let _ = self.flush("write before exit", deadline);
    }

    fn left(&self) -> u64 {
        self.queued.load(Ordering::Relaxed) as u64
    }

    fn timeout(&self) -> Duration {
        self.config.shutdown
    }
}

impl Shared {
    /// Counts `n` spans of a whole batch into the queue if it has room for them (a batch
    /// larger than the queue, into an empty one), waiting for room as [`Overflow::Block`]
    /// says if `may_wait`.
    fn reserve(&self, n: usize, may_wait: bool) -> Result<(), Refused> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Refused::Closed);
        }
        let queued = self.queued.fetch_add(n, Ordering::Relaxed);
        let limit = self.config.capacity.max(n);
        if queued + n > limit && !(may_wait && self.wait_for_room(limit)) {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            return Err(Refused::Full);
        }
        Ok(())
    }

    /// With [`Overflow::Block`], waits until at most `limit` spans are queued (the caller's
    /// places already counted); `false` if they should be dropped.
    #[cold]
    fn wait_for_room(&self, limit: usize) -> bool {
        let Overflow::Block(timeout) = self.config.overflow else {
            return false;
        };
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        loop {
            if self.queued.load(Ordering::Relaxed) <= limit {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || state.finished {
                return false;
            }
            self.wake_writer();
            state = self
                .progress
                .wait_timeout(state, (deadline - now).min(Duration::from_millis(10)))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn wake_writer(&self) {
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    fn flush(&self, operation: &'static str, deadline: Instant) -> Result<(), Error> {
        let failed_before = self.failures.count();
        self.wait_for_pass(operation, deadline, failed_before)?;
        let failed = self.failures.count() - failed_before;
        if failed > 0 {
            return Err(Error::Sink {
                sink: self.name,
                operation,
                message: format!(
                    "{failed} spans could not be delivered (counted in Tracer::stats); the latest error: {}",
                    lock(&self.last_failure)
                ),
            });
        }
        Ok(())
    }

    fn wait_for_pass(
        &self,
        operation: &'static str,
        deadline: Instant,
        failed_before: u64,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut state = lock(&self.state);
        state.requested += 1;
        let ticket = state.requested;
        self.wake_writer();
        while state.completed < ticket && !state.finished {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    operation,
                    timeout: deadline.saturating_duration_since(started),
                    detail: format!(
                        "{} spans still queued in the `{}` tracer, {} failed meanwhile",
                        self.queued.load(Ordering::Relaxed),
                        self.name,
                        self.failures.count() - failed_before
                    ),
                });
            }
            state = self
                .progress
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        Ok(())
    }

    /// The writer thread.
    fn run(&self, mut exporter: impl Exporter) {
        let mut batch = Vec::with_capacity(self.config.batch_size);
        let mut tail: Option<tail::Tail> = None;
        loop {
            let (target, stop, flushing, decide_all) = {
                let state = lock(&self.state);
                (
                    state.requested,
                    state.stop,
                    state.requested > state.completed,
                    state.stop || state.decide_all,
                )
            };
            if tail.is_none() {
                tail = self
                    .tail
                    .get()
                    .map(|rules| tail::Tail::new(Arc::clone(rules)));
            }
            let now = Instant::now();
            self.lanes.take(|packed| {
                let mut unreadable = 0;
                for one in packed.records() {
                    match record::decode(one, &packed.tables) {
                        Some(trace) => {
                            // Only tail sampling asks where the trace's root is.
                            let root = tail.is_some() && record::is_local_root(one);
                            self.take(&mut exporter, &mut batch, tail.as_mut(), trace, root, now);
                        }
                        None => unreadable += 1,
                    }
                }
                debug_assert_eq!(unreadable, 0, "a record this module packed must unpack");
                if unreadable > 0 {
                    self.fail(unreadable, &"a queued span could not be unpacked");
                    self.queued
                        .fetch_sub(unreadable as usize, Ordering::Relaxed);
                }
            });
            let ready = std::mem::take(&mut *lock(&self.ready));
            if let Some(tail) = tail.as_mut() {
                for one in ready {
                    let (spans, receipt) = match one {
                        Ready::Unpacked(shared) => (shared.to_vec(), None),
                        Ready::Received(spans, receipt) => (spans, Some(receipt)),
                    };
                    for span in spans {
                        // An unpacked batch has no remote-parent mark: a span without a
                        // parent is taken as the root.
                        let root = span.parent_span_id.is_none();
                        self.take(&mut exporter, &mut batch, Some(tail), span, root, now);
                    }
                    if let Some(receipt) = receipt {
                        receipt.complete(Written::Held);
                    }
                }
                let kept = tail.decide(now, decide_all);
                *lock(&self.tail_counts) = tail.counts;
                // They left the queue's count when the tail took them; back for the write.
                self.queued.fetch_add(kept.len(), Ordering::Relaxed);
                for span in kept {
                    self.push_batch(&mut exporter, &mut batch, span);
                }
                if !batch.is_empty() {
                    self.write(&mut exporter, &mut batch);
                }
            } else {
                if !batch.is_empty() {
                    self.write(&mut exporter, &mut batch);
                }
                // Received batches that arrived together go in one write (up to a batch):
                // each write has a cost of its own (a SQLite commit rewrites every index
                // page the batch touched), and their senders wait for it anyway.
                let mut received = Gathered::default();
                for one in ready {
                    match one {
                        Ready::Unpacked(shared) => {
                            for chunk in shared.chunks(self.config.batch_size) {
                                let _ = self.write_slice(&mut exporter, chunk);
                            }
                        }
                        Ready::Received(mut spans, receipt) => {
                            let group = &received.spans;
                            if !group.is_empty()
                                && group.len() + spans.len() > self.config.batch_size
                            {
                                self.write_received(&mut exporter, &mut received);
                            }
                            received.spans.append(&mut spans);
                            received.receipts.push(receipt);
                        }
                    }
                }
                self.write_received(&mut exporter, &mut received);
            }
            // The exporter holds spans (a spool's backlog): an empty batch lets it send them at
            // its own pace, also while no span ends here; while that goes on, no pause.
            let held = || {
                self.held_by_exporter
                    .as_ref()
                    .map_or(0, |held| held.pending.load(Ordering::Relaxed))
            };
            let mut draining = false;
            if !flushing && held() > 0 {
                let before = held();
                let _ = self.write_slice(&mut exporter, &[]);
                draining = held() < before;
            }
            if flushing {
                // A flush (or shutdown) waits for this pass: what the exporter holds goes too.
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| exporter.flush())) {
                    self.fail(
                        0,
                        &format_args!("flush panicked: {}", panic_message(&*panic)),
                    );
                }
            }
            let mut state = lock(&self.state);
            state.completed = state.completed.max(target);
            if stop && state.completed >= state.requested {
                self.closed.store(true, Ordering::Relaxed);
                drop(state);
                // Outside the lock: an exporter's own shutdown may take a while.
                let _ = catch_unwind(AssertUnwindSafe(|| exporter.shutdown()));
                // Batches offered while the queue closed: their senders hear it at once.
                for late in std::mem::take(&mut *lock(&self.ready)) {
                    let n = match &late {
                        Ready::Unpacked(spans) => spans.len(),
                        Ready::Received(spans, _) => spans.len(),
                    };
                    self.queued.fetch_sub(n, Ordering::Relaxed);
                    self.dropped.fetch_add(n as u64, Ordering::Relaxed);
                    if let Ready::Received(_, receipt) = late {
                        receipt.complete(Written::Failed("the tracer shut down".into()));
                    }
                }
                lock(&self.state).finished = true;
                self.progress.notify_all();
                return;
            }
            let idle = state.requested == state.completed;
            self.progress.notify_all();
            drop(state);
            if idle
                && !draining
                && self.queued.load(Ordering::Relaxed) < self.config.batch_size.min(WAKE_EVERY)
            {
                std::thread::park_timeout(self.config.linger);
            }
        }
    }

    /// A span unpacked by the writer: into the batch, or to tail sampling when it samples.
    fn take(
        &self,
        exporter: &mut impl Exporter,
        batch: &mut Vec<Trace>,
        tail: Option<&mut tail::Tail>,
        span: Trace,
        local_root: bool,
        now: Instant,
    ) {
        let passed = match tail {
            None => Some(span),
            Some(tail) => tail.offer(span, local_root, now),
        };
        match passed {
            Some(span) => self.push_batch(exporter, batch, span),
            // Held by the tail (its own bound applies) or dropped: out of the queue's count.
            None => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Adds `span` to the batch, written when full.
    fn push_batch(&self, exporter: &mut impl Exporter, batch: &mut Vec<Trace>, span: Trace) {
        batch.push(span);
        if batch.len() >= self.config.batch_size {
            self.write(exporter, batch);
        }
    }

    fn fail(&self, n: u64, why: &dyn std::fmt::Display) {
        *lock(&self.last_failure) = why.to_string();
        self.failures.record_many(self.name, n, why);
    }

    fn write(&self, exporter: &mut impl Exporter, batch: &mut Vec<Trace>) {
        let _ = self.write_slice(exporter, batch);
        batch.clear();
    }

    /// Writes received spans gathered from several batches, and tells their senders how it
    /// went.
    fn write_received(&self, exporter: &mut impl Exporter, received: &mut Gathered) {
        let mut written = Written::Stored;
        for chunk in received.spans.chunks(self.config.batch_size) {
            if let Err(why) = self.write_slice(exporter, chunk) {
                written = Written::Failed(why);
            }
        }
        for receipt in received.receipts.drain(..) {
            receipt.complete(written.clone());
        }
        received.spans.clear();
    }

    /// Hands `batch` to the exporter; the error (counted already) says why it failed.
    fn write_slice(&self, exporter: &mut impl Exporter, batch: &[Trace]) -> Result<(), String> {
        let n = batch.len();
        let retries = Retries::new(self, self.retry_for);
        let result = match catch_unwind(AssertUnwindSafe(|| exporter.export_with(batch, &retries)))
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(ExportError::Failed(why) | ExportError::Retryable(why))) => Err(why),
            Err(panic) => Err(format!("panicked: {}", panic_message(&*panic))),
        };
        if let Err(why) = &result {
            self.fail(n as u64, why);
        }
        self.queued.fetch_sub(n, Ordering::Relaxed);
        // Blocked callers may go on.
        if self.config.overflow != Overflow::Drop {
            self.progress.notify_all();
        }
        result
    }
}

/// The queue's side of an exporter's [`Retries`].
impl Pacer for Shared {
    /// Waits `duration`; `false` (at once, or as soon as it is so) when the queue is shutting
    /// down and its deadline has passed.
    fn wait(&self, duration: Duration) -> bool {
        let end = Instant::now() + duration;
        let mut state = lock(&self.state);
        loop {
            let now = Instant::now();
            if state.give_up_at.is_some_and(|at| now >= at) {
                return false;
            }
            if now >= end {
                return true;
            }
            let until = state.give_up_at.map_or(end, |at| at.min(end));
            state = self
                .progress
                .wait_timeout(state, until.saturating_duration_since(now))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn reject(&self, n: u64, why: &dyn std::fmt::Display) {
        self.fail(n, why);
    }
}

/// What is behind a batched tracer's queue: the exporter's reader, if it has one.
struct Exported(Option<Box<dyn TraceReader>>);

impl Behind for Exported {
    fn name(&self) -> &'static str {
        "batched"
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        match &self.0 {
            Some(reader) => reader.get_traces(filter),
            None => Err(Error::Unsupported {
                sink: "batched",
                operation: "get_traces",
            }),
        }
    }
}

impl Tracer {
    /// A tracer that hands finished spans to `exporter` in batches on a thread of its own, with
    /// tracekit's queue, retries, counts and bounded `flush`/`shutdown` (see [`Exporter`]).
    /// It reads spans back through the exporter's [reader](Exporter::reader), if it has one.
    pub fn batched(exporter: impl Exporter, config: BatchConfig) -> Result<Tracer, Error> {
        let reader = exporter.reader();
        Ok(Queued {
            queue: SpanQueue::start("batched", &config, exporter)?,
            behind: Exported(reader),
        }
        .into_tracer())
    }
}
