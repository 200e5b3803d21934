use std::collections::VecDeque;
use std::sync::Mutex;

use crate::record::{self, Tables};
use crate::stripe::{self, CachePadded, STRIPES};
use crate::{lock, Error, FinishedSpan, Sink, Trace, TraceFilter};

/// Keeps the most recent finished spans in memory; from
/// [`Tracer::in_memory`](crate::Tracer::in_memory).
///
/// Reads return the last `memory_size` spans to end (children end before their parents, so a
/// parent outlives its children); `0` keeps nothing. A span is stored by the time its guard
/// drops or its traced call returns.
///
/// Spans are packed into bytes (about 60 for a span with two short attributes) and unpacked
/// when read. Threads store into stripes of their own (16; threads beyond that share one
/// more), so threads tracing at once do not contend; each stripe keeps its last `memory_size` spans,
/// so up to `memory_size` per stripe in use are held, and reads return the last
/// `memory_size` of all of them. Reads copy each stripe's bytes under its lock and unpack
/// them after releasing it, so a large read holds up tracing threads only for the copy.
///
/// Resource attributes are stored once per stripe for each version of them (every
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
    stripes: Box<[CachePadded<Mutex<Stripe>>]>,
}

/// The spans that ended on the threads of one stripe, oldest first.
#[derive(Default)]
struct Stripe {
    /// Packed records, back to back; a record never straddles two chunks.
    chunks: VecDeque<Vec<u8>>,
    /// Where the oldest record starts in `chunks[0]`.
    head: usize,
    /// Records held.
    len: usize,
    tables: Tables,
    /// An emptied chunk kept for reuse, so a full store does not allocate.
    spare: Option<Vec<u8>>,
}

/// Chunk size: big enough to make allocations rare, small enough for a small store.
const CHUNK: usize = 16 * 1024;
/// A chunk with less room than this is full: most records are well under it, so they are
/// written in place without measuring them first.
const ROOM: usize = 1024;

impl Stripe {
    fn push(&mut self, span: &FinishedSpan<'_>, memory_size: usize) {
        if self.len >= memory_size {
            self.pop_front();
        }
        let indexes = self.tables.indexes(span);
        let chunk = match self.chunks.back_mut() {
            Some(chunk) if chunk.capacity() - chunk.len() >= ROOM => chunk,
            _ => {
                let chunk = self
                    .spare
                    .take()
                    .unwrap_or_else(|| Vec::with_capacity(CHUNK));
                self.chunks.push_back(chunk);
                self.chunks.back_mut().expect("just pushed")
            }
        };
        // A record bigger than `ROOM` may grow the chunk past `CHUNK`; that is rare and only
        // costs the move.
        record::encode(span, indexes, chunk);
        self.len += 1;
    }

    fn pop_front(&mut self) {
        let Some(front) = self.chunks.front() else {
            return;
        };
        self.head += record::record_len(&front[self.head..]);
        self.len -= 1;
        if self.head >= front.len() {
            let mut emptied = self.chunks.pop_front().expect("front exists");
            emptied.clear();
            self.spare = Some(emptied);
            self.head = 0;
        }
    }

    /// A copy of the records, oldest first, to read without holding the lock: copying bytes
    /// is quick, so writers on this stripe wait only for that, not for unpacking.
    fn copy(&self) -> Copied {
        let mut bytes = Vec::with_capacity(self.chunks.iter().map(Vec::len).sum());
        for (i, chunk) in self.chunks.iter().enumerate() {
            bytes.extend_from_slice(&chunk[if i == 0 { self.head } else { 0 }..]);
        }
        Copied {
            bytes,
            tables: self.tables.clone(),
        }
    }
}

/// One stripe's records, copied out by `get_traces`.
struct Copied {
    bytes: Vec<u8>,
    tables: Tables,
}

impl Copied {
    /// The records, oldest first.
    fn records(&self) -> impl Iterator<Item = (&[u8], &Tables)> + '_ {
        let mut rest = &self.bytes[..];
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (record, next) = rest.split_at(record::record_len(rest));
            rest = next;
            Some((record, &self.tables))
        })
    }
}

impl InMemory {
    /// Keeps at most `memory_size` spans.
    pub fn new(memory_size: usize) -> Self {
        InMemory {
            memory_size,
            stripes: (0..STRIPES).map(|_| CachePadded::default()).collect(),
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
    fn persist(&self, trace: &Trace) {
        // A snapshot is not a finished span; `get_traces` never returns those.
        if let Some(span) = FinishedSpan::from_trace(trace) {
            self.persist_span(&span);
        }
    }

    fn persist_span(&self, span: &FinishedSpan<'_>) {
        if self.memory_size > 0 {
            lock(&self.stripes[stripe::this_thread().index].0).push(span, self.memory_size);
        }
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        let copies: Vec<Copied> = self.stripes.iter().map(|s| lock(&s.0).copy()).collect();
        let mut records: Vec<(&[u8], &Tables)> = copies.iter().flat_map(Copied::records).collect();
        if records.len() > self.memory_size {
            // Each stripe holds its last `memory_size`; keep the last of all of them.
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
