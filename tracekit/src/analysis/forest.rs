//! The spans of a set of traces as trees: parents, children, roots.

use std::collections::HashMap;

use crate::{SpanId, Timestamp, Trace, TraceId};

/// Indexes into a slice of spans: each span's children (by start), and the roots (spans
/// whose parent is not in the set, orphans included), by start.
pub(crate) struct Forest<'a> {
    pub(crate) spans: &'a [Trace],
    pub(crate) children: Vec<Vec<usize>>,
    pub(crate) roots: Vec<usize>,
}

impl<'a> Forest<'a> {
    pub(crate) fn new(spans: &'a [Trace]) -> Forest<'a> {
        let index: HashMap<(TraceId, SpanId), usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.trace_id, s.span_id), i))
            .collect();
        let mut children = vec![Vec::new(); spans.len()];
        let mut parents = vec![None; spans.len()];
        let mut roots = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            match span
                .parent_span_id
                .and_then(|p| index.get(&(span.trace_id, p)))
            {
                // A span listed as its own parent would make a cycle: a root.
                Some(&parent) if parent != i => {
                    children[parent].push(i);
                    parents[i] = Some(parent);
                }
                _ => roots.push(i),
            }
        }
        let by_start =
            |v: &mut Vec<usize>| v.sort_by_key(|&i| (spans[i].started_at, spans[i].span_id));
        children.iter_mut().for_each(by_start);
        by_start(&mut roots);
        let mut forest = Forest {
            spans,
            children,
            roots,
        };
        forest.break_cycles(&parents);
        forest
    }

    /// Parent links that loop (a → b → a, possible in hand-written or corrupt data) leave
    /// spans unreachable from any root: make each such loop's first span a root.
    /// Linear however many loops there are: the search for unreached spans only moves on.
    fn break_cycles(&mut self, parents: &[Option<usize>]) {
        let mut reached = vec![false; self.spans.len()];
        let mut stack: Vec<usize> = self.roots.clone();
        let mut next = 0;
        loop {
            while let Some(i) = stack.pop() {
                if !std::mem::replace(&mut reached[i], true) {
                    stack.extend(&self.children[i]);
                }
            }
            let Some(orphan) = (next..reached.len()).find(|&i| !reached[i]) else {
                break;
            };
            next = orphan + 1;
            // Detach it from its parent, whose child list holds it.
            if let Some(parent) = parents[orphan] {
                self.children[parent].retain(|&c| c != orphan);
            }
            self.roots.push(orphan);
            stack.push(orphan);
        }
        let spans = self.spans;
        self.roots
            .sort_by_key(|&i| (spans[i].started_at, spans[i].span_id));
    }

    /// When span `i` ended: its end, or for an unended snapshot the time it was taken (or
    /// its start); never before its start (clock skew between processes).
    pub(crate) fn end(&self, i: usize) -> Timestamp {
        let s = &self.spans[i];
        s.ended_at
            .or(s.snapshot_at)
            .unwrap_or(s.started_at)
            .max(s.started_at)
    }

    /// Whether each span is the last of its siblings (roots count as siblings): where a drawn
    /// tree ends a branch with `└─`.
    pub(crate) fn last_of_siblings(&self) -> Vec<bool> {
        let mut last = vec![false; self.spans.len()];
        for siblings in self.children.iter().chain([&self.roots]) {
            if let Some(&l) = siblings.last() {
                last[l] = true;
            }
        }
        last
    }

    /// Each span's parent in the forest (`None` for roots).
    pub(crate) fn parents(&self) -> Vec<Option<usize>> {
        let mut parents = vec![None; self.spans.len()];
        for (parent, children) in self.children.iter().enumerate() {
            for &c in children {
                parents[c] = Some(parent);
            }
        }
        parents
    }

    /// Spans in depth-first order with their depth, roots by start, children by start;
    /// without recursion, so deep trees cannot overflow the stack.
    pub(crate) fn depth_first(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(self.spans.len());
        let mut stack: Vec<(usize, usize)> = self.roots.iter().rev().map(|&r| (r, 0)).collect();
        while let Some((i, depth)) = stack.pop() {
            out.push((i, depth));
            stack.extend(self.children[i].iter().rev().map(|&c| (c, depth + 1)));
        }
        out
    }
}
