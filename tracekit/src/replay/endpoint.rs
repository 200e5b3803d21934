//! [`Endpoint`]: the HTTP side of replay, on 127.0.0.1. Recording, it is a proxy in front of
//! the model provider that stores each exchange as a span; replaying, it answers each
//! request with the recorded response.
//!
//! tiny_http (as the OTLP receiver uses) serves; ureq (as the OTLP exporter uses, rustls)
//! calls the upstream. A stream is passed on event by event as the upstream sends it, and
//! replayed one HTTP chunk per recorded event, written on the connection directly so the
//! chunk boundaries are the recorded ones.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

// ureq's re-export: the `http` crate is a dependency only with the `http` feature.
use ureq::http::{Request, StatusCode, Uri};

use super::cassette::{path_only, Body, Exchange};
use super::{Divergence, Replay, ReplayError};
use crate::semconv::replay as names;
use crate::{SpanKind, SpanStatus, Tracer, Value};

/// Threads answering requests: an agent's client may keep a few connections open at once.
const WORKERS: usize = 4;

/// Request headers never passed on: hop-by-hop ones, and `Accept-Encoding`, so the upstream
/// answers in plain text that can be recorded.
const NOT_FORWARDED: [&str; 7] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "accept-encoding",
    "keep-alive",
    "upgrade",
];

/// Query parameters whose values are secrets (Google's `?key=`): masked in recorded paths.
const SECRET_PARAMS: [&str; 5] = ["key", "api_key", "apikey", "token", "access_token"];

/// A running recording or replay endpoint. Stops when dropped (or with [`stop`](Self::stop)).
///
/// Recording, in front of any OpenAI-compatible provider (or any HTTP API):
///
/// ```no_run
/// use tracekit::replay::Endpoint;
/// let store = tracekit::Tracer::sqlite("traces.db")?;
/// let recorder = Endpoint::record(&store, "https://api.openai.com")?.start()?;
/// // Point the client's base URL at it: OPENAI_BASE_URL=http://127.0.0.1:PORT/v1
/// println!("{} records into conversation {}", recorder.url(), recorder.conversation().unwrap());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Replaying what was recorded:
///
/// ```no_run
/// use tracekit::replay::{Cassette, Endpoint, Replay};
/// let store = tracekit::Tracer::sqlite("traces.db")?;
/// let replay = Replay::new(Cassette::from_store(&store, "conv-42")?);
/// let endpoint = Endpoint::replay(replay.clone()).start()?;
/// // ... run the agent against endpoint.url() ...
/// replay.check()?; // the first divergence, if any
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Endpoint {
    addr: SocketAddr,
    conversation: Option<String>,
    server: Arc<tiny_http::Server>,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

/// What an endpoint has done so far; from [`Endpoint::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStats {
    /// Exchanges recorded (stored as spans).
    pub recorded: u64,
    /// Requests answered from a recording.
    pub replayed: u64,
    /// Requests nothing recorded matched (answered 404).
    pub diverged: u64,
    /// Requests the upstream did not answer (answered 502, not recorded).
    pub upstream_failures: u64,
}

/// How an [`Endpoint`] is set up; from [`Endpoint::record`] or [`Endpoint::replay`].
#[derive(Debug)]
pub struct EndpointBuilder {
    replay: Option<Replay>,
    upstream: Option<Upstream>,
    tracer: Tracer,
    addr: String,
    conversation: Option<String>,
}

#[derive(Debug)]
struct Upstream {
    /// `scheme://host[:port][/prefix]`, without a trailing `/`.
    base: String,
    agent: ureq::Agent,
}

#[derive(Debug)]
struct Shared {
    replay: Option<Replay>,
    upstream: Option<Upstream>,
    tracer: Tracer,
    conversation: Option<String>,
    sequence: AtomicU64,
    stopping: AtomicBool,
    recorded: AtomicU64,
    replayed: AtomicU64,
    diverged: AtomicU64,
    upstream_failures: AtomicU64,
}

