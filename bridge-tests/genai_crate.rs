//! The genai crate (0.7, feature `otel`) inside a `#[traced]` turn, against the scripted
//! endpoint: with `bridge::TracingLayer` installed, its `chat {model}` span is the turn's
//! child, a CLIENT span with the conversation id, tokens and cost, read back from SQLite.

#[path = "endpoint.rs"]
mod endpoint;

use genai::chat::{ChatMessage, ChatRequest};
use genai::resolver::{AuthData, Endpoint};
use genai::{Client, ServiceTarget};
use tracekit::bridge::TracingLayer;
use tracekit::genai::COST_USD;
use tracekit::{traced, SpanKind, TraceFilter, Tracer};
use tracing_subscriber::layer::SubscriberExt;

struct Assistant {
    tracer: Tracer,
    client: Client,
}

impl Assistant {
    #[traced(kind = Server, inheritable("ai.conversation.id" = conversation))]
    async fn turn(&self, conversation: &str, input: &str) -> Result<String, genai::Error> {
        let request = ChatRequest::new(vec![ChatMessage::user(input)]);
        let response = self.client.exec_chat("gpt-4o", request, None).await?;
        Ok(response.first_text().unwrap_or_default().to_owned())
    }
}

#[test]
fn a_genai_chat_inside_a_traced_turn_is_its_priced_child() {
    let endpoint = endpoint::Endpoint::start();
    let base = format!("{}/", endpoint.url());
    let client = Client::builder()
        .with_service_target_resolver_fn(move |mut target: ServiceTarget| {
            target.endpoint = Endpoint::from_owned(base.clone());
            target.auth = AuthData::from_single("test-key");
            Ok(target)
        })
        .build()
        .expect("a genai client");
    let dir = tempfile::tempdir().unwrap();
    let tracer = Tracer::sqlite(dir.path().join("traces.db")).unwrap();
    let assistant = Assistant {
        tracer: tracer.clone(),
        client,
    };
    let subscriber = tracing_subscriber::registry().with(TracingLayer::new(Tracer::noop()));
    let answer = tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(assistant.turn("conv-genai", "Weather in Amsterdam?"))
    })
    .expect("genai answers");
    assert_eq!(answer, "It is 18 °C and sunny in Amsterdam.");
    tracer.flush().unwrap();

    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    let tree = tracekit::render::tree(&spans);
    let turn = spans.iter().find(|s| s.span_name == "turn").unwrap();
    let chat = spans
        .iter()
        .find(|s| s.span_name == "chat gpt-4o")
        .unwrap_or_else(|| panic!("genai's chat span (named by otel.name):\n{tree}"));
    assert_eq!(chat.parent_span_id, Some(turn.span_id), "{tree}");
    assert_eq!(chat.trace_id, turn.trace_id);
    assert_eq!(chat.span_kind, SpanKind::Client);
    let attr = |k: &str| chat.attributes.get(k).cloned();
    assert_eq!(attr("ai.conversation.id"), Some("conv-genai".into()));
    assert_eq!(
        attr("gen_ai.usage.input_tokens"),
        Some(endpoint::SECOND.0.into())
    );
    assert_eq!(attr("ai.trace.type"), Some("llm-invocation".into()));
    assert!(attr(COST_USD).is_some(), "{tree}");
}

/// `EnvFilter` directives as a per-layer filter choose what the bridge takes, as they would
/// for any layer.
#[test]
fn env_filter_directives_choose_what_is_bridged() {
    use tracing_subscriber::Layer as _;
    let tracer = Tracer::in_memory(100);
    let layer = TracingLayer::new(tracer.clone())
        .max_level(tracing::Level::TRACE)
        .with_filter(tracing_subscriber::EnvFilter::new("warn,framework=debug"));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        drop(tracing::debug_span!(target: "framework", "kept"));
        drop(tracing::trace_span!(target: "framework", "too-verbose"));
        drop(tracing::info_span!(target: "elsewhere", "filtered-out"));
        drop(tracing::warn_span!(target: "elsewhere", "a-warning"));
    });
    let names: Vec<String> = tracer
        .get_traces(&TraceFilter::new())
        .unwrap()
        .into_iter()
        .map(|s| s.span_name.to_string())
        .collect();
    assert_eq!(names, ["kept", "a-warning"]);
}
