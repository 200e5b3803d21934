//! The `tracekit` command against a real SQLite store written by tracekit: every command, and
//! bad input (a missing store, a wrong URL, an unknown id, a corrupt file) failing clearly.

use std::path::Path;
use std::process::{Command, Output};

use tracekit::genai::{GenAi, Usage};
use tracekit::{SpanStatus, Tracer};

fn tracekit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracekit"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failure(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Two conversations, one with a failing tool.
fn store(path: &Path) -> String {
    let tracer = Tracer::sqlite(path).unwrap();
    let genai = GenAi::new();
    let mut first_trace = String::new();
    for (i, conversation) in ["conv-a", "conv-b"].into_iter().enumerate() {
        let turn = genai.agent_turn(&tracer, "agent", conversation).start();
        if i == 0 {
            first_trace = turn.trace_id().unwrap().to_string();
        }
        let call = genai.chat(&tracer, "openai", "gpt-4o").start();
        genai.record_usage(&call, "gpt-4o", &Usage::new(1_000, 100));
        drop(call);
        let tool = genai.execute_tool(&tracer, "search", None).start();
        if i == 1 {
            tool.set_status(SpanStatus::Error);
        }
        drop(tool);
        drop(turn);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    tracer.shutdown().unwrap();
    first_trace
}

#[test]
fn ls_lists_newest_first_with_filters_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    store(&db);
    let db = db.to_str().unwrap();
    let text = stdout(&tracekit(&["ls", db]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].contains("conv-b") && lines[2].contains("conv-a"),
        "newest first: {text}"
    );
    assert!(lines[1].contains("$0.0"), "{text}");
    let only_errors = stdout(&tracekit(&[
        "ls",
        &format!("sqlite://{db}"),
        "--errors",
        "--json",
    ]));
    let rows: Vec<serde_json::Value> = only_errors
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["conversation_id"], "conv-b");
    assert_eq!(rows[0]["tokens"], 1_100);
    assert_eq!(rows[0]["spans"], 3);
    let by_attr = stdout(&tracekit(&[
        "ls",
        db,
        "--attr",
        "ai.conversation.id=conv-a",
        "--json",
    ]));
    assert_eq!(by_attr.lines().count(), 1);
    assert_eq!(
        stdout(&tracekit(&["ls", db, "--since", "1h", "--json"]))
            .lines()
            .count(),
        2
    );
    assert_eq!(
        stdout(&tracekit(&[
            "ls",
            db,
            "--since",
            "2000-01-01T00:00:00Z",
            "--limit",
            "1",
            "--json"
        ]))
        .lines()
        .count(),
        1
    );
    assert!(failure(&tracekit(&["ls", db, "--since", "yesterday"])).contains("--since"));
    assert!(failure(&tracekit(&["ls", db, "--attr", "novalue"])).contains("KEY=VALUE"));
}

#[test]
fn show_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let trace = store(&db);
    let db = db.to_str().unwrap();
    let tree = stdout(&tracekit(&["show", db, "conv-a"]));
    assert!(tree.starts_with("• invoke_agent agent"), "{tree}");
    assert!(tree.contains("[in 1000 · out 100 · $"), "{tree}");
    assert_eq!(
        stdout(&tracekit(&["show", db, &trace])),
        tree,
        "by trace id too"
    );
    let timeline = stdout(&tracekit(&[
        "show", db, "conv-a", "--format", "timeline", "--width", "60",
    ]));
    assert!(
        timeline.lines().all(|l| l.chars().count() == 60),
        "{timeline}"
    );
    let summary = stdout(&tracekit(&["show", db, "conv-b", "--format", "summary"]));
    assert!(
        summary.contains("LLM calls 1") && summary.contains("errors 1"),
        "{summary}"
    );
    let human = stdout(&tracekit(&["show", db, "conv-a", "--format", "human"]));
    assert!(human.contains("invoke_agent agent"), "{human}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&tracekit(&[
        "show", db, "conv-a", "--format", "json",
    ])))
    .unwrap();
    assert_eq!(json["traces"][0]["spans"].as_array().unwrap().len(), 3);
    let jaeger: serde_json::Value = serde_json::from_str(&stdout(&tracekit(&[
        "show", db, "conv-a", "--format", "jaeger",
    ])))
    .unwrap();
    assert_eq!(jaeger["data"][0]["traceID"], trace);
}

