//! `Tracer::otlp` against a real OpenTelemetry backend, Arize Phoenix (started by
//! `scripts/phoenix.sh`, or found at `$TRACEKIT_PHOENIX_URL`), and what it sends decoded by an
//! independent decoder, Python's `opentelemetry-proto`.

#[path = "../tests/common/otlp_receiver.rs"]
mod receiver;
#[path = "../tests/common/servers.rs"]
mod servers;
#[allow(dead_code)]
#[path = "../examples/two_services.rs"]
mod two_services;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use tracekit::{traced, OtlpConfig, SpanKind, SpanStatus, Trace, TraceFilter, Tracer, Value};

/// Phoenix's URL, or `None` after a loud line when it cannot be started.
fn phoenix() -> Option<String> {
    servers::phoenix()
}

/// The Python that has `opentelemetry-proto` (Phoenix's venv).
fn python() -> Option<String> {
    servers::phoenix_python().map(|p| p.display().to_string())
}

fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tracekit-{what}-{nanos}")
}

fn config(url: &str, project: &str) -> OtlpConfig {
    OtlpConfig::new(url)
        .resource_attribute("openinference.project.name", project)
        .scheduled_delay(Duration::from_millis(50))
}

/// The project's spans once `n` have been ingested (ingestion is asynchronous).
fn phoenix_spans(url: &str, project: &str, n: usize) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: Json = ureq::get(format!("{url}/v1/projects/{project}/spans?limit=1000"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json().ok())
            .unwrap_or(Json::Null);
        let spans = got["data"].as_array().cloned().unwrap_or_default();
        if spans.len() >= n || Instant::now() > deadline {
            assert_eq!(
                spans.len(),
                n,
                "Phoenix has {} of {n} spans: {got}",
                spans.len()
            );
            return spans;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn by_name<'a>(spans: &'a [Json], name: &str) -> &'a Json {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced(kind = Server, inheritable("ai.conversation.id" = conversation))]
    fn converse(&self, conversation: &str) -> String {
        let _ = self.plan();
        self.tracer
            .current_trace()
            .add_event("thinking", [("step", 1)]);
        "done".into()
    }

    #[traced("llm-invocation", kind = Client)]
    fn plan(&self) -> Result<(), std::io::Error> {
        self.tracer.current_trace().add_attribute(
            "ai.llm.request",
            Value::from(
                json!({"model": "m-1", "params": {"temperature": 0.25, "stop": ["a", "b"]}}),
            ),
        );
        self.tracer
            .current_trace()
            .add_attribute("ai.llm.tokens", 42);
        Err(std::io::Error::other("model overloaded"))
    }
}

#[test]
fn spans_appear_in_phoenix_with_links_status_and_typed_attributes() {
    let Some(url) = phoenix() else { return };
    let project = unique("links");
    let agent = Agent {
        tracer: Tracer::otlp(config(&url, &project).service_name("weather-agent")).unwrap(),
    };
    agent.converse("c-42");
    agent.tracer.shutdown().unwrap();

    let spans = phoenix_spans(&url, &project, 2);
    let turn = by_name(&spans, "converse");
    let llm = by_name(&spans, "llm-invocation");
    assert_eq!(llm["context"]["trace_id"], turn["context"]["trace_id"]);
    assert_eq!(llm["parent_id"], turn["context"]["span_id"]);
    assert_eq!(turn["parent_id"], Json::Null);
    assert_eq!(llm["status_code"], "ERROR");
    assert_eq!(llm["status_message"], "model overloaded");
    assert_eq!(turn["status_code"], "UNSET");
    for span in [turn, llm] {
        assert_eq!(span["attributes"]["ai.conversation.id"], "c-42");
    }
    // Phoenix flattens OTLP key-value lists into dotted keys and keeps arrays and numbers:
    // proof that nested values went as kvlists, not as JSON text.
    let attributes = &llm["attributes"];
    assert_eq!(attributes["ai.llm.request.model"], "m-1");
    assert_eq!(attributes["ai.llm.request.params.temperature"], 0.25);
    assert_eq!(attributes["ai.llm.request.params.stop"], json!(["a", "b"]));
    assert_eq!(attributes["ai.llm.tokens"], 42);
    assert_eq!(turn["events"][0]["name"], "thinking");
    assert_eq!(turn["events"][0]["attributes"]["step"], 1);
}

