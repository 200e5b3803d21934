//! Current-span context: per tracer, restored on exit, carried into threads on request.

mod common;

use common::{all, named};
use tracekit::{Context, Tracer};

#[test]
fn current_trace_outside_a_span_is_a_noop_handle() {
    let t = Tracer::in_memory(10);
    assert!(t.try_current_trace().is_none());
    let handle = t.current_trace();
    assert!(!handle.is_recording());
    handle
        .add_attribute("k", "v")
        .set_status(tracekit::SpanStatus::Error);
    assert!(all(&t).is_empty());
}

#[test]
fn child_is_parented_and_current_is_restored() {
    let t = Tracer::in_memory(10);
    let parent = t.trace("parent");
    {
        let child = t.trace("child");
        assert_eq!(t.current_trace().span_id(), child.span_id());
        assert_eq!(child.trace_id(), parent.trace_id());
    }
    assert_eq!(t.current_trace().span_id(), parent.span_id());
    drop(parent);
    assert!(t.try_current_trace().is_none());
    let child = named(&t, "child");
    assert_eq!(child.parent_span_id, named(&t, "parent").span_id.into());
}

#[test]
fn tracers_do_not_share_context() {
    let a = Tracer::in_memory(10);
    let b = Tracer::in_memory(10);
    let clone_of_a = a.clone();
    let outer = a.trace("a-outer");
    let inner_b = b.trace("b-inside-a");
    // A span of tracer B inside a span of tracer A starts a new trace of B.
    assert_ne!(inner_b.trace_id(), outer.trace_id());
    assert!(b.current_trace().span_id() == inner_b.span_id());
    // Clones share the context.
    assert_eq!(clone_of_a.current_trace().span_id(), outer.span_id());
    let a_child = a.trace("a-child");
    assert_eq!(a_child.trace_id(), outer.trace_id());
    drop((a_child, inner_b, outer));
    assert_eq!(named(&b, "b-inside-a").parent_span_id, None);
    assert_eq!(
        named(&a, "a-child").parent_span_id,
        Some(named(&a, "a-outer").span_id)
    );
}

#[test]
fn guards_may_end_out_of_order_without_a_stale_current_span() {
    let t = Tracer::in_memory(10);
    let a = t.trace("A");
    let b = t.trace("B");
    drop(a); // ends A first
    assert_eq!(t.current_trace().span_name(), Some("B"));
    drop(b);
    // The reference leaves the ended A current here; tracekit has nothing current.
    assert!(t.try_current_trace().is_none());
    assert_eq!(all(&t).len(), 2);
}

#[test]
fn plain_threads_start_new_traces_and_context_wrap_carries_the_parent() {
    let t = Tracer::in_memory(10);
    let parent = t.trace("parent");
    let plain = std::thread::spawn({
        let t = t.clone();
        move || t.trace("plain").trace_id()
    });
    let wrapped = std::thread::spawn(Context::current().wrap({
        let t = t.clone();
        move || t.trace("wrapped").trace_id()
    }));
    assert_ne!(plain.join().unwrap(), parent.trace_id());
    assert_eq!(wrapped.join().unwrap(), parent.trace_id());
    drop(parent);
    assert_eq!(
        named(&t, "wrapped").parent_span_id,
        Some(named(&t, "parent").span_id)
    );
}

#[test]
fn context_attach_makes_captured_spans_current_until_dropped() {
    let t = Tracer::in_memory(10);
    let captured = {
        let _p = t.trace("p");
        Context::current()
    };
    assert!(t.try_current_trace().is_none());
    {
        let _attached = captured.clone().attach();
        assert_eq!(t.current_trace().span_name(), Some("p"));
        // The span ended, so writes through it are ignored and counted.
        t.current_trace().add_attribute("late", 1);
    }
    assert!(t.try_current_trace().is_none());
    assert_eq!(t.stats().late_writes, 1);
    assert!(Context::current().is_empty());
}

#[test]
fn explicit_and_remote_parents() {
    let t = Tracer::in_memory(10);
    let trace_id: tracekit::TraceId = "94e99f04b60cea27d7b0f744b4a17d3e".parse().unwrap();
    let parent_id: tracekit::SpanId = "6c894f8009912f45".parse().unwrap();
    {
        let _current = t.trace("current");
        drop(t.span("remote").remote_parent(trace_id, parent_id).start());
        drop(t.span("new-root").root().start());
    }
    let remote = named(&t, "remote");
    assert_eq!(
        (remote.trace_id, remote.parent_span_id),
        (trace_id, Some(parent_id))
    );
    let root = named(&t, "new-root");
    assert_eq!(root.parent_span_id, None);
    assert_ne!(root.trace_id, named(&t, "current").trace_id);
}

#[test]
fn noop_tracer_records_and_tracks_nothing() {
    let t = Tracer::noop();
    let span = t.trace("x");
    span.add_inheritable_attribute("k", 1);
    assert_eq!(span.span_id(), None);
    assert!(t.try_current_trace().is_none());
    assert!(matches!(
        t.get_traces(&Default::default()),
        Err(tracekit::Error::Unsupported { .. })
    ));
    assert_eq!(t.stats(), tracekit::Stats::default());
    t.flush().unwrap();
    t.shutdown().unwrap();
}

#[test]
fn a_guard_dropped_by_a_panic_marks_the_span_failed() {
    let t = Tracer::in_memory(10);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _span = t.trace("doomed");
        panic!("kaboom");
    }));
    assert!(result.is_err());
    let span = named(&t, "doomed");
    assert_eq!(span.span_status, tracekit::SpanStatus::Error);
    assert_eq!(span.attributes.get("exception.type"), Some(&"panic".into()));
}
