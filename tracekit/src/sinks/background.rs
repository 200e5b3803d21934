//! [`Background`]: any tracer behind a bounded queue and a thread of its own, so a slow or
//! stuck backend can never hold up the traced code.

use std::time::{Duration, Instant};

use crate::queue::{Behind, Overflow, Pace, QueueConfig, Queued, SpanQueue, Writer};
use crate::{Error, FinishedSpan, SinkStats, Trace, TraceFilter, Tracer};

/// How [`Tracer::in_background_with`] queues spans for the tracer it wraps.
///
/// ```
/// use std::time::Duration;
/// use tracekit::sinks::{BackgroundConfig, Overflow};
/// use tracekit::Tracer;
///
/// let tracer = Tracer::structured_logs(std::io::stdout()).in_background_with(
///     BackgroundConfig::new()
///         .queue_capacity(4_096)
///         .overflow(Overflow::Block(Duration::from_millis(5))),
/// )?;
/// drop(tracer.trace("hello"));
/// tracer.shutdown()?;
/// # Ok::<(), tracekit::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a configuration does nothing until it is given to `Tracer::in_background_with`"]
pub struct BackgroundConfig {
    queue: QueueConfig,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        BackgroundConfig::new()
    }
}

impl BackgroundConfig {
    /// The defaults: a queue of 16 384 spans that drops when full, handed on in batches of up
    /// to 512, within 100 ms of ending when the traced code is quiet.
    pub fn new() -> Self {
        BackgroundConfig {
            queue: QueueConfig {
                capacity: 16_384,
                batch_size: 512,
                overflow: Overflow::Drop,
                linger: Duration::from_millis(100),
            },
        }
    }

    /// Queue, batches, delay and overflow at once, in the names every backend shares
    /// ([`BatchConfig`](crate::BatchConfig)); its retry budget does not apply (handing spans
    /// to a tracer does not fail).
    pub fn batch(mut self, batch: crate::BatchConfig) -> Self {
        self.queue = batch.queue;
        self
    }

    /// At most this many finished spans wait for the background thread (at least 1).
    pub fn queue_capacity(mut self, spans: usize) -> Self {
        self.queue.capacity = spans;
        self
    }

    /// The background thread hands on up to this many spans per pass (at least 1).
    pub fn batch_size(mut self, spans: usize) -> Self {
        self.queue.batch_size = spans;
        self
    }

    /// What a span does when the queue is full: [`Overflow::Drop`] (the default) counts it
    /// in [`Stats::spans_dropped`](crate::Stats::spans_dropped); [`Overflow::Block`] makes
    /// the traced thread wait for room, up to the given time.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.queue.overflow = overflow;
        self
    }

    /// The longest a span waits before the background thread looks, when the traced code is
    /// quiet.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.queue.linger = linger;
        self
    }
}

/// A tracer's sink run on a thread of its own; from [`Tracer::in_background`].
///
/// The traced thread only packs the finished span into a bounded queue (as the stores do);
/// the background thread hands the spans to the wrapped tracer through its
/// [forwarding](crate::Tracer#forwarding) calls, where panics and failures are contained and
/// counted. A wrapped tracer that blocks (a terminal nobody reads, a custom sink stuck on a
/// network call) fills the queue; later spans are then dropped and counted, or wait at most
/// the [`Overflow::Block`] limit, and `flush`/`shutdown` give up at their deadline with an
/// [`Error::Timeout`] that says how many spans still wait.
///
/// [`Stats`](crate::Stats) add both sides: spans dropped at the queue or by the wrapped tracer,
/// the wrapped tracer's failures, and spans still queued as pending. Snapshots of open spans
/// are not queued (they are progress, not data): a background tracer does not take them.
/// Reads ([`Tracer::get_traces`]) flush the queue and read from the wrapped tracer.
pub struct Background {
    inner: Tracer,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("inner", &self.inner.sink_name())
            .finish()
    }
}

/// What is behind the queue: the wrapped tracer, flushed, shut down, read and counted after
/// the queue.
impl Behind for Background {
    fn name(&self) -> &'static str {
        self.inner.sink_name()
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        self.inner.get_traces(filter)
    }

    fn flush(&self, deadline: Instant) -> Result<(), Error> {
        self.inner.flush_until(deadline)
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        // A wrapped sink still stuck in the queue's pass is not asked for more: the queue's
        // shutdown returned its timeout before this runs.
        self.inner.shutdown_until(deadline)
    }

    fn stats(&self) -> SinkStats {
        SinkStats::from(self.inner.stats())
    }
}

struct Forward(Tracer);

impl Writer for Forward {
    fn write(&mut self, batch: &[Trace], _: &Pace<'_>) -> Result<(), String> {
        if self.0.inlet().is_some() {
            // A queued tracer takes the unpacked batch as it is, rather than packing each
            // span again.
            self.0.forward_batch(&batch.into());
            return Ok(());
        }
        for trace in batch {
            if let Some(span) = FinishedSpan::from_trace(trace) {
                // Contains the wrapped sink's panics and counts its failures.
                self.0.forward(&span);
            }
        }
        Ok(())
    }
}

impl Tracer {
    /// Runs this tracer's sink on a thread of its own behind a bounded queue, with the
    /// [defaults](BackgroundConfig::new): the traced code never waits for it, however slow
    /// or stuck it is. See [`Background`]. Fails only if the thread cannot be started.
    ///
    /// ```
    /// use tracekit::Tracer;
    /// let memory = Tracer::in_memory(100);
    /// let tracer = memory.clone().in_background()?;
    /// drop(tracer.trace("work"));
    /// tracer.flush()?;
    /// assert_eq!(memory.get_traces(&Default::default())?.len(), 1);
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn in_background(self) -> Result<Tracer, Error> {
        self.in_background_with(BackgroundConfig::new())
    }

    /// Like [`in_background`](Self::in_background), with the queue's settings.
    pub fn in_background_with(self, config: BackgroundConfig) -> Result<Tracer, Error> {
        let name = self.sink_name();
        let queue = SpanQueue::start(name, config.queue, Forward(self.clone()))?;
        Ok(Queued {
            queue,
            behind: Background { inner: self },
        }
        .into_tracer())
    }
}
