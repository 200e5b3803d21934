//! `Tracer::otlp` against a local endpoint of the test's own: what goes over the wire,
//! batching, and every fault the exporter must ride out without touching the traced code.

#[path = "../tests/common/load.rs"]
mod load;
#[path = "../tests/common/otlp_receiver.rs"]
mod receiver;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use receiver::{Behaviour, Receiver, Request};
use tracekit::{traced, Compression, Error, OtlpConfig, Protocol, SpanKind, Tracer, Value};

/// A configuration for `receiver` that sends quickly and retries quickly.
fn config(url: &str) -> OtlpConfig {
    OtlpConfig::new(url)
        .scheduled_delay(Duration::from_millis(20))
        .timeout(Duration::from_millis(500))
        .service_name("test-agent")
}

fn spans(request: &Request) -> Vec<Span> {
    ExportTraceServiceRequest::decode(&request.body[..])
        .unwrap()
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

fn all_spans(receiver: &Receiver) -> Vec<Span> {
    receiver.requests().iter().flat_map(spans).collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a V> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn emit(tracer: &Tracer, n: usize, name: &str) {
    for i in 0..n {
        tracer
            .span(name.to_owned())
            .attribute("i", i as i64)
            .start()
            .end();
    }
}

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced(kind = Client)]
    fn call_llm(&self, prompt: &str) -> Result<String, std::io::Error> {
        self.tracer.current_trace().add_attribute(
            "ai.llm.request",
            Value::from(serde_json::json!({"prompt": prompt, "params": {"temperature": 0.2, "stop": ["\n"]}})),
        );
        Err(std::io::Error::other("the model is overloaded"))
    }

    #[traced]
    fn converse(&self, input: &str) -> String {
        self.tracer
            .current_trace()
            .add_inheritable_attribute("ai.conversation.id", "c-1");
        self.call_llm(input).unwrap_or_else(|e| e.to_string())
    }
}

#[test]
fn spans_arrive_gzipped_with_their_headers_and_types() {
    let receiver = Receiver::start();
    let tracer = Tracer::otlp(config(&receiver.url()).header("x-api-key", "k-123")).unwrap();
    let agent = Agent { tracer };
    assert_eq!(agent.converse("hi"), "the model is overloaded");
    agent.tracer.flush().unwrap();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one batch");
    let r = &requests[0];
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("x-api-key"), Some("k-123"));
    assert!(r.header("user-agent").unwrap().starts_with("tracekit/"));
    let request = ExportTraceServiceRequest::decode(&r.body[..]).unwrap();
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"
        && kv.value.as_ref().unwrap().value == Some(V::StringValue("test-agent".into()))));

    let spans = spans(r);
    let llm = spans.iter().find(|s| s.name == "call_llm").unwrap();
    let turn = spans.iter().find(|s| s.name == "converse").unwrap();
    assert_eq!(llm.trace_id, turn.trace_id);
    assert_eq!(llm.parent_span_id, turn.span_id);
    assert!(turn.parent_span_id.is_empty());
    assert_eq!(llm.kind, 3, "CLIENT");
    let status = llm.status.as_ref().unwrap();
    assert_eq!(
        (status.code, status.message.as_str()),
        (2, "the model is overloaded")
    );
    assert_eq!(
        attr(llm, "ai.conversation.id"),
        Some(&V::StringValue("c-1".into()))
    );
    let Some(V::KvlistValue(request_attr)) = attr(llm, "ai.llm.request") else {
        panic!(
            "nested values are key-value lists, not JSON text: {:?}",
            attr(llm, "ai.llm.request")
        );
    };
    let params = request_attr
        .values
        .iter()
        .find(|kv| kv.key == "params")
        .unwrap();
    let Some(V::KvlistValue(params)) = &params.value.as_ref().unwrap().value else {
        panic!()
    };
    assert_eq!(
        params.values[0].value.as_ref().unwrap().value,
        Some(V::DoubleValue(0.2))
    );
    assert!(llm.end_time_unix_nano >= llm.start_time_unix_nano);
    assert!(r.compressed_len < r.body.len());
}

