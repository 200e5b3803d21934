//! Receiving traces: tracekit as the OpenTelemetry collector of every process and language
//! an agent's work crosses (feature `ingest`; gRPC with `ingest-grpc`).
//!
//! A [`Collector`] takes OTLP export requests from any OpenTelemetry SDK (Python, TypeScript,
//! Java, Go, Rust), from the Python reference toolkit's `OtlpTracer`, or from another tracekit
//! process's `Tracer::otlp`, and hands their spans to a tracekit [`Tracer`]: a SQLite file, a
//! DynamoDB table, another OTLP backend, anything a tracer writes to. The spans keep their
//! ids, parents, kinds, status, times, attributes, events, resource and scope; spans of one
//! trace sent by several processes, in any order and minutes apart, read back as one trace.
//!
//! ```
//! use tracekit::ingest::Collector;
//! use tracekit::Tracer;
//!
//! # let dir = std::env::temp_dir().join(format!("tracekit-doc-ingest-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("traces.db");
//! let store = Tracer::sqlite(&path)?;
//! let collector = Collector::new(store.clone());
//! let receiver = collector.serve_http("127.0.0.1:0")?; // 127.0.0.1:4318 is the standard port
//! println!("OTLP/HTTP on http://{}/v1/traces", receiver.local_addr());
//! // Point OTEL_EXPORTER_OTLP_ENDPOINT at it; `collector.stats()` counts what came.
//! receiver.stop();
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), tracekit::Error>(())
//! ```
//!
//! `tracekit serve STORE --otlp` runs one in front of the viewer.
//!
//! # What it answers
//!
//! As the OTLP specification says, in the request's encoding:
//!
//! | answer | when |
//! |---|---|
//! | 200, an `ExportTraceServiceResponse` | the spans are stored (in the store, or its spool); spans it could not take (an id of the wrong length, an end before the start) are counted in `partial_success` with the first reason |
//! | 400 | the body cannot be decoded (the message names the field) |
//! | 401 | a [token](Collector::token) is set and the request does not carry it |
//! | 413 | the body, the body once inflated, or the spans in it are over the [`Limits`] (a gzip bomb is refused, never inflated whole) |
//! | 415 | a content type other than `application/x-protobuf` or `application/json`, or an encoding other than `gzip` |
//! | 503 with `Retry-After` | the tracer's queue is full, the store failed, or did not say within [`wait_for_store`](Collector::wait_for_store): the SDK sends again, and a span stored twice is kept once (SQLite and DynamoDB key rows by span id) |
//!
//! Every answer but a 200 is counted in [`Collector::stats`] by reason; an HTTP receiver also
//! answers `GET /healthz` with those counts and the tracer's.
//!
//! # Completed on the way in
//!
//! Spans are completed as tracekit completes its own on the way out
//! ([`GenAi::complete_trace`]): OpenInference spans (Arize's instrumentations), OpenLLMetry's
//! and the reference's `ai.*` spans get the GenAI, OpenInference and reference names they
//! lack, old token-count names get the current ones, calls to a model get a cost from the
//! price table, and a conversation id under any convention's name becomes the store's
//! conversation (`ai.conversation.id`). Spans of the Python reference toolkit (scope
//! `generative-ai-toolkit`), whose `OtlpTracer` sends dicts and lists as JSON text and times
//! through a float, get their structure back and their times rounded to the microsecond; a
//! string attribute of theirs that is itself JSON text comes back as structure too.
//!
//! # Sampling across services
//!
//! A [`Sampler`](crate::Sampler) with tail rules on the collector's tracer decides each trace
//! whole, over the spans of every process that sent some: its root's end starts the
//! [decision wait](crate::Sampler::decision_wait), which should cover how late the other
//! processes' exporters send (an SDK's batch delay, 5 s by default in OpenTelemetry's). A
//! span held for that decision is acknowledged once held: a collector killed before the
//! decision loses it, as any tail sampler in memory would.

mod convert;
mod decode;
#[cfg(feature = "ingest-grpc")]
mod grpc;
mod http;
mod json;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use crate::genai::GenAi;
use crate::{NotReceived, Received, Tracer};

