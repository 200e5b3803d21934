//! Batching for a backend of your own: [`Exporter`] (what you write: send or store a batch)
//! and [`BatchConfig`] (how spans wait for it), put together by [`Tracer::batched`].
//!
//! The machinery is the one tracekit's SQLite, DynamoDB and OTLP backends run on: the traced
//! thread packs each finished span into a per-thread buffer (no I/O, no lock another thread
//! holds), a writer thread of the tracer's own hands the exporter batches, retries what it
//! says may succeed later (backing off, with jitter) for up to the retry budget, counts what
//! fails or is dropped in [`Tracer::stats`](crate::Tracer::stats), and `flush`/`shutdown`
//! return once everything accepted before them went through, or at their deadline.

use std::time::{Duration, Instant};

use crate::queue::{Behind, Overflow, Pace, QueueConfig, Queued, SpanQueue, Writer};
use crate::{Error, Trace, Tracer};

/// A backend that receives finished spans in batches, on a thread of the tracer's own; give it
/// to [`Tracer::batched`].
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tracekit::{BatchConfig, ExportError, Exporter, Trace, Tracer};
///
/// /// Sends span names somewhere that is sometimes busy.
/// struct Names {
///     sent: Arc<Mutex<Vec<String>>>,
///     busy_once: bool,
/// }
///
/// impl Exporter for Names {
///     fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
///         if std::mem::take(&mut self.busy_once) {
///             return Err(ExportError::Retryable("busy, try again".into()));
///         }
///         let mut sent = self.sent.lock().unwrap();
///         sent.extend(batch.iter().map(|t| t.span_name.to_string()));
///         Ok(())
///     }
/// }
///
/// let sent = Arc::new(Mutex::new(Vec::new()));
/// let exporter = Names { sent: sent.clone(), busy_once: true };
/// let tracer = Tracer::batched(exporter, BatchConfig::new())?;
/// drop(tracer.trace("converse"));
/// tracer.flush()?; // retried once, then delivered
/// assert_eq!(*sent.lock().unwrap(), ["converse"]);
/// assert_eq!(tracer.stats().spans_persisted, 1);
/// # Ok::<(), tracekit::Error>(())
/// ```
pub trait Exporter: Send + 'static {
    /// Sends or stores `batch` (spans in the order they ended, children before parents).
    /// Return [`ExportError::Retryable`] for what may succeed later (the batch is offered
    /// again, within the retry budget) and [`ExportError::Failed`] for what will not (its spans
    /// are counted as failed). A panic counts as `Failed`.
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError>;

    /// Called once on the writer thread when the tracer shuts down (or is dropped), after the
    /// last batch: close connections, files.
    fn shutdown(&mut self) {}
}

/// Why an [`Exporter`] could not take a batch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// It may work later (a busy server, a lost connection): the batch is offered again.
    #[error("{0} (will retry)")]
    Retryable(String),
    /// It will not (the data was refused): the batch's spans are counted as failed.
    #[error("{0}")]
    Failed(String),
}

/// How spans wait for an [`Exporter`]: the queue's size, the batches, how long a span may
/// wait for a batch to fill, what a full queue does, and how long a batch is retried.
///
/// The names are OpenTelemetry's batch span processor's, and [`BatchConfig::from_env`] reads
/// its `OTEL_BSP_*` variables.
///
/// ```
/// use std::time::Duration;
/// use tracekit::{sinks::Overflow, BatchConfig};
/// let config = BatchConfig::new()
///     .max_queue_size(100_000)
///     .max_export_batch_size(1_000)
///     .scheduled_delay(Duration::from_millis(500))
///     .overflow(Overflow::Block(Duration::from_millis(50)))
///     .retry_for(Duration::from_secs(30));
/// # drop(config);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "a configuration does nothing until it is given to `Tracer::batched`"]
pub struct BatchConfig {
    pub(crate) queue: QueueConfig,
    pub(crate) retry_for: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig::new()
    }
}

impl BatchConfig {
    /// A queue of 2 048 spans that drops (and counts) spans when full, batches of up to 512,
    /// a span waiting at most 100 ms for its batch, retries for up to 60 s, and 5 s for the
    /// queue to empty when its tracer is dropped.
    pub fn new() -> Self {
        BatchConfig::with(2_048, 512, Duration::from_millis(100))
    }

