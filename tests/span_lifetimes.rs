//! Spans outlive the handles that made them, and their storage is reused: neither may lose a
//! span, deliver it twice, or let one span's data show up on another.

mod common;

use std::future::Future;

use common::Kept;
use tracekit::{Scope, SpanKind, SpanStatus, TraceFilter, Tracer, Value};

#[test]
fn spans_still_open_when_the_last_tracer_handle_drops_are_delivered() {
    let kept = Kept::default();
    let tracer = Tracer::new(kept.clone());
    let root = tracer.trace("root");
    let child = tracer.trace("child");
    let handle = tracer.current_trace();
    drop(tracer);
    handle.add_attribute("after", "the tracer handle was dropped");
    drop(child);
    drop(root);
    assert_eq!(kept.names(), ["child", "root"]);
    let spans = kept.spans();
    assert_eq!(
        spans[0].attributes.get("after"),
        Some(&Value::from("the tracer handle was dropped"))
    );
    assert_eq!(spans[0].parent_span_id, Some(spans[1].span_id));
}

#[test]
fn a_child_outliving_its_parent_and_tracer_is_delivered() {
    let kept = Kept::default();
    let child = {
        let tracer = Tracer::new(kept.clone());
        let parent = tracer.trace("parent");
        parent.add_inheritable_attribute("conversation", "c-1");
        let child = tracer.span("child").start();
        drop(parent);
        child
    };
    drop(child);
    assert_eq!(kept.names(), ["parent", "child"]);
    let spans = kept.spans();
    assert_eq!(spans[1].attributes.get("conversation"), Some(&"c-1".into()));
}

#[test]
fn spans_made_through_tracer_current_are_delivered() {
    let kept = Kept::default();
    let tracer = Tracer::new(kept.clone());
    {
        let _root = tracer.trace("root");
        let current = Tracer::current();
        drop(current.span("inner").root().start());
        drop(current.trace("nested"));
    }
    drop(tracer);
    assert_eq!(kept.names(), ["inner", "nested", "root"]);
}

#[test]
fn a_reused_span_carries_nothing_over_from_the_last_one() {
    let tracer = Tracer::in_memory(100);
    for _ in 0..3 {
        let span = tracer
            .span("busy")
            .kind(SpanKind::Client)
            .scope(Scope::new("other", "9"))
            .attribute("a", 1)
            .inheritable_attribute("b", 2)
            .start();
        span.add_event("e", [("k", 1)])
            .set_status(SpanStatus::Error);
        drop(span);
        let plain = tracer.trace("plain");
        assert!(plain.snapshot().unwrap().attributes.is_empty());
        drop(plain);
    }
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(spans.len(), 6);
    for plain in spans.iter().filter(|t| t.span_name == "plain") {
        assert!(plain.attributes.is_empty(), "{plain:?}");
        assert!(plain.events.is_empty());
        assert_eq!(plain.span_kind, SpanKind::Internal);
        assert_eq!(plain.span_status, SpanStatus::Unset);
        assert_eq!(plain.scope, Scope::default());
        assert_eq!(plain.parent_span_id, None);
    }
    let ids: std::collections::HashSet<_> = spans.iter().map(|t| t.span_id).collect();
    assert_eq!(ids.len(), 6, "every span has its own id");
}

#[test]
fn a_span_ends_once_however_many_handles_it_has() {
    let kept = Kept::default();
    let tracer = Tracer::new(kept.clone());
    let handles = {
        let span = tracer.trace("once");
        vec![tracer.current_trace(), span.span().clone()]
    };
    for handle in &handles {
        handle.add_attribute("late", true);
    }
    drop(handles);
    assert_eq!(kept.names(), ["once"]);
    assert_eq!(tracer.stats().late_writes, 2);
    assert_eq!(tracer.stats().spans_accepted, 1);
}

#[test]
fn spans_that_end_on_another_thread_are_stored_and_reused_there() {
    let tracer = Tracer::in_memory(100);
    let handle = tracer
        .span("moved")
        .attribute("k", 1)
        .instrument(async { 7 });
    let out = std::thread::spawn(move || {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut handle = std::pin::pin!(handle);
        match handle.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => unreachable!("ready at once"),
        }
    })
    .join()
    .unwrap();
    assert_eq!(out, 7);
    drop(tracer.trace("after"));
    let names: Vec<_> = tracer
        .get_traces(&TraceFilter::new())
        .unwrap()
        .into_iter()
        .map(|t| (t.span_name.to_string(), t.attributes.len()))
        .collect();
    assert_eq!(names, [("moved".to_string(), 1), ("after".to_string(), 0)]);
}