#[test]
fn export_to_files_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    store(&db);
    let db = db.to_str().unwrap();
    let jsonl = stdout(&tracekit(&["export", db]));
    assert_eq!(jsonl.lines().count(), 6);
    let out = dir.path().join("conv-a.json");
    stdout(&tracekit(&[
        "export",
        db,
        "--id",
        "conv-a",
        "--format",
        "jaeger",
        "-o",
        out.to_str().unwrap(),
    ]));
    let jaeger: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(jaeger["data"][0]["spans"].as_array().unwrap().len(), 3);
    let otlp: serde_json::Value =
        serde_json::from_str(&stdout(&tracekit(&["export", db, "--format", "otlp-json"]))).unwrap();
    assert_eq!(
        otlp["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert!(
        failure(&tracekit(&["export", db, "-o", "/nonexistent/dir/x.json"]))
            .contains("/nonexistent/dir")
    );
}

/// The span names of JSON lines.
fn span_names(lines: &str) -> Vec<String> {
    lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["span_name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn tail_prints_spans_as_they_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    store(&db);
    let db_str = db.to_str().unwrap().to_owned();
    let follower = std::thread::spawn(move || {
        tracekit(&[
            "tail",
            &db_str,
            "--json",
            "--interval",
            "0.05",
            "--count",
            "2",
        ])
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let tracer = Tracer::sqlite(&db).unwrap();
    drop(tracer.trace("new-1"));
    drop(tracer.trace("new-2"));
    tracer.shutdown().unwrap();
    let out = stdout(&follower.join().unwrap());
    let names = span_names(&out);
    assert_eq!(names, ["new-1", "new-2"], "only the new spans");
    let all = stdout(&tracekit(&[
        "tail",
        db.to_str().unwrap(),
        "--from-start",
        "--json",
        "--count",
        "8",
    ]));
    // In the order they were written: each turn's root after its children, then the new.
    let names = span_names(&all);
    assert_eq!(
        names,
        [
            "chat gpt-4o",
            "execute_tool search",
            "invoke_agent agent",
            "chat gpt-4o",
            "execute_tool search",
            "invoke_agent agent",
            "new-1",
            "new-2"
        ]
    );
}

#[test]
fn bad_input_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let err = failure(&tracekit(&["ls", missing.to_str().unwrap()]));
    assert!(err.contains("no store at") && !missing.exists(), "{err}");
    assert!(failure(&tracekit(&["ls", "mysql://db"])).contains("unknown scheme `mysql`"));
    assert!(failure(&tracekit(&["ls", "dynamodb://t?colour=red"])).contains("colour=red"));
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(
        &corrupt,
        b"this is not a database, just text that is long enough to look at",
    )
    .unwrap();
    let err = failure(&tracekit(&["ls", corrupt.to_str().unwrap()]));
    assert!(err.contains("not a SQLite database"), "{err}");
    let db = dir.path().join("traces.db");
    store(&db);
    let err = failure(&tracekit(&["show", db.to_str().unwrap(), "conv-zzz"]));
    assert!(
        err.contains("no trace or conversation \"conv-zzz\""),
        "{err}"
    );
    assert!(failure(&tracekit(&[
        "tail",
        db.to_str().unwrap(),
        "--interval",
        "0"
    ]))
    .contains("--interval"));
    assert!(failure(&tracekit(&[
        "show",
        db.to_str().unwrap(),
        "x",
        "--format",
        "pdf"
    ]))
    .contains("pdf"));
}

#[test]
fn help_and_completions() {
    let help = stdout(&tracekit(&["ls", "--help"]));
    assert!(
        help.contains("Examples:") && help.contains("--since"),
        "{help}"
    );
    let bash = stdout(&tracekit(&["completions", "bash"]));
    assert!(bash.contains("tracekit"), "{bash}");
}
