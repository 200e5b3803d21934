//! [`Background`]: any tracer behind a bounded queue and a thread of its own, so a slow or
//! stuck backend can never hold up the traced code.

use std::time::{Duration, Instant};

use crate::batch::{ExportError, Exporter, Overflow};
use crate::query::{Page, Query, TraceHead, Watermark};
use crate::queue::{Behind, Queued, SpanQueue};
use crate::{Error, FinishedSpan, SinkStats, Trace, TraceFilter, Tracer};

/// How [`Tracer::in_background_with`] queued spans before it took a
/// [`BatchConfig`](crate::BatchConfig), the queue settings every backend shares; converts into
/// one.
#[derive(Clone, Debug)]
#[must_use = "a configuration does nothing until it is given to `Tracer::in_background_with`"]
#[deprecated(
    since = "0.1.0",
    note = "use `BatchConfig` (the same settings under OpenTelemetry's names): \
            `tracer.in_background_with(BatchConfig::new().max_queue_size(4_096))`"
)]
pub struct BackgroundConfig {
    batch: crate::BatchConfig,
}

#[allow(deprecated)]
impl Default for BackgroundConfig {
    fn default() -> Self {
        BackgroundConfig::new()
    }
}

#[allow(deprecated)]
impl BackgroundConfig {
    /// The defaults of [`Tracer::in_background`].
    pub fn new() -> Self {
        BackgroundConfig { batch: defaults() }
    }

    /// Queue, batches, delay and overflow at once.
    pub fn batch(mut self, batch: crate::BatchConfig) -> Self {
        self.batch = batch;
        self
    }

    /// [`BatchConfig::max_queue_size`](crate::BatchConfig::max_queue_size).
    pub fn queue_capacity(mut self, spans: usize) -> Self {
        self.batch = self.batch.max_queue_size(spans);
        self
    }

    /// [`BatchConfig::max_export_batch_size`](crate::BatchConfig::max_export_batch_size).
    pub fn batch_size(mut self, spans: usize) -> Self {
        self.batch = self.batch.max_export_batch_size(spans);
        self
    }

    /// [`BatchConfig::overflow`](crate::BatchConfig::overflow).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.batch = self.batch.overflow(overflow);
        self
    }

    /// [`BatchConfig::scheduled_delay`](crate::BatchConfig::scheduled_delay).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.batch = self.batch.scheduled_delay(linger);
        self
    }
}

#[allow(deprecated)]
impl From<BackgroundConfig> for crate::BatchConfig {
    fn from(config: BackgroundConfig) -> Self {
        config.batch
    }
}

/// [`Tracer::in_background`]'s queue: 16 384 spans that drop when full, handed on in batches
/// of up to 512, within 100 ms of ending when the traced code is quiet.
fn defaults() -> crate::BatchConfig {
    crate::BatchConfig::with(16_384, 512, Duration::from_millis(100))
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

    fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
        self.inner.list_traces(query)
    }

    fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
        self.inner.new_spans(mark)
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

/// Handing spans to a tracer does not fail (its own failures are counted there), so there is
/// nothing to retry.
impl Exporter for Forward {
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
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
    /// defaults (16 384 spans, batches of 512, 100 ms): the traced code never waits for it,
    /// however slow or stuck it is. See [`Background`]. Fails only if the thread cannot be
    /// started.
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
        self.in_background_with(defaults())
    }

    /// Like [`in_background`](Self::in_background), with the queue's settings (its retry
    /// budget does not apply: handing spans to a tracer does not fail).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracekit::{sinks::Overflow, BatchConfig, Tracer};
    ///
    /// let tracer = Tracer::structured_logs(std::io::stdout()).in_background_with(
    ///     BatchConfig::new()
    ///         .max_queue_size(4_096)
    ///         .overflow(Overflow::Block(Duration::from_millis(5))),
    /// )?;
    /// drop(tracer.trace("hello"));
    /// tracer.shutdown()?;
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn in_background_with(
        self,
        config: impl Into<crate::BatchConfig>,
    ) -> Result<Tracer, Error> {
        let name = self.sink_name();
        let queue = SpanQueue::start(name, &config.into(), Forward(self.clone()))?;
        Ok(Queued {
            queue,
            behind: Background { inner: self },
        }
        .into_tracer())
    }
}
