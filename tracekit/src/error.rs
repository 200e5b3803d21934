//! The crate's error type.

use std::time::Duration;

/// What went wrong in a tracer call that returns `Result`.
///
/// Span recording itself never returns errors (failures there are counted in
/// [`Tracer::stats`](crate::Tracer::stats)); these come from reading back, flushing and
/// shutting down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The tracer's backend cannot do this, e.g. `get_traces` on a terminal tracer.
    #[error("the `{sink}` tracer cannot {operation}: it does not keep spans; read back from Tracer::in_memory(..) or a store, or put one first in Tracer::tee([..])")]
    Unsupported {
        /// The backend's name.
        sink: &'static str,
        /// What was asked of it.
        operation: &'static str,
    },
    /// Flushing or shutting down did not finish before the deadline.
    #[error("{operation} did not finish within {timeout:?}: {detail}; call it again with a longer timeout or check the backend")]
    Timeout {
        /// `flush` or `shutdown`.
        operation: &'static str,
        /// The time allowed.
        timeout: Duration,
        /// What was still outstanding.
        detail: String,
    },
    /// The backend reported a failure.
    #[error("the `{sink}` tracer failed to {operation}: {message}")]
    Sink {
        /// The backend's name.
        sink: &'static str,
        /// What it was doing.
        operation: &'static str,
        /// Its explanation.
        message: String,
    },
}
