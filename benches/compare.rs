//! tracekit side by side with its peers, on the same cases, in the same run:
//!
//! * `tracekit`: `Tracer::in_memory` (every span kept and retrievable);
//! * `tracing`: a registry with a minimal in-memory layer that keeps each closed span's name
//!   and fields;
//! * `tracing+otel`: a registry with `tracing-opentelemetry` into an OpenTelemetry SDK with an
//!   in-memory exporter;
//! * `otel-sdk`: the OpenTelemetry SDK directly, simple processor, in-memory exporter;
//! * `fastrace`: a collecting reporter; `fastrace::flush()` runs inside the timed part, once
//!   per sample, so collection is counted; `fastrace (foreground)` times the same without the
//!   flush (what its traced thread pays; its collector thread assembles the spans later).
//!
//! Every case checks, outside the timed part, that each library collected every span.
//! `disabled` measures each library with nothing listening (tracekit: `Tracer::noop()`).
//! `two threads` compares the throughput of two threads with one (scaling).
//!
//! After each case's criterion group, the same runs are repeated interleaved (every library
//! back to back, 25 rounds) and the ratios of tracekit's time per span to each peer's are
//! printed: on a shared machine whose load drifts, those are the figures to compare.
//!
//! `cargo bench --bench compare`. Criterion prints time per iteration; divide by the spans per
//! iteration in the case name for time per span. See BENCHMARKS.md.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::{
    FutureExt as _, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

// ---------- tracekit ----------

struct Agent {
    tracer: tracekit::Tracer,
}

impl Agent {
    #[tracekit::traced]
    async fn step(&self, x: u64) -> u64 {
        x.wrapping_mul(31)
    }

    #[tracekit::traced]
    #[inline(never)]
    fn disabled(&self, x: u64) -> u64 {
        x.wrapping_mul(31)
    }
}

#[inline(never)]
fn plain(x: u64) -> u64 {
    x.wrapping_mul(31)
}

fn tracekit_root(t: &tracekit::Tracer) {
    drop(
        t.span("root")
            .attribute("k1", "v1")
            .attribute("k2", "v2")
            .start(),
    );
}

fn tracekit_nested(t: &tracekit::Tracer) {
    let _a = t.trace("a");
    let _b = t.trace("b");
    let _c = t.trace("c");
}

// ---------- tracing ----------

/// The closed spans a tracing layer kept: name and recorded fields.
type Kept = Arc<Mutex<Vec<(&'static str, Vec<(&'static str, String)>)>>>;

#[derive(Clone, Default)]
struct MemoryLayer {
    spans: Kept,
}

struct Fields(Vec<(&'static str, String)>);

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name(), value.to_string()));
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name(), format!("{value:?}")));
    }
}

impl<S> tracing_subscriber::Layer<S> for MemoryLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields(Vec::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let fields = span
                .extensions_mut()
                .remove::<Fields>()
                .map_or_else(Vec::new, |f| f.0);
            self.spans.lock().unwrap().push((span.name(), fields));
        }
    }
}

fn tracing_root() {
    drop(tracing::info_span!("root", k1 = "v1", k2 = "v2").entered());
}

fn tracing_nested() {
    let _a = tracing::info_span!("a").entered();
    let _b = tracing::info_span!("b").entered();
    let _c = tracing::info_span!("c").entered();
}

