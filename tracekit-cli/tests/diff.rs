//! `tracekit diff` on the weather agent's runs: two runs of the unchanged agent diff clean
//! (exit 0); an agent whose model swaps a tool call and makes one more LLM call differs
//! (exit 1) and the report names the span where it diverges; across two stores; bad input
//! exits 2.

#[path = "../../examples/agent.rs"]
#[allow(dead_code)]
mod agent;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use tracekit::Tracer;

fn tracekit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracekit"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// One turn of the agent with `plan` in conversation `conversation` of the store at `path`.
fn run(path: &Path, conversation: &str, plan: Vec<(&'static str, tracekit::Value)>) {
    let tracer = Tracer::sqlite(path).unwrap();
    agent::WeatherAgent::with_plan(tracer.clone(), plan).converse(
        conversation,
        "user123",
        "What's the weather in Amsterdam, in Fahrenheit?",
    );
    tracer.shutdown().unwrap();
}

#[test]
fn runs_of_the_same_agent_diff_clean_and_a_changed_agent_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let other = dir.path().join("other.db");
    run(&db, "run-1", agent::usual_plan());
    run(&db, "run-2", agent::usual_plan());
    run(&other, "run-1", agent::usual_plan());
    // The model now converts first (a swapped tool call), then does both: one more LLM call.
    let changed = vec![
        ("convert_units", json!({"celsius": 18}).into()),
        ("get_weather", json!({"city": "Amsterdam"}).into()),
        ("convert_units", json!({"celsius": 18}).into()),
    ];
    run(&db, "run-3", changed);
    let db = db.to_str().unwrap();

    let same = tracekit(&["diff", db, "run-1", "run-2"]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(text(&same).starts_with("same"), "{}", text(&same));
    let across = tracekit(&[
        "diff",
        db,
        "run-1",
        "run-1",
        "--against",
        other.to_str().unwrap(),
    ]);
    assert_eq!(across.status.code(), Some(0), "{}", text(&across));

    let differs = tracekit(&["diff", db, "run-1", "run-3"]);
    assert_eq!(differs.status.code(), Some(1), "{}", text(&differs));
    let report = text(&differs);
    // The model's first answer is where the runs part: it asked for another tool.
    assert!(
        report
            .lines()
            .next()
            .unwrap()
            .contains("first at converse > llm-invocation #1 (attribute ai.llm.response.output)"),
        "{report}"
    );
    assert!(report.contains("+ converse > convert_units #1"), "{report}");
    assert!(
        report.contains("+ converse > llm-invocation #2"),
        "{report}"
    );
    assert!(report.contains("tool calls before: get_weather({\"city\":\"Amsterdam\"}), convert_units({\"celsius\":18})"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("llm") && l.contains("3 → 4") && l.contains("675 → 980")),
        "{report}"
    );

    let json_out = tracekit(&["diff", db, "run-1", "run-3", "--json"]);
    assert_eq!(json_out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(value["same"], false);
    assert_eq!(value["first_divergence"], "converse > llm-invocation #1");
    assert_eq!(value["changes"][1]["change"], "added");
    assert_eq!(value["totals"]["llm"]["spans"], json!([3, 4]));
    assert_eq!(value["tool_calls"][1].as_array().unwrap().len(), 3);

    // Cost grew (one more LLM call): over a 10 % limit it says so.
    let budget = tracekit(&["diff", db, "run-1", "run-3", "--max-cost-increase", "10%"]);
    assert!(
        text(&budget).contains("over the limit: cost grew +"),
        "{}",
        text(&budget)
    );

    // Bad input: exit 2 with a message, never a panic.
    for args in [
        vec!["diff", db, "run-1", "nope"],
        vec!["diff", db, "run-1", "run-2", "--max-cost-increase", "lots"],
        vec!["diff", "missing.db", "a", "b"],
    ] {
        let out = tracekit(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains("panicked"));
    }
}
