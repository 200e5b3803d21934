//! `tracekit::ingest`: OTLP received into real stores over real HTTP — what is kept of each
//! span, spans of one trace from several processes, duplicates, every answer the OTLP
//! specification asks for, tail sampling across services, and bad input of every kind.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value as V, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use tracekit::ingest::{Collector, ExportRequest, Limits};
use tracekit::{
    BatchConfig, ExportError, Exporter, Sampler, SpanKind, SpanStatus, SqliteConfig, Trace,
    TraceFilter, TraceId, Tracer, Value,
};

/// Nanoseconds of a start time in 2026, plus `ms`.
fn at(ms: u64) -> u64 {
    1_795_300_816_026_429_123 + ms * 1_000_000
}

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, V::StringValue(value.into()))
}

/// A span of `trace`: id `id`, parent `parent`, from `start` to `end` ms.
fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &str,
    kind: span::SpanKind,
    ms: (u64, u64),
) -> Span {
    Span {
        trace_id: [trace; 16].to_vec(),
        span_id: [id; 8].to_vec(),
        parent_span_id: parent.map(|p| [p; 8].to_vec()).unwrap_or_default(),
        name: name.into(),
        kind: kind as i32,
        start_time_unix_nano: at(ms.0),
        end_time_unix_nano: at(ms.1),
        ..Default::default()
    }
}

/// A request from the service `service`, its spans under one scope.
fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: format!("{service}-instrumentation"),
                    version: "1.2.3".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// A keep-alive HTTP client that returns every status as it is.
struct Client {
    agent: ureq::Agent,
    url: String,
}

/// An answer: status, `Retry-After`, body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Vec<u8>,
}

