//! The OTLP exporter: [`Tracer::otlp`](crate::Tracer::otlp).

mod config;
mod encode;
mod transport;

pub use config::{Compression, OtlpConfig, Protocol};

use crate::batch::{ExportError, Exporter, Retries};
use crate::queue::{Behind, Queued};
use crate::{Error, Key, Trace, Tracer, Value};
use config::OtlpConfig as Config;
use transport::Transport;

/// The exporter's sink: finished spans go to the exporter thread's queue.
/// The exporter's side of its queue: nothing to read back.
struct Otlp;

impl Behind for Otlp {
    fn name(&self) -> &'static str {
        "otlp"
    }
}

struct OtlpWriter {
    transport: Transport,
    resource: Vec<(Key, Value)>,
    config: Config,
}

/// Retries (after `Retry-After` when the backend sends one) and partial successes are the
/// transport's: it overrides `export_with`, and `export` is one try.
impl Exporter for OtlpWriter {
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
        self.export_with(batch, &Retries::none())
    }

    fn export_with(&mut self, batch: &[Trace], retries: &Retries<'_>) -> Result<(), ExportError> {
        let request = encode::request(batch, &self.resource);
        let body = encode::body(&request, self.config.protocol, self.config.compression)
            .map_err(ExportError::Failed)?;
        self.transport
            .deliver(&body, batch.len(), retries)
            .map_err(ExportError::Failed)
    }
}

/// `spans` as an OTLP/HTTP JSON request body (`ExportTraceServiceRequest`), as
/// [`Protocol::HttpJson`] sends it: for files, and for tools that read OTLP JSON.
///
/// ```
/// let tracer = tracekit::Tracer::in_memory(1);
/// drop(tracer.trace("step"));
/// let json = tracekit::exporters::to_otlp_json(&tracer.get_traces(&Default::default()).unwrap());
/// assert!(json.starts_with(r#"{"resourceSpans":"#));
/// ```
pub fn to_otlp_json(spans: &[Trace]) -> String {
    serde_json::to_string(&encode::request(spans, &[])).unwrap_or_default()
}

impl Tracer {
    /// Exports spans to an OpenTelemetry backend over OTLP/HTTP (Jaeger, Tempo, Honeycomb,
    /// Arize Phoenix, Langfuse, an OpenTelemetry Collector...).
    ///
    /// The traced code never waits for the network: it packs each finished span into a
    /// bounded queue, as the in-memory store does, and an exporter thread sends batches
    /// (512 spans, or whatever waited 1 s) with a timeout per request. Connection errors and
    /// 408, 429, 502, 503 and 504 answers are retried with exponential backoff and jitter,
    /// after the backend's `Retry-After` when it sends one, for up to a minute
    /// ([`OtlpConfig::retry_for`]); other answers fail the batch at once. A backend that
    /// comes back gets the spans that waited. Spans beyond the queue are dropped; spans
    /// dropped, failed or rejected (a partial success) are counted in
    /// [`Tracer::stats`](crate::Tracer::stats) and the failures logged. With a
    /// [`Spool`](crate::Spool) ([`OtlpConfig::spool`]), batches wait in a local file instead,
    /// across outages of any length, crashes and kills.
    /// [`flush`](crate::Tracer::flush) and [`shutdown`](crate::Tracer::shutdown) return once
    /// everything accepted before them is delivered, or say at their deadline how many spans
    /// are still waiting; dropping the last handle shuts down within
    /// [`DEFAULT_DEADLINE`](crate::DEFAULT_DEADLINE).
    ///
    /// # Mapping
    ///
    /// Ids as bytes; kinds; status (`Error` with the `exception.message` attribute as its
    /// message); events; the resource (the configuration's, under the tracer's own resource
    /// attributes) and the scope; attributes with their OTLP types (strings, booleans,
    /// integers, doubles, and arrays and key-value lists for nested values, never JSON
    /// text; a `u64` above `i64::MAX` as its decimal string); exact nanosecond timestamps; a
    /// remote parent (see [`propagation`](crate::propagation)) as the parent span id.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an endpoint that is not an `http(s)://` URL or a CA file that
    /// cannot be read; [`Error::Sink`] if the exporter thread cannot start. Nothing is sent
    /// until a span ends, so an unreachable backend is not an error here.
    ///
    /// ```no_run
    /// use tracekit::{OtlpConfig, Tracer};
    ///
    /// // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ... (see OtlpConfig::from_env)
    /// let tracer = Tracer::otlp(OtlpConfig::from_env()?)?;
    /// drop(tracer.trace("hello"));
    /// tracer.shutdown()?; // everything sent, or an error saying what was not
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn otlp(config: OtlpConfig) -> Result<Tracer, Error> {
        if config.disabled {
            return Ok(Tracer::noop());
        }
        config.validate()?;
        let writer = OtlpWriter {
            transport: Transport::new(&config)?,
            resource: config.resource.clone(),
            config: config.clone(),
        };
        let queue =
            crate::stores::start_queue("otlp", &config.batch, config.spool.as_ref(), writer)?;
        Ok(Queued {
            queue,
            behind: Otlp,
        }
        .into_tracer())
    }
}