impl Upstream {
    fn new(url: &str) -> Result<Upstream, ReplayError> {
        let invalid = |problem: &str| ReplayError::Config {
            setting: "upstream",
            value: url.to_owned(),
            problem: problem.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| {
            invalid("not a URL; give the provider's origin, e.g. https://api.openai.com")
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(invalid(
                "needs http:// or https:// and a host, e.g. https://api.openai.com",
            ));
        }
        if uri.query().is_some() {
            return Err(invalid("has a query; give the origin (and a path prefix) only, e.g. https://api.openai.com"));
        }
        let agent = ureq::Agent::config_builder()
            // Model calls can take minutes; a stream may stay open as long.
            .timeout_global(Some(Duration::from_secs(600)))
            .timeout_connect(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Upstream {
            base: url.trim_end_matches('/').to_owned(),
            agent,
        })
    }
}

impl Endpoint {
    /// A recording endpoint in front of `upstream` (the provider's origin, e.g.
    /// `https://api.openai.com`; a request for `/v1/chat/completions` goes to
    /// `https://api.openai.com/v1/chat/completions`), storing each exchange as a span into
    /// `tracer`.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Config`] when `upstream` is not an `http(s)://host` URL.
    pub fn record(tracer: &Tracer, upstream: &str) -> Result<EndpointBuilder, ReplayError> {
        Ok(EndpointBuilder {
            replay: None,
            upstream: Some(Upstream::new(upstream)?),
            tracer: tracer.clone(),
            addr: "127.0.0.1:0".into(),
            conversation: None,
        })
    }

    /// A replay endpoint answering from `replay`. A request nothing recorded matches gets
    /// HTTP 404 with a JSON body naming it (`error.message` is the [`Divergence`]), unless
    /// an [`upstream`](EndpointBuilder::upstream) records it.
    pub fn replay(replay: Replay) -> EndpointBuilder {
        EndpointBuilder {
            replay: Some(replay),
            upstream: None,
            tracer: Tracer::noop(),
            addr: "127.0.0.1:0".into(),
            conversation: None,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`: the base URL a client points at (add the provider's path prefix,
    /// e.g. `/v1` for OpenAI clients).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The conversation exchanges without W3C context are stored in (recording only).
    pub fn conversation(&self) -> Option<&str> {
        self.conversation.as_deref()
    }

    /// Counts so far.
    pub fn stats(&self) -> EndpointStats {
        let s = &self.shared;
        EndpointStats {
            recorded: s.recorded.load(Ordering::Relaxed),
            replayed: s.replayed.load(Ordering::Relaxed),
            diverged: s.diverged.load(Ordering::Relaxed),
            upstream_failures: s.upstream_failures.load(Ordering::Relaxed),
        }
    }

    /// Stops listening and waits for the requests in progress.
    pub fn stop(self) {}

    fn shut(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        for _ in &self.workers {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("conversation", &self.conversation)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shut();
    }
}

impl EndpointBuilder {
    /// Where to listen (default `127.0.0.1:0`, any free port; [`Endpoint::addr`] says which).
    pub fn addr(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
    }

    /// The conversation id of exchanges that carry no W3C context (recording). Without
    /// one, a new id (`rec-` and 16 hex digits) is made; [`Endpoint::conversation`] says it.
    pub fn conversation(mut self, id: impl Into<String>) -> Self {
        self.conversation = Some(id.into());
        self
    }

    /// Where recorded exchanges are stored: instead of the tracer given to
    /// [`Endpoint::record`]; replaying, those recorded for missing requests (with an
    /// [`upstream`](Self::upstream)).
    pub fn tracer(mut self, tracer: &Tracer) -> Self {
        self.tracer = tracer.clone();
        self
    }

    /// Replaying: sends a request nothing recorded matches to `url` and records the
    /// exchange (re-recording). Give it a [`Replay`] with
    /// [`record_missing(true)`](Replay::record_missing).
    ///
    /// # Errors
    ///
    /// [`ReplayError::Config`] for a URL that is not `http(s)://host`.
    pub fn upstream(mut self, url: &str) -> Result<Self, ReplayError> {
        self.upstream = Some(Upstream::new(url)?);
        Ok(self)
    }

    /// Starts listening, with a few threads of its own.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Listen`] when the address cannot be bound; [`ReplayError::Config`] for
    /// a re-recording replay whose [`Replay`] does not record missing requests.
    pub fn start(self) -> Result<Endpoint, ReplayError> {
        if let (Some(replay), Some(_)) = (&self.replay, &self.upstream) {
            if !replay.records_missing() {
                return Err(ReplayError::Config {
                    setting: "upstream",
                    value: self
                        .upstream
                        .as_ref()
                        .map(|u| u.base.clone())
                        .unwrap_or_default(),
                    problem: "a replay endpoint with an upstream re-records: give it \
                              Replay::record_missing(true)"
                        .into(),
                });
            }
        }
        let server = tiny_http::Server::http(&self.addr).map_err(|e| ReplayError::Listen {
            addr: self.addr.clone(),
            problem: e.to_string(),
        })?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| ReplayError::Listen {
                addr: self.addr.clone(),
                problem: "not an IP address".into(),
            })?;
        let conversation = match (&self.replay, self.conversation) {
            (None, None) => Some(format!("rec-{:016x}", fastrand::u64(..))),
            (_, given) => given,
        };
        let server = Arc::new(server);
        let shared = Arc::new(Shared {
            replay: self.replay,
            upstream: self.upstream,
            tracer: self.tracer,
            conversation: conversation.clone(),
            sequence: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            recorded: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            diverged: AtomicU64::new(0),
            upstream_failures: AtomicU64::new(0),
        });
        let workers = (0..WORKERS)
            .map(|i| {
                let (server, shared) = (server.clone(), shared.clone());
                std::thread::Builder::new()
                    .name(format!("tracekit-replay-{i}"))
                    .spawn(move || serve(&server, &shared))
                    .map_err(|e| ReplayError::Listen {
                        addr: addr.to_string(),
                        problem: format!("cannot start a thread: {e}"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Endpoint {
            addr,
            conversation,
            server,
            shared,
            workers,
        })
    }
}

fn serve(server: &tiny_http::Server, shared: &Shared) {
    while !shared.stopping.load(Ordering::Acquire) {
        match server.recv() {
            Ok(request) => {
                // A panic answering one request must not take the endpoint down.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    shared.handle(request)
                }));
            }
            Err(_) => break,
        }
    }
}

/// A request, read whole.
struct Incoming {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Shared {
    fn handle(&self, mut request: tiny_http::Request) {
        let mut body = Vec::new();
        if let Err(e) = request.as_reader().read_to_end(&mut body) {
            let _ = request.respond(error_response(
                400,
                "bad_request",
                &format!("cannot read the request body: {e}"),
            ));
            return;
        }
        let incoming = Incoming {
            method: request.method().as_str().to_ascii_uppercase(),
            path: request.url().to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_owned(),
                        h.value.as_str().to_owned(),
                    )
                })
                .collect(),
            body,
        };
        let text = String::from_utf8_lossy(&incoming.body);
        match &self.replay {
            Some(replay) => match replay.exchange(&incoming.method, &incoming.path, &text) {
                Ok(exchange) => {
                    self.replayed.fetch_add(1, Ordering::Relaxed);
                    answer(request, &exchange);
                }
                Err(_) if self.upstream.is_some() => {
                    if let Some(exchange) = self.forward(request, &incoming) {
                        replay.add_exchange(exchange);
                    }
                }
                Err(divergence) => {
                    self.diverged.fetch_add(1, Ordering::Relaxed);
                    let _ = request.respond(divergence_response(&divergence));
                }
            },
            None => {
                self.forward(request, &incoming);
            }
        }
    }

