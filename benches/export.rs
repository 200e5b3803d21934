//! OTLP export: the caller's cost, and how fast spans reach a collector.
//!
//! * The caller's side: a root span with two attributes into `Tracer::otlp` against the same
//!   span into `Tracer::in_memory` (issue 12: at most 1.5×), and into a tee of SQLite and
//!   OTLP (issue 26: at most 1.2×), beside the same two members each packing every span (what
//!   the tee did before). The writer threads run beside, sending to a local endpoint that
//!   discards; each chunk is flushed outside the timed part.
//! * Throughput: 20 000 spans ended as fast as one thread can, timed until the exporter has
//!   delivered them all (encoded as protobuf, gzipped, accepted by the local endpoint), for
//!   tracekit and for the OpenTelemetry SDK's `BatchSpanProcessor` with `opentelemetry-otlp`'s
//!   HTTP exporter (protobuf, gzip, reqwest's blocking client), in the same run against the
//!   same endpoint. Both queues hold the whole run and batches are 512 spans, so neither
//!   drops.
//!
//! * Sampling and the spool (issue 29): the same span into `Tracer::otlp` with head sampling
//!   at 10 %, with tail rules (errors, cost, else 10 %), and with a spool, against the plain
//!   exporter, on the caller's thread (interleaved ratios); and 20 000 spans until delivered
//!   with and without the spool (what the writer thread pays for the file).
//!
//! `cargo bench -p tracekit-benches --bench export --features otlp`. See BENCHMARKS.md.

#[path = "../tests/common/otlp_receiver.rs"]
mod receiver;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracekit::{Compression, OtlpConfig, Protocol, Sampler, SpanKind, Spool, Tracer};

const SPANS: u64 = 20_000;

fn tracekit_span(tracer: &Tracer, i: u64) {
    drop(
        tracer
            .span("tool")
            .kind(SpanKind::Client)
            .attribute("ai.trace.type", "tool-invocation")
            .attribute("i", i)
            .start(),
    );
}

fn otlp(url: &str, capacity: usize) -> Tracer {
    Tracer::otlp(
        OtlpConfig::new(url)
            .service_name("bench")
            .max_queue_size(capacity),
    )
    .unwrap()
}

/// Hands each span to every member: what `Tracer::tee` did before its queued members shared
/// one queue (each member packs every span on the caller's thread).
struct EachPacks(Vec<Tracer>);

impl tracekit::Sink for EachPacks {
    fn persist(&self, _: &tracekit::Trace) {}
    fn persist_span(&self, span: &tracekit::FinishedSpan<'_>) {
        self.0.iter().for_each(|m| m.forward(span));
    }
    fn flush(&self, deadline: Instant) -> Result<(), tracekit::Error> {
        self.0.iter().try_for_each(|m| m.flush_until(deadline))
    }
}

fn sqlite(dir: &std::path::Path, name: &str) -> Tracer {
    Tracer::sqlite(
        tracekit::stores::SqliteConfig::new(dir.join(name)).batch(
            tracekit::BatchConfig::new()
                .max_queue_size(1 << 18)
                .max_export_batch_size(4_096),
        ),
    )
    .unwrap()
}

fn caller(c: &mut Criterion) {
    let receiver = receiver::Receiver::discarding();
    let exporter = otlp(&receiver.url(), 1 << 18);
    let memory = Tracer::in_memory(1 << 18);
    let dir = tempfile::tempdir().unwrap();
    let tee = Tracer::tee([sqlite(dir.path(), "tee.db"), otlp(&receiver.url(), 1 << 18)]);
    let each = Tracer::new(EachPacks(vec![
        sqlite(dir.path(), "each.db"),
        otlp(&receiver.url(), 1 << 18),
    ]));
    let timed_into = caller_time;
    let mut g = c.benchmark_group("root span, 2 attributes, exported (caller's thread)");
    g.bench_function("Tracer::in_memory", |b| {
        b.iter_custom(|n| timed_into(&memory, n))
    });
    g.bench_function("Tracer::otlp", |b| {
        b.iter_custom(|n| timed_into(&exporter, n))
    });
    g.bench_function("Tracer::tee(sqlite, otlp)", |b| {
        b.iter_custom(|n| timed_into(&tee, n))
    });
    g.bench_function("forwarding to sqlite and otlp (each packs)", |b| {
        b.iter_custom(|n| timed_into(&each, n))
    });
    g.finish();
    let rows = [
        ("Tracer::otlp", &exporter),
        ("Tracer::tee(sqlite, otlp)", &tee),
        ("forwarding to sqlite and otlp (each packs)", &each),
    ];
    interleaved("root span exported", ("Tracer::in_memory", &memory), &rows);
}

