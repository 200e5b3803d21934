//! Tail sampling on the writer thread (`sampling::TailRules`): a trace's spans wait until its
//! root ends (and `decision_wait` more), then the whole trace goes to the exporter or is
//! dropped. Spans of a trace already decided follow the decision, so no trace is kept in part.
//!
//! Memory is bounded: past `max_pending_spans`, the traces that arrived first are decided on
//! what they have. Decisions are remembered for the latest `REMEMBERED` traces, for their late
//! spans; a span later still starts the trace anew, and is decided on its own (the base ratio
//! goes by trace id, so it agrees; only a rule that matches the late part alone could keep a
//! part).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crate::sampling::TailRules;
use crate::{Trace, TraceId};

/// Decisions kept for late spans.
const REMEMBERED: usize = 65_536;

/// The writer's tail-sampling state.
pub(super) struct Tail {
    rules: Arc<TailRules>,
    pending: HashMap<TraceId, Pending>,
    /// Undecided traces in the order their first span arrived (some may be decided since).
    arrival: VecDeque<TraceId>,
    /// Traces whose root ended, in that order, and when.
    due: VecDeque<(Instant, TraceId)>,
    /// Spans in `pending`.
    held: usize,
    decided: HashMap<TraceId, bool>,
    decided_order: VecDeque<TraceId>,
    pub(super) counts: Counts,
}

#[derive(Default)]
struct Pending {
    spans: Vec<Trace>,
    root_ended: bool,
}

/// What the writer reports in `stats()`.
#[derive(Clone, Copy, Default)]
pub(super) struct Counts {
    pub(super) held: u64,
    pub(super) traces_kept: u64,
    pub(super) traces_dropped: u64,
    pub(super) spans_dropped: u64,
}

impl Tail {
    pub(super) fn new(rules: Arc<TailRules>) -> Tail {
        Tail {
            rules,
            pending: HashMap::new(),
            arrival: VecDeque::new(),
            due: VecDeque::new(),
            held: 0,
            decided: HashMap::new(),
            decided_order: VecDeque::new(),
            counts: Counts::default(),
        }
    }

    /// Takes an ended span: returned at once if its trace was kept already, dropped if its
    /// trace was dropped, held for its trace's decision otherwise.
    pub(super) fn offer(&mut self, span: Trace, local_root: bool, now: Instant) -> Option<Trace> {
        let id = span.trace_id;
        match self.decided.get(&id) {
            Some(true) => return Some(span),
            Some(false) => {
                self.counts.spans_dropped += 1;
                return None;
            }
            None => {}
        }
        let pending = self.pending.entry(id).or_insert_with(|| {
            self.arrival.push_back(id);
            Pending::default()
        });
        pending.spans.push(span);
        self.held += 1;
        if local_root && !pending.root_ended {
            pending.root_ended = true;
            self.due.push_back((now, id));
        }
        None
    }

    /// Decides the traces that are due (root ended `decision_wait` ago), all of them when
    /// `all` (shutdown, exit), and the oldest while too many spans wait; the spans of the
    /// kept ones.
    pub(super) fn decide(&mut self, now: Instant, all: bool) -> Vec<Trace> {
        let mut kept = Vec::new();
        while let Some(&(ended, id)) = self.due.front() {
            if !all && now.saturating_duration_since(ended) < self.rules.decision_wait {
                break;
            }
            self.due.pop_front();
            self.settle(id, &mut kept);
        }
        while all || self.held > self.rules.max_pending_spans {
            let Some(id) = self.arrival.pop_front() else {
                break;
            };
            self.settle(id, &mut kept);
        }
        if self.arrival.len() > 2 * self.pending.len() + 1024 {
            // Ids of traces decided through `due` linger in `arrival`: drop them now and then.
            let pending = &self.pending;
            self.arrival.retain(|id| pending.contains_key(id));
        }
        self.counts.held = self.held as u64;
        kept
    }

    /// Decides one trace, if it is still pending; its spans go to `kept` if it is kept.
    fn settle(&mut self, id: TraceId, kept_spans: &mut Vec<Trace>) {
        let Some(trace) = self.pending.remove(&id) else {
            return;
        };
        self.held -= trace.spans.len();
        let kept = self.rules.keeps(id, &trace.spans);
        if kept {
            self.counts.traces_kept += 1;
            kept_spans.extend(trace.spans);
        } else {
            self.counts.traces_dropped += 1;
            self.counts.spans_dropped += trace.spans.len() as u64;
        }
        if self.decided_order.len() == REMEMBERED {
            if let Some(old) = self.decided_order.pop_front() {
                self.decided.remove(&old);
            }
        }
        self.decided.insert(id, kept);
        self.decided_order.push_back(id);
    }
}
