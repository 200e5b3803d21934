//! The batching contract: [`Exporter`] (what a backend writes: send or store a batch) and
//! [`BatchConfig`] (how spans wait for it), put together by
//! [`Tracer::batched`](crate::Tracer::batched) for a backend of your own, and by every
//! built-in store and exporter for theirs (`queue/` is the machinery).
//!
//! The machinery is the one tracekit's SQLite, DynamoDB and OTLP backends run on: the traced
//! thread packs each finished span into a per-thread buffer (no I/O, no lock another thread
//! holds), a writer thread of the tracer's own hands the exporter batches, retries what it
//! says may succeed later (backing off, with jitter) for up to the retry budget, counts what
//! fails or is dropped in [`Tracer::stats`](crate::Tracer::stats), and `flush`/`shutdown`
//! return once everything accepted before them went through, or at their deadline.

use std::time::{Duration, Instant};

use crate::{Error, Trace, TraceFilter};

/// A backend that receives finished spans in batches, on a thread of the tracer's own; give it
/// to [`Tracer::batched`](crate::Tracer::batched).
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

    /// What the tracer's writer thread calls with each batch: [`export`](Self::export),
    /// offered again while it returns [`ExportError::Retryable`], with exponential backoff
    /// (from 50 ms, doubling up to 5 s) and up to half again of jitter, within the retry
    /// budget ([`BatchConfig::retry_for`]); shutdown cuts the waits short at its deadline.
    ///
    /// Override it to pace retries yourself (a server's `Retry-After`) or to report a partial
    /// success ([`Retries::reject`]); wait only through [`Retries::wait`]. An error returned
    /// here counts every span of the batch as failed.
    fn export_with(&mut self, batch: &[Trace], retries: &Retries<'_>) -> Result<(), ExportError> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.export(batch) {
                Err(ExportError::Retryable(why)) => {
                    // Up to half again, so exporters that failed together do not retry
                    // together.
                    let wait = backoff + backoff.mul_f64(fastrand::f64() * 0.5);
                    if started.elapsed() + wait > retries.budget() || !retries.wait(wait) {
                        retries.note_gave_up();
                        return Err(ExportError::Failed(format!("{why}; gave up retrying")));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                done => return done,
            }
        }
    }

    /// Called on the writer thread at the end of a pass that a
    /// [`Tracer::flush`](crate::Tracer::flush) (or a shutdown) waits for, after its batches:
    /// send what the exporter itself buffers. The flush returns once this does.
    fn flush(&mut self) {}

    /// Called once on the writer thread when the tracer shuts down (or is dropped), after the
    /// last batch: close connections, files.
    fn shutdown(&mut self) {}

    /// Where what this exporter wrote can be read back, if anywhere: asked once, when
    /// [`Tracer::batched`](crate::Tracer::batched) starts, before the exporter moves to its
    /// thread. The tracer's [`get_traces`](crate::Tracer::get_traces) flushes its queue, then
    /// asks the reader. By default there is none, and `get_traces` is
    /// [`Error::Unsupported`].
    fn reader(&self) -> Option<Box<dyn TraceReader>> {
        None
    }
}

/// Reads back what an [`Exporter`] wrote ([`Exporter::reader`]), on the caller's thread.
pub trait TraceReader: Send + Sync + 'static {
    /// The stored spans `filter` selects, ordered by start time.
    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error>;
}

/// What an [`Exporter`] may ask of its queue in the middle of a batch
/// ([`Exporter::export_with`]): waits between retries that shutdown cuts short, the retry
/// budget, and counting part of a batch as failed.
pub struct Retries<'a> {
    queue: Option<&'a dyn Pacer>,
    budget: Duration,
    /// Set when the exporter gave a batch up because time ran out (not because the backend
    /// refused it): a spool keeps such a batch for later.
    gave_up: std::cell::Cell<bool>,
}

impl std::fmt::Debug for Retries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retries")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// The queue's side of [`Retries`] (`queue::Shared`).
pub(crate) trait Pacer {
    fn wait(&self, duration: Duration) -> bool;
    fn reject(&self, n: u64, why: &dyn std::fmt::Display);
}

impl<'a> Retries<'a> {
    pub(crate) fn new(queue: &'a dyn Pacer, budget: Duration) -> Self {
        Retries {
            queue: Some(queue),
            budget,
            gave_up: std::cell::Cell::new(false),
        }
    }