pub use decode::Format;
#[cfg(feature = "ingest-grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "ingest-grpc")))]
pub use grpc::GrpcReceiver;
pub use http::HttpReceiver;

/// The standard OTLP/HTTP address a collector listens on.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:4318";
/// The standard OTLP/gRPC address.
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:4317";

/// Receives OTLP export requests into a [`Tracer`]: decodes them, checks them against its
/// [`Limits`] and token, completes the spans' conventions, hands them to the tracer and says
/// whether they were stored. Cheap to clone; clones share the settings they were made with
/// and the counts. Serve it over HTTP with [`serve_http`](Self::serve_http) (and gRPC with
/// [`serve_grpc`](Self::serve_grpc), feature `ingest-grpc`), or from a server of your own
/// with [`export`](Self::export).
///
/// ```
/// use tracekit::ingest::{Collector, ExportRequest, Limits};
/// use tracekit::Tracer;
///
/// let store = Tracer::in_memory(100);
/// let collector = Collector::new(store.clone())
///     .token("s3cret")
///     .limits(Limits::new().max_spans_per_request(10_000));
///
/// // What a server of your own hands it (axum, hyper, ...): a request it refuses.
/// let reply = collector.export(ExportRequest::new(b"{}").content_type("application/json"));
/// assert_eq!(reply.status(), 401);
/// let reply = collector.export(
///     ExportRequest::new(br#"{"resourceSpans": []}"#)
///         .content_type("application/json")
///         .authorization("Bearer s3cret"),
/// );
/// assert_eq!(reply.status(), 200);
/// assert_eq!(collector.stats().refused_unauthorized, 1);
/// ```
#[derive(Clone)]
pub struct Collector {
    tracer: Tracer,
    settings: Arc<Settings>,
    counts: Arc<Counts>,
}

#[derive(Clone)]
struct Settings {
    limits: Limits,
    token: Option<String>,
    wait: Duration,
    genai: Option<GenAi>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("tracer", &self.tracer)
            .field("limits", &self.settings.limits)
            .field("token", &self.settings.token.as_ref().map(|_| "***"))
            .field("wait_for_store", &self.settings.wait)
            .field("complete_conventions", &self.settings.genai.is_some())
            .finish()
    }
}

impl Collector {
    /// A collector into `tracer`: the default [`Limits`], no token, 5 s for the store to take
    /// each request, conventions completed with [`GenAi::new`]'s settings and prices.
    pub fn new(tracer: Tracer) -> Collector {
        Collector {
            tracer,
            settings: Arc::new(Settings {
                limits: Limits::new(),
                token: None,
                wait: Duration::from_secs(5),
                genai: Some(GenAi::new()),
            }),
            counts: Arc::default(),
        }
    }