#[test]
fn the_two_service_example_yields_one_trace() {
    let Some(url) = phoenix() else { return };
    let project = unique("two-services");
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let tools = format!("http://{}", server.server_addr());
    let tool_tracer = two_services::tool_service_tracer(config(&url, &project)).unwrap();
    let service =
        std::thread::spawn(move || two_services::serve_tools(server, tool_tracer).unwrap());

    let agent = two_services::Agent::new(
        two_services::agent_tracer(config(&url, &project)).unwrap(),
        &tools,
    );
    let (answer, trace_id) = agent.converse("conv-7", "Lisbon").unwrap();
    assert_eq!(answer, "The forecast: sunny in Lisbon");
    agent.stop().unwrap();
    service.join().unwrap();

    let spans = phoenix_spans(&url, &project, 4);
    for span in &spans {
        assert_eq!(
            span["context"]["trace_id"],
            trace_id.to_string(),
            "one trace: {span}"
        );
        assert_eq!(
            span["attributes"]["ai.conversation.id"], "conv-7",
            "on every span: {span}"
        );
    }
    let call = by_name(&spans, "call-tool");
    let handler = by_name(&spans, "weather-tool");
    assert_eq!(
        handler["parent_id"], call["context"]["span_id"],
        "the service continues the caller's span"
    );
    assert_eq!(
        by_name(&spans, "lookup")["parent_id"],
        handler["context"]["span_id"]
    );
    assert_eq!(
        call["parent_id"],
        by_name(&spans, "converse")["context"]["span_id"]
    );
}