#[test]
fn json_bodies_when_asked() {
    let receiver = Receiver::start();
    let tracer = Tracer::otlp(
        config(&receiver.url())
            .protocol(Protocol::HttpJson)
            .compression(Compression::None),
    )
    .unwrap();
    tracer
        .span("json")
        .kind(SpanKind::Server)
        .attribute("n", 3)
        .start()
        .end();
    tracer.flush().unwrap();
    let r = &receiver.requests()[0];
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("content-encoding"), None);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let span = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["name"], "json");
    assert_eq!(span["kind"], 2);
    assert_eq!(
        span["traceId"].as_str().unwrap().len(),
        32,
        "hex ids: {span}"
    );
    assert_eq!(span["attributes"][0]["value"]["intValue"], "3");
}

#[test]
fn batches_hold_at_most_batch_size_spans() {
    let receiver = Receiver::start();
    let tracer = Tracer::otlp(config(&receiver.url()).max_export_batch_size(10)).unwrap();
    emit(&tracer, 35, "s");
    tracer.flush().unwrap();
    let sizes: Vec<usize> = receiver.requests().iter().map(|r| spans(r).len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 35);
    assert!(sizes.iter().all(|&n| n <= 10), "{sizes:?}");
    let stats = tracer.stats();
    assert_eq!(
        (
            stats.spans_persisted,
            stats.sink_failures,
            stats.spans_dropped
        ),
        (35, 0, 0)
    );
}

#[test]
fn a_lingering_span_is_sent_without_a_flush() {
    let receiver = Receiver::start();
    let tracer = Tracer::otlp(config(&receiver.url())).unwrap();
    emit(&tracer, 1, "lonely");
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.requests().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(all_spans(&receiver).len(), 1);
}

/// The fault sequence, phase by phase: refused, reset, hung past the timeout, 500,
/// 429 with Retry-After, and recovered. Everything retryable arrives; the 500 batch is
/// failed and counted, and never retried.
#[test]
fn rides_out_refusals_resets_hangs_and_errors() {
    // Refused: nothing listens on the port yet.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let tracer = Tracer::otlp(config(&url).retry_for(Duration::from_secs(30))).unwrap();
    emit(&tracer, 5, "while-down");
    assert!(
        tracer.flush_within(Duration::from_millis(400)).is_err(),
        "nothing can be delivered yet"
    );
    assert_eq!(tracer.stats().spans_pending, 5, "waiting, not lost");
    // The endpoint comes back: the waiting spans arrive.
    let receiver = Receiver::start_on(port);
    tracer.flush_within(Duration::from_secs(20)).unwrap();
    assert_eq!(all_spans(&receiver).len(), 5);

    // Reset mid-request, then a hang past the 500 ms timeout, then 503: all retried.
    receiver.script([
        Behaviour::Reset,
        Behaviour::Hang(Duration::from_millis(1500)),
        Behaviour::Status(503, vec![]),
    ]);
    emit(&tracer, 3, "after-faults");
    tracer.flush_within(Duration::from_secs(20)).unwrap();
    let arrived = all_spans(&receiver);
    assert_eq!(
        arrived.iter().filter(|s| s.name == "after-faults").count() % 3,
        0
    );
    assert!(arrived.iter().any(|s| s.name == "after-faults"));
    assert_eq!(tracer.stats().sink_failures, 0);

    // 500: not retried, the batch is counted as failed.
    let before = receiver.requests().len();
    receiver.script([Behaviour::Status(500, vec![])]);
    emit(&tracer, 4, "server-error");
    let err = tracer.flush_within(Duration::from_secs(20)).unwrap_err();
    assert!(
        err.to_string().contains("4 spans could not be delivered"),
        "{err}"
    );
    assert_eq!(receiver.requests().len(), before + 1, "one try only");
    assert_eq!(tracer.stats().sink_failures, 4);

    // 429 with Retry-After: 1 — waited for, then delivered.
    receiver.script([Behaviour::Status(429, vec![("retry-after", "1".into())])]);
    let started = Instant::now();
    emit(&tracer, 2, "throttled");
    tracer.flush_within(Duration::from_secs(20)).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    let throttled = all_spans(&receiver)
        .iter()
        .filter(|s| s.name == "throttled")
        .count();
    assert_eq!(throttled, 4, "sent twice: rejected once, then accepted");

    let stats = tracer.stats();
    assert_eq!(stats.spans_accepted, 14);
    assert_eq!(
        (
            stats.sink_failures,
            stats.spans_dropped,
            stats.spans_pending
        ),
        (4, 0, 0)
    );
}

