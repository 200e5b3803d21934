//! [`Store`]: the sink every store is — a queue to its writer thread, and a way to read back.

use std::time::Instant;

use crate::queue::SpanQueue;
use crate::{Error, FinishedSpan, Sink, SinkStats, Trace, TraceFilter};

/// How a store reads spans back.
pub(crate) trait ReadBack: Send + Sync + 'static {
    /// The store's name (`Sink::name`, and its writer thread's).
    const NAME: &'static str;

    /// Hands `each` every stored span that may match `filter`: the indexes narrow, and
    /// [`Store`] decides exactly with [`TraceFilter::matches`].
    fn candidates(&self, filter: &TraceFilter, each: &mut dyn FnMut(Trace)) -> Result<(), Error>;
}

/// A store's sink: finished spans go to the writer thread's queue; reads flush it first, so
/// they see every span accepted before the call.
pub(crate) struct Store<R> {
    pub(crate) queue: SpanQueue,
    pub(crate) reader: R,
}

impl<R: ReadBack> Sink for Store<R> {
    fn persist(&self, trace: &Trace) {
        // A snapshot is not a finished span; stores hold finished ones.
        if let Some(span) = FinishedSpan::from_trace(trace) {
            self.persist_span(&span);
        }
    }

    #[inline]
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        self.queue.push(span);
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        // Spans that failed to be written are counted and cannot be read: read what is stored.
        if let Err(e @ Error::Timeout { .. }) =
            self.queue.flush(Instant::now() + crate::DEFAULT_DEADLINE)
        {
            return Err(e);
        }
        let mut out = Vec::new();
        self.reader.candidates(filter, &mut |trace| {
            if filter.matches(&trace) {
                out.push(trace);
            }
        })?;
        // Stable: spans that start together keep the order the store gave them.
        out.sort_by_key(|t| t.started_at);
        Ok(out)
    }

    fn flush(&self, deadline: Instant) -> Result<(), Error> {
        self.queue.flush(deadline)
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        self.queue.shutdown(deadline)
    }

    fn stats(&self) -> SinkStats {
        self.queue.stats()
    }

    fn name(&self) -> &'static str {
        R::NAME
    }
}
