//! Faults around the tracers: a stuck sink, and a SQLite file that is locked, read-only,
//! deleted, full, or whose writer is killed or exits with spans queued. Each case is a row of
//! RELIABILITY.md: what happened and what was lost.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracekit::sinks::Overflow;
use tracekit::stores::SqliteConfig;
use tracekit::{BatchConfig, Error, Sink, StoreProblem, Trace, TraceFilter, Tracer};

/// A sink whose `persist` never returns (until the test lets it go).
struct Stuck {
    entered: Arc<AtomicU64>,
    release: Arc<AtomicBool>,
}

impl Sink for Stuck {
    fn persist(&self, _: &Trace) {
        self.entered.fetch_add(1, Ordering::SeqCst);
        while !self.release.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn a_sink_that_blocks_forever_holds_up_nobody_in_the_background() {
    let (entered, release) = (Arc::default(), Arc::new(AtomicBool::new(false)));
    let sink = Stuck {
        entered: Arc::clone(&entered),
        release: Arc::clone(&release),
    };
    let tracer = Tracer::new(sink)
        .in_background_with(BatchConfig::new().max_queue_size(100))
        .unwrap();
    // The traced code goes on: every span is queued or dropped, none waits for the sink.
    let started = Instant::now();
    for i in 0..10_000u32 {
        drop(tracer.span("work").attribute("i", i).start());
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "10 000 spans took {took:?}");
    while entered.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = tracer.stats();
    assert_eq!(stats.spans_accepted, 10_000);
    // One span is inside the stuck sink, at most `capacity` wait; the rest were dropped.
    assert!(stats.spans_dropped >= 10_000 - 100 - 1, "{stats:?}");
    assert_eq!(
        stats.spans_dropped + stats.spans_pending + stats.spans_persisted,
        10_000,
        "{stats:?}"
    );
    println!(
        "stuck sink: 10 000 spans in {took:?}; dropped {}, queued {}, in the sink {}",
        stats.spans_dropped, stats.spans_pending, stats.spans_persisted
    );
    // Flush and shutdown give up at their deadline and say what still waits.
    match tracer.flush_within(Duration::from_millis(200)) {
        Err(Error::Timeout { detail, .. }) => assert!(detail.contains("still queued"), "{detail}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // With Overflow::Block, a caller waits at most its limit for room.
    let (entered2, release2) = (Arc::default(), Arc::new(AtomicBool::new(false)));
    let blocking = Tracer::new(Stuck {
        entered: entered2,
        release: Arc::clone(&release2),
    })
    .in_background_with(
        BatchConfig::new()
            .max_queue_size(10)
            .overflow(Overflow::Block(Duration::from_millis(20))),
    )
    .unwrap();
    let started = Instant::now();
    for _ in 0..50 {
        drop(blocking.trace("work"));
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(10));
    assert!(blocking.stats().spans_dropped >= 50 - 10 - 1);
    println!(
        "stuck sink, Block(20 ms): 50 spans in {waited:?}; dropped {}",
        blocking.stats().spans_dropped
    );
    // Let both go: the queued spans are then delivered.
    release.store(true, Ordering::SeqCst);
    release2.store(true, Ordering::SeqCst);
    tracer.shutdown().unwrap();
    blocking.shutdown().unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_pending, 0);
    assert_eq!(stats.spans_dropped + stats.spans_persisted, 10_000);
}

#[test]
fn a_panicking_or_failing_tracer_in_the_background_is_counted() {
    struct Panics;
    impl Sink for Panics {
        fn persist(&self, _: &Trace) {
            panic!("boom");
        }
    }
    let tracer = Tracer::new(Panics).in_background().unwrap();
    for _ in 0..100 {
        drop(tracer.trace("x"));
    }
    tracer.flush().unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.sink_failures, 100, "{stats:?}");
    assert_eq!(stats.spans_persisted, 0);
}

// --- SQLite ---------------------------------------------------------------------------------

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn rows(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM traces", [], |r| r.get(0))
        .unwrap()
}

fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Runs this test binary's `child` function as another process, doing `role` on `path`.
fn spawn_child(role: &str, path: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--nocapture", "--include-ignored"])
        .env("TRACEKIT_FAULT_CHILD", format!("{role}:{}", path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Waits for `line` on the child's stdout.
fn expect_line(lines: &mut impl Iterator<Item = std::io::Result<String>>, line: &str) {
    for l in lines.by_ref() {
        if l.unwrap().trim() == line {
            return;
        }
    }
    panic!("the child ended before printing {line:?}");
}

/// Not a test by itself: the other process of the tests below.
#[test]
#[ignore = "run as a child process by other tests"]
fn child() {
    let Ok(spec) = std::env::var("TRACEKIT_FAULT_CHILD") else {
        return;
    };
    let (role, path) = spec.split_once(':').unwrap();
    let say = |line: &str| {
        use std::io::Write;
        let mut out = std::io::stdout();
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    };
    match role {
        // Holds the file locked (as another program's long transaction would) for 1.5 s.
        "lock" | "lock-long" => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            say("locked");
            let hold = if role == "lock" { 1_500 } else { 4_000 };
            std::thread::sleep(Duration::from_millis(hold));
            conn.execute_batch("COMMIT").unwrap();
        }
        // Writes and flushes batches of 1 000 until killed.
        "write-forever" => {
            let tracer =
                Tracer::sqlite(SqliteConfig::new(path).max_export_batch_size(100)).unwrap();
            for batch in 0u64.. {
                for i in 0..1_000 {
                    drop(tracer.span("w").attribute("n", batch * 1_000 + i).start());
                }
                tracer.flush().unwrap();
                say(&format!("flushed {}", (batch + 1) * 1_000));
            }
        }
        // Ends 20 000 spans and exits with or without `shutdown`.
        "exit" | "exit-after-shutdown" => {
            let tracer = Tracer::sqlite(path).unwrap();
            for i in 0..20_000u32 {
                drop(tracer.span("w").attribute("i", i).start());
            }
            if role == "exit-after-shutdown" {
                tracer.shutdown().unwrap();
            }
            // `exit` runs no destructors: tracekit's exit hook writes what the queue holds.
            std::process::exit(0);
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_file_locked_by_another_process_is_written_once_it_is_released() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracer =
        Tracer::sqlite(SqliteConfig::new(&path).busy_timeout(Duration::from_millis(100))).unwrap();
    let mut locker = spawn_child("lock", &path).spawn().unwrap();
    let mut lines = BufReader::new(locker.stdout.take().unwrap()).lines();
    expect_line(&mut lines, "locked");
    for i in 0..1_000u32 {
        drop(tracer.span("w").attribute("i", i).start());
    }
    // The writer retries while the lock is held, then writes everything.
    let waited = Instant::now();
    tracer.flush_within(Duration::from_secs(30)).unwrap();
    println!(
        "locked file: flushed {:?} after the lock was seen",
        waited.elapsed()
    );
    assert!(locker.wait().unwrap().success());
    let stats = tracer.stats();
    assert_eq!((stats.spans_persisted, stats.sink_failures), (1_000, 0));
    drop(tracer);
    assert_eq!(rows(&path), 1_000);
}

#[test]
fn a_lock_held_past_retry_for_fails_the_batch_and_says_so() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracer = Tracer::sqlite(
        SqliteConfig::new(&path)
            .busy_timeout(Duration::from_millis(50))
            .retry_for(Duration::from_millis(300)),
    )
    .unwrap();
    let mut locker = spawn_child("lock-long", &path).spawn().unwrap();
    let mut lines = BufReader::new(locker.stdout.take().unwrap()).lines();
    expect_line(&mut lines, "locked");
    for _ in 0..100 {
        drop(tracer.trace("w"));
    }
    match tracer.flush_within(Duration::from_secs(30)) {
        Err(Error::Sink { message, .. }) => {
            assert!(
                message.starts_with("100 spans could not be delivered"),
                "{message}"
            );
            assert!(message.contains("locked"), "{message}");
        }
        other => panic!("expected the batch to fail, got {other:?}"),
    }
    assert_eq!(tracer.stats().sink_failures, 100);
    assert!(locker.wait().unwrap().success());
    // Once the lock is gone, later spans are written.
    drop(tracer.trace("after"));
    tracer.flush().unwrap();
    drop(tracer);
    assert_eq!(rows(&path), 1);
}

#[test]
fn a_file_deleted_while_open_is_noticed_and_counted() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracer = Tracer::sqlite(&path).unwrap();
    for _ in 0..10 {
        drop(tracer.trace("before"));
    }
    tracer.flush().unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    for _ in 0..5 {
        drop(tracer.trace("after"));
    }
    match tracer.flush() {
        Err(Error::Sink { message, .. }) => {
            assert!(
                message.starts_with("5 spans could not be delivered"),
                "{message}"
            );
            assert!(message.contains("deleted or replaced"), "{message}");
        }
        other => panic!("expected the spans to fail, got {other:?}"),
    }
    assert_eq!(tracer.stats().sink_failures, 5);
    match tracer.get_traces(&TraceFilter::new()) {
        Err(Error::Store {
            problem: StoreProblem::FileGone,
            ..
        }) => {}
        other => panic!("expected FileGone, got {other:?}"),
    }
    drop(tracer);
    // Opening the path again starts a new file.
    let tracer = Tracer::sqlite(&path).unwrap();
    drop(tracer.trace("new"));
    assert_eq!(tracer.get_traces(&TraceFilter::new()).unwrap().len(), 1);
}

/// A small tmpfs of its own, for a full or read-only file system (needs root; `None`, loudly,
/// where it cannot be mounted).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = temp();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!(
                "!!! SKIPPED: a tmpfs cannot be mounted here (not root?), so the full and \
                 read-only file system cases did not run"
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_fails_batches_counted_and_writing_resumes_when_there_is_room() {
    let Some(fs) = Tmpfs::mount("1m") else {
        return;
    };
    let path = fs.path().join("t.db");
    let tracer = Tracer::sqlite(
        SqliteConfig::new(&path)
            .max_export_batch_size(50)
            .overflow(Overflow::Block(Duration::from_secs(5))),
    )
    .unwrap();
    let big = "x".repeat(4_096);
    let mut full_errors = 0;
    for i in 0..2_000u32 {
        drop(
            tracer
                .span("w")
                .attribute("i", i)
                .attribute("big", big.as_str())
                .start(),
        );
        if i % 100 == 99 {
            // Batches at a time, so some fit before the disk fills; a flush says when not.
            if let Err(e) = tracer.flush() {
                let message = e.to_string();
                assert!(message.contains("disk is full"), "{message}");
                full_errors += 1;
            }
        }
    }
    assert!(full_errors > 0, "no flush reported the full disk");
    let stats = tracer.stats();
    assert!(stats.sink_failures > 0, "the disk never filled: {stats:?}");
    assert!(stats.spans_persisted > 0, "{stats:?}");
    assert_eq!(
        stats.spans_persisted + stats.sink_failures,
        2_000,
        "{stats:?}"
    );
    println!(
        "full disk: {} of 2 000 spans written, {} failed and counted",
        stats.spans_persisted, stats.sink_failures
    );
    // Room again: later spans are written.
    fs.remount("size=64m");
    for _ in 0..10 {
        drop(tracer.trace("after"));
    }
    tracer.flush().unwrap();
    let persisted = tracer.stats().spans_persisted;
    drop(tracer);
    // The file holds exactly what the stats call persisted, and is sound.
    assert_eq!(integrity(&path), "ok");
    assert_eq!(rows(&path) as u64, persisted);
}

#[test]
fn a_store_on_a_read_only_file_system_is_a_typed_error_and_the_file_is_untouched() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let path = fs.path().join("t.db");
    let tracer = Tracer::sqlite(&path).unwrap();
    drop(tracer.trace("before"));
    drop(tracer);
    let before = std::fs::read(&path).unwrap();
    // (Linux refuses to remount read-only while a store has the file open for writing.)
    fs.remount("ro");
    match Tracer::sqlite(&path) {
        Err(
            e @ Error::Store {
                problem: StoreProblem::ReadOnly,
                ..
            },
        ) => assert!(e.to_string().contains("read-only"), "{e}"),
        other => panic!("expected a read-only store error, got {other:?}"),
    }
    match Tracer::sqlite(fs.path().join("new.db")) {
        Err(Error::Store {
            problem: StoreProblem::ReadOnly,
            ..
        }) => {}
        other => panic!("expected a read-only store error, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    fs.remount("rw");
    assert_eq!(rows(&path), 1);
}

#[test]
fn a_writer_killed_mid_batch_leaves_a_sound_file_with_every_committed_span() {
    let dir = temp();
    let path = dir.path().join("t.db");
    drop(Tracer::sqlite(&path).unwrap());
    let mut writer = spawn_child("write-forever", &path).spawn().unwrap();
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    let mut flushed = 0;
    while flushed < 5_000 {
        let line = lines.next().expect("the writer ended").unwrap();
        if let Some(n) = line.strip_prefix("flushed ") {
            flushed = n.parse().unwrap();
        }
    }
    // SIGKILL, in the middle of whatever it was doing (it never stops writing).
    writer.kill().unwrap();
    writer.wait().unwrap();
    assert_eq!(integrity(&path), "ok");
    let spans = Tracer::sqlite(&path)
        .unwrap()
        .get_traces(&TraceFilter::new())
        .unwrap();
    let mut n: Vec<i64> = spans
        .iter()
        .map(|t| t.attributes.get("n").unwrap().as_i64().unwrap())
        .collect();
    n.sort_unstable();
    let total = n.len();
    n.dedup();
    assert_eq!(n.len(), total, "a span was written twice");
    println!(
        "SIGKILL: {flushed} spans acknowledged by a flush, {} in the file",
        n.len()
    );
    // Every span acknowledged by a flush is there.
    assert!(n.len() >= flushed as usize);
    assert_eq!(n[..flushed as usize], (0..flushed).collect::<Vec<_>>()[..]);
}

#[test]
fn exit_with_a_full_queue_writes_it_all_with_or_without_shutdown() {
    let dir = temp();
    let exited = dir.path().join("exit.db");
    let kept = dir.path().join("shutdown.db");
    assert!(spawn_child("exit", &exited).status().unwrap().success());
    assert!(spawn_child("exit-after-shutdown", &kept)
        .status()
        .unwrap()
        .success());
    assert_eq!(rows(&kept), 20_000);
    // Without shutdown, `exit` runs no destructors; the exit hook (`tracekit::exit`) writes
    // what was still queued.
    assert_eq!(rows(&exited), 20_000);
}
