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

use tracekit::eval::{record_evaluation, Evaluation};
use tracekit::genai::{GenAi, Message, Role, Usage};
use tracekit::{SpanStatus, Tracer};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Sixty small traces, then a conversation of two turns: an LLM call with its prompt and a
/// tool call in the completion (OpenTelemetry's messages) and an evaluation result, a failing tool with a hostile
/// attribute, a cancelled step; the second turn is a trace of 2 000 spans.
fn store(path: &Path) {
    let tracer = Tracer::sqlite(path).unwrap();
    let genai = GenAi::new().capture_content(true);
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
        genai.record_input(
            &call,
            &[Message::new(Role::User, "What is the weather in Paris?")],
        );
        call.add_attribute(
            "gen_ai.output.messages",
            tracekit::Value::from(serde_json::json!([{
                "role": "assistant",
                "parts": [{"type": "tool_call", "id": "call-1", "name": "search",
                           "arguments": {"city": "Paris"}}],
                "finish_reason": "tool_call"
            }])),
        );
        genai.record_usage(&call, "gpt-4o", &Usage::new(1_000, 100));
        record_evaluation(
            &call,
            Evaluation::new("relevance")
                .score(0.9)
                .label("relevant")
                .explanation("on topic"),
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3));
        drop(call);
        let tool = genai.execute_tool(&tracer, "search", None).start();
        tool.add_attribute(
            "note",
            "<script>alert(1)</script><img src=x onerror=alert(2)>",
        );
        tool.add_attribute(
            "gen_ai.tool.call.result",
            tracekit::Value::from(serde_json::json!({"forecast": {"sky": "sunny", "high": 21}})),
        );
        tool.set_status(SpanStatus::Error);
        drop(tool);
        // Dropped before it finished: the span ends as cancelled.
        drop(
            tracer
                .span("slow-step")
                .instrument(std::future::pending::<()>()),
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(2));
    {
        let turn = genai.agent_turn(&tracer, "agent", "conv-viewer").start();
        turn.add_attribute("ai.user.input", "And tomorrow?");
        for i in 0..1_999 {
            drop(tracer.span(format!("step-{i}")).start());
        }
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
    serve_with(store, &[]).0
}

