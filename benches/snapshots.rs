//! How many snapshots per second a live consumer of `Tracer::iterable()` keeps up with: one
//! thread emits snapshots of an `llm-invocation` span (a growing response, as a streaming
//! LLM call does), another thread drains the stream. Measured end to end: from the first
//! snapshot to the consumer holding the last one.
//!
//! `cargo bench --bench snapshots`; criterion reports elements per second.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tracekit::sinks::{Iterable, Overflow};
use tracekit::Tracer;

const SNAPSHOTS: u64 = 10_000;

/// Emits `SNAPSHOTS` snapshots into a fresh iterable tracer and returns the time until the
/// consumer has received all of them, and how many were dropped.
fn run(overflow: Overflow) -> (Duration, u64) {
    let sink = Iterable::new().capacity(1024).overflow(overflow);
    let stream = sink.subscribe();
    let tracer = Tracer::new(sink);
    let consumer = std::thread::spawn(move || {
        let received = stream.filter(|t| t.is_snapshot()).count() as u64;
        (Instant::now(), received)
    });
    let start = Instant::now();
    {
        let span = tracer.trace("llm-invocation");
        span.add_inheritable_attribute("ai.conversation.id", "01JZAJ75QJP9K1BFZM8SJRBB1B");
        span.add_attribute("ai.trace.type", "llm-invocation");
        let mut output = String::new();
        for i in 0..SNAPSHOTS {
            output.push_str("tok ");
            if output.len() > 200 {
                output.clear();
            }
            span.add_attribute("ai.llm.response.output", output.as_str())
                .add_attribute("ai.llm.response.stream.events", i)
                .emit_snapshot();
        }
    }
    tracer.shutdown().unwrap();
    let (done, received) = consumer.join().unwrap();
    assert_eq!(received + tracer.stats().snapshots_dropped, SNAPSHOTS);
    (done - start, SNAPSHOTS - received)
}

fn snapshots(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshots");
    g.throughput(Throughput::Elements(SNAPSHOTS));
    g.sample_size(20);
    for (name, overflow) in [
        (
            "consumer keeps up (backpressure, none lost)",
            Overflow::Block(Duration::from_secs(5)),
        ),
        ("producer never waits (drop on overflow)", Overflow::Drop),
    ] {
        let mut dropped = 0;
        let mut runs = 0;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (elapsed, lost) = run(overflow);
                        dropped += lost;
                        runs += 1;
                        elapsed
                    })
                    .sum()
            })
        });
        println!(
            "{name}: {:.1}% of snapshots dropped on average",
            dropped as f64 * 100.0 / (runs * SNAPSHOTS) as f64
        );
    }
    g.finish();
}

criterion_group!(benches, snapshots);
criterion_main!(benches);
