//! Reads of the in-memory store while many threads write to it. A test binary of its own:
//! its 24 writers claim every per-thread stripe, which would change how the ordering tests
//! in `in_memory_store.rs` run.

mod common;

use common::pair;
use tracekit::{TraceFilter, Value};

/// Readers copy while writers store. Every read must see whole, decodable spans and never
/// more than the store holds; the final read holds 500 distinct spans. 24 writers: more than
/// the 16 stripes threads can claim, so the shared stripe is written by several at once.
#[test]
fn reads_while_many_threads_write_see_whole_spans() {
    const WRITERS: usize = 24;
    const SPANS: usize = 2_000;
    let (tee, memory, kept) = pair(500);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let spans = memory.get_traces(&TraceFilter::new()).unwrap();
                assert!(spans.len() <= 500, "{}", spans.len());
                for span in &spans {
                    assert_eq!(span.span_name, "w");
                    assert_eq!(span.attributes.len(), 2, "{span:?}");
                    assert!(span.ended_at.unwrap() >= span.started_at);
                }
                reads += 1;
            }
            reads
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let tee = &tee;
                s.spawn(move || {
                    for i in 0..SPANS {
                        drop(tee.span("w").attribute("t", t).attribute("i", i).start());
                    }
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    let stored = memory.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(stored.len(), 500);
    assert_eq!(kept.spans().len(), WRITERS * SPANS);
    // (Which 500: with 25 threads on a few cores, a thread preempted between ending a span
    // and storing it stores it late, so "the last to end" is only nearly "the last stored";
    // `with_many_threads_reads_return_the_last_spans_to_end` checks the order without that.)
    let ids: std::collections::HashSet<_> = stored.iter().map(|t| t.span_id).collect();
    assert_eq!(ids.len(), 500);
    for span in &stored {
        let t = span.attributes.get("t").and_then(Value::as_i64).unwrap();
        let i = span.attributes.get("i").and_then(Value::as_i64).unwrap();
        assert!((0..WRITERS as i64).contains(&t) && (0..SPANS as i64).contains(&i));
    }
    assert_eq!(memory.stats().spans_accepted, (WRITERS * SPANS) as u64);
}
