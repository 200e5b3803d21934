//! `bridge::TracingLayer`: `tracing` spans and events into tracekit traces, parentage both
//! ways (threads and tasks included), typed fields, later records, GenAI completion, filters,
//! and a layer that never breaks the traced code. Also run under AddressSanitizer and Miri
//! (the layer enters tracekit's context, which is `unsafe` code).

mod common;

use std::fmt;
use std::sync::Arc;

use common::{all, named};
use tracekit::bridge::TracingLayer;
use tracekit::genai::{GenAi, COST_USD, UNPRICED};
use tracekit::{traced, FutureExt, SpanKind, SpanStatus, Trace, Tracer, Value};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// Runs `f` with a registry and `layer` as the default subscriber of this thread.
fn with_layer<R>(layer: TracingLayer, f: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f)
}

/// Runs `f` on a multi-thread runtime whose threads, and this one, all use `layer` (the
/// default subscriber is per thread).
fn block_on_with<F: std::future::Future>(layer: TracingLayer, workers: usize, f: F) -> F::Output {
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let on_start = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .on_thread_start(move || {
            // Kept for the thread's life: the guard would reset the default when dropped.
            std::mem::forget(tracing::dispatcher::set_default(&on_start));
        })
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || rt.block_on(f))
}

fn attr<'a>(span: &'a Trace, key: &str) -> Option<&'a Value> {
    span.attributes.get(key)
}

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced(inheritable("ai.conversation.id" = "conv-1"))]
    fn turn(&self) {
        let _outer = tracing::info_span!("framework-call", step = 1u64).entered();
        self.tool();
    }

    #[traced]
    fn tool(&self) {
        tracing::info!(attempt = 2, "retrying");
    }

    #[traced]
    async fn turn_async(&self, task: u32) -> u32 {
        let inner = self.tracer.clone();
        async move {
            tokio::task::yield_now().await;
            assert_eq!(inner.current_trace().span_name(), Some("task-span"));
            task
        }
        .instrument(tracing::info_span!("task-span", task))
        .await
    }
}

#[test]
fn nested_tracing_spans_are_one_trace_with_typed_fields() {
    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(tracer.clone()), || {
        let outer = tracing::info_span!(
            "outer",
            text = "hello",
            signed = -3i64,
            unsigned = u64::MAX,
            big = u128::MAX,
            small = 7u128,
            ratio = 0.25,
            flag = true,
            debugged = ?vec![1, 2],
            shown = %"display"
        );
        let _entered = outer.enter();
        drop(tracing::info_span!("inner").entered());
    });
    let spans = all(&tracer);
    assert_eq!(common::names(&spans), ["outer", "inner"]);
    let (outer, inner) = (&spans[0], &spans[1]);
    assert_eq!(inner.parent_span_id, Some(outer.span_id));
    assert_eq!(inner.trace_id, outer.trace_id);
    assert_eq!(outer.parent_span_id, None);
    for (key, want) in [
        ("text", Value::from("hello")),
        ("signed", Value::from(-3)),
        ("unsigned", Value::from(u64::MAX)),
        ("big", Value::from(u128::MAX.to_string())),
        ("small", Value::from(7u64)),
        ("ratio", Value::from(0.25)),
        ("flag", Value::from(true)),
        ("debugged", Value::from("[1, 2]")),
        ("shown", Value::from("display")),
        ("tracing.level", Value::from("INFO")),
        ("tracing.target", Value::from("tracing_bridge")),
    ] {
        assert_eq!(attr(outer, key), Some(&want), "{key}");
    }
    assert!(attr(outer, "tracing.file")
        .and_then(Value::as_str)
        .is_some_and(|f| f.ends_with("tracing_bridge.rs")));
    assert!(attr(outer, "tracing.line").is_some());
}

#[test]
fn fields_recorded_later_land_on_the_same_span() {
    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(tracer.clone()), || {
        let span = tracing::info_span!("call", status = tracing::field::Empty, first = 1);
        span.record("status", "done");
        span.record("first", 2);
    });
    let span = named(&tracer, "call");
    assert_eq!(attr(&span, "status"), Some(&"done".into()));
    assert_eq!(attr(&span, "first"), Some(&2.into()));
}

