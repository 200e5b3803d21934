//! `tracekit serve`: the viewer and its JSON API, read-only, on 127.0.0.1 by default.
//!
//! API (all `GET`, JSON; every list pages with an opaque cursor, stable while agents write):
//! * `/api/traces?limit=50&after=CURSOR&attr=KEY=VALUE&since=2h&errors=true&name=NAME&order=oldest`
//!   — trace rows, newest first unless `order=oldest`: `{"traces": [...], "next", "limit"}`
//!   (`limit` at most 500; `next` is the cursor of the next page, `null` on the last).
//! * `/api/conversations?limit=20&after=CURSOR` — conversations by their latest turn, with
//!   totals: `{"conversations": [...], "next"}`.
//! * `/api/traces/{trace_id}` — `{"spans": [...], "summary"}`; `/api/conversations/{id}` —
//!   the same for all its turns, and `"turns"`: one row per trace, oldest first.

use std::net::SocketAddr;

use serde_json::json;
use tiny_http::{Header, Method, Request, Response, Server};
use tracekit::query::{Cursor, Query};
use tracekit::{analysis, Trace, Tracer};

use crate::{collect, commands};
use crate::{CliError, StoreSpec};

/// The viewer, built into the binary: it works offline and fetches nothing from elsewhere.
const ASSETS: [(&str, &str, &str); 8] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("viewer/index.html"),
    ),
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_str!("viewer/index.html"),
    ),
    (
        "/app.css",
        "text/css; charset=utf-8",
        include_str!("viewer/app.css"),
    ),
    ("/js/app.js", JS, include_str!("viewer/js/app.js")),
    ("/js/trace.js", JS, include_str!("viewer/js/trace.js")),
    ("/js/messages.js", JS, include_str!("viewer/js/messages.js")),
    ("/js/json.js", JS, include_str!("viewer/js/json.js")),
    ("/js/dom.js", JS, include_str!("viewer/js/dom.js")),
];
const JS: &str = "text/javascript; charset=utf-8";

/// The most rows one request returns.
const MAX_LIMIT: usize = 500;

pub fn serve(store: &StoreSpec, addr: &str, otlp: &collect::Options) -> Result<(), CliError> {
    let addr: SocketAddr = addr.parse().map_err(|_| {
        CliError::Usage(format!(
            "--addr {addr:?}: expected IP:PORT, such as 127.0.0.1:7878"
        ))
    })?;
    let collecting = otlp.http.is_some() || otlp.grpc.is_some();
    if !collecting && otlp.sampling.is_given() {
        return Err(CliError::Usage(
            "the sampling options (--keep-*, --sample-rest) apply to what --otlp receives: add --otlp".into(),
        ));
    }
    // The receivers write through a tracer of their own; the viewer reads the file as it
    // does without them, opened after the writer created it.
    let running = match collecting {
        true => Some(collect::start(store, otlp)?),
        false => None,
    };
    if let StoreSpec::Otlp(url) = store {
        if running.is_none() {
            return Err(CliError::Usage(format!(
                "{url} is an OTLP endpoint: there is nothing to view; add --otlp to forward what tracekit receives to it"
            )));
        }
        println!("forwarding to {url}; no viewer (it reads only stores). Ctrl-C stops.");
        loop {
            std::thread::park();
        }
    }
    let tracer = store.open()?;
    let server =
        Server::http(addr).map_err(|e| CliError::Io(format!("cannot listen on {addr}: {e}")))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| CliError::Io("not an IP socket".into()))?;
    if !bound.ip().is_loopback() {
        eprintln!("tracekit: serving on {bound}, which other machines can reach; the viewer has no authentication");
    }
    // The first line says where, for people and for scripts.
    println!("tracekit viewer on http://{bound}/");
    for request in server.incoming_requests() {
        let response = handle(&tracer, running.as_ref(), &request, bound);
        let _ = request.respond(response);
    }
    Ok(())
}

type Reply = Response<std::io::Cursor<Vec<u8>>>;

