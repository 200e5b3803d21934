//! Sampling (`tracekit::Sampler`): head sampling by trace id with the W3C `sampled` flag
//! followed and passed on, and tail sampling that keeps whole traces by rule.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tracekit::eval::{log_feedback, EvalSpan, Feedback};
use tracekit::propagation::{self, RemoteContext};
use tracekit::{
    BatchConfig, ExportError, Exporter, Sampler, SpanStatus, Trace, TraceFilter, TraceId, Tracer,
};

/// Collects what a batched tracer exports.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<Trace>>>);

impl Exporter for Collected {
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
        self.0.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }
}

impl Collected {
    fn tracer(&self, sampler: Sampler) -> Tracer {
        Tracer::batched(self.clone(), BatchConfig::new().max_queue_size(1 << 20))
            .unwrap()
            .with_sampler(sampler)
            .unwrap()
    }

    /// Spans per trace.
    fn by_trace(&self) -> HashMap<TraceId, usize> {
        let mut counts = HashMap::new();
        for span in self.0.lock().unwrap().iter() {
            *counts.entry(span.trace_id).or_default() += 1;
        }
        counts
    }
}

/// Whether `kept` of `n` is within five standard deviations of `ratio`.
fn within_binomial_bounds(kept: usize, n: usize, ratio: f64) -> bool {
    let mean = n as f64 * ratio;
    let sd = (n as f64 * ratio * (1.0 - ratio)).sqrt();
    (kept as f64 - mean).abs() <= 5.0 * sd
}

#[test]
fn head_sampling_keeps_the_ratio_of_traces_and_whole_traces() {
    let tracer = Tracer::in_memory(100_000)
        .with_sampler(Sampler::ratio(0.1))
        .unwrap();
    for _ in 0..10_000 {
        let root = tracer.trace("turn");
        let child = tracer.trace("llm");
        assert_eq!(
            child.is_sampled(),
            root.is_sampled(),
            "a child follows its parent"
        );
    }
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    let mut per_trace: HashMap<TraceId, usize> = HashMap::new();
    for s in &spans {
        *per_trace.entry(s.trace_id).or_default() += 1;
    }
    assert!(per_trace.values().all(|&n| n == 2), "no trace in part");
    assert!(
        within_binomial_bounds(per_trace.len(), 10_000, 0.1),
        "{} of 10 000 kept at 10 %",
        per_trace.len()
    );
    let stats = tracer.stats();
    assert_eq!(stats.traces_sampled_out as usize, 10_000 - per_trace.len());
    assert_eq!(stats.spans_sampled_out as usize, 20_000 - spans.len());
    assert_eq!(stats.spans_accepted as usize, spans.len());
}

#[test]
fn the_callers_sampled_flag_is_followed_and_passed_on() {
    let tracer = Tracer::in_memory(100)
        .with_sampler(Sampler::ratio(1.0))
        .unwrap();
    let caller: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
    let headers = |flags: &str| {
        HashMap::from([(
            "traceparent".to_owned(),
            format!("00-{caller}-00f067aa0ba902b7-{flags}"),
        )])
    };

    // The caller did not sample: neither does this service, and it says so downstream.
    let span = tracer
        .span("handle")
        .remote(propagation::extract(&headers("00")))
        .start();
    assert!(!span.is_sampled());
    let mut out = HashMap::<String, String>::new();
    propagation::inject(&span, &mut out);
    assert!(out["traceparent"].ends_with("-00"), "{out:?}");
    drop(span);

    // The caller sampled: so does this service, even at a ratio of 0.
    let none = Tracer::in_memory(100)
        .with_sampler(Sampler::ratio(0.0))
        .unwrap();
    let span = none
        .span("handle")
        .remote(propagation::extract(&headers("01")))
        .start();
    assert!(span.is_sampled());
    propagation::inject(&span, &mut out);
    assert!(out["traceparent"].ends_with("-01"), "{out:?}");
    drop(span);
    assert_eq!(none.get_traces(&TraceFilter::new()).unwrap().len(), 1);
    assert!(tracer.get_traces(&TraceFilter::new()).unwrap().is_empty());
    assert_eq!(tracer.stats().traces_sampled_out, 1);

    // A context built by hand is sampled, as `RemoteContext::new` says.
    let ctx = RemoteContext::new(caller, "00f067aa0ba902b7".parse().unwrap());
    assert!(none.span("handle").remote(ctx).start().is_sampled());
}

