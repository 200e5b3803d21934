//! The in-memory store packs spans into bytes and unpacks them when read: what comes back must
//! be exactly what a sink that keeps `Trace`s receives, for any values, from any thread.

mod common;
#[path = "common/spans.rs"]
mod spans;

use common::pair;
use proptest::prelude::*;
use spans::{attrs, record, shape};
use tracekit::{FinishedSpan, Sink, Trace, TraceFilter, Tracer};

fn by_start(mut spans: Vec<Trace>) -> Vec<Trace> {
    spans.sort_by_key(|t| t.started_at);
    spans
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn spans_read_back_exactly_as_ended(shape in shape("[a-z.]{1,12}"), child_own in attrs("[a-z.]{1,12}")) {
        let (tee, memory, kept) = pair(100);
        record(&tee, &shape, &child_own);
        let stored = memory.get_traces(&TraceFilter::new()).unwrap();
        let expected = by_start(kept.spans());
        prop_assert_eq!(stored.len(), 2);
        prop_assert_eq!(&stored, &expected);
        // Equality ignores attribute order; the order is part of the contract too.
        for (s, e) in stored.iter().zip(&expected) {
            prop_assert!(s.attributes.keys().eq(e.attributes.keys()));
            prop_assert!(s.resource_attributes.keys().eq(e.resource_attributes.keys()));
        }
    }
}

#[test]
fn resource_changes_apply_to_spans_that_end_afterwards() {
    let (tee, memory, kept) = pair(10);
    drop(tee.trace("before"));
    tee.set_resource_attribute("service.name", "a");
    drop(tee.trace("between"));
    tee.set_resource_attribute("service.name", "b");
    tee.set_resource_attribute("service.version", "2");
    drop(tee.trace("after"));
    let stored = memory.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(stored, by_start(kept.spans()));
    let services: Vec<_> = stored
        .iter()
        .map(|t| t.resource_attributes.get("service.name").cloned())
        .collect();
    assert_eq!(services, [None, Some("a".into()), Some("b".into())]);
}

/// `threads` threads each end `spans` spans named "work", with their thread and index.
fn work_from_threads(tracer: &Tracer, threads: u32, spans: u32) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..spans {
                    drop(
                        tracer
                            .span("work")
                            .attribute("thread", t)
                            .attribute("i", i)
                            .start(),
                    );
                }
            });
        }
    });
}

#[test]
fn spans_from_many_threads_are_all_kept() {
    let (tee, memory, kept) = pair(10_000);
    work_from_threads(&tee, 4, 1000);
    let mut stored = memory.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(stored.len(), 4000);
    assert!(stored.is_sorted_by_key(|t| t.started_at));
    // Spans of different threads may start in the same nanosecond; either order is right.
    let mut expected = kept.spans();
    stored.sort_by_key(|t| (t.started_at, t.span_id));
    expected.sort_by_key(|t| (t.started_at, t.span_id));
    assert_eq!(stored, expected);
    let third = TraceFilter::new().attribute("thread", 2);
    assert_eq!(memory.get_traces(&third).unwrap().len(), 1000);
}

#[test]
fn with_many_threads_reads_return_the_last_spans_to_end() {
    let (tee, memory, kept) = pair(100);
    work_from_threads(&tee, 4, 500);
    let stored = memory.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(stored.len(), 100);
    let mut all = kept.spans();
    all.sort_by_key(|t| t.ended_at);
    let last = by_start(all.split_off(all.len() - 100));
    // Spans ending in the same nanosecond may be cut either way.
    let cut = last.iter().map(|t| t.ended_at).min().unwrap();
    assert!(stored.iter().all(|t| t.ended_at >= cut));
    assert_eq!(
        stored.iter().filter(|t| t.ended_at > cut).count(),
        last.iter().filter(|t| t.ended_at > cut).count()
    );
}

#[test]
fn a_record_passed_to_persist_keeps_its_own_resource_and_a_snapshot_is_ignored() {
    let (tee, _memory, kept) = pair(10);
    tee.set_resource_attribute("service.name", "from-tracer");
    drop(tee.span("x").attribute("k", 1).start());
    let mut record = kept.spans()[0].clone();
    record
        .resource_attributes
        .insert("service.name", "from-record");

    let store = tracekit::sinks::InMemory::new(10);
    store.persist(&record);
    let mut snapshot = record.clone();
    snapshot.ended_at = None;
    store.persist(&snapshot);
    assert_eq!(
        store.get_traces(&TraceFilter::new()).unwrap(),
        [record.clone()]
    );

    let view = FinishedSpan::from_trace(&record).unwrap();
    assert_eq!(view.to_trace(), record);
    assert!(FinishedSpan::from_trace(&snapshot).is_none());
}

#[test]
fn a_store_of_size_zero_keeps_nothing() {
    let tracer = Tracer::in_memory(0);
    drop(tracer.trace("x"));
    assert!(tracer.get_traces(&TraceFilter::new()).unwrap().is_empty());
    assert_eq!(tracer.stats().spans_accepted, 1);
}

#[test]
fn large_records_and_many_chunks_read_back() {
    let (tee, memory, kept) = pair(50);
    let big = "x".repeat(40_000);
    for i in 0..200 {
        let span = tee.span("big").attribute("i", i).start();
        if i % 7 == 0 {
            span.add_attribute("payload", big.as_str());
        }
    }
    let stored = memory.get_traces(&TraceFilter::new()).unwrap();
    let all = kept.spans();
    assert_eq!(stored, by_start(all[all.len() - 50..].to_vec()));
}

proptest! {
    /// The end is stored as a duration from the start: any pair of times comes back, an end
    /// before the start and the extremes included.
    #[test]
    fn any_start_and_end_read_back(started in any::<i64>(), ended in any::<i64>(), parent in any::<bool>()) {
        let (tee, _memory, kept) = pair(1);
        drop(tee.span("x").start());
        let mut record = kept.spans()[0].clone();
        record.started_at = tracekit::Timestamp::from_unix_nanos(started);
        record.ended_at = Some(tracekit::Timestamp::from_unix_nanos(ended));
        if !parent {
            record.parent_span_id = None;
        } else {
            record.parent_span_id = tracekit::SpanId::from_int(u64::MAX);
        }
        let store = tracekit::sinks::InMemory::new(10);
        store.persist(&record);
        prop_assert_eq!(store.get_traces(&TraceFilter::new()).unwrap(), [record]);
    }
}

/// `tracekit::tracers`, the sinks' old module name, still works (deprecated for a release).
#[test]
#[allow(deprecated)]
fn the_old_module_name_still_names_the_sinks() {
    let tracer = tracekit::Tracer::new(tracekit::tracers::InMemory::new(4));
    tracer.trace("x").end();
    assert_eq!(tracer.get_traces(&Default::default()).unwrap().len(), 1);
}
