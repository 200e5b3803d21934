//! What every store is: a [`Queued`] sink whose spans are read back by a [`ReadBack`].

use crate::queue::{Behind, Queued};
use crate::{Error, Trace, TraceFilter};

/// How a store reads spans back.
pub(crate) trait ReadBack: Send + Sync + 'static {
    /// The store's name (`Sink::name`, and its writer thread's).
    const NAME: &'static str;

    /// Hands `each` every stored span that may match `filter`: the indexes narrow, and
    /// [`Stored`] decides exactly with [`TraceFilter::matches`].
    fn candidates(&self, filter: &TraceFilter, each: &mut dyn FnMut(Trace)) -> Result<(), Error>;
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
}