#[tracing::instrument(skip_all)]
async fn tracing_step(x: u64) -> u64 {
    x.wrapping_mul(31)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
/// The root (1 span per iteration) or nested (3) case for tracing under `subscriber`.
fn tracing_case(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
    iters: u64,
    spans: u64,
    collected: impl FnOnce() -> usize,
) -> Duration {
    tracing::subscriber::with_default(subscriber, || {
        let run = || {
            if spans == 3 {
                tracing_nested()
            } else {
                tracing_root()
            }
        };
        timed(iters, spans, run, || (), collected)
    })
}

fn tracing_disabled(x: u64) -> u64 {
    x.wrapping_mul(31)
}

// ---------- OpenTelemetry ----------

fn otel_provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn otel_root(t: &opentelemetry_sdk::trace::SdkTracer) {
    let span = t
        .span_builder("root")
        .with_attributes([KeyValue::new("k1", "v1"), KeyValue::new("k2", "v2")])
        .start(t);
    drop(span);
}

fn otel_nested(t: &opentelemetry_sdk::trace::SdkTracer) {
    t.in_span("a", |_| t.in_span("b", |_| t.in_span("c", |_| ())));
}

fn otel_count(exporter: &InMemorySpanExporter) -> usize {
    let n = exporter.get_finished_spans().map_or(0, |s| s.len());
    exporter.reset();
    n
}

// ---------- fastrace ----------

fn fastrace_root() {
    use fastrace::prelude::*;
    let root =
        Span::root("root", SpanContext::random()).with_properties(|| [("k1", "v1"), ("k2", "v2")]);
    drop(root);
}

fn fastrace_nested() {
    use fastrace::prelude::*;
    let a = Span::root("a", SpanContext::random());
    let _parent = a.set_local_parent();
    let _b = LocalSpan::enter_with_local_parent("b");
    let _c = LocalSpan::enter_with_local_parent("c");
}

#[fastrace::trace]
#[inline(never)]
fn fastrace_disabled(x: u64) -> u64 {
    x.wrapping_mul(31)
}

/// The spans fastrace's reporter has received so far (call after a flush); empties it.
macro_rules! fastrace_count {
    ($kept:expr) => {{
        let mut spans = $kept.lock();
        let n = spans.len();
        spans.clear();
        n
    }};
}

// ---------- harness ----------

/// Polls a future that never waits to completion.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Spans fastrace was given and spans it delivered: it drops spans when its per-thread
/// queue (10240 entries) fills faster than its collector thread drains it.
static FASTRACE_MADE: AtomicU64 = AtomicU64::new(0);
static FASTRACE_KEPT: AtomicU64 = AtomicU64::new(0);

/// Times `iters` runs of `body` plus `finish` (a flush), then checks, untimed, that
/// `collected()` saw `spans_per_iter` spans per run.
fn timed(
    iters: u64,
    spans_per_iter: u64,
    body: impl FnMut(),
    finish: impl FnOnce(),
    collected: impl FnOnce() -> usize,
) -> Duration {
    let (elapsed, n) = run(iters, body, finish, collected);
    assert!(
        n >= iters * spans_per_iter,
        "collected {n} of {} spans",
        iters * spans_per_iter
    );
    elapsed
}

/// `timed` for fastrace: lost spans are counted for the report instead of failing the run.
fn timed_lossy(
    iters: u64,
    spans_per_iter: u64,
    body: impl FnMut(),
    finish: impl FnOnce(),
    collected: impl FnOnce() -> usize,
) -> Duration {
    let (elapsed, n) = run(iters, body, finish, collected);
    FASTRACE_MADE.fetch_add(iters * spans_per_iter, Ordering::Relaxed);
    FASTRACE_KEPT.fetch_add(n, Ordering::Relaxed);
    elapsed
}

/// `timed_lossy` with fastrace's flush outside the timed part: what its traced thread pays
/// (spans queued per thread), leaving the collection to its collector.
fn timed_foreground(
    iters: u64,
    spans_per_iter: u64,
    mut body: impl FnMut(),
    finish: impl FnOnce(),
    collected: impl FnOnce() -> usize,
) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        body();
    }
    let elapsed = start.elapsed();
    finish();
    FASTRACE_MADE.fetch_add(iters * spans_per_iter, Ordering::Relaxed);
    FASTRACE_KEPT.fetch_add(collected() as u64, Ordering::Relaxed);
    elapsed
}

fn run(
    iters: u64,
    mut body: impl FnMut(),
    finish: impl FnOnce(),
    collected: impl FnOnce() -> usize,
) -> (Duration, u64) {
    let start = Instant::now();
    for _ in 0..iters {
        body();
    }
    finish();
    let elapsed = start.elapsed();
    (elapsed, collected() as u64)
}

/// One library's run of a case: times `iters` iterations (see `timed`).
type Runner<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// The peers, in the order they are printed.
const LIBRARIES: [&str; 6] = [
    "tracekit",
    "tracing",
    "tracing+otel",
    "otel-sdk",
    "fastrace",
    "fastrace (foreground)",
];