fn reply(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
    let headers = [
        ("Content-Type", content_type),
        ("X-Content-Type-Options", "nosniff"),
        // Nothing from elsewhere: scripts and styles from this server only.
        (
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:",
        ),
        ("Cache-Control", "no-store"),
    ];
    // A known length, never chunked: simple clients (and scripts) read to the end.
    let mut response = Response::from_data(body.into())
        .with_status_code(status)
        .with_chunked_threshold(usize::MAX);
    for (k, v) in headers {
        if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response.add_header(h);
        }
    }
    response
}

fn error(status: u16, message: &str) -> Reply {
    reply(
        status,
        "application/json",
        json!({ "error": message }).to_string(),
    )
}

/// Requests for another host name are refused when serving on loopback: a page elsewhere
/// cannot read the API by rebinding its DNS name to 127.0.0.1.
fn host_allowed(request: &Request, bound: SocketAddr) -> bool {
    if !bound.ip().is_loopback() {
        return true;
    }
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_owned())
        .unwrap_or_default();
    let name = host
        .rsplit_once(':')
        .map_or(host.as_str(), |(name, _)| name);
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

fn handle(
    tracer: &Tracer,
    running: Option<&collect::Running>,
    request: &Request,
    bound: SocketAddr,
) -> Reply {
    if !host_allowed(request, bound) {
        return error(403, "this viewer answers only to localhost / 127.0.0.1");
    }
    if !matches!(request.method(), Method::Get | Method::Head) {
        return error(405, "the viewer is read-only: GET only");
    }
    let url = request.url();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if let Some((_, content_type, body)) = ASSETS.iter().find(|(at, ..)| *at == path) {
        return reply(200, content_type, *body);
    }
    match path {
        "/api/collector" => answer(Ok(collector(running))),
        "/api/traces" => answer(list(tracer, query)),
        "/api/conversations" => answer(conversations(tracer, query)),
        _ => {
            if let Some(id) = path.strip_prefix("/api/traces/") {
                answer(one(tracer, &decode(id), false))
            } else if let Some(id) = path.strip_prefix("/api/conversations/") {
                answer(one(tracer, &decode(id), true))
            } else {
                error(404, "no such page")
            }
        }
    }
}

/// Why a request failed, as the HTTP status it answers with.
enum Failure {
    BadRequest(String),
    NotFound(String),
    Store(String),
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Failure {
        match e {
            CliError::UnknownId(id) => {
                Failure::NotFound(format!("no trace or conversation {id:?}"))
            }
            CliError::Usage(m) => Failure::BadRequest(m),
            other => Failure::Store(other.to_string()),
        }
    }
}

impl From<tracekit::Error> for Failure {
    fn from(e: tracekit::Error) -> Failure {
        Failure::Store(e.to_string())
    }
}

fn answer(result: Result<serde_json::Value, Failure>) -> Reply {
    match result {
        Ok(body) => reply(200, "application/json", body.to_string()),
        Err(Failure::BadRequest(m)) => error(400, &m),
        Err(Failure::NotFound(m)) => error(404, &m),
        Err(Failure::Store(m)) => error(500, &m),
    }
}

/// A list request's parameters: `limit` (1 to 500), `after` (a cursor), and the rest as
/// `KEY=VALUE` pairs for the caller.
struct Params {
    limit: usize,
    after: Option<Cursor>,
    rest: Vec<(String, String)>,
}

fn params(query: &str, default_limit: usize) -> Result<Params, Failure> {
    let mut p = Params {
        limit: default_limit,
        after: None,
        rest: Vec::new(),
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v);
        match k {
            "limit" => {
                p.limit = v
                    .parse::<usize>()
                    .map_err(|_| Failure::BadRequest("limit: expected a number".into()))?
                    .clamp(1, MAX_LIMIT)
            }
            "after" if !v.is_empty() => {
                p.after = Some(
                    v.parse()
                        .map_err(|e| Failure::BadRequest(format!("after: {e}")))?,
                )
            }
            _ => p.rest.push((k.to_owned(), v)),
        }
    }
    Ok(p)
}