impl Client {
    fn new(addr: std::net::SocketAddr) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            url: format!("http://{addr}"),
        }
    }

    fn post(&self, body: &[u8], content_type: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .agent
            .post(format!("{}/v1/traces", self.url))
            .header("Content-Type", content_type);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut response = request.send(body).unwrap();
        Answer {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: response.body_mut().read_to_vec().unwrap(),
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// `google.rpc.Status`, the body of OTLP's error answers.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn reader(path: &Path) -> Tracer {
    Tracer::sqlite(SqliteConfig::new(path).read_only()).unwrap()
}

fn trace(path: &Path, id: u8) -> Vec<Trace> {
    let id = TraceId::from_bytes([id; 16]).unwrap();
    reader(path)
        .get_traces(&TraceFilter::new().trace_id(id))
        .unwrap()
}

#[test]
fn spans_from_two_processes_arriving_out_of_order_read_back_as_one_trace() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let collector = Collector::new(Tracer::sqlite(&db).unwrap());
    let receiver = collector.serve_http("127.0.0.1:0").unwrap();
    let client = Client::new(receiver.local_addr());

    // The Python tool service's spans arrive first (gzipped protobuf), children of the agent's
    // call, which arrives later, as JSON.
    let mut handler = span(
        7,
        3,
        Some(2),
        "POST /weather",
        span::SpanKind::Server,
        (2, 9),
    );
    handler.attributes = vec![
        text("http.route", "/weather"),
        kv("http.response.status_code", V::IntValue(500)),
        kv("retry.ratio", V::DoubleValue(0.25)),
        kv("cached", V::BoolValue(false)),
        kv(
            "cities",
            V::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(V::StringValue("Paris".into())),
                }],
            }),
        ),
        kv(
            "limits",
            V::KvlistValue(KeyValueList {
                values: vec![kv("rpm", V::IntValue(60))],
            }),
        ),
        text("session.id", "conv-9"),
    ];
    handler.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: "upstream timed out".into(),
    });
    handler.events = vec![span::Event {
        time_unix_nano: at(5),
        name: "retry".into(),
        attributes: vec![kv("attempt", V::IntValue(2))],
        dropped_attributes_count: 0,
    }];
    let mut lookup = span(
        7,
        4,
        Some(3),
        "SELECT forecast",
        span::SpanKind::Client,
        (3, 4),
    );
    lookup.attributes = vec![text("db.system", "sqlite"), text("session.id", "conv-9")];
    let python = request("weather-service", vec![lookup, handler]).encode_to_vec();
    let answer = client.post(
        &gzip(&python),
        "application/x-protobuf",
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(answer.status, 200);
    let response = ExportTraceServiceResponse::decode(&answer.body[..]).unwrap();
    assert_eq!(response.partial_success, None, "everything taken");

    std::thread::sleep(Duration::from_millis(50));
    let root = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
        "scopeSpans": [{"scope": {"name": "tracekit", "version": "0.1.0"}, "spans": [
            {"traceId": "07070707070707070707070707070707", "spanId": "0101010101010101",
             "name": "turn", "kind": "SPAN_KIND_SERVER",
             "startTimeUnixNano": at(0).to_string(), "endTimeUnixNano": at(10).to_string(),
             "attributes": [{"key": "ai.conversation.id", "value": {"stringValue": "conv-9"}}]},
            {"traceId": "07070707070707070707070707070707", "spanId": "0202020202020202",
             "parentSpanId": "0101010101010101", "name": "get_weather", "kind": 3,
             "startTimeUnixNano": at(1), "endTimeUnixNano": at(9),
             "attributes": [{"key": "ai.conversation.id", "value": {"stringValue": "conv-9"}}],
             "status": {"code": "STATUS_CODE_ERROR"}}]}]}]});
    let answer = client.post(root.to_string().as_bytes(), "application/json", &[]);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.body, b"{}");

    let spans = trace(&db, 7);
    let names: Vec<&str> = spans.iter().map(|s| &*s.span_name).collect();
    assert_eq!(
        names,
        ["turn", "get_weather", "POST /weather", "SELECT forecast"]
    );
    for s in &spans {
        assert_eq!(
            s.attributes.get("ai.conversation.id"),
            Some(&Value::from("conv-9")),
            "{}",
            s.span_name
        );
    }
    let h = &spans[2];
    assert_eq!(h.parent_span_id, Some(spans[1].span_id));
    assert_eq!(spans[3].parent_span_id, Some(h.span_id));
    assert_eq!(
        (h.span_kind, h.span_status),
        (SpanKind::Server, SpanStatus::Error)
    );
    assert_eq!(spans[0].span_kind, SpanKind::Server);
    assert_eq!(spans[1].span_status, SpanStatus::Error);
    // The store keeps microseconds, as the reference's clock has.
    assert_eq!(h.started_at.unix_nanos(), (at(2) / 1_000 * 1_000) as i64);
    assert_eq!(
        h.ended_at.unwrap().unix_nanos(),
        (at(9) / 1_000 * 1_000) as i64
    );
    let a = &h.attributes;
    assert_eq!(a.get("http.response.status_code"), Some(&Value::from(500)));
    assert_eq!(a.get("retry.ratio"), Some(&Value::from(0.25)));
    assert_eq!(a.get("cached"), Some(&Value::from(false)));
    assert_eq!(
        a.get("cities"),
        Some(&Value::from(serde_json::json!(["Paris"])))
    );
    assert_eq!(
        a.get("limits"),
        Some(&Value::from(serde_json::json!({"rpm": 60})))
    );
    assert_eq!(
        a.get("otel.status_description"),
        Some(&Value::from("upstream timed out"))
    );
    assert_eq!(h.events[0].name, "retry");
    assert_eq!(h.events[0].attributes.get("attempt"), Some(&Value::from(2)));
    assert_eq!(
        h.resource_attributes.get("service.name"),
        Some(&Value::from("weather-service"))
    );
    assert_eq!(
        spans[0].resource_attributes.get("service.name"),
        Some(&Value::from("agent"))
    );
    assert_eq!(
        (&*h.scope.name, &*h.scope.version),
        ("weather-service-instrumentation", "1.2.3")
    );

    // One trace for the readers built on the store: listing, analysis, tests.
    let listed = reader(&db)
        .list_traces(&tracekit::query::Query::new())
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].spans, 4);
    let summary = tracekit::analysis::summary(&spans);
    assert_eq!(summary.errors, 2);
    assert_eq!(
        tracekit::testing::snapshot(&spans),
        "turn (SERVER)\n│ ai.conversation.id: <id-1>\n└─ get_weather (CLIENT, ERROR)\n   \
         └─ POST /weather (SERVER, ERROR)\n      └─ SELECT forecast (CLIENT)\n"
    );
    tracekit::testing::expect(&spans).all_carry("ai.conversation.id");

    let stats = collector.stats();
    assert_eq!(
        (stats.requests, stats.spans_received, stats.spans_stored),
        (2, 4, 4)
    );
    let (status, health) = client.get("/healthz");
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["collector"]["spans_stored"], 4);
    assert_eq!(health["tracer"]["sink"], "sqlite");
}

