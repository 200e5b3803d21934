//! The GenAI helpers: each helper's attributes in every convention, switches, content capture,
//! truncation, costs, redaction and streamed calls.

mod common;

use common::{all, named};
use serde_json::json;
use tracekit::genai::{
    Conventions, GenAi, MemoryOp, Message, Price, PriceTable, Role, Usage, CHUNKS, COST_TABLE,
    COST_USD, TIME_TO_FIRST_CHUNK_MS, UNPRICED,
};
use tracekit::{SpanKind, SpanStatus, Trace, Tracer, Value};

fn attr<'a>(t: &'a Trace, key: &str) -> Option<&'a Value> {
    t.attributes.get(key)
}

fn has(t: &Trace, pairs: &[(&str, Value)]) {
    for (k, v) in pairs {
        assert_eq!(
            attr(t, k),
            Some(v),
            "{k} on {}: {:?}",
            t.span_name,
            t.attributes
        );
    }
}

fn v(x: impl Into<Value>) -> Value {
    x.into()
}

#[test]
fn every_helper_writes_all_three_conventions() {
    let tracer = Tracer::in_memory(100);
    let g = GenAi::new().capture_content(false);
    {
        let _turn = g.agent_turn(&tracer, "planner", "conv-1").start();
        drop(g.invoke_agent(&tracer, "researcher").start());
        drop(g.cycle(&tracer, 2).start());
        drop(g.chat(&tracer, "anthropic", "claude-sonnet-4").start());
        drop(g.execute_tool(&tracer, "weather", Some("call-7")).start());
        drop(g.retrieval(&tracer, "docs-index").start());
        drop(
            g.embeddings(&tracer, "openai", "text-embedding-3-small")
                .start(),
        );
        drop(g.memory(&tracer, MemoryOp::Read, "short-term").start());
        drop(g.memory(&tracer, MemoryOp::Write, "short-term").start());
        drop(g.decision(&tracer, "route", &["search", "answer"]).start());
    }
    let turn = named(&tracer, "invoke_agent planner");
    assert_eq!(turn.span_kind, SpanKind::Server);
    has(
        &turn,
        &[
            ("ai.trace.type", v("converse")),
            ("ai.conversation.id", v("conv-1")),
            ("ai.agent.name", v("planner")),
            ("gen_ai.operation.name", v("invoke_agent")),
            ("gen_ai.conversation.id", v("conv-1")),
            ("gen_ai.agent.name", v("planner")),
            ("openinference.span.kind", v("AGENT")),
            ("session.id", v("conv-1")),
        ],
    );
    // The conversation reaches every span below the turn, in every convention.
    for span in all(&tracer) {
        has(
            &span,
            &[
                ("ai.conversation.id", v("conv-1")),
                ("gen_ai.conversation.id", v("conv-1")),
                ("session.id", v("conv-1")),
            ],
        );
    }
    has(
        &named(&tracer, "invoke_agent researcher"),
        &[
            ("gen_ai.operation.name", v("invoke_agent")),
            ("gen_ai.agent.name", v("researcher")),
            ("openinference.span.kind", v("AGENT")),
        ],
    );
    has(
        &named(&tracer, "cycle-2"),
        &[
            ("ai.trace.type", v("cycle")),
            ("ai.agent.cycle.nr", v(2u32)),
            ("openinference.span.kind", v("CHAIN")),
        ],
    );
    let chat = named(&tracer, "chat claude-sonnet-4");
    assert_eq!(chat.span_kind, SpanKind::Client);
    has(
        &chat,
        &[
            ("ai.trace.type", v("llm-invocation")),
            ("peer.service", v("llm:claude-sonnet-4")),
            ("ai.llm.request.model.id", v("claude-sonnet-4")),
            ("gen_ai.operation.name", v("chat")),
            ("gen_ai.provider.name", v("anthropic")),
            ("gen_ai.request.model", v("claude-sonnet-4")),
            ("openinference.span.kind", v("LLM")),
            ("llm.model_name", v("claude-sonnet-4")),
        ],
    );
    has(
        &named(&tracer, "execute_tool weather"),
        &[
            ("ai.trace.type", v("tool-invocation")),
            ("peer.service", v("tool:weather")),
            ("ai.tool.name", v("weather")),
            ("ai.tool.use.id", v("call-7")),
            ("gen_ai.operation.name", v("execute_tool")),
            ("gen_ai.tool.name", v("weather")),
            ("gen_ai.tool.call.id", v("call-7")),
            ("gen_ai.tool.type", v("function")),
            ("openinference.span.kind", v("TOOL")),
            ("tool.name", v("weather")),
        ],
    );
    has(
        &named(&tracer, "retrieval docs-index"),
        &[
            ("gen_ai.operation.name", v("retrieval")),
            ("gen_ai.data_source.id", v("docs-index")),
            ("openinference.span.kind", v("RETRIEVER")),
        ],
    );
    has(
        &named(&tracer, "embeddings text-embedding-3-small"),
        &[
            ("gen_ai.operation.name", v("embeddings")),
            ("gen_ai.request.model", v("text-embedding-3-small")),
            ("openinference.span.kind", v("EMBEDDING")),
        ],
    );
    has(
        &named(&tracer, "conversation-history-list"),
        &[
            ("peer.service", v("memory:short-term")),
            ("ai.trace.type", v("conversation-history-list")),
        ],
    );
    has(
        &named(&tracer, "conversation-history-add"),
        &[("ai.trace.type", v("conversation-history-add"))],
    );
    has(
        &named(&tracer, "decision route"),
        &[("ai.decision.options", v(vec!["search", "answer"]))],
    );
}

