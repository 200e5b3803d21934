//! What `#[traced]` costs: a plain call against the same function traced with
//! `Tracer::noop()` (the cost of leaving the attribute in), and with `Tracer::in_memory`
//! (the cost of recording).
//!
//! The `genai` group: an LLM-call span from `GenAi::chat` (name formatted, 9 attributes in
//! three conventions) and with `record_usage` (tokens in three conventions and the cost),
//! against a plain span with the same name and 2 attributes.
//!
//! `cargo bench --bench overhead`. Compare the rows with each other, not with other
//! machines: absolute times on shared 2-core hosts are noisy.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[inline(never)]
    fn plain(&self, x: u64) -> u64 {
        x.wrapping_mul(31).rotate_left(7)
    }

    #[traced]
    #[inline(never)]
    fn traced(&self, x: u64) -> u64 {
        x.wrapping_mul(31).rotate_left(7)
    }

    #[traced]
    #[inline(never)]
    fn traced_result(&self, x: u64) -> Result<u64, std::io::Error> {
        Ok(x.wrapping_mul(31).rotate_left(7))
    }

    #[traced(attributes("ai.trace.type" = "tool-invocation", "ai.tool.input" = x))]
    #[inline(never)]
    fn traced_attributes(&self, x: u64) -> u64 {
        x.wrapping_mul(31).rotate_left(7)
    }

    #[traced]
    #[inline(never)]
    async fn traced_async(&self, x: u64) -> u64 {
        x.wrapping_mul(31).rotate_left(7)
    }

    #[inline(never)]
    async fn plain_async(&self, x: u64) -> u64 {
        x.wrapping_mul(31).rotate_left(7)
    }

    // With an await point and state across it, as real async fns have: such a future is
    // several states, not the trivial one above, whether traced or not.
    #[traced]
    #[inline(never)]
    async fn traced_async_awaiting(&self, x: u64) -> u64 {
        let held = black_box([x; 4]);
        std::future::ready(()).await;
        held[0].wrapping_mul(31).rotate_left(7)
    }

    #[inline(never)]
    async fn plain_async_awaiting(&self, x: u64) -> u64 {
        let held = black_box([x; 4]);
        std::future::ready(()).await;
        held[0].wrapping_mul(31).rotate_left(7)
    }
}

/// Polls a future that never waits to completion, without a runtime's overhead.
fn run<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!("the benchmarked futures never wait"),
    }
}

fn overhead(c: &mut Criterion) {
    let noop = Agent {
        tracer: Tracer::noop(),
    };
    let memory = Agent {
        tracer: Tracer::in_memory(4096),
    };
    let mut g = c.benchmark_group("traced");
    g.bench_function("plain call", |b| b.iter(|| noop.plain(black_box(7))));
    g.bench_function("noop", |b| b.iter(|| noop.traced(black_box(7))));
    g.bench_function("noop, Result", |b| {
        b.iter(|| noop.traced_result(black_box(7)).ok())
    });
    g.bench_function("noop, 2 attributes", |b| {
        b.iter(|| noop.traced_attributes(black_box(7)))
    });
    g.bench_function("plain async call", |b| {
        b.iter(|| run(noop.plain_async(black_box(7))))
    });
    g.bench_function("noop, async", |b| {
        b.iter(|| run(noop.traced_async(black_box(7))))
    });
    g.bench_function("plain async call, awaiting inside", |b| {
        b.iter(|| run(noop.plain_async_awaiting(black_box(7))))
    });
    g.bench_function("noop, async, awaiting inside", |b| {
        b.iter(|| run(noop.traced_async_awaiting(black_box(7))))
    });
    g.bench_function("in_memory", |b| b.iter(|| memory.traced(black_box(7))));
    g.bench_function("in_memory, 2 attributes", |b| {
        b.iter(|| memory.traced_attributes(black_box(7)))
    });
    g.bench_function("in_memory, async", |b| {
        b.iter(|| run(memory.traced_async(black_box(7))))
    });
    // The traced functions are also used with a recording tracer, as in a real program, so
    // the compiler cannot drop the recording path from the no-op rows.
    black_box(run(memory.traced_async_awaiting(black_box(7))));
    g.finish();
    assert!(memory.tracer.stats().spans_accepted > 0);
}

fn genai(c: &mut Criterion) {
    use tracekit::genai::{GenAi, Usage};
    use tracekit::SpanKind;
    let tracer = Tracer::in_memory(4096);
    let helpers = GenAi::new();
    let mut g = c.benchmark_group("genai");
    g.bench_function("plain span, 2 attributes", |b| {
        b.iter(|| {
            tracer
                .span("chat claude-sonnet-4")
                .kind(SpanKind::Client)
                .attribute("gen_ai.operation.name", "chat")
                .attribute("gen_ai.request.model", black_box("claude-sonnet-4"))
                .start()
                .end()
        })
    });
    g.bench_function("GenAi::chat (3 conventions)", |b| {
        b.iter(|| {
            helpers
                .chat(&tracer, "anthropic", black_box("claude-sonnet-4"))
                .start()
                .end()
        })
    });
    g.bench_function("GenAi::chat + record_usage", |b| {
        b.iter(|| {
            let span = helpers
                .chat(&tracer, "anthropic", black_box("claude-sonnet-4"))
                .start();
            helpers.record_usage(
                &span,
                "claude-sonnet-4",
                &Usage::new(1_200, 300).cache_read(1_000),
            );
        })
    });
    g.finish();
}

criterion_group!(benches, overhead, genai);
criterion_main!(benches);