#[test]
fn genai_spans_show_their_kinds_and_tokens_in_phoenix() {
    use tracekit::genai::{GenAi, Usage};
    let Some(url) = phoenix() else { return };
    let project = unique("genai");
    let tracer = Tracer::otlp(config(&url, &project).service_name("genai-agent")).unwrap();
    let genai = GenAi::new();
    {
        let _turn = genai.agent_turn(&tracer, "planner", "conv-g").start();
        let call = genai.chat(&tracer, "anthropic", "claude-sonnet-4").start();
        genai.record_usage(
            &call,
            "claude-sonnet-4",
            &Usage::new(1_200, 300).cache_read(1_000),
        );
        drop(call);
        drop(
            genai
                .execute_tool(&tracer, "weather", Some("call-1"))
                .start(),
        );
    }
    tracer.shutdown().unwrap();

    let spans = phoenix_spans(&url, &project, 3);
    assert_eq!(
        by_name(&spans, "invoke_agent planner")["span_kind"],
        "AGENT"
    );
    assert_eq!(by_name(&spans, "execute_tool weather")["span_kind"], "TOOL");
    let llm = by_name(&spans, "chat claude-sonnet-4");
    assert_eq!(llm["span_kind"], "LLM");
    assert_eq!(llm["attributes"]["llm.token_count.prompt"], 1_200);
    assert_eq!(llm["attributes"]["llm.token_count.completion"], 300);
    assert_eq!(
        llm["attributes"]["gen_ai.usage.cache_read.input_tokens"],
        1_000
    );
    for span in &spans {
        assert_eq!(
            span["attributes"]["session.id"], "conv-g",
            "Phoenix groups the session: {span}"
        );
    }
    // Phoenix sums the tokens per trace.
    let traces: Json = ureq::get(format!("{url}/v1/projects/{project}/traces"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(traces["data"][0]["token_count_prompt"], 1_200, "{traces}");
    assert_eq!(traces["data"][0]["token_count_completion"], 300, "{traces}");
}

/// What tracekit sends, decoded by Python's `opentelemetry-proto` and compared field by field
/// with the spans tracekit recorded.
#[test]
fn an_independent_decoder_reads_every_field() {
    let Some(python) = python() else { return };
    let receiver = receiver::Receiver::start();
    let exported = Tracer::otlp(
        OtlpConfig::new(receiver.url())
            .service_name("decoded")
            .resource_attribute("deployment.environment", "test")
            .scheduled_delay(Duration::from_secs(60)),
    )
    .unwrap();
    let kept = Tracer::in_memory(100);
    let agent = Agent {
        tracer: Tracer::tee([kept.clone(), exported.clone()]),
    };
    agent.converse("c-1");
    agent
        .tracer
        .span("odd-values")
        .kind(SpanKind::Producer)
        .attribute("big", u64::MAX)
        .attribute("negative", i64::MIN)
        .attribute("none", Value::Null)
        .attribute("unicode", "ünï ✓")
        .attribute(
            "mixed",
            Value::from(json!([1, 2.5, "x", true, null, {"k": []}])),
        )
        .start()
        .set_status(SpanStatus::Ok);
    exported.flush().unwrap();
    let recorded = kept.get_traces(&TraceFilter::new()).unwrap();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let body = std::env::temp_dir().join(format!("{}.pb", unique("otlp-body")));
    std::fs::write(&body, &requests[0].body).unwrap();
    let out = Command::new(&python)
        .arg("-c")
        .arg(
            "import sys, json\n\
             from google.protobuf.json_format import MessageToDict\n\
             from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest\n\
             r = ExportTraceServiceRequest()\n\
             r.ParseFromString(open(sys.argv[1], 'rb').read())\n\
             print(json.dumps(MessageToDict(r, preserving_proto_field_name=True)))\n",
        )
        .arg(&body)
        .output()
        .unwrap();
    std::fs::remove_file(&body).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded: Json = serde_json::from_slice(&out.stdout).unwrap();

    let rs = &decoded["resource_spans"][0];
    let resource = attributes(&rs["resource"]["attributes"]);
    assert_eq!(resource["service.name"], json!({"string_value": "decoded"}));
    assert_eq!(
        resource["deployment.environment"],
        json!({"string_value": "test"})
    );
    let scope = &rs["scope_spans"][0]["scope"];
    assert_eq!(
        scope["name"], "tracekit-otlp-tests",
        "#[traced] records the instrumenting crate"
    );
    let spans: Vec<&Json> = rs["scope_spans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["spans"].as_array().unwrap())
        .collect();
    assert_eq!(spans.len(), recorded.len());
    for trace in &recorded {
        let span = spans
            .iter()
            .find(|s| s["name"] == trace.span_name.as_ref())
            .unwrap_or_else(|| panic!("{} not sent", trace.span_name));
        compare(trace, span);
    }
}

fn attributes(list: &Json) -> HashMap<String, Json> {
    list.as_array()
        .map(|l| {
            l.iter()
                .map(|kv| (kv["key"].as_str().unwrap().to_owned(), kv["value"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn hex(base64: &Json) -> String {
    let text = base64.as_str().unwrap_or_default();
    let bytes = decode_base64(text);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_base64(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        bits = bits << 6 | alphabet.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// One span, field by field: Python's reading of the bytes against tracekit's record.
fn compare(trace: &Trace, span: &Json) {
    assert_eq!(hex(&span["trace_id"]), trace.trace_id.to_string());
    assert_eq!(hex(&span["span_id"]), trace.span_id.to_string());
    assert_eq!(
        hex(&span["parent_span_id"]),
        trace
            .parent_span_id
            .map(|p| p.to_string())
            .unwrap_or_default()
    );
    let kind = format!("SPAN_KIND_{}", trace.span_kind.as_str());
    assert_eq!(span["kind"], kind.as_str());
    // 64-bit integers come as strings in protobuf's JSON: exact nanoseconds.
    assert_eq!(
        span["start_time_unix_nano"],
        trace.started_at.unix_nanos().to_string()
    );
    assert_eq!(
        span["end_time_unix_nano"],
        trace.ended_at.unwrap().unix_nanos().to_string()
    );
    match trace.span_status {
        SpanStatus::Unset => assert_eq!(span.get("status"), None, "{span}"),
        SpanStatus::Ok => assert_eq!(span["status"]["code"], "STATUS_CODE_OK"),
        SpanStatus::Error => {
            assert_eq!(span["status"]["code"], "STATUS_CODE_ERROR");
            assert_eq!(
                span["status"]["message"],
                trace
                    .attributes
                    .get("exception.message")
                    .unwrap()
                    .as_str()
                    .unwrap()
            );
        }
    }
    // The recorded attributes, and what reference-style ones also say in the conventions
    // backends read (added on the way out, see `genai::reference_completions`).
    let mut expected = trace.attributes.clone();
    for (key, value) in tracekit::genai::reference_completions(&trace.attributes) {
        expected.insert(key, value);
    }
    let sent = attributes(&span["attributes"]);
    assert_eq!(sent.len(), expected.len(), "{span}");
    for (key, value) in expected.iter() {
        assert_eq!(sent[key], any_value(value), "attribute {key}");
    }
    assert_eq!(
        span["events"].as_array().map_or(0, Vec::len),
        trace.events.len()
    );
    for (event, sent) in trace
        .events
        .iter()
        .zip(span["events"].as_array().into_iter().flatten())
    {
        assert_eq!(sent["name"], event.name.as_ref());
        assert_eq!(
            sent["time_unix_nano"],
            event.timestamp.unix_nanos().to_string()
        );
        let sent = attributes(&sent["attributes"]);
        for (key, value) in event.attributes.iter() {
            assert_eq!(sent[key], any_value(value));
        }
    }
}

/// A value as protobuf's JSON shows an `AnyValue`.
fn any_value(value: &Value) -> Json {
    match value {
        Value::Null => json!({}),
        Value::Bool(b) => json!({"bool_value": b}),
        Value::Int(i) => json!({"int_value": i.to_string()}),
        Value::UInt(u) if *u > i64::MAX as u64 => json!({"string_value": u.to_string()}),
        Value::UInt(u) => json!({"int_value": u.to_string()}),
        Value::Float(f) => json!({"double_value": f}),
        Value::String(s) => json!({"string_value": s.as_str()}),
        Value::Array(items) if items.is_empty() => json!({"array_value": {}}),
        Value::Array(items) => {
            json!({"array_value": {"values": items.iter().map(any_value).collect::<Vec<_>>()}})
        }
        Value::Map(map) if map.is_empty() => json!({"kvlist_value": {}}),
        Value::Map(map) => json!({"kvlist_value": {"values": map
            .iter()
            .map(|(k, v)| json!({"key": k, "value": any_value(v)}))
            .collect::<Vec<_>>()}}),
    }
}

/// Spans written in the reference toolkit's `ai.*` style only (as `#[traced]` code and the
/// Python toolkit write them) show in Phoenix with their kinds, model, input and output: the
/// exporter adds the names Phoenix reads.
#[test]
fn reference_style_spans_show_their_kinds_inputs_and_outputs_in_phoenix() {
    let Some(url) = phoenix() else { return };
    let project = unique("reference");
    let tracer = Tracer::otlp(config(&url, &project)).unwrap();
    {
        let turn = tracer.span("converse").kind(SpanKind::Server).start();
        turn.add_attribute("ai.trace.type", "converse");
        turn.add_attribute("ai.user.input", "Weather in Amsterdam?");
        turn.add_attribute("ai.agent.response", "Sunny.");
        let llm = tracer.span("llm-invocation").kind(SpanKind::Client).start();
        llm.add_attribute("ai.trace.type", "llm-invocation");
        llm.add_attribute("ai.llm.request.model.id", "claude-sonnet-4");
        llm.add_attribute(
            "ai.llm.request.messages",
            Value::from(json!([{"role": "user", "content": "Weather in Amsterdam?"}])),
        );
        llm.add_attribute("ai.llm.response.output", "Let me look that up.");
        drop(llm);
        let tool = tracer.span("get_weather").kind(SpanKind::Client).start();
        tool.add_attribute("ai.trace.type", "tool-invocation");
        tool.add_attribute("ai.tool.name", "get_weather");
        tool.add_attribute("ai.tool.input", Value::from(json!({"city": "Amsterdam"})));
        tool.add_attribute("ai.tool.output", "18 °C, sunny");
    }
    tracer.shutdown().unwrap();

    let spans = phoenix_spans(&url, &project, 3);
    let turn = by_name(&spans, "converse");
    assert_eq!(turn["span_kind"], "AGENT", "{turn}");
    assert_eq!(
        turn["attributes"]["input.value"], "Weather in Amsterdam?",
        "{turn}"
    );
    assert_eq!(turn["attributes"]["output.value"], "Sunny.", "{turn}");
    let llm = by_name(&spans, "llm-invocation");
    assert_eq!(llm["span_kind"], "LLM", "{llm}");
    assert_eq!(
        llm["attributes"]["llm.model_name"], "claude-sonnet-4",
        "{llm}"
    );
    assert_eq!(
        llm["attributes"]["output.value"], "Let me look that up.",
        "{llm}"
    );
    let tool = by_name(&spans, "get_weather");
    assert_eq!(tool["span_kind"], "TOOL", "{tool}");
    assert_eq!(tool["attributes"]["output.value"], "18 °C, sunny", "{tool}");
}

/// An evaluation result reaches Phoenix as a span named `gen_ai.evaluation.result` below the
/// evaluated LLM call, with the convention's attributes (Phoenix shows it as a span of the
/// trace, not as one of its annotations, which it takes only through its own API).
#[test]
fn evaluation_results_appear_in_phoenix_below_the_evaluated_span() {
    use tracekit::eval::{record_evaluation, Evaluation};
    let Some(url) = phoenix() else { return };
    let project = unique("evaluations");
    let tracer = Tracer::otlp(config(&url, &project)).unwrap();
    {
        let call = tracer.trace("chat gpt-4o");
        record_evaluation(
            &call,
            Evaluation::new("relevance").score(0.75).label("relevant"),
        )
        .unwrap();
    }
    tracer.shutdown().unwrap();
    let spans = phoenix_spans(&url, &project, 2);
    let call = by_name(&spans, "chat gpt-4o");
    let evaluation = by_name(&spans, "gen_ai.evaluation.result");
    assert_eq!(evaluation["parent_id"], call["context"]["span_id"]);
    let attributes = &evaluation["attributes"];
    assert_eq!(attributes["gen_ai.evaluation.name"], "relevance");
    assert_eq!(attributes["gen_ai.evaluation.score.value"], 0.75);
    assert_eq!(attributes["gen_ai.evaluation.score.label"], "relevant");
}
