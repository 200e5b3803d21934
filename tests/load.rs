//! Tokio tasks × spans into every local tracer kind, one after another in one test so the memory
//! each leaves behind can be read: no span lost, none crossed between tasks, memory bounded by
//! the configured capacities. `cargo test` runs 16 × 500; the full 64 × 10 000 is `#[ignore]`d
//! and run by `.ci/run` (`cargo test --workspace --tests -- --ignored`). Throughput is printed
//! (`-- --nocapture`); it is a debug build's unless run with `--release`. DynamoDB and OTLP have
//! their own load tests in dynamodb-tests/ and otlp-tests/.

mod common;

use std::io::{self, BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::load::{check, drive, report, rss_mib, Load, Seen};
use tracekit::sinks::{Iterable, Overflow};
use tracekit::stores::SqliteConfig;
use tracekit::{BatchConfig, TraceFilter, Tracer};

/// A writer that keeps what the checks need of each JSON line, not the text.
#[derive(Clone, Default)]
struct JsonLines {
    seen: Arc<Mutex<Vec<Seen>>>,
    partial: Arc<Mutex<Vec<u8>>>,
}

impl Write for JsonLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut partial = self.partial.lock().unwrap();
        partial.extend_from_slice(buf);
        let mut seen = self.seen.lock().unwrap();
        let mut consumed = 0;
        for line in partial.split_inclusive(|&b| b == b'\n') {
            if !line.ends_with(b"\n") {
                break;
            }
            consumed += line.len();
            let line: Line = serde_json::from_slice(line).expect("a whole JSON span per line");
            seen.push(line.seen());
        }
        partial.drain(..consumed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the checks read of a JSON line (serde skips the rest without building it).
#[derive(serde::Deserialize)]
struct Line {
    trace: LineSpan,
}

#[derive(serde::Deserialize)]
struct LineSpan {
    span_name: String,
    trace_id: tracekit::TraceId,
    span_id: tracekit::SpanId,
    parent_span_id: Option<tracekit::SpanId>,
    attributes: LineAttributes,
}

#[derive(serde::Deserialize)]
struct LineAttributes {
    task: Option<i64>,
}

impl Line {
    fn seen(self) -> Seen {
        let t = self.trace;
        Seen {
            task: t.attributes.task,
            root: t.span_name == "task",
            trace: t.trace_id.to_int(),
            span: t.span_id.to_int(),
            parent: t.parent_span_id.map(|p| p.to_int()),
        }
    }
}

/// A writer that counts the human-readable format's spans (each ends with a blank line).
#[derive(Clone, Default)]
struct Blocks(Arc<Mutex<(u64, bool)>>);

impl Write for Blocks {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self.0.lock().unwrap();
        for line in buf.lines() {
            let blank = line?.is_empty();
            if blank && !state.1 {
                state.0 += 1;
            }
            state.1 = blank;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn seen(tracer: &Tracer) -> Vec<Seen> {
    tracer
        .get_traces(&TraceFilter::new())
        .unwrap()
        .iter()
        .map(Seen::of)
        .collect()
}

/// Memory a bounded tracer may add to the process: its queue or buffer, SQLite's 64 MiB page
/// cache, and what the allocator keeps of the load's own garbage.
const BOUNDED_MIB: u64 = 256;

#[test]
fn sixteen_tasks_by_five_hundred_spans_into_every_tracer_kind() {
    every_tracer_kind(Load::QUICK);
}

#[test]
#[ignore = "long (640 000 spans through each tracer kind): .ci/run runs it"]
fn sixty_four_tasks_by_ten_thousand_spans_into_every_tracer_kind() {
    every_tracer_kind(Load::FULL);
}

fn every_tracer_kind(load: Load) {
    let total = load.total();
    let baseline = rss_mib();
    let bounded = |kind: &str| {
        let grown = rss_mib().saturating_sub(baseline);
        assert!(
            grown < BOUNDED_MIB,
            "{kind}: the process grew by {grown} MiB with bounded capacities"
        );
    };

    // In memory, keeping the last 10 000: counts match, memory stays bounded.
    let before = rss_mib();
    let tracer = Tracer::in_memory(10_000);
    let took = drive(&tracer, load);
    report("in_memory(10 000)", load, took, before);
    let stats = tracer.stats();
    assert_eq!(
        (stats.spans_accepted, stats.spans_persisted),
        (total, total)
    );
    assert_eq!(
        tracer.get_traces(&TraceFilter::new()).unwrap().len(),
        total.min(10_000) as usize
    );
    bounded("in_memory(10 000)");
    drop(tracer);

    // JSON lines, parsed back line by line.
    let before = rss_mib();
    let out = JsonLines::default();
    let tracer = Tracer::structured_logs(out.clone());
    let took = drive(&tracer, load);
    report("structured_logs", load, took, before);
    tracer.shutdown().unwrap();
    check(&out.seen.lock().unwrap(), load);
    out.seen.lock().unwrap().clear();
    bounded("structured_logs");

    // The human-readable format: one block per span.
    let before = rss_mib();
    let out = Blocks::default();
    let tracer = Tracer::human_readable(out.clone());
    let took = drive(&tracer, load);
    report("human_readable", load, took, before);
    tracer.shutdown().unwrap();
    assert_eq!(out.0.lock().unwrap().0, total);
    bounded("human_readable");

    // A live stream, consumed on another thread, with backpressure so nothing is dropped.
    let before = rss_mib();
    let sink = Iterable::new()
        .capacity(65_536)
        .overflow(Overflow::Block(Duration::from_secs(10)));
    let mut stream = sink.subscribe();
    let tracer = Tracer::new(sink);
    let consumer = std::thread::spawn(move || {
        let mut seen = Vec::with_capacity(total as usize);
        for trace in stream.by_ref() {
            seen.push(Seen::of(&trace));
        }
        (seen, stream.dropped())
    });
    let took = drive(&tracer, load);
    report("iterable (block)", load, took, before);
    tracer.shutdown().unwrap();
    drop(tracer);
    let (streamed, dropped) = consumer.join().unwrap();
    assert_eq!(dropped, 0);
    check(&streamed, load);
    drop(streamed);
    bounded("iterable");

    // SQLite, its queue blocking when full so that every span is written.
    let dir = tempfile::tempdir().unwrap();
    let before = rss_mib();
    let tracer = Tracer::sqlite(
        SqliteConfig::new(dir.path().join("load.db"))
            .overflow(Overflow::Block(Duration::from_secs(30))),
    )
    .unwrap();
    let took = drive(&tracer, load);
    tracer.flush_within(Duration::from_secs(120)).unwrap();
    report("sqlite (block)", load, took, before);
    assert_eq!(tracer.stats().spans_persisted, total);
    bounded("sqlite");
    check(&seen(&tracer), load);
    drop(tracer);

    // Any tracer in the background, here the in-memory one, keeping everything.
    let before = rss_mib();
    let memory = Tracer::in_memory(total as usize);
    let tracer = memory
        .clone()
        .in_background_with(BatchConfig::new().overflow(Overflow::Block(Duration::from_secs(10))))
        .unwrap();
    let took = drive(&tracer, load);
    tracer.flush().unwrap();
    report("in_memory (all) in_background", load, took, before);
    check(&seen(&memory), load);
    drop((tracer, memory));

    // A tee of two kinds: each gets every span.
    let before = rss_mib();
    let (first, second) = (
        Tracer::in_memory(total as usize),
        Tracer::in_memory(total as usize),
    );
    let tracer = Tracer::tee([first.clone(), second.clone()]);
    let took = drive(&tracer, load);
    report("tee(in_memory, in_memory)", load, took, before);
    check(&seen(&first), load);
    check(&seen(&second), load);
}
