//! Live traces: snapshots, the iterable tracer and traced streams (reference §6.10-6.11 and the
//! toolkit's `test_trace_snapshot.py`).

mod common;

use std::future::poll_fn;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{all, named, SharedBuf};
use futures_core::Stream;
use tracekit::sinks::{ColorChoice, HumanReadable, Iterable, Overflow};
use tracekit::{traced, Sink, Trace, TraceFilter, Tracer};

/// Records snapshots and finished spans separately.
#[derive(Clone, Default)]
struct Recorder {
    snapshots: Arc<Mutex<Vec<Trace>>>,
    finished: Arc<Mutex<Vec<Trace>>>,
    takes_snapshots: Arc<AtomicBool>,
}

impl Recorder {
    fn taking_snapshots() -> Self {
        let r = Recorder::default();
        r.takes_snapshots.store(true, Ordering::SeqCst);
        r
    }
    fn snapshots(&self) -> Vec<Trace> {
        self.snapshots.lock().unwrap().clone()
    }
    fn finished(&self) -> Vec<Trace> {
        self.finished.lock().unwrap().clone()
    }
}

impl Sink for Recorder {
    fn persist(&self, trace: &Trace) {
        self.finished.lock().unwrap().push(trace.clone());
    }
    fn persist_snapshot(&self, snapshot: &Trace) {
        self.snapshots.lock().unwrap().push(snapshot.clone());
    }
    fn snapshot_enabled(&self) -> bool {
        self.takes_snapshots.load(Ordering::SeqCst)
    }
    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, tracekit::Error> {
        Ok(filter.apply(self.finished.lock().unwrap().iter()))
    }
}

/// Port of `test_trace_emit_snapshot`.
#[test]
fn emit_snapshot_sends_a_flattened_copy_once() {
    let rec = Recorder::taking_snapshots();
    let tracer = Tracer::new(rec.clone());
    let span = tracer.trace("snap");
    span.emit_snapshot();
    let snaps = rec.snapshots();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].span_name, "snap");
    assert_eq!(Some(snaps[0].span_id), span.span_id());
    assert_eq!(Some(snaps[0].trace_id), span.trace_id());
    assert!(snaps[0].ended_at.is_none() && snaps[0].snapshot_at.is_some());
}

#[test]
fn a_snapshot_is_frozen_and_carries_inherited_attributes() {
    let rec = Recorder::taking_snapshots();
    let tracer = Tracer::new(rec.clone());
    {
        let parent = tracer.trace("parent");
        parent.add_inheritable_attribute("ai.conversation.id", "c-1");
        let child = tracer.trace("child");
        child.add_attribute("progress", 1);
        tracer.current_trace().emit_snapshot(); // through current_trace() too
        child.add_attribute("progress", 2);
        child.add_attribute("later", true);
        parent.add_inheritable_attribute("added.later", true);
    }
    let snap = &rec.snapshots()[0];
    assert_eq!(snap.span_name, "child");
    assert_eq!(snap.attributes.get("progress"), Some(&1.into()));
    assert_eq!(
        snap.attributes.get("ai.conversation.id"),
        Some(&"c-1".into())
    );
    assert!(!snap.attributes.contains_key("later"));
    assert!(!snap.attributes.contains_key("added.later"));
    assert!(snap.ended_at.is_none());
    let finished = rec.finished();
    let child = finished.iter().find(|t| t.span_name == "child").unwrap();
    assert_eq!(child.attributes.get("progress"), Some(&2.into()));
    assert_eq!(child.attributes.get("added.later"), Some(&true.into()));
}

/// Port of `test_snapshot_only_called_if_enabled` and the reference's rule that the choice is
/// made when the span starts.
#[test]
fn snapshots_go_only_where_enabled_when_the_span_started() {
    let rec = Recorder::default();
    let tracer = Tracer::new(rec.clone());
    let before = tracer.trace("started-while-off");
    rec.takes_snapshots.store(true, Ordering::SeqCst);
    before.emit_snapshot();
    let after = tracer.trace("started-while-on");
    rec.takes_snapshots.store(false, Ordering::SeqCst);
    after.emit_snapshot();
    let names: Vec<_> = rec
        .snapshots()
        .iter()
        .map(|t| t.span_name.to_string())
        .collect();
    assert_eq!(names, ["started-while-on"]);
    // Sinks that never opt in get none: the in-memory tracer stores finished spans only.
    let memory = Tracer::in_memory(10);
    memory.trace("x").emit_snapshot();
    assert_eq!(memory.stats().spans_accepted, 1);
    assert_eq!(all(&memory).len(), 1);
}