/// Each of `rows` against `base` on the caller's thread, 25 rounds of 20 000 spans taken in
/// turn: prints the median ratio and its middle half, and checks nothing was lost.
fn interleaved(title: &str, (base_name, base): (&str, &Tracer), rows: &[(&str, &Tracer)]) {
    let mut ratios = vec![Vec::new(); rows.len()];
    for _ in 0..25 {
        let b = caller_time(base, 20_000);
        for (ratios, (_, tracer)) in ratios.iter_mut().zip(rows) {
            ratios.push(caller_time(tracer, 20_000).as_secs_f64() / b.as_secs_f64());
        }
    }
    println!("\n{title}: interleaved, 25 rounds");
    for (mut ratios, (name, tracer)) in ratios.into_iter().zip(rows) {
        ratios.sort_by(f64::total_cmp);
        println!(
            "  {name} / {base_name} = {:.3} ({:.3}-{:.3})",
            ratios[12], ratios[6], ratios[18]
        );
        let stats = tracer.stats();
        assert_eq!(
            stats.spans_dropped + stats.sink_failures,
            0,
            "{name}: {stats:?}"
        );
    }
}

/// Ends `iters` spans into `tracer` in chunks, timing only the caller's thread; each chunk is
/// flushed outside the timed part.
fn caller_time(tracer: &Tracer, iters: u64) -> Duration {
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(1 << 17);
        let start = Instant::now();
        (0..chunk).for_each(|i| tracekit_span(tracer, i));
        elapsed += start.elapsed();
        tracer.flush_within(Duration::from_secs(120)).unwrap();
        left -= chunk;
    }
    elapsed
}

fn sampling_and_spool(c: &mut Criterion) {
    let receiver = receiver::Receiver::discarding();
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        OtlpConfig::new(receiver.url())
            .service_name("bench")
            .max_queue_size(1 << 18)
    };
    let plain = Tracer::otlp(config()).unwrap();
    let head = Tracer::otlp(config())
        .unwrap()
        .with_sampler(Sampler::ratio(0.1))
        .unwrap();
    let tail = Tracer::otlp(config())
        .unwrap()
        .with_sampler(
            Sampler::tail()
                .keep_errors()
                .keep_cost_at_least(0.5)
                .otherwise(0.1),
        )
        .unwrap();
    let spooled = Tracer::otlp(config().spool(Spool::new(dir.path().join("spool")))).unwrap();
    let rows = [
        ("Tracer::otlp, head sampling 10 %", &head),
        ("Tracer::otlp, tail rules (errors, cost, else 10 %)", &tail),
        ("Tracer::otlp with a spool", &spooled),
    ];
    let mut g = c.benchmark_group("root span, 2 attributes, sampled or spooled (caller's thread)");
    g.bench_function("Tracer::otlp", |b| {
        b.iter_custom(|n| caller_time(&plain, n))
    });
    for (name, tracer) in rows {
        g.bench_function(name, |b| b.iter_custom(|n| caller_time(tracer, n)));
    }
    g.finish();
    interleaved(
        "sampled or spooled, caller's thread",
        ("Tracer::otlp", &plain),
        &rows,
    );

    // Until delivered: the writer thread writes each batch to the file, sends it, deletes it.
    let until_delivered = |tracer: &Tracer| {
        let start = Instant::now();
        (0..SPANS).for_each(|i| tracekit_span(tracer, i));
        tracer.flush_within(Duration::from_secs(120)).unwrap();
        start.elapsed()
    };
    let mut g = c.benchmark_group("export 20 000 spans until delivered, with a spool");
    g.throughput(Throughput::Elements(SPANS));
    g.sample_size(10);
    g.bench_function("Tracer::otlp", |b| {
        b.iter_custom(repeated(|| until_delivered(&plain)))
    });
    g.bench_function("Tracer::otlp with a spool", |b| {
        b.iter_custom(repeated(|| until_delivered(&spooled)))
    });
    g.finish();
    let mut ratios: Vec<f64> = (0..9)
        .map(|_| {
            let p = until_delivered(&plain);
            until_delivered(&spooled).as_secs_f64() / p.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "\nuntil delivered: interleaved, 9 rounds\n  with a spool / plain = {:.2} ({:.2}-{:.2})",
        ratios[4], ratios[2], ratios[6]
    );
}

