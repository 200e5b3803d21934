//! The SQLite store: [`Tracer::sqlite`](crate::Tracer::sqlite).

mod follow;
mod list;
mod row;
mod schema;
#[cfg(any(feature = "otlp", feature = "dynamodb"))]
mod spool;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

use super::store::{ReadBack, ReadOnly, Store, Stored};
use crate::batch::{ExportError, Exporter, Retries};
use crate::query::{Page, TraceHead, Watermark};
use crate::queue::SpanQueue;
use crate::sync::lock;
use crate::BatchConfig;
use crate::{Error, StoreProblem, Trace, TraceFilter, Tracer};
use row::{Query, RowEncoder};
#[cfg(any(feature = "otlp", feature = "dynamodb"))]
pub(crate) use spool::start_queue;
#[cfg(any(feature = "otlp", feature = "dynamodb"))]
pub use spool::Spool;

/// How to open a SQLite store; [`Tracer::sqlite`](crate::Tracer::sqlite) opens it.
///
/// The file holds the reference toolkit's `traces` table (its `SqliteTracer`), so Python
/// agents and Rust agents share one file: each reads the other's spans. Several tracers, in
/// this process or in others, may write one file at once (WAL mode; a writer that finds the
/// file busy waits up to [`busy_timeout`](Self::busy_timeout) and retries).
///
/// # What is stored
///
/// One row per finished span, as the reference writes it: ids as lowercase hex, kind and
/// status as `INTERNAL`/`UNSET`..., timestamps as ISO 8601 with microseconds (finer digits are
/// cut, as the reference's clock has none), the merged attributes and the resource
/// attributes as the reference's JSON, `conversation_id` and `subcontext_id` copied from
/// `ai.conversation.id` and `ai.subcontext.id` for the indexes. Span events, which the
/// reference does not have, go to a table of tracekit's own, `tracekit_events`.
///
/// Attribute values come back as they went in: maps keep their key order, integers keep
/// every digit (the whole `i64` and `u64` ranges), floats keep their exact bits, and the
/// non-finite floats are stored as Python's JSON writes them (`NaN`, `Infinity`,
/// `-Infinity`). Values the reference tags read back as plain values:
///
/// | in the file (written by Python) | read as |
/// | --- | --- |
/// | `{"__bytes__": "<ascii85 of zlib>"}` | [`Value::Array`](crate::Value::Array) of the byte values (as serde stores bytes) |
/// | `{"__datetime__": "..."}`, `{"__date__": "..."}`, `{"__time__": "..."}` | [`Value::String`](crate::Value::String) of the ISO text |
/// | an integer beyond the `u64`/`i64` range | the nearest [`Value::Float`](crate::Value::Float) |
///
/// # Reading back
///
/// `get_traces` takes any [`TraceFilter`]. A trace id, and `ai.conversation.id` (with or
/// without `ai.subcontext.id`) given as strings, use the reference's indexes; other
/// attributes narrow the rows with a text search before each candidate is checked exactly.
/// Spans come back ordered by start time and keep their `parent_span_id`. Only the rows of
/// this store's [`identifier`](Self::identifier) are read, as in the reference.
///
/// ```
/// use std::time::Duration;
/// use tracekit::{stores::SqliteConfig, sinks::Overflow, Tracer};
///
/// # let dir = std::env::temp_dir().join(format!("tracekit-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let tracer = Tracer::sqlite(
///     SqliteConfig::new(dir.join("traces.db"))
///         .identifier("WeatherAgent")
///         .max_queue_size(100_000)
///         .overflow(Overflow::Block(Duration::from_millis(50))),
/// )?;
/// drop(tracer.trace("hello"));
/// assert_eq!(tracer.get_traces(&Default::default())?.len(), 1);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), tracekit::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a configuration does nothing until it is given to `Tracer::sqlite`"]
pub struct SqliteConfig {
    path: PathBuf,
    identifier: Option<String>,
    batch: BatchConfig,
    busy_timeout: Duration,
    read_only: bool,
}

impl SqliteConfig {
    /// A store in the file at `path` (created if missing; its directory must exist). The
    /// defaults: no identifier, a queue of 65 536 spans that drops when full, transactions of
    /// up to 16 384 spans, a busy timeout of 5 s, retries of a locked file for 60 s (the
    /// [queue settings](Self::batch) are [`BatchConfig`]'s, with these sizes).
    pub fn new(path: impl AsRef<Path>) -> Self {
        SqliteConfig {
            path: path.as_ref().to_path_buf(),
            identifier: None,
            // Every index insert dirties a page at a random place in the index, and a commit
            // writes each dirty page once: the more spans per commit, the fewer writes per
            // span. The writer wakes every 512 queued spans and commits what is queued, so a
            // slow trickle still commits within the delay.
            batch: BatchConfig::with(65_536, 16_384, Duration::from_millis(100)),
            busy_timeout: Duration::from_secs(5),
            read_only: false,
        }
    }

