use std::collections::VecDeque;
use std::sync::Mutex;

use crate::{lock, Error, Sink, Trace, TraceFilter};

/// Keeps the most recent finished spans in memory; from
/// [`Tracer::in_memory`](crate::Tracer::in_memory).
///
/// Holds at most `memory_size` spans; when full, the span that ended earliest is evicted
/// (children end before their parents, so a parent outlives its children). `0` keeps
/// nothing. A span is stored by the time its guard drops or its traced call returns.
///
/// ```
/// use tracekit::Tracer;
/// let tracer = Tracer::in_memory(3);
/// for i in 0..5 {
///     tracer.trace(format!("span-{i}")).end();
/// }
/// let names: Vec<_> = tracer
///     .get_traces(&Default::default())
///     .unwrap()
///     .into_iter()
///     .map(|t| t.span_name)
///     .collect();
/// assert_eq!(names, ["span-2", "span-3", "span-4"]);
/// ```
#[derive(Debug)]
pub struct InMemory {
    memory_size: usize,
    spans: Mutex<VecDeque<Trace>>,
}

impl InMemory {
    /// Keeps at most `memory_size` spans.
    pub fn new(memory_size: usize) -> Self {
        InMemory {
            memory_size,
            spans: Mutex::new(VecDeque::new()),
        }
    }

    /// How many spans it can hold.
    pub fn memory_size(&self) -> usize {
        self.memory_size
    }
}

impl Sink for InMemory {
    fn persist(&self, trace: &Trace) {
        self.persist_owned(trace.clone());
    }

    fn persist_owned(&self, mut trace: Trace) {
        if self.memory_size == 0 {
            return;
        }
        // Kept spans are read rarely and held long: trade one reallocation for memory.
        trace.attributes.shrink_to_fit();
        let mut spans = lock(&self.spans);
        if spans.len() >= self.memory_size {
            spans.pop_front();
        } else if spans.len() == spans.capacity() {
            // Grow by doubling, but never past `memory_size`.
            let len = spans.len();
            let target = (len * 2).max(16).min(self.memory_size);
            spans.reserve_exact(target - len);
        }
        spans.push_back(trace);
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        Ok(filter.apply(lock(&self.spans).iter()))
    }

    fn name(&self) -> &'static str {
        "in_memory"
    }
}