#[test]
fn a_span_sent_again_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let collector = Collector::new(Tracer::sqlite(&db).unwrap());
    let receiver = collector.serve_http("127.0.0.1:0").unwrap();
    let addr = receiver.local_addr();
    let spans: Vec<Span> = (1..=20)
        .map(|i| {
            span(
                3,
                i,
                (i > 1).then_some(1),
                "step",
                span::SpanKind::Internal,
                (0, 1),
            )
        })
        .collect();
    let body = request("svc", spans).encode_to_vec();
    // Sent again after an answer the client missed, and by four clients at once.
    let client = Client::new(addr);
    assert_eq!(
        client.post(&body, "application/x-protobuf", &[]).status,
        200
    );
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let client = Client::new(addr);
                assert_eq!(
                    client.post(&body, "application/x-protobuf", &[]).status,
                    200
                );
            });
        }
    });
    assert_eq!(trace(&db, 3).len(), 20);
    assert_eq!(
        collector.stats().spans_stored,
        100,
        "each request's spans acknowledged"
    );
}

#[test]
fn every_answer_is_the_one_otlp_specifies_and_counted() {
    let collector = Collector::new(Tracer::in_memory(1_000))
        .token("s3cret")
        .limits(
            Limits::new()
                .max_body_bytes(64 * 1024)
                .max_decompressed_bytes(256 * 1024)
                .max_spans_per_request(50),
        );
    let receiver = collector.serve_http("127.0.0.1:0").unwrap();
    let client = Client::new(receiver.local_addr());
    let auth = [("Authorization", "Bearer s3cret")];
    let one = request(
        "svc",
        vec![span(1, 1, None, "a", span::SpanKind::Internal, (0, 1))],
    )
    .encode_to_vec();

    let status = |a: &Answer| RpcStatus::decode(&a.body[..]).unwrap();
    // 401: no token, another token.
    let a = client.post(&one, "application/x-protobuf", &[]);
    assert_eq!(a.status, 401);
    assert!(status(&a).message.contains("Bearer"), "{:?}", status(&a));
    assert_eq!(
        client
            .post(
                &one,
                "application/x-protobuf",
                &[("Authorization", "Bearer s3cre7")]
            )
            .status,
        401
    );
    let a = client.post(&one, "application/x-protobuf", &auth);
    assert_eq!((a.status, a.retry_after), (200, None));
    // 400: not protobuf, not JSON, not gzip; the JSON error names the field.
    assert_eq!(
        client
            .post(b"\xff\xff\xff", "application/x-protobuf", &auth)
            .status,
        400
    );
    let a = client.post(
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}"#,
        "application/json",
        &auth,
    );
    assert_eq!(a.status, 400);
    let err: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("spans[0].traceId"),
        "{err}"
    );
    assert_eq!(err["code"], 3);
    assert_eq!(
        client
            .post(
                b"not gzip",
                "application/x-protobuf",
                &[auth[0], ("Content-Encoding", "gzip")]
            )
            .status,
        400
    );
    // 415: another content type or encoding.
    assert_eq!(client.post(&one, "text/plain", &auth).status, 415);
    assert_eq!(
        client
            .post(
                &one,
                "application/x-protobuf",
                &[auth[0], ("Content-Encoding", "br")]
            )
            .status,
        415
    );
    // 413: the body, a gzip bomb (a few hundred bytes inflating to 10 MB), too many spans.
    assert_eq!(
        client
            .post(&vec![0; 65 * 1024], "application/x-protobuf", &auth)
            .status,
        413
    );
    let bomb = gzip(&vec![0u8; 10 << 20]);
    assert!(bomb.len() < 64 * 1024);
    let started = Instant::now();
    let a = client.post(
        &bomb,
        "application/x-protobuf",
        &[auth[0], ("Content-Encoding", "gzip")],
    );
    assert_eq!(a.status, 413);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused without inflating it all"
    );
    let many: Vec<Span> = (1..=51)
        .map(|i| span(2, i, None, "x", span::SpanKind::Internal, (0, 1)))
        .collect();
    let a = client.post(
        &request("svc", many).encode_to_vec(),
        "application/x-protobuf",
        &auth,
    );
    assert_eq!(a.status, 413);
    assert!(status(&a).message.contains("51 spans"), "{:?}", status(&a));
    // The receiver's other paths.
    assert_eq!(client.get("/v1/logs").0, 404);
    assert_eq!(client.get("/v1/traces").0, 405);

    let s = collector.stats();
    assert_eq!(s.refused_unauthorized, 2);
    assert_eq!(s.refused_malformed, 3);
    assert_eq!(s.refused_unsupported, 2);
    assert_eq!(s.refused_too_large, 3);
    assert_eq!((s.requests, s.spans_stored), (11, 1));
}