    /// Requires `Authorization: Bearer TOKEN` on every request (gRPC: the `authorization`
    /// metadata); others are answered 401 (`UNAUTHENTICATED`). Set one whenever the receiver
    /// listens beyond the loopback interface.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.settings).token = Some(token.into()).filter(|t| !t.is_empty());
        self
    }

    /// The sizes it takes (see [`Limits`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        Arc::make_mut(&mut self.settings).limits = limits;
        self
    }

    /// How long a request waits for the tracer to store its spans before it is answered 503
    /// (default 5 s; OpenTelemetry's exporters give up on a request after 10 s).
    pub fn wait_for_store(mut self, wait: Duration) -> Self {
        Arc::make_mut(&mut self.settings).wait = wait;
        self
    }

    /// Completes the received spans' conventions with these settings and prices (see
    /// [`GenAi::complete_trace`]), or, with `None`, stores them exactly as received.
    pub fn conventions(mut self, genai: Option<GenAi>) -> Self {
        Arc::make_mut(&mut self.settings).genai = genai;
        self
    }

    /// The tracer it hands spans to.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// What it received and refused so far.
    pub fn stats(&self) -> IngestStats {
        self.counts.snapshot()
    }

    /// Answers one OTLP/HTTP export request (`POST /v1/traces`), for a server of your own.
    pub fn export(&self, request: ExportRequest<'_>) -> Reply {
        let format = Format::of(request.content_type).unwrap_or(Format::Protobuf);
        let taken = self.handle(request.authorization, || {
            decode::request(
                request.body,
                request.content_type,
                request.content_encoding,
                &self.settings.limits,
            )
        });
        Reply::of(format, taken)
    }

    /// What every transport does with a request: counts it, checks the token, decodes the
    /// body (`decode`), stores the spans, and counts a refusal by its reason.
    fn handle(
        &self,
        authorization: Option<&str>,
        decode: impl FnOnce() -> Result<ExportTraceServiceRequest, Refusal>,
    ) -> Result<Answer, Refusal> {
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let taken = self
            .authorize(authorization)
            .and_then(|()| decode())
            .and_then(|request| self.store(request));
        if let Err(refusal) = &taken {
            self.counts.refused(refusal.kind);
        }
        taken
    }

    /// Refuses a request without the token, if one is set.
    fn authorize(&self, authorization: Option<&str>) -> Result<(), Refusal> {
        let Some(token) = &self.settings.token else {
            return Ok(());
        };
        let given = authorization
            .and_then(|h| h.trim().strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        // Compared in time that does not depend on where they differ.
        let same = given.len() == token.len()
            && given
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(Refusal::new(
                RefusalKind::Unauthorized,
                "this collector needs `Authorization: Bearer <token>` (its --otlp-token)",
            ))
        }
    }

    /// Converts, completes and stores a decoded request (every transport ends here).
    fn store(&self, request: ExportTraceServiceRequest) -> Result<Answer, Refusal> {
        let limits = &self.settings.limits;
        let total: usize = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        if total > limits.max_spans_per_request {
            return Err(Refusal::new(
                RefusalKind::TooLarge,
                format!(
                    "{total} spans in one request, over this collector's limit of {}: send smaller batches",
                    limits.max_spans_per_request
                ),
            ));
        }
        let mut converted = convert::spans(request, limits.max_attributes_per_span);
        let counts = &self.counts;
        counts
            .spans_received
            .fetch_add(total as u64, Ordering::Relaxed);
        counts
            .spans_rejected
            .fetch_add(converted.rejected, Ordering::Relaxed);
        counts
            .attributes_dropped
            .fetch_add(converted.attributes_dropped, Ordering::Relaxed);
        if let Some(genai) = &self.settings.genai {
            for span in &mut converted.spans {
                genai.complete_trace(span);
            }
        }
        let n = converted.spans.len() as u64;
        let deadline = Instant::now() + self.settings.wait;
        let busy = |message: String, retry_after: u32| {
            counts.spans_refused.fetch_add(n, Ordering::Relaxed);
            Refusal::new(RefusalKind::Busy { retry_after }, message)
        };
        match self.tracer.receive(converted.spans, deadline) {
            Ok(Received::Stored | Received::HeldForSampling) => {}
            Err(e @ NotReceived::QueueFull) => return Err(busy(e.to_string(), 1)),
            Err(e) => return Err(busy(e.to_string(), 5)),
        }
        counts.spans_stored.fetch_add(n, Ordering::Relaxed);
        let mut message = converted.first_rejection.unwrap_or_default();
        if converted.attributes_dropped > 0 {
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str(&format!(
                "{} attributes over the limit of {} per span were left out",
                converted.attributes_dropped, limits.max_attributes_per_span
            ));
        }
        Ok(Answer {
            rejected: converted.rejected,
            message,
        })
    }
}

/// What a collector takes at most. Over a limit, a request is answered 413 (and counted);
/// attributes over their limit are left out of the span, counted, and named in the answer.
///
/// ```
/// let limits = tracekit::ingest::Limits::new()
///     .max_body_bytes(4 << 20)
///     .max_spans_per_request(5_000);
/// # drop(limits);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    max_body_bytes: usize,
    max_decompressed_bytes: usize,
    max_spans_per_request: usize,
    max_attributes_per_span: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}

