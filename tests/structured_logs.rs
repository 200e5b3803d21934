//! The structured-logs tracer end to end: one JSON object per span, reference shape.

mod common;

use common::SharedBuf;
use tracekit::sinks::HumanReadable;
use tracekit::{SpanKind, SpanStatus, Tracer};

#[test]
fn one_json_line_per_span_in_the_reference_shape() {
    let buf = SharedBuf::default();
    let tracer = Tracer::structured_logs(buf.clone());
    tracer.set_resource_attribute("service.name", "MyAgent");
    {
        let parent = tracer.span("parent").kind(SpanKind::Server).start();
        parent.add_inheritable_attribute("ai.conversation.id", "c-1");
        let child = tracer.trace("child");
        child.set_status(SpanStatus::Error);
        child.add_event("retry", [("attempt", 2)]);
    }
    let text = buf.text();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let child = &lines[0];
    assert_eq!(child["logger"], "TraceLogger");
    assert_eq!(child["level"], "INFO");
    assert_eq!(child["message"], "Trace");
    let t = &child["trace"];
    let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "span_name",
            "span_kind",
            "trace_id",
            "span_id",
            "parent_span_id",
            "started_at",
            "ended_at",
            "duration_ms",
            "attributes",
            "span_status",
            "resource_attributes",
            "scope",
            "events"
        ]
    );
    assert_eq!(t["span_kind"], "INTERNAL");
    assert_eq!(t["span_status"], "ERROR");
    assert!(t["duration_ms"].is_u64());
    assert_eq!(t["attributes"]["ai.conversation.id"], "c-1");
    assert_eq!(t["resource_attributes"]["service.name"], "MyAgent");
    assert_eq!(t["scope"]["name"], "tracekit");
    assert_eq!(t["events"][0]["name"], "retry");
    let started = t["started_at"].as_str().unwrap();
    assert!(
        started.ends_with("+00:00") && started.contains('T'),
        "{started}"
    );
    let trace_id = t["trace_id"].as_str().unwrap();
    assert!(
        trace_id.len() == 32
            && trace_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let parent = &lines[1]["trace"];
    assert_eq!(parent["span_kind"], "SERVER");
    assert_eq!(parent["parent_span_id"], serde_json::Value::Null);
    assert_eq!(t["parent_span_id"], parent["span_id"]);
    assert!(parent.get("events").is_none());
}

#[test]
fn human_readable_tracer_prints_a_blank_line_after_each_span_without_colour_off_a_terminal() {
    let buf = SharedBuf::default();
    // Width fixed so the test does not depend on $COLUMNS.
    let tracer = Tracer::new(HumanReadable::new(buf.clone()).max_length(80));
    tracer.set_resource_attribute("service.name", "MyAgent");
    {
        let span = tracer.trace("tool");
        span.add_attribute("ai.trace.type", "tool-invocation");
        span.add_attribute("ai.tool.input", "x".repeat(500));
    }
    let text = buf.text();
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(text.ends_with("\n\n"), "{text:?}");
    let input_lines = text.lines().skip(2).collect::<Vec<_>>();
    // 4 lines of at most 80 characters after the 16-character title column, the last cut.
    assert_eq!(input_lines.len(), 4 + 1, "{text}");
    assert!(input_lines[3].ends_with("..."));
    assert_eq!(input_lines[0].len(), 16 + 80);
}