#[test]
fn conventions_can_be_switched_off() {
    let tracer = Tracer::in_memory(10);
    let only_otel = GenAi::new().conventions(Conventions {
        reference: false,
        opentelemetry: true,
        openinference: false,
    });
    drop(only_otel.chat(&tracer, "openai", "gpt-4o").start());
    let span = &all(&tracer)[0];
    assert!(
        span.attributes.keys().all(|k| k.starts_with("gen_ai.")),
        "{:?}",
        span.attributes
    );
    let none = GenAi::new().conventions(Conventions {
        reference: false,
        opentelemetry: false,
        openinference: false,
    });
    let tracer = Tracer::in_memory(10);
    let call = none.chat(&tracer, "openai", "gpt-4o").start();
    none.record_usage(&call, "gpt-4o", &Usage::new(1, 1));
    drop(call);
    let spans = all(&tracer);
    let keys: Vec<&str> = spans[0].attributes.keys().collect();
    assert_eq!(keys, [COST_USD, COST_TABLE], "only tracekit's own cost");
}

#[test]
fn usage_and_cost_in_every_convention() {
    let tracer = Tracer::in_memory(10);
    let table = PriceTable::new("test-1", "2026-12-01").with(
        "m-1",
        Price::new(2.0, 10.0).cached(0.5, 2.5).reasoning(12.0),
    );
    let g = GenAi::new().prices(table);
    let call = g.chat(&tracer, "p", "m-1").start();
    let usage = Usage::new(1_000, 400)
        .cache_read(600)
        .cache_write(100)
        .reasoning(150);
    g.record_usage(&call, "m-1", &usage);
    drop(call);
    let span = &all(&tracer)[0];
    has(
        span,
        &[
            ("gen_ai.usage.input_tokens", v(1_000u64)),
            ("gen_ai.usage.output_tokens", v(400u64)),
            ("gen_ai.usage.cache_read.input_tokens", v(600u64)),
            ("gen_ai.usage.cache_creation.input_tokens", v(100u64)),
            ("gen_ai.usage.reasoning.output_tokens", v(150u64)),
            (
                "ai.llm.response.usage",
                v(json!({"inputTokens": 1000, "outputTokens": 400, "totalTokens": 1400})),
            ),
            ("llm.token_count.prompt", v(1_000u64)),
            ("llm.token_count.completion", v(400u64)),
            ("llm.token_count.total", v(1_400u64)),
            ("llm.token_count.prompt_details.cache_read", v(600u64)),
            ("llm.token_count.completion_details.reasoning", v(150u64)),
            (COST_TABLE, v("test-1 (2026-12-01)")),
        ],
    );
    // 300 plain input × 2 + 600 × 0.5 + 100 × 2.5 + 250 output × 10 + 150 × 12, per million.
    let expected = (300.0 * 2.0 + 600.0 * 0.5 + 100.0 * 2.5 + 250.0 * 10.0 + 150.0 * 12.0) / 1e6;
    let Some(Value::Float(cost)) = attr(span, COST_USD) else {
        panic!("{:?}", span.attributes)
    };
    assert!((cost - expected).abs() < 1e-15, "{cost} vs {expected}");
    assert_eq!(attr(span, "llm.cost.total"), attr(span, COST_USD));
    assert_eq!(attr(span, UNPRICED), None);
}