#[test]
fn events_become_span_events() {
    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(tracer.clone()), || {
        let _span = tracing::info_span!("work").entered();
        tracing::warn!(attempt = 2, "retrying {}", "soon");
        tracing::debug!("below INFO: not taken");
        tracing::error!("failed once");
    });
    let span = named(&tracer, "work");
    let names: Vec<&str> = span.events.iter().map(|e| &*e.name).collect();
    assert_eq!(names, ["retrying soon", "failed once"]);
    let retry = &span.events[0];
    assert_eq!(retry.attributes.get("attempt"), Some(&2.into()));
    assert_eq!(retry.attributes.get("level"), Some(&"WARN".into()));
    // An ERROR event marks nothing unless asked to.
    assert_eq!(span.span_status, SpanStatus::Unset);

    let tracer = Tracer::in_memory(100);
    let layer = TracingLayer::new(tracer.clone()).error_events_fail_span(true);
    with_layer(layer, || {
        let _span = tracing::info_span!("work").entered();
        tracing::error!("failed");
    });
    assert_eq!(named(&tracer, "work").span_status, SpanStatus::Error);

    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(tracer.clone()).events(false), || {
        let _span = tracing::info_span!("work").entered();
        tracing::info!("not recorded");
    });
    assert!(named(&tracer, "work").events.is_empty());
}

#[test]
fn tracing_spans_in_a_traced_fn_are_its_children_and_inherit() {
    let tracer = Tracer::in_memory(100);
    // The layer's own tracer is a no-op: spans outside tracekit spans are not recorded, and
    // those inside go to the traced code's tracer.
    let layer = TracingLayer::new(Tracer::noop());
    let stats = layer.stats();
    with_layer(layer, || {
        drop(tracing::info_span!("outside-any-tracekit-span").entered());
        Agent {
            tracer: tracer.clone(),
        }
        .turn();
    });
    let spans = all(&tracer);
    assert_eq!(common::names(&spans), ["turn", "framework-call", "tool"]);
    let (turn, call, tool) = (&spans[0], &spans[1], &spans[2]);
    // turn → framework-call → tool: a #[traced] fn inside a bridged span is its child.
    assert_eq!(call.parent_span_id, Some(turn.span_id));
    assert_eq!(tool.parent_span_id, Some(call.span_id));
    for span in &spans {
        assert_eq!(attr(span, "ai.conversation.id"), Some(&"conv-1".into()));
        assert_eq!(span.trace_id, turn.trace_id);
    }
    // The event inside the tool went to the tool's span.
    assert_eq!(tool.events[0].name, "retrying");
    assert_eq!((stats.spans(), stats.events()), (1, 1));
}

#[test]
fn an_explicit_root_inside_a_tracekit_span_is_adopted() {
    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(Tracer::noop()), || {
        let turn = tracer.trace("turn");
        // rig declares its agent span this way.
        drop(tracing::info_span!(parent: None, "invoke_agent").entered());
        drop(turn);
    });
    let agent = named(&tracer, "invoke_agent");
    assert_eq!(agent.parent_span_id, Some(named(&tracer, "turn").span_id));
}

#[test]
fn an_explicit_tracing_parent_wins_over_the_context() {
    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(tracer.clone()), || {
        let a = tracing::info_span!("a");
        let _b = tracing::info_span!("b").entered();
        drop(tracing::info_span!(parent: &a, "child-of-a"));
        drop(a);
    });
    let child = named(&tracer, "child-of-a");
    assert_eq!(child.parent_span_id, Some(named(&tracer, "a").span_id));
}

#[test]
fn spans_with_no_tracekit_parent_go_to_the_layers_tracer_and_context_picks_the_tracer() {
    let (layer_tracer, other) = (Tracer::in_memory(100), Tracer::in_memory(100));
    with_layer(TracingLayer::new(layer_tracer.clone()), || {
        drop(tracing::info_span!("root").entered());
        let _in_other = other.trace("other-turn");
        drop(tracing::info_span!("under-other").entered());
    });
    assert_eq!(common::names(&all(&layer_tracer)), ["root"]);
    assert_eq!(common::names(&all(&other)), ["other-turn", "under-other"]);
}