    /// Tags every row with this identifier (the reference's `identifier`, e.g. the agent's
    /// name) and reads back only rows with the same one. Without it, rows without one.
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// The old name of [`max_export_batch_size`](Self::max_export_batch_size): the writer
    /// commits up to this many spans per transaction.
    #[deprecated(
        since = "0.1.0",
        note = "use `max_export_batch_size` (BatchConfig's name)"
    )]
    pub fn batch_size(self, spans: usize) -> Self {
        self.max_export_batch_size(spans)
    }

    /// How long a writer waits for another one to release the file before it retries.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens the file to read only (`tracekit ls`, a dashboard): no writer thread; the file
    /// must exist and is never created, written or migrated, and another process may be
    /// writing it meanwhile (reads see what it has committed). Spans ended into such a
    /// tracer are dropped and counted.
    ///
    /// ```
    /// use tracekit::{query::Query, SqliteConfig, Tracer};
    /// # let dir = std::env::temp_dir().join(format!("tracekit-doc-ro-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("traces.db");
    /// let writer = Tracer::sqlite(&path)?;
    /// drop(writer.trace("turn"));
    /// writer.flush()?;
    /// let reader = Tracer::sqlite(SqliteConfig::new(&path).read_only())?;
    /// assert_eq!(reader.list_traces(&Query::new())?.items.len(), 1);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

crate::batch::batch_settings!(SqliteConfig);

/// A path is a store's configuration with the defaults: `Tracer::sqlite("traces.db")`.
impl<P: AsRef<Path>> From<P> for SqliteConfig {
    fn from(path: P) -> Self {
        SqliteConfig::new(path)
    }
}

impl Tracer {
    /// Stores finished spans in a SQLite file, in the reference toolkit's `traces` table, so
    /// they outlive the process (feature `sqlite`, on by default). The file is created if
    /// missing; see [`SqliteConfig`] for the format and for settings.
    ///
    /// Fails, without touching the file, if its directory is missing, if it is not a SQLite
    /// database, or if it has a `traces` table with other columns
    /// ([`Error::Store`](crate::Error::Store)).
    ///
    /// ```
    /// use tracekit::{TraceFilter, Tracer};
    /// # let dir = std::env::temp_dir().join(format!("tracekit-doc1-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("traces.db");
    /// let tracer = Tracer::sqlite(&path)?;
    /// {
    ///     let turn = tracer.trace("converse");
    ///     turn.add_inheritable_attribute("ai.conversation.id", "c-1");
    ///     drop(tracer.trace("tool"));
    /// }
    /// drop(tracer);
    ///
    /// // Another process, or a later run, reads them back:
    /// let tracer = Tracer::sqlite(&path)?;
    /// let spans = tracer.get_traces(&TraceFilter::new().attribute("ai.conversation.id", "c-1"))?;
    /// assert_eq!(spans.len(), 2);
    /// assert_eq!(spans[1].parent_span_id, Some(spans[0].span_id));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub fn sqlite(config: impl Into<SqliteConfig>) -> Result<Tracer, Error> {
        let config = config.into();
        if config.read_only {
            return Ok(Tracer::new(open_read_only(config)?));
        }
        Ok(open(config)?.into_tracer())
    }

    /// The old name of [`Tracer::sqlite`] with a [`SqliteConfig`], which `sqlite` now takes.
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    #[deprecated(
        since = "0.1.0",
        note = "use `Tracer::sqlite(config)`: it takes a path or a SqliteConfig"
    )]
    pub fn sqlite_with(config: SqliteConfig) -> Result<Tracer, Error> {
        Tracer::sqlite(config)
    }
}

/// How [`Tracer::sqlite`] reads back: its own connection (WAL lets it read while the writer
/// writes), only rows of its identifier.
struct SqliteReader {
    path: PathBuf,
    identifier: Option<String>,
    conn: Mutex<Connection>,
    /// The file's absolute path, and the file it named when opened: to notice that it was
    /// deleted or replaced.
    watched: PathBuf,
    file: Option<(u64, u64)>,
}

/// Opens the file to read only ([`SqliteConfig::read_only`]).
fn open_read_only(config: SqliteConfig) -> Result<ReadOnly<SqliteReader>, Error> {
    let conn = schema::connect_read_only(&config.path, config.busy_timeout)?;
    let watched = std::fs::canonicalize(&config.path).unwrap_or_else(|_| config.path.clone());
    let file = schema::file_id(&watched);
    Ok(ReadOnly {
        stored: Stored(SqliteReader {
            path: config.path,
            identifier: config.identifier,
            conn: Mutex::new(conn),
            watched,
            file,
        }),
        dropped: Default::default(),
    })
}

