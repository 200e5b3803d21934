//! Comparing runs: `analysis::diff` of two 10 000-span agent traces (an LLM call, a tool call
//! with arguments, a step, over and over, under one turn), the second with one tool call's
//! arguments changed and one more LLM call; and `testing::snapshot` of one of them.
//!
//! `cargo bench --bench analysis`.

use criterion::{criterion_group, criterion_main, Criterion};
use tracekit::genai::{GenAi, Usage};
use tracekit::{Trace, Tracer};

/// One turn of `spans` spans; `changed` alters the 2 000th tool call and adds an LLM call.
fn run(spans: usize, changed: bool) -> Vec<Trace> {
    let tracer = Tracer::in_memory(spans + 10);
    let genai = GenAi::new();
    {
        let _turn = genai.agent_turn(&tracer, "agent", "conv-bench").start();
        for i in 0..(spans - 1) / 3 {
            let call = genai.chat(&tracer, "openai", "gpt-4o").start();
            genai.record_usage(&call, "gpt-4o", &Usage::new(100 + i as u64 % 7, 20));
            drop(call);
            let tool = genai.execute_tool(&tracer, "search", None).start();
            let city = if changed && i == 2_000 {
                "Paris"
            } else {
                "Amsterdam"
            };
            tool.add_attribute(
                "gen_ai.tool.call.arguments",
                format!("{{\"city\":\"{city}\"}}"),
            );
            drop(tool);
            drop(tracer.span("step").start());
            if changed && i == 2_500 {
                drop(genai.chat(&tracer, "openai", "gpt-4o").start());
            }
        }
    }
    tracer.get_traces(&Default::default()).unwrap()
}

fn bench(c: &mut Criterion) {
    let (before, after) = (run(10_000, false), run(10_000, true));
    let report = tracekit::analysis::diff(&before, &after);
    assert_eq!(report.changes.len(), 2, "{report}");
    let mut group = c.benchmark_group("analysis");
    group.sample_size(20);
    group.bench_function("diff two 10 000-span traces", |b| {
        b.iter(|| tracekit::analysis::diff(&before, &after))
    });
    group.bench_function("snapshot of a 10 000-span trace", |b| {
        b.iter(|| tracekit::testing::snapshot(&before))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