#[test]
fn malformed_spans_are_rejected_one_by_one_and_the_rest_stored() {
    let tracer = Tracer::in_memory(100);
    let collector = Collector::new(tracer.clone()).limits(Limits::new().max_attributes_per_span(3));
    let good = span(5, 1, None, "good", span::SpanKind::Internal, (0, 1));
    let mut zero_trace = span(
        0,
        2,
        None,
        "zero trace id",
        span::SpanKind::Internal,
        (0, 1),
    );
    zero_trace.trace_id = vec![0; 16];
    let mut short = span(
        5,
        3,
        None,
        "short span id",
        span::SpanKind::Internal,
        (0, 1),
    );
    short.span_id = vec![1, 2, 3];
    let backwards = span(
        5,
        4,
        None,
        "ends before it starts",
        span::SpanKind::Internal,
        (5, 1),
    );
    let mut unknown_kind = span(
        5,
        5,
        Some(1),
        "unknown kind",
        span::SpanKind::Internal,
        (0, 1),
    );
    unknown_kind.kind = 42;
    unknown_kind.status = Some(Status {
        code: 9,
        message: String::new(),
    });
    unknown_kind.attributes = (0..5)
        .map(|i| kv(&format!("k{i}"), V::IntValue(i)))
        .collect();
    let body = request(
        "svc",
        vec![good, zero_trace, short, backwards, unknown_kind],
    )
    .encode_to_vec();
    let reply = collector.export(ExportRequest::new(&body).content_type("application/x-protobuf"));
    assert_eq!(reply.status(), 200);
    let partial = ExportTraceServiceResponse::decode(reply.body())
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 3);
    assert!(
        partial.error_message.contains("traceId is all zeros"),
        "{}",
        partial.error_message
    );
    assert!(
        partial
            .error_message
            .contains("2 attributes over the limit of 3"),
        "{}",
        partial.error_message
    );
    let stored = tracer.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(stored.len(), 2);
    let odd = stored
        .iter()
        .find(|s| s.span_name == "unknown kind")
        .unwrap();
    assert_eq!(
        (odd.span_kind, odd.span_status),
        (SpanKind::Internal, SpanStatus::Unset)
    );
    assert_eq!(odd.attributes.get("k2"), Some(&Value::from(2)));
    assert_eq!(odd.attributes.get("k3"), None);
    let s = collector.stats();
    assert_eq!(
        (
            s.spans_received,
            s.spans_rejected,
            s.spans_stored,
            s.attributes_dropped
        ),
        (5, 3, 2, 2)
    );
}