#[test]
fn instrumented_tasks_carry_bridged_spans_across_threads() {
    let tracer = Tracer::in_memory(1000);
    let agent = Arc::new(Agent {
        tracer: tracer.clone(),
    });
    block_on_with(TracingLayer::new(tracer.clone()), 2, async {
        let tasks: Vec<_> = (0..4)
            .map(|k| {
                let agent = agent.clone();
                tokio::spawn(async move { agent.turn_async(k).await })
            })
            .collect();
        for (k, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), k as u32);
        }
        // A bridged span carried into a spawned task with `in_current_trace`.
        let span = tracing::info_span!("spawner");
        let inner = tracer.clone();
        let child = async move {
            tokio::spawn(
                async move { inner.span("spawned").instrument(async {}).await }.in_current_trace(),
            )
            .await
            .unwrap()
        }
        .instrument(span);
        child.await;
    });
    let spans = all(&tracer);
    let turns: Vec<&Trace> = spans
        .iter()
        .filter(|s| s.span_name == "turn_async")
        .collect();
    assert_eq!(turns.len(), 4);
    for turn in turns {
        let task = spans
            .iter()
            .find(|s| s.span_name == "task-span" && s.parent_span_id == Some(turn.span_id))
            .expect("each turn's tracing span under it");
        assert_eq!(task.trace_id, turn.trace_id);
    }
    let spawned = named(&tracer, "spawned");
    assert_eq!(
        spawned.parent_span_id,
        Some(named(&tracer, "spawner").span_id)
    );
}