    /// Sends the request upstream, answers the client as the upstream answers (a stream
    /// event by event), and stores the exchange as a span. `None` when the upstream did not
    /// answer (the client gets a 502).
    fn forward(&self, request: tiny_http::Request, incoming: &Incoming) -> Option<Exchange> {
        let upstream = self.upstream.as_ref()?;
        let span = self.span(incoming);
        let mut call = Request::builder()
            .method(incoming.method.as_str())
            .uri(format!("{}{}", upstream.base, incoming.path));
        for (name, value) in &incoming.headers {
            let lower = name.to_ascii_lowercase();
            if !NOT_FORWARDED.contains(&lower.as_str()) && !is_context_header(&lower) {
                call = call.header(name.as_str(), value.as_str());
            }
        }
        let response = call
            .body(incoming.body.clone())
            .map_err(|e| e.to_string())
            .and_then(|r| upstream.agent.run(r).map_err(|e| e.to_string()));
        let response = match response {
            Ok(response) => response,
            Err(problem) => {
                self.upstream_failures.fetch_add(1, Ordering::Relaxed);
                span.set_status(SpanStatus::Error);
                span.add_attribute("error.type", "upstream_unreachable");
                let message = format!(
                    "tracekit replay: the upstream {} did not answer: {problem}",
                    upstream.base
                );
                span.add_attribute("error.message", message.as_str());
                drop(span);
                let _ = request.respond(error_response(502, "upstream_unreachable", &message));
                return None;
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let passed_on: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "transfer-encoding" | "connection" | "content-length" | "keep-alive"
                )
            })
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let streamed = content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        let mut reader = response.into_body().into_reader();
        let exchange = |body: Body| {
            Exchange::new(
                incoming.method.clone(),
                mask_query(&incoming.path),
                String::from_utf8_lossy(&incoming.body).into_owned(),
                status,
                content_type.clone(),
                body,
            )
        };
        // The exchange is stored before the client has the whole answer, so a client that
        // goes on at once finds it recorded.
        if streamed {
            let mut out = StreamOut::start(request, status, &passed_on);
            let events = split_events(&mut reader, |event| out.chunk(event.as_bytes()));
            let exchange = exchange(Body::Chunks(events));
            self.store(span, &exchange);
            out.finish();
            Some(exchange)
        } else {
            let mut bytes = Vec::new();
            let _ = reader.read_to_end(&mut bytes);
            let exchange = exchange(Body::Whole(String::from_utf8_lossy(&bytes).into_owned()));
            self.store(span, &exchange);
            let _ = request.respond(whole(status, bytes, &passed_on));
            Some(exchange)
        }
    }