impl Limits {
    /// A body of up to 16 MiB as sent and 64 MiB inflated, 100 000 spans per request, 1 024
    /// attributes per span (and per event).
    pub const fn new() -> Limits {
        Limits {
            max_body_bytes: 16 << 20,
            max_decompressed_bytes: 64 << 20,
            max_spans_per_request: 100_000,
            max_attributes_per_span: 1_024,
        }
    }

    /// The largest body, as sent (compressed or not).
    pub const fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The largest body once inflated: inflating stops there.
    pub const fn max_decompressed_bytes(mut self, bytes: usize) -> Self {
        self.max_decompressed_bytes = bytes;
        self
    }

    /// The most spans in one request.
    pub const fn max_spans_per_request(mut self, spans: usize) -> Self {
        self.max_spans_per_request = spans;
        self
    }

    /// The most attributes a span (or an event) keeps; the first ones are kept.
    pub const fn max_attributes_per_span(mut self, attributes: usize) -> Self {
        self.max_attributes_per_span = attributes;
        self
    }
}

/// An OTLP/HTTP export request as a server of your own received it, for
/// [`Collector::export`].
#[derive(Clone, Copy, Debug)]
pub struct ExportRequest<'a> {
    body: &'a [u8],
    content_type: Option<&'a str>,
    content_encoding: Option<&'a str>,
    authorization: Option<&'a str>,
}

impl<'a> ExportRequest<'a> {
    /// A request with this body (as received: compressed if it came so).
    pub fn new(body: &'a [u8]) -> Self {
        ExportRequest {
            body,
            content_type: None,
            content_encoding: None,
            authorization: None,
        }
    }

    /// Its `Content-Type` header.
    pub fn content_type(mut self, value: &'a str) -> Self {
        self.content_type = Some(value);
        self
    }

    /// Its `Content-Encoding` header.
    pub fn content_encoding(mut self, value: &'a str) -> Self {
        self.content_encoding = Some(value);
        self
    }

    /// Its `Authorization` header.
    pub fn authorization(mut self, value: &'a str) -> Self {
        self.authorization = Some(value);
        self
    }
}

/// The answer to an export request: its status, body and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    retry_after: Option<u32>,
}

impl Reply {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body's `Content-Type`.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The body: an `ExportTraceServiceResponse` (200) or a `google.rpc.Status` (otherwise),
    /// in the request's encoding.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Seconds for a `Retry-After` header, on a 503.
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    /// The answer to a request taken or refused, in `format`.
    fn of(format: Format, taken: Result<Answer, Refusal>) -> Reply {
        match taken {
            Ok(answer) => Reply {
                status: 200,
                content_type: format.content_type(),
                body: format.encode_response(&answer.response()),
                retry_after: None,
            },
            Err(refusal) => Reply {
                status: refusal.kind.http_status(),
                content_type: format.content_type(),
                body: format.encode_status(refusal.kind.grpc_code(), &refusal.message),
                retry_after: match refusal.kind {
                    RefusalKind::Busy { retry_after } => Some(retry_after),
                    _ => None,
                },
            },
        }
    }
}

/// A request taken: how many of its spans were not, and why.
struct Answer {
    rejected: u64,
    message: String,
}

impl Answer {
    /// The OTLP answer: a partial success if anything was left out.
    fn response(self) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: (self.rejected > 0 || !self.message.is_empty()).then(|| {
                ExportTracePartialSuccess {
                    rejected_spans: i64::try_from(self.rejected).unwrap_or(i64::MAX),
                    error_message: self.message,
                }
            }),
        }
    }
}

/// A request refused whole.
#[derive(Debug)]
struct Refusal {
    kind: RefusalKind,
    message: String,
}

