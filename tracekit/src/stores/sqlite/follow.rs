//! Following the file as it is written ([`Watermark`]): rows in the order they were written
//! (the reference's `id` is `AUTOINCREMENT`, and SQLite has one writer at a time, so rows
//! commit in `id` order), and nothing read at all while no other connection has committed
//! (`PRAGMA data_version`).

use rusqlite::{Connection, OptionalExtension};

use super::row::{self, SELECT};
use crate::query::{Mark, Watermark};
use crate::{Error, StoreProblem, Trace};

/// The most rows one call returns; the next call goes on from there.
const MAX_ROWS: i64 = 10_000;

/// The spans tagged `identifier` written since `mark`, moving it past them.
pub(super) fn new_spans(
    conn: &Connection,
    identifier: Option<&str>,
    mark: &mut Watermark,
    location: &dyn Fn() -> String,
) -> Result<Vec<Trace>, Error> {
    let sql_error = |e: rusqlite::Error| Error::Store {
        location: location(),
        problem: StoreProblem::Backend(e.to_string()),
    };
    // Changes when another connection commits: unchanged, there is nothing new to read.
    let version: i64 = conn
        .query_row("PRAGMA data_version", [], |r| r.get(0))
        .map_err(sql_error)?;
    let (after, seen) = match std::mem::take(&mut mark.at) {
        Mark::Row { id, version: v } if v == version => {
            mark.at = Mark::Row { id, version };
            return Ok(Vec::new());
        }
        Mark::Row { id, .. } => (id, None),
        Mark::Now => {
            let last: Option<i64> = conn
                .query_row("SELECT max(id) FROM traces", [], |r| r.get(0))
                .optional()
                .map_err(sql_error)?
                .flatten();
            mark.at = Mark::Row {
                id: last.unwrap_or(0),
                version,
            };
            return Ok(Vec::new());
        }
        Mark::Start => (0, None),
        // A mark another kind of store set: from the start, without what it returned.
        Mark::Seen(seen) => (0, Some(seen)),
    };
    let mut statement = conn
        .prepare_cached(&format!(
            "{SELECT} WHERE t.identifier IS ?1 AND t.id > ?2 ORDER BY t.id LIMIT ?3"
        ))
        .map_err(sql_error)?;
    let mut rows = statement
        .query(rusqlite::params![identifier, after, MAX_ROWS])
        .map_err(sql_error)?;
    let (mut last, mut read, mut out) = (after, 0, Vec::new());
    while let Some(r) = rows.next().map_err(sql_error)? {
        last = r.get(0).map_err(sql_error)?;
        read += 1;
        let span = row::decode(r).map_err(|problem| Error::Store {
            location: location(),
            problem,
        })?;
        let returned = seen
            .as_ref()
            .is_some_and(|s| s.contains(&(span.trace_id, span.span_id)));
        if span.ended_at.is_some() && !returned {
            out.push(span);
        }
    }
    // A full page may have more behind it: an impossible version reads again next time.
    let version = if read == MAX_ROWS { i64::MIN } else { version };
    mark.at = Mark::Row { id: last, version };
    Ok(out)
}
