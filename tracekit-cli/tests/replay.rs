//! `tracekit replay` and `tracekit export --format cassette`, with the Python `openai`
//! package as the client (wire compatibility, plain and streamed): recorded through the
//! command in front of a scripted provider, exported as a cassette, then replayed from the
//! cassette and from the store with the provider stopped; a changed prompt gets the 404 that
//! names it. The Python client comes from `scripts/otel-python.sh`; without it the test skips
//! with one loud line.

#[path = "../../tests/common/servers.rs"]
mod servers;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ChildStdout;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::{json, Value};
use tracekit::{TraceFilter, Tracer};

/// A child process stopped when dropped, and its standard output (kept open).
struct Service(Child, Option<BufReader<ChildStdout>>);

impl Service {
    /// Stops it as Ctrl-C or a service manager would (SIGTERM), so it writes its store.
    fn terminate(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tracekit replay ARGS --addr 127.0.0.1:0`, and the base URL its first line says.
fn replay_command(args: &[&str]) -> (Service, String) {
    let mut child = Service(
        Command::new(env!("CARGO_BIN_EXE_tracekit"))
            .arg("replay")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
        None,
    );
    let mut line = String::new();
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    child.1 = Some(stdout);
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "first line: {line:?}");
    (child, url)
}

fn tracekit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracekit"))
        .args(args)
        .output()
        .unwrap()
}

/// A scripted OpenAI-compatible provider: the answer names the prompt; streamed (with
/// `"stream": true`) in four events and `[DONE]`.
struct Provider {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Provider {
    fn start() -> Provider {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let thread = std::thread::spawn({
            let server = server.clone();
            move || {
                for mut request in server.incoming_requests() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let prompt = body["messages"][0]["content"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned();
                    let answer = format!("Sunny, as you asked: {prompt}");
                    let usage =
                        json!({"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19});
                    let (text, content_type) = if body["stream"] == true {
                        let chunk = |delta: Value, finish: Value, usage: Value| {
                            format!(
                                "data: {}\n\n",
                                json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1_700_000_000,
                                       "model": "gpt-4o", "choices": if usage.is_null() { json!([{"index": 0, "delta": delta, "finish_reason": finish}]) } else { json!([]) },
                                       "usage": usage})
                            )
                        };
                        let (a, b) = answer.split_at(answer.len() / 2);
                        let events = [
                            chunk(
                                json!({"role": "assistant", "content": ""}),
                                Value::Null,
                                Value::Null,
                            ),
                            chunk(json!({"content": a}), Value::Null, Value::Null),
                            chunk(json!({"content": b}), Value::Null, Value::Null),
                            chunk(json!({}), json!("stop"), Value::Null),
                            chunk(Value::Null, Value::Null, usage),
                            "data: [DONE]\n\n".to_owned(),
                        ];
                        (events.concat(), "text/event-stream")
                    } else {
                        let reply = json!({
                            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o",
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                            "usage": usage,
                        });
                        (reply.to_string(), "application/json")
                    };
                    let header = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        content_type.as_bytes(),
                    )
                    .unwrap();
                    let _ =
                        request.respond(tiny_http::Response::from_string(text).with_header(header));
                }
            }
        });
        Provider {
            server,
            thread: Some(thread),
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.server.server_addr().to_ip().unwrap())
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replay/openai_client.py")
}

/// What the `openai` package received from `base` (`/v1` added) for `prompt`.
fn openai(python: &Path, base: &str, prompt: &str, context: Option<(&str, &str)>) -> (bool, Value) {
    let mut command = Command::new(python);
    command.arg(script()).arg(format!("{base}/v1")).arg(prompt);
    if let Some((traceparent, baggage)) = context {
        command.args([traceparent, baggage]);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the openai client printed {stdout:?}; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), value)
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[test]
fn the_openai_client_is_recorded_then_replayed_offline_from_a_cassette_and_from_the_store() {
    let Some(python) = servers::otel_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let db_arg = db.to_str().unwrap();
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let context = Some((traceparent.as_str(), "ai.conversation.id=conv-py"));

    // Record through the command, in front of the provider.
    let recorded = {
        let provider = Provider::start();
        let (recorder, url) =
            replay_command(&[db_arg, "--record", "--upstream", &provider.origin()]);
        let (ok, recorded) = openai(&python, &url, "Weather in Amsterdam?", context);
        assert!(ok, "{recorded}");
        recorder.terminate();
        recorded
    };
    assert_eq!(
        recorded["plain"],
        "Sunny, as you asked: Weather in Amsterdam?"
    );
    assert_eq!(
        recorded["stream"].as_array().unwrap().concat_strings(),
        "Sunny, as you asked: Weather in Amsterdam?"
    );
    assert_eq!(recorded["stream_usage"]["total_tokens"], 19);

    // The exchanges are spans under the client's span, in its conversation (W3C context).
    let store = Tracer::sqlite(tracekit::SqliteConfig::new(&db).read_only()).unwrap();
    let spans = store
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", "conv-py"))
        .unwrap();
    assert_eq!(spans.len(), 2, "{}", tracekit::render::tree(&spans));
    for span in &spans {
        assert_eq!(span.trace_id.to_string(), TRACE);
        assert_eq!(
            span.parent_span_id.map(|p| p.to_string()).as_deref(),
            Some(PARENT)
        );
        assert_eq!(span.span_name, "POST /v1/chat/completions");
    }

    // Exported as a cassette: stable, and no key anywhere.
    let file = dir.path().join("conv-py.cassette.json");
    let export = |to: &Path| {
        let out = tracekit(&[
            "export",
            db_arg,
            "conv-py",
            "--format",
            "cassette",
            "-o",
            to.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(to).unwrap()
    };
    let text = export(&file);
    assert_eq!(
        export(&dir.path().join("again.json")),
        text,
        "two exports, the same bytes"
    );
    assert!(!text.contains("0123456789abcdefghij"), "{text}");
    assert!(
        !text.contains(TRACE) && !text.contains(PARENT),
        "no ids: {text}"
    );
    assert!(
        text.contains("\"chunks\""),
        "the stream event by event: {text}"
    );

    // Replayed from the cassette, the provider gone: the client receives the same.
    let (server, url) = replay_command(&["--cassette", file.to_str().unwrap()]);
    let (ok, replayed) = openai(&python, &url, "Weather in Amsterdam?", None);
    assert!(ok, "{replayed}");
    assert_eq!(replayed, recorded);

    // A changed prompt: the client raises on the 404, which names the request and shows
    // the diff against the nearest recording.
    let (ok, diverged) = openai(&python, &url, "Weather in Paris?", None);
    assert!(!ok);
    assert_eq!(diverged["status"], 404);
    let message = diverged["message"].as_str().unwrap();
    assert!(message.contains("replay diverged at request"), "{message}");
    assert!(message.contains("POST /v1/chat/completions"), "{message}");
    assert!(message.contains("Paris"), "{message}");
    drop(server);

    // And from the store by conversation.
    let (_server, url) = replay_command(&[db_arg, "conv-py"]);
    let (ok, replayed) = openai(&python, &url, "Weather in Amsterdam?", None);
    assert!(ok, "{replayed}");
    assert_eq!(replayed, recorded);
}

trait Concat {
    fn concat_strings(&self) -> String;
}

impl Concat for Vec<Value> {
    fn concat_strings(&self) -> String {
        self.iter().filter_map(Value::as_str).collect()
    }
}

#[test]
fn bad_invocations_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let db_arg = db.to_str().unwrap();
    for (args, expected) in [
        (vec!["replay"], "replay what?"),
        (
            vec!["replay", db_arg, "--record"],
            "--record needs --upstream",
        ),
        (
            vec!["replay", "--record", "--upstream", "http://x"],
            "needs a STORE",
        ),
        (
            vec!["replay", db_arg, "--record", "--upstream", "api.openai.com"],
            "e.g. https://api.openai.com",
        ),
        (
            vec!["replay", "--cassette", "/nonexistent.json"],
            "/nonexistent.json",
        ),
        (vec!["replay", db_arg, "conv-none"], "no store at"),
        (
            vec!["replay", db_arg, "--cassette", "c.json"],
            "add --upstream URL",
        ),
        (
            vec!["replay", "--cassette", "c.json", "--conversation", "c"],
            "give it with --record",
        ),
        (
            vec!["export", db_arg, "--format", "cassette"],
            "no store at",
        ),
    ] {
        let out = tracekit(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // A store without that conversation, and one without recordings.
    let tracer = Tracer::sqlite(&db).unwrap();
    drop(
        tracer
            .span("turn")
            .inheritable_attribute("ai.conversation.id", "conv-plain")
            .start(),
    );
    tracer.shutdown().unwrap();
    for (args, expected) in [
        (
            vec!["replay", db_arg, "conv-none"],
            "no conversation or trace \"conv-none\"",
        ),
        (vec!["replay", db_arg, "conv-plain"], "nothing to replay"),
        (
            vec!["export", db_arg, "--format", "cassette"],
            "holds one conversation",
        ),
        (
            vec!["export", db_arg, "conv-none", "--format", "cassette"],
            "no trace or conversation",
        ),
    ] {
        let out = tracekit(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