/// `tracekit serve STORE ARGS...`: the viewer, and the lines printed before its own.
fn serve_with(store: &Path, args: &[&str]) -> (Server, Vec<String>) {
    let child = Command::new(env!("CARGO_BIN_EXE_tracekit"))
        .args(["serve", store.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server {
        child,
        addr: String::new(),
    };
    let mut out = BufReader::new(server.child.stdout.take().unwrap());
    let mut before = Vec::new();
    loop {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        match line.trim().strip_prefix("tracekit viewer on http://") {
            Some(addr) => {
                server.addr = addr.trim_end_matches('/').to_owned();
                return (server, before);
            }
            None if line.is_empty() => panic!("tracekit serve ended early"),
            None => before.push(line.trim().to_owned()),
        }
    }
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
    assert_eq!((seen.len(), ids.len()), (62, 62));
    assert_eq!(seen[61]["root"], "filler-0", "oldest last");
    let oldest = get_json(addr, "/api/traces?limit=1&order=oldest");
    assert_eq!(oldest["traces"][0]["root"], "filler-0");
    let capped = get_json(addr, "/api/traces?limit=100000");
    assert_eq!(capped["limit"], 500);
    assert!(capped["next"].is_null());
    let filtered = get_json(addr, "/api/traces?attr=ai.conversation.id%3Dconv-viewer");
    assert_eq!(filtered["traces"].as_array().unwrap().len(), 2);
    assert_eq!(filtered["traces"][0]["spans"], 2_000, "newest first");
    let row = &filtered["traces"][1];
    assert_eq!(
        (
            row["spans"].as_u64(),
            row["errors"].as_u64(),
            row["tokens"].as_u64(),
            row["llm_calls"].as_u64(),
        ),
        (Some(5), Some(1), Some(1_100), Some(1))
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
        (Some(2), Some(1_100), Some(1))
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
    assert_eq!(trace["spans"].as_array().unwrap().len(), 5);
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
    assert_eq!(conversation["spans"].as_array().unwrap().len(), 2_005);
    assert_eq!(conversation["turns"].as_array().unwrap().len(), 2);
    assert_eq!(
        conversation["turns"][0]["trace_id"], row["trace_id"],
        "oldest first"
    );
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
    assert!(page.contains("<script type=\"module\" src=\"/js/app.js\">"));
    for asset in [
        "/",
        "/app.css",
        "/js/app.js",
        "/js/trace.js",
        "/js/messages.js",
        "/js/json.js",
        "/js/dom.js",
    ] {
        let (status, text) = http(addr, "GET", asset, addr);
        assert_eq!(status, 200, "{asset}");
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
    // Collecting too: the live trace below comes over OTLP, as another process sends it.
    let (server, receivers) = serve_with(&db, &["--otlp", "127.0.0.1:0"]);
    let otlp = receivers[0]
        .trim_start_matches("tracekit OTLP/HTTP receiver on http://")
        .trim_end_matches("/v1/traces")
        .to_owned();
    // The script imports playwright-core: it runs from beside node_modules.
    let script = modules.parent().unwrap().join("viewer.mjs");
    std::fs::copy(
        root().join("tracekit-cli/tests/browser/viewer.mjs"),
        &script,
    )
    .unwrap();
    let signal = dir.path().join("ready");
    // Screenshots for people (the README's are copies of these).
    let shots = root().join("target");
    let node = Command::new("node")
        .arg(&script)
        .arg(format!("http://{}/", server.addr))
        .arg(&shots)
        .arg(&signal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the page is up, another process sends a trace over OTLP (as JSON, as a Python
    // service would): it must appear without a reload, and the header counts it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !signal.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let body = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "live-turn", "kind": 2,
            "startTimeUnixNano": now.to_string(), "endTimeUnixNano": (now + 1_000_000).to_string(),
            "attributes": [{"key": "session.id", "value": {"stringValue": "live-conversation"}}],
        }]}]}]})
        .to_string();
        let mut stream = TcpStream::connect(&otlp).unwrap();
        write!(
            stream,
            "POST /v1/traces HTTP/1.1\r\nHost: {otlp}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let out = node.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the browser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let texts = |key: &str| -> Vec<String> {
        found[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {found}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    eprintln!("the 2 000-span trace drew in {} ms", found["bigRenderMs"]);

    // The list: a page of 50, newest first, live; the next page by cursor; sorting.
    let rows = texts("rows");
    assert_eq!(rows.len(), 50, "the list pages");
    assert!(
        rows[0].contains("conv-viewer") && rows[0].contains("2000"),
        "{rows:?}"
    );
    assert_eq!(found["liveSeen"], true);
    assert_eq!(found["collector"], "OTLP in: 1 span", "{found}");
    let second = texts("secondPage");
    assert!(found["secondHash"].as_str().unwrap().contains("after="));
    let first = texts("firstPage");
    assert_eq!(second.len(), 13, "62 traces and the live one: 50, then 13");
    assert!(second.iter().all(|r| !first.contains(r)), "a new page");
    assert!(
        found["sortedFirst"].as_str().unwrap().contains("1100"),
        "{found}"
    );
    assert!(found["sortedClass"]
        .as_str()
        .unwrap()
        .contains("sorted-desc"));

    // The waterfall: a bar per span, each labelled; axis ticks in time units; marks; colours.
    assert_eq!(found["bars"], 5);
    assert_eq!(found["errorBars"], 1);
    assert_eq!(found["cancelledBars"], 1);
    let labels = texts("labels");
    assert_eq!(labels.len(), 5);
    assert!(
        labels.iter().all(|l| ["ns", "µs", "ms", " s"]
            .iter()
            .any(|unit| l.ends_with(unit))
            || l.contains(" · ")
            || l == "relevance = 0.9 relevant"),
        "{labels:?}"
    );
    assert!(
        labels
            .iter()
            .any(|l| l.contains("1100 tok") && l.contains('$')),
        "tokens and cost on the LLM bar: {labels:?}"
    );
    let ticks = texts("ticks");
    assert!(
        ticks.len() >= 3
            && ticks[1..].iter().all(|t| ["ns", "µs", "ms", " s"]
                .iter()
                .any(|unit| t.ends_with(unit))),
        "{ticks:?}"
    );
    assert!(
        found["colours"].as_u64().unwrap() >= 3,
        "LLM, tool and agent bars differ"
    );
    assert_eq!(found["foldedRows"], 1);
    assert_eq!(found["hiddenCount"], "+4");

    // Keyboard, deep links, the span's conversation.
    assert_eq!(found["selectedByKeys"], "chat gpt-4o");
    assert!(found["spanInUrl"].as_str().unwrap().contains("/span/"));
    assert!(found["userMessage"]
        .as_str()
        .unwrap()
        .contains("What is the weather in Paris?"));
    assert_eq!(found["toolCall"], "search");
    assert_eq!(
        found["evaluations"], "relevance0.9 relevanton topic",
        "the LLM call's evaluation, next to it"
    );
    assert!(
        found["llmChips"].as_str().unwrap().contains("1000 in"),
        "{found}"
    );
    assert_eq!(found["deepLinked"], "execute_tool search");
    assert_eq!(found["escapedTo"], "#/");

    // The tool span: inherited keys marked, JSON foldable, hostile text shown as text.
    let detail = found["detail"].as_str().unwrap();
    assert!(detail.contains("gen_ai.operation.name"), "{detail}");
    let inherited = texts("inherited");
    assert!(
        inherited.contains(&"ai.conversation.id".to_owned()),
        "{inherited:?}"
    );
    assert!(
        !inherited.contains(&"gen_ai.tool.name".to_owned()),
        "the span's own"
    );
    assert!(
        texts("foldable").iter().any(|t| t.contains("sunny")),
        "{found}"
    );
    assert_eq!(
        found["scriptText"], "<script>alert(1)</script><img src=x onerror=alert(2)>",
        "shown as text"
    );
    assert_eq!(found["injected"], 0);
    assert_eq!(found["alerted"], false, "no script ran");

    // Conversations: totals per conversation, turns with what the agent did.
    let conversations = texts("conversations");
    assert!(
        conversations[0].contains("live-conversation"),
        "{conversations:?}"
    );
    assert_eq!(conversations.len(), 30, "a page of conversations");
    let conv = conversations
        .iter()
        .find(|c| c.contains("conv-viewer"))
        .unwrap();
    assert!(conv.contains("1100") && conv.contains('$'), "{conv}");
    let turns = texts("turns");
    assert_eq!(turns.len(), 2);
    for expected in [
        "What is the weather?",
        "LLM gpt-4o",
        "tool search",
        "✗ failed",
        "Sunny.",
    ] {
        assert!(turns[0].contains(expected), "{expected}: {}", turns[0]);
    }
    assert!(turns[1].contains("And tomorrow?"));

    // A trace of 2 000 spans: drawn, zoomed on the minimap, reset.
    assert!(found["bigRenderMs"].as_u64().unwrap() < 20_000);
    assert_eq!(found["zoomChangedAxis"], true);
    assert_eq!(found["zoomWindowShown"], true);
    assert_eq!(found["zoomReset"], true);

    assert_eq!(found["darkBackground"], "rgb(13, 17, 23)", "dark theme");
    assert_eq!(
        found["errors"],
        serde_json::json!([]),
        "no errors in the page"
    );
    for shot in [
        "list",
        "trace",
        "conversations",
        "conversation",
        "trace-dark",
    ] {
        assert!(shots.join(format!("viewer-{shot}.png")).exists(), "{shot}");
    }
}
