//! The real servers and tools the tests use, one way for every test package: dynalite (a
//! DynamoDB-compatible server), Arize Phoenix (an OpenTelemetry backend), the Python reference
//! toolkit, Python's OpenTelemetry SDK and headless Chromium.
//!
//! Each comes from an environment variable when set (`.ci/run` starts the servers once and
//! exports their URLs), else from its script under `scripts/`, which installs under a file
//! lock, notices and redoes a half-install, and starts a server once. This process leases what
//! it starts (`TRACEKIT_OWNER_PID`): a watchdog stops the server a few seconds after the last
//! test binary using it has exited, however it exited, so nothing is left running. When a
//! tool cannot be had, one loud line says what was skipped and why, and the caller skips.
//!
//! Compiled into each test package with `#[path]`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// dynalite's URL: `$TRACEKIT_DYNAMODB_ENDPOINT`, else `scripts/dynamodb-local.sh start`.
pub fn dynalite() -> Option<String> {
    from_env_or_script(
        "TRACEKIT_DYNAMODB_ENDPOINT",
        "dynamodb-local.sh",
        "start",
        "the DynamoDB tests (it needs Node.js and npm)",
    )
}

/// Phoenix's URL: `$TRACEKIT_PHOENIX_URL`, else `scripts/phoenix.sh start`.
pub fn phoenix() -> Option<String> {
    from_env_or_script(
        "TRACEKIT_PHOENIX_URL",
        "phoenix.sh",
        "start",
        "the Phoenix tests (it needs CPython 3.11-3.13 and PyPI)",
    )
}

/// The Python of Phoenix's venv (it has `opentelemetry-proto`, an independent OTLP decoder).
pub fn phoenix_python() -> Option<PathBuf> {
    script(
        "phoenix.sh",
        "python",
        "the OTLP decoding checks (they need CPython 3.11-3.13 and PyPI)",
    )
    .map(PathBuf::from)
}

/// A Python with the reference toolkit: `$TRACEKIT_REFERENCE_PYTHON`, else the venv
/// `scripts/reference-python.sh` builds from CPython 3.13.
pub fn reference_python() -> Option<PathBuf> {
    from_env_or_script(
        "TRACEKIT_REFERENCE_PYTHON",
        "reference-python.sh",
        "",
        "the Python reference toolkit's interop tests (they need CPython 3.13, e.g. `pyenv install 3.13`, and PyPI)",
    )
    .map(PathBuf::from)
}

/// A Python with OpenTelemetry's SDK, its OTLP exporters (HTTP and gRPC), OpenInference's
/// OpenAI instrumentation and `openai`: `$TRACEKIT_OTEL_PYTHON`, else the venv
/// `scripts/otel-python.sh` builds.
pub fn otel_python() -> Option<PathBuf> {
    from_env_or_script(
        "TRACEKIT_OTEL_PYTHON",
        "otel-python.sh",
        "",
        "the collector's tests with Python's OpenTelemetry SDK (they need CPython 3.11-3.13 and PyPI)",
    )
    .map(PathBuf::from)
}

/// The `node_modules` directory with playwright-core, once Debian's chromium is installed:
/// `$TRACEKIT_BROWSER_MODULES`, else `scripts/browser.sh`.
pub fn browser() -> Option<PathBuf> {
    from_env_or_script(
        "TRACEKIT_BROWSER_MODULES",
        "browser.sh",
        "",
        "the viewer's browser test (it needs Debian's chromium and Node.js)",
    )
    .map(PathBuf::from)
}

/// The repository's root (this file is compiled into packages at and below it).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("scripts/lib/server.sh").exists())
        .unwrap_or(here)
        .to_path_buf()
}

/// Runs `scripts/<name> <verb>` with `envs`, leased by this process: its stdout's last line
/// (empty when it printed nothing), or `None` after a loud line. Not cached: for servers a
/// test starts and stops itself.
pub fn run_script(
    name: &str,
    verb: &str,
    envs: &[(&str, String)],
    needed_by: &str,
) -> Option<String> {
    let mut cmd = Command::new("bash");
    cmd.arg(workspace_root().join("scripts").join(name));
    if !verb.is_empty() {
        cmd.arg(verb);
    }
    cmd.env("TRACEKIT_OWNER_PID", std::process::id().to_string())
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
    match cmd.output() {
        Ok(out) if out.status.success() => Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        ),
        Ok(out) => skip(name, verb, needed_by, &String::from_utf8_lossy(&out.stderr)),
        Err(e) => skip(name, verb, needed_by, &e.to_string()),
    }
}

/// One loud line on the process's stderr: written directly, so the test harness, which
/// captures `eprintln!` of passing tests, shows it.
fn skip(name: &str, verb: &str, needed_by: &str, why: &str) -> Option<String> {
    use std::io::Write;
    let why = why.trim().lines().last().unwrap_or("no message");
    let command = format!("scripts/{name} {verb}");
    let _ = writeln!(
        std::io::stderr(),
        "!!! SKIPPED {needed_by}: `{}` failed: {why}",
        command.trim()
    );
    None
}

fn from_env_or_script(var: &str, name: &str, verb: &str, needed_by: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(given) if !given.is_empty() => Some(given),
        _ => script(name, verb, needed_by),
    }
}

/// `run_script`, once per process for each script and verb (the answer, or the skip, is kept).
fn script(name: &str, verb: &str, needed_by: &str) -> Option<String> {
    type Answers = HashMap<(String, String), Option<String>>;
    static ANSWERS: OnceLock<Mutex<Answers>> = OnceLock::new();
    let mut answers = ANSWERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    // Held while the script runs: tests of one binary asking at once wait for one answer.
    answers
        .entry((name.to_owned(), verb.to_owned()))
        .or_insert_with(|| run_script(name, verb, &[], needed_by))
        .clone()
}
