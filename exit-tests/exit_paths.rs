//! Nothing lost at exit (`tracekit::exit`): a child writes 20 000 spans to SQLite, or to a
//! local OTLP endpoint, and then returns from `main` with the tracer in a `static`, calls
//! `std::process::exit`, panics out of `main`, or is sent SIGTERM or SIGINT while it waits.
//! Every span arrives, and each way of ending keeps its usual exit status. With a spool, even
//! SIGKILL loses nothing that was acknowledged: the next start sends it, once.

#[path = "../tests/common/otlp_receiver.rs"]
mod receiver;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use receiver::Receiver;
use tracekit::{TraceFilter, Tracer};

const SPANS: usize = 20_000;

/// Runs the child; for `signal`, sends `signal` once it is ready.
fn child(mode: &str, backend: &str, target: &str, signal: Option<i32>) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_exit-child"))
        .args([mode, backend, target, &SPANS.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(signal) = signal {
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        // SAFETY: kill with a live child's pid and a valid signal number only sends it.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stored(path: &std::path::Path) -> usize {
    Tracer::sqlite(tracekit::SqliteConfig::new(path).read_only())
        .unwrap()
        .get_traces(&TraceFilter::new())
        .unwrap()
        .len()
}

fn received(receiver: &Receiver) -> usize {
    receiver
        .requests()
        .iter()
        .map(|r| {
            ExportTraceServiceRequest::decode(&r.body[..])
                .unwrap()
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum::<usize>()
        })
        .sum()
}

/// The exit status each way of ending must keep.
fn expected(mode: &str, signal: Option<i32>, status: ExitStatus) -> bool {
    match (mode, signal) {
        ("panic", _) => status.code() == Some(101),
        (_, Some(s)) => status.signal() == Some(s),
        _ => status.code() == Some(0),
    }
}

const WAYS: [(&str, Option<i32>); 5] = [
    ("return", None),
    ("exit", None),
    ("panic", None),
    ("signal", Some(libc::SIGTERM)),
    ("signal", Some(libc::SIGINT)),
];

#[test]
fn every_way_of_ending_writes_every_span_to_sqlite() {
    for (mode, signal) in WAYS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let (status, stderr) = child(mode, "sqlite", path.to_str().unwrap(), signal);
        assert!(
            expected(mode, signal, status),
            "{mode} {signal:?}: {status:?} {stderr}"
        );
        assert_eq!(stored(&path), SPANS, "{mode} {signal:?}: {stderr}");
    }
}

#[test]
fn every_way_of_ending_sends_every_span_over_otlp() {
    for (mode, signal) in WAYS {
        let receiver = Receiver::start();
        let (status, stderr) = child(mode, "otlp", &receiver.url(), signal);
        assert!(
            expected(mode, signal, status),
            "{mode} {signal:?}: {status:?} {stderr}"
        );
        assert_eq!(received(&receiver), SPANS, "{mode} {signal:?}: {stderr}");
    }
}

/// Against a collector that is down, an exit waits no longer than the queue's shutdown
/// timeout and says what was lost, once.
#[test]
fn an_unreachable_collector_delays_the_exit_by_the_timeout_at_most() {
    let started = std::time::Instant::now();
    let (status, stderr) = child("exit", "otlp", &down(), None);
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        stderr
            .matches("could not be written before the process ended")
            .count(),
        1,
        "{stderr}"
    );
}

/// With `panic = "abort"` the panic hook writes the queues before the abort. The child is
/// built again with that profile (a few minutes, so with the long tests: `--ignored`).
#[test]
#[ignore = "builds the child again with panic = \"abort\" (a few minutes); CI runs it"]
fn a_panic_that_aborts_writes_every_span_first() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let target = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/panic-abort");
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "--manifest-path",
            manifest,
            "--bin",
            "exit-child",
            "--target-dir",
            target,
        ])
        .env("CARGO_PROFILE_DEV_PANIC", "abort")
        .status()
        .unwrap();
    assert!(built.success());
    let binary = format!("{target}/debug/exit-child");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let receiver = Receiver::start();
    for (backend, target) in [
        ("sqlite", path.to_str().unwrap().to_owned()),
        ("otlp", receiver.url()),
    ] {
        let out = Command::new(&binary)
            .args(["panic", backend, &target, &SPANS.to_string()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{backend}: {stderr}"
        );
        assert!(stderr.contains("the agent failed"), "{stderr}");
    }
    assert_eq!(stored(&path), SPANS);
    assert_eq!(received(&receiver), SPANS);
}

/// A signal ignored when the program starts (under `nohup`, or in the background of a
/// non-interactive shell) stays ignored: tracekit installs nothing for it and never turns it
/// into an exit; the program goes on, and its spans are written at its normal end.
#[test]
fn a_signal_ignored_at_start_stays_ignored_and_every_span_is_written_at_the_end() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let (status, stderr) = child("ignoring", "sqlite", path.to_str().unwrap(), Some(signal));
        assert_eq!(status.code(), Some(0), "{signal}: {status:?} {stderr}");
        assert!(
            !stderr.contains("SIG"),
            "nothing said of the signal: {stderr}"
        );
        assert_eq!(stored(&path), SPANS, "{signal}: {stderr}");
    }
}

