use crate::collect::Lanes;
use crate::record::{self, Tables};
use crate::{Error, FinishedSpan, Sink, Trace, TraceFilter};

/// Keeps the most recent finished spans in memory; from
/// [`Tracer::in_memory`](crate::Tracer::in_memory).
///
/// Reads return the last `memory_size` spans to end (children end before their parents, so a
/// parent outlives its children); `0` keeps nothing. A span is stored by the time its guard
/// drops or its traced call returns.
///
/// Spans are packed into bytes (about 60 for a span with two short attributes) and unpacked
/// when read. Each thread packs into a lane of its own (16; threads beyond that share one
/// more) with no lock, so threads tracing at once do not contend (see the crate's
/// `docs/ARCHITECTURE.md`); each lane keeps its last `memory_size` spans (plus a ring of
/// 128 KiB of the newest ones, until a read or a full ring settles them), and reads return the
/// last `memory_size` of all of them. Reads copy each lane's bytes under its lock and unpack
/// them after releasing it, so a large read holds up tracing threads only for the copy.
///
/// Resource attributes are stored once per lane for each version of them (every
/// [`Tracer::set_resource_attribute`](crate::Tracer::set_resource_attribute) call makes a
/// new version) and kept for the store's life: set them at start-up, not per span.
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
#[must_use = "a sink records nothing until it is given to `Tracer::new`"]
pub struct InMemory {
    memory_size: usize,
    lanes: Lanes,
}

impl InMemory {
    /// Keeps at most `memory_size` spans.
    pub fn new(memory_size: usize) -> Self {
        InMemory {
            memory_size,
            lanes: Lanes::new(memory_size),
        }
    }

    /// How many spans it can hold.
    pub fn memory_size(&self) -> usize {
        self.memory_size
    }
}

impl std::fmt::Debug for InMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemory")
            .field("memory_size", &self.memory_size)
            .finish_non_exhaustive()
    }
}

impl Sink for InMemory {
    #[inline]
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        if self.memory_size > 0 {
            self.lanes.push(span);
        }
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        let copies = self.lanes.copy();
        let mut records: Vec<(&[u8], &Tables)> = copies
            .iter()
            .flat_map(|c| c.records().map(move |r| (r, &c.tables)))
            .collect();
        if records.len() > self.memory_size {
            // Each lane holds its last `memory_size`; keep the last of all of them.
            records.sort_by_key(|(r, _)| record::ended_at(r));
            records.drain(..records.len() - self.memory_size);
        }
        let wanted = filter.trace_id.map(|id| id.to_int());
        let mut out: Vec<Trace> = records
            .into_iter()
            .filter(|(r, _)| wanted.is_none_or(|id| record::trace_id(r) == id))
            .filter_map(|(r, tables)| {
                let trace = record::decode(r, tables);
                debug_assert!(trace.is_some(), "a record this store wrote must decode");
                trace
            })
            .filter(|t| filter.matches(t))
            .collect();
        out.sort_by_key(|t| t.started_at);
        Ok(out)
    }

    fn name(&self) -> &'static str {
        "in_memory"
    }
}
