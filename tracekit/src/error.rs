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
    /// A store could not be opened or read: `location` names the file or table, `problem`
    /// says what is wrong and what to do.
    #[error("{location}: {problem}")]
    Store {
        /// The store's file path, or its table.
        location: String,
        /// What went wrong.
        problem: StoreProblem,
    },
    /// A setting (an environment variable, or a value given in code) is not valid.
    #[error("{setting}={value:?} is not valid: {problem}")]
    Config {
        /// The variable or option, e.g. `OTEL_EXPORTER_OTLP_TIMEOUT`.
        setting: &'static str,
        /// The value given (secrets, such as header values, shown as `***`).
        value: String,
        /// What is wrong and what is expected.
        problem: String,
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

/// What is wrong with a store; see [`Error::Store`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreProblem {
    /// The file's directory does not exist.
    #[error("its directory does not exist; create the directory first or choose another path")]
    MissingDirectory,
    /// The file exists and is not a SQLite database.
    #[error(
        "the file is not a SQLite database; tracekit leaves it untouched: choose another path"
    )]
    NotADatabase,
    /// The database has a `traces` table that is not the reference's.
    #[error("it has a `traces` table with other columns ({found}); tracekit will not write into it: choose another file, or rename that table")]
    ForeignTable {
        /// The columns found, comma-separated.
        found: String,
    },
    /// A stored span could not be read back.
    #[error("stored span {row} cannot be read: {reason}; fix or delete that row")]
    CorruptRow {
        /// Which row or item (its id or key).
        row: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file, its directory or its file system is read-only.
    #[error("the file or its file system is read-only; tracekit needs to write it: choose a writable path or fix its permissions")]
    ReadOnly,
    /// The file was deleted or replaced while the store had it open. Writing on would put
    /// spans where nothing can read them, so the store stops: spans that end afterwards are
    /// counted as failed.
    #[error("the file was deleted or replaced while tracekit had it open; spans ended since are counted as failed and not written: open the store again to start a new file")]
    FileGone,
    /// The file does not exist, and the store was opened to read only, which never creates
    /// one.
    #[error("the file does not exist (a store opened to read never creates one): check the path")]
    Missing,
    /// The filter cannot be answered by this store without reading all of it.
    #[error("{0}")]
    UnsupportedFilter(String),
    /// The database or service reported an error.
    #[error("{0}")]
    Backend(String),
}

/// The message of a caught panic, for the line that reports it.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
