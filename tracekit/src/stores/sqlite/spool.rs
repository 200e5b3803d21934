//! [`Spool`]: a local SQLite file between the queue and a backend across the network (OTLP,
//! DynamoDB), so spans survive a crash, a SIGKILL or a long outage.
//!
//! Why SQLite in the reference's schema, not a log file of our own: a batch goes in with one
//! transaction and leaves with one `DELETE`, so what was sent is never sent again by this
//! process and what was written survives a kill at any instant (the WAL's commit is the
//! acknowledgement); a torn or damaged file is detected by SQLite itself; the code that writes
//! and reads rows is the SQLite store's, already tested against the reference; and a spool is
//! a store every tracekit tool opens (`tracekit ls spool/spool-….db` shows what waits).
//!
//! Each process writes a file of its own (`spool-<pid>-<nanos>.db`) and holds an advisory
//! lock on `<file>.lock` while it lives. When a tracer with the same spool directory starts,
//! it adopts every file whose lock is free (its process ended, however it ended) and sends
//! those spans first, oldest first, then deletes the file. Two processes never send the same
//! file.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, Transaction, TransactionBehavior};

use super::row::{self, RowEncoder};
use super::schema;
use crate::batch::{ExportError, Exporter, Pacer, Retries, TraceReader};
use crate::queue::{Held, SpanQueue};
use crate::{BatchConfig, Error, FailureLog, StoreProblem, Trace};

/// A crash-safe spool for a tracer that sends spans away ([`OtlpConfig::spool`],
/// [`DynamoDbConfig::spool`]; feature `sqlite`).
///
/// The writer thread appends each batch to a SQLite file in `dir` before it sends it, and
/// deletes it from there once the backend took it. A span is *acknowledged* once it is in
/// the file: [`Tracer::flush`](crate::Tracer::flush) returns when every span ended before it
/// is (and was sent once, if the backend answered). After a crash, a SIGKILL or an outage,
/// the next tracer started on the same directory, in this process or another, sends what
/// was left, each span once; a span the backend took just before a kill, before the file
/// said so, is sent again, and OTLP backends and DynamoDB keep one copy per span id.
///
/// While the backend is down, batches are tried again with backoff (from 1 s, doubling to
/// 30 s), whether or not spans go on ending, and wait in the file, not in memory, up to
/// [`max_spans`](Self::max_spans); more
/// are dropped and counted as failed. A damaged file is set aside (renamed `….corrupt`) and
/// reported on stderr; spans go on into a new file, or straight to the backend if none can
/// be written. What waits is in [`Stats::spans_pending`](crate::Stats::spans_pending).
///
/// ```no_run
/// use tracekit::{OtlpConfig, Spool, Tracer};
///
/// let tracer = Tracer::otlp(
///     OtlpConfig::new("http://127.0.0.1:4318").spool(Spool::new("/var/spool/my-agent")),
/// )?;
/// # Ok::<(), tracekit::Error>(())
/// ```
///
/// [`OtlpConfig::spool`]: crate::OtlpConfig::spool
/// [`DynamoDbConfig::spool`]: crate::DynamoDbConfig::spool
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a spool does nothing until it is given to a backend's configuration"]
pub struct Spool {
    dir: PathBuf,
    max_spans: u64,
    power_safe: bool,
}

impl Spool {
    /// A spool in `dir` (created if missing), holding up to 1 000 000 spans, safe across a
    /// crash or kill of the process. Give each backend a directory of its own: a tracer sends
    /// what it finds there to its own backend.
    pub fn new(dir: impl AsRef<Path>) -> Spool {
        Spool {
            dir: dir.as_ref().to_path_buf(),
            max_spans: 1_000_000,
            power_safe: false,
        }
    }

    /// At most this many spans wait in the spool (over every file it adopted); later ones are
    /// dropped and counted as failed.
    pub fn max_spans(mut self, spans: u64) -> Spool {
        self.max_spans = spans.max(1);
        self
    }

