//! `tracekit::mcp` with real processes: the weather server of `examples/mcp_server.rs` (built
//! as this package's `mcp_server`) started by a traced rmcp client over stdio and over
//! streamable HTTP, the official Python SDK (`mcp` 2.x) on either side of a Rust peer, and
//! in-process servers for what needs exact bytes on the wire (no `_meta`, malformed context)
//! or timing (cancellation).

#[path = "../tests/common/servers.rs"]
mod servers;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tracekit::genai::GenAi;
use tracekit::mcp::{Client, Endpoint, Server};
use tracekit::{traced, SpanKind, SpanStatus, Trace, TraceFilter, Tracer, Value};

const SERVER: &str = env!("CARGO_BIN_EXE_mcp_server");

fn arguments(name: &str, value: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    map.insert(name.to_owned(), value.into());
    map
}

fn attr<'a>(span: &'a Trace, key: &str) -> Option<&'a Value> {
    span.attributes.get(key)
}

fn text(span: &Trace, key: &str) -> Option<String> {
    attr(span, key).and_then(Value::as_str).map(str::to_owned)
}

/// The one span named `name` of `kind`.
fn one<'a>(spans: &'a [Trace], name: &str, kind: SpanKind) -> &'a Trace {
    let found: Vec<&Trace> = spans
        .iter()
        .filter(|s| s.span_name == name && s.span_kind == kind)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind:?} span {name:?} in {:#?}",
        names(spans)
    );
    found[0]
}

fn names(spans: &[Trace]) -> Vec<String> {
    spans
        .iter()
        .map(|s| {
            format!(
                "{} {:?} {} <- {:?}",
                s.span_name, s.span_kind, s.span_id, s.parent_span_id
            )
        })
        .collect()
}

/// Every span is in one trace and every parent is among the spans: nothing orphaned.
fn assert_one_tree(spans: &[Trace]) {
    let traces: HashSet<_> = spans.iter().map(|s| s.trace_id).collect();
    assert_eq!(traces.len(), 1, "one trace: {:#?}", names(spans));
    let ids: HashSet<_> = spans.iter().map(|s| s.span_id).collect();
    let roots = spans.iter().filter(|s| s.parent_span_id.is_none()).count();
    assert_eq!(roots, 1, "one root: {:#?}", names(spans));
    for span in spans {
        if let Some(parent) = span.parent_span_id {
            assert!(
                ids.contains(&parent),
                "{} is orphaned: {:#?}",
                span.span_name,
                names(spans)
            );
        }
    }
}

/// An agent whose turn is a `#[traced]` span with the conversation id.
struct Agent {
    tracer: Tracer,
    tools: Client,
}

impl Agent {
    #[traced("agent-turn")]
    async fn turn(&self, conversation: &str) -> Result<(), rmcp::ServiceError> {
        self.tracer
            .current_trace()
            .add_inheritable_attribute("ai.conversation.id", conversation);
        let ok = self
            .tools
            .call_tool(
                CallToolRequestParams::new("get_weather")
                    .with_arguments(arguments("city", "Lisbon")),
            )
            .await?;
        assert_ne!(ok.is_error, Some(true), "{ok:?}");
        let failed = self
            .tools
            .call_tool(
                CallToolRequestParams::new("get_alerts")
                    .with_arguments(arguments("region", "Portugal")),
            )
            .await?;
        assert_eq!(failed.is_error, Some(true));
        let prompt = self
            .tools
            .get_prompt(
                GetPromptRequestParams::new("weather_report")
                    .with_arguments(arguments("city", "Lisbon")),
            )
            .await?;
        assert_eq!(prompt.messages.len(), 1);
        Ok(())
    }
}