    /// The exchange's span: under the caller's span when the request carries W3C context,
    /// else a root of the endpoint's conversation.
    fn span(&self, incoming: &Incoming) -> crate::SpanGuard {
        let carrier: HashMap<String, String> = incoming
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        let context = crate::propagation::extract(&carrier);
        let has_conversation = context
            .as_ref()
            .is_some_and(|c| c.baggage().iter().any(|b| b.key == "ai.conversation.id"));
        let name = format!("{} {}", incoming.method, path_only(&incoming.path));
        let mut builder = self.tracer.span(name).kind(SpanKind::Client);
        builder = match context {
            Some(context) => builder.remote(context),
            None => builder.root(),
        };
        if let (false, Some(conversation)) = (has_conversation, &self.conversation) {
            builder = builder.inheritable_attribute("ai.conversation.id", conversation.as_str());
        }
        builder.start()
    }

    /// Writes the exchange on its span and ends it.
    fn store(&self, span: crate::SpanGuard, e: &Exchange) {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let attributes: [(&'static str, Value); 8] = [
            (names::REQUEST_METHOD, e.method.as_str().into()),
            (names::REQUEST_PATH, e.path.as_str().into()),
            (names::REQUEST_BODY, e.request_body.as_str().into()),
            (names::RESPONSE_STATUS, u64::from(e.status).into()),
            (names::SEQUENCE, sequence.into()),
            ("http.request.method", e.method.as_str().into()),
            ("url.path", path_only(&e.path).into()),
            ("http.response.status_code", u64::from(e.status).into()),
        ];
        span.add_attributes(
            attributes
                .into_iter()
                .map(|(k, v)| (crate::Key::Borrowed(k), v)),
        );
        if let Some(ct) = &e.content_type {
            span.add_attribute(names::RESPONSE_CONTENT_TYPE, ct.as_str());
        }
        match &e.response {
            Body::Whole(body) => {
                span.add_attribute(names::RESPONSE_BODY, body.as_str());
            }
            Body::Chunks(chunks) => {
                let chunks: Vec<Value> = chunks.iter().map(|c| Value::from(c.as_str())).collect();
                span.add_attribute(names::RESPONSE_CHUNKS, Value::from(chunks));
            }
        }
        if e.status >= 400 {
            span.set_status(SpanStatus::Error);
        }
        drop(span);
        self.recorded.fetch_add(1, Ordering::Relaxed);
    }
}

/// Headers that carry the caller's trace context: read by the recorder, not passed on (the
/// provider has no use for them).
fn is_context_header(lower: &str) -> bool {
    matches!(lower, "traceparent" | "tracestate" | "baggage")
}

/// The recorded answer.
fn answer(request: tiny_http::Request, exchange: &Exchange) {
    let headers: Vec<(String, String)> = exchange
        .content_type
        .iter()
        .map(|ct| ("Content-Type".to_owned(), ct.clone()))
        .collect();
    match &exchange.response {
        Body::Whole(body) => {
            let _ = request.respond(whole(exchange.status, body.as_bytes().to_vec(), &headers));
        }
        Body::Chunks(chunks) => {
            let mut out = StreamOut::start(request, exchange.status, &headers);
            for chunk in chunks {
                out.chunk(chunk.as_bytes());
            }
            out.finish();
        }
    }
}

/// A chunked response written on the connection itself, one HTTP chunk per call, flushed,
/// so the client sees each event as it comes and the chunks as they were recorded.
struct StreamOut {
    writer: Option<Box<dyn Write + Send>>,
}

impl StreamOut {
    fn start(request: tiny_http::Request, status: u16, headers: &[(String, String)]) -> StreamOut {
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        // One response per connection: tiny_http does not frame what is written here.
        head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        let mut writer = request.into_writer();
        let ok = writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.flush());
        StreamOut {
            writer: ok.is_ok().then_some(writer),
        }
    }