    /// The defaults of [`new`](Self::new) with a backend's own queue size, batch size and
    /// delay.
    pub(crate) const fn with(capacity: usize, batch_size: usize, linger: Duration) -> Self {
        BatchConfig {
            queue: QueueConfig {
                capacity,
                batch_size,
                overflow: Overflow::Drop,
                linger,
                shutdown: crate::DEFAULT_DEADLINE,
            },
            retry_for: Duration::from_secs(60),
        }
    }

    /// [`BatchConfig::new`] with what `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
    /// and `OTEL_BSP_SCHEDULE_DELAY` (milliseconds) say, where set. A value that is not a
    /// positive whole number is an [`Error::Config`] naming the variable.
    ///
    /// ```
    /// let config = tracekit::BatchConfig::from_env_vars([("OTEL_BSP_MAX_QUEUE_SIZE", "4096")])?;
    /// assert_eq!(config, tracekit::BatchConfig::new().max_queue_size(4096));
    /// assert!(tracekit::BatchConfig::from_env_vars([("OTEL_BSP_SCHEDULE_DELAY", "soon")]).is_err());
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        let vars = [
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            "OTEL_BSP_SCHEDULE_DELAY",
        ];
        let set: Vec<(&str, String)> = vars
            .iter()
            .filter_map(|v| Some((*v, std::env::var(v).ok()?)))
            .collect();
        Self::from_env_vars(set.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// [`BatchConfig::from_env`] reading from `vars` instead of the process environment.
    pub fn from_env_vars<'a>(
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Error> {
        BatchConfig::new().overridden_by(vars)
    }

    /// This configuration with what the `OTEL_BSP_*` variables among `vars` say.
    pub(crate) fn overridden_by<'a>(
        self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Error> {
        let mut config = self;
        for (name, value) in vars {
            let number = |setting: &'static str| -> Result<u64, Error> {
                match value.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(Error::Config {
                        setting,
                        value: value.chars().take(40).collect(),
                        problem: "expected a positive whole number".into(),
                    }),
                }
            };
            config = match name {
                "OTEL_BSP_MAX_QUEUE_SIZE" => {
                    config.max_queue_size(number("OTEL_BSP_MAX_QUEUE_SIZE")? as usize)
                }
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" => {
                    config.max_export_batch_size(number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? as usize)
                }
                "OTEL_BSP_SCHEDULE_DELAY" => config
                    .scheduled_delay(Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY")?)),
                _ => config,
            };
        }
        Ok(config)
    }

    /// At most this many spans wait to be exported (at least 1).
    pub fn max_queue_size(mut self, spans: usize) -> Self {
        self.queue.capacity = spans;
        self
    }

    /// The exporter gets batches of up to this many spans (at least 1).
    pub fn max_export_batch_size(mut self, spans: usize) -> Self {
        self.queue.batch_size = spans;
        self
    }

    /// The longest a span waits for its batch to fill before the writer sends what it has.
    pub fn scheduled_delay(mut self, delay: Duration) -> Self {
        self.queue.linger = delay;
        self
    }

    /// What a span does when the queue is full: [`Overflow::Drop`] (the default; counted) or
    /// wait for room up to a limit ([`Overflow::Block`]).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.queue.overflow = overflow;
        self
    }

    /// How long a batch the exporter calls retryable is offered again before its spans count
    /// as failed (shutdown cuts it short at its deadline).
    pub fn retry_for(mut self, duration: Duration) -> Self {
        self.retry_for = duration;
        self
    }

    /// How long dropping the tracer (its last handle, without
    /// [`Tracer::shutdown`](crate::Tracer::shutdown)) waits for the queue to be written, at
    /// most (default 5 s); what is left is counted and reported on stderr.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.queue.shutdown = timeout;
        self
    }
}