/// The checks both transports share, on everything the store holds for `conversation`.
fn assert_joined(store: &Path, conversation: &str, transport: &str) -> Vec<Trace> {
    let spans = Tracer::sqlite(store)
        .unwrap()
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", conversation))
        .unwrap();
    assert_one_tree(&spans);
    let turn = one(&spans, "agent-turn", SpanKind::Internal);
    let call = one(&spans, "tools/call get_weather", SpanKind::Client);
    let served = one(&spans, "tools/call get_weather", SpanKind::Server);
    let lookup = one(&spans, "forecast-lookup", SpanKind::Internal);
    assert_eq!(call.parent_span_id, Some(turn.span_id));
    assert_eq!(served.parent_span_id, Some(call.span_id));
    assert_eq!(lookup.parent_span_id, Some(served.span_id));
    for span in [call, served] {
        assert_eq!(text(span, "mcp.method.name").as_deref(), Some("tools/call"));
        assert_eq!(
            text(span, "gen_ai.operation.name").as_deref(),
            Some("execute_tool")
        );
        assert_eq!(
            text(span, "gen_ai.tool.name").as_deref(),
            Some("get_weather")
        );
        assert_eq!(text(span, "network.transport").as_deref(), Some(transport));
        assert!(text(span, "jsonrpc.request.id").is_some());
        assert!(text(span, "mcp.protocol.version").is_some(), "{span:#?}");
    }
    for kind in [SpanKind::Client, SpanKind::Server] {
        let failed = one(&spans, "tools/call get_alerts", kind);
        assert_eq!(failed.span_status, SpanStatus::Error);
        assert_eq!(text(failed, "error.type").as_deref(), Some("tool_error"));
        let prompt = one(&spans, "prompts/get weather_report", kind);
        assert_eq!(
            text(prompt, "gen_ai.prompt.name").as_deref(),
            Some("weather_report")
        );
    }
    let services: HashSet<_> = spans
        .iter()
        .filter_map(|s| s.resource_attributes.get("service.name"))
        .map(|v| v.to_string())
        .collect();
    assert_eq!(services.len(), 2, "spans from both processes: {services:?}");
    spans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_agent_through_a_stdio_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("traces.db");
    let tracer = Tracer::sqlite(&store).unwrap();
    tracer.set_resource_attribute("service.name", "test-agent");
    let mut command = tokio::process::Command::new(SERVER);
    command.current_dir(dir.path());
    let tools = Client::serve(&tracer, (), TokioChildProcess::new(command).unwrap())
        .await
        .unwrap();
    let agent = Agent {
        tracer: tracer.clone(),
        tools,
    };
    agent.turn("conv-stdio").await.unwrap();
    // Closing waits for the server to exit, which writes its spans as it goes.
    agent.tools.cancel().await.unwrap();
    tracer.shutdown().unwrap();
    let spans = assert_joined(&store, "conv-stdio", "pipe");
    assert!(
        spans
            .iter()
            .all(|s| text(s, "ai.conversation.id").as_deref() == Some("conv-stdio")),
        "the conversation id on every span, the server's included"
    );
    // `initialize` is traced too (its own trace: no span was current when it was sent).
    let all = Tracer::sqlite(&store)
        .unwrap()
        .get_traces(&TraceFilter::new())
        .unwrap();
    let initialize = one(&all, "initialize", SpanKind::Client);
    let served = one(&all, "initialize", SpanKind::Server);
    assert_eq!(served.parent_span_id, Some(initialize.span_id));
}

/// The server on streamable HTTP: a child process printing its URL, stopped by closing its
/// stdin.
struct HttpServer {
    child: tokio::process::Child,
    url: String,
}

