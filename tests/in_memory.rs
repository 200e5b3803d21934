//! The in-memory tracer and `get_traces` filters: ports of the toolkit's
//! `test_in_memory_tracer.py` plus every filter rule of reference §7.

mod common;

use common::{all, names};
use serde_json::json;
use tracekit::{SpanKind, TraceFilter, Tracer, Value};

fn tracer() -> Tracer {
    let t = Tracer::in_memory(1000);
    t.set_resource_attribute("service.name", "TestAgent");
    t
}

fn conv(t: &Tracer, name: &'static str, conversation: &str, sub: Value) {
    let span = t.trace(name);
    span.add_inheritable_attribute("ai.conversation.id", conversation);
    span.add_inheritable_attribute("ai.subcontext.id", sub);
}

#[test]
fn basic_trace_persistence_and_retrieval() {
    let t = tracer();
    let trace_id = {
        let span = t.trace("test-span");
        span.add_inheritable_attribute("ai.conversation.id", "conv-1");
        span.add_inheritable_attribute("ai.subcontext.id", "sub-1");
        span.add_attribute("other", "value");
        span.trace_id().unwrap()
    };
    let by_id = t
        .get_traces(&TraceFilter::new().trace_id(trace_id))
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].span_name, "test-span");
    assert_eq!(by_id[0].attributes.get("other"), Some(&"value".into()));
    assert_eq!(
        by_id[0].resource_attributes.get("service.name"),
        Some(&"TestAgent".into())
    );
    let by_attrs = t
        .get_traces(
            &TraceFilter::new()
                .attribute("ai.conversation.id", "conv-1")
                .attribute("ai.subcontext.id", "sub-1"),
        )
        .unwrap();
    assert_eq!(by_attrs, by_id);
}

#[test]
fn trace_with_none_subcontext_id() {
    let t = tracer();
    conv(&t, "with-none", "conv-1", Value::Null);
    conv(&t, "with-sub", "conv-1", "some-subcontext".into());
    drop(t.trace("without-key"));
    let found = t
        .get_traces(
            &TraceFilter::new()
                .attribute("ai.conversation.id", "conv-1")
                .attribute("ai.subcontext.id", Value::Null),
        )
        .unwrap();
    assert_eq!(names(&found), ["with-none"]);
}

#[test]
fn subcontext_isolation() {
    let t = tracer();
    conv(&t, "alpha", "conv-1", "alpha".into());
    conv(&t, "beta", "conv-1", "beta".into());
    conv(&t, "none", "conv-1", Value::Null);
    for (sub, expected) in [("alpha", "alpha"), ("beta", "beta")] {
        let found = t
            .get_traces(
                &TraceFilter::new()
                    .attribute("ai.conversation.id", "conv-1")
                    .attribute("ai.subcontext.id", sub),
            )
            .unwrap();
        assert_eq!(names(&found), [expected]);
    }
}

#[test]
fn nested_traces_with_inheritance() {
    let t = tracer();
    {
        let parent = t.span("parent").kind(SpanKind::Server).start();
        parent.add_inheritable_attribute("ai.conversation.id", "conv-1");
        parent.add_inheritable_attribute("ai.subcontext.id", "sub-1");
        let child = t.trace("child");
        child.add_attribute("child.attr", "x");
    }
    let found = t
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", "conv-1"))
        .unwrap();
    assert_eq!(names(&found), ["parent", "child"]);
    let child = &found[1];
    assert_eq!(
        child.attributes.get("ai.subcontext.id"),
        Some(&"sub-1".into())
    );
    assert_eq!(child.attributes.get("child.attr"), Some(&"x".into()));
    assert_eq!(child.parent_span_id, Some(found[0].span_id));
    assert_eq!(found[0].span_kind, SpanKind::Server);
}