    /// The same queue with no time for retries: one attempt, after which
    /// [`gave_up`](Self::gave_up) tells a failure that may pass from one that will not.
    #[cfg_attr(
        not(all(feature = "sqlite", any(feature = "otlp", feature = "dynamodb"))),
        allow(dead_code)
    )]
    pub(crate) fn once(&self) -> Retries<'a> {
        Retries {
            queue: self.queue,
            budget: Duration::ZERO,
            gave_up: std::cell::Cell::new(false),
        }
    }

    /// Whether the exporter gave up on a failure that may pass (time ran out).
    #[cfg_attr(
        not(all(feature = "sqlite", any(feature = "otlp", feature = "dynamodb"))),
        allow(dead_code)
    )]
    pub(crate) fn gave_up(&self) -> bool {
        self.gave_up.get()
    }

    /// Records that the exporter gives a batch up for lack of time, not because the backend
    /// refused it.
    pub(crate) fn note_gave_up(&self) {
        self.gave_up.set(true);
    }

    /// No retries: [`wait`](Self::wait) says to give up at once, for an exporter's own
    /// [`export`](Exporter::export) that is one attempt of its `export_with`.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "dynamodb", feature = "otlp")),
        allow(dead_code)
    )]
    pub(crate) fn none() -> Retries<'static> {
        Retries {
            queue: None,
            budget: Duration::ZERO,
            gave_up: std::cell::Cell::new(false),
        }
    }

    /// Waits `duration`; `false` (at once, or as soon as it is so) when the tracer is
    /// shutting down and its deadline has passed: give the batch up then.
    pub fn wait(&self, duration: Duration) -> bool {
        let waited = self.queue.is_some_and(|q| q.wait(duration));
        if !waited {
            self.note_gave_up();
        }
        waited
    }

    /// How long a batch may be retried in all ([`BatchConfig::retry_for`]).
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Counts `n` spans of the batch as failed while the rest were delivered (a backend's
    /// partial success); `why` is reported like other failures.
    pub fn reject(&self, n: u64, why: &dyn std::fmt::Display) {
        if let Some(queue) = self.queue {
            queue.reject(n, why);
        }
    }
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
#[cfg_attr(
    not(any(feature = "sqlite", feature = "dynamodb", feature = "otlp")),
    allow(unused_macros)
)]
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
            pub fn overflow(mut self, overflow: $crate::batch::Overflow) -> Self {
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
#[cfg_attr(
    not(any(feature = "sqlite", feature = "dynamodb", feature = "otlp")),
    allow(unused_imports)
)]
pub(crate) use batch_settings;

/// What a bounded buffer does when it is full: a store's or exporter's queue
/// ([`BatchConfig::overflow`](crate::BatchConfig::overflow)), or a live consumer's
/// ([`Iterable`](crate::sinks::Iterable)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the new item and count it (the default): the traced code never waits.
    Drop,
    /// Make the traced code wait for room, at most this long per item, then drop and count.
    Block(Duration),
}

/// How a queue is sized and paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct QueueConfig {
    pub(crate) capacity: usize,
    pub(crate) batch_size: usize,
    pub(crate) overflow: Overflow,
    /// The longest a span waits before the writer looks, when no batch fills up.
    pub(crate) linger: Duration,
    /// How long dropping the queue (its tracer's last handle, without `shutdown`) waits for
    /// the writer to finish.
    pub(crate) shutdown: Duration,
}

impl QueueConfig {
    /// A queue that serves all of `configs`' queues at once: the largest capacity and batch,
    /// the shortest delay, and the longest wait when full (dropping if none waits).
    pub(crate) fn widest(configs: impl Iterator<Item = QueueConfig>) -> QueueConfig {
        configs
            .reduce(|a, b| QueueConfig {
                capacity: a.capacity.max(b.capacity),
                batch_size: a.batch_size.max(b.batch_size),
                linger: a.linger.min(b.linger),
                shutdown: a.shutdown.max(b.shutdown),
                overflow: match (a.overflow, b.overflow) {
                    (Overflow::Block(x), Overflow::Block(y)) => Overflow::Block(x.max(y)),
                    (Overflow::Block(x), _) | (_, Overflow::Block(x)) => Overflow::Block(x),
                    _ => Overflow::Drop,
                },
            })
            .unwrap_or(BatchConfig::new().queue)
    }
}