impl HttpServer {
    async fn start(dir: &Path) -> HttpServer {
        let mut child = tokio::process::Command::new(SERVER)
            .args(["--http", "127.0.0.1:0"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .next_line()
            .await
            .unwrap()
            .expect("the server prints its URL");
        HttpServer { child, url }
    }

    async fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server exits when its stdin closes")
            .unwrap();
        assert!(status.success());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_agent_through_a_streamable_http_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("traces.db");
    let server = HttpServer::start(dir.path()).await;
    let tracer = Tracer::sqlite(&store).unwrap();
    tracer.set_resource_attribute("service.name", "test-agent");
    let tools = Client::builder(&tracer)
        .endpoint(Endpoint::Http(server.url.clone()))
        .serve(
            (),
            StreamableHttpClientTransport::from_uri(server.url.as_str()),
        )
        .await
        .unwrap();
    let agent = Agent {
        tracer: tracer.clone(),
        tools,
    };
    agent.turn("conv-http").await.unwrap();
    agent.tools.cancel().await.unwrap();
    server.stop().await;
    tracer.shutdown().unwrap();
    let spans = assert_joined(&store, "conv-http", "tcp");
    let port = server_port(&spans);
    let call = one(&spans, "tools/call get_weather", SpanKind::Client);
    assert_eq!(text(call, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(attr(call, "server.port"), Some(&Value::from(port)));
    let served = one(&spans, "tools/call get_weather", SpanKind::Server);
    assert!(
        text(served, "mcp.session.id").is_some_and(|s| !s.is_empty()),
        "{served:#?}"
    );
}

fn server_port(spans: &[Trace]) -> i64 {
    let served = one(spans, "tools/call get_weather", SpanKind::Server);
    attr(served, "server.port")
        .and_then(Value::as_i64)
        .expect("the Host header's port")
}

/// The Python SDK's spans, as `mcp-tests/python/spans.py` writes them.
fn python_spans(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| l.contains("\"span_id\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn python_span<'a>(spans: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no Python span {name:?} in {spans:#?}"))
}

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_as_client_finds_its_call_span_as_the_parent_of_the_rust_server_span() {
    let Some(python) = servers::otel_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(python)
        .arg(script("mcp_client.py"))
        .arg(SERVER)
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = python_spans(&stdout);
    let spans = Tracer::sqlite(dir.path().join("traces.db"))
        .unwrap()
        .get_traces(&TraceFilter::new())
        .unwrap();
    for tool in ["get_weather", "get_alerts"] {
        let call = python_span(&python, &format!("MCP send tools/call {tool}"));
        let served = one(&spans, &format!("tools/call {tool}"), SpanKind::Server);
        assert_eq!(
            served.trace_id.to_string(),
            call["trace_id"],
            "one trace across the languages"
        );
        assert_eq!(
            served.parent_span_id.map(|p| p.to_string()),
            call["span_id"].as_str().map(str::to_owned)
        );
        assert_eq!(
            text(served, "ai.conversation.id").as_deref(),
            Some("py-conversation"),
            "baggage restored"
        );
    }
    let lookup = one(&spans, "forecast-lookup", SpanKind::Internal);
    let served = one(&spans, "tools/call get_weather", SpanKind::Server);
    assert_eq!(lookup.parent_span_id, Some(served.span_id));
    assert_eq!(
        text(lookup, "ai.conversation.id").as_deref(),
        Some("py-conversation")
    );
    assert_eq!(
        one(&spans, "tools/call get_alerts", SpanKind::Server).span_status,
        SpanStatus::Error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_client_is_the_parent_of_the_python_sdk_server_span() {
    let Some(python) = servers::otel_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spans_file = dir.path().join("spans.jsonl");
    let tracer = Tracer::in_memory(100);
    let mut command = tokio::process::Command::new(python);
    command
        .arg(script("mcp_server.py"))
        .env("SPANS_FILE", &spans_file);
    let tools = Client::serve(&tracer, (), TokioChildProcess::new(command).unwrap())
        .await
        .unwrap();
    let weather = tracer
        .span("rust-agent-turn")
        .inheritable_attribute("ai.conversation.id", "rust-conversation")
        .instrument(tools.call_tool(
            CallToolRequestParams::new("get_weather").with_arguments(arguments("city", "Lisbon")),
        ))
        .await
        .unwrap();
    assert_ne!(weather.is_error, Some(true), "{weather:?}");
    let answer = weather.content[0].as_text().map(|t| t.text.as_str());
    assert_eq!(answer, Some("Lisbon: sunny, 19 °C"));
    tools.cancel().await.unwrap();
    let rust = tracer.get_traces(&TraceFilter::new()).unwrap();
    let turn = one(&rust, "rust-agent-turn", SpanKind::Internal);
    let call = one(&rust, "tools/call get_weather", SpanKind::Client);
    assert_eq!(call.parent_span_id, Some(turn.span_id));
    let python = python_spans(&std::fs::read_to_string(&spans_file).unwrap());
    let served = python
        .iter()
        .find(|s| s["kind"] == "SERVER" && s["name"] == "tools/call get_weather")
        .unwrap_or_else(|| panic!("the Python server's span: {python:#?}"));
    assert_eq!(served["trace_id"], call.trace_id.to_string());
    assert_eq!(served["parent_span_id"], call.span_id.to_string());
    let lookup = python_span(&python, "python-forecast-lookup");
    assert_eq!(lookup["parent_span_id"], served["span_id"]);
}

/// A server for the in-process tests: `echo` (with a `#[traced]` step), and `wait`, which
/// returns when its request is cancelled.
#[derive(Clone)]
struct Echo {
    tracer: Tracer,
}

impl Echo {
    #[traced("echo-step")]
    fn step(&self, text: &str) -> String {
        text.to_uppercase()
    }
}

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = serde_json::json!({"type": "object"})
            .as_object()
            .cloned()
            .unwrap();
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new("echo", "echo", schema.clone()),
            Tool::new("wait", "wait", schema),
        ]))
    }