#[test]
fn partial_success_counts_the_rejected_spans() {
    let receiver = Receiver::start();
    receiver.script([Behaviour::Partial(2, "spans too old")]);
    let tracer =
        Tracer::otlp(config(&receiver.url()).scheduled_delay(Duration::from_secs(60))).unwrap();
    emit(&tracer, 5, "s");
    let err = tracer.flush().unwrap_err();
    assert!(err.to_string().contains("spans too old"), "{err}");
    // The first request rejected two spans (or all, had the exporter sent fewer then).
    let first = spans(&receiver.requests()[0]).len() as u64;
    let stats = tracer.stats();
    assert_eq!(stats.sink_failures, first.min(2), "{stats:?}");
    assert_eq!(stats.spans_persisted + stats.sink_failures, 5, "{stats:?}");
}

#[test]
fn a_full_queue_drops_and_counts_and_the_caller_never_waits() {
    let receiver = Receiver::start();
    receiver.script([Behaviour::Hang(Duration::from_millis(1500))]);
    let tracer = Tracer::otlp(
        config(&receiver.url())
            .max_queue_size(10)
            .max_export_batch_size(10),
    )
    .unwrap();
    emit(&tracer, 10, "first");
    // Let the exporter take the first batch and hang on it.
    std::thread::sleep(Duration::from_millis(200));
    emit(&tracer, 100, "more");
    tracer.flush_within(Duration::from_secs(20)).unwrap();
    let stats = tracer.stats();
    let delivered = all_spans(&receiver)
        .iter()
        .filter(|s| s.name == "more")
        .count() as u64;
    assert_eq!(stats.spans_dropped + delivered, 100, "{stats:?}");
    assert!(stats.spans_dropped >= 90 - 10, "{stats:?}");
    assert_eq!(stats.sink_failures, 0);
}

#[test]
fn shutdown_says_what_it_could_not_deliver() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tracer = Tracer::otlp(
        config(&format!("http://127.0.0.1:{port}")).scheduled_delay(Duration::from_secs(60)),
    )
    .unwrap();
    emit(&tracer, 7, "never-delivered");
    let started = Instant::now();
    let err = tracer
        .shutdown_within(Duration::from_millis(600))
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by its deadline"
    );
    // At the deadline: still queued, or just given up and counted, whichever came first.
    // The exporter gives up just before the deadline, so shutdown can say how many failed.
    let message = err.to_string();
    assert!(
        message.contains("7 spans could not be delivered")
            || message.contains("7 spans still queued")
            || message.contains("7 failed meanwhile"),
        "{err}"
    );
    // The exporter gives the batch up at the deadline and counts it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while tracer.stats().sink_failures < 7 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = tracer.stats();
    assert_eq!(
        (stats.sink_failures, stats.spans_pending),
        (7, 0),
        "{stats:?}"
    );
    // Spans after shutdown are dropped and counted.
    emit(&tracer, 1, "late");
    assert_eq!(tracer.stats().spans_dropped, 1);
}

#[test]
fn a_failing_backend_leaves_the_users_errors_alone() {
    let receiver = Receiver::start();
    receiver.script((0..10).map(|_| Behaviour::Status(400, vec![])));
    let agent = Agent {
        tracer: Tracer::otlp(config(&receiver.url())).unwrap(),
    };
    for _ in 0..3 {
        assert_eq!(agent.converse("x"), "the model is overloaded");
    }
    let err = agent.tracer.flush().unwrap_err();
    assert!(
        err.to_string().contains("6 spans could not be delivered"),
        "{err}"
    );
    assert!(
        err.to_string().contains("HTTP 400: scripted failure"),
        "{err}"
    );
    assert_eq!(agent.tracer.stats().sink_failures, 6);
}

#[test]
fn otel_sdk_disabled_gives_a_no_op_tracer() {
    let config =
        OtlpConfig::from_vars(|name| (name == "OTEL_SDK_DISABLED").then(|| "true".into())).unwrap();
    let tracer = Tracer::otlp(config).unwrap();
    assert!(!tracer.is_enabled());
}