/// A program with a SIGTERM handler of its own keeps it: tracekit writes the queues and the
/// program's handler decides (here it returns normally); with `TRACEKIT_SIGNALS=off` tracekit
/// leaves the signals alone, and SIGTERM ends the process at once, queue and all.
#[test]
fn a_handler_of_the_programs_own_is_chained_and_signals_can_be_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("own.db");
    let (status, stderr) = child(
        "own-handler",
        "sqlite",
        path.to_str().unwrap(),
        Some(libc::SIGTERM),
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stored(&path), SPANS);

    // Left alone, SIGTERM takes its default action at once: no wait for a collector that is
    // down (tracekit's thread would wait up to the queue's timeout, then say what was lost).
    let (running, _) = started(
        ["signal", "otlp", &down(), &SPANS.to_string()],
        ("TRACEKIT_SIGNALS", "off".as_ref()),
    );
    let sent = std::time::Instant::now();
    // SAFETY: kill with a live child's pid and a valid signal number only sends it.
    assert_eq!(unsafe { libc::kill(running.id() as i32, libc::SIGTERM) }, 0);
    let out = running.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGTERM));
    assert!(
        sent.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("could not be written"));
}

/// Starts the child with `args` and the variable `env`; returns it once it printed its
/// first line, with that line.
fn started(
    args: [&str; 4],
    (name, value): (&str, &std::ffi::OsStr),
) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_exit-child"))
        .args(args)
        .env(name, value)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

/// A port nothing listens on: a collector that is down.
fn down() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// The distinct span ids received, and the spans received in all.
fn span_ids(receiver: &Receiver) -> (std::collections::HashSet<Vec<u8>>, usize) {
    let mut ids = std::collections::HashSet::new();
    let mut all = 0;
    for r in receiver.requests() {
        let request = ExportTraceServiceRequest::decode(&r.body[..]).unwrap();
        for span in request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
        {
            ids.insert(span.span_id.clone());
            all += 1;
        }
    }
    (ids, all)
}

/// SIGKILL while the collector is down, after a flush acknowledged 20 000 spans: the next
/// start on the same spool sends every one of them, once; a start after that sends nothing.
#[test]
fn a_sigkill_loses_nothing_the_spool_acknowledged() {
    let spool = tempfile::tempdir().unwrap();
    let (mut killed, line) = started(
        ["acknowledge", "otlp", &down(), &SPANS.to_string()],
        ("TRACEKIT_TEST_SPOOL", spool.path().as_os_str()),
    );
    // Every span waits in the spool (none could be sent).
    assert_eq!(line.trim(), format!("acknowledged {SPANS}"));
    killed.kill().unwrap();
    let out = killed.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGKILL));

    let receiver = Receiver::start();
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_exit-child"))
            .args(["return", "otlp", &receiver.url(), "0"])
            .env("TRACEKIT_TEST_SPOOL", spool.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (ids, all) = span_ids(&receiver);
        assert_eq!((ids.len(), all), (SPANS, SPANS), "every span, once");
    }
}

/// A spool holds at most `max_spans` (the rest are counted as failed); a damaged spool file
/// is set aside, said so, and spans go on; a spool's spans are sent once the collector is up.
#[test]
fn a_spool_is_bounded_survives_damage_and_drains() {
    use tracekit::{OtlpConfig, Spool};
    let spool = tempfile::tempdir().unwrap();
    std::fs::write(spool.path().join("spool-1-1.db"), b"not a database at all").unwrap();
    let config = |url: &str| OtlpConfig::new(url).spool(Spool::new(spool.path()).max_spans(1_000));
    let tracer = Tracer::otlp(config(&down())).unwrap();
    for _ in 0..1_500 {
        drop(tracer.trace("step"));
    }
    let full = tracer.flush().unwrap_err().to_string();
    assert!(
        full.contains("500 spans") && full.contains("is full"),
        "{full}"
    );
    let stats = tracer.stats();
    assert_eq!((stats.spans_pending, stats.sink_failures), (1_000, 500));
    drop(tracer);
    let names: Vec<String> = std::fs::read_dir(spool.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("spool-1-1.db.corrupt")),
        "{names:?}"
    );

    let receiver = Receiver::start();
    let tracer = Tracer::otlp(config(&receiver.url())).unwrap();
    drop(tracer.trace("after"));
    tracer.flush().unwrap();
    assert_eq!(span_ids(&receiver).0.len(), 1_001);
    assert_eq!(tracer.stats().spans_pending, 0);
}

/// A backlog in the spool goes out once the collector comes back, with no span ending and no
/// flush meanwhile: the writer tries again on its own, with backoff.
#[test]
fn a_spool_sends_its_backlog_when_the_collector_comes_back_unasked() {
    use tracekit::{OtlpConfig, Spool};
    let spool = tempfile::tempdir().unwrap();
    let url = down();
    let tracer = Tracer::otlp(OtlpConfig::new(&url).spool(Spool::new(spool.path()))).unwrap();
    for _ in 0..100 {
        drop(tracer.trace("step"));
    }
    tracer.flush().unwrap();
    assert_eq!(tracer.stats().spans_pending, 100);
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    let receiver = Receiver::start_on(port);
    let back = std::time::Instant::now();
    while span_ids(&receiver).0.len() < 100 {
        assert!(
            back.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            tracer.stats()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(tracer.stats().spans_pending, 0);
}