/// Opens the file and starts its writer: the sink behind [`Tracer::sqlite`].
fn open(config: SqliteConfig) -> Result<Store<SqliteReader>, Error> {
    let conn = schema::open(&config.path, config.busy_timeout, schema::Indexes::All)?;
    // The indexes on random ids take a page per insert anywhere in them: a cache that
    // holds them keeps the writer from re-reading and spilling pages mid-batch.
    conn.pragma_update(None, "cache_size", -65_536)
        .map_err(|e| schema::store_error(&config.path, &e))?;
    // Checkpointing less often copies a page rewritten by many batches into the file once
    // (the WAL may grow to about 64 MiB between checkpoints).
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)
        .map_err(|e| schema::store_error(&config.path, &e))?;
    let reader = schema::connect(&config.path, config.busy_timeout)?;
    // Watched by its absolute path: a later change of directory is not a deleted file.
    let watched = std::fs::canonicalize(&config.path).unwrap_or_else(|_| config.path.clone());
    let file = schema::file_id(&watched);
    let writer = SqliteWriter {
        conn,
        identifier: config.identifier.clone(),
        encoder: RowEncoder::default(),
        busy_timeout: config.busy_timeout,
        watched: watched.clone(),
        file,
    };
    Ok(Store {
        queue: SpanQueue::start(SqliteReader::NAME, &config.batch, writer)?,
        behind: Stored(SqliteReader {
            path: config.path,
            identifier: config.identifier,
            conn: Mutex::new(reader),
            watched,
            file,
        }),
    })
}

impl SqliteReader {
    /// An error if the file was deleted or replaced since it was opened (reading on would
    /// read a file nobody writes, or none).
    fn still_there(&self) -> Result<(), Error> {
        if schema::file_id(&self.watched) != self.file {
            return Err(Error::Store {
                location: self.path.display().to_string(),
                problem: StoreProblem::FileGone,
            });
        }
        Ok(())
    }

    /// Runs a read on the connection, with the agent's identifier and the file's name for
    /// errors, once the file is known to be the one opened.
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection, Option<&str>, &dyn Fn() -> String) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.still_there()?;
        let conn = lock(&self.conn);
        read(&conn, self.identifier.as_deref(), &|| {
            self.path.display().to_string()
        })
    }
}

impl ReadBack for SqliteReader {
    const NAME: &'static str = "sqlite";

    fn candidates(&self, filter: &TraceFilter, each: &mut dyn FnMut(Trace)) -> Result<(), Error> {
        self.still_there()?;
        let query = Query::new(filter, self.identifier.as_deref());
        let conn = lock(&self.conn);
        let sql_error = |e: rusqlite::Error| schema::store_error(&self.path, &e);
        let mut statement = conn.prepare_cached(&query.sql).map_err(sql_error)?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(&query.params))
            .map_err(sql_error)?;
        // The SQL orders by the stored text; `Store` sorts by time, which differs only for
        // rows written with other UTC offsets (possible from Python).
        while let Some(row) = rows.next().map_err(sql_error)? {
            each(row::decode(row).map_err(|problem| Error::Store {
                location: self.path.display().to_string(),
                problem,
            })?);
        }
        Ok(())
    }

    fn list(&self, query: &crate::query::Query) -> Option<Result<Page<TraceHead>, Error>> {
        Some(self.read(|conn, identifier, location| list::list(conn, identifier, query, location)))
    }

    fn new_spans(&self, mark: &mut Watermark) -> Option<Result<Vec<Trace>, Error>> {
        Some(
            self.read(|conn, identifier, location| {
                follow::new_spans(conn, identifier, mark, location)
            }),
        )
    }
}

/// The writer thread's side: one connection, one cached insert, one transaction per batch.
struct SqliteWriter {
    conn: Connection,
    identifier: Option<String>,
    encoder: RowEncoder,
    busy_timeout: Duration,
    /// As in [`SqliteReader`].
    watched: PathBuf,
    file: Option<(u64, u64)>,
}

impl SqliteWriter {
    fn try_write(&mut self, batch: &[Trace]) -> rusqlite::Result<()> {
        // IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a
        // batch never fails half-way for another writer.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        {
            let mut statements = row::Inserts::prepare(&tx, true)?;
            for trace in batch {
                self.encoder
                    .insert(&mut statements, trace, self.identifier.as_deref())?;
            }
        }
        tx.commit()
    }
}

/// A locked file is retried on the SQLite busy timeout's own pace (`export_with`); `export`
/// is one transaction.
impl Exporter for SqliteWriter {
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
        self.export_with(batch, &Retries::none())
    }

    fn export_with(&mut self, batch: &[Trace], retries: &Retries<'_>) -> Result<(), ExportError> {
        // SQLite would go on writing to a deleted file, where no one can read the spans:
        // count them as failed instead, saying why.
        if schema::file_id(&self.watched) != self.file {
            return Err(ExportError::Failed(format!(
                "{}: {}",
                self.watched.display(),
                StoreProblem::FileGone
            )));
        }
        // The busy timeout already waited once per attempt; more attempts ride out a long
        // checkpoint, a burst from other processes or a file another process holds locked,
        // within the retry budget (shutdown cuts that short). A failed attempt rolled back, so
        // retrying never writes a span twice.
        let started = Instant::now();
        let mut backoff = Duration::from_millis(10);
        loop {
            match self.try_write(batch) {
                Ok(()) => return Ok(()),
                Err(e)
                    if matches!(
                        e.sqlite_error_code(),
                        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    ) && started.elapsed() < retries.budget()
                        && retries.wait(backoff.min(self.busy_timeout)) =>
                {
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(ExportError::Failed(e.to_string())),
            }
        }
    }
}
