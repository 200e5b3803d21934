//! MCP: what tracing a `tools/call` costs over a bare rmcp call on the same transport.
//!
//! Client and server in this process, on one thread, on the two ends of a Unix socket pair:
//! rmcp's JSON-RPC line codec, its client and its server, each side either bare or wrapped by
//! `tracekit::mcp`, tracing into `Tracer::in_memory`. The traced client calls inside an open
//! span (an agent's turn), so each call is a CLIENT span under it with the context in
//! `_meta`, and the traced server continues it in a SERVER span. Five rows, one run: bare,
//! bare carrying the same `_meta` by hand (what propagation costs rmcp itself), traced
//! client, traced server, both. Criterion times them; `interleaved` times them again in
//! alternation, and `scripts/mcp-instructions.sh` counts their instructions (callgrind).
//!
//! Then the same rows over a real stdio round trip: the server is this benchmark binary again,
//! started as a child process (as MCP clients start tool servers), on its own runtime; each
//! side is bare or traced as the row says. Rows are interleaved over several rounds and the
//! median kept, since a 2-core machine's scheduling varies more between consecutive runs
//! than tracing costs.
//!
//! `cargo bench -p tracekit-benches --bench mcp --features mcp`. See BENCHMARKS.md.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use tokio::net::UnixStream;
use tracekit::mcp::{Client, Server};
use tracekit::Tracer;

/// Spans the in-memory tracers keep.
const CAPACITY: usize = 10_000;

/// A tool that answers at once: all that is measured is the call's way there and back.
#[derive(Clone)]
struct Echo;

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        params: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(params.name.to_string())]).into())
    }
}

fn call() -> CallToolRequestParams {
    let mut arguments = serde_json::Map::new();
    arguments.insert("city".into(), "Lisbon".into());
    CallToolRequestParams::new("get_weather").with_arguments(arguments)
}

/// Either client, called the same way.
enum Caller {
    Bare(RunningService<RoleClient, ()>),
    /// Bare, with the `_meta` a traced client sends (`traceparent` and `baggage`) written by
    /// hand: what carrying the context costs rmcp, apart from tracing.
    BareWithMeta(RunningService<RoleClient, ()>),
    Traced(Client),
}

/// A call with the context a traced client puts in `_meta`.
fn call_with_meta() -> CallToolRequestParams {
    let mut meta = rmcp::model::RequestMetaObject::new();
    meta.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    meta.set_baggage("ai.conversation.id=conv-0af7651916cd43dd");
    let mut params = call();
    params.meta = Some(meta);
    params
}

impl Caller {
    async fn call(&self) {
        let result = match self {
            Caller::Bare(c) => c.call_tool(call()).await,
            Caller::BareWithMeta(c) => c.call_tool(call_with_meta()).await,
            Caller::Traced(c) => c.call_tool(call()).await,
        };
        assert!(result.is_ok());
    }
}

async fn connect(tracer: &Tracer, client: Side, traced_server: bool) -> Caller {
    let (client_end, server_end) = UnixStream::pair().unwrap();
    let server = tracer.clone();
    tokio::spawn(async move {
        if traced_server {
            if let Ok(running) = Server::new(&server, Echo).serve(server_end).await {
                let _ = running.waiting().await;
            }
        } else if let Ok(running) = Echo.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    match client {
        Side::Traced => Caller::Traced(Client::serve(tracer, (), client_end).await.unwrap()),
        Side::Bare => Caller::Bare(().serve(client_end).await.unwrap()),
        Side::BareWithMeta => Caller::BareWithMeta(().serve(client_end).await.unwrap()),
    }
}

/// How the client calls.
#[derive(Clone, Copy)]
enum Side {
    Bare,
    BareWithMeta,
    Traced,
}

/// The rows: (name, client, traced server).
const ROWS: [(&str, Side, bool); 5] = [
    ("bare rmcp", Side::Bare, false),
    ("bare + _meta", Side::BareWithMeta, false),
    ("traced client", Side::Traced, false),
    ("traced server", Side::BareWithMeta, true),
    ("traced both", Side::Traced, true),
];

/// One thread runs both sides: a round trip is then the work it takes, not how two runtimes'
/// workers park and wake on two cores (which varied by more than tracing costs).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `iters` calls inside one open span (the agent's turn), timed.
fn timed<F: Future<Output = ()>>(
    rt: &tokio::runtime::Runtime,
    tracer: &Tracer,
    calls: impl FnOnce() -> F,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        tracer.span("turn").instrument(calls()).await;
        start.elapsed()
    })
}

fn tools_call(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("mcp_tools_call");
    group
        .sample_size(40)
        .measurement_time(Duration::from_secs(6));
    for (name, client, traced_server) in ROWS {
        let tracer = Tracer::in_memory(CAPACITY);
        let caller = rt.block_on(connect(&tracer, client, traced_server));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed(&rt, &tracer, || async {
                    for _ in 0..iters {
                        caller.call().await;
                    }
                })
            })
        });
    }
    group.finish();
}

