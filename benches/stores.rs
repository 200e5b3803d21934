//! Stores: how fast spans get into the file, and how fast they come back.
//!
//! * Throughput into `Tracer::sqlite`: one thread ending 300 000 spans as fast as it can (queue
//!   large enough that nothing drops), timed until `flush()` returns, beside rusqlite inserting
//!   the same number of rows already encoded (SQLite's own ceiling for the reference's table
//!   and its five indexes); the same with one commit per
//!   span (`batch_size(1)`, the reference's way); and, if `TRACEKIT_REFERENCE_PYTHON` names a
//!   Python with `generative-ai-toolkit`, the reference's own `SqliteTracer` on this machine.
//! * Two threads at 25 000 spans/s each for two seconds (half of 100 000/s) with the default
//!   queue: nothing may be dropped.
//! * DynamoDB (with this package's `dynamodb` feature and `TRACEKIT_DYNAMODB_ENDPOINT`):
//!   batched writes against one `PutItem` per span.
//! * `get_traces` on a file of 1 000 000 spans (10 000 conversations of 100 spans): by
//!   conversation (the reference's index) against a filter on an attribute no index covers.
//!
//! `cargo bench --bench stores`. See BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tracekit::sinks::Overflow;
use tracekit::stores::SqliteConfig;
use tracekit::{SpanKind, TraceFilter, Tracer};

fn span(tracer: &Tracer, i: u64) {
    drop(
        tracer
            .span("tool")
            .kind(SpanKind::Client)
            .attribute("ai.trace.type", "tool-invocation")
            .attribute("i", i)
            .start(),
    );
}

/// Spans per second from one thread into a fresh file, until flushed.
fn throughput(dir: &Path, name: &str, batch_size: usize, spans: u64) -> f64 {
    let tracer = Tracer::sqlite(
        SqliteConfig::new(dir.join(name))
            .max_queue_size(spans as usize)
            .max_export_batch_size(batch_size),
    )
    .unwrap();
    let start = Instant::now();
    (0..spans).for_each(|i| span(&tracer, i));
    tracer.flush_within(Duration::from_secs(600)).unwrap();
    let elapsed = start.elapsed();
    let stats = tracer.stats();
    assert_eq!(stats.spans_persisted, spans, "{stats:?}");
    spans as f64 / elapsed.as_secs_f64()
}

/// The ceiling: rows already encoded, inserted straight into the reference's table with
/// rusqlite in transactions of 16 384 (no tracekit), in rows/s.
fn raw_sqlite(dir: &Path, rows: u64) -> f64 {
    let path = dir.join("raw.db");
    drop(Tracer::sqlite(&path).unwrap()); // the reference's schema
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.pragma_update(None, "cache_size", -65_536).unwrap();
    let encoded: Vec<[String; 4]> = (0..rows)
        .map(|i| {
            [
                tracekit::TraceId::random().to_string(),
                tracekit::SpanId::random().to_string(),
                format!("2026-11-21T22:40:16.{:06}+00:00", i % 1_000_000),
                format!(r#"{{"ai.trace.type": "tool-invocation", "i": {i}}}"#),
            ]
        })
        .collect();
    let start = Instant::now();
    for chunk in encoded.chunks(16_384) {
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO traces (trace_id, span_id, span_kind, span_name, span_status, \
                     scope_name, scope_version, resource_attributes, parent_span_id, started_at, \
                     ended_at, attributes, identifier, conversation_id, subcontext_id) VALUES \
                     (?1, ?2, 'CLIENT', 'tool', 'UNSET', 'tracekit', '0.1.0', '{}', NULL, ?3, ?3, ?4, NULL, NULL, NULL)",
                )
                .unwrap();
            for [trace, span, at, attributes] in chunk {
                insert.execute([trace, span, at, attributes]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    rows as f64 / start.elapsed().as_secs_f64()
}

/// The reference's `SqliteTracer` writing `spans` spans (one commit each), in spans/s.
fn reference_throughput(dir: &Path, spans: u64) -> Option<f64> {
    let python = std::env::var_os("TRACEKIT_REFERENCE_PYTHON")?;
    let script = r#"
import sys, time
from generative_ai_toolkit.tracer.tracer import SqliteTracer
t = SqliteTracer(db_path=sys.argv[1])
n = int(sys.argv[2])
start = time.perf_counter()
for i in range(n):
    with t.trace("tool", span_kind="CLIENT") as s:
        s.add_attribute("ai.trace.type", "tool-invocation")
        s.add_attribute("i", i)
print(n / (time.perf_counter() - start))
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(dir.join("reference.db"))
        .arg(spans.to_string())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Two threads, each ending `rate` spans per second for `seconds`; returns the drops.
fn paced(dir: &Path, rate: u64, seconds: u64) -> (u64, u64) {
    let tracer = Tracer::sqlite(dir.join("paced.db")).unwrap();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let start = Instant::now();
                for i in 0..rate * seconds {
                    let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    span(&tracer, i);
                }
            });
        }
    });
    tracer.flush().unwrap();
    let stats = tracer.stats();
    (stats.spans_persisted, stats.spans_dropped)
}