    /// Also safe across a power loss or a crash of the machine: each batch is synced to the
    /// disk before it counts as acknowledged (SQLite's `synchronous = FULL`; slower writes).
    /// Without it, a crash of the process loses nothing, a crash of the machine may lose the
    /// last batches.
    pub fn power_safe(mut self, yes: bool) -> Spool {
        self.power_safe = yes;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Starts the queue of a backend (`name`) that sends through `exporter`, with `spool` if any.
pub(crate) fn start_queue(
    name: &'static str,
    batch: &BatchConfig,
    spool: Option<&Spool>,
    exporter: impl Exporter,
) -> Result<SpanQueue, Error> {
    match spool {
        None => SpanQueue::start(name, batch, exporter),
        Some(spool) => {
            let spooled = Spooled::open(name, spool, batch, exporter)?;
            let held = Arc::clone(&spooled.held);
            SpanQueue::start_with(name, batch, spooled, Some(held))
        }
    }
}

/// One process's spool file, locked while open.
struct SpoolFile {
    path: PathBuf,
    conn: Connection,
    encoder: RowEncoder,
    /// Held for the advisory lock.
    _lock: File,
}

/// A `SELECT` of the oldest rows.
const OLDEST: &str = " ORDER BY t.id LIMIT ?1";

impl SpoolFile {
    /// A new file of this process's in `dir`.
    fn create(dir: &Path, power_safe: bool) -> Result<SpoolFile, Error> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = dir.join(format!("spool-{}-{nanos}.db", std::process::id()));
        let lock = lock_for(&path)
            .map_err(|e| {
                problem(
                    &path,
                    format!("cannot lock {}: {e}", lock_path(&path).display()),
                )
            })?
            .ok_or_else(|| problem(&path, "its lock is held by another process".into()))?;
        SpoolFile::open(path, lock, power_safe)
    }

    /// The file at `path`, if no live process holds it: `None` when one does.
    fn adopt(path: &Path, power_safe: bool) -> Option<Result<SpoolFile, Error>> {
        let lock = match lock_for(path) {
            Ok(Some(lock)) => lock,
            Ok(None) => return None,
            Err(e) => return Some(Err(problem(path, format!("cannot lock it: {e}")))),
        };
        if !path.exists() {
            // Sent and deleted by the process that held the lock a moment ago.
            let _ = std::fs::remove_file(lock_path(path));
            return None;
        }
        Some(SpoolFile::open(path.to_path_buf(), lock, power_safe))
    }

    fn open(path: PathBuf, lock: File, power_safe: bool) -> Result<SpoolFile, Error> {
        // Written and read in row order only: the reference's indexes would only slow it.
        let conn = schema::open(&path, Duration::from_secs(5), schema::Indexes::RowOrder)?;
        if power_safe {
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(|e| schema::store_error(&path, &e))?;
        }
        Ok(SpoolFile {
            path,
            conn,
            encoder: RowEncoder::default(),
            _lock: lock,
        })
    }

    /// Appends `batch` in one transaction; the row id of its last span.
    fn append(&mut self, batch: &[Trace]) -> rusqlite::Result<i64> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        {
            let mut statements = row::Inserts::prepare(&tx, false)?;
            for trace in batch {
                self.encoder.insert(&mut statements, trace, None)?;
            }
        }
        // The events row of the last span, if any, has that span's id as its own.
        let last = tx.last_insert_rowid();
        tx.commit()?;
        Ok(last)
    }

    /// Up to `n` of the oldest spans, each with its row id; a row that does not read back is
    /// an error in its place.
    #[allow(clippy::type_complexity)]
    fn oldest(&self, n: usize) -> rusqlite::Result<Vec<(i64, Result<Trace, StoreProblem>)>> {
        let mut select = self
            .conn
            .prepare_cached(&format!("{}{OLDEST}", row::SELECT))?;
        let rows = select.query_map([n as i64], |r| Ok((r.get(0)?, row::decode(r))))?;
        rows.collect()
    }

    /// Deletes the rows up to `id`, which were sent.
    fn remove_through(&mut self, id: i64) -> rusqlite::Result<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM tracekit_events WHERE trace_row <= ?1",
            params![id],
        )?;
        tx.execute("DELETE FROM traces WHERE id <= ?1", params![id])?;
        tx.commit()
    }

    fn count(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM traces", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
    }

    /// Removes the file (sent in full), its WAL and its lock.
    fn delete(self) {
        let SpoolFile { path, conn, .. } = self;
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let _ = std::fs::remove_file(lock_path(&path));
    }

    /// Renames a damaged file `….corrupt-<nanos>`, out of the way of every later start.
    fn set_aside(self) -> PathBuf {
        let SpoolFile { path, conn, .. } = self;
        drop(conn);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let aside = PathBuf::from(format!("{}.corrupt-{nanos}", path.display()));
        let _ = std::fs::rename(&path, &aside);
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let _ = std::fs::remove_file(lock_path(&path));
        aside
    }
}

fn problem(path: &Path, problem: String) -> Error {
    Error::Store {
        location: path.display().to_string(),
        problem: StoreProblem::Backend(problem),
    }
}

fn lock_path(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", db.display()))
}