/// Ports of `test_tee_tracer_snapshot_capabilities` / `..._propagation_in_tee_tracer` /
/// `test_in_memory_tracer_snapshot_implementation`.
#[test]
fn tee_forwards_snapshots_to_members_that_take_them() {
    let plain = Recorder::default();
    let taking = Recorder::taking_snapshots();
    let without = Tracer::tee([Tracer::new(plain.clone())]);
    without.trace("a").emit_snapshot();
    assert!(plain.snapshots().is_empty());

    let tee = Tracer::tee([Tracer::new(plain.clone()), Tracer::new(taking.clone())]);
    {
        let span = tee.trace("b");
        span.emit_snapshot();
    }
    assert!(plain.snapshots().is_empty());
    assert_eq!(taking.snapshots().len(), 1);
    // Snapshots never show up among stored spans.
    let stored = tee.get_traces(&TraceFilter::new()).unwrap();
    assert!(stored.iter().all(|t| t.ended_at.is_some()));
    assert_eq!(taking.finished().len(), 1);
}

/// Port of `test_full_snapshot_flow`.
#[test]
fn full_snapshot_flow() {
    let (tracer, stream) = Tracer::iterable();
    {
        let parent = tracer.trace("parent");
        for stage in ["setup", "processing"] {
            parent.add_attribute("stage", stage).emit_snapshot();
        }
        {
            let child = tracer.trace("child");
            child.add_attribute("step", 1).emit_snapshot();
            child.add_attribute("step", 2).emit_snapshot();
        }
        for stage in ["processing", "cleanup"] {
            parent.add_attribute("stage", stage).emit_snapshot();
        }
        parent.add_attribute("stage", "done");
    }
    tracer.shutdown().unwrap();
    let items: Vec<Trace> = stream.collect();
    let snapshots: Vec<&Trace> = items.iter().filter(|t| t.is_snapshot()).collect();
    let finals: Vec<&Trace> = items.iter().filter(|t| !t.is_snapshot()).collect();
    assert_eq!(snapshots.len(), 6);
    let stages: Vec<_> = snapshots
        .iter()
        .filter(|t| t.span_name == "parent")
        .map(|t| {
            t.attributes
                .get("stage")
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(stages, ["setup", "processing", "processing", "cleanup"]);
    assert_eq!(
        snapshots.iter().filter(|t| t.span_name == "child").count(),
        2
    );
    assert_eq!(finals.len(), 2);
    assert_eq!(finals[1].attributes.get("stage"), Some(&"done".into()));
    assert_eq!(finals[0].attributes.get("step"), Some(&2.into()));
}

/// Port of `test_iterable_real_time_consumption`: items arrive while the work runs.
#[test]
fn a_consumer_thread_sees_progress_in_real_time() {
    let (tracer, stream) = Tracer::iterable();
    let consumer = std::thread::spawn(move || {
        stream
            .map(|t| {
                (
                    t.attributes.get("progress").cloned(),
                    t.is_snapshot(),
                    Instant::now(),
                )
            })
            .collect::<Vec<_>>()
    });
    {
        let span = tracer.trace("work");
        for progress in ["0%", "33%", "66%"] {
            span.add_attribute("progress", progress).emit_snapshot();
            std::thread::sleep(Duration::from_millis(20));
        }
        span.add_attribute("progress", "100%");
    }
    tracer.shutdown().unwrap();
    let seen = consumer.join().unwrap();
    let progress: Vec<_> = seen
        .iter()
        .map(|(p, s, _)| (p.clone().unwrap(), *s))
        .collect();
    assert_eq!(
        progress,
        [
            ("0%".into(), true),
            ("33%".into(), true),
            ("66%".into(), true),
            ("100%".into(), false)
        ]
    );
    // Received as they happened, not all at the end.
    assert!(seen[1].2.duration_since(seen[0].2) >= Duration::from_millis(10));
}

/// Port of `test_nested_span_snapshots`.
#[test]
fn nested_snapshots_keep_their_parents() {
    let (tracer, mut stream) = Tracer::iterable();
    let outer = tracer.trace("outer");
    outer.emit_snapshot();
    let middle = tracer.trace("middle");
    middle.emit_snapshot();
    let inner = tracer.trace("inner");
    inner.emit_snapshot();
    let snaps: Vec<Trace> = (0..3).map(|_| stream.try_next().unwrap()).collect();
    assert_eq!(snaps[0].parent_span_id, None);
    assert_eq!(snaps[1].parent_span_id, outer.span_id());
    assert_eq!(snaps[2].parent_span_id, middle.span_id());
}

#[test]
fn the_stream_ends_after_shutdown_with_everything_accepted() {
    let (tracer, stream) = Tracer::iterable();
    let consumer = std::thread::spawn(move || stream.count());
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let t = tracer.clone();
            std::thread::spawn(move || {
                for _ in 0..250 {
                    drop(t.trace("s"));
                }
            })
        })
        .collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    tracer.shutdown().unwrap();
    assert_eq!(consumer.join().unwrap(), 1000);
    let stats = tracer.stats();
    assert_eq!((stats.spans_accepted, stats.spans_dropped), (1000, 0));
    // After shutdown, spans are dropped and counted, and new subscribers end at once.
    drop(tracer.trace("late"));
    assert_eq!(tracer.stats().spans_dropped, 1);
}

