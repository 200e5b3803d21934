//! tracekit's output against the reference's byte-exact samples (tests/golden/).

mod common;

use common::SharedBuf;
use tracekit::render::RenderOptions;
use tracekit::sinks::StructuredLogs;
use tracekit::{Attributes, Scope, Sink, SpanKind, SpanStatus, Trace, Value};

fn ts(s: &str) -> tracekit::Timestamp {
    s.parse().unwrap()
}

fn resource() -> Attributes {
    [("service.name", "MyAgent")].into_iter().collect()
}

fn auth() -> Value {
    serde_json::json!({"principal_id": "user123"}).into()
}

fn span(name: &'static str, span_id: &str, parent: Option<&str>) -> Trace {
    Trace {
        span_name: name.into(),
        span_kind: SpanKind::Internal,
        trace_id: "94e99f04b60cea27d7b0f744b4a17d3e".parse().unwrap(),
        span_id: span_id.parse().unwrap(),
        parent_span_id: parent.map(|p| p.parse().unwrap()),
        started_at: ts("2025-07-04T11:12:48.882123+00:00"),
        ended_at: None,
        attributes: Attributes::new(),
        span_status: SpanStatus::Unset,
        resource_attributes: resource(),
        scope: Scope::new("generative-ai-toolkit", "current"),
        events: Vec::new(),
        snapshot_at: None,
    }
}

fn parent() -> Trace {
    let mut t = span("parent", "6c894f8009912f45", None);
    t.span_kind = SpanKind::Server;
    t.ended_at = Some(ts("2025-07-04T11:12:49.088623+00:00"));
    t.attributes
        .insert("ai.conversation.id", "01JZAJ75QJP9K1BFZM8SJRBB1B");
    t.attributes.insert("ai.auth.context", auth());
    t
}

fn child() -> Trace {
    let mut t = span("child", "681c5348bf73ae80", Some("6c894f8009912f45"));
    t.started_at = ts("2025-07-04T11:12:48.987140+00:00");
    t.ended_at = Some(ts("2025-07-04T11:12:49.087444+00:00"));
    t.attributes
        .insert("ai.conversation.id", "01JZAJ75QJP9K1BFZM8SJRBB1B");
    t.attributes.insert("ai.auth.context", auth());
    t.attributes.insert("ai.trace.type", "tool-invocation");
    t.attributes.insert("ai.tool.input", "Hello, world!");
    t.attributes.insert("ai.tool.output", "World, hello!");
    t
}

fn snapshot() -> Trace {
    let mut t = span("child", "681c5348bf73ae80", Some("6c894f8009912f45"));
    t.snapshot_at = Some(ts("2025-07-04T11:12:48.932000+00:00"));
    t.attributes
        .insert("ai.conversation.id", "01JZAJ75QJP9K1BFZM8SJRBB1B");
    t.attributes.insert("ai.trace.type", "tool-invocation");
    t.attributes.insert(
        "ai.tool.input",
        Value::from(serde_json::json!({"city": "Amsterdam"})),
    );
    t
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Decodes the Python string literals of a `*.escaped.txt` file, one per line.
fn python_literals(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let body = &line[1..line.len() - 1];
            let mut out = String::new();
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next().unwrap() {
                    'n' => out.push('\n'),
                    'x' => {
                        let hex: String = chars.by_ref().take(2).collect();
                        out.push(char::from(u8::from_str_radix(&hex, 16).unwrap()));
                    }
                    other => out.push(other),
                }
            }
            out
        })
        .collect()
}

#[test]
fn human_readable_plain_matches_reference() {
    let text = parent().as_human_readable() + &child().as_human_readable();
    assert_eq!(text, golden("golden-human-readable.plain.txt"));
}

#[test]
fn human_readable_ansi_matches_reference() {
    let colour = RenderOptions::default().color(true);
    let text = parent().as_human_readable_with(&colour) + &child().as_human_readable_with(&colour);
    assert_eq!(text, golden("golden-human-readable.ansi.txt"));
    let escaped = python_literals(&golden("golden-human-readable.escaped.txt"));
    assert_eq!(
        escaped,
        [parent(), child()].map(|t| t.as_human_readable_with(&colour))
    );
}

#[test]
fn human_readable_snapshot_matches_reference() {
    let expected = python_literals(&golden("golden-human-readable-snapshot.escaped.txt"));
    let snap = snapshot();
    assert_eq!(
        expected,
        [
            snap.as_human_readable_with(&RenderOptions::default().color(true)),
            snap.as_human_readable(),
        ]
    );
}

fn structured_lines(spans: &[Trace]) -> String {
    let buf = SharedBuf::default();
    let sink = StructuredLogs::new(buf.clone());
    for span in spans {
        sink.persist(span);
    }
    buf.text()
}