#[test]
fn bad_samplers_and_misplaced_tail_rules_are_config_errors() {
    let err = Tracer::in_memory(10)
        .with_sampler(Sampler::ratio(1.5))
        .unwrap_err();
    assert!(err.to_string().contains("from 0 to 1"), "{err}");
    let err = Tracer::in_memory(10)
        .with_sampler(Sampler::tail().keep_errors())
        .unwrap_err();
    assert!(err.to_string().contains("in_background"), "{err}");
    let tracer = Tracer::in_memory(10);
    let _clone = tracer.clone();
    let err = tracer.with_sampler(Sampler::ratio(0.5)).unwrap_err();
    assert!(err.to_string().contains("cloned"), "{err}");
    // Wrapped in a queue, any tracer takes tail rules.
    let behind = Tracer::in_memory(10).in_background().unwrap();
    assert!(behind.with_sampler(Sampler::tail().keep_errors()).is_ok());
}

/// What a generated trace is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    Failed,
    Expensive,
    BadFeedback,
    Plain,
}

impl Shape {
    fn of(n: u8) -> Shape {
        match n {
            0 => Shape::Failed,
            1 | 2 => Shape::Expensive,
            3 => Shape::BadFeedback,
            _ => Shape::Plain,
        }
    }
}

/// A turn: the root, an LLM call, a tool call, and for some a user's feedback; returns the
/// trace id and its number of spans.
fn turn(tracer: &Tracer, shape: Shape) -> (TraceId, usize) {
    let root = tracer.trace("turn");
    root.add_inheritable_attribute("ai.conversation.id", "c-1");
    let mut spans = 3;
    {
        let llm = tracer.trace("llm");
        llm.add_attribute("gen_ai.operation.name", "chat")
            .add_attribute("gen_ai.usage.input_tokens", 120u64)
            .add_attribute("gen_ai.usage.output_tokens", 30u64)
            .add_attribute(
                "tracekit.cost.usd",
                if shape == Shape::Expensive {
                    0.8
                } else {
                    0.001
                },
            );
    }
    {
        let tool = tracer.trace("tool");
        if shape == Shape::Failed {
            tool.set_status(SpanStatus::Error);
        }
    }
    match shape {
        Shape::BadFeedback => {
            root.log_feedback(Feedback::Binary(false)).unwrap();
            spans += 1;
        }
        Shape::Plain => {
            // Good feedback is no reason to keep a trace.
            root.log_feedback(Feedback::Numeric(0.9)).unwrap();
            spans += 1;
        }
        _ => {}
    }
    (root.trace_id().unwrap(), spans)
}

