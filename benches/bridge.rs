//! `tracing` spans bridged into tracekit, beside the same spans through `tracing-opentelemetry`
//! and through `tracing-subscriber`'s registry alone, in the same run:
//!
//! * `registry alone`: a registry with no layer (what every `tracing` span costs anyway);
//! * `tracekit bridge`: a registry with `bridge::TracingLayer` into `Tracer::in_memory`;
//! * `tracing+otel`: a registry with `tracing-opentelemetry` into an OpenTelemetry SDK with an
//!   in-memory exporter (simple processor).
//!
//! Each span has two fields and is entered and exited once. A second case has no tracekit
//! context and a no-op layer tracer (the layer records nothing), against the registry alone.
//! After each criterion group the runs are repeated interleaved (25 rounds) and the median
//! ratios of the bridge's time to each peer's are printed: on a shared machine whose load
//! drifts, those are the figures to compare.
//!
//! `cargo bench -p tracekit-benches --bench bridge`. See BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracekit::bridge::TracingLayer;
use tracekit::Tracer;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

/// The span every case makes: two fields, entered and exited once.
#[inline(never)]
fn one_span(i: u64) {
    let span = tracing::info_span!("step", i, kind = "tool");
    let _entered = span.enter();
    black_box(i);
}

/// Times `iters` spans made with `dispatch` as the default subscriber; `after` runs untimed.
fn timed(dispatch: &Dispatch, iters: u64, after: impl FnOnce()) -> Duration {
    let elapsed = tracing::dispatcher::with_default(dispatch, || {
        let start = Instant::now();
        for i in 0..iters {
            one_span(i);
        }
        start.elapsed()
    });
    after();
    elapsed
}

struct Peers {
    registry: Dispatch,
    bridge: Dispatch,
    bridge_tracer: Tracer,
    otel: Dispatch,
    otel_exporter: InMemorySpanExporter,
    _otel_provider: SdkTracerProvider,
    noop_bridge: Dispatch,
}

impl Peers {
    fn new() -> Peers {
        let bridge_tracer = Tracer::in_memory(1024);
        let otel_exporter = InMemorySpanExporter::default();
        let otel_provider = SdkTracerProvider::builder()
            .with_simple_exporter(otel_exporter.clone())
            .build();
        let otel_layer = tracing_opentelemetry::layer().with_tracer(otel_provider.tracer("bench"));
        Peers {
            registry: Dispatch::new(tracing_subscriber::registry()),
            bridge: Dispatch::new(
                tracing_subscriber::registry().with(TracingLayer::new(bridge_tracer.clone())),
            ),
            bridge_tracer,
            otel: Dispatch::new(tracing_subscriber::registry().with(otel_layer)),
            otel_exporter,
            _otel_provider: otel_provider,
            noop_bridge: Dispatch::new(
                tracing_subscriber::registry().with(TracingLayer::new(Tracer::noop())),
            ),
        }
    }

    fn run(&self, which: &str, iters: u64) -> Duration {
        match which {
            "registry alone" => timed(&self.registry, iters, || {}),
            "tracekit bridge" => {
                let before = self.bridge_tracer.stats().spans_persisted;
                timed(&self.bridge, iters, || {
                    let kept = self.bridge_tracer.stats().spans_persisted - before;
                    assert_eq!(kept, iters, "the bridge kept every span");
                })
            }
            "tracing+otel" => timed(&self.otel, iters, || {
                let n = self
                    .otel_exporter
                    .get_finished_spans()
                    .map_or(0, |s| s.len());
                self.otel_exporter.reset();
                assert_eq!(n as u64, iters, "the SDK exported every span");
            }),
            "tracekit bridge, no context, no-op tracer" => timed(&self.noop_bridge, iters, || {}),
            other => unreachable!("{other}"),
        }
    }
}

/// Runs `libraries` under criterion, then interleaved, printing the first one's time over
/// each other's (median of 25 rounds, with the middle half).
fn case(c: &mut Criterion, peers: &Peers, name: &str, libraries: &[&str]) {
    let mut g = c.benchmark_group(name);
    for library in libraries {
        g.bench_function(*library, |b| {
            b.iter_custom(|iters| peers.run(library, iters))
        });
    }
    g.finish();
    const ROUNDS: usize = 25;
    const BATCH: u64 = 20_000;
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); libraries.len()];
    for round in 0..ROUNDS {
        let mut times = vec![Duration::ZERO; libraries.len()];
        for k in 0..libraries.len() {
            let i = (round + k) % libraries.len();
            times[i] = peers.run(libraries[i], BATCH);
        }
        for (i, t) in times.iter().enumerate() {
            ratios[i].push(times[0].as_secs_f64() / t.as_secs_f64());
        }
    }
    println!("\n{name}: {} ÷ peer (median of {ROUNDS} interleaved rounds of {BATCH} spans [middle half])", libraries[0]);
    for (library, mut r) in libraries.iter().zip(ratios).skip(1) {
        r.sort_by(f64::total_cmp);
        println!(
            "  ÷ {library:<16} {:.2}  [{:.2}–{:.2}]",
            r[ROUNDS / 2],
            r[ROUNDS / 4],
            r[3 * ROUNDS / 4]
        );
    }
}

fn bridge(c: &mut Criterion) {
    let peers = Peers::new();
    case(
        c,
        &peers,
        "tracing span with 2 fields, entered once (per span)",
        &["tracekit bridge", "tracing+otel", "registry alone"],
    );
    case(
        c,
        &peers,
        "tracing span, no tracekit context, no-op layer tracer (per span)",
        &[
            "tracekit bridge, no context, no-op tracer",
            "registry alone",
        ],
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bridge
}
criterion_main!(benches);
