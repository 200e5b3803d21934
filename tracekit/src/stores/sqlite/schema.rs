//! The reference's `traces` table, opened without harming what is already in the file.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use crate::{Error, StoreProblem};

/// The reference's statements, byte for byte (SQLite keeps their text in `sqlite_master`).
const CREATE_TABLE: &str = "
                CREATE TABLE IF NOT EXISTS traces (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    trace_id TEXT NOT NULL,
                    span_id TEXT NOT NULL,
                    span_kind TEXT NOT NULL,
                    span_name TEXT NOT NULL,
                    span_status TEXT NOT NULL,
                    scope_name TEXT,
                    scope_version TEXT,
                    resource_attributes BLOB,
                    parent_span_id TEXT,
                    started_at TEXT NOT NULL,
                    ended_at TEXT,
                    attributes BLOB,
                    identifier TEXT,
                    conversation_id TEXT,
                    subcontext_id TEXT
                )
                ";

const CREATE_INDEXES: [&str; 5] = [
    "
                CREATE INDEX IF NOT EXISTS idx_traces_trace_id_started_at
                ON traces (trace_id, started_at)
                ",
    "
                CREATE INDEX IF NOT EXISTS idx_traces_conversation_id_started_at
                ON traces (conversation_id, started_at)
                ",
    "
                CREATE INDEX IF NOT EXISTS idx_traces_conversation_id_subcontext_id_started_at
                ON traces (conversation_id, subcontext_id, started_at)
                ",
    "
                CREATE INDEX IF NOT EXISTS idx_traces_trace_id
                ON traces (trace_id)
                ",
    "
                CREATE INDEX IF NOT EXISTS idx_traces_span_id
                ON traces (span_id)
                ",
];

/// tracekit's own index on the reference's table, for listing traces newest first
/// (`list.rs`): the walk in start order. Its keys grow with time, so rows are added at its
/// end. It is the start time alone: an index led by `identifier` (one value in most files)
/// looked, to SQLite's planner, as good as the `trace_id` index for reading one trace, and it
/// read the whole file that way. The Python toolkit reads and writes the table as before.
const CREATE_TRACEKIT_INDEXES: [&str; 1] =
    ["CREATE INDEX IF NOT EXISTS tracekit_traces_started_at ON traces (started_at)"];

/// tracekit's own addition, in a table of its own so the reference's stays exact: span
/// events (the reference has none), by the row of their span.
const CREATE_EVENTS: &str = "CREATE TABLE IF NOT EXISTS tracekit_events (
    trace_row INTEGER PRIMARY KEY,
    events BLOB NOT NULL
)";

/// The reference's columns, in order.
pub(super) const COLUMNS: [&str; 16] = [
    "id",
    "trace_id",
    "span_id",
    "span_kind",
    "span_name",
    "span_status",
    "scope_name",
    "scope_version",
    "resource_attributes",
    "parent_span_id",
    "started_at",
    "ended_at",
    "attributes",
    "identifier",
    "conversation_id",
    "subcontext_id",
];

/// Turns a SQLite error about `path` into the crate's error.
pub(super) fn store_error(path: &Path, e: &rusqlite::Error) -> Error {
    let problem = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreProblem::NotADatabase,
        Some(ErrorCode::ReadOnly) => StoreProblem::ReadOnly,
        Some(ErrorCode::CannotOpen) if read_only(path) => StoreProblem::ReadOnly,
        _ => StoreProblem::Backend(e.to_string()),
    };
    Error::Store {
        location: path.display().to_string(),
        problem,
    }
}

/// Whether `path`, or its directory when the file is missing, cannot be written: SQLite says
/// only that it cannot open the file. Asked only after opening failed.
fn read_only(path: &Path) -> bool {
    use std::io::ErrorKind::{PermissionDenied, ReadOnlyFilesystem};
    let denied = |e: std::io::Error| matches!(e.kind(), PermissionDenied | ReadOnlyFilesystem);
    if path.exists() {
        return std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .is_err_and(denied);
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let probe = dir
        .unwrap_or(Path::new("."))
        .join(format!(".tracekit-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            false
        }
        Err(e) => denied(e),
    }
}

/// Which indexes a new file gets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Indexes {
    /// The reference's and tracekit's: a store that is read by conversation, trace and time.
    All,
    /// None beyond the row id: a spool, written and read in row order only.
    #[cfg_attr(not(any(feature = "otlp", feature = "dynamodb")), allow(dead_code))]
    RowOrder,
}

/// Opens `path` (creating the file if missing), checks it and sets up the tables (with
/// `indexes` if they are new).
pub(super) fn open(
    path: &Path,
    busy_timeout: Duration,
    indexes: Indexes,
) -> Result<Connection, Error> {
    let location = || path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(Error::Store {
                location: location(),
                problem: StoreProblem::MissingDirectory,
            });
        }
    }
    let conn = connect(path, busy_timeout)?;
    let err = |e: rusqlite::Error| store_error(path, &e);
    // Reading the schema first: a file that is not a database fails here, before anything
    // is written to it.
    let found: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('traces') ORDER BY cid")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err)?;
    if !found.is_empty() && found != COLUMNS {
        return Err(Error::Store {
            location: location(),
            problem: StoreProblem::ForeignTable {
                found: found.join(", "),
            },
        });
    }
    // WAL lets readers, this process's other tracers and other processes write the file at
    // once; NORMAL sync is durable across a crash of the process (not of the machine).
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    // IMMEDIATE: two processes opening one new file at once wait for each other (busy
    // timeout) instead of failing to upgrade a read.
    let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate).map_err(err)?;
    tx.execute_batch(CREATE_TABLE).map_err(err)?;
    if indexes == Indexes::All {
        for index in CREATE_INDEXES.iter().chain(&CREATE_TRACEKIT_INDEXES) {
            tx.execute_batch(index).map_err(err)?;
        }
    }
    tx.execute_batch(CREATE_EVENTS).map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(conn)
}

/// Which file `path` names now (device and inode), to notice that it was deleted or replaced
/// while open; `None` if it is missing (or on systems without inodes, where nothing is checked).
pub(super) fn file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Some((0, 0))
    }
}

/// A connection that only reads `path`, which must exist and hold the reference's table
/// (anything else is an error, and nothing is written).
pub(super) fn connect_read_only(path: &Path, busy_timeout: Duration) -> Result<Connection, Error> {
    let problem = |problem| Error::Store {
        location: path.display().to_string(),
        problem,
    };
    if !path.is_file() {
        return Err(problem(StoreProblem::Missing));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| store_error(path, &e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| store_error(path, &e))?;
    let found: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('traces') ORDER BY cid")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| store_error(path, &e))?;
    if found.is_empty() {
        return Err(problem(StoreProblem::Backend(
            "the file has no `traces` table: it is not a tracekit or reference store".into(),
        )));
    }
    if found != COLUMNS {
        return Err(problem(StoreProblem::ForeignTable {
            found: found.join(", "),
        }));
    }
    Ok(conn)
}

/// Another connection to a file that [`open`] set up.
pub(super) fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| store_error(path, &e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| store_error(path, &e))?;
    Ok(conn)
}