/// Runs every library on one case under criterion, then again interleaved (see `ratios`).
fn case(c: &mut Criterion, name: &str, spans: u64, runners: &mut [Runner<'_>; 6]) {
    let mut g = c.benchmark_group(format!("{name} (spans per iteration: {spans})"));
    for (library, runner) in LIBRARIES.iter().zip(runners.iter_mut()) {
        g.bench_function(*library, |b| b.iter_custom(&mut *runner));
    }
    g.finish();
    ratios(name, spans, runners);
}

/// Ratios from rounds that run every library back to back (in a rotating order), each on
/// a batch of the same size: the machine's load drifts over seconds, so a ratio within one
/// round is steadier than a ratio of criterion figures taken a minute apart. Prints the
/// median over the rounds of tracekit's time per span divided by each peer's, with the
/// middle half of the rounds' ratios.
fn ratios(name: &str, spans: u64, runners: &mut [Runner<'_>; 6]) {
    const ROUNDS: usize = 25;
    // The same batch for every library (20 000 spans: a few ms to a few tens of ms), so
    // fastrace's flush, once per batch, weighs the same in every round.
    let iters = 20_000 / spans;
    let mut per_span = vec![Vec::with_capacity(ROUNDS); runners.len()];
    for round in 0..ROUNDS {
        for k in 0..runners.len() {
            let i = (round + k) % runners.len();
            let elapsed = runners[i](iters);
            per_span[i].push(elapsed.as_nanos() as f64 / (iters * spans) as f64);
        }
    }
    let quartiles = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 4], v[v.len() / 2], v[v.len() * 3 / 4])
    };
    println!("\n{name}: interleaved, {ROUNDS} rounds");
    for (i, library) in LIBRARIES.iter().enumerate() {
        let (_, median, _) = quartiles(per_span[i].clone());
        if i == 0 {
            println!("  {library:<13} {median:8.1} ns per span");
            continue;
        }
        let ratio: Vec<f64> = (0..ROUNDS)
            .map(|r| per_span[0][r] / per_span[i][r])
            .collect();
        let (low, mid, high) = quartiles(ratio);
        println!(
            "  {library:<13} {median:8.1} ns per span   tracekit / {library} = {mid:.3} ({low:.3}-{high:.3})"
        );
    }
}

fn compare(c: &mut Criterion) {
    let (fastrace_reporter, fastrace_kept) = fastrace::collector::TestReporter::new();
    fastrace::set_reporter(fastrace_reporter, fastrace::collector::Config::default());

    for (name, spans) in [("root span, 2 attributes", 1u64), ("3 nested spans", 3)] {
        let nested = spans == 3;
        // fastrace's spans, timed twice: with its flush, and as the traced thread sees them.
        let fastrace_run = || {
            if nested {
                fastrace_nested()
            } else {
                fastrace_root()
            }
        };
        let mut runners: [Runner<'_>; 6] = [
            Box::new(|iters| {
                let tracer = tracekit::Tracer::in_memory((iters * spans) as usize);
                let run = || {
                    if nested {
                        tracekit_nested(&tracer)
                    } else {
                        tracekit_root(&tracer)
                    }
                };
                timed(
                    iters,
                    spans,
                    run,
                    || (),
                    || tracer.stats().spans_persisted as usize,
                )
            }),
            Box::new(|iters| {
                let layer = MemoryLayer::default();
                let kept = layer.spans.clone();
                let subscriber = tracing_subscriber::registry().with(layer);
                tracing_case(subscriber, iters, spans, || kept.lock().unwrap().len())
            }),
            Box::new(|iters| {
                let (provider, exporter) = otel_provider();
                let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
                let subscriber = tracing_subscriber::registry().with(layer);
                tracing_case(subscriber, iters, spans, || otel_count(&exporter))
            }),
            Box::new(|iters| {
                let (provider, exporter) = otel_provider();
                let tracer = provider.tracer("bench");
                let run = || {
                    if nested {
                        otel_nested(&tracer)
                    } else {
                        otel_root(&tracer)
                    }
                };
                timed(iters, spans, run, || (), || otel_count(&exporter))
            }),
            Box::new(|iters| {
                timed_lossy(iters, spans, fastrace_run, fastrace::flush, || {
                    fastrace_count!(fastrace_kept)
                })
            }),
            Box::new(|iters| {
                timed_foreground(iters, spans, fastrace_run, fastrace::flush, || {
                    fastrace_count!(fastrace_kept)
                })
            }),
        ];
        case(c, name, spans, &mut runners);
    }

    let mut runners: [Runner<'_>; 6] = [
        Box::new(|iters| {
            let agent = Agent {
                tracer: tracekit::Tracer::in_memory(iters as usize),
            };
            let run = || {
                black_box(block_on(agent.step(black_box(7))));
            };
            timed(
                iters,
                1,
                run,
                || (),
                || agent.tracer.stats().spans_persisted as usize,
            )
        }),
        Box::new(|iters| {
            let layer = MemoryLayer::default();
            let kept = layer.spans.clone();
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
                let run = || {
                    black_box(block_on(tracing_step(black_box(7))));
                };
                timed(iters, 1, run, || (), || kept.lock().unwrap().len())
            })
        }),
        Box::new(|iters| {
            let (provider, exporter) = otel_provider();
            let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
                let run = || {
                    black_box(block_on(tracing_step(black_box(7))));
                };
                timed(iters, 1, run, || (), || otel_count(&exporter))
            })
        }),
        Box::new(|iters| {
            let (provider, exporter) = otel_provider();
            let tracer = provider.tracer("bench");
            let run = || {
                let cx = opentelemetry::Context::current_with_span(tracer.start("step"));
                black_box(block_on(async { plain(black_box(7)) }.with_context(cx)));
            };
            timed(iters, 1, run, || (), || otel_count(&exporter))
        }),
        Box::new(|iters| {
            use fastrace::prelude::*;
            let run = || {
                let root = Span::root("step", SpanContext::random());
                black_box(block_on(async { plain(black_box(7)) }.in_span(root)));
            };
            timed_lossy(iters, 1, run, fastrace::flush, || {
                fastrace_count!(fastrace_kept)
            })
        }),
        Box::new(|iters| {
            use fastrace::prelude::*;
            let run = || {
                let root = Span::root("step", SpanContext::random());
                black_box(block_on(async { plain(black_box(7)) }.in_span(root)));
            };
            timed_foreground(iters, 1, run, fastrace::flush, || {
                fastrace_count!(fastrace_kept)
            })
        }),
    ];
    case(c, "async fn in block_on", 1, &mut runners);

    let (made, kept) = (
        FASTRACE_MADE.load(Ordering::Relaxed),
        FASTRACE_KEPT.load(Ordering::Relaxed),
    );
    println!(
        "\nfastrace delivered {kept} of {made} spans ({:.1}%); the rest were dropped by its queue\n",
        kept as f64 * 100.0 / made.max(1) as f64
    );

    // Nothing listening: what leaving the instrumentation in costs.
    let mut g = c.benchmark_group("disabled (per call)");
    g.bench_function("uninstrumented call", |b| b.iter(|| plain(black_box(7))));
    let noop = Agent {
        tracer: tracekit::Tracer::noop(),
    };
    g.bench_function("tracekit", |b| b.iter(|| noop.disabled(black_box(7))));
    g.bench_function("tracing", |b| b.iter(|| tracing_disabled(black_box(7))));
    g.bench_function("otel-sdk", |b| {
        let tracer = opentelemetry::trace::noop::NoopTracer::new();
        b.iter(|| {
            let _span = tracer.start("x");
            plain(black_box(7))
        })
    });
    g.bench_function("fastrace", |b| b.iter(|| fastrace_disabled(black_box(7))));
    g.finish();

    // Scaling: the same root spans from one thread, then split over two.
    let mut g = c.benchmark_group("two threads (root spans, total throughput)");
    for threads in [1u64, 2] {
        g.bench_function(format!("tracekit, {threads} thread(s)"), |b| {
            b.iter_custom(|iters| {
                let tracer = tracekit::Tracer::in_memory(iters as usize);
                let per_thread = iters / threads;
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| (0..per_thread).for_each(|_| tracekit_root(&tracer)));
                    }
                });
                let elapsed = start.elapsed();
                assert_eq!(tracer.stats().spans_persisted, per_thread * threads);
                elapsed
            })
        });
    }
    g.finish();
}