#[test]
fn bad_settings_are_errors_at_start() {
    let err = Tracer::otlp(OtlpConfig::new("localhost:4318")).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    let err =
        Tracer::otlp(OtlpConfig::new("https://x").ca_file("/nonexistent/ca.pem")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    let not_pem = std::env::temp_dir().join(format!("tracekit-not-pem-{}", std::process::id()));
    std::fs::write(&not_pem, "hello").unwrap();
    let err = Tracer::otlp(OtlpConfig::new("https://x").ca_file(&not_pem)).unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    std::fs::remove_file(not_pem).ok();
}

/// An HTTPS endpoint with a self-signed certificate for `localhost`: answers every request
/// with 200. Returns its port and the certificate (PEM).
fn https_endpoint() -> (u16, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = cert.cert.pem();
    let config = std::sync::Arc::new(
        // The provider by name: the workspace's other crates may compile in a second one.
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
        )
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let tls = rustls::ServerConnection::new(config).unwrap();
                let mut stream = BufReader::new(rustls::StreamOwned::new(tls, tcp));
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if stream.read_exact(&mut body).is_err() {
                        return;
                    }
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if stream.get_mut().write_all(ok).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, pem)
}

#[test]
fn https_with_a_ca_file_for_a_self_signed_collector() {
    let (port, pem) = https_endpoint();
    let ca = std::env::temp_dir().join(format!("tracekit-ca-{}-{port}.pem", std::process::id()));
    std::fs::write(&ca, pem).unwrap();
    let url = format!("https://localhost:{port}");

    let trusted = Tracer::otlp(config(&url).ca_file(&ca)).unwrap();
    emit(&trusted, 3, "over-tls");
    trusted.flush().unwrap();
    assert_eq!(trusted.stats().spans_persisted, 3);

    // The bundled roots do not know the certificate: refused at once, not retried.
    let untrusted = Tracer::otlp(config(&url)).unwrap();
    emit(&untrusted, 2, "refused");
    let err = untrusted.flush().unwrap_err();
    assert!(
        err.to_string().to_ascii_lowercase().contains("certificate"),
        "{err}"
    );
    assert_eq!(untrusted.stats().sink_failures, 2);
    std::fs::remove_file(ca).ok();
}

#[test]
fn rag_events_and_params_travel_as_span_events_and_attributes() {
    use tracekit::eval::{Chunk, EvalSpan, RagEvent, RetrievedChunk};
    let receiver = Receiver::start();
    let tracer = Tracer::otlp(config(&receiver.url())).unwrap();
    {
        let span = tracer.trace("rag");
        span.register_param("top_k", 2);
        span.log_rag_event(RagEvent::retrieval(
            "q",
            &[RetrievedChunk::new(Chunk::new("c-1").content("text"), 0.75)],
        ));
        span.log_trace_event("q", "a", None).unwrap();
    }
    tracer.flush().unwrap();
    let spans = all_spans(&receiver);
    let span = &spans[0];
    let Some(V::KvlistValue(params)) = attr(span, tracekit::eval::PARAMS) else {
        panic!("{span:?}")
    };
    assert_eq!(params.values[0].key, "top_k");
    let names: Vec<&str> = span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["rag.retrieval", "rag.trace"]);
    let output = span.events[0]
        .attributes
        .iter()
        .find(|kv| kv.key == "rag.output")
        .unwrap();
    let Some(V::ArrayValue(chunks)) = &output.value.as_ref().unwrap().value else {
        panic!()
    };
    let Some(V::KvlistValue(chunk)) = &chunks.values[0].value else {
        panic!()
    };
    let score = chunk
        .values
        .iter()
        .find(|kv| kv.key == "retrieval_score")
        .unwrap();
    assert_eq!(
        score.value.as_ref().unwrap().value,
        Some(V::DoubleValue(0.75))
    );
}