#[test]
fn dropping_the_tracer_ends_the_stream() {
    let (tracer, stream) = Tracer::iterable();
    drop(tracer.trace("only"));
    drop(tracer);
    assert_eq!(stream.count(), 1);
}

#[test]
fn overflow_is_counted_and_never_blocks() {
    let sink = Iterable::new().capacity(4);
    let mut stream = sink.subscribe();
    let tracer = Tracer::new(sink);
    let started = Instant::now();
    // Per round: a finished span, a snapshot, another finished span (300 items in all).
    for _ in 0..100 {
        drop(tracer.trace("s"));
        tracer.trace("t").emit_snapshot();
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(stream.dropped(), 300 - 4);
    let stats = tracer.stats();
    // Kept: s, snapshot of t, t, s of the first two rounds.
    assert_eq!(stats.spans_dropped, 200 - 3);
    assert_eq!(stats.snapshots_dropped, 100 - 1);
    assert_eq!(stats.spans_persisted, 3);
    tracer.shutdown().unwrap();
    let mut kept = 0;
    while stream.next_timeout(Duration::from_millis(10)).is_some() {
        kept += 1;
    }
    assert_eq!(kept, 4);
    assert!(stream.is_finished());
}

#[test]
fn backpressure_waits_for_the_consumer_up_to_its_limit() {
    // A consumer that keeps up slowly: nothing is lost.
    let sink = Iterable::new()
        .capacity(2)
        .overflow(Overflow::Block(Duration::from_secs(5)));
    let stream = sink.subscribe();
    let tracer = Tracer::new(sink);
    let consumer = std::thread::spawn(move || {
        stream
            .inspect(|_| std::thread::sleep(Duration::from_millis(1)))
            .count()
    });
    for _ in 0..50 {
        drop(tracer.trace("s"));
    }
    tracer.shutdown().unwrap();
    assert_eq!(consumer.join().unwrap(), 50);
    assert_eq!(tracer.stats().spans_dropped, 0);

    // A consumer that never reads: each span waits at most the limit, then is dropped.
    let sink = Iterable::new()
        .capacity(1)
        .overflow(Overflow::Block(Duration::from_millis(20)));
    let _stalled = sink.subscribe();
    let tracer = Tracer::new(sink);
    let started = Instant::now();
    for _ in 0..3 {
        drop(tracer.trace("s"));
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(40) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert_eq!(tracer.stats().spans_dropped, 2);
}

#[test]
fn every_subscriber_gets_every_item() {
    let (tracer, first) = Tracer::iterable();
    let second = first.subscribe();
    let leaving = first.subscribe();
    drop(leaving);
    drop(tracer.trace("a"));
    drop(tracer.trace("b"));
    tracer.shutdown().unwrap();
    let names = |s: tracekit::TraceStream| s.map(|t| t.span_name.to_string()).collect::<Vec<_>>();
    assert_eq!(names(first), ["a", "b"]);
    assert_eq!(names(second), ["a", "b"]);
    assert_eq!(tracer.stats().spans_dropped, 0);
}

#[test]
fn an_async_consumer_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (tracer, mut stream) = Tracer::iterable();
    let consumer = rt.spawn(async move {
        let mut items = Vec::new();
        while let Some(t) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            items.push(t);
        }
        items
    });
    let producers: Vec<_> = (0..4)
        .map(|i| {
            let t = tracer.clone();
            rt.spawn(async move {
                for j in 0..50 {
                    let t2 = t.clone();
                    t.span("task")
                        .instrument(async move {
                            t2.current_trace()
                                .add_attribute("n", i * 100 + j)
                                .emit_snapshot();
                            tokio::task::yield_now().await;
                        })
                        .await;
                }
            })
        })
        .collect();
    rt.block_on(async {
        for p in producers {
            p.await.unwrap();
        }
    });
    tracer.shutdown().unwrap();
    let items = rt.block_on(consumer).unwrap();
    assert_eq!(items.len(), 400);
    // Each span's snapshot arrives before its finished record.
    let mut seen_snapshot = std::collections::HashSet::new();
    for item in &items {
        if item.is_snapshot() {
            seen_snapshot.insert(item.span_id);
        } else {
            assert!(seen_snapshot.contains(&item.span_id));
        }
    }
}