fn rules() -> Sampler {
    Sampler::tail()
        .keep_errors()
        .keep_cost_at_least(0.5)
        .keep_feedback_below(0.5)
        .otherwise(0.1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// 10 000 traces (1 % failed, 2 % expensive, 1 % with a thumbs-down), 10 % base ratio:
    /// every trace a rule keeps is kept, the rest within the ratio's bounds, none in part.
    #[test]
    fn tail_sampling_keeps_what_matters_and_whole_traces(
        shapes in proptest::collection::vec(0u8..100, 10_000),
    ) {
        let collected = Collected::default();
        let tracer = collected.tracer(rules());
        let mut expected = BTreeMap::new();
        for &n in &shapes {
            let shape = Shape::of(n);
            let (id, spans) = turn(&tracer, shape);
            expected.insert(id, (shape, spans));
        }
        tracer.shutdown().unwrap();
        let kept = collected.by_trace();
        for (id, n) in &kept {
            let (_, spans) = expected[id];
            prop_assert_eq!(*n, spans, "a trace kept in part");
        }
        let mut plain = (0, 0);
        for (id, (shape, _)) in &expected {
            if *shape == Shape::Plain {
                plain.0 += 1;
                plain.1 += usize::from(kept.contains_key(id));
            } else {
                prop_assert!(kept.contains_key(id), "a {:?} trace was dropped", shape);
            }
        }
        prop_assert!(
            within_binomial_bounds(plain.1, plain.0, 0.1),
            "{} of {} plain traces kept at 10 %", plain.1, plain.0
        );
        let stats = tracer.stats();
        prop_assert_eq!(stats.traces_kept as usize, kept.len());
        prop_assert_eq!(stats.traces_sampled_out as usize, 10_000 - kept.len());
        let all: usize = expected.values().map(|(_, n)| n).sum();
        let stored: usize = kept.values().sum();
        prop_assert_eq!(stats.spans_sampled_out as usize, all - stored);
        prop_assert_eq!(stats.spans_persisted as usize, stored);
        prop_assert_eq!(stats.spans_pending, 0);
    }
}

#[test]
fn feedback_after_the_turn_counts_within_the_decision_wait() {
    let collected = Collected::default();
    let tracer = collected.tracer(
        Sampler::tail()
            .keep_feedback_below(0.5)
            .decision_wait(Duration::from_secs(2)),
    );
    let (liked, disliked) = (
        turn(&tracer, Shape::Failed).0,
        turn(&tracer, Shape::Failed).0,
    );
    // Given by ids, as a web handler would, after the turns ended.
    log_feedback(&tracer, disliked, None, Feedback::Binary(false)).unwrap();
    log_feedback(&tracer, liked, None, Feedback::Binary(true)).unwrap();
    // Both are decided once the wait is over (the writer looks at least every 100 ms).
    let waited = std::time::Instant::now();
    while tracer.stats().traces_kept + tracer.stats().traces_sampled_out < 2 {
        assert!(waited.elapsed() < Duration::from_secs(30), "never decided");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        waited.elapsed() >= Duration::from_millis(1_500),
        "decided before the wait"
    );
    tracer.flush().unwrap();
    let kept = collected.by_trace();
    assert_eq!(kept.get(&disliked), Some(&4), "{kept:?}");
    assert!(!kept.contains_key(&liked));
    assert_eq!(tracer.stats().traces_sampled_out, 1);
}

#[test]
fn attributes_and_rules_of_ones_own_keep_traces() {
    let collected = Collected::default();
    let tracer = collected.tracer(
        Sampler::tail()
            .keep_attribute("ai.user.tier", "enterprise")
            .keep_tokens_at_least(1_000)
            .keep_if(|spans| spans.iter().any(|s| s.span_name == "escalate")),
    );
    let ids: Vec<TraceId> = (0..4)
        .map(|i| {
            let root = tracer.trace("turn");
            match i {
                0 => {
                    root.add_inheritable_attribute("ai.user.tier", "enterprise");
                }
                1 => {
                    tracer
                        .trace("llm")
                        .add_attribute("gen_ai.usage.input_tokens", 900u64)
                        .add_attribute("gen_ai.usage.output_tokens", 200u64);
                }
                2 => tracer.trace("escalate").end(),
                _ => {
                    root.add_attribute("ai.user.tier", "free");
                }
            }
            root.trace_id().unwrap()
        })
        .collect();
    tracer.flush().unwrap();
    let kept = collected.by_trace();
    assert!(ids[..3].iter().all(|id| kept.contains_key(id)), "{kept:?}");
    assert!(!kept.contains_key(&ids[3]));
}

/// Past `max_pending_spans`, the oldest traces are decided on what they have; their later
/// spans follow the decision, so even then no trace is kept in part.
#[test]
fn pending_traces_are_bounded_and_never_kept_in_part() {
    let collected = Collected::default();
    let tracer = collected.tracer(
        Sampler::tail()
            .keep_errors()
            .otherwise(0.5)
            .max_pending_spans(50),
    );
    // 200 turns open at once (nested, each a trace of its own), each with 3 ended children;
    // then the roots end.
    fn open(tracer: &Tracer, i: usize, failed: &mut Vec<TraceId>) {
        if i == 200 {
            assert!(tracer.stats().spans_pending <= 50 + 4);
            return;
        }
        let root = tracer.span("turn").root().start();
        for _ in 0..3 {
            let child = tracer.trace("step");
            if i.is_multiple_of(10) {
                child.set_status(SpanStatus::Error);
            }
        }
        if i.is_multiple_of(10) {
            failed.push(root.trace_id().unwrap());
        }
        tracer.flush().unwrap();
        open(tracer, i + 1, failed);
    }
    let mut failed = Vec::new();
    open(&tracer, 0, &mut failed);
    tracer.shutdown().unwrap();
    let kept = collected.by_trace();
    assert!(kept.values().all(|&n| n == 4), "a trace kept in part");
    assert!(failed.iter().all(|id| kept.contains_key(id)));
    let stats = tracer.stats();
    assert_eq!(stats.traces_kept + stats.traces_sampled_out, 200);
}

/// Traces waiting for their decision are pending (not lost, not written); shutdown (and the
/// exit hooks) decide every one at once.
#[test]
fn shutdown_decides_every_trace_still_waiting() {
    let collected = Collected::default();
    let tracer = collected.tracer(
        Sampler::tail()
            .keep_errors()
            .decision_wait(Duration::from_secs(3600)),
    );
    let failed: Vec<TraceId> = (0..10)
        .filter_map(|i| {
            let (id, _) = turn(
                &tracer,
                if i % 2 == 0 {
                    Shape::Failed
                } else {
                    Shape::Plain
                },
            );
            (i % 2 == 0).then_some(id)
        })
        .collect();
    tracer.flush().unwrap();
    assert!(collected.by_trace().is_empty());
    assert_eq!(tracer.stats().spans_pending, 5 * 3 + 5 * 4);
    tracer.shutdown().unwrap();
    let kept = collected.by_trace();
    assert_eq!(kept.len(), 5);
    assert!(failed.iter().all(|id| kept[id] == 3));
    assert_eq!(tracer.stats().spans_pending, 0);
}