#[test]
fn feedback_goes_out_as_a_span_of_the_trace_with_evaluation_attributes() {
    use tracekit::eval::{log_feedback, Feedback};
    let receiver = Receiver::start();
    let tracer = Tracer::otlp(config(&receiver.url())).unwrap();
    // A trace from another process: an exporter cannot look it up, so the ids go as given.
    let trace_id: tracekit::TraceId = "0af7651916cd43dd8448eb211c80319c".parse().unwrap();
    let span_id: tracekit::SpanId = "b7ad6b7169203331".parse().unwrap();
    log_feedback(&tracer, trace_id, Some(span_id), Feedback::Numeric(0.9)).unwrap();
    tracer.flush().unwrap();
    let spans = all_spans(&receiver);
    assert_eq!(spans[0].name, "feedback");
    assert_eq!(spans[0].trace_id, trace_id.to_bytes().to_vec());
    assert_eq!(spans[0].parent_span_id, span_id.to_bytes().to_vec());
    assert_eq!(
        attr(&spans[0], "gen_ai.evaluation.score.value"),
        Some(&V::DoubleValue(0.9))
    );
    assert_eq!(
        attr(&spans[0], "gen_ai.evaluation.name"),
        Some(&V::StringValue("user_feedback".into()))
    );
}

/// Every `OTEL_*` variable with arbitrary text: a config or an `Error::Config` naming the
/// variable, never a panic, and a header's value (a secret) never in the message or `Debug`.
mod bad_settings {
    use proptest::prelude::*;
    use tracekit::{Error, OtlpConfig};

    const VARS: [&str; 16] = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SERVICE_NAME",
        "OTEL_SDK_DISABLED",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_SCHEDULE_DELAY",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "(?s).{0,40}",
            "[a-z=,%0-9 :/.\\-]{0,40}",
            Just("http://127.0.0.1:4318".to_owned()),
            Just("api-key=sk-SECRET-1,x=%zz".to_owned()),
            Just("api-key=sk-SECRET-1,broken".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        #[test]
        fn any_otel_variables_are_a_config_or_a_typed_error(
            vars in proptest::collection::hash_map(proptest::sample::select(&VARS[..]), text(), 0..6),
        ) {
            let result = OtlpConfig::from_vars(|name| vars.get(name).cloned());
            let shown = match &result {
                Ok(config) => format!("{config:?}"),
                Err(Error::Config { setting, .. }) => {
                    prop_assert!(VARS.contains(setting), "{setting}");
                    result.as_ref().unwrap_err().to_string()
                }
                Err(other) => return Err(TestCaseError::fail(format!("untyped: {other:?}"))),
            };
            // (Other variables are no secret: their values are shown to say what is wrong.)
            let elsewhere = vars
                .iter()
                .any(|(k, v)| !k.contains("HEADERS") && v.contains("sk-SECRET-1"));
            prop_assert!(elsewhere || !shown.contains("sk-SECRET-1"), "a header value leaked: {shown}");
        }
    }
}

/// 16 tokio tasks × 500 spans exported (queue blocking when full): every span arrives, in its
/// task's trace, under its task's root.
#[test]
fn sixteen_tasks_by_five_hundred_spans_all_arrive() {
    every_span_arrives(load::Load::QUICK);
}

/// The same with 64 tasks × 10 000 spans.
#[test]
#[ignore = "long (640 000 spans exported): .ci/run runs it"]
fn sixty_four_tasks_by_ten_thousand_spans_all_arrive() {
    every_span_arrives(load::Load::FULL);
}

fn every_span_arrives(load: load::Load) {
    use tracekit::sinks::Overflow;
    let receiver = Receiver::start();
    let before = load::rss_mib();
    let tracer =
        Tracer::otlp(config(&receiver.url()).overflow(Overflow::Block(Duration::from_secs(30))))
            .unwrap();
    let took = load::drive(&tracer, load);
    tracer.shutdown_within(Duration::from_secs(120)).unwrap();
    load::report("otlp (block)", load, took, before);
    let stats = tracer.stats();
    assert_eq!(
        (stats.spans_persisted, stats.sink_failures),
        (load.total(), 0)
    );
    let id = |bytes: &[u8]| bytes.iter().fold(0u128, |n, b| n << 8 | u128::from(*b));
    let seen: Vec<load::Seen> = all_spans(&receiver)
        .iter()
        .map(|s| load::Seen {
            task: match attr(s, "task") {
                Some(V::IntValue(n)) => Some(*n),
                _ => None,
            },
            root: s.name == "task",
            trace: id(&s.trace_id),
            span: id(&s.span_id) as u64,
            parent: (!s.parent_span_id.is_empty()).then(|| id(&s.parent_span_id) as u64),
        })
        .collect();
    load::check(&seen, load);
}