#[test]
fn structured_logs_match_reference() {
    assert_eq!(
        structured_lines(&[child(), parent()]),
        golden("golden-structured-logs.jsonl")
    );
}

#[test]
fn structured_logs_error_and_unended_match_reference() {
    let mut boom = span("boom", "1111111111111111", Some("6c894f8009912f45"));
    boom.ended_at = Some(ts("2025-07-04T11:12:50.116123+00:00"));
    boom.span_status = SpanStatus::Error;
    boom.attributes
        .insert("ai.conversation.id", "01JZAJ75QJP9K1BFZM8SJRBB1B");
    boom.attributes.insert("ai.auth.context", auth());
    boom.attributes.insert("exception.type", "ValueError");
    boom.attributes.insert("exception.message", "bad");
    boom.attributes.insert(
        "exception.traceback",
        "  File \"x.py\", line 1, in <module>\n",
    );
    let mut unended = span("unended", "3333333333333333", None);
    unended.resource_attributes = Attributes::new();
    assert_eq!(
        structured_lines(&[boom, unended]),
        golden("golden-structured-logs-error-and-unended.jsonl")
    );
}

#[test]
fn structured_log_lines_deserialize_back_to_equal_spans() {
    for line in golden("golden-structured-logs.jsonl").lines() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        let trace: Trace = serde_json::from_value(doc["trace"].clone()).unwrap();
        assert_eq!(serde_json::to_value(&trace).unwrap(), doc["trace"]);
    }
    let back: Trace = serde_json::from_value(serde_json::to_value(child()).unwrap()).unwrap();
    assert_eq!(back, child());
}

#[test]
fn human_readable_variants_follow_the_reference_rules() {
    // llm-invocation with truncation: the probe's max_length=60, max_lines=2 case.
    let mut llm = span("h2", "1fa3a5dd6e4bf8e6", None);
    llm.resource_attributes = Attributes::new();
    llm.ended_at = Some(llm.started_at);
    llm.attributes.insert("ai.trace.type", "llm-invocation");
    llm.attributes.insert("ai.auth.context", Value::Null);
    llm.attributes.insert(
        "ai.llm.request.messages",
        Value::from(serde_json::json!([{"content": [{"text": "hi\nthere"}]}])),
    );
    llm.attributes.insert(
        "ai.llm.response.output",
        Value::from(serde_json::json!({"message": {"role": "assistant", "content": [{"text": "x".repeat(200)}]}})),
    );
    llm.attributes
        .insert("ai.llm.response.stop.reason", "end_turn");
    let text = llm.as_human_readable_with(&RenderOptions::default().max_length(60).max_lines(2));
    let expected = format!(
        "[94e99f04b60cea27d7b0f744b4a17d3e/root/1fa3a5dd6e4bf8e6] <missing service.name> INTERNAL h2 - 2025-07-04T11:12:48.882Z - 2025-07-04T11:12:48.882Z [0.0s] \n  ai.trace.type=llm-invocation ai.auth.context=unknown-principal\n  Last message: [{{'text': 'hi\\nthere'}}]\n      Response: {{'message': {{'role': 'assistant', 'content': [{{'text': 'xxxx\n                {}...\n   Stop reason: end_turn\n",
        "x".repeat(57)
    );
    assert_eq!(text, expected);

    // A span with no attributes: header, then an empty line.
    let bare = span("bare", "2222222222222222", None);
    let mut ended = bare.clone();
    ended.ended_at = Some(ts("2025-07-04T11:12:49.882123+00:00"));
    assert!(ended.as_human_readable().ends_with("[1.0s] \n\n"));
    // An agent name wins over service.name; errors colour the kind red.
    ended.attributes.insert("ai.agent.name", "planner");
    ended.attributes.insert("exception.message", "boom");
    let coloured = ended.as_human_readable_with(&RenderOptions::default().color(true));
    assert!(
        coloured.contains("\x1b[96mplanner\x1b[0m \x1b[91mINTERNAL"),
        "{coloured:?}"
    );
}

#[test]
fn control_characters_cannot_drive_the_terminal() {
    let mut evil = child();
    evil.span_name = "name\x1b[2J".into();
    evil.attributes
        .insert("ai.tool.input", "\x1b]0;pwned\x07\r\u{9b}31m");
    evil.attributes.insert("ai.conversation.id", "c\x1b[31m");
    let text = evil.as_human_readable();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("name\\x1b[2J"));
    assert!(text.contains("Input: \\x1b]0;pwned\\x07\\r\\x9b31m"));
    assert!(text.contains("ai.conversation.id=c\\x1b[31m"));
}
