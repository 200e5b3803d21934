//! Stores: traces that outlive the process, in the reference toolkit's formats.
//!
//! | store | feature | constructor |
//! | --- | --- | --- |
//! | an embedded SQLite file | `sqlite` (default) | `Tracer::sqlite(path)`, `Tracer::sqlite(SqliteConfig)` |
//! | a DynamoDB table, for fleets | `dynamodb` | `Tracer::dynamodb(DynamoDbConfig)` |
//!
//! A store is a [`Sink`](crate::Sink) like any other, built so that tracing stays cheap: the
//! traced thread packs each finished span into a buffer of its own, exactly as the in-memory
//! store does, and one writer thread per store takes those buffers and writes them in
//! batches. The traced code never does I/O. The queue between them is bounded: a span that
//! finds it full is dropped and counted ([`Stats::spans_dropped`](crate::Stats::spans_dropped)),
//! or waits for room up to a limit if asked ([`Overflow::Block`](crate::sinks::Overflow)).
//! `flush()` returns once every span accepted before it is stored, `get_traces` sees every
//! span accepted before the call, and dropping the last handle to the tracer flushes within
//! [`DEFAULT_DEADLINE`](crate::DEFAULT_DEADLINE).
//!
//! The rows are the reference's (`SqliteTracer` of `generative-ai-toolkit`), so the Python
//! toolkit and tracekit read each other's traces from one file. Attribute values are stored
//! as the reference's JSON; how its tagged values (`__bytes__`, `__datetime__`, ...) read back
//! is in `SqliteConfig`'s docs; DynamoDB items are the reference's `DynamoDbTracer`'s.

#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "sqlite")]
mod json;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "sqlite", feature = "dynamodb"))]
mod store;

#[cfg(feature = "dynamodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
pub use dynamodb::DynamoDbConfig;
#[cfg(all(feature = "sqlite", any(feature = "otlp", feature = "dynamodb")))]
pub(crate) use sqlite::start_queue;
#[cfg(all(feature = "sqlite", any(feature = "otlp", feature = "dynamodb")))]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::Spool;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteConfig;

/// Without SQLite there is no spool: a setting that cannot be given.
#[cfg(all(not(feature = "sqlite"), any(feature = "otlp", feature = "dynamodb")))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Spool {}

/// Starts a sending backend's queue (without SQLite, never with a spool).
#[cfg(all(not(feature = "sqlite"), any(feature = "otlp", feature = "dynamodb")))]
pub(crate) fn start_queue(
    name: &'static str,
    batch: &crate::BatchConfig,
    spool: Option<&Spool>,
    exporter: impl crate::Exporter,
) -> Result<crate::queue::SpanQueue, crate::Error> {
    match spool {
        None => crate::queue::SpanQueue::start(name, batch, exporter),
        Some(never) => match *never {},
    }
}

/// `spool(..)` on a sending backend's configuration, written once: `$config` keeps it in a
/// field `spool: Option<Spool>`.
#[cfg(any(feature = "otlp", feature = "dynamodb"))]
macro_rules! spool_setting {
    ($config:ident) => {
        impl $config {
            /// Writes each batch to a local [`Spool`](crate::Spool) before it is sent, and
            /// sends from there: spans survive a crash, a kill or an outage of the backend,
            /// and the next tracer started on the same directory sends what was left
            /// (feature `sqlite`).
            #[cfg(feature = "sqlite")]
            #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
            pub fn spool(mut self, spool: crate::Spool) -> Self {
                self.spool = Some(spool);
                self
            }
        }
    };
}
#[cfg(any(feature = "otlp", feature = "dynamodb"))]
pub(crate) use spool_setting;