/// Credentials in the endpoint and header values never show in `Debug`, in errors or in the
/// message printed on stderr (the same text as the flush error's "latest error").
#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let config = OtlpConfig::new("http://agent:hunter2@127.0.0.1:9")
        .header("authorization", "Bearer sk-live-SECRET")
        .retry_for(Duration::from_millis(200))
        .timeout(Duration::from_millis(200));
    let shown = format!("{config:?}");
    assert!(shown.contains("***@127.0.0.1:9"), "{shown}");
    let tracer = Tracer::otlp(config).unwrap();
    emit(&tracer, 1, "x");
    let error = tracer.flush().unwrap_err().to_string();
    assert!(error.contains("could not be delivered"), "{error}");
    for text in [&shown, &error] {
        assert!(
            !text.contains("hunter2") && !text.contains("sk-live-SECRET"),
            "{text}"
        );
    }
    // A bad endpoint's error shows the URL without its password.
    let error = OtlpConfig::from_vars(|name| {
        (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "ftp://agent:hunter2@host".to_owned())
    })
    .unwrap_err()
    .to_string();
    assert!(
        !error.contains("hunter2") && error.contains("***@host"),
        "{error}"
    );
}

/// The redaction hook on the outermost tracer runs before the exporter sees a span.
#[test]
fn redaction_runs_before_the_exporter() {
    let receiver = Receiver::start();
    let memory = Tracer::in_memory(10);
    let tracer = Tracer::tee([
        Tracer::otlp(config(&receiver.url())).unwrap(),
        memory.clone(),
    ])
    .redacted(tracekit::genai::mask_secrets);
    drop(
        tracer
            .span("call")
            .attribute(
                "ai.user.input",
                "mail jo@example.com the key sk-live-0123456789abcdefghij",
            )
            .start(),
    );
    tracer.shutdown().unwrap();
    let bodies: Vec<u8> = receiver
        .requests()
        .iter()
        .flat_map(|r| r.body.clone())
        .collect();
    assert!(!bodies.is_empty());
    let text = String::from_utf8_lossy(&bodies);
    assert!(
        text.contains("[email]") && text.contains("[secret]"),
        "{text}"
    );
    assert!(
        !text.contains("jo@example.com") && !text.contains("sk-live-0123"),
        "{text}"
    );
}

/// A span in the reference toolkit's `ai.*` style leaves with the GenAI and OpenInference
/// names backends read (kind, model, input, output, tokens, cost); what it says itself wins.
#[test]
fn reference_style_spans_leave_with_the_other_conventions() {
    let receiver = Receiver::start();
    let tracer = Tracer::otlp(config(&receiver.url())).unwrap();
    {
        let llm = tracer.span("llm").kind(tracekit::SpanKind::Client).start();
        llm.add_attribute("ai.trace.type", "llm-invocation");
        llm.add_attribute("ai.llm.request.model.id", "claude-sonnet-4");
        llm.add_attribute("ai.llm.response.output", "It is sunny.");
        llm.add_attribute(
            "ai.llm.response.usage",
            Value::from(
                serde_json::json!({"inputTokens": 10, "outputTokens": 3, "totalTokens": 13}),
            ),
        );
        llm.add_attribute("tracekit.cost.usd", 0.25);
        llm.add_attribute("openinference.span.kind", "CHAIN");
    }
    tracer.shutdown().unwrap();
    let spans = all_spans(&receiver);
    let span = &spans[0];
    let text = |k: &str| match attr(span, k) {
        Some(V::StringValue(s)) => s.clone(),
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(text("llm.model_name"), "claude-sonnet-4");
    assert_eq!(text("gen_ai.request.model"), "claude-sonnet-4");
    assert_eq!(text("gen_ai.operation.name"), "chat");
    assert_eq!(text("output.value"), "It is sunny.");
    assert_eq!(attr(span, "llm.token_count.prompt"), Some(&V::IntValue(10)));
    assert_eq!(attr(span, "llm.cost.total"), Some(&V::DoubleValue(0.25)));
    // Its own kind is kept, and sent once.
    assert_eq!(text("openinference.span.kind"), "CHAIN");
    let kinds = span
        .attributes
        .iter()
        .filter(|kv| kv.key == "openinference.span.kind")
        .count();
    assert_eq!(kinds, 1);
}