/// tracekit: `SPANS` spans until flushed, with `config`'s encoding.
fn tracekit_export(url: &str, protocol: Protocol, compression: Compression) -> Duration {
    let tracer = Tracer::otlp(
        OtlpConfig::new(url)
            .service_name("bench")
            .max_queue_size(SPANS as usize)
            .protocol(protocol)
            .compression(compression),
    )
    .unwrap();
    let start = Instant::now();
    (0..SPANS).for_each(|i| tracekit_span(&tracer, i));
    tracer.flush_within(Duration::from_secs(120)).unwrap();
    let elapsed = start.elapsed();
    let stats = tracer.stats();
    assert_eq!(stats.spans_persisted, SPANS, "{stats:?}");
    elapsed
}

/// The OpenTelemetry SDK: a batch processor in front of opentelemetry-otlp's HTTP exporter.
fn opentelemetry_export(url: &str) -> Duration {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{url}/v1/traces"))
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_compression(opentelemetry_otlp::Compression::Gzip)
        .build()
        .unwrap();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(SPANS as usize)
                .with_max_export_batch_size(512)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("bench")
                .build(),
        )
        .build();
    let tracer = provider.tracer("bench");
    let start = Instant::now();
    for i in 0..SPANS {
        let mut span = tracer
            .span_builder("tool")
            .with_kind(opentelemetry::trace::SpanKind::Client)
            .start(&tracer);
        span.set_attribute(KeyValue::new("ai.trace.type", "tool-invocation"));
        span.set_attribute(KeyValue::new("i", i as i64));
        span.end();
    }
    provider.force_flush().unwrap();
    let elapsed = start.elapsed();
    provider.shutdown().unwrap();
    elapsed
}

/// `iters` runs of `f`, timed by `f` itself.
fn repeated(f: impl Fn() -> Duration) -> impl FnMut(u64) -> Duration {
    move |iters| (0..iters).map(|_| f()).sum()
}

fn throughput(c: &mut Criterion) {
    let receiver = receiver::Receiver::discarding();
    let url = receiver.url();
    let mut g = c.benchmark_group("export 20 000 spans to a local collector, until delivered");
    g.throughput(Throughput::Elements(SPANS));
    g.sample_size(10);
    g.bench_function("tracekit (protobuf, gzip)", |b| {
        b.iter_custom(repeated(|| {
            tracekit_export(&url, Protocol::HttpProtobuf, Compression::Gzip)
        }))
    });
    g.bench_function("opentelemetry-otlp batch (protobuf, gzip)", |b| {
        b.iter_custom(repeated(|| opentelemetry_export(&url)))
    });
    g.bench_function("tracekit (protobuf, no compression)", |b| {
        b.iter_custom(repeated(|| {
            tracekit_export(&url, Protocol::HttpProtobuf, Compression::None)
        }))
    });
    g.bench_function("tracekit (JSON, gzip)", |b| {
        b.iter_custom(repeated(|| {
            tracekit_export(&url, Protocol::HttpJson, Compression::Gzip)
        }))
    });
    g.finish();
    let mut ratios = Vec::new();
    for _ in 0..9 {
        let t = tracekit_export(&url, Protocol::HttpProtobuf, Compression::Gzip);
        let o = opentelemetry_export(&url);
        ratios.push(o.as_secs_f64() / t.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "\nexport throughput: interleaved, 9 rounds\n  opentelemetry-otlp time / tracekit time = {:.2} ({:.2}-{:.2})",
        ratios[4], ratios[2], ratios[6]
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = caller, throughput, sampling_and_spool
}
criterion_main!(benches);