/// The caller's side of a store: a root span into `Tracer::sqlite` against the same span into
/// `Tracer::in_memory` (issue 11: at most 1.5×). The store's writer thread runs beside; each
/// sample flushes outside the timed part, so the queue never fills (nothing is dropped).
fn stores(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("tracekit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = tracekit::Tracer::sqlite(
        tracekit::stores::SqliteConfig::new(dir.join("compare.db")).max_queue_size(1 << 20),
    )
    .unwrap();
    let memory = tracekit::Tracer::in_memory(1 << 20);
    // In chunks that fit the queue, each flushed outside the timed part.
    let timed_into = |tracer: &tracekit::Tracer, iters: u64| {
        let mut elapsed = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let chunk = left.min(1 << 18);
            let start = Instant::now();
            (0..chunk).for_each(|_| tracekit_root(tracer));
            elapsed += start.elapsed();
            tracer.flush().unwrap();
            left -= chunk;
        }
        elapsed
    };
    let mut g = c.benchmark_group("root span, 2 attributes, into a store (caller's thread)");
    g.bench_function("Tracer::in_memory", |b| {
        b.iter_custom(|n| timed_into(&memory, n))
    });
    g.bench_function("Tracer::sqlite", |b| {
        b.iter_custom(|n| timed_into(&sqlite, n))
    });
    g.finish();
    let mut ratios = Vec::new();
    for _ in 0..25 {
        let m = timed_into(&memory, 20_000);
        let s = timed_into(&sqlite, 20_000);
        ratios.push(s.as_secs_f64() / m.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "\nroot span into a store: interleaved, 25 rounds\n  Tracer::sqlite / Tracer::in_memory = {:.3} ({:.3}-{:.3})",
        ratios[12], ratios[6], ratios[18]
    );
    let stats = sqlite.stats();
    assert_eq!(stats.spans_dropped + stats.sink_failures, 0, "{stats:?}");
    drop(sqlite);
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = compare, stores
}
criterion_main!(benches);
