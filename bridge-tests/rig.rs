//! A rig agent (rig-agent 0.44 over rig-core's OpenAI chat-completions wire) inside a
//! `#[traced]` turn, against a scripted endpoint that asks for a tool call, then answers:
//! with `bridge::TracingLayer` installed, the trace read back from SQLite is one tree (turn →
//! rig's agent span → its chat and tool spans), the conversation id on every span, tokens and
//! cost on the chat spans, and the tool's arguments and result only with content capture on.

#[path = "endpoint.rs"]
mod endpoint;
#[path = "weather_agent.rs"]
mod weather_agent;

use tracekit::bridge::TracingLayer;
use tracekit::genai::{GenAi, COST_USD};
use tracekit::{SpanKind, Trace, TraceFilter, Tracer, Value};
use tracing_subscriber::layer::SubscriberExt;
use weather_agent::WeatherAgent;

/// One turn through rig with the bridge installed; the spans read back from SQLite.
fn run_turn(capture: bool) -> (Vec<Trace>, String) {
    let endpoint = endpoint::Endpoint::start();
    let dir = tempfile::tempdir().unwrap();
    let tracer = Tracer::sqlite(dir.path().join("traces.db")).unwrap();
    let weather = WeatherAgent::new(tracer.clone(), endpoint.url());
    // Spans outside a tracekit span are not taken (the layer's tracer is a no-op).
    let layer = TracingLayer::new(Tracer::noop()).genai(GenAi::new().capture_content(capture));
    let subscriber = tracing_subscriber::registry().with(layer);
    let answer = tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(weather.turn("conv-rig", "Weather in Amsterdam?"))
            .map_err(|e| e.to_string())
    })
    .expect("the agent answers");
    tracer.flush().unwrap();
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(endpoint.requests.lock().unwrap().len(), 2, "two chat calls");
    (spans, answer)
}

fn attr<'a>(span: &'a Trace, key: &str) -> Option<&'a Value> {
    span.attributes.get(key)
}

fn describe(spans: &[Trace]) -> String {
    tracekit::render::tree(spans)
}

#[test]
fn a_rig_agent_inside_a_traced_turn_is_one_priced_tree() {
    let (spans, answer) = run_turn(true);
    assert_eq!(answer, "It is 18 °C and sunny in Amsterdam.");
    let tree = describe(&spans);
    let turn = spans
        .iter()
        .find(|s| s.span_name == "turn")
        .unwrap_or_else(|| panic!("no turn span:\n{tree}"));
    // One trace, the conversation id on every span.
    for span in &spans {
        assert_eq!(span.trace_id, turn.trace_id, "{tree}");
        assert_eq!(
            attr(span, "ai.conversation.id"),
            Some(&"conv-rig".into()),
            "{}\n{tree}",
            span.span_name
        );
    }
    // rig declares its agent span as a root; the turn adopts it.
    let agent = spans
        .iter()
        .find(|s| s.span_name == "invoke_agent")
        .unwrap_or_else(|| panic!("no invoke_agent span:\n{tree}"));
    assert_eq!(agent.parent_span_id, Some(turn.span_id), "{tree}");
    // Every other rig span descends from it.
    let descends = |span: &Trace| {
        let mut parent = span.parent_span_id;
        while let Some(p) = parent {
            if p == agent.span_id {
                return true;
            }
            parent = spans
                .iter()
                .find(|s| s.span_id == p)
                .and_then(|s| s.parent_span_id);
        }
        false
    };
    let chats: Vec<&Trace> = spans
        .iter()
        .filter(|s| attr(s, "gen_ai.operation.name") == Some(&"chat".into()))
        .collect();
    assert_eq!(chats.len(), 2, "{tree}");
    for chat in &chats {
        assert!(descends(chat), "{tree}");
        assert_eq!(chat.span_kind, SpanKind::Client);
        assert_eq!(attr(chat, "ai.trace.type"), Some(&"llm-invocation".into()));
        assert_eq!(attr(chat, "openinference.span.kind"), Some(&"LLM".into()));
        assert!(attr(chat, COST_USD).is_some(), "a priced chat:\n{tree}");
    }
    let first = chats
        .iter()
        .find(|c| attr(c, "gen_ai.usage.input_tokens") == Some(&endpoint::FIRST.0.into()))
        .unwrap_or_else(|| panic!("the first call's usage:\n{tree}"));
    assert_eq!(
        attr(first, "gen_ai.usage.cache_read.input_tokens"),
        Some(&endpoint::FIRST.2.into())
    );
    let tool = spans
        .iter()
        .find(|s| attr(s, "gen_ai.operation.name") == Some(&"execute_tool".into()))
        .unwrap_or_else(|| panic!("no tool span:\n{tree}"));
    assert!(descends(tool), "{tree}");
    assert_eq!(attr(tool, "ai.trace.type"), Some(&"tool-invocation".into()));
    assert_eq!(attr(tool, "gen_ai.tool.name"), Some(&"get_weather".into()));
    let args = attr(tool, "ai.tool.input").unwrap_or_else(|| panic!("tool input:\n{tree}"));
    assert!(args.to_string().contains("Amsterdam"), "{args}");
    assert!(attr(tool, "ai.tool.output").is_some(), "{tree}");
    // The agent span's usage is the sum of its calls': not priced again.
    assert_eq!(attr(agent, COST_USD), None, "{tree}");
    // The tree `tracekit show` prints, with tokens and cost on the calls.
    assert!(tree.contains("• chat"), "{tree}");
    assert!(tree.contains("[in 1200 · out 30 · $"), "{tree}");
    // The summary tracekit shows: two LLM calls, their tokens and cost.
    let summary = tracekit::analysis::summary(&spans);
    assert_eq!(summary.llm_calls, 2, "{summary:?}");
    assert_eq!(
        summary.tokens.input,
        endpoint::FIRST.0 + endpoint::SECOND.0,
        "{summary:?}"
    );
    assert!(summary.cost_usd > 0.0, "{summary:?}");
}

#[test]
fn without_content_capture_no_content_is_stored() {
    let (spans, _) = run_turn(false);
    let tree = describe(&spans);
    for span in &spans {
        for key in [
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.prompt",
            "gen_ai.completion",
            "gen_ai.system_instructions",
            "ai.tool.input",
            "ai.tool.output",
            "input.value",
            "output.value",
        ] {
            assert_eq!(
                attr(span, key),
                None,
                "{key} on {}:\n{tree}",
                span.span_name
            );
        }
    }
    // Tokens and cost are no content: still there.
    assert!(spans.iter().any(|s| attr(s, COST_USD).is_some()), "{tree}");
}