/// The queue settings of every backend's configuration, under [`BatchConfig`]'s names and
/// written once: `$config` keeps them in a field `batch: BatchConfig` that its `new` fills
/// with the backend's defaults.
macro_rules! batch_settings {
    ($config:ident) => {
        impl $config {
            /// Every queue setting at once, replacing this backend's defaults and what was set
            /// so far (for example from [`BatchConfig::from_env`](crate::BatchConfig::from_env)).
            pub fn batch(mut self, batch: $crate::BatchConfig) -> Self {
                self.batch = batch;
                self
            }

            /// The queue settings so far: this backend's defaults and what was set.
            pub fn batch_config(&self) -> &$crate::BatchConfig {
                &self.batch
            }

            /// At most this many spans wait for the writer (at least 1); more are dropped
            /// and counted, or wait as [`overflow`](Self::overflow) says. See
            /// [`BatchConfig::max_queue_size`](crate::BatchConfig::max_queue_size).
            pub fn max_queue_size(mut self, spans: usize) -> Self {
                self.batch = self.batch.max_queue_size(spans);
                self
            }

            /// The writer takes batches of up to this many spans (at least 1). See
            /// [`BatchConfig::max_export_batch_size`](crate::BatchConfig::max_export_batch_size).
            pub fn max_export_batch_size(mut self, spans: usize) -> Self {
                self.batch = self.batch.max_export_batch_size(spans);
                self
            }

            /// The longest a span waits for its batch to fill. See
            /// [`BatchConfig::scheduled_delay`](crate::BatchConfig::scheduled_delay).
            pub fn scheduled_delay(mut self, delay: std::time::Duration) -> Self {
                self.batch = self.batch.scheduled_delay(delay);
                self
            }

            /// What a span does when the queue is full:
            /// [`Overflow::Drop`](crate::sinks::Overflow::Drop) (the default, counted in
            /// [`Stats::spans_dropped`](crate::Stats::spans_dropped)) or
            /// [`Overflow::Block`](crate::sinks::Overflow::Block) up to a time limit.
            pub fn overflow(mut self, overflow: $crate::sinks::Overflow) -> Self {
                self.batch = self.batch.overflow(overflow);
                self
            }

            /// How long a batch that failed in a way that may pass is retried before its spans
            /// count as failed (shutdown cuts it short at its deadline). See
            /// [`BatchConfig::retry_for`](crate::BatchConfig::retry_for).
            pub fn retry_for(mut self, duration: std::time::Duration) -> Self {
                self.batch = self.batch.retry_for(duration);
                self
            }

            /// How long dropping the tracer waits for the queue to be written. See
            /// [`BatchConfig::shutdown_timeout`](crate::BatchConfig::shutdown_timeout).
            pub fn shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.batch = self.batch.shutdown_timeout(timeout);
                self
            }

            /// The old name of [`max_queue_size`](Self::max_queue_size).
            #[deprecated(since = "0.1.0", note = "use `max_queue_size` (BatchConfig's name)")]
            pub fn queue_capacity(self, spans: usize) -> Self {
                self.max_queue_size(spans)
            }
        }
    };
}
pub(crate) use batch_settings;

/// An [`Exporter`] on a queue's writer thread: retries with backoff and jitter.
struct Exporting<E> {
    exporter: E,
    retry_for: Duration,
}

impl<E: Exporter> Writer for Exporting<E> {
    fn write(&mut self, batch: &[Trace], pace: &Pace<'_>) -> Result<(), String> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.exporter.export(batch) {
                Ok(()) => return Ok(()),
                Err(ExportError::Failed(why)) => return Err(why),
                Err(ExportError::Retryable(why)) => {
                    // Up to half again, so writers that failed together do not retry together.
                    let jitter = backoff.mul_f64(fastrand::f64() * 0.5);
                    let wait = backoff + jitter;
                    if started.elapsed() + wait > self.retry_for || !pace.sleep(wait) {
                        return Err(format!("{why}; gave up retrying"));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn stopped(&mut self) {
        self.exporter.shutdown();
    }
}

/// What is behind a batched tracer's queue: nothing to read back.
struct Exported;

impl Behind for Exported {
    fn name(&self) -> &'static str {
        "batched"
    }
}

impl Tracer {
    /// A tracer that hands finished spans to `exporter` in batches on a thread of its own, with
    /// tracekit's queue, retries, counts and bounded `flush`/`shutdown` (see [`Exporter`]).
    /// Such a tracer does not read spans back; [`Tracer::tee`] it with one that does.
    pub fn batched(exporter: impl Exporter, config: BatchConfig) -> Result<Tracer, Error> {
        let writer = Exporting {
            exporter,
            retry_for: config.retry_for,
        };
        Ok(Queued {
            queue: SpanQueue::start("batched", config.queue, writer)?,
            behind: Exported,
        }
        .into_tracer())
    }
}