/// An exporter that fails, or waits until told to go on.
struct Stuck {
    fail: bool,
    gate: Arc<Mutex<bool>>,
}

impl Exporter for Stuck {
    fn export(&mut self, _: &[Trace]) -> Result<(), ExportError> {
        if self.fail {
            return Err(ExportError::Failed("the disk is full".into()));
        }
        while !*self.gate.lock().unwrap() {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

#[test]
fn a_full_queue_or_a_failing_store_is_a_503_with_retry_after() {
    let eight = |t: u8| {
        request(
            "svc",
            (1..=8)
                .map(|i| span(t, i, None, "s", span::SpanKind::Internal, (0, 1)))
                .collect(),
        )
        .encode_to_vec()
    };

    // A store that fails: 503, and the sender is told to come back in a few seconds.
    let failing = Tracer::batched(
        Stuck {
            fail: true,
            gate: Arc::default(),
        },
        BatchConfig::new(),
    )
    .unwrap();
    let collector = Collector::new(failing);
    let reply =
        collector.export(ExportRequest::new(&eight(1)).content_type("application/x-protobuf"));
    assert_eq!((reply.status(), reply.retry_after()), (503, Some(5)));
    let why = RpcStatus::decode(reply.body()).unwrap();
    assert!(why.message.contains("the disk is full"), "{why:?}");
    assert_eq!(why.code, 14, "UNAVAILABLE");

    // A queue of 10 spans behind a stuck store: the first request waits and times out, the
    // second finds no room; once the store moves, the same request is taken.
    let gate = Arc::new(Mutex::new(false));
    let slow = Tracer::batched(
        Stuck {
            fail: false,
            gate: gate.clone(),
        },
        BatchConfig::new().max_queue_size(10),
    )
    .unwrap();
    let collector = Collector::new(slow).wait_for_store(Duration::from_millis(200));
    let client_side = |body: &[u8]| {
        collector.export(ExportRequest::new(body).content_type("application/x-protobuf"))
    };
    let first = client_side(&eight(2));
    assert_eq!((first.status(), first.retry_after()), (503, Some(5)));
    let second = client_side(&eight(3));
    assert_eq!(
        (second.status(), second.retry_after()),
        (503, Some(1)),
        "a full queue"
    );
    *gate.lock().unwrap() = true;
    // As an exporter does: again after a while, until taken.
    let deadline = Instant::now() + Duration::from_secs(5);
    while client_side(&eight(3)).status() != 200 {
        assert!(
            Instant::now() < deadline,
            "never taken once the store moved"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = collector.stats();
    assert!(
        s.refused_busy >= 2 && s.spans_refused == 8 * s.refused_busy,
        "{s:?}"
    );
    assert_eq!(s.spans_stored, 8);

    // A SQLite file deleted under the store: its spans cannot be read by anyone, so a 503.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let collector = Collector::new(Tracer::sqlite(&db).unwrap());
    std::fs::remove_file(&db).unwrap();
    let reply =
        collector.export(ExportRequest::new(&eight(4)).content_type("application/x-protobuf"));
    assert_eq!(reply.status(), 503);
}

#[test]
fn tail_sampling_decides_each_trace_over_every_services_spans() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let store = Tracer::sqlite(&db)
        .unwrap()
        .with_sampler(
            Sampler::tail()
                .keep_errors()
                .decision_wait(Duration::from_millis(300)),
        )
        .unwrap();
    let collector = Collector::new(store.clone());
    let post = |service: &str, spans: Vec<Span>| {
        let body = request(service, spans).encode_to_vec();
        collector
            .export(ExportRequest::new(&body).content_type("application/x-protobuf"))
            .status()
    };
    // Trace 8: the tool service's span failed and arrives before the agent's root, which
    // has no error of its own. Trace 9: nothing failed anywhere.
    let mut failed = span(8, 2, Some(1), "tool", span::SpanKind::Server, (1, 2));
    failed.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: "boom".into(),
    });
    assert_eq!(
        post(
            "tool-service",
            vec![
                failed,
                span(9, 2, Some(1), "tool", span::SpanKind::Server, (1, 2))
            ]
        ),
        200
    );
    assert_eq!(
        post(
            "agent",
            vec![
                span(8, 1, None, "turn", span::SpanKind::Server, (0, 3)),
                span(9, 1, None, "turn", span::SpanKind::Server, (0, 3))
            ]
        ),
        200
    );
    std::thread::sleep(Duration::from_millis(600));
    store.flush().unwrap();
    assert_eq!(
        trace(&db, 8).len(),
        2,
        "kept whole: an error in another service's span"
    );
    assert_eq!(trace(&db, 9).len(), 0, "dropped whole");
    let stats = store.stats();
    assert_eq!((stats.traces_kept, stats.traces_sampled_out), (1, 1));
}

#[test]
fn conventions_are_completed_on_the_way_in() {
    let tracer = Tracer::in_memory(10);
    let collector = Collector::new(tracer.clone());
    // OpenLLMetry's old names, and a reference-style span from the Python toolkit (its
    // scope): dicts as JSON text, times through a float.
    let mut openllmetry = span(6, 1, None, "openai.chat", span::SpanKind::Client, (0, 1));
    openllmetry.attributes = vec![
        text("llm.request.type", "chat"),
        text("gen_ai.system", "openai"),
        text("gen_ai.request.model", "gpt-4o"),
        kv("gen_ai.usage.prompt_tokens", V::IntValue(1_000)),
        kv("gen_ai.usage.completion_tokens", V::IntValue(100)),
        text("gen_ai.prompt.0.role", "user"),
        text("gen_ai.prompt.0.content", "Weather in Paris?"),
        text("traceloop.association.properties.session_id", "conv-3"),
    ];
    let mut reference = span(6, 2, Some(1), "child", span::SpanKind::Internal, (0, 0));
    reference.start_time_unix_nano = 1_795_300_816_026_429_952; // …026430 µs through a float
    reference.end_time_unix_nano = 1_795_300_816_026_439_936;
    reference.attributes = vec![
        text("ai.conversation.id", "123456"),
        text("ai.auth.context", r#"{"principal_id": "user123"}"#),
        text("ai.trace.type", "tool-invocation"),
    ];
    let mut body = request("svc", vec![openllmetry]);
    let mut from_python = request("MyAgent", vec![reference]);
    from_python.resource_spans[0].scope_spans[0].scope = Some(InstrumentationScope {
        name: "generative-ai-toolkit".into(),
        version: "current".into(),
        ..Default::default()
    });
    body.resource_spans.extend(from_python.resource_spans);
    let reply = collector
        .export(ExportRequest::new(&body.encode_to_vec()).content_type("application/x-protobuf"));
    assert_eq!(reply.status(), 200);
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    let llm = spans.iter().find(|s| s.span_name == "openai.chat").unwrap();
    let a = &llm.attributes;
    assert_eq!(a.get("gen_ai.operation.name"), Some(&Value::from("chat")));
    assert_eq!(a.get("gen_ai.provider.name"), Some(&Value::from("openai")));
    assert_eq!(
        a.get("gen_ai.usage.input_tokens"),
        Some(&Value::from(1_000))
    );
    assert_eq!(a.get("ai.conversation.id"), Some(&Value::from("conv-3")));
    assert_eq!(a.get("openinference.span.kind"), Some(&Value::from("LLM")));
    assert_eq!(a.get("ai.trace.type"), Some(&Value::from("llm-invocation")));
    assert!(matches!(a.get(tracekit::genai::COST_USD), Some(Value::Float(c)) if *c > 0.0));
    assert_eq!(
        a.get("gen_ai.input.messages"),
        Some(&Value::from(
            serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}])
        ))
    );
    assert_eq!(
        a.get("gen_ai.usage.prompt_tokens"),
        Some(&Value::from(1_000)),
        "what was sent is kept"
    );
    let child = spans.iter().find(|s| s.span_name == "child").unwrap();
    assert_eq!(
        child.attributes.get("ai.auth.context"),
        Some(&Value::from(serde_json::json!({"principal_id": "user123"})))
    );
    assert_eq!(child.started_at.unix_nanos() % 1_000_000_000, 26_430_000);
    assert_eq!(
        child.ended_at.unwrap().unix_nanos() % 1_000_000_000,
        26_440_000
    );
    assert_eq!(
        child.attributes.get("gen_ai.operation.name"),
        Some(&Value::from("execute_tool"))
    );

