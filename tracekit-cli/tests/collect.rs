//! `tracekit serve --otlp`: tracekit as the collector, with clients nobody here wrote — the
//! Python reference toolkit's `OtlpTracer` with its defaults, Python's OpenTelemetry SDK over
//! OTLP/HTTP and OTLP/gRPC, OpenInference's instrumentation of the `openai` client, and a
//! Python service that continues a Rust agent's trace — and what an acknowledgement is worth
//! when the collector is killed.
//!
//! The Python clients come from `scripts/reference-python.sh` and `scripts/otel-python.sh`;
//! a test whose client cannot be installed skips with one loud line.

#[path = "../../tests/common/servers.rs"]
mod servers;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tracekit::{SpanKind, SpanStatus, SqliteConfig, Trace, TraceFilter, Tracer, Value};

/// `tracekit serve` with its receivers, killed when dropped.
struct Collector {
    process: Service,
    http: String,
    grpc: Option<String>,
    viewer: String,
}

/// A child process killed when dropped.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tracekit serve DB --addr 127.0.0.1:0 ARGS...` and reads where it listens.
fn collector(db: &Path, args: &[&str], envs: &[(&str, &str)]) -> Collector {
    let child = Command::new(env!("CARGO_BIN_EXE_tracekit"))
        .args(["serve", db.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .args(args)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed and waited for however this ends.
    let mut c = Collector {
        process: Service(child),
        http: String::new(),
        grpc: None,
        viewer: String::new(),
    };
    let mut out = BufReader::new(c.process.0.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "tracekit serve ended early"
        );
        let line = line.trim();
        if let Some(at) = line.strip_prefix("tracekit OTLP/HTTP receiver on http://") {
            c.http = at.trim_end_matches("/v1/traces").to_owned();
        } else if let Some(at) = line.strip_prefix("tracekit OTLP/gRPC receiver on ") {
            c.grpc = Some(at.to_owned());
        } else if let Some(at) = line.strip_prefix("tracekit viewer on http://") {
            c.viewer = at.trim_end_matches('/').to_owned();
            return c;
        }
    }
}

/// One HTTP/1.1 exchange on `stream` (kept alive): status and body.
fn exchange(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line[9..12].parse().unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let mut stream = TcpStream::connect(addr).unwrap();
    let (status, body) = exchange(&mut stream, "GET", path, &[], b"");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn stored(db: &Path) -> Vec<Trace> {
    Tracer::sqlite(SqliteConfig::new(db).read_only())
        .unwrap()
        .get_traces(&TraceFilter::new())
        .unwrap()
}

/// Waits up to `within` for `ready` on the stored spans.
fn eventually(db: &Path, within: Duration, ready: impl Fn(&[Trace]) -> bool) -> Vec<Trace> {
    let deadline = Instant::now() + within;
    loop {
        let spans = stored(db);
        if ready(&spans) || Instant::now() > deadline {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn named<'a>(spans: &'a [Trace], name: &str) -> &'a Trace {
    spans
        .iter()
        .find(|s| s.span_name == name)
        .unwrap_or_else(|| {
            panic!(
                "no span {name:?} in {:?}",
                spans.iter().map(|s| &s.span_name).collect::<Vec<_>>()
            )
        })
}

fn text<'a>(span: &'a Trace, key: &str) -> Option<&'a str> {
    span.attributes.get(key).and_then(Value::as_str)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/collect")
        .join(name)
}

/// A JSON export request of `n` spans of trace `trace`, numbered from `from`.
fn json_request(trace: u32, from: u32, n: u32) -> String {
    let spans: Vec<serde_json::Value> = (from..from + n)
        .map(|i| {
            serde_json::json!({
                "traceId": format!("{trace:032x}"), "spanId": format!("{:016x}", i + 1),
                "name": format!("step-{i}"), "kind": 1,
                "startTimeUnixNano": "1795300816026429000", "endTimeUnixNano": "1795300816036429000",
                "attributes": [{"key": "i", "value": {"intValue": i.to_string()}}],
            })
        })
        .collect();
    serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).to_string()
}