// ---- traced streams and iterators ----

fn chunks(items: Vec<&'static str>) -> impl Stream<Item = &'static str> + Unpin {
    struct Chunks(std::vec::IntoIter<&'static str>);
    impl Stream for Chunks {
        type Item = &'static str;
        fn poll_next(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<&'static str>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Chunks(items.into_iter())
}

struct Llm {
    tracer: Tracer,
}

impl Llm {
    #[traced(stream, kind = Client, attributes("ai.trace.type" = "llm-invocation"))]
    fn stream_tokens(&self, text: &'static str) -> impl Stream<Item = &'static str> {
        self.tracer
            .current_trace()
            .add_attribute("ai.llm.request.messages", text);
        chunks(text.split_inclusive(' ').collect())
    }

    #[traced(stream)]
    fn words(&self, text: &'static str) -> impl Iterator<Item = &'static str> {
        text.split(' ')
    }
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[test]
fn a_traced_stream_spans_the_whole_consumption() {
    let llm = Llm {
        tracer: Tracer::in_memory(20),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tokens = pin!(llm.stream_tokens("hello streaming world"));
        assert!(
            all(&llm.tracer).is_empty(),
            "open while the stream is unconsumed"
        );
        let mut text = String::new();
        while let Some(token) = poll_fn(|cx| tokens.as_mut().poll_next(cx)).await {
            // Spans opened while the stream is polled are its children.
            drop(llm.tracer.trace("per-token"));
            text.push_str(token);
        }
        assert_eq!(text, "hello streaming world");
    });
    let stream_span = named(&llm.tracer, "stream_tokens");
    assert_eq!(
        stream_span.attributes.get("ai.llm.request.messages"),
        Some(&"hello streaming world".into())
    );
    assert!(!stream_span.attributes.contains_key("cancelled"));
    let tokens: Vec<Trace> = all(&llm.tracer)
        .into_iter()
        .filter(|t| t.span_name == "per-token")
        .collect();
    assert_eq!(tokens.len(), 3);
    for token in &tokens {
        assert!(token.ended_at <= stream_span.ended_at);
    }
}

#[test]
fn a_traced_stream_dropped_early_is_cancelled() {
    let llm = Llm {
        tracer: Tracer::in_memory(20),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tokens = Box::pin(llm.stream_tokens("a b c d"));
        assert_eq!(next(&mut tokens).await, Some("a "));
    });
    let span = named(&llm.tracer, "stream_tokens");
    assert_eq!(span.attributes.get("cancelled"), Some(&true.into()));
    // Iterators too, through the macro and through the runtime API.
    let words: Vec<_> = llm.words("one two").collect();
    assert_eq!(words, ["one", "two"]);
    assert!(!named(&llm.tracer, "words")
        .attributes
        .contains_key("cancelled"));
    let mut partial = llm.tracer.span("partial").instrument_iter(0..10);
    assert_eq!(partial.next(), Some(0));
    drop(partial);
    assert_eq!(
        named(&llm.tracer, "partial").attributes.get("cancelled"),
        Some(&true.into())
    );
}

#[test]
fn human_readable_prints_snapshots_dimmed_and_throttled() {
    let buf = SharedBuf::default();
    let tracer = Tracer::new(
        HumanReadable::new(buf.clone())
            .color(ColorChoice::Always)
            .snapshot_every(Duration::from_millis(200)),
    );
    {
        let tool = tracer.trace("tool");
        tool.add_attribute("ai.trace.type", "tool-invocation")
            .add_attribute("ai.tool.input", "x");
        tool.emit_snapshot(); // printed
        tool.emit_snapshot(); // throttled
        let other = tracer.trace("other");
        other.emit_snapshot(); // not a snapshot type
        drop(other);
    }
    let text = buf.text();
    let snapshot_headers = text.matches("[SNAPSHOT - ").count();
    assert_eq!(snapshot_headers, 1, "{text}");
    let snapshot = text.split("\n\n\n").next().unwrap();
    assert!(snapshot.starts_with("\x1b[90m["), "{snapshot:?}");
    assert!(!snapshot.contains("\x1b[94m") && !snapshot.contains("\x1b[93m"));
    // The finished spans print in colour afterwards.
    assert!(text.contains("\x1b[94m["));
    std::thread::sleep(Duration::from_millis(250));
    let again = tracer.trace("tool2");
    again
        .add_attribute("ai.trace.type", "llm-invocation")
        .emit_snapshot();
    assert_eq!(buf.text().matches("[SNAPSHOT - ").count(), 2);
}
