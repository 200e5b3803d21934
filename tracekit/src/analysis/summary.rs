//! [`summary`]: what a set of traces did, used and cost.

use std::collections::BTreeMap;
use std::time::Duration;

use super::forest::Forest;
pub use crate::semconv::Tokens;
pub(crate) use crate::semconv::{cost, tokens};
use crate::{SpanStatus, Timestamp, Trace, Value};

/// One model's share of a [`Summary`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelSummary {
    /// LLM calls to it.
    pub calls: u64,
    /// Their tokens.
    pub tokens: Tokens,
    /// Their cost in US dollars (priced calls only).
    pub cost_usd: f64,
    /// Calls that could not be priced.
    pub unpriced_calls: u64,
}

/// What [`summary`] found.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Distinct traces.
    pub traces: usize,
    /// Spans.
    pub spans: usize,
    /// LLM calls.
    pub llm_calls: u64,
    /// Tokens over all LLM calls.
    pub tokens: Tokens,
    /// Cost of the priced LLM calls, US dollars.
    pub cost_usd: f64,
    /// LLM calls without a price (their cost is unknown, not zero).
    pub unpriced_calls: u64,
    /// Per model (the response model if recorded, else the requested one).
    pub models: BTreeMap<String, ModelSummary>,
    /// Tool calls.
    pub tool_calls: u64,
    /// Spans with status `Error`.
    pub errors: u64,
    /// Sum over traces of first start to last end.
    pub wall_time: Duration,
    /// Of the wall time, time when an LLM call was running.
    pub llm_time: Duration,
    /// Time when a tool was running and no LLM call was.
    pub tool_time: Duration,
    /// The rest: the agent's own code (and waiting).
    pub own_time: Duration,
}

/// What a span is, as far as time and money go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Llm,
    Tool,
    Other,
}

fn text<'a>(t: &'a Trace, key: &str) -> Option<&'a str> {
    t.attributes.get(key).and_then(Value::as_str)
}

/// Reads the conventions the genai helpers write (any one of them suffices).
pub(crate) fn role(t: &Trace) -> Role {
    let op = text(t, "gen_ai.operation.name");
    let ty = text(t, "ai.trace.type");
    let oi = text(t, "openinference.span.kind");
    if matches!(op, Some("chat" | "text_completion" | "generate_content"))
        || ty == Some("llm-invocation")
        || oi == Some("LLM")
    {
        Role::Llm
    } else if op == Some("execute_tool") || ty == Some("tool-invocation") || oi == Some("TOOL") {
        Role::Tool
    } else {
        Role::Other
    }
}

fn model(t: &Trace) -> String {
    [
        "gen_ai.response.model",
        "gen_ai.request.model",
        "llm.model_name",
        "ai.llm.request.model.id",
    ]
    .iter()
    .find_map(|k| text(t, k))
    .unwrap_or("unknown")
    .to_owned()
}

/// Summarises `spans` (any number of traces, in any order): LLM calls, tokens by kind,
/// cost and its per-model breakdown, tool calls, errors, and where the wall time went.
///
/// Orphans (a parent not in the set) count as roots; unended snapshots end when they were
/// taken; spans from a process whose clock runs ahead are clamped, never negative.
///
/// ```
/// use tracekit::genai::{GenAi, Usage};
/// let tracer = tracekit::Tracer::in_memory(10);
/// let genai = GenAi::new();
/// {
///     let _turn = genai.agent_turn(&tracer, "agent", "c-1").start();
///     let call = genai.chat(&tracer, "openai", "gpt-4o").start();
///     genai.record_usage(&call, "gpt-4o", &Usage::new(1_000, 100));
/// }
/// let summary = tracekit::analysis::summary(&tracer.get_traces(&Default::default()).unwrap());
/// assert_eq!((summary.llm_calls, summary.tokens.total()), (1, 1_100));
/// assert!(summary.cost_usd > 0.0);
/// ```
pub fn summary(spans: &[Trace]) -> Summary {
    let forest = Forest::new(spans);
    let mut s = Summary {
        spans: spans.len(),
        ..Summary::default()
    };
    let mut traces: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for (i, t) in spans.iter().enumerate() {
        traces.entry(t.trace_id).or_default().push(i);
        if t.span_status == SpanStatus::Error {
            s.errors += 1;
        }
        match role(t) {
            Role::Llm => {
                s.llm_calls += 1;
                let tokens = tokens(t);
                s.tokens.add(&tokens);
                let m = s.models.entry(model(t)).or_default();
                m.calls += 1;
                m.tokens.add(&tokens);
                match cost(t) {
                    Some(usd) => {
                        s.cost_usd += usd;
                        m.cost_usd += usd;
                    }
                    None => {
                        s.unpriced_calls += 1;
                        m.unpriced_calls += 1;
                    }
                }
            }
            Role::Tool => s.tool_calls += 1,
            Role::Other => {}
        }
    }
    s.traces = traces.len();
    for members in traces.values() {
        let interval = |i: usize| (spans[i].started_at, forest.end(i));
        let Some(start) = members.iter().map(|&i| spans[i].started_at).min() else {
            continue;
        };
        let end = members
            .iter()
            .map(|&i| forest.end(i))
            .max()
            .unwrap_or(start);
        let wall = end.saturating_duration_since(start);
        let of = |r: Role| {
            members
                .iter()
                .filter(|&&i| role(&spans[i]) == r)
                .map(|&i| interval(i))
                .collect::<Vec<_>>()
        };
        let (llm, tool) = (of(Role::Llm), of(Role::Tool));
        let llm_time = covered(llm.clone());
        let busy = covered(llm.into_iter().chain(tool).collect());
        s.wall_time += wall;
        s.llm_time += llm_time;
        s.tool_time += busy.saturating_sub(llm_time);
        s.own_time += wall.saturating_sub(busy);
    }
    s
}

/// The time covered by the union of `intervals`.
fn covered(mut intervals: Vec<(Timestamp, Timestamp)>) -> Duration {
    intervals.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(Timestamp, Timestamp)> = None;
    for (start, end) in intervals {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e.saturating_duration_since(s);
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += e.saturating_duration_since(s);
    }
    total
}
