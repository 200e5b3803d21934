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

/// Starts and ends spans that reuse this thread's pooled span storage, each with an
/// inheritable attribute that must not show up on any other span.
fn churn(tracer: &Tracer) {
    for _ in 0..40 {
        let a = tracer
            .span("churn")
            .inheritable_attribute("conversation", "churn")
            .start();
        let b = tracer.trace("churn-child");
        drop(b);
        drop(a);
    }
}

#[test]
fn a_guard_that_outlives_its_parents_guard_still_inherits_from_it() {
    let kept = Kept::default();
    let tracer = Tracer::new(kept.clone());
    let parent = tracer
        .span("parent")
        .inheritable_attribute("conversation", "c-1")
        .start();
    let parent_id = parent.span_id();
    let child = tracer.trace("child");
    let grandchild = tracer.trace("grandchild");
    // Out of order: the spans above stop borrowing the parent, which stays alive for them.
    drop(parent);
    churn(&tracer);
    drop(child);
    churn(&tracer);
    drop(grandchild);
    let spans = kept.spans();
    let find = |name: &str| spans.iter().find(|s| s.span_name == name).unwrap();
    assert_eq!(find("child").parent_span_id, parent_id);
    for name in ["child", "grandchild"] {
        assert_eq!(
            find(name).attributes.get("conversation"),
            Some(&"c-1".into()),
            "{name}"
        );
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "forgets a guard on purpose, which Miri reports as a leak"
)]
fn a_forgotten_guard_leaks_but_its_parent_still_ends() {
    let kept = Kept::default();
    let tracer = Tracer::new(kept.clone());
    std::thread::scope(|s| {
        s.spawn(|| {
            let parent = tracer.trace("parent");
            std::mem::forget(tracer.trace("forgotten"));
            drop(parent);
            churn(&tracer);
            // The thread's context stack is torn down with the forgotten entry still on it.
        });
    });
    let names = kept.names();
    assert!(names.contains(&"parent".to_string()), "{names:?}");
    assert!(!names.contains(&"forgotten".to_string()), "{names:?}");
}

/// Runs `escape` inside a root span (with an inheritable attribute) and a child guard. The
/// guards end and their storage is reused; then `late` runs on another thread with what
/// escaped and must record a span named "late" that still inherits the root's attribute.
fn inherits_after_the_guards_end<T: Send + 'static>(
    escape: impl FnOnce(&Tracer, &tracekit::SpanGuard) -> T,
    late: impl FnOnce(&Tracer, T) + Send + 'static,
) {
    let kept = Kept::default();
    let tracer = Tracer::new(kept.clone());
    let escaped = {
        let _root = tracer
            .span("root")
            .inheritable_attribute("conversation", "c-4")
            .start();
        let child = tracer.trace("child");
        escape(&tracer, &child)
    };
    churn(&tracer);
    std::thread::spawn({
        let tracer = tracer.clone();
        move || late(&tracer, escaped)
    })
    .join()
    .unwrap();
    let spans = kept.spans();
    let late = spans.iter().find(|s| s.span_name == "late").unwrap();
    assert_eq!(late.attributes.get("conversation"), Some(&"c-4".into()));
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn a_handle_from_a_guard_keeps_the_ancestors_a_later_child_inherits_from() {
    inherits_after_the_guards_end(
        |_, child| child.span().clone(),
        |tracer, handle| drop(tracer.span("late").parent(&handle).start()),
    );
}

#[test]
fn a_handle_from_current_trace_keeps_the_ancestors() {
    inherits_after_the_guards_end(
        |tracer, _| tracer.current_trace(),
        |tracer, handle| drop(tracer.span("late").parent(&handle).start()),
    );
}

#[test]
fn a_captured_context_keeps_the_ancestors() {
    inherits_after_the_guards_end(
        |_, _| tracekit::Context::current(),
        |tracer, context| {
            let _attached = context.attach();
            drop(tracer.trace("late"));
        },
    );
}

#[test]
fn a_future_started_under_guards_keeps_the_ancestors() {
    inherits_after_the_guards_end(
        |tracer, _| tracer.span("late").instrument(async {}),
        |_, future| block_on(future),
    );
}

struct Agent {
    tracer: Tracer,
}

/// Pending once, then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Agent {
    #[tracekit::traced("late")]
    async fn late_async(self) {
        YieldOnce(false).await
    }

    #[tracekit::traced("late", stream)]
    fn late_items(&self) -> impl Iterator<Item = u32> {
        0..3
    }
}

#[test]
fn a_traced_future_and_a_traced_iterator_keep_the_ancestors() {
    inherits_after_the_guards_end(
        |tracer, _| {
            // Polled once here, under the guards: the span starts then.
            let mut future = Box::pin(
                Agent {
                    tracer: tracer.clone(),
                }
                .late_async(),
            );
            let waker = std::task::Waker::noop();
            let polled = future
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker));
            assert!(polled.is_pending());
            future
        },
        |_, future| block_on(future),
    );
    inherits_after_the_guards_end(
        |tracer, _| {
            Agent {
                tracer: tracer.clone(),
            }
            .late_items()
        },
        |_, items| assert_eq!(items.sum::<u32>(), 3),
    );
}