/// A file of `conversations` × `per` spans: each conversation one trace.
fn big_file(path: &Path, conversations: u64, per: u64) -> Tracer {
    let tracer = Tracer::sqlite(
        SqliteConfig::new(path)
            .max_export_batch_size(4096)
            .overflow(Overflow::Block(Duration::from_secs(60))),
    )
    .unwrap();
    tracer.set_resource_attribute("service.name", "BenchAgent");
    let start = Instant::now();
    for c in 0..conversations {
        let turn = tracer.span("converse").kind(SpanKind::Server).start();
        turn.add_inheritable_attribute("ai.conversation.id", format!("conv-{c}"));
        for i in 1..per {
            span(&tracer, c * per + i);
        }
    }
    tracer.flush_within(Duration::from_secs(600)).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_persisted, conversations * per, "{stats:?}");
    println!(
        "built a file of {} spans in {:.1} s ({:.0} spans/s, {:.0} MB)",
        conversations * per,
        start.elapsed().as_secs_f64(),
        (conversations * per) as f64 / start.elapsed().as_secs_f64(),
        std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1e6)
    );
    tracer
}

fn stores(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();

    println!("\nthroughput into Tracer::sqlite, one thread, until flushed:");
    let mut batched = Vec::new();
    let mut raw = Vec::new();
    for r in 0..3 {
        batched.push(throughput(
            dir.path(),
            &format!("batched-{r}.db"),
            16_384,
            300_000,
        ));
        raw.push(raw_sqlite(dir.path(), 300_000));
        std::fs::remove_file(dir.path().join("raw.db")).ok();
    }
    println!(
        "  tracekit, default settings: {:.0} spans/s (runs: {batched:.0?})",
        median(&batched)
    );
    println!(
        "  rusqlite alone, rows already encoded, same table and transactions: {:.0} rows/s (runs: {raw:.0?}); tracekit / that = {:.2}",
        median(&raw),
        median(&batched) / median(&raw)
    );
    let single = throughput(dir.path(), "single.db", 1, 20_000);
    println!("  one commit per span (the reference's way): {single:.0} spans/s");
    match reference_throughput(dir.path(), 20_000) {
        Some(r) => println!("  the reference's SqliteTracer (Python): {r:.0} spans/s; tracekit batched / reference = {:.0}x", median(&batched) / r),
        None => println!("  the reference's SqliteTracer: not run (set TRACEKIT_REFERENCE_PYTHON)"),
    }
    let (persisted, dropped) = paced(dir.path(), 25_000, 2);
    println!(
        "  two threads at 25 000 spans/s each for 2 s: {persisted} persisted, {dropped} dropped"
    );
    assert_eq!(dropped, 0);

    dynamodb(20_000);

    let path = dir.path().join("million.db");
    let tracer = big_file(&path, 10_000, 100);
    let mut g = c.benchmark_group("get_traces on 1 000 000 spans");
    g.sample_size(10);
    let by_conversation = TraceFilter::new().attribute("ai.conversation.id", "conv-5000");
    let by_trace = {
        let spans = tracer.get_traces(&by_conversation).unwrap();
        assert_eq!(spans.len(), 100);
        TraceFilter::new().trace_id(spans[0].trace_id)
    };
    let unindexed = TraceFilter::new().attribute("i", 500_050);
    assert_eq!(tracer.get_traces(&unindexed).unwrap().len(), 1);
    let mut timings = Vec::new();
    for (name, filter) in [
        ("by conversation (index), 100 spans", &by_conversation),
        ("by trace id (index), 100 spans", &by_trace),
        ("by an attribute no index covers, 1 span", &unindexed),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(tracer.get_traces(filter).unwrap()))
        });
        let start = Instant::now();
        black_box(tracer.get_traces(filter).unwrap());
        timings.push((name, start.elapsed()));
    }
    g.finish();
    println!("\nget_traces on 1 000 000 spans, one more run each:");
    for (name, t) in &timings {
        println!("  {name}: {t:?}");
    }
    println!(
        "  unindexed / by conversation = {:.0}x",
        timings[2].1.as_secs_f64() / timings[0].1.as_secs_f64()
    );
}