impl Refusal {
    fn new(kind: RefusalKind, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefusalKind {
    Unauthorized,
    Malformed,
    TooLarge,
    Unsupported,
    /// Worth sending again after this many seconds.
    Busy {
        retry_after: u32,
    },
}

impl RefusalKind {
    fn http_status(self) -> u16 {
        match self {
            RefusalKind::Unauthorized => 401,
            RefusalKind::Malformed => 400,
            RefusalKind::TooLarge => 413,
            RefusalKind::Unsupported => 415,
            RefusalKind::Busy { .. } => 503,
        }
    }

    /// The `google.rpc.Code` that says the same.
    fn grpc_code(self) -> i32 {
        match self {
            RefusalKind::Unauthorized => 16, // UNAUTHENTICATED
            RefusalKind::Malformed | RefusalKind::Unsupported => 3, // INVALID_ARGUMENT
            RefusalKind::TooLarge => 8,      // RESOURCE_EXHAUSTED
            RefusalKind::Busy { .. } => 14,  // UNAVAILABLE
        }
    }
}

/// The first address `addr` names, or an error naming `setting` with `example`.
fn socket_addr(
    addr: impl std::net::ToSocketAddrs + std::fmt::Debug,
    setting: &'static str,
    example: &str,
) -> Result<std::net::SocketAddr, crate::Error> {
    let shown = format!("{addr:?}");
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| crate::Error::Config {
            setting,
            value: shown,
            problem: format!("expected IP:PORT, such as {example}"),
        })
}

/// A tracer's counts as `/healthz` shows them.
fn tracer_stats(tracer: &Tracer) -> serde_json::Value {
    let s = tracer.stats();
    serde_json::json!({
        "sink": tracer.sink_name(),
        "spans_accepted": s.spans_accepted,
        "spans_persisted": s.spans_persisted,
        "spans_pending": s.spans_pending,
        "spans_dropped": s.spans_dropped,
        "sink_failures": s.sink_failures,
        "traces_kept": s.traces_kept,
        "traces_sampled_out": s.traces_sampled_out,
    })
}

/// What a [`Collector`] received and refused so far; from [`Collector::stats`], and as JSON
/// from an HTTP receiver's `GET /healthz`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct IngestStats {
    /// Export requests received.
    pub requests: u64,
    /// Spans in the requests decoded.
    pub spans_received: u64,
    /// Spans stored (or held for a tail-sampling decision), in requests answered 200.
    pub spans_stored: u64,
    /// Spans refused one by one (malformed ids or times), counted in `partial_success`.
    pub spans_rejected: u64,
    /// Spans of requests answered 503 (the sender sends them again).
    pub spans_refused: u64,
    /// Attributes left out over the per-span limit.
    pub attributes_dropped: u64,
    /// Requests answered 401: no token, or another.
    pub refused_unauthorized: u64,
    /// Requests answered 400: a body that cannot be decoded.
    pub refused_malformed: u64,
    /// Requests answered 413: over a size limit.
    pub refused_too_large: u64,
    /// Requests answered 415: another content type or encoding.
    pub refused_unsupported: u64,
    /// Requests answered 503: the queue was full or the store failed or was slow.
    pub refused_busy: u64,
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    spans_received: AtomicU64,
    spans_stored: AtomicU64,
    spans_rejected: AtomicU64,
    spans_refused: AtomicU64,
    attributes_dropped: AtomicU64,
    unauthorized: AtomicU64,
    malformed: AtomicU64,
    too_large: AtomicU64,
    unsupported: AtomicU64,
    busy: AtomicU64,
}

impl Counts {
    fn refused(&self, kind: RefusalKind) {
        let count = match kind {
            RefusalKind::Unauthorized => &self.unauthorized,
            RefusalKind::Malformed => &self.malformed,
            RefusalKind::TooLarge => &self.too_large,
            RefusalKind::Unsupported => &self.unsupported,
            RefusalKind::Busy { .. } => &self.busy,
        };
        count.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> IngestStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IngestStats {
            requests: get(&self.requests),
            spans_received: get(&self.spans_received),
            spans_stored: get(&self.spans_stored),
            spans_rejected: get(&self.spans_rejected),
            spans_refused: get(&self.spans_refused),
            attributes_dropped: get(&self.attributes_dropped),
            refused_unauthorized: get(&self.unauthorized),
            refused_malformed: get(&self.malformed),
            refused_too_large: get(&self.too_large),
            refused_unsupported: get(&self.unsupported),
            refused_busy: get(&self.busy),
        }
    }
}
