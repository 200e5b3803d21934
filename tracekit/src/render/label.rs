//! What the tree and the timeline write for a span: its mark, name, time, tokens and cost.

use std::time::Duration;

use crate::analysis::{self, Role};
use crate::format::escape;
use crate::{SpanStatus, Trace};

/// `✓` ok, `✗` error, `•` unset, `…` still open (a snapshot).
pub(crate) fn mark(t: &Trace) -> char {
    match (t.ended_at, t.span_status) {
        (None, _) => '…',
        (_, SpanStatus::Ok) => '✓',
        (_, SpanStatus::Error) => '✗',
        (_, SpanStatus::Unset) => '•',
    }
}

/// `850 µs`, `12.3 ms`, `1.23 s`, `2 m 05 s`.
pub(crate) fn duration(d: Duration) -> String {
    let micros = d.as_micros();
    match micros {
        0..=999 => format!("{micros} µs"),
        1_000..=999_999 => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        1_000_000..=119_999_999 => format!("{:.2} s", d.as_secs_f64()),
        _ => format!("{} m {:02} s", d.as_secs() / 60, d.as_secs() % 60),
    }
}

/// The span's name, safe for a terminal and on one line (a tab would break the columns).
pub(crate) fn name(t: &Trace) -> String {
    escape(&t.span_name).replace('\t', "\\t")
}

/// `in 1200 · out 300 · $0.0081` for an LLM call (`unpriced` without a cost), empty else.
pub(crate) fn usage(t: &Trace) -> String {
    if analysis::role(t) != Role::Llm {
        return String::new();
    }
    let tokens = analysis::tokens(t);
    let cost = match analysis::cost(t) {
        Some(usd) => format!("${usd:.4}"),
        None => "unpriced".to_owned(),
    };
    format!("in {} · out {} · {cost}", tokens.input, tokens.output)
}

/// `relevance 0.92 relevant` for an evaluation result (an evaluator's or a user's), empty else.
pub(crate) fn evaluation(t: &Trace) -> String {
    let Some(name) = t
        .attributes
        .get("gen_ai.evaluation.name")
        .and_then(|v| v.as_str())
    else {
        return String::new();
    };
    let mut out = format!("{} =", escape(name));
    if let Some(score) = t
        .attributes
        .get("gen_ai.evaluation.score.value")
        .and_then(|v| v.as_f64())
    {
        out.push_str(&format!(" {score}"));
    }
    if let Some(label) = t
        .attributes
        .get("gen_ai.evaluation.score.label")
        .and_then(|v| v.as_str())
    {
        out.push_str(&format!(" {}", escape(label)));
    }
    out
}
