//! [`critical_path`]: the chain of spans that determined the end-to-end time.

use std::time::Duration;

use super::forest::Forest;
use crate::{SpanId, Timestamp, Trace, TraceId};

/// One span on the critical path.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The span's trace.
    pub trace_id: TraceId,
    /// The span.
    pub span_id: SpanId,
    /// Its name.
    pub name: String,
    /// How deep it is below its root (0 for a root).
    pub depth: usize,
    /// Time on the path that is this span's own: when it was the last thing running, none
    /// of its children on the path.
    pub self_time: Duration,
}

/// What [`critical_path`] found: the steps in the order the path reaches them (a span before
/// its children on the path), and the time they account for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CriticalPath {
    /// The spans on the path.
    pub steps: Vec<Step>,
    /// The sum of their self times: the end-to-end time of the roots on the path, minus the
    /// gaps between them.
    pub total: Duration,
}

/// The spans that determined how long `spans` took.
///
/// Walking back from the end: a span's time belongs to the child that finished last (and,
/// before that child started, to the child that finished last before then, and so on), and
/// to the span itself where no child was running. Parallel children that finished earlier
/// are off the path. With several roots (turns of a conversation, orphans), the same walk
/// runs over the roots. Ties go to the later start, then the lower span id, so the result
/// is deterministic. Unended snapshots end when they were taken; a child that ends after its
/// parent (clock skew) is cut at the parent's end. No recursion: deep trees are fine.
///
/// ```
/// let tracer = tracekit::Tracer::in_memory(10);
/// {
///     let turn = tracer.trace("turn");
///     // Two children running side by side.
///     let fast = tracer.span("fast").parent(&turn).start();
///     let slow = tracer.span("slow").parent(&turn).start();
///     std::thread::sleep(std::time::Duration::from_millis(5));
///     drop(fast);
///     std::thread::sleep(std::time::Duration::from_millis(5));
///     drop(slow);
/// }
/// let path = tracekit::analysis::critical_path(&tracer.get_traces(&Default::default()).unwrap());
/// let names: Vec<&str> = path.steps.iter().map(|s| s.name.as_str()).collect();
/// assert_eq!(names, ["turn", "slow"]);
/// ```
pub fn critical_path(spans: &[Trace]) -> CriticalPath {
    let forest = Forest::new(spans);
    let mut steps = Vec::new();
    // (span, the end of its window, depth), handled in the order the path reaches them.
    let mut todo: Vec<(usize, Timestamp, usize)> = Vec::new();
    let Some(end) = forest.roots.iter().map(|&r| forest.end(r)).max() else {
        return CriticalPath::default();
    };
    // The roots, as if children of one span covering them all.
    let on_path = pick(&forest, &forest.roots, None, end);
    for (child, window_end) in on_path.into_iter().rev() {
        todo.push((child, window_end, 0));
    }
    let mut total = Duration::ZERO;
    while let Some((i, window_end, depth)) = todo.pop() {
        let start = forest.spans[i].started_at;
        let end = forest.end(i).min(window_end);
        let path = pick(&forest, &forest.children[i], Some(start), end);
        let children_time: Duration = path
            .iter()
            .map(|&(c, e)| e.saturating_duration_since(forest.spans[c].started_at.max(start)))
            .sum();
        let self_time = end
            .saturating_duration_since(start)
            .saturating_sub(children_time);
        total += self_time;
        let span = &forest.spans[i];
        steps.push(Step {
            trace_id: span.trace_id,
            span_id: span.span_id,
            name: span.span_name.to_string(),
            depth,
            self_time,
        });
        for (child, window_end) in path.into_iter().rev() {
            todo.push((child, window_end, depth + 1));
        }
    }
    CriticalPath { steps, total }
}

/// Of `candidates`, the ones on the path through the window up to `end` (and from `start`,
/// if given), latest first turned to earliest first, each with the end of its own window.
fn pick(
    forest: &Forest<'_>,
    candidates: &[usize],
    start: Option<Timestamp>,
    end: Timestamp,
) -> Vec<(usize, Timestamp)> {
    let mut by_end: Vec<usize> = candidates.to_vec();
    by_end.sort_by(|&a, &b| {
        let (sa, sb) = (&forest.spans[a], &forest.spans[b]);
        forest
            .end(b)
            .cmp(&forest.end(a))
            .then(sb.started_at.cmp(&sa.started_at))
            .then(sa.span_id.cmp(&sb.span_id))
    });
    let mut cursor = end;
    let mut chosen = Vec::new();
    for c in by_end {
        let span_start = forest.spans[c].started_at;
        if start.is_some_and(|s| cursor <= s) {
            break;
        }
        // Ended after the cursor: it ran beside a span already on the path; started after
        // it: nothing of it is left in the window.
        if forest.end(c) > cursor && !chosen.is_empty() || span_start >= cursor {
            continue;
        }
        let window_end = forest.end(c).min(cursor);
        chosen.push((c, window_end));
        cursor = match start {
            Some(s) => span_start.max(s),
            None => span_start,
        };
    }
    chosen.reverse();
    chosen
}
