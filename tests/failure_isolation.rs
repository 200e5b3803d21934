//! Tracers never break the traced code: failing or panicking sinks are contained, counted and
//! reported once.

mod common;

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{all, names};
use tracekit::{Sink, Trace, Tracer};

struct Panics;
impl Sink for Panics {
    fn persist(&self, _: &Trace) {
        panic!("sink exploded");
    }
}

#[derive(Clone, Default)]
struct Counts(Arc<AtomicUsize>);
impl Sink for Counts {
    fn persist(&self, _: &Trace) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct BrokenPipe;
impl io::Write for BrokenPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "reader went away",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panicking_tee_member_does_not_stop_the_others_or_the_caller() {
    let first = Tracer::in_memory(10);
    let bad = Tracer::new(Panics);
    let counts = Counts::default();
    let last = Tracer::new(counts.clone());
    let tee = Tracer::tee([first.clone(), bad.clone(), last.clone()]);
    let value = {
        let _span = tee.trace("work");
        21 * 2
    };
    drop(tee.trace("more"));
    assert_eq!(value, 42);
    assert_eq!(names(&all(&first)), ["work", "more"]);
    assert_eq!(counts.0.load(Ordering::SeqCst), 2);
    assert_eq!(bad.stats().sink_failures, 2);
    assert_eq!(bad.stats().spans_persisted, 0);
    let tee_stats = tee.stats();
    assert_eq!((tee_stats.spans_accepted, tee_stats.sink_failures), (2, 2));
    // get_traces reads from the first member.
    assert_eq!(all(&tee).len(), 2);
}

#[test]
fn a_panicking_sink_never_replaces_the_users_error() {
    fn step(tracer: &Tracer) -> Result<u8, String> {
        let _span = tracer.trace("step");
        Err("user error".to_string())
    }
    let tracer = Tracer::new(Panics);
    assert_eq!(step(&tracer), Err("user error".to_string()));
    assert_eq!(tracer.stats().sink_failures, 1);
}

#[test]
fn a_panicking_sink_during_the_users_panic_does_not_abort() {
    let tracer = Tracer::new(Panics);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _span = tracer.trace("doomed");
        panic!("the user's panic");
    }));
    let payload = outcome.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the user's panic"));
    assert_eq!(tracer.stats().sink_failures, 1);
}

#[test]
fn write_errors_are_counted_not_raised() {
    let tracer = Tracer::human_readable(BrokenPipe);
    let logs = Tracer::structured_logs(BrokenPipe);
    for _ in 0..3 {
        drop(tracer.trace("x"));
        drop(logs.trace("y"));
    }
    for t in [&tracer, &logs] {
        let s = t.stats();
        assert_eq!(
            (s.spans_accepted, s.sink_failures, s.spans_persisted),
            (3, 3, 0)
        );
    }
}

#[test]
fn spans_after_shutdown_are_dropped_and_counted() {
    let tracer = Tracer::in_memory(10);
    drop(tracer.trace("before"));
    tracer.shutdown().unwrap();
    tracer.shutdown().unwrap(); // idempotent
    drop(tracer.trace("after"));
    assert_eq!(names(&all(&tracer)), ["before"]);
    let s = tracer.stats();
    assert_eq!(
        (s.spans_accepted, s.spans_persisted, s.spans_dropped),
        (1, 1, 1)
    );
}

/// Runs in a child process (see `failures_are_reported_once_on_stderr`).
#[test]
fn child_process_failing_sinks() {
    if std::env::var_os("TRACEKIT_FAILURE_CHILD").is_none() {
        return;
    }
    let writer = Tracer::human_readable(BrokenPipe);
    let panicky = Tracer::new(Panics);
    for _ in 0..5 {
        drop(writer.trace("x"));
        drop(panicky.trace("y"));
    }
}

#[test]
fn failures_are_reported_once_on_stderr() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_failing_sinks",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TRACEKIT_FAILURE_CHILD", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("tracekit:"))
        .collect();
    assert_eq!(reports.len(), 2, "one report per failing tracer:\n{stderr}");
    assert!(
        reports[0].contains("`human_readable` tracer failed: reader went away"),
        "{stderr}"
    );
    assert!(reports[1].contains("panicked: sink exploded"), "{stderr}");
    assert!(reports.iter().all(|r| r.contains("Tracer::stats()")));
}