/// Without the `dynamodb` feature of this package, says how to include these rows.
#[cfg(not(feature = "dynamodb"))]
fn dynamodb(_spans: u64) {
    println!(
        "\nDynamoDB: not run (cargo bench -p tracekit-benches --bench stores --features dynamodb)"
    );
}

/// DynamoDB, if `TRACEKIT_DYNAMODB_ENDPOINT` names a server (`scripts/dynamodb-local.sh
/// start` prints one): tracekit's batched writes against one `PutItem` per span through the
/// same SDK (the reference's way).
#[cfg(feature = "dynamodb")]
fn dynamodb(spans: u64) {
    let Ok(url) = std::env::var("TRACEKIT_DYNAMODB_ENDPOINT") else {
        println!("\nDynamoDB: not run (set TRACEKIT_DYNAMODB_ENDPOINT)");
        return;
    };
    let table = format!("bench-{}-{}", std::process::id(), fastrand_suffix());
    let config = tracekit::DynamoDbConfig::new(&table)
        .endpoint(&url)
        .region("us-east-1")
        .static_credentials("local", "local")
        .create_table(true)
        .max_queue_size(spans as usize);
    let tracer = Tracer::dynamodb(config).unwrap();
    let start = Instant::now();
    (0..spans).for_each(|i| span(&tracer, i));
    tracer.flush_within(Duration::from_secs(600)).unwrap();
    let batched = spans as f64 / start.elapsed().as_secs_f64();
    assert_eq!(tracer.stats().spans_persisted, spans);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let put_item = runtime.block_on(async {
        use aws_sdk_dynamodb::types::AttributeValue as Av;
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "bench",
            ))
            .load()
            .await;
        let client = aws_sdk_dynamodb::Client::new(&conf);
        let n = spans / 4;
        let start = Instant::now();
        for i in 0..n {
            let id = tracekit::TraceId::random();
            let attributes = std::collections::HashMap::from([
                ("ai.trace.type".to_owned(), Av::S("tool-invocation".into())),
                ("i".to_owned(), Av::N(i.to_string())),
            ]);
            client
                .put_item()
                .table_name(&table)
                .item("pk", Av::S(format!("TRACE#{id}")))
                .item(
                    "sk",
                    Av::S(format!("SPAN#_#{i:017x}#{}", tracekit::SpanId::random())),
                )
                .item("trace_id", Av::S(id.to_string()))
                .item("span_name", Av::S("tool".into()))
                .item("span_kind", Av::S("CLIENT".into()))
                .item("span_status", Av::S("UNSET".into()))
                .item("started_at", Av::S("2026-11-21T22:40:58.426782Z".into()))
                .item("ended_at", Av::S("2026-11-21T22:40:58.426795Z".into()))
                .item("attributes", Av::M(attributes))
                .condition_expression("attribute_not_exists(pk) AND attribute_not_exists(sk)")
                .send()
                .await
                .unwrap();
        }
        n as f64 / start.elapsed().as_secs_f64()
    });
    println!("\nDynamoDB (local dynalite at {url}):");
    println!("  tracekit, BatchWriteItem of 25 from the writer thread: {batched:.0} spans/s");
    println!("  one PutItem per span, same SDK, same server: {put_item:.0} spans/s; tracekit / that = {:.1}x", batched / put_item);
}

#[cfg(feature = "dynamodb")]
fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_007
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = stores
}
criterion_main!(benches);