#[test]
fn the_response_model_is_priced_and_unknown_models_are_unpriced() {
    let tracer = Tracer::in_memory(10);
    let g = GenAi::new();
    let call = g.chat(&tracer, "openai", "gpt-4o").start();
    g.record_response_model(&call, "gpt-4o-mini-2024-07-18");
    g.record_usage(&call, "gpt-4o-mini-2024-07-18", &Usage::new(1_000_000, 0));
    drop(call);
    let call = g.chat(&tracer, "local", "llama-3-8b").start();
    g.record_usage(&call, "llama-3-8b", &Usage::new(10, 10));
    drop(call);
    let priced = named(&tracer, "chat gpt-4o");
    assert_eq!(
        attr(&priced, COST_USD),
        Some(&v(0.15)),
        "priced as the model that answered"
    );
    let unpriced = named(&tracer, "chat llama-3-8b");
    assert_eq!(attr(&unpriced, UNPRICED), Some(&v(true)));
    assert_eq!(attr(&unpriced, COST_USD), None, "never free");
}

#[test]
fn content_is_captured_only_when_enabled_and_truncated() {
    let messages = [
        Message::new(Role::User, "What is the weather in Amsterdam?"),
        Message::new(Role::Assistant, "x".repeat(100)),
    ];
    for capture in [false, true] {
        let tracer = Tracer::in_memory(10);
        let g = GenAi::new().capture_content(capture).max_content_len(40);
        let call = g.chat(&tracer, "p", "m").start();
        g.record_system_instructions(&call, "Be brief.");
        g.record_input(&call, &messages[..1]);
        g.record_output(&call, &messages[1..]);
        drop(call);
        let tool = g.execute_tool(&tracer, "search", None).start();
        g.record_tool_io(&tool, json!({"q": "y".repeat(50)}), "found");
        drop(tool);
        let chat = named(&tracer, "chat m");
        let tool = named(&tracer, "execute_tool search");
        if !capture {
            for key in [
                "gen_ai.input.messages",
                "gen_ai.output.messages",
                "gen_ai.system_instructions",
                "input.value",
                "ai.llm.request.messages",
            ] {
                assert_eq!(attr(&chat, key), None, "{key} captured while off");
            }
            assert_eq!(attr(&tool, "gen_ai.tool.call.arguments"), None);
            continue;
        }
        has(
            &chat,
            &[
                (
                    "gen_ai.input.messages",
                    v(
                        json!([{"role": "user", "parts": [{"type": "text", "content": "What is the weather in Amsterdam?"}]}]),
                    ),
                ),
                (
                    "gen_ai.system_instructions",
                    v(json!([{"type": "text", "content": "Be brief."}])),
                ),
                ("ai.llm.request.system", v("Be brief.")),
            ],
        );
        let output = attr(&chat, "gen_ai.output.messages").unwrap().to_string();
        assert!(
            output.contains(&format!("{}…[truncated 60 bytes]", "x".repeat(40))),
            "{output}"
        );
        assert!(attr(&chat, "output.value")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("truncated"));
        has(
            &tool,
            &[
                (
                    "gen_ai.tool.call.arguments",
                    v(json!({"q": format!("{}…[truncated 10 bytes]", "y".repeat(40))})),
                ),
                ("gen_ai.tool.call.result", v("found")),
                ("ai.tool.output", v("found")),
                ("output.value", v("found")),
            ],
        );
    }
}