/// Takes the advisory lock of `db`'s spool file: `Ok(None)` if another process holds it.
fn lock_for(db: &Path) -> std::io::Result<Option<File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(db))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor `file` owns and keeps open; it only takes a lock,
        // which the kernel releases when the descriptor closes (here or at process exit).
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if taken != 0 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::WouldBlock {
                Ok(None)
            } else {
                Err(e)
            };
        }
    }
    Ok(Some(file))
}

/// Whether a SQLite error says the file is damaged or not a database.
fn damaged(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// The exporter behind a spool: writes each batch to the file, then sends from the file.
struct Spooled<E> {
    inner: E,
    spool: Spool,
    /// This process's file; `None` once none can be written (batches then go straight on).
    own: Option<SpoolFile>,
    /// Files of processes that ended, sent first.
    adopted: VecDeque<SpoolFile>,
    /// Spans in the files, not yet sent (the queue counts them as pending), and spans that
    /// failed while sending on a flush.
    held: Arc<Held>,
    batch_size: usize,
    /// While the backend is down: no attempt before then.
    pace: Pace,
    problems: FailureLog,
}

/// When to try the backend again, while it is down.
struct Pace {
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl Pace {
    fn may_try(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    fn failed(&mut self, now: Instant) {
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(LAST_BACKOFF);
    }

    fn succeeded(&mut self) {
        self.retry_at = None;
        self.backoff = FIRST_BACKOFF;
    }
}

/// The first wait after the backend failed, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const LAST_BACKOFF: Duration = Duration::from_secs(30);

impl<E: Exporter> Spooled<E> {
    /// Creates this process's file in the spool's directory and adopts the files of
    /// processes that ended.
    fn open(
        name: &'static str,
        spool: &Spool,
        batch: &BatchConfig,
        inner: E,
    ) -> Result<Spooled<E>, Error> {
        std::fs::create_dir_all(&spool.dir).map_err(|e| {
            problem(
                &spool.dir,
                format!("cannot create the spool directory: {e}"),
            )
        })?;
        let problems = FailureLog::new();
        let mut adopted = VecDeque::new();
        let mut unsent = 0;
        let mut found: Vec<PathBuf> = std::fs::read_dir(&spool.dir)
            .map_err(|e| problem(&spool.dir, format!("cannot read the spool directory: {e}")))?
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("spool-") && n.ends_with(".db"))
            })
            .collect();
        // Oldest first: the names end in their creation time.
        found.sort_by_key(|p| created_at(p));
        for path in found {
            match SpoolFile::adopt(&path, spool.power_safe) {
                None => {}
                Some(Ok(file)) => match file.count() {
                    Ok(n) => {
                        unsent += n;
                        adopted.push_back(file);
                    }
                    Err(e) => set_aside(&problems, file, &e),
                },
                Some(Err(e)) => {
                    problems.record(
                        name,
                        &format_args!(
                            "a spool file left by an earlier process cannot be read ({e}); \
                             it is set aside"
                        ),
                    );
                    let aside = format!("{}.corrupt", path.display());
                    let _ = std::fs::rename(&path, aside);
                    let _ = std::fs::remove_file(lock_path(&path));
                }
            }
        }
        Ok(Spooled {
            inner,
            own: Some(SpoolFile::create(&spool.dir, spool.power_safe)?),
            spool: spool.clone(),
            adopted,
            held: Arc::new(Held {
                pending: AtomicU64::new(unsent),
                failed: AtomicU64::new(0),
            }),
            batch_size: batch.queue.batch_size.max(1),
            pace: Pace {
                retry_at: None,
                backoff: FIRST_BACKOFF,
            },
            problems,
        })
    }

    /// Writes `batch` to this process's file: what was written (the row id of its last span
    /// and how many), and what could not be (no usable file), to be sent straight away.
    fn append<'b>(
        &mut self,
        batch: &'b [Trace],
        retries: &Retries<'_>,
    ) -> (Option<(i64, u64)>, &'b [Trace]) {
        let room = self
            .spool
            .max_spans
            .saturating_sub(self.held.pending.load(Ordering::Relaxed));
        let fits = batch.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if fits < batch.len() {
            retries.reject(
                (batch.len() - fits) as u64,
                &format_args!(
                    "the spool in {} is full ({} spans wait): dropped",
                    self.spool.dir.display(),
                    self.spool.max_spans
                ),
            );
        }
        let batch = &batch[..fits];
        if batch.is_empty() {
            return (None, batch);
        }
        // A damaged file is set aside and the batch goes into a new one, once.
        for _ in 0..2 {
            let Some(own) = self.own.as_mut() else {
                return (None, batch);
            };
            match own.append(batch) {
                Ok(last) => {
                    let n = batch.len() as u64;
                    self.held.pending.fetch_add(n, Ordering::Relaxed);
                    return (Some((last, n)), &[]);
                }
                Err(e) if damaged(&e) => {
                    if let Err(e) =
                        renew(&mut self.own, &self.spool, &self.held, &self.problems, &e)
                    {
                        self.cannot_spool(&e);
                    }
                }
                Err(e) => {
                    self.cannot_spool(&e);
                    return (None, batch);
                }
            }
        }
        (None, batch)
    }

    /// Reports (once) that spans go straight to the backend, unspooled.
    fn cannot_spool(&self, e: &dyn std::fmt::Display) {
        self.problems.record(
            "spool",
            &format_args!(
                "cannot write the spool in {} ({e}); spans are sent without it",
                self.spool.dir.display()
            ),
        );
    }

    /// Sends what the files hold, oldest first: while the backend takes it, at most
    /// `max_batches` batches. A failure that may pass keeps the spans and waits (backoff);
    /// one that will not counts them as failed and removes them.
    fn send(&mut self, retries: &Retries<'_>, max_batches: usize, now: Instant) {
        let mut sent = 0;
        while sent < max_batches && self.pace.may_try(now) {
            let Spooled {
                inner,
                own,
                adopted,
                held,
                problems,
                spool,
                batch_size,
                pace,
                ..
            } = self;
            let from_adopted = !adopted.is_empty();
            let file = match (adopted.front_mut(), own.as_mut()) {
                (Some(file), _) | (None, Some(file)) => file,
                (None, None) => return,
            };
            let rows = match file.oldest(*batch_size) {
                Ok(rows) => rows,
                Err(e) => {
                    if from_adopted {
                        if let Some(file) = adopted.pop_front() {
                            lose(held, problems, file, &e);
                        }
                    } else if renew(own, spool, held, problems, &e).is_err() {
                        // Nothing left to send from: batches go straight on.
                        return;
                    }
                    continue;
                }
            };
            let Some(&(last, _)) = rows.last() else {
                if from_adopted {
                    if let Some(file) = adopted.pop_front() {
                        file.delete();
                    }
                    continue;
                }
                return;
            };
            let n = rows.len() as u64;
            let mut spans = Vec::with_capacity(rows.len());
            let mut unreadable = 0;
            for (_, span) in rows {
                match span {
                    Ok(span) => spans.push(span),
                    Err(_) => unreadable += 1,
                }
            }
            if unreadable > 0 {
                retries.reject(
                    unreadable,
                    &format_args!(
                        "{unreadable} rows of the spool do not read back as spans: skipped"
                    ),
                );
            }
            let sending = Sending {
                retries,
                held,
                problems,
                now,
            };
            if !sending.rows(inner, file, &spans, (last, n), pace) {
                return;
            }
            sent += 1;
        }
    }
}

