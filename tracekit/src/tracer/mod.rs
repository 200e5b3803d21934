//! [`Tracer`]: the handle users hold. The state its clones share is in `inner`, what root
//! spans hold to keep it alive in `lease`, and the calls that let a sink forward spans to
//! other tracers in `forward`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sink::BatchInlet;
use crate::{Attributes, Error, Key, Sampler, Sink, Value};

mod forward;
mod inner;
mod lease;
mod read;

pub use forward::{NotReceived, Received};
pub use inner::Stats;
pub(crate) use inner::TracerInner;
pub(crate) use lease::Leases;
pub(crate) use lease::TracerOwner;
pub use read::SpanStream;

/// How long [`Tracer::flush`] and [`Tracer::shutdown`] wait by default.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// A handle to one tracing backend and its context. Cheap to clone (`Arc`), `Send + Sync`;
/// clones share the backend, the resource attributes and the current-span context.
///
/// ```
/// use tracekit::{TraceFilter, Tracer};
///
/// let tracer = Tracer::in_memory(1000);
/// tracer.set_resource_attribute("service.name", "MyAgent");
/// {
///     let turn = tracer.trace("converse");
///     turn.add_inheritable_attribute("ai.conversation.id", "c-1");
///     tracer.current_trace().add_attribute("ai.user.input", "hi");
/// }
/// let spans = tracer.get_traces(&TraceFilter::new().attribute("ai.conversation.id", "c-1"))?;
/// assert_eq!(spans.len(), 1);
/// assert_eq!(spans[0].resource_attributes.get("service.name"), Some(&"MyAgent".into()));
/// # Ok::<(), tracekit::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Tracer {
    pub(crate) inner: Option<Arc<TracerInner>>,
    /// What root spans hold to keep `inner` alive; `None` for handles made by
    /// [`Tracer::current`] (their spans have a parent, which does that).
    pub(crate) leases: Option<Arc<Leases>>,
}

// A panic in a sink or in traced code leaves a tracer usable: sink calls are wrapped in
// `catch_unwind` and poisoned locks are used as they are. So holding a tracer across
// `catch_unwind` is fine.
impl std::panic::UnwindSafe for Tracer {}
impl std::panic::RefUnwindSafe for Tracer {}

impl Tracer {
    /// A tracer that sends finished spans to a custom [`Sink`].
    pub fn new(sink: impl Sink) -> Tracer {
        Tracer::with_inlet(sink, None)
    }

    /// A tracer over a queued sink that takes unpacked batches through `inlet` too.
    pub(crate) fn with_inlet(sink: impl Sink, inlet: Option<Box<dyn BatchInlet>>) -> Tracer {
        Tracer {
            inner: Some(Arc::new(TracerInner::new(Box::new(sink), inlet))),
            leases: Some(Arc::default()),
        }
    }

    /// A tracer that records nothing. Starting a span costs a branch: no ids, no clock, no
    /// allocation, and spans are not current (so `current_trace()` is a no-op handle inside
    /// them). `Tracer::default()` is the same.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::noop();
    /// let span = tracer.trace("x");
    /// span.add_attribute("k", "v"); // ignored
    /// assert!(!tracer.current_trace().is_recording());
    /// assert!(tracer.get_traces(&Default::default()).is_err());
    /// ```
    pub const fn noop() -> Tracer {
        Tracer {
            inner: None,
            leases: None,
        }
    }

