//! `tracekit serve`: the JSON API against a real SQLite store, and the viewer in a real
//! browser (Debian's headless Chromium driven by playwright-core, installed by
//! `scripts/browser.sh`; the browser test skips loudly when they cannot be installed).

#[path = "../../tests/common/servers.rs"]
mod servers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tracekit::genai::{GenAi, Usage};
use tracekit::{SpanStatus, Tracer};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A conversation with an LLM call, a failing tool and a hostile attribute.
fn store(path: &Path) {
    let tracer = Tracer::sqlite(path).unwrap();
    let genai = GenAi::new();
    // Older traces first: the conversation under test is the newest, on the first page.
    for i in 0..60 {
        drop(
            tracer
                .span(format!("filler-{i}"))
                .attribute("ai.conversation.id", format!("filler-{i}"))
                .start(),
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(2));
    {
        let turn = genai.agent_turn(&tracer, "agent", "conv-viewer").start();
        turn.add_attribute("ai.user.input", "What is the weather?");
        turn.add_attribute("ai.agent.response", "Sunny.");
        let call = genai.chat(&tracer, "openai", "gpt-4o").start();
        genai.record_usage(&call, "gpt-4o", &Usage::new(1_000, 100));
        drop(call);
        let tool = genai.execute_tool(&tracer, "search", None).start();
        tool.add_attribute(
            "note",
            "<script>alert(1)</script><img src=x onerror=alert(2)>",
        );
        tool.set_status(SpanStatus::Error);
    }
    tracer.shutdown().unwrap();
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(store: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracekit"))
        .args(["serve", store.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .trim_start_matches("tracekit viewer on http://")
        .trim_end_matches('/')
        .to_owned();
    Server { child, addr }
}

/// A raw HTTP/1.1 request; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let (status, body) = http(addr, "GET", path, addr);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn the_api_pages_filters_and_refuses_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    store(&db);
    let server = serve(&db);
    let addr = &server.addr;

    // Pages with a cursor: every trace once, newest first, one page at a time.
    let first = get_json(addr, "/api/traces?limit=25");
    assert_eq!(
        first["traces"].as_array().unwrap().len(),
        25,
        "one page, not everything"
    );
    let (mut seen, mut next) = (Vec::new(), first["next"].as_str().map(str::to_owned));
    seen.extend(first["traces"].as_array().unwrap().iter().cloned());
    while let Some(cursor) = next {
        let page = get_json(addr, &format!("/api/traces?limit=25&after={cursor}"));
        seen.extend(page["traces"].as_array().unwrap().iter().cloned());
        next = page["next"].as_str().map(str::to_owned);
    }
    let ids: std::collections::HashSet<_> = seen.iter().map(|r| r["trace_id"].clone()).collect();
    assert_eq!((seen.len(), ids.len()), (61, 61));
    assert_eq!(seen[60]["root"], "filler-0", "oldest last");
    let oldest = get_json(addr, "/api/traces?limit=1&order=oldest");
    assert_eq!(oldest["traces"][0]["root"], "filler-0");
    let capped = get_json(addr, "/api/traces?limit=100000");
    assert_eq!(capped["limit"], 500);
    assert!(capped["next"].is_null());
    let filtered = get_json(addr, "/api/traces?attr=ai.conversation.id%3Dconv-viewer");
    assert_eq!(filtered["traces"].as_array().unwrap().len(), 1);
    let row = &filtered["traces"][0];
    assert_eq!(
        (
            row["spans"].as_u64(),
            row["errors"].as_u64(),
            row["tokens"].as_u64(),
            row["llm_calls"].as_u64(),
        ),
        (Some(3), Some(1), Some(1_100), Some(1))
    );
    assert_eq!(
        get_json(addr, "/api/traces?errors=true")["traces"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let by_name = get_json(addr, "/api/traces?name=execute_tool+search");
    assert_eq!(by_name["traces"][0]["trace_id"], row["trace_id"]);

    // Conversations, by their latest turn, with totals; paged without repeats.
    let conversations = get_json(addr, "/api/conversations?limit=10");
    let top = &conversations["conversations"][0];
    assert_eq!(top["conversation_id"], "conv-viewer");
    assert_eq!(
        (
            top["turns"].as_u64(),
            top["tokens"].as_u64(),
            top["errors"].as_u64()
        ),
        (Some(1), Some(1_100), Some(1))
    );
    let (mut listed, mut next) = (Vec::new(), Some(String::new()));
    while let Some(cursor) = next {
        let page = get_json(addr, &format!("/api/conversations?limit=10&after={cursor}"));
        listed.extend(
            page["conversations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["conversation_id"].as_str().unwrap().to_owned()),
        );
        next = page["next"].as_str().map(str::to_owned);
    }
    let distinct: std::collections::HashSet<_> = listed.iter().collect();
    assert_eq!((listed.len(), distinct.len()), (61, 61));

    let trace = get_json(
        addr,
        &format!("/api/traces/{}", row["trace_id"].as_str().unwrap()),
    );
    assert_eq!(trace["spans"].as_array().unwrap().len(), 3);
    assert_eq!(trace["summary"]["llm_calls"], 1);
    // Shown with what its reference-style attributes say in the other conventions.
    let turn = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["span_name"] == "invoke_agent agent")
        .unwrap();
    assert_eq!(
        turn["attributes"]["input.value"], "What is the weather?",
        "{turn}"
    );
    assert_eq!(turn["attributes"]["output.value"], "Sunny.", "{turn}");
    let conversation = get_json(addr, "/api/conversations/conv-viewer");
    assert_eq!(conversation["spans"], trace["spans"]);
    assert_eq!(conversation["turns"].as_array().unwrap().len(), 1);
    assert_eq!(conversation["conversation"]["tokens"], 1_100);
    // JSON carries the hostile attribute as a string; the page shows it as text.
    assert!(conversation
        .to_string()
        .contains("<script>alert(1)</script>"));

    assert_eq!(http(addr, "GET", "/api/conversations/nope", addr).0, 404);
    assert_eq!(http(addr, "GET", "/api/traces?limit=x", addr).0, 400);
    assert_eq!(http(addr, "GET", "/api/traces?since=later", addr).0, 400);
    assert_eq!(http(addr, "GET", "/api/traces?after=nowhere", addr).0, 400);
    assert_eq!(http(addr, "POST", "/api/traces", addr).0, 405, "read-only");
    assert_eq!(
        http(addr, "DELETE", "/api/traces/x", addr).0,
        405,
        "read-only"
    );
    assert_eq!(
        http(addr, "GET", "/api/traces", "attacker.example").0,
        403,
        "DNS rebinding"
    );
    let (status, page) = http(addr, "GET", "/", "localhost");
    assert_eq!(status, 200);
    assert!(page.contains("<script src=\"/app.js\">"));
    for asset in ["/", "/app.js", "/app.css"] {
        let (_, text) = http(addr, "GET", asset, addr);
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{asset} fetches nothing from elsewhere"
        );
    }
    assert_eq!(http(addr, "GET", "/nothing", addr).0, 404);
}

#[test]
fn the_viewer_in_a_real_browser() {
    let Some(modules) = servers::browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    store(&db);
    let server = serve(&db);
    // The script imports playwright-core: it runs from beside node_modules.
    let script = modules.parent().unwrap().join("viewer.mjs");
    std::fs::copy(
        root().join("tracekit-cli/tests/browser/viewer.mjs"),
        &script,
    )
    .unwrap();
    let signal = dir.path().join("ready");
    let screenshot = root().join("target/viewer.png");
    let node = Command::new("node")
        .arg(&script)
        .arg(format!("http://{}/", server.addr))
        .arg(&screenshot)
        .arg(&signal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the page is up, an agent writes a new trace: it must appear without a reload.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !signal.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    {
        let agent = Tracer::sqlite(&db).unwrap();
        drop(
            agent
                .span("live-turn")
                .attribute("ai.conversation.id", "live-conversation")
                .start(),
        );
        agent.shutdown().unwrap();
    }
    let out = node.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the browser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = found["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r.as_str().unwrap().contains("conv-viewer")),
        "{rows:?}"
    );
    assert!(rows.len() <= 50, "the list pages");
    assert_eq!(found["liveSeen"], true);
    assert_eq!(found["bars"], 3, "one bar per span");
    assert_eq!(found["errorBars"], 1);
    let detail = found["detail"].as_str().unwrap();
    assert!(
        detail.contains("execute_tool search") && detail.contains("gen_ai.operation.name"),
        "{detail}"
    );
    let inherited = found["inherited"].as_array().unwrap();
    assert!(
        inherited.contains(&serde_json::json!("ai.conversation.id")),
        "{inherited:?}"
    );
    assert!(
        !inherited.contains(&serde_json::json!("gen_ai.tool.name")),
        "the span's own"
    );
    assert_eq!(
        found["scriptText"], "<script>alert(1)</script><img src=x onerror=alert(2)>",
        "shown as text"
    );
    assert_eq!(found["injected"], 0);
    assert_eq!(found["alerted"], false, "no script ran");
    assert!(found["turns"]
        .as_str()
        .unwrap()
        .contains("What is the weather?"));
    assert_eq!(
        found["errors"],
        serde_json::json!([]),
        "no errors in the page"
    );
    assert!(screenshot.exists());
}
