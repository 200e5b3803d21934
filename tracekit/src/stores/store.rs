//! What every store is: a [`Queued`] sink whose spans are read back by a [`ReadBack`].

use crate::query::{Page, Query, TraceHead, Watermark};
use crate::queue::{Behind, Queued};
use crate::{Error, Trace, TraceFilter};

/// How a store reads spans back.
pub(crate) trait ReadBack: Send + Sync + 'static {
    /// The store's name (`Sink::name`, and its writer thread's).
    const NAME: &'static str;

    /// Hands `each` every stored span that may match `filter`: the indexes narrow, and
    /// [`Stored`] decides exactly with [`TraceFilter::matches`].
    fn candidates(&self, filter: &TraceFilter, each: &mut dyn FnMut(Trace)) -> Result<(), Error>;

    /// Lists traces from the store's own indexes; `None`: scan what `candidates` reads.
    fn list(&self, _query: &Query) -> Option<Result<Page<TraceHead>, Error>> {
        None
    }

    /// The spans written since `mark`, in the store's order of writes; `None`: read them
    /// all and remember which were returned.
    fn new_spans(&self, _mark: &mut Watermark) -> Option<Result<Vec<Trace>, Error>> {
        None
    }
}

/// A store's sink: finished spans go to the writer thread's queue; reads flush it first
/// ([`Queued`] does), so they see every span accepted before the call.
pub(crate) type Store<R> = Queued<Stored<R>>;

/// The reading side of a store.
pub(crate) struct Stored<R>(pub(crate) R);

impl<R: ReadBack> Behind for Stored<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        let mut out = Vec::new();
        self.0.candidates(filter, &mut |trace| {
            if filter.matches(&trace) {
                out.push(trace);
            }
        })?;
        // Stable: spans that start together keep the order the store gave them.
        out.sort_by_key(|t| t.started_at);
        Ok(out)
    }

    fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
        match self.0.list(query) {
            Some(page) => page,
            None => crate::query::scan_all(|all| self.get_traces(all), query),
        }
    }

    fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
        match self.0.new_spans(mark) {
            Some(spans) => spans,
            None => crate::query::new_by_scan(|all| self.get_traces(all), mark),
        }
    }
}

#[cfg(feature = "sqlite")]
pub(crate) use read_only::ReadOnly;

/// Only SQLite opens a store to read only.
#[cfg(feature = "sqlite")]
mod read_only {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::{ReadBack, Stored};
    use crate::query::{Page, Query, TraceHead, Watermark};
    use crate::queue::Behind;
    use crate::{Error, FinishedSpan, Sink, SinkStats, Trace, TraceFilter};

    /// A store opened to read only: no writer thread, no queue; spans ended into it are dropped
    /// and counted (the first one says so on stderr).
    pub(crate) struct ReadOnly<R> {
        pub(crate) stored: Stored<R>,
        pub(crate) dropped: AtomicU64,
    }

    impl<R: ReadBack> Sink for ReadOnly<R> {
        fn persist_span(&self, _: &FinishedSpan<'_>) {
            if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!(
                    "tracekit: the `{}` store was opened to read only; spans ended into it are \
                     dropped (counted in Tracer::stats).",
                    R::NAME
                );
            }
        }

        fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
            self.stored.get_traces(filter)
        }

        fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
            self.stored.list_traces(query)
        }

        fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
            self.stored.new_spans(mark)
        }

        fn stats(&self) -> SinkStats {
            SinkStats {
                dropped: self.dropped.load(Ordering::Relaxed),
                ..SinkStats::default()
            }
        }

        fn name(&self) -> &'static str {
            R::NAME
        }
    }
}