fn list(tracer: &Tracer, query: &str) -> Result<serde_json::Value, Failure> {
    let p = params(query, 50)?;
    let (mut attributes, mut since, mut errors, mut name, mut oldest) =
        (Vec::new(), None, false, None, false);
    for (k, v) in p.rest {
        match k.as_str() {
            "attr" if !v.is_empty() => attributes.push(v),
            "since" if !v.is_empty() => since = Some(v),
            "errors" => errors = v == "true",
            "name" if !v.is_empty() => name = Some(v),
            "order" => oldest = v == "oldest",
            _ => {}
        }
    }
    let mut q = commands::query(&attributes, since.as_deref(), errors)?.limit(p.limit);
    if let Some(name) = name {
        q = q.span_name(name);
    }
    if oldest {
        q = q.oldest_first();
    }
    if let Some(cursor) = p.after {
        q = q.after(cursor);
    }
    let page = analysis::list(tracer, &q)?;
    let rows: Vec<_> = page.items.iter().map(commands::summary_json).collect();
    Ok(json!({"traces": rows, "next": page.next.map(|c| c.to_string()), "limit": p.limit}))
}

/// The OTLP receivers' counts (`{"otlp": null}` when not receiving).
fn collector(running: Option<&collect::Running>) -> serde_json::Value {
    let Some(running) = running else {
        return json!({ "otlp": null });
    };
    let store = running.tracer().stats();
    json!({ "otlp": {
        "listening": running.listening,
        "stats": running.stats(),
        "store": {
            "spans_pending": store.spans_pending,
            "sink_failures": store.sink_failures,
            "spans_dropped": store.spans_dropped,
            "traces_sampled_out": store.traces_sampled_out,
        },
    }})
}

/// The most traces one conversations request walks before it answers with what it found.
const CONVERSATION_WALK: usize = 2_000;

/// Conversations by their latest turn, newest first: the walk goes through traces newest
/// first and lists each conversation where it meets its latest turn.
fn conversations(tracer: &Tracer, query: &str) -> Result<serde_json::Value, Failure> {
    let p = params(query, 20)?;
    let mut walk = Query::new().limit(100);
    if let Some(cursor) = p.after {
        walk = walk.after(cursor);
    }
    let (mut found, mut walked, mut next): (Vec<String>, usize, Option<Cursor>) =
        (Vec::new(), 0, None);
    'walk: loop {
        let page = tracer.list_traces(&walk)?;
        for head in &page.items {
            walked += 1;
            if let Some(c) = &head.conversation_id {
                if !found.contains(c) {
                    found.push(c.clone());
                }
            }
            if found.len() == p.limit || walked == CONVERSATION_WALK {
                next = Some(head.cursor());
                break 'walk;
            }
        }
        match page.next {
            Some(cursor) => walk = walk.after(cursor),
            None => break,
        }
    }
    let mut rows = Vec::new();
    for id in found {
        let turns = conversation_turns(tracer, &id)?;
        // A conversation with a turn newer than where this page starts was listed before.
        let latest = turns.iter().map(|t| t.head.started_at).max();
        if p.after.zip(latest).is_some_and(|(c, l)| l > c.started_at()) {
            continue;
        }
        rows.push(conversation_json(&id, &turns));
    }
    Ok(json!({"conversations": rows, "next": next.map(|c| c.to_string())}))
}

/// A conversation's turns (its traces), oldest first, with their summaries.
fn conversation_turns(tracer: &Tracer, id: &str) -> Result<Vec<analysis::TraceSummary>, Failure> {
    let mut q = Query::new()
        .conversation(id)
        .oldest_first()
        .limit(MAX_LIMIT);
    let mut turns = Vec::new();
    loop {
        let page = analysis::list(tracer, &q)?;
        turns.extend(page.items);
        match page.next {
            Some(cursor) => q = q.after(cursor),
            None => return Ok(turns),
        }
    }
}