#[test]
fn a_guard_held_across_an_await_is_promoted_when_the_task_yields() {
    let kept = Kept::default();
    let tracer = Tracer::new(kept.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(
        tracer
            .span("task")
            .inheritable_attribute("conversation", "c-2")
            .instrument({
                let tracer = tracer.clone();
                async move {
                    let held = tracer.trace("held");
                    tokio::task::yield_now().await;
                    churn(&tracer);
                    drop(held);
                }
            }),
    );
    let spans = kept.spans();
    let held = spans.iter().find(|s| s.span_name == "held").unwrap();
    assert_eq!(held.attributes.get("conversation"), Some(&"c-2".into()));
}

#[test]
fn guards_dropped_with_the_threads_locals_keep_what_they_inherit() {
    use std::cell::RefCell;
    thread_local! {
        static GUARDS: RefCell<Vec<tracekit::SpanGuard>> = const { RefCell::new(Vec::new()) };
    }
    let kept = Kept::default();
    let tracer = Tracer::new(kept.clone());
    // `join` (unlike the end of a thread scope) waits for the thread's locals to be dropped.
    std::thread::spawn(move || {
        // Registered before tracekit's own thread-locals, so destroyed after them: the guards
        // end once the context stack is gone, the parent first.
        GUARDS.with(|_| {});
        let parent = tracer
            .span("parent")
            .inheritable_attribute("conversation", "c-3")
            .start();
        let child = tracer.trace("child");
        GUARDS.with(|g| g.borrow_mut().extend([parent, child]));
    })
    .join()
    .unwrap();
    let spans = kept.spans();
    let child = spans.iter().find(|s| s.span_name == "child").unwrap();
    assert_eq!(child.attributes.get("conversation"), Some(&"c-3".into()));
}

/// `#[traced]` on `&self` methods: the span borrows the tracer from `self` for the call, and
/// must take a reference of its own before anything lets it outlive the call.
mod borrowing_self {
    use super::*;
    use tracekit::{Span, SpanGuard};

    struct Agent {
        tracer: Tracer,
    }

    impl Agent {
        #[tracekit::traced]
        fn handle(&self) -> Span {
            self.tracer.current_trace()
        }

        #[tracekit::traced]
        async fn handle_async(&self) -> Span {
            YieldOnce(false).await;
            self.tracer.current_trace()
        }

        #[tracekit::traced]
        fn spawn(&self) -> impl Future<Output = ()> + Send + 'static {
            self.tracer.span("spawned").instrument(async {})
        }

        #[tracekit::traced]
        fn guard(&self) -> SpanGuard {
            self.tracer.trace("returned-guard")
        }
    }

    /// Makes an agent, lets `escape` take something from one of its methods, and drops the
    /// agent (the last tracer handle): what escaped must keep the tracer alive until `late`
    /// is done with it.
    fn escapes<T>(escape: impl FnOnce(&Agent) -> T, late: impl FnOnce(T)) -> Kept {
        let kept = Kept::default();
        let escaped = escape(&Agent {
            tracer: Tracer::new(kept.clone()),
        });
        assert!(kept.held_by_a_tracer(), "the span did not keep its tracer");
        late(escaped);
        assert!(!kept.held_by_a_tracer(), "the tracer leaked");
        kept
    }

    #[test]
    fn a_handle_returned_from_a_sync_method() {
        let kept = escapes(Agent::handle, |handle| {
            handle.add_attribute("late", true);
        });
        assert_eq!(kept.names(), ["handle"]);
    }

    #[test]
    fn a_handle_returned_from_an_async_method() {
        let kept = escapes(|agent| block_on(agent.handle_async()), drop);
        assert_eq!(kept.names(), ["handle_async"]);
    }

    #[test]
    fn a_future_started_in_a_method() {
        let kept = escapes(Agent::spawn, block_on);
        assert_eq!(kept.names(), ["spawn", "spawned"]);
        let spans = kept.spans();
        assert_eq!(spans[1].parent_span_id, Some(spans[0].span_id));
    }

    #[test]
    fn a_guard_returned_from_a_method() {
        let kept = escapes(Agent::guard, drop);
        assert_eq!(kept.names(), ["guard", "returned-guard"]);
    }

    #[test]
    fn an_async_method_polled_to_completion_on_another_thread() {
        let kept = Kept::default();
        let agent = std::sync::Arc::new(Agent {
            tracer: Tracer::new(kept.clone()),
        });
        let worker = std::thread::spawn({
            let agent = agent.clone();
            move || block_on(async move { agent.handle_async().await.span_id() })
        });
        let id = worker.join().unwrap();
        assert_eq!(kept.spans()[0].span_id, id.unwrap());
    }
}
