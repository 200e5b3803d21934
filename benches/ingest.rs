//! Receiving: spans per second into a SQLite store over OTLP/HTTP, the path `tracekit serve
//! --otlp` takes (its `Collector`, in this process), beside the same store's own write rate
//! and beside Arize Phoenix receiving the very same requests, in one run.
//!
//! * Requests: 512 spans each (8 traces of 64, an agent's shapes: a turn, LLM calls with model
//!   and token counts, tool calls), protobuf, as OpenTelemetry's batch processors send them,
//!   from 4 client threads with keep-alive connections. tracekit answers 200 once the spans
//!   are in the file, so the time until the last answer is the time until everything is
//!   stored.
//! * The store's own rate: the same spans (every attribute the collector stores, its
//!   completions included) ended by traced code into `Tracer::sqlite` until `flush()`
//!   returns, and the same records handed to it with `Tracer::receive` from 4 threads (the
//!   store without HTTP and decoding).
//! * Phoenix (with `TRACEKIT_PHOENIX_URL`, or started by `scripts/phoenix.sh`): the same
//!   requests, timed until Phoenix's own API counts every span in the project (it answers
//!   200 before it stores them).
//! * A flood: 8 clients sending new spans as fast as they can for 5 s into a store whose
//!   writer cannot keep up, with the store's default queue: how much memory grows (the peak
//!   during the flood), and how many requests are answered 503 instead.
//! * criterion: one 512-span request decoded, converted and completed (into a no-op tracer),
//!   protobuf and JSON.
//!
//! `cargo bench -p tracekit-benches --bench ingest --features ingest`. See BENCHMARKS.md.

#[path = "../tests/common/servers.rs"]
mod servers;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as V, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tracekit::ingest::{Collector, ExportRequest};
use tracekit::{TraceFilter, Tracer};

const PER_REQUEST: usize = 512;
const CLIENTS: usize = 4;

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Span `i` of a 64-span agent trace (`trace`: its number in this run, `salt`: the run's):
/// the turn, then LLM calls and tool calls under it.
fn agent_span(salt: u64, trace: u64, i: u64, start: u64) -> Span {
    let id = |i: u64| (salt ^ (trace << 8 | (i + 1))).to_be_bytes().to_vec();
    let mut span = Span {
        trace_id: ((u128::from(salt) << 64) | u128::from(trace + 1))
            .to_be_bytes()
            .to_vec(),
        span_id: id(i),
        parent_span_id: if i == 0 { Vec::new() } else { id(0) },
        start_time_unix_nano: start + i * 1_000,
        end_time_unix_nano: start + i * 1_000 + 800,
        ..Default::default()
    };
    let conversation = kv(
        "gen_ai.conversation.id",
        V::StringValue(format!("conv-{}", trace % 1000)),
    );
    if i == 0 {
        span.name = "invoke_agent weather".into();
        span.kind = 2;
        span.attributes = vec![
            kv(
                "gen_ai.operation.name",
                V::StringValue("invoke_agent".into()),
            ),
            kv("gen_ai.agent.name", V::StringValue("weather".into())),
            conversation,
        ];
    } else if i % 2 == 1 {
        span.name = "chat gpt-4o".into();
        span.kind = 3;
        span.attributes = vec![
            kv("gen_ai.operation.name", V::StringValue("chat".into())),
            kv("gen_ai.provider.name", V::StringValue("openai".into())),
            kv("gen_ai.request.model", V::StringValue("gpt-4o".into())),
            kv("gen_ai.usage.input_tokens", V::IntValue(1_200)),
            kv("gen_ai.usage.output_tokens", V::IntValue(150)),
            conversation,
        ];
    } else {
        span.name = "execute_tool get_weather".into();
        span.attributes = vec![
            kv(
                "gen_ai.operation.name",
                V::StringValue("execute_tool".into()),
            ),
            kv("gen_ai.tool.name", V::StringValue("get_weather".into())),
            kv("gen_ai.tool.call.id", V::StringValue(format!("call-{i}"))),
            conversation,
        ];
    }
    span
}

/// `n` requests of 512 spans, ids new to this run (`project` tags them for Phoenix).
fn requests(n: usize, project: &str) -> Vec<Vec<u8>> {
    let start = 1_795_300_816_026_429_000u64;
    let salt = tracekit::SpanId::random().to_int() | 1 << 40;
    (0..n as u64)
        .map(|r| {
            let per = PER_REQUEST as u64;
            let spans = (0..per)
                .map(|i| agent_span(salt, (r * per + i) / 64, i % 64, start))
                .collect();
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            kv("service.name", V::StringValue("bench-agent".into())),
                            kv("openinference.project.name", V::StringValue(project.into())),
                        ],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans,
                        ..Default::default()
                    }],
                    schema_url: String::new(),
                }],
            }
            .encode_to_vec()
        })
        .collect()
}

