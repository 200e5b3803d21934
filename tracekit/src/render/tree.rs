//! [`tree`]: spans as an indented tree.

use crate::analysis::forest::Forest;
use crate::Trace;

use super::label;

/// Guides are drawn this many levels deep at most; deeper lines say their depth instead, so a
/// trace 100 000 deep prints 100 000 short lines, not billions of characters.
const DRAWN: usize = 32;

/// The spans as an indented tree, one line each: status mark, name, duration, for LLM
/// calls tokens and cost, for evaluation results (and feedback) the metric, score and label.
/// Roots (spans whose parent is not in the set, orphans included)
/// come in start order, children under their parent in start order. Names are escaped, so
/// no recorded text can control the terminal.
///
/// ```
/// let tracer = tracekit::Tracer::in_memory(10);
/// {
///     let _turn = tracer.trace("turn");
///     drop(tracer.trace("step"));
/// }
/// let text = tracekit::render::tree(&tracer.get_traces(&Default::default()).unwrap());
/// let lines: Vec<&str> = text.lines().collect();
/// assert!(lines[0].starts_with("• turn "));
/// assert!(lines[1].starts_with("└─ • step "));
/// ```
pub fn tree(spans: &[Trace]) -> String {
    let forest = Forest::new(spans);
    let mut out = String::new();
    // Whether each ancestor level still has siblings below: `│` or blank.
    let mut open: Vec<bool> = Vec::new();
    let is_last = forest.last_of_siblings();
    for (i, depth) in forest.depth_first() {
        let t = &spans[i];
        open.truncate(depth);
        let last = is_last[i];
        for &more in open.iter().skip(1).take(DRAWN) {
            out.push_str(if more { "│  " } else { "   " });
        }
        if depth > DRAWN + 1 {
            use std::fmt::Write;
            let _ = write!(out, "┄ depth {depth} ");
        }
        if depth > 0 {
            out.push_str(if last { "└─ " } else { "├─ " });
        }
        open.push(!last);
        out.push(label::mark(t));
        out.push(' ');
        out.push_str(&label::name(t));
        out.push_str("  ");
        match t.duration() {
            Some(d) => out.push_str(&label::duration(d)),
            None => out.push_str("open"),
        }
        let usage = label::usage(t);
        if !usage.is_empty() {
            out.push_str("  [");
            out.push_str(&usage);
            out.push(']');
        }
        let evaluation = label::evaluation(t);
        if !evaluation.is_empty() {
            out.push_str("  [");
            out.push_str(&evaluation);
            out.push(']');
        }
        if depth == 0 && t.parent_span_id.is_some() {
            out.push_str("  (parent not in this set)");
        }
        out.push('\n');
    }
    out
}
