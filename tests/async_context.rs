//! Async context on a multi-thread runtime: spans follow their task, never leak between
//! tasks, survive `.await`, and end on completion, panic or cancellation.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{all, named, runtime};
use tracekit::{FutureExt, SpanStatus, TraceFilter, Tracer, Value};

#[test]
fn hundreds_of_concurrent_tasks_never_see_each_others_spans() {
    // Miri runs every step of four worker threads; a few tasks still interleave there.
    const TASKS: usize = if cfg!(miri) { 12 } else { 400 };
    let tracer = Tracer::in_memory(TASKS * 3);
    runtime(4).block_on(async {
        let mut handles = Vec::new();
        for task in 0..TASKS {
            let t = tracer.clone();
            handles.push(tokio::spawn(async move {
                let t2 = t.clone();
                t.span("root")
                    .instrument(async move {
                        t2.current_trace().add_inheritable_attribute("task", task);
                        tokio::task::yield_now().await;
                        let t3 = t2.clone();
                        t2.span("child")
                            .instrument(async move {
                                tokio::task::yield_now().await;
                                // Still our own span after the await, on whatever thread.
                                let current = t3.current_trace();
                                assert_eq!(current.span_name(), Some("child"));
                                let t4 = t3.clone();
                                t3.span("grandchild")
                                    .instrument(async move {
                                        tokio::task::yield_now().await;
                                        t4.current_trace().add_attribute("leaf.task", task);
                                    })
                                    .await;
                                tokio::task::yield_now().await;
                                assert_eq!(t3.current_trace().span_id(), current.span_id());
                            })
                            .await;
                        tokio::task::yield_now().await;
                        assert_eq!(t2.current_trace().span_name(), Some("root"));
                    })
                    .await;
                // Outside the span again.
                assert!(t.try_current_trace().is_none());
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let spans = all(&tracer);
    assert_eq!(spans.len(), TASKS * 3);
    let by_id: HashMap<_, _> = spans.iter().map(|s| (s.span_id, s)).collect();
    let roots: HashMap<_, _> = spans
        .iter()
        .filter(|s| s.span_name == "root")
        .map(|s| {
            (
                s.attributes.get("task").and_then(Value::as_u64).unwrap(),
                s.trace_id,
            )
        })
        .collect();
    assert_eq!(roots.len(), TASKS, "every task has its own root");
    for span in &spans {
        let task = span
            .attributes
            .get("task")
            .expect("inherited from the task's root");
        let root_trace = roots[&task.as_u64().unwrap()];
        assert_eq!(
            span.trace_id, root_trace,
            "{} of task {task:?}",
            span.span_name
        );
        if span.span_name != "root" {
            let parent = by_id[&span.parent_span_id.unwrap()];
            assert_eq!(parent.attributes.get("task"), Some(task));
        }
        if span.span_name == "grandchild" {
            assert_eq!(span.attributes.get("leaf.task"), Some(task));
        }
    }
}

#[test]
fn in_current_trace_carries_the_parent_into_spawned_tasks() {
    let tracer = Tracer::in_memory(10);
    runtime(4).block_on(async {
        let t = tracer.clone();
        tracer
            .span("parent")
            .instrument(async move {
                let t2 = t.clone();
                let with =
                    tokio::spawn(async move { drop(t2.trace("with-context")) }.in_current_trace());
                let t3 = t.clone();
                let without = tokio::spawn(async move { drop(t3.trace("without-context")) });
                with.await.unwrap();
                without.await.unwrap();
            })
            .await;
    });
    let parent = named(&tracer, "parent");
    assert_eq!(
        named(&tracer, "with-context").parent_span_id,
        Some(parent.span_id)
    );
    assert_eq!(named(&tracer, "without-context").parent_span_id, None);
}

#[test]
fn a_dropped_future_ends_its_span_as_cancelled_children_first() {
    let tracer = Tracer::in_memory(10);
    runtime(4).block_on(async {
        let t = tracer.clone();
        let slow = tracer.span("outer").instrument(async move {
            t.span("inner")
                .instrument(tokio::time::sleep(Duration::from_secs(60)))
                .await;
        });
        let timed_out = tokio::time::timeout(Duration::from_millis(20), slow).await;
        assert!(timed_out.is_err());
    });
    let spans = all(&tracer);
    for span in &spans {
        assert_eq!(span.attributes.get("cancelled"), Some(&Value::from(true)));
        assert_eq!(span.span_status, SpanStatus::Unset);
    }
    // End order is storage order in the in-memory tracer: inner first.
    let outer = named(&tracer, "outer");
    let inner = named(&tracer, "inner");
    assert!(inner.ended_at <= outer.ended_at);
    assert_eq!(inner.parent_span_id, Some(outer.span_id));
}

#[test]
fn a_panicking_future_records_the_message_and_the_panic_goes_on() {
    let tracer = Tracer::in_memory(10);
    let rt = runtime(4);
    let t = tracer.clone();
    let joined = rt.block_on(async move {
        tokio::spawn(async move {
            t.span("explodes")
                .instrument(async {
                    tokio::task::yield_now().await;
                    panic!("model returned garbage");
                })
                .await
        })
        .await
    });
    let err = joined.unwrap_err();
    assert!(err.is_panic());
    let payload = err.into_panic();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"model returned garbage")
    );
    let span = named(&tracer, "explodes");
    assert_eq!(span.span_status, SpanStatus::Error);
    assert_eq!(
        span.attributes.get("exception.message"),
        Some(&"model returned garbage".into())
    );
    assert!(!span.attributes.contains_key("cancelled"));
}

#[test]
fn instrumented_futures_are_send_and_spans_survive_thread_hops() {
    fn assert_send<T: Send>(_: &T) {}
    let tracer = Tracer::in_memory(100);
    let t = tracer.clone();
    let fut = tracer.span("hop").instrument(async move {
        let mut threads = std::collections::HashSet::new();
        for _ in 0..50 {
            threads.insert(std::thread::current().id());
            t.current_trace().add_attribute("hops", threads.len());
            tokio::task::yield_now().await;
        }
    });
    assert_send(&fut);
    runtime(4).block_on(async { tokio::spawn(fut).await.unwrap() });
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(spans.len(), 1);
    assert!(spans[0].attributes.get("hops").is_some());
}