    // Stored exactly as received when asked.
    let plain = Tracer::in_memory(10);
    let reply = Collector::new(plain.clone())
        .conventions(None)
        .export(ExportRequest::new(&body.encode_to_vec()).content_type("application/x-protobuf"));
    assert_eq!(reply.status(), 200);
    let spans = plain.get_traces(&TraceFilter::new()).unwrap();
    assert!(spans
        .iter()
        .all(|s| s.attributes.get("gen_ai.operation.name").is_none()));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3_000))]

    /// Any body, in either format, gzipped or not, is an answer the specification allows and
    /// never a panic; whatever is taken is stored.
    #[test]
    fn any_body_gets_an_answer_never_a_panic(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        json in proptest::prelude::any::<bool>(),
        zipped in proptest::prelude::any::<bool>(),
    ) {
        let collector = Collector::new(Tracer::noop());
        let body = if zipped { gzip(&body) } else { body };
        let mut request = ExportRequest::new(&body)
            .content_type(if json { "application/json" } else { "application/x-protobuf" });
        if zipped {
            request = request.content_encoding("gzip");
        }
        let reply = collector.export(request);
        proptest::prop_assert!([200, 400].contains(&reply.status()), "{}", reply.status());
    }

    /// Spans with any ids and times: stored, or rejected one by one with a reason.
    #[test]
    fn any_ids_and_times_are_stored_or_rejected_with_a_reason(
        trace_id in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20),
        span_id in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..10),
        parent in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..10),
        start in proptest::prelude::any::<u64>(),
        end in proptest::prelude::any::<u64>(),
        kind in proptest::prelude::any::<i32>(),
    ) {
        let tracer = Tracer::in_memory(10);
        let body = request("svc", vec![Span {
            trace_id, span_id, parent_span_id: parent, kind,
            start_time_unix_nano: start, end_time_unix_nano: end,
            ..Default::default()
        }]).encode_to_vec();
        let reply = Collector::new(tracer.clone())
            .export(ExportRequest::new(&body).content_type("application/x-protobuf"));
        proptest::prop_assert_eq!(reply.status(), 200);
        let partial = ExportTraceServiceResponse::decode(reply.body()).unwrap().partial_success;
        let stored = tracer.get_traces(&TraceFilter::new()).unwrap().len();
        match partial {
            Some(p) => {
                proptest::prop_assert_eq!((p.rejected_spans, stored), (1, 0));
                proptest::prop_assert!(!p.error_message.is_empty());
            }
            None => proptest::prop_assert_eq!(stored, 1),
        }
    }
}