#[test]
fn the_python_reference_toolkits_otlp_tracer_with_its_defaults() {
    let Some(python) = servers::reference_python() else {
        return;
    };
    if std::net::TcpListener::bind("127.0.0.1:4318").is_err() {
        let _ = writeln!(
            std::io::stderr(),
            "!!! SKIPPED the reference OtlpTracer's test: 127.0.0.1:4318, its default, is in use"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let c = collector(&db, &["--otlp"], &[]);
    assert_eq!(c.http, "127.0.0.1:4318");

    let out = Command::new(python)
        .arg(script("reference_agent.py"))
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    assert_eq!(
        (report["sent"].as_u64(), report["stored"].as_u64()),
        (Some(3), Some(3))
    );

    // The same spans for tracekit's readers: a tree, with the inherited conversation id,
    // and the LLM call priced.
    let spans = stored(&db);
    for s in &spans {
        assert_eq!(
            text(s, "ai.conversation.id"),
            Some("conv-py"),
            "{}",
            s.span_name
        );
        assert_eq!(
            s.attributes.get("ai.auth.context"),
            Some(&Value::from(serde_json::json!({"principal_id": "user123"})))
        );
    }
    let llm = named(&spans, "llm-invocation");
    assert_eq!(llm.parent_span_id, Some(named(&spans, "converse").span_id));
    assert!(
        matches!(llm.attributes.get(tracekit::genai::COST_USD), Some(Value::Float(c)) if *c > 0.0)
    );
    assert_eq!(text(llm, "gen_ai.operation.name"), Some("chat"));
    let page = get_json(&c.viewer, "/api/traces");
    let row = &page["traces"][0];
    assert_eq!(row["conversation_id"], "conv-py");
    assert_eq!(
        (row["spans"].as_u64(), row["llm_calls"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(row["cost_usd"].as_f64().unwrap() > 0.0, "{row}");
    let status = get_json(&c.viewer, "/api/collector");
    assert_eq!(
        status["otlp"]["stats"]["requests"], 3,
        "one request per span: {status}"
    );
    assert_eq!(status["otlp"]["stats"]["spans_stored"], 3);
    let show = Command::new(env!("CARGO_BIN_EXE_tracekit"))
        .args(["show", db.to_str().unwrap(), "conv-py"])
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&show.stdout);
    assert!(
        tree.contains("converse") && tree.contains("get_weather") && tree.contains('$'),
        "{tree}"
    );
}

#[test]
fn python_opentelemetry_sdk_over_http_and_grpc_and_an_openinference_llm_call() {
    let Some(python) = servers::otel_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let c = collector(
        &db,
        &["--otlp", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0"],
        &[],
    );
    let out = Command::new(python)
        .arg(script("otel_clients.py"))
        .arg(format!("http://{}", c.http))
        .arg(c.grpc.clone().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spans = eventually(&db, Duration::from_secs(10), |s| s.len() >= 4);

    // OTLP/HTTP, protobuf and gzip.
    let root = named(&spans, "http-root");
    assert_eq!(root.span_kind, SpanKind::Server);
    assert_eq!(
        text(root, "ai.conversation.id"),
        Some("conv-otel"),
        "the GenAI name's conversation is the store's"
    );
    assert_eq!(
        root.attributes.get("numbers"),
        Some(&Value::from(serde_json::json!([1, 2, 3])))
    );
    assert_eq!(
        root.resource_attributes.get("service.name"),
        Some(&Value::from("py-http"))
    );
    assert_eq!(&*root.scope.name, "py-http-client");
    let child = named(&spans, "http-child");
    assert_eq!(child.parent_span_id, Some(root.span_id));
    assert_eq!(child.span_status, SpanStatus::Error);
    assert_eq!(text(child, "otel.status_description"), Some("it broke"));
    assert_eq!(child.events[0].name, "retry");
    // OTLP/gRPC.
    let grpc = named(&spans, "grpc-span");
    assert_eq!(grpc.span_kind, SpanKind::Client);
    assert_eq!(text(grpc, "ai.conversation.id"), Some("conv-otel"));
    assert_eq!(
        grpc.resource_attributes.get("service.name"),
        Some(&Value::from("py-grpc"))
    );
    // OpenInference's LLM span: its kind, tokens and cost in every convention.
    let llm = spans
        .iter()
        .find(|s| text(s, "openinference.span.kind") == Some("LLM"))
        .expect("an OpenInference LLM span");
    assert_eq!(text(llm, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(
        llm.attributes.get("gen_ai.usage.input_tokens"),
        Some(&Value::from(1_000))
    );
    assert_eq!(
        llm.attributes.get("gen_ai.usage.output_tokens"),
        Some(&Value::from(200))
    );
    assert_eq!(text(llm, "ai.trace.type"), Some("llm-invocation"));
    assert_eq!(text(llm, "ai.conversation.id"), Some("conv-oi"));
    // gpt-4o-mini-2024-07-18: 1 000 × $0.15 + 200 × $0.60 per million.
    let cost = llm
        .attributes
        .get(tracekit::genai::COST_USD)
        .and_then(Value::as_f64);
    assert!(cost.is_some_and(|c| (c - 0.00027).abs() < 1e-9), "{cost:?}");
}

#[test]
fn a_rust_agent_and_a_python_service_make_one_trace() {
    let Some(python) = servers::otel_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let c = collector(&db, &["--otlp", "127.0.0.1:0"], &[]);
    // Killed and waited for however the test ends.
    let mut service = Service(
        Command::new(python)
            .arg(script("weather_service.py"))
            .arg(format!("http://{}", c.http))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(service.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().trim_start_matches("listening ").to_owned();

    // The Rust agent: its spans over OTLP to the same collector, its context to the service.
    let agent = Tracer::otlp(
        tracekit::OtlpConfig::new(format!("http://{}", c.http)).service_name("rust-agent"),
    )
    .unwrap();
    let answer = {
        let turn = agent
            .span("turn")
            .kind(SpanKind::Server)
            .inheritable_attribute("ai.conversation.id", "conv-both")
            .start();
        let call = agent
            .span("call weather-service")
            .kind(SpanKind::Client)
            .start();
        let mut headers = HashMap::new();
        tracekit::propagation::inject(&agent.current_trace(), &mut headers);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        let answer = exchange(&mut stream, "GET", "/weather?city=Amsterdam", &headers, b"");
        drop(call);
        drop(turn);
        answer
    };
    assert_eq!(answer, (200, "18 °C and sunny in Amsterdam".to_owned()));
    agent.flush().unwrap();
    let spans = eventually(&db, Duration::from_secs(15), |s| s.len() >= 4);
    drop(service);

    assert_eq!(spans.len(), 4, "{spans:#?}");
    assert!(
        spans.iter().all(|s| s.trace_id == spans[0].trace_id),
        "one trace"
    );
    for s in &spans {
        assert_eq!(
            text(s, "ai.conversation.id"),
            Some("conv-both"),
            "{}",
            s.span_name
        );
    }
    let (turn, call) = (named(&spans, "turn"), named(&spans, "call weather-service"));
    let (handler, lookup) = (
        named(&spans, "GET /weather"),
        named(&spans, "lookup forecast"),
    );
    assert_eq!(call.parent_span_id, Some(turn.span_id));
    assert_eq!(handler.parent_span_id, Some(call.span_id));
    assert_eq!(lookup.parent_span_id, Some(handler.span_id));
    assert_eq!(
        turn.resource_attributes.get("service.name"),
        Some(&Value::from("rust-agent"))
    );
    assert_eq!(
        handler.resource_attributes.get("service.name"),
        Some(&Value::from("weather-service"))
    );
    let page = get_json(&c.viewer, "/api/conversations");
    assert_eq!(page["conversations"][0]["conversation_id"], "conv-both");
    assert_eq!(page["conversations"][0]["spans"], 4);
}

#[test]
fn what_was_acknowledged_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let mut c = collector(&db, &["--otlp", "127.0.0.1:0"], &[]);
    let mut stream = TcpStream::connect(&c.http).unwrap();
    let (requests, per) = (300, 10);
    for r in 0..requests {
        let body = json_request(r + 1, 0, per);
        let (status, answer) = exchange(
            &mut stream,
            "POST",
            "/v1/traces",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{answer}");
    }
    // SIGKILL right after the last answer: no chance to write anything more.
    c.process.0.kill().unwrap();
    c.process.0.wait().unwrap();
    assert_eq!(stored(&db).len(), (requests * per) as usize);
}

#[test]
fn a_token_is_required_when_set_and_the_viewer_shows_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let c = collector(
        &db,
        &["--otlp", "127.0.0.1:0"],
        &[("TRACEKIT_OTLP_TOKEN", "s3cret")],
    );
    let mut stream = TcpStream::connect(&c.http).unwrap();
    let json = [("Content-Type", "application/json")];
    let body = json_request(1, 0, 2);
    let (status, answer) = exchange(&mut stream, "POST", "/v1/traces", &json, body.as_bytes());
    assert_eq!(status, 401, "{answer}");
    let auth = [json[0], ("Authorization", "Bearer s3cret")];
    assert_eq!(
        exchange(&mut stream, "POST", "/v1/traces", &auth, body.as_bytes()).0,
        200
    );
    let (status, health) = exchange(&mut stream, "GET", "/healthz", &[], b"");
    assert_eq!(status, 200);
    assert!(health.contains("\"refused_unauthorized\":1"), "{health}");
    let counts = get_json(&c.viewer, "/api/collector");
    assert_eq!(counts["otlp"]["stats"]["spans_stored"], 2, "{counts}");
    assert_eq!(counts["otlp"]["stats"]["refused_unauthorized"], 1);
    assert_eq!(
        counts["otlp"]["listening"][0],
        format!("http://{}/v1/traces", c.http)
    );
    // Without --otlp the viewer says it receives nothing, and sampling options are refused.
    let (_viewer_only, without) = {
        let v = collector(&db, &[], &[]);
        let counts = get_json(&v.viewer, "/api/collector");
        (v, counts)
    };
    assert_eq!(without["otlp"], serde_json::Value::Null);
    let refused = Command::new(env!("CARGO_BIN_EXE_tracekit"))
        .args(["serve", db.to_str().unwrap(), "--keep-errors"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("add --otlp"));
}

#[test]
fn an_otlp_url_as_the_store_forwards_what_arrives() {
    // The backend: another collector, keeping spans in memory.
    let backend = Tracer::in_memory(100);
    let downstream = tracekit::ingest::Collector::new(backend.clone());
    let receiver = downstream.serve_http("127.0.0.1:0").unwrap();
    let mut forwarder = Service(
        Command::new(env!("CARGO_BIN_EXE_tracekit"))
            .args(["serve", &format!("http://{}", receiver.local_addr())])
            .args(["--otlp", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(forwarder.0.stdout.take().unwrap());
    let mut lines = Vec::new();
    while !lines
        .last()
        .is_some_and(|l: &String| l.starts_with("forwarding to"))
    {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "ended early: {lines:?}"
        );
        lines.push(line.trim().to_owned());
    }
    let at = lines[0]
        .trim_start_matches("tracekit OTLP/HTTP receiver on http://")
        .trim_end_matches("/v1/traces")
        .to_owned();
    let mut stream = TcpStream::connect(&at).unwrap();
    let body = json_request(9, 0, 3);
    let (status, _) = exchange(
        &mut stream,
        "POST",
        "/v1/traces",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(status, 200);
    // A 200 from the forwarder means the backend took them.
    let spans = backend.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(spans.len(), 3);
    assert_eq!(downstream.stats().spans_stored, 3);
}

#[test]
fn the_sampling_options_decide_each_trace_over_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let c = collector(
        &db,
        &[
            "--otlp",
            "127.0.0.1:0",
            "--keep-errors",
            "--decision-wait",
            "300ms",
        ],
        &[],
    );
    let mut stream = TcpStream::connect(&c.http).unwrap();
    let json = [("Content-Type", "application/json")];
    let span = |trace: u32, id: u32, parent: Option<u32>, error: bool| {
        let mut s = serde_json::json!({
            "traceId": format!("{trace:032x}"), "spanId": format!("{id:016x}"), "name": format!("s{id}"),
            "startTimeUnixNano": "1795300816026429000", "endTimeUnixNano": "1795300816036429000",
        });
        if let Some(p) = parent {
            s["parentSpanId"] = format!("{p:016x}").into();
        }
        if error {
            s["status"] = serde_json::json!({"code": 2});
        }
        s
    };
    let post = |stream: &mut TcpStream, spans: Vec<serde_json::Value>| {
        let body = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]});
        exchange(
            stream,
            "POST",
            "/v1/traces",
            &json,
            body.to_string().as_bytes(),
        )
        .0
    };
    // A tool service's spans first (trace 1's failed), then the agent's roots.
    assert_eq!(
        post(
            &mut stream,
            vec![span(1, 2, Some(1), true), span(2, 2, Some(1), false)]
        ),
        200
    );
    assert_eq!(
        post(
            &mut stream,
            vec![span(1, 1, None, false), span(2, 1, None, false)]
        ),
        200
    );
    let spans = eventually(&db, Duration::from_secs(10), |s| s.len() >= 2);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(
        stored(&db).len(),
        2,
        "the trace without an error is not written later either"
    );
    assert!(spans.iter().all(|s| s.trace_id.to_string().ends_with('1')));
    let counts = get_json(&c.viewer, "/api/collector");
    assert_eq!(counts["otlp"]["store"]["traces_sampled_out"], 1, "{counts}");
}