#[test]
fn four_hundred_concurrent_tasks_do_not_cross() {
    let tasks: u32 = if cfg!(miri) { 8 } else { 400 };
    let tracer = Tracer::in_memory(10_000);
    block_on_with(TracingLayer::new(Tracer::noop()), 4, async {
        let handles: Vec<_> = (0..tasks)
            .map(|k| {
                let tracer = tracer.clone();
                tokio::spawn(async move {
                    let turn = tracer
                        .span("turn")
                        .inheritable_attribute("task", k)
                        .instrument(async move {
                            for step in 0..3 {
                                async {
                                    tokio::task::yield_now().await;
                                    tracing::info!(step, "step done");
                                }
                                .instrument(tracing::info_span!("step", task = k))
                                .await;
                            }
                        });
                    turn.await
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let spans = all(&tracer);
    assert_eq!(spans.len(), tasks as usize * 4);
    let roots: std::collections::HashMap<i64, &Trace> = spans
        .iter()
        .filter(|s| s.span_name == "turn")
        .map(|s| (attr(s, "task").and_then(Value::as_i64).unwrap(), s))
        .collect();
    for step in spans.iter().filter(|s| s.span_name == "step") {
        let task = attr(step, "task").and_then(Value::as_i64).unwrap();
        let root = roots[&task];
        assert_eq!(step.parent_span_id, Some(root.span_id), "task {task}");
        assert_eq!(step.trace_id, root.trace_id);
        assert_eq!(step.events.len(), 1);
    }
}

/// A value whose `Debug` panics.
struct Hostile;

impl fmt::Debug for Hostile {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug of Hostile")
    }
}

#[test]
#[cfg_attr(miri, ignore = "the panic hook's backtrace is slow under Miri")]
fn a_panicking_debug_field_is_counted_not_propagated() {
    let tracer = Tracer::in_memory(100);
    let layer = TracingLayer::new(tracer.clone());
    let stats = layer.stats();
    with_layer(layer, || {
        let span = tracing::info_span!("hostile", value = ?Hostile, fine = 1);
        let _entered = span.enter();
        tracing::info!(value = ?Hostile, "event");
    });
    let span = named(&tracer, "hostile");
    assert_eq!(
        attr(&span, "value").and_then(Value::as_str),
        Some("<unrepresentable: its formatting panicked>")
    );
    assert_eq!(attr(&span, "fine"), Some(&1.into()));
    assert_eq!(stats.unrepresentable_fields(), 2);
}

#[test]
fn otel_fields_set_name_kind_and_status() {
    let tracer = Tracer::in_memory(100);
    let layer = TracingLayer::new(tracer.clone());
    let stats = layer.stats();
    with_layer(layer, || {
        drop(tracing::info_span!(
            "request",
            otel.name = "GET /weather",
            otel.kind = "server"
        ));
        drop(tracing::info_span!("failing", otel.status_code = "ERROR"));
        let e = std::io::Error::other("disk full");
        drop(tracing::info_span!(
            "errored",
            error = &e as &dyn std::error::Error
        ));
        let late = tracing::info_span!("late", otel.name = tracing::field::Empty);
        late.record("otel.name", "renamed too late");
    });
    let request = named(&tracer, "GET /weather");
    assert_eq!(request.span_kind, SpanKind::Server);
    assert_eq!(named(&tracer, "failing").span_status, SpanStatus::Error);
    let errored = named(&tracer, "errored");
    assert_eq!(errored.span_status, SpanStatus::Error);
    assert_eq!(
        attr(&errored, "exception.message"),
        Some(&"disk full".into())
    );
    assert_eq!(stats.late_renames(), 1);
    named(&tracer, "late");
}

#[test]
fn levels_filters_and_renames() {
    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(tracer.clone()), || {
        drop(tracing::debug_span!("debug-span"));
        drop(tracing::info_span!("info-span"));
    });
    assert_eq!(common::names(&all(&tracer)), ["info-span"]);

    let tracer = Tracer::in_memory(100);
    let layer = TracingLayer::new(tracer.clone())
        .max_level(tracing::Level::TRACE)
        .filter(|meta| meta.name() != "unwanted")
        .rename_fields(|name| match name {
            "secret" => None,
            "old" => Some("new".into()),
            other => Some(other.into()),
        });
    with_layer(layer, || {
        drop(tracing::trace_span!(
            "trace-span",
            secret = "hunter2",
            old = 1
        ));
        drop(tracing::info_span!("unwanted"));
    });
    let spans = all(&tracer);
    assert_eq!(common::names(&spans), ["trace-span"]);
    assert_eq!(attr(&spans[0], "secret"), None);
    assert_eq!(attr(&spans[0], "new"), Some(&1.into()));

    // A per-layer filter of tracing_subscriber applies as usual.
    use tracing_subscriber::Layer as _;
    let tracer = Tracer::in_memory(100);
    let filtered = TracingLayer::new(tracer.clone()).with_filter(
        tracing_subscriber::filter::filter_fn(|meta| meta.target() != "noisy"),
    );
    let subscriber = tracing_subscriber::registry().with(filtered);
    tracing::subscriber::with_default(subscriber, || {
        drop(tracing::info_span!(target: "noisy", "noise"));
        drop(tracing::info_span!("signal"));
    });
    assert_eq!(common::names(&all(&tracer)), ["signal"]);
}

/// A chat span as rig writes it: operation, provider and model at the start, usage and the
/// response model recorded once the response is in.
fn rig_like_chat(provider: &str, input: u64, cache_read: u64) {
    let span = tracing::info_span!(
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = provider,
        gen_ai.request.model = "claude-sonnet-4",
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
        gen_ai.usage.reasoning_tokens = tracing::field::Empty,
        gen_ai.input.messages = r#"[{"role":"user","content":"hi"}]"#,
    );
    span.record("gen_ai.response.model", "claude-sonnet-4");
    span.record("gen_ai.usage.input_tokens", input);
    span.record("gen_ai.usage.output_tokens", 300u64);
    span.record("gen_ai.usage.cache_read.input_tokens", cache_read);
    span.record("gen_ai.usage.reasoning_tokens", 20u64);
}

#[test]
fn genai_spans_are_completed_and_priced_once() {
    let run = |provider: &str, input: u64, capture: bool| {
        let tracer = Tracer::in_memory(100);
        let layer = TracingLayer::new(tracer.clone()).genai(GenAi::new().capture_content(capture));
        with_layer(layer, || rig_like_chat(provider, input, 1_000));
        named(&tracer, "chat")
    };
    // OpenAI-style counts include the cache; Anthropic's leave it out: the same call.
    let openai = run("openai", 1_200, false);
    let anthropic = run("anthropic", 200, true);
    for span in [&openai, &anthropic] {
        assert_eq!(span.span_kind, SpanKind::Client);
        assert_eq!(attr(span, "ai.trace.type"), Some(&"llm-invocation".into()));
        assert_eq!(
            attr(span, "peer.service"),
            Some(&"llm:claude-sonnet-4".into())
        );
        assert_eq!(attr(span, "openinference.span.kind"), Some(&"LLM".into()));
        assert_eq!(attr(span, "llm.token_count.prompt"), Some(&1_200u64.into()));
        assert_eq!(
            attr(span, "gen_ai.usage.input_tokens"),
            Some(&1_200u64.into())
        );
        assert_eq!(
            attr(span, "gen_ai.usage.cache_read.input_tokens"),
            Some(&1_000u64.into())
        );
        // rig's name folded into the current one.
        assert_eq!(attr(span, "gen_ai.usage.reasoning_tokens"), None);
        assert_eq!(
            attr(span, "gen_ai.usage.reasoning.output_tokens"),
            Some(&20u64.into())
        );
    }
    assert_eq!(attr(&openai, COST_USD), attr(&anthropic, COST_USD));
    assert!(attr(&openai, COST_USD).is_some());
    // Content only with capture on.
    assert_eq!(attr(&openai, "gen_ai.input.messages"), None);
    assert_eq!(attr(&openai, "ai.llm.request.messages"), None);
    assert_eq!(
        attr(&anthropic, "ai.llm.request.messages"),
        Some(&Value::from(
            serde_json::json!([{"role": "user", "content": "hi"}])
        ))
    );

    // A tool span, and a model the price table does not know.
    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(tracer.clone()), || {
        drop(tracing::info_span!(
            "execute_tool",
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = "get_weather",
            gen_ai.tool.call.id = "call-1"
        ));
        drop(tracing::info_span!(
            "chat",
            gen_ai.operation.name = "chat",
            gen_ai.request.model = "in-house-model",
            gen_ai.usage.input_tokens = 10u64,
            gen_ai.usage.output_tokens = 5u64
        ));
    });
    let tool = named(&tracer, "execute_tool");
    assert_eq!(tool.span_kind, SpanKind::Internal);
    assert_eq!(
        attr(&tool, "ai.trace.type"),
        Some(&"tool-invocation".into())
    );
    assert_eq!(attr(&tool, "ai.tool.use.id"), Some(&"call-1".into()));
    assert_eq!(attr(&tool, "openinference.span.kind"), Some(&"TOOL".into()));
    let chat = named(&tracer, "chat");
    assert_eq!(attr(&chat, UNPRICED), Some(&true.into()));
}

#[test]
fn a_bridged_span_carried_to_a_thread_is_the_parent_there() {
    let tracer = Tracer::in_memory(100);
    with_layer(TracingLayer::new(tracer.clone()), || {
        let _request = tracing::info_span!("request").entered();
        let worker = std::thread::spawn(tracekit::Context::current().wrap({
            let tracer = tracer.clone();
            move || drop(tracer.trace("on-a-thread"))
        }));
        worker.join().unwrap();
    });
    let spans = all(&tracer);
    assert_eq!(
        named(&tracer, "on-a-thread").parent_span_id,
        Some(named(&tracer, "request").span_id),
        "{}",
        tracekit::render::tree(&spans)
    );
}

#[test]
#[cfg_attr(miri, ignore = "the panic hook's backtrace is slow under Miri")]
fn a_panicking_filter_or_rename_hook_is_contained() {
    let tracer = Tracer::in_memory(100);
    let layer = TracingLayer::new(tracer.clone())
        .filter(|meta| meta.name() != "filter-panics" || panic!("filter"))
        .rename_fields(|name| {
            if name == "boom" {
                panic!("rename")
            } else {
                Some(name.into())
            }
        });
    let stats = layer.stats();
    let went_on = with_layer(layer, || {
        drop(tracing::info_span!("filter-panics"));
        drop(tracing::info_span!("rename-panics", boom = 1));
        drop(tracing::info_span!("fine", other = 1));
        true
    });
    assert!(went_on);
    assert_eq!(stats.contained_panics(), 2);
    assert_eq!(common::names(&all(&tracer)), ["fine"]);
}