/// What sending rows from a file needs besides the exporter, the file and the pace.
struct Sending<'a, 'r> {
    retries: &'a Retries<'r>,
    held: &'a Held,
    problems: &'a FailureLog,
    now: Instant,
}

impl Sending<'_, '_> {
    /// Sends `spans`, the rows of `file` up to `last` (`n` rows, unreadable ones included),
    /// in one attempt, and removes them once the backend took them or refused them for good
    /// (counted as failed). `false` when the backend is down or busy (they stay, and `pace`
    /// waits) or the file cannot say they were sent.
    fn rows(
        &self,
        inner: &mut impl Exporter,
        file: &mut SpoolFile,
        spans: &[Trace],
        (last, n): (i64, u64),
        pace: &mut Pace,
    ) -> bool {
        let once = self.retries.once();
        let result = if spans.is_empty() {
            Ok(())
        } else {
            inner.export_with(spans, &once)
        };
        match result {
            Err(_) if once.gave_up() => {
                pace.failed(self.now);
                return false;
            }
            Err(ExportError::Failed(why) | ExportError::Retryable(why)) => {
                self.retries.reject(spans.len() as u64, &why);
            }
            Ok(()) => {}
        }
        pace.succeeded();
        if let Err(e) = file.remove_through(last) {
            // Sent, but still in the file: it would be sent again after a restart (the
            // backends keep one copy per span id). Stop rather than loop on it.
            self.problems.record(
                "spool",
                &format_args!("cannot delete sent spans from the spool: {e}"),
            );
            return false;
        }
        uncount(self.held, n);
        true
    }
}

