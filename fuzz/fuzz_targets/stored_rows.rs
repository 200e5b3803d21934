//! A row of the `traces` table written by another tool with any values: read back as a span or
//! as `StoreProblem::CorruptRow` naming the row; never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rusqlite::types::Value as Sql;
use tracekit::{Error, StoreProblem, TraceFilter, Tracer};

struct Store {
    tracer: Tracer,
    conn: rusqlite::Connection,
}

fn store() -> &'static std::sync::Mutex<Store> {
    static STORE: OnceLock<std::sync::Mutex<Store>> = OnceLock::new();
    STORE.get_or_init(|| {
        // In the fuzz crate's own target directory, not the system's temporary one: libFuzzer
        // ends the process without running destructors, so the file stays behind.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("stored_rows-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let tracer = Tracer::sqlite(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        std::sync::Mutex::new(Store { tracer, conn })
    })
}

/// Fifteen cells from the input: a type byte, then the bytes up to the next `0xff`.
fn cells(data: &[u8]) -> Vec<Sql> {
    let mut out: Vec<Sql> = data
        .split(|&b| b == 0xff)
        .take(15)
        .map(|cell| match cell.split_first() {
            None => Sql::Null,
            Some((kind, rest)) => match kind % 4 {
                0 => Sql::Text(String::from_utf8_lossy(rest).into_owned()),
                1 => Sql::Blob(rest.to_vec()),
                2 => Sql::Integer(
                    rest.iter()
                        .fold(0i64, |n, b| n.wrapping_mul(256) | i64::from(*b)),
                ),
                _ => Sql::Real(f64::from_bits(
                    rest.iter().fold(0u64, |n, b| n << 8 | u64::from(*b)),
                )),
            },
        })
        .collect();
    out.resize(15, Sql::Null);
    out
}

fuzz_target!(|data: &[u8]| {
    let store = store().lock().unwrap();
    let inserted = store.conn.execute(
        "INSERT INTO traces (trace_id, span_id, span_kind, span_name, span_status, scope_name, \
         scope_version, resource_attributes, parent_span_id, started_at, ended_at, attributes, \
         identifier, conversation_id, subcontext_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        rusqlite::params_from_iter(cells(data)),
    );
    if inserted.is_err() {
        return;
    }
    match store.tracer.get_traces(&TraceFilter::new()) {
        Ok(_)
        | Err(Error::Store {
            problem: StoreProblem::CorruptRow { .. },
            ..
        }) => {}
        Err(other) => panic!("untyped: {other:?}"),
    }
    store.conn.execute("DELETE FROM traces", []).unwrap();
});