    /// This tracer, keeping only the traces `sampler` selects (see [`Sampler`]): head
    /// sampling for any tracer, tail rules for a queued one (SQLite, DynamoDB, OTLP,
    /// [`batched`](Self::batched), [`in_background`](Self::in_background)). Give it to a new
    /// tracer, before it is cloned or starts spans.
    ///
    /// ```
    /// use tracekit::{Sampler, Tracer};
    /// let tracer = Tracer::in_memory(1000).with_sampler(Sampler::ratio(0.25))?;
    /// for _ in 0..400 {
    ///     drop(tracer.trace("turn"));
    /// }
    /// let kept = tracer.stats().spans_accepted;
    /// assert!((50..150).contains(&kept), "{kept}");
    /// assert_eq!(tracer.stats().traces_sampled_out, 400 - kept);
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a ratio outside 0 to 1 or a negative amount, for tail rules on a
    /// tracer without a queue (wrap it: `tracer.in_background()?.with_sampler(..)`), and for a
    /// tracer already cloned.
    pub fn with_sampler(mut self, sampler: Sampler) -> Result<Tracer, Error> {
        sampler.validate()?;
        let Some(inner) = self.inner.as_mut() else {
            return Ok(self);
        };
        let refused = |problem: &str| Error::Config {
            setting: "Tracer::with_sampler",
            value: format!("{sampler:?}"),
            problem: problem.into(),
        };
        let inner = Arc::get_mut(inner).ok_or_else(|| {
            refused("the tracer is shared already: give the sampler to a new tracer, before it is cloned")
        })?;
        if let Some(rules) = sampler.tail_rules() {
            let Some(inlet) = &inner.inlet else {
                return Err(refused(
                    "tail sampling needs a queued tracer (SQLite, DynamoDB, OTLP, `Tracer::batched`); \
                     wrap this one: `tracer.in_background()?.with_sampler(..)`",
                ));
            };
            inlet.sample_tails(rules);
        }
        inner.head = sampler.head_threshold();
        Ok(self)
    }

    /// Whether this tracer records anything (false for [`Tracer::noop`]).
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Adds an attribute to the resource of every span this tracer ends from now on (e.g.
    /// `service.name`).
    pub fn set_resource_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        if let Some(inner) = &self.inner {
            inner.set_resource_attribute(key.into(), value.into());
        }
    }

    /// The current resource attributes.
    pub fn resource_attributes(&self) -> Attributes {
        self.inner
            .as_ref()
            .map(|i| (*i.resource_attributes()).clone())
            .unwrap_or_default()
    }

    /// Waits until everything accepted so far is stored or sent, up to
    /// [`DEFAULT_DEADLINE`].
    pub fn flush(&self) -> Result<(), Error> {
        self.flush_within(DEFAULT_DEADLINE)
    }

    /// Like [`flush`](Self::flush) with an explicit time limit.
    pub fn flush_within(&self, timeout: Duration) -> Result<(), Error> {
        self.flush_until(Instant::now() + timeout)
    }

    /// Flushes and stops the backend; spans that end afterwards are dropped and counted in
    /// [`Stats::spans_dropped`]. Calling it again does nothing.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// tracer.shutdown().unwrap();
    /// drop(tracer.trace("late"));
    /// assert_eq!(tracer.stats().spans_dropped, 1);
    /// ```
    pub fn shutdown(&self) -> Result<(), Error> {
        self.shutdown_within(DEFAULT_DEADLINE)
    }

    /// Like [`shutdown`](Self::shutdown) with an explicit time limit.
    pub fn shutdown_within(&self, timeout: Duration) -> Result<(), Error> {
        self.shutdown_until(Instant::now() + timeout)
    }

    /// Counts of spans accepted, persisted, dropped and failed so far.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// drop(tracer.trace("x"));
    /// let stats = tracer.stats();
    /// assert_eq!((stats.spans_accepted, stats.spans_persisted, stats.sink_failures), (1, 1, 0));
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.as_ref().map(|i| i.stats()).unwrap_or_default()
    }

    /// Switches recording on or off for every clone of this tracer: `#[traced(record)]`
    /// functions then store their arguments and return value on their span, for
    /// [`replay`](crate::replay) to answer with later. Off by default; the environment
    /// variable `TRACEKIT_RECORD=1` switches it on for every tracer of the process (another
    /// value than `1/true/yes/on` or `0/false/no/off` is said on stderr and leaves it off).
    /// A no-op tracer records nothing either way.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// assert!(!tracer.recording());
    /// tracer.set_recording(true);
    /// assert!(tracer.clone().recording());
    /// ```
    pub fn set_recording(&self, on: bool) {
        if let Some(inner) = &self.inner {
            inner
                .recording
                .store(on, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether `#[traced(record)]` calls are recorded (see [`set_recording`](Self::set_recording)).
    pub fn recording(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.recording.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The backend's name (`"noop"` for a no-op tracer).
    pub fn sink_name(&self) -> &'static str {
        self.inner.as_ref().map_or("noop", |i| i.sink.name())
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("sink", &self.sink_name())
            .finish()
    }
}