    async fn call_tool(
        &self,
        params: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        match params.name.as_ref() {
            "echo" => {
                let text = params
                    .arguments
                    .as_ref()
                    .and_then(|a| a.get("text"))
                    .and_then(|t| t.as_str())
                    .unwrap_or_default();
                Ok(CallToolResult::success(vec![ContentBlock::text(self.step(text))]).into())
            }
            "wait" => {
                context.ct.cancelled().await;
                Ok(CallToolResult::success(vec![]).into())
            }
            "progress" => {
                let token = context
                    .meta
                    .get_progress_token()
                    .expect("rmcp sends a token");
                let mut progress = ProgressNotificationParam::new(token, 0.5);
                progress.message = Some("halfway".into());
                context.peer.notify_progress(progress).await.unwrap();
                Ok(CallToolResult::success(vec![]).into())
            }
            other => Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        }
    }
}

/// An rmcp server on one end of an in-memory pipe, traced to `tracer`; the other end.
fn serve_in_process(tracer: &Tracer, genai: GenAi) -> tokio::io::DuplexStream {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let server = Server::builder(tracer).genai(genai).wrap(Echo {
        tracer: tracer.clone(),
    });
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    client_end
}

/// JSON-RPC lines written straight to an in-process server, for `_meta` no client would send.
async fn raw_session(tracer: &Tracer, call_meta: serde_json::Value) -> serde_json::Value {
    let stream = serve_in_process(tracer, GenAi::new());
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read).lines();
    let mut send = async |message: serde_json::Value| {
        write
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    };
    send(
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}}),
    )
    .await;
    let _initialized = lines.next_line().await.unwrap();
    send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    send(
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"text": "hi"}, "_meta": call_meta}}),
    )
    .await;
    let answer = lines.next_line().await.unwrap().unwrap();
    serde_json::from_str(&answer).unwrap()
}