impl<E: Exporter> Spooled<E> {
    /// Sends all the files hold, now, whatever the backoff (a flush, the first pass, the
    /// shutdown); what fails is counted in the queue's stats through `held`.
    fn send_now(&mut self) {
        self.pace.retry_at = None;
        let held = Arc::clone(&self.held);
        let problems = FailureLog::new();
        let counted = Counted {
            held: &held,
            problems: &problems,
        };
        self.send(
            &Retries::new(&counted, Duration::ZERO),
            usize::MAX,
            Instant::now(),
        );
    }
}

/// Where spans that fail outside a batch of the queue's are counted: `Held::failed`.
struct Counted<'a> {
    held: &'a Held,
    problems: &'a FailureLog,
}

impl Pacer for Counted<'_> {
    fn wait(&self, _: Duration) -> bool {
        false
    }

    fn reject(&self, n: u64, why: &dyn std::fmt::Display) {
        self.held.failed.fetch_add(n, Ordering::Relaxed);
        self.problems.record_many("spool", n, why);
    }
}

/// Takes `n` spans off the count of those waiting.
fn uncount(held: &Held, n: u64) {
    let _ = held
        .pending
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
            Some(p.saturating_sub(n))
        });
}

/// Sets a damaged file aside and reports it.
fn set_aside(problems: &FailureLog, file: SpoolFile, e: &dyn std::fmt::Display) {
    let aside = file.set_aside();
    problems.record(
        "spool",
        &format_args!(
            "a spool file is damaged ({e}); set aside as {}, spans go on into a new one",
            aside.display()
        ),
    );
}

/// Sets this process's damaged file aside (its spans count as failed) and starts a new one;
/// an error if none can be created.
fn renew(
    own: &mut Option<SpoolFile>,
    spool: &Spool,
    held: &Held,
    problems: &FailureLog,
    e: &dyn std::fmt::Display,
) -> Result<(), Error> {
    if let Some(file) = own.take() {
        lose(held, problems, file, e);
    }
    *own = Some(SpoolFile::create(&spool.dir, spool.power_safe)?);
    Ok(())
}

/// Sets a damaged file aside: its spans no longer wait, and count as failed.
fn lose(held: &Held, problems: &FailureLog, file: SpoolFile, e: &dyn std::fmt::Display) {
    let lost = file.count().unwrap_or(0);
    uncount(held, lost);
    held.failed.fetch_add(lost, Ordering::Relaxed);
    set_aside(problems, file, e);
}

/// The creation time in a spool file's name (`spool-<pid>-<nanos>.db`).
fn created_at(path: &Path) -> u128 {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.rsplit('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// While a batch goes into the file and a few go out, the queue's next batches wait: a pass
/// sends at most this many from the file, so a long backlog drains over several passes.
const BATCHES_PER_PASS: usize = 8;

impl<E: Exporter> Exporter for Spooled<E> {
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
        self.export_with(batch, &Retries::none())
    }

    fn export_with(&mut self, batch: &[Trace], retries: &Retries<'_>) -> Result<(), ExportError> {
        let waiting = self.held.pending.load(Ordering::Relaxed);
        if waiting + batch.len() as u64 > self.spool.max_spans {
            // Full: make room first, if the backend takes spans.
            self.send(retries, BATCHES_PER_PASS, Instant::now());
        }
        let waited = self.held.pending.load(Ordering::Relaxed);
        let (appended, unspooled) = self.append(batch, retries);
        if !unspooled.is_empty() {
            return self.inner.export_with(unspooled, retries);
        }
        let now = Instant::now();
        match (appended, &mut self.own) {
            // Nothing older waits: send the batch from memory, not read back from the file.
            (Some((last, n)), Some(own)) if waited == 0 && self.pace.may_try(now) => {
                let sending = Sending {
                    retries,
                    held: &self.held,
                    problems: &self.problems,
                    now,
                };
                sending.rows(
                    &mut self.inner,
                    own,
                    &batch[..n as usize],
                    (last, n),
                    &mut self.pace,
                );
            }
            _ => self.send(retries, BATCHES_PER_PASS, now),
        }
        Ok(())
    }

    fn flush(&mut self) {
        // A flush, or the first pass: one more try now, whatever the backoff.
        self.send_now();
        self.inner.flush();
    }

    fn shutdown(&mut self) {
        self.send_now();
        self.inner.shutdown();
        // Sent in full: nothing to leave behind.
        if self.own.as_ref().is_some_and(|f| f.count().ok() == Some(0)) {
            if let Some(file) = self.own.take() {
                file.delete();
            }
        }
    }

    fn reader(&self) -> Option<Box<dyn TraceReader>> {
        self.inner.reader()
    }
}
