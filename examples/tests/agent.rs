//! The weather agent tested through its traces: what it called, in which order, with which
//! arguments, what it cost; and a snapshot of its whole trace (insta).

#[path = "../agent.rs"]
#[allow(dead_code)]
mod agent;

use serde_json::json;
use tracekit::testing::{expect, snapshot};
use tracekit::{Trace, Tracer, Value};

/// One turn of the agent, its spans read back from memory.
fn run(plan: Vec<(&'static str, Value)>) -> Vec<Trace> {
    let tracer = Tracer::in_memory(1_000);
    let agent = agent::WeatherAgent::with_plan(tracer.clone(), plan);
    agent.converse(
        "conv-test",
        "user123",
        "What's the weather in Amsterdam, in Fahrenheit?",
    );
    tracer.get_traces(&Default::default()).unwrap()
}

#[test]
fn the_agent_calls_its_tools_in_order_and_stays_in_budget() {
    let spans = run(agent::usual_plan());
    let check = expect(&spans);
    check
        .no_failed_spans()
        .all_carry("ai.conversation.id")
        .tool_sequence(&["get_weather", "convert_units"])
        .tool_arguments(&[
            Some(json!({"city": "Amsterdam"}).into()),
            Some(json!({"celsius": 18}).into()),
        ])
        .llm_call_count(3)
        .tokens_at_most(1_000)
        .cost_at_most(0.01)
        .child_of("llm-invocation", "converse")
        .child_of("get_weather", "converse");
    assert_eq!(check.tokens().input, 600);
    assert_eq!(
        check.span("converse").attributes.get("ai.agent.response"),
        Some(&Value::from(
            "It is 18 °C (64.4 °F) and sunny in Amsterdam."
        ))
    );
    assert_eq!(check.named("llm-invocation").len(), 3);
}

#[test]
fn the_agents_trace_matches_its_snapshot() {
    insta::assert_snapshot!(snapshot(&run(agent::usual_plan())));
}

/// A failed assertion says what it expected and prints the tree.
#[test]
fn a_failed_expectation_prints_the_tree() {
    let spans = run(agent::usual_plan());
    let failure = std::panic::catch_unwind(|| {
        expect(&spans).tool_sequence(&["convert_units", "get_weather"]);
    })
    .unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains(r#"expected the tool calls ["convert_units", "get_weather"], found ["get_weather", "convert_units"]"#),
        "{message}"
    );
    assert!(message.contains("├─ get_weather (CLIENT)"), "{message}");
}