#[test]
fn redaction_runs_before_every_tracer() {
    let memory = Tracer::in_memory(10);
    let logs = common::SharedBuf::default();
    let tracer = Tracer::tee([memory.clone(), Tracer::structured_logs(logs.clone())])
        .redacted(tracekit::genai::mask_secrets);
    let g = GenAi::new().capture_content(true);
    {
        let call = tracer
            .span("call")
            .attribute(
                "ai.user.input",
                "I am jo@example.com, key sk-live-0123456789abcdefghij",
            )
            .start();
        g.record_input(
            &call,
            &[Message::new(Role::User, "my key is AKIAIOSFODNN7EXAMPLE1")],
        );
    }
    tracer.flush().unwrap();
    let span = &all(&memory)[0];
    assert_eq!(
        attr(span, "ai.user.input"),
        Some(&v("I am [email], key [secret]"))
    );
    let text = logs.text();
    for secret in [
        "jo@example.com",
        "sk-live-0123456789abcdefghij",
        "AKIAIOSFODNN7EXAMPLE1",
    ] {
        assert!(!text.contains(secret), "{secret} reached a tracer: {text}");
        assert!(!format!("{:?}", span.attributes).contains(secret));
    }
}

#[test]
fn a_panicking_redaction_hook_loses_the_span_not_the_secret() {
    let memory = Tracer::in_memory(10);
    let tracer = memory.clone().redacted(|_| panic!("hook bug"));
    tracer.span("s").attribute("k", "secret").start().end();
    assert!(all(&memory).is_empty());
    assert_eq!(tracer.stats().sink_failures, 1);
}

#[test]
fn streamed_calls_record_time_to_first_chunk_and_chunk_count() {
    let tracer = Tracer::in_memory(10);
    let g = GenAi::new();
    let chunks: Vec<&str> = g
        .chunks(
            g.chat_stream(&tracer, "p", "m"),
            ["a", "b", "c"]
                .into_iter()
                .inspect(|_| std::thread::sleep(std::time::Duration::from_millis(2))),
        )
        .collect();
    assert_eq!(chunks, ["a", "b", "c"]);
    let span = named(&tracer, "chat m");
    has(
        &span,
        &[(CHUNKS, v(3u64)), ("gen_ai.request.stream", v(true))],
    );
    let Some(Value::Float(ttfc)) = attr(&span, TIME_TO_FIRST_CHUNK_MS) else {
        panic!("{:?}", span.attributes)
    };
    assert!(*ttfc >= 2.0, "{ttfc}");
    assert!(span.ended_at.is_some());

    // Dropped after one chunk: the span ends, cancelled, with the count so far.
    let tracer = Tracer::in_memory(10);
    let mut stream = g.chunks(g.chat_stream(&tracer, "p", "dropped"), 0..100);
    assert_eq!(stream.next(), Some(0));
    drop(stream);
    let span = named(&tracer, "chat dropped");
    has(&span, &[(CHUNKS, v(1u64)), ("cancelled", v(true))]);
}

#[test]
fn async_streams_are_counted_too() {
    use futures_core::Stream;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    struct Three(u8);
    impl Stream for Three {
        type Item = u8;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u8>> {
            self.0 += 1;
            Poll::Ready((self.0 <= 3).then_some(self.0))
        }
    }
    let tracer = Tracer::in_memory(10);
    let g = GenAi::new();
    let mut stream = std::pin::pin!(g.chunk_stream(g.chat_stream(&tracer, "p", "async"), Three(0)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let n = runtime.block_on(std::future::poll_fn(|cx| {
        let mut n = 0;
        while let Poll::Ready(Some(_)) = stream.as_mut().poll_next(cx) {
            n += 1;
        }
        Poll::Ready(n)
    }));
    assert_eq!(n, 3);
    has(&named(&tracer, "chat async"), &[(CHUNKS, v(3u64))]);
}

#[test]
fn errors_carry_their_type() {
    let tracer = Tracer::in_memory(10);
    let g = GenAi::new();
    let call = g.chat(&tracer, "p", "m").start();
    g.record_error(&call, "rate_limited");
    drop(call);
    let span = named(&tracer, "chat m");
    assert_eq!(span.span_status, SpanStatus::Error);
    has(&span, &[("error.type", v("rate_limited"))]);
}