    /// Writes one chunk; a client gone away stops the writing (the recording goes on).
    fn chunk(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if let Some(w) = &mut self.writer {
            let ok = write!(w, "{:x}\r\n", data.len())
                .and_then(|_| w.write_all(data))
                .and_then(|_| w.write_all(b"\r\n"))
                .and_then(|_| w.flush());
            if ok.is_err() {
                self.writer = None;
            }
        }
    }

    fn finish(mut self) {
        if let Some(w) = &mut self.writer {
            let _ = w.write_all(b"0\r\n\r\n").and_then(|_| w.flush());
        }
    }
}

/// Reads a server-sent event stream to its end, calling `each` with every event (its text
/// up to and including the blank line that ends it) as soon as it is complete; a last,
/// unterminated piece counts as an event. Returns the events.
fn split_events(reader: &mut impl Read, mut each: impl FnMut(&str)) -> Vec<String> {
    let mut events = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = event_end(&pending) {
            let event: Vec<u8> = pending.drain(..end).collect();
            let event = String::from_utf8_lossy(&event).into_owned();
            each(&event);
            events.push(event);
        }
    }
    if !pending.is_empty() {
        let event = String::from_utf8_lossy(&pending).into_owned();
        each(&event);
        events.push(event);
    }
    events
}

/// Where the first complete event in `bytes` ends (after its blank line: `\n\n`, `\r\n\r\n`
/// or `\r\r`).
fn event_end(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\n' && bytes[i + 1] == b'\n' {
            return Some(i + 2);
        }
        if bytes[i..].starts_with(b"\r\n\r\n") {
            return Some(i + 4);
        }
        if bytes[i] == b'\r' && bytes[i + 1] == b'\r' {
            return Some(i + 2);
        }
        i += 1;
    }
    None
}

/// The path with the values of secret query parameters masked.
fn mask_query(path: &str) -> String {
    let Some((route, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                format!("{k}=[secret]")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{route}?{}", masked.join("&"))
}

type Reply = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

/// A response with a whole body and these headers (one that tiny_http cannot write is left
/// out).
fn whole(status: u16, body: Vec<u8>, headers: &[(String, String)]) -> Reply {
    let mut reply = tiny_http::Response::from_data(body).with_status_code(status);
    for (n, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()) {
            reply.add_header(h);
        }
    }
    reply
}

fn json_response(status: u16, body: &serde_json::Value) -> Reply {
    let content_type = [("Content-Type".to_owned(), "application/json".to_owned())];
    whole(status, body.to_string().into_bytes(), &content_type)
}

/// An error in the shape OpenAI's clients read (`error.message`, `error.type`).
fn error_response(status: u16, kind: &str, message: &str) -> Reply {
    json_response(
        status,
        &serde_json::json!({"error": {"message": message, "type": kind, "code": kind}}),
    )
}

/// 404 naming the diverging request and the nearest recording.
fn divergence_response(d: &Divergence) -> Reply {
    json_response(
        404,
        &serde_json::json!({"error": {
            "message": d.to_string(),
            "type": "replay_divergence",
            "code": "no_recording",
            "request": d.what,
            "position": d.position,
            "nearest": d.nearest.as_ref().map(|(n, _)| *n),
            "diff": d.nearest.as_ref().map(|(_, diff)| diff.as_str()),
        }}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_at_blank_lines_whatever_the_reads() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(3).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"data: {\"a\":1}\n\ndata: {\"b\":2}\r\n\r\ndata: [DONE]\n\ntail";
        let mut seen = Vec::new();
        let events = split_events(&mut Trickle(text), |e| seen.push(e.to_owned()));
        assert_eq!(
            events,
            [
                "data: {\"a\":1}\n\n",
                "data: {\"b\":2}\r\n\r\n",
                "data: [DONE]\n\n",
                "tail"
            ]
        );
        assert_eq!(seen, events);
    }

    #[test]
    fn secret_query_values_are_masked() {
        assert_eq!(
            mask_query("/v1beta/models/x:generate?alt=sse&key=AIzaSecret"),
            "/v1beta/models/x:generate?alt=sse&key=[secret]"
        );
        assert_eq!(mask_query("/v1/chat"), "/v1/chat");
    }

    #[test]
    fn a_bad_upstream_says_what_to_give() {
        for url in ["api.openai.com", "ftp://x", "http://x/?q=1", "::"] {
            let e = Endpoint::record(&Tracer::noop(), url)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("upstream=") && e.contains("https://api.openai.com"),
                "{url}: {e}"
            );
        }
    }
}