/// Posts every body from `CLIENTS` threads, sending a body again after a 503 as SDKs do;
/// the time until the last answer, and how many 503s came.
fn post_all(url: &str, bodies: &[Vec<u8>]) -> (Duration, u64) {
    let next = AtomicU64::new(0);
    let busy = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(body) = bodies.get(i) else { return };
                    loop {
                        let status = agent
                            .post(format!("{url}/v1/traces"))
                            .header("Content-Type", "application/x-protobuf")
                            .send(&body[..])
                            .map(|r| r.status().as_u16())
                            .unwrap_or(0);
                        match status {
                            200 => break,
                            503 | 429 | 0 => {
                                busy.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            other => panic!("{url}: {other}"),
                        }
                    }
                }
            });
        }
    });
    (started.elapsed(), busy.load(Ordering::Relaxed))
}

/// tracekit: spans per second into a fresh SQLite file, over OTLP/HTTP (`complete`: with
/// the conventions completed, as by default).
fn tracekit_rate(dir: &std::path::Path, name: &str, bodies: &[Vec<u8>], complete: bool) -> f64 {
    let db = dir.join(name);
    let store = Tracer::sqlite(&db).unwrap();
    let mut collector = Collector::new(store.clone());
    if !complete {
        collector = collector.conventions(None);
    }
    let receiver = collector.serve_http("127.0.0.1:0").unwrap();
    let (took, _) = post_all(&format!("http://{}", receiver.local_addr()), bodies);
    let spans = (bodies.len() * PER_REQUEST) as u64;
    assert_eq!(collector.stats().spans_stored, spans);
    assert_eq!(store.stats().spans_persisted, spans);
    spans as f64 / took.as_secs_f64()
}

/// The spans of `bodies` as the collector hands them to the store: decoded and completed,
/// in their requests' batches (8 whole traces each).
fn decoded(bodies: &[Vec<u8>], complete: bool) -> Vec<tracekit::Trace> {
    let memory = Tracer::in_memory(usize::MAX);
    let mut collector = Collector::new(memory.clone());
    if !complete {
        collector = collector.conventions(None);
    }
    for body in bodies {
        collector.export(ExportRequest::new(body).content_type("application/x-protobuf"));
    }
    let mut spans = memory.get_traces(&TraceFilter::new()).unwrap();
    spans.sort_by_key(|s| (s.trace_id, s.started_at));
    spans
}

/// The store's own rate: the same spans (names, kinds, every attribute the collector
/// stores) ended by traced code into `Tracer::sqlite`, until flushed.
fn store_rate(dir: &std::path::Path, name: &str, spans: &[tracekit::Trace]) -> f64 {
    let tracer =
        Tracer::sqlite(tracekit::SqliteConfig::new(dir.join(name)).max_queue_size(spans.len()))
            .unwrap();
    let started = Instant::now();
    for span in spans {
        let mut b = tracer
            .span(span.span_name.clone())
            .kind(span.span_kind)
            .root();
        for (key, value) in span.attributes.iter() {
            b = b.attribute(key.to_owned(), value.clone());
        }
        drop(b.start());
    }
    tracer.flush_within(Duration::from_secs(600)).unwrap();
    let took = started.elapsed();
    assert_eq!(tracer.stats().spans_persisted, spans.len() as u64);
    spans.len() as f64 / took.as_secs_f64()
}

/// The store without HTTP and decoding: the received records handed to it in their batches.
fn receive_rate(dir: &std::path::Path, name: &str, spans: &[tracekit::Trace]) -> f64 {
    let store = Tracer::sqlite(dir.join(name)).unwrap();
    let batches: Vec<Vec<tracekit::Trace>> = spans.chunks(PER_REQUEST).map(<[_]>::to_vec).collect();
    let started = Instant::now();
    std::thread::scope(|s| {
        for client in 0..CLIENTS {
            let (store, batches) = (&store, &batches);
            s.spawn(move || {
                for batch in batches.iter().skip(client).step_by(CLIENTS) {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    store.receive(batch.clone(), deadline).unwrap();
                }
            });
        }
    });
    spans.len() as f64 / started.elapsed().as_secs_f64()
}

