//! The weather agent replayed from a cassette committed beside this test
//! (`cassettes/weather.cassette.json`): its model's replies and its tools' results come from
//! the cassette, so the test runs offline and the same every time, and a change in what the
//! agent asks shows as a divergence. The cassette is what a recording run of the agent stores
//! today (checked below); `UPDATE_CASSETTES=1 cargo test -p tracekit-examples --test replay`
//! writes it again after a deliberate change.

#[path = "../agent.rs"]
#[allow(dead_code)]
mod agent;

use std::path::PathBuf;

use tracekit::replay::{Cassette, Replay};
use tracekit::testing::expect;
use tracekit::{Trace, Tracer, Value};

fn cassette_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cassettes/weather.cassette.json")
}

const QUESTION: &str = "What's the weather in Amsterdam, in Fahrenheit?";

fn spans(tracer: &Tracer) -> Vec<Trace> {
    tracer.get_traces(&Default::default()).unwrap()
}

#[test]
fn the_committed_cassette_is_what_a_recording_run_stores() {
    let tracer = Tracer::in_memory(1_000);
    tracer.set_recording(true);
    agent::WeatherAgent::new(tracer.clone()).converse("conv-record", "user123", QUESTION);
    let recorded = Cassette::from_spans(&spans(&tracer)).unwrap().to_json();
    if std::env::var_os("UPDATE_CASSETTES").is_some() {
        std::fs::write(cassette_path(), &recorded).unwrap();
    }
    let committed = std::fs::read_to_string(cassette_path()).unwrap();
    assert_eq!(
        committed, recorded,
        "the agent records something else now: if that is meant, run with UPDATE_CASSETTES=1"
    );
}

#[test]
fn the_weather_agent_replays_its_committed_cassette_offline() {
    let replay = Replay::new(Cassette::load(cassette_path()).unwrap());
    let tracer = Tracer::in_memory(1_000);
    // A model with no plan would answer at once, without a tool: every reply and tool result
    // below comes from the cassette, not from running the code.
    let agent = agent::WeatherAgent::with_plan(tracer.clone(), Vec::new());
    let answer = replay.run(|| agent.converse("conv-replay", "user123", QUESTION));
    assert_eq!(answer, "It is 18 °C (64.4 °F) and sunny in Amsterdam.");
    replay.check().unwrap();
    assert_eq!(replay.unused(), (0, 0));
    let spans = spans(&tracer);
    expect(&spans)
        .no_failed_spans()
        .tool_sequence(&["get_weather", "convert_units"])
        .llm_call_count(3)
        .all_carry("ai.conversation.id");
    let replayed = spans
        .iter()
        .filter(|s| s.attributes.get("tracekit.replay.replayed") == Some(&Value::from(true)))
        .count();
    assert_eq!(
        replayed, 5,
        "three model calls and two tools, all from the cassette"
    );
}

#[test]
fn asking_something_else_diverges_at_the_first_model_call() {
    let replay = Replay::new(Cassette::load(cassette_path()).unwrap());
    let agent = agent::WeatherAgent::new(Tracer::in_memory(100));
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        replay.run(|| agent.converse("conv-other", "user123", "And in Oslo?"))
    }));
    assert!(run.is_err(), "no recording for another question");
    let divergence = replay.check().unwrap_err();
    assert_eq!(
        (divergence.what.as_str(), divergence.position),
        ("model", 1)
    );
    let text = divergence.to_string();
    assert!(
        text.contains("+      \"content\": \"And in Oslo?\""),
        "{text}"
    );
}