fn conversation_json(id: &str, turns: &[analysis::TraceSummary]) -> serde_json::Value {
    let sum = |f: &dyn Fn(&analysis::TraceSummary) -> f64| turns.iter().map(f).sum::<f64>();
    json!({
        "conversation_id": id,
        "turns": turns.len(),
        "start": turns.first().map(|t| t.head.started_at),
        "last": turns.last().map(|t| t.head.started_at),
        "spans": turns.iter().map(|t| t.head.spans).sum::<usize>(),
        "llm_calls": turns.iter().map(|t| t.summary.llm_calls).sum::<u64>(),
        "tool_calls": turns.iter().map(|t| t.summary.tool_calls).sum::<u64>(),
        "tokens": turns.iter().map(|t| t.summary.tokens.total()).sum::<u64>(),
        "cost_usd": sum(&|t| t.summary.cost_usd),
        "unpriced_calls": turns.iter().map(|t| t.summary.unpriced_calls).sum::<u64>(),
        "errors": turns.iter().map(|t| t.head.errors).sum::<usize>(),
        "duration_ms": sum(&|t| t.summary.wall_time.as_secs_f64() * 1e3),
    })
}

/// A trace or a conversation: its spans (with what reference-style attributes say in the
/// other conventions) and their summary; a conversation also lists its turns.
fn one(tracer: &Tracer, id: &str, conversation: bool) -> Result<serde_json::Value, Failure> {
    let mut spans: Vec<Trace> = commands::resolve(tracer, id)?;
    for span in &mut spans {
        for (key, value) in tracekit::genai::reference_completions(&span.attributes) {
            span.attributes.insert(key, value);
        }
    }
    let s = analysis::summary(&spans);
    let mut body = json!({
        "spans": spans.iter().map(span_json).collect::<Vec<_>>(),
        "summary": {
            "llm_calls": s.llm_calls, "tokens": s.tokens.total(), "cost_usd": s.cost_usd,
            "unpriced_calls": s.unpriced_calls, "tool_calls": s.tool_calls, "errors": s.errors,
            "wall_ms": s.wall_time.as_secs_f64() * 1e3,
            "input_tokens": s.tokens.input, "output_tokens": s.tokens.output,
        },
    });
    if conversation {
        let turns = conversation_turns(tracer, id)?;
        body["turns"] = turns.iter().map(commands::summary_json).collect();
        body["conversation"] = conversation_json(id, &turns);
    }
    Ok(body)
}

/// A span as the viewer reads it: the stored span, and what it is (`role`: llm, tool, agent
/// retrieval or evaluation) with an LLM call's tokens and cost, as `analysis` reads the conventions.
fn span_json(span: &Trace) -> serde_json::Value {
    let mut value = serde_json::to_value(span).unwrap_or_default();
    let own = analysis::summary(std::slice::from_ref(span));
    let text = |key: &str| span.attributes.get(key).and_then(tracekit::Value::as_str);
    let role = if span.span_name == tracekit::eval::EVALUATION_SPAN
        || span.span_name == tracekit::eval::FEEDBACK_SPAN
    {
        "evaluation"
    } else if own.llm_calls > 0 {
        "llm"
    } else if own.tool_calls > 0 {
        "tool"
    } else {
        match (text("gen_ai.operation.name"), text("ai.trace.type")) {
            (Some("invoke_agent" | "create_agent"), _)
            | (_, Some("converse" | "converse-stream" | "cycle")) => "agent",
            (Some("retrieval" | "embeddings"), _) => "retrieval",
            _ => "",
        }
    };
    if let Some(object) = value.as_object_mut() {
        object.insert("role".into(), role.into());
        if role == "llm" {
            object.insert("tokens_in".into(), own.tokens.input.into());
            object.insert("tokens_out".into(), own.tokens.output.into());
            object.insert("cost_usd".into(), own.cost_usd.into());
            object.insert("priced".into(), (own.unpriced_calls == 0).into());
        }
    }
    value
}

/// Percent-decoding of a URL part (`+` as a space, as forms send it); bad escapes stay as
/// they are.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', ..) => {
                out.push(b' ');
                i += 1;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