/// Phoenix: the same requests, timed until its API counts every span of the project.
fn phoenix_rate(url: &str, requests: usize) -> Option<f64> {
    let project = format!("ingest-bench-{}", tracekit::SpanId::random());
    let bodies = self::requests(requests, &project);
    let spans = (requests * PER_REQUEST) as u64;
    let started = Instant::now();
    let (answered, busy) = post_all(url, &bodies);
    let deadline = Instant::now() + Duration::from_secs(900);
    let count = || -> Option<u64> {
        let query = serde_json::json!({"query": "{ projects { edges { node { name traceCount spanCount: recordCount } } } }"});
        let body: serde_json::Value = ureq::post(format!("{url}/graphql"))
            .send_json(&query)
            .ok()?
            .body_mut()
            .read_json()
            .ok()?;
        body["data"]["projects"]["edges"]
            .as_array()?
            .iter()
            .find(|e| e["node"]["name"] == project.as_str())
            .and_then(|e| e["node"]["spanCount"].as_u64())
    };
    loop {
        if count().unwrap_or(0) >= spans {
            break;
        }
        if Instant::now() > deadline {
            println!(
                "  Phoenix: {} of {spans} spans stored after 15 minutes",
                count().unwrap_or(0)
            );
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let took = started.elapsed();
    println!(
        "  (Phoenix answered every request in {:.1} s, {busy} of them with 429/503 or a dropped connection, then took {:.0} s to store them)",
        answered.as_secs_f64(),
        (took - answered).as_secs_f64()
    );
    Some(spans as f64 / took.as_secs_f64())
}

/// The process's resident memory and its peak, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// 8 clients flooding a store for 5 s with spans it has not seen, faster than it writes:
/// memory before and at its peak during the flood, spans stored, 503s.
fn flood(dir: &std::path::Path) {
    let bodies = requests(2_000, "flood");
    let store = Tracer::sqlite(dir.join("flood.db")).unwrap();
    let collector = Collector::new(store.clone()).wait_for_store(Duration::from_secs(1));
    let receiver = collector.serve_http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/traces", receiver.local_addr());
    // The peak from here on (Linux: writing 5 to clear_refs resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (before, _) = memory();
    let until = Instant::now() + Duration::from_secs(5);
    std::thread::scope(|s| {
        for c in 0..8 {
            let (url, bodies) = (&url, &bodies);
            s.spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut i = c;
                while Instant::now() < until && i < bodies.len() {
                    let _ = agent
                        .post(url)
                        .header("Content-Type", "application/x-protobuf")
                        .send(&bodies[i][..]);
                    i += 8;
                }
            });
        }
    });
    let (after, peak) = memory();
    let stats = collector.stats();
    println!(
        "  flood, 8 clients for 5 s (requests prepared beforehand: {} MiB): {} spans stored, {} requests answered 503 (of {}); resident memory {before:.0} MiB before, peak {peak:.0} MiB during (+{:.0} MiB), {after:.0} MiB after",
        bodies.iter().map(Vec::len).sum::<usize>() >> 20,
        stats.spans_stored,
        stats.refused_busy,
        stats.requests,
        peak - before
    );
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let bodies = requests(400, "tracekit");
    let spans = bodies.len() * PER_REQUEST;
    println!(
        "\nreceiving {spans} spans in {} requests of {PER_REQUEST} (protobuf, {} KiB each), {CLIENTS} clients:",
        bodies.len(),
        bodies[0].len() / 1024
    );
    let mut received = 0.0;
    for complete in [true, false] {
        let records = decoded(&bodies, complete);
        println!(
            "  {}: {} attributes per span on average",
            if complete {
                "conventions completed (the default)"
            } else {
                "stored as received (Collector::conventions(None))"
            },
            records.iter().map(|s| s.attributes.len()).sum::<usize>() / records.len()
        );
        let (mut otlp, mut own, mut handed) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..3 {
            let run = format!("{complete}-{r}.db");
            otlp.push(tracekit_rate(
                dir.path(),
                &format!("otlp-{run}"),
                &bodies,
                complete,
            ));
            own.push(store_rate(dir.path(), &format!("own-{run}"), &records));
            handed.push(receive_rate(
                dir.path(),
                &format!("receive-{run}"),
                &records,
            ));
        }
        let (otlp, own, handed) = (median(&otlp), median(&own), median(&handed));
        println!("    tracekit serve --otlp into SQLite: {otlp:.0} spans/s");
        println!(
            "    Tracer::sqlite, the same records handed over with Tracer::receive (no HTTP, no decoding): {handed:.0} spans/s; received / that = {:.2}",
            otlp / handed
        );
        println!(
            "    Tracer::sqlite, the same spans ended by traced code (one thread): {own:.0} spans/s; received / that = {:.2}",
            otlp / own
        );
        if complete {
            received = otlp;
        }
    }
    let phoenix = std::env::var("TRACEKIT_PHOENIX_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(servers::phoenix);
    match phoenix.and_then(|url| phoenix_rate(&url, 40)) {
        Some(rate) => println!(
            "  Arize Phoenix, the same requests ({} spans), until its API counts them all: {rate:.0} spans/s; tracekit / Phoenix = {:.0}x",
            40 * PER_REQUEST,
            received / rate
        ),
        None => println!("  Arize Phoenix: not measured (set TRACEKIT_PHOENIX_URL or let scripts/phoenix.sh install it)"),
    }
    flood(dir.path());

    let mut g = c.benchmark_group("one 512-span request, decoded, converted and completed");
    g.throughput(Throughput::Elements(PER_REQUEST as u64));
    let collector = Collector::new(Tracer::noop());
    let body = &bodies[0];
    g.bench_function("protobuf", |b| {
        b.iter(|| collector.export(ExportRequest::new(body).content_type("application/x-protobuf")))
    });
    let json = {
        let request = ExportTraceServiceRequest::decode(&body[..]).unwrap();
        serde_json::to_vec(&request).unwrap()
    };
    g.bench_function("json", |b| {
        b.iter(|| collector.export(ExportRequest::new(&json).content_type("application/json")))
    });
    let raw = Collector::new(Tracer::noop()).conventions(None);
    g.bench_function("protobuf, conventions not completed", |b| {
        b.iter(|| raw.export(ExportRequest::new(body).content_type("application/x-protobuf")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = ingest
}
criterion_main!(benches);