#[test]
fn memory_size_limit() {
    let t = Tracer::in_memory(3);
    for i in 0..5 {
        let span = t.trace(format!("span-{i}"));
        span.add_attribute("index", i);
    }
    let kept = all(&t);
    assert_eq!(names(&kept), ["span-2", "span-3", "span-4"]);
    let indexes: Vec<_> = kept
        .iter()
        .map(|s| s.attributes.get("index").unwrap().as_i64())
        .collect();
    assert_eq!(indexes, [Some(2), Some(3), Some(4)]);
}

#[test]
fn eviction_is_by_end_order() {
    let t = Tracer::in_memory(3);
    {
        let _p = t.trace("P");
        for i in 0..3 {
            drop(t.trace(format!("C{i}")));
        }
    }
    // P ended last, so C0 (the first to end) went.
    assert_eq!(names(&all(&t)), ["P", "C1", "C2"]);
    let none = Tracer::in_memory(0);
    drop(none.trace("x"));
    assert!(all(&none).is_empty());
    assert_eq!(none.stats().spans_accepted, 1);
}

fn filtered(t: &Tracer, filter: TraceFilter) -> Vec<String> {
    names(&t.get_traces(&filter).unwrap())
}

#[test]
fn every_filter_rule() {
    let t = Tracer::in_memory(100);
    let f1_trace = {
        let f1 = t.trace("f1");
        f1.add_inheritable_attribute("d", json!({"a": 1, "b": [1, 2]}))
            .add_attribute("n", 1)
            .add_attribute("z", Value::Null)
            .add_attribute("flag", true);
        drop(t.trace("f2")); // inherits d
        f1.trace_id().unwrap()
    };
    {
        let f3 = t.trace("f3");
        f3.add_attribute("n", 1.0)
            .add_attribute("d", json!({"a": 1}));
    }
    // Whole nested values are compared, key order ignored.
    assert_eq!(
        filtered(
            &t,
            TraceFilter::new().attribute("d", json!({"b": [1, 2], "a": 1}))
        ),
        ["f1", "f2"]
    );
    // A sub-map does not match a larger map.
    assert_eq!(
        filtered(&t, TraceFilter::new().attribute("d", json!({"b": [1, 2]}))),
        Vec::<String>::new()
    );
    // Numbers compare by value; a bool is not a number.
    assert_eq!(
        filtered(&t, TraceFilter::new().attribute("n", 1)),
        ["f1", "f3"]
    );
    assert_eq!(
        filtered(&t, TraceFilter::new().attribute("n", true)),
        Vec::<String>::new()
    );
    assert_eq!(
        filtered(&t, TraceFilter::new().attribute("flag", true)),
        ["f1"]
    );
    // Null matches an explicit null only.
    assert_eq!(
        filtered(&t, TraceFilter::new().attribute("z", Value::Null)),
        ["f1"]
    );
    // Inherited attributes match on children; trace id ANDs with attributes.
    assert_eq!(
        filtered(
            &t,
            TraceFilter::new()
                .trace_id(f1_trace)
                .attribute("d", json!({"a": 1, "b": [1, 2]}))
        ),
        ["f1", "f2"]
    );
    assert_eq!(
        filtered(&t, TraceFilter::new().trace_id(f1_trace).attribute("n", 1)),
        ["f1"]
    );
    // No condition: everything, by start time. Unknown trace: nothing.
    assert_eq!(filtered(&t, TraceFilter::new()), ["f1", "f2", "f3"]);
    assert!(filtered(&t, TraceFilter::new().trace_id(tracekit::TraceId::random())).is_empty());
}

#[test]
fn results_are_sorted_by_start_and_open_spans_are_not_returned() {
    let t = Tracer::in_memory(10);
    let outer = t.trace("outer");
    drop(t.trace("inner"));
    assert_eq!(names(&all(&t)), ["inner"]);
    drop(outer);
    // Stored in end order (inner, outer), returned in start order.
    assert_eq!(names(&all(&t)), ["outer", "inner"]);
}