/// The rows again, interleaved over several rounds (a noisy machine drifts between rows run
/// one after another), each round 20 000 calls per row: the median time per call, and what
/// each row adds to a bare call and to a bare call carrying the same `_meta`.
fn interleaved(_: &mut Criterion) {
    // `ONLY=ROW CALLS=N`: one row, one round of N calls (for a profiler or callgrind).
    let (calls, rounds) = match std::env::var("CALLS").ok().and_then(|n| n.parse().ok()) {
        Some(n) => (n, 1),
        None => (20_000, 7),
    };
    let rt = runtime();
    let mut per_call: Vec<Vec<Duration>> = vec![Vec::new(); ROWS.len()];
    for _ in 0..rounds {
        for (row, (name, client, traced_server)) in ROWS.iter().enumerate() {
            if std::env::var("ONLY").is_ok_and(|only| only != *name) {
                continue;
            }
            let tracer = Tracer::in_memory(CAPACITY);
            let caller = rt.block_on(connect(&tracer, *client, *traced_server));
            let took = timed(&rt, &tracer, || async {
                for _ in 0..calls {
                    caller.call().await;
                }
            });
            per_call[row].push(took / calls);
        }
    }
    report("in one process, one thread", rounds, calls, &mut per_call);
}

/// `MCP_BENCH_SERVER=bare|traced`: this binary is the tool server, on stdin and stdout.
fn serve_stdio(mode: &str) {
    let rt = runtime();
    let tracer = Tracer::in_memory(CAPACITY);
    rt.block_on(async {
        let stdio = (tokio::io::stdin(), tokio::io::stdout());
        if mode == "traced" {
            if let Ok(running) = Server::new(&tracer, Echo).serve(stdio).await {
                let _ = running.waiting().await;
            }
        } else if let Ok(running) = Echo.serve(stdio).await {
            let _ = running.waiting().await;
        }
    });
}

/// A client of this binary started as a stdio server (`traced_server`: a traced one).
async fn connect_stdio(
    tracer: &Tracer,
    client: Side,
    traced_server: bool,
) -> (Caller, tokio::process::Child) {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .env(
            "MCP_BENCH_SERVER",
            if traced_server { "traced" } else { "bare" },
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pipe = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let caller = match client {
        Side::Traced => Caller::Traced(Client::serve(tracer, (), pipe).await.unwrap()),
        Side::Bare => Caller::Bare(().serve(pipe).await.unwrap()),
        Side::BareWithMeta => Caller::BareWithMeta(().serve(pipe).await.unwrap()),
    };
    (caller, child)
}

/// The rows over stdio, interleaved: medians, as `interleaved` prints them.
fn stdio(_: &mut Criterion) {
    if std::env::var_os("CALLS").is_some() {
        return; // profiling one in-process row
    }
    const CALLS: u32 = 3_000;
    const ROUNDS: usize = 15;
    let rt = runtime();
    let mut per_call: Vec<Vec<Duration>> = vec![Vec::new(); ROWS.len()];
    for _ in 0..ROUNDS {
        for (row, (_, client, traced_server)) in ROWS.iter().enumerate() {
            let tracer = Tracer::in_memory(CAPACITY);
            let (caller, child) = rt.block_on(connect_stdio(&tracer, *client, *traced_server));
            let took = timed(&rt, &tracer, || async {
                for _ in 0..CALLS {
                    caller.call().await;
                }
            });
            per_call[row].push(took / CALLS);
            drop((caller, child));
        }
    }
    report("over stdio, a child process", ROUNDS, CALLS, &mut per_call);
}

/// Prints the median per row, against the bare rows.
fn report(what: &str, rounds: usize, calls: u32, per_call: &mut [Vec<Duration>]) {
    if per_call.iter().any(Vec::is_empty) {
        return;
    }
    let median: Vec<Duration> = per_call
        .iter_mut()
        .map(|times| {
            times.sort();
            times[times.len() / 2]
        })
        .collect();
    let pct = |row: usize, base: usize| {
        (median[row].as_secs_f64() / median[base].as_secs_f64() - 1.0) * 100.0
    };
    println!("\nmcp_tools_call {what}, median of {rounds} interleaved rounds of {calls} calls:");
    println!(
        "  {:14} {:>9} {:>12} {:>15}",
        "row", "per call", "vs bare", "vs bare+_meta"
    );
    for (row, (name, ..)) in ROWS.iter().enumerate() {
        println!(
            "  {name:14} {:>9.2?} {:>+11.1}% {:>+14.1}%",
            median[row],
            pct(row, 0),
            pct(row, 1)
        );
    }
}

criterion_group!(benches, tools_call, interleaved, stdio);

fn main() {
    if let Ok(mode) = std::env::var("MCP_BENCH_SERVER") {
        return serve_stdio(&mode);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