async fn served_call(tracer: &Tracer) -> (Trace, Trace) {
    // The server's span ends as the answer is written; give the in-memory store a moment.
    for _ in 0..100 {
        let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
        if spans.iter().any(|s| s.span_name == "echo-step")
            && spans.iter().any(|s| s.span_name == "tools/call echo")
        {
            return (
                one(&spans, "tools/call echo", SpanKind::Server).clone(),
                one(&spans, "echo-step", SpanKind::Internal).clone(),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "no server span: {:#?}",
        names(&tracer.get_traces(&TraceFilter::new()).unwrap())
    );
}

#[tokio::test]
async fn a_request_without_meta_starts_a_trace_of_its_own() {
    let tracer = Tracer::in_memory(100);
    let answer = raw_session(&tracer, serde_json::json!({})).await;
    assert_eq!(answer["result"]["content"][0]["text"], "HI", "{answer}");
    let (served, step) = served_call(&tracer).await;
    assert_eq!(served.parent_span_id, None);
    assert_eq!(step.parent_span_id, Some(served.span_id));
    assert_eq!(step.trace_id, served.trace_id);
}

#[tokio::test]
async fn malformed_context_in_meta_is_ignored_never_an_error() {
    for meta in [
        serde_json::json!({"traceparent": "not-a-traceparent", "baggage": "ai.conversation.id=c1"}),
        serde_json::json!({"traceparent": "00-00000000000000000000000000000000-0000000000000000-01"}),
        serde_json::json!({"traceparent": 42, "baggage": ["x"]}),
        serde_json::json!({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                           "baggage": "%%%,=,ai.conversation.id=ok,;;"}),
    ] {
        let tracer = Tracer::in_memory(100);
        let answer = raw_session(&tracer, meta.clone()).await;
        assert_eq!(
            answer["result"]["content"][0]["text"], "HI",
            "{meta}: {answer}"
        );
        let (served, _) = served_call(&tracer).await;
        let valid = meta["traceparent"]
            .as_str()
            .is_some_and(|t| t.starts_with("00-0af7"));
        if valid {
            assert_eq!(
                served.parent_span_id.map(|p| p.to_string()).as_deref(),
                Some("b7ad6b7169203331")
            );
            assert_eq!(
                text(&served, "ai.conversation.id").as_deref(),
                Some("ok"),
                "the valid baggage entry"
            );
        } else {
            assert_eq!(served.parent_span_id, None, "{meta}: a trace of its own");
            assert_eq!(
                text(&served, "ai.conversation.id"),
                None,
                "{meta}: baggage without a valid traceparent is dropped"
            );
        }
    }
}

#[tokio::test]
async fn a_traceparent_the_caller_set_is_kept() {
    let tracer = Tracer::in_memory(100);
    let tools = Client::serve(&tracer, (), serve_in_process(&tracer, GenAi::new()))
        .await
        .unwrap();
    let mut meta = rmcp::model::RequestMetaObject::new();
    meta.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let mut params = CallToolRequestParams::new("echo").with_arguments(arguments("text", "x"));
    params.meta = Some(meta);
    tracer
        .span("turn")
        .instrument(tools.call_tool(params))
        .await
        .unwrap();
    let (served, _) = served_call(&tracer).await;
    assert_eq!(
        served.trace_id.to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(
        served.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some("b7ad6b7169203331")
    );
    tools.cancel().await.unwrap();
}

#[tokio::test]
async fn a_tool_span_of_the_agent_s_own_gets_the_mcp_attributes_instead_of_a_second_span() {
    let tracer = Tracer::in_memory(100);
    let genai = GenAi::new().capture_content(true);
    let tools = Client::builder(&tracer)
        .genai(genai.clone())
        .serve((), serve_in_process(&tracer, genai.clone()))
        .await
        .unwrap();
    genai
        .execute_tool(&tracer, "echo", Some("call-1"))
        .instrument(
            tools.call_tool(
                CallToolRequestParams::new("echo").with_arguments(arguments("text", "hi")),
            ),
        )
        .await
        .unwrap();
    let (served, _) = served_call(&tracer).await;
    tools.cancel().await.unwrap();
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    assert!(
        !spans
            .iter()
            .any(|s| s.span_kind == SpanKind::Client && s.span_name.starts_with("tools/call")),
        "no second span: {:#?}",
        names(&spans)
    );
    let own = one(&spans, "execute_tool echo", SpanKind::Internal);
    assert_eq!(text(own, "mcp.method.name").as_deref(), Some("tools/call"));
    assert!(text(own, "jsonrpc.request.id").is_some());
    assert_eq!(served.parent_span_id, Some(own.span_id));
    // Content capture on: the arguments and the result, on the server's span.
    assert!(
        text(&served, "gen_ai.tool.call.arguments").is_some()
            || attr(&served, "gen_ai.tool.call.arguments").is_some(),
        "{served:#?}"
    );
    assert!(
        attr(&served, "gen_ai.tool.call.result").is_some(),
        "{served:#?}"
    );
}

#[tokio::test]
async fn a_cancelled_call_ends_both_spans_as_cancelled() {
    let tracer = Tracer::in_memory(100);
    let tools = Client::serve(&tracer, (), serve_in_process(&tracer, GenAi::new()))
        .await
        .unwrap();
    let call = tools.call_tool(CallToolRequestParams::new("wait"));
    let timed_out = tokio::time::timeout(
        Duration::from_millis(200),
        tracer.span("turn").instrument(call),
    )
    .await;
    assert!(timed_out.is_err(), "`wait` answers only when cancelled");
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = tracer.get_traces(&TraceFilter::new()).unwrap();
        if spans
            .iter()
            .filter(|s| s.span_name == "tools/call wait")
            .count()
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = one(&spans, "tools/call wait", SpanKind::Client);
    let server = one(&spans, "tools/call wait", SpanKind::Server);
    assert_eq!(
        attr(client, "cancelled"),
        Some(&Value::Bool(true)),
        "{client:#?}"
    );
    assert_eq!(
        attr(server, "cancelled"),
        Some(&Value::Bool(true)),
        "{server:#?}"
    );
    assert!(server
        .events
        .iter()
        .any(|e| e.name == "notifications/cancelled"));
    assert_eq!(server.parent_span_id, Some(client.span_id));
    tools.cancel().await.unwrap();
}

#[tokio::test]
async fn a_json_rpc_error_sets_the_status_code() {
    let tracer = Tracer::in_memory(100);
    let tools = Client::serve(&tracer, (), serve_in_process(&tracer, GenAi::new()))
        .await
        .unwrap();
    let error = tools
        .call_tool(CallToolRequestParams::new("missing"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no tool missing"), "{error}");
    tools.cancel().await.unwrap();
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    let by_kind: HashMap<_, _> = spans
        .iter()
        .filter(|s| s.span_name == "tools/call missing")
        .map(|s| (format!("{:?}", s.span_kind), s))
        .collect();
    for kind in ["Client", "Server"] {
        let span = by_kind
            .get(kind)
            .unwrap_or_else(|| panic!("{kind}: {:#?}", names(&spans)));
        assert_eq!(
            text(span, "rpc.response.status_code").as_deref(),
            Some("-32602")
        );
        assert_eq!(text(span, "error.type").as_deref(), Some("-32602"));
        assert_eq!(span.span_status, SpanStatus::Error);
    }
}

#[tokio::test]
async fn progress_from_the_server_is_an_event_on_the_client_span() {
    let tracer = Tracer::in_memory(100);
    let tools = Client::serve(&tracer, (), serve_in_process(&tracer, GenAi::new()))
        .await
        .unwrap();
    tracer
        .span("turn")
        .instrument(tools.call_tool(CallToolRequestParams::new("progress")))
        .await
        .unwrap();
    tools.cancel().await.unwrap();
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    let client = one(&spans, "tools/call progress", SpanKind::Client);
    let event = client
        .events
        .iter()
        .find(|e| e.name == "notifications/progress")
        .unwrap_or_else(|| panic!("{client:#?}"));
    assert_eq!(event.attributes.get("progress"), Some(&Value::from(0.5)));
    assert_eq!(
        event.attributes.get("message"),
        Some(&Value::from("halfway"))
    );
}

#[tokio::test]
async fn a_call_open_when_the_server_goes_ends_as_transport_closed() {
    let tracer = Tracer::in_memory(100);
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    // A server that answers `initialize`, reads one request and dies.
    let server = tokio::spawn(async move {
        let (read, mut write) = tokio::io::split(server_end);
        let mut lines = BufReader::new(read).lines();
        let init: serde_json::Value =
            serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        let answer = serde_json::json!({"jsonrpc": "2.0", "id": init["id"], "result": {
            "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
            "serverInfo": {"name": "dies", "version": "0"}}});
        write
            .write_all(format!("{answer}\n").as_bytes())
            .await
            .unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("tools/call") {
                return;
            }
        }
    });
    let tools = Client::serve(&tracer, (), client_end).await.unwrap();
    let result = tracer
        .span("turn")
        .instrument(tools.call_tool(CallToolRequestParams::new("echo")))
        .await;
    server.await.unwrap();
    assert!(result.is_err(), "{result:?}");
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    let call = one(&spans, "tools/call echo", SpanKind::Client);
    assert_eq!(
        text(call, "error.type").as_deref(),
        Some("transport_closed")
    );
    assert_eq!(call.span_status, SpanStatus::Error);
}
