//! `tracekit serve`: the viewer and its JSON API, read-only, on 127.0.0.1 by default.
//!
//! API (all `GET`, JSON):
//! * `/api/traces?limit=50&offset=0&attr=KEY=VALUE&since=2h&errors=true` — trace rows, newest
//!   first: `{"traces": [...], "total", "offset", "limit"}` (`limit` at most 500).
//! * `/api/traces/{trace_id}` and `/api/conversations/{id}` — `{"spans": [...], "summary"}`.

use std::io::Cursor;
use std::net::SocketAddr;

use serde_json::json;
use tiny_http::{Header, Method, Request, Response, Server};
use tracekit::{analysis, TraceFilter, Tracer};

use crate::commands;
use crate::{CliError, StoreSpec};

const INDEX: &str = include_str!("viewer/index.html");
const APP: &str = include_str!("viewer/app.js");
const STYLE: &str = include_str!("viewer/app.css");

/// The most rows one request returns.
const MAX_LIMIT: usize = 500;

pub fn serve(store: &StoreSpec, addr: &str) -> Result<(), CliError> {
    let addr: SocketAddr = addr.parse().map_err(|_| {
        CliError::Usage(format!(
            "--addr {addr:?}: expected IP:PORT, such as 127.0.0.1:7878"
        ))
    })?;
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
        let response = handle(&tracer, &request, bound);
        let _ = request.respond(response);
    }
    Ok(())
}

type Reply = Response<Cursor<Vec<u8>>>;

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
    let mut response = Response::from_data(body.into()).with_status_code(status);
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

fn handle(tracer: &Tracer, request: &Request, bound: SocketAddr) -> Reply {
    if !host_allowed(request, bound) {
        return error(403, "this viewer answers only to localhost / 127.0.0.1");
    }
    if !matches!(request.method(), Method::Get | Method::Head) {
        return error(405, "the viewer is read-only: GET only");
    }
    let url = request.url();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    match path {
        "/" | "/index.html" => reply(200, "text/html; charset=utf-8", INDEX),
        "/app.js" => reply(200, "text/javascript; charset=utf-8", APP),
        "/app.css" => reply(200, "text/css; charset=utf-8", STYLE),
        "/api/traces" => list(tracer, query),
        _ => {
            if let Some(id) = path.strip_prefix("/api/traces/") {
                one(tracer, &decode(id))
            } else if let Some(id) = path.strip_prefix("/api/conversations/") {
                one(tracer, &decode(id))
            } else {
                error(404, "no such page")
            }
        }
    }
}

fn list(tracer: &Tracer, query: &str) -> Reply {
    let mut limit = 50;
    let mut offset = 0;
    let mut attributes = Vec::new();
    let mut since = None;
    let mut errors = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v);
        match k {
            "limit" => match v.parse::<usize>() {
                Ok(n) => limit = n.clamp(1, MAX_LIMIT),
                Err(_) => return error(400, "limit: expected a number"),
            },
            "offset" => match v.parse::<usize>() {
                Ok(n) => offset = n,
                Err(_) => return error(400, "offset: expected a number"),
            },
            "attr" if !v.is_empty() => attributes.push(v),
            "since" if !v.is_empty() => since = Some(v),
            "errors" => errors = v == "true",
            _ => {}
        }
    }
    let filter = match commands::filter(&attributes) {
        Ok(f) => f,
        Err(e) => return error(400, &e.to_string()),
    };
    let since = match since.as_deref().map(commands::since).transpose() {
        Ok(s) => s,
        Err(e) => return error(400, &e.to_string()),
    };
    let spans = match tracer.get_traces(&TraceFilter::new()) {
        Ok(s) => s,
        Err(e) => return error(500, &e.to_string()),
    };
    let rows = commands::trace_rows(spans, &filter, since, errors);
    let total = rows.len();
    let page: Vec<_> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, row)| row)
        .collect();
    reply(
        200,
        "application/json",
        json!({"traces": page, "total": total, "offset": offset, "limit": limit}).to_string(),
    )
}

fn one(tracer: &Tracer, id: &str) -> Reply {
    match commands::resolve(tracer, id) {
        Ok(mut spans) => {
            // Shown with what reference-style attributes say in the other conventions.
            for span in &mut spans {
                for (key, value) in tracekit::genai::reference_completions(&span.attributes) {
                    span.attributes.insert(key, value);
                }
            }
            let s = analysis::summary(&spans);
            let summary = json!({
                "llm_calls": s.llm_calls, "tokens": s.tokens.total(), "cost_usd": s.cost_usd,
                "unpriced_calls": s.unpriced_calls, "tool_calls": s.tool_calls, "errors": s.errors,
                "wall_ms": s.wall_time.as_secs_f64() * 1e3,
            });
            reply(
                200,
                "application/json",
                json!({"spans": spans, "summary": summary}).to_string(),
            )
        }
        Err(CliError::UnknownId(_)) => error(404, &format!("no trace or conversation {id:?}")),
        Err(e) => error(500, &e.to_string()),
    }
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
