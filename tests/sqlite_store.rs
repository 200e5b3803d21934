//! `Tracer::sqlite`: a real SQLite file in the reference's format. What goes in comes back
//! (every field and value kind), every filter answers as the in-memory store does, and the
//! file survives restarts, several writers, a killed writer and other people's files.

mod common;
#[path = "common/spans.rs"]
mod spans;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{in_microseconds as as_stored, Kept};
use proptest::prelude::*;
use spans::{record, shape};
use tracekit::sinks::Overflow;
use tracekit::stores::SqliteConfig;
use tracekit::{
    Error, Map, Scope, SpanKind, StoreProblem, Trace, TraceFilter, TraceId, Tracer, Value,
};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A tee into a SQLite file and a `Kept`: `(tee, kept)`.
fn store(path: &Path) -> (Tracer, Kept) {
    let kept = Kept::default();
    let tee = Tracer::tee([Tracer::sqlite(path).unwrap(), Tracer::new(kept.clone())]);
    (tee, kept)
}

/// Exact equality, attribute order included, with floats compared by their bits.
fn assert_same(stored: &[Trace], expected: &[Trace]) {
    assert_eq!(stored, expected);
    for (s, e) in stored.iter().zip(expected) {
        assert_eq!(format!("{s:?}"), format!("{e:?}"), "order or bits differ");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn spans_read_back_exactly_as_ended(shape in shape(".{1,12}")) {
        let dir = temp();
        let path = dir.path().join("t.db");
        let (tee, kept) = store(&path);
        record(&tee, &shape, &Vec::new());
        drop(tee);
        // A new tracer on the same file: what the writer committed, read back from disk.
        let reopened = Tracer::sqlite(&path).unwrap();
        let stored = reopened.get_traces(&TraceFilter::new()).unwrap();
        // In start order; spans that start in the same microsecond stay in the order they
        // were written (as they ended).
        let mut expected: Vec<Trace> = kept.spans().into_iter().map(as_stored).collect();
        expected.sort_by_key(|t| t.started_at);
        assert_same(&stored, &expected);
    }
}

#[test]
fn extreme_values_are_lossless() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracer = Tracer::sqlite(&path).unwrap();
    let mut nested = Map::new();
    nested.insert("z", 1);
    nested.insert("a", Value::from(vec![Value::from("x"), Value::Null]));
    nested.insert("m", 2.5);
    let values: Vec<(&str, Value)> = vec![
        ("i64.min", Value::Int(i64::MIN)),
        ("i64.max", Value::Int(i64::MAX)),
        ("u64.max", Value::UInt(u64::MAX)),
        ("beyond.2^53", Value::Int((1 << 53) + 1)),
        ("f.tiny", Value::Float(5e-324)),
        ("f.max", Value::Float(f64::MAX)),
        ("f.negzero", Value::Float(-0.0)),
        ("f.third", Value::Float(1.0 / 3.0)),
        ("f.inf", Value::Float(f64::INFINITY)),
        ("f.-inf", Value::Float(f64::NEG_INFINITY)),
        ("f.nan", Value::Float(f64::NAN)),
        (
            "text",
            Value::from("emoji 😀, RTL עברית, NUL \0, quote \" backslash \\ DEL \u{7f}"),
        ),
        ("nested", Value::Map(nested.clone())),
        ("ünïcödé kéy", Value::from(true)),
    ];
    {
        let span = tracer.trace("values");
        for (k, v) in &values {
            span.add_attribute(*k, v.clone());
        }
    }
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    let attributes = &spans[0].attributes;
    for (k, v) in &values {
        let got = attributes.get(k).unwrap_or_else(|| panic!("{k} missing"));
        assert_eq!(format!("{got:?}"), format!("{v:?}"), "{k}");
    }
    let keys: Vec<_> = attributes
        .get("nested")
        .unwrap()
        .as_map()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["z", "a", "m"]);
    // The bits of -0.0 and of NaN's kind survive too.
    assert!(attributes
        .get("f.negzero")
        .unwrap()
        .as_f64()
        .unwrap()
        .is_sign_negative());
    assert!(attributes.get("f.nan").unwrap().as_f64().unwrap().is_nan());
}

#[test]
fn rows_are_the_references() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracer = Tracer::sqlite(SqliteConfig::new(&path).identifier("MyAgent")).unwrap();
    tracer.set_resource_attribute("service.name", "MyAgent");
    {
        let parent = tracer.span("parent").kind(SpanKind::Server).start();
        parent.add_inheritable_attribute("ai.conversation.id", "conv-1");
        parent.add_inheritable_attribute(
            "ai.auth.context",
            Value::from(serde_json::json!({"principal_id": "user123"})),
        );
        drop(
            tracer
                .span("child")
                .attribute("ai.trace.type", "tool-invocation")
                .attribute("n", 1.5)
                .start(),
        );
    }
    tracer.flush().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The table and indexes exactly as the reference creates them (tests/golden/live-sqlite-rows.txt).
    let schema: Vec<String> = conn
        .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'traces' ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let reference = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/live-sqlite-rows.txt"
    ))
    .unwrap();
    // Plus tracekit's own index for listing traces (issue 27), named as such.
    let (ours, theirs): (Vec<&String>, Vec<&String>) =
        schema.iter().partition(|sql| sql.contains("tracekit_"));
    for sql in &theirs {
        assert!(
            reference.contains(sql.as_str()),
            "not the reference's: {sql}"
        );
    }
    assert_eq!((theirs.len(), ours.len()), (6, 1), "{schema:?}");
    // name, kind, attributes, parent, resource, started_at, conversation_id
    type Row = (
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = conn
        .prepare("SELECT span_name, span_kind, attributes, parent_span_id, resource_attributes, started_at, conversation_id FROM traces ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    let (name, kind, attributes, parent, resource, started, conversation) = &rows[0];
    assert_eq!((name.as_str(), kind.as_str()), ("child", "INTERNAL"));
    assert_eq!(
        attributes,
        r#"{"ai.conversation.id": "conv-1", "ai.auth.context": {"principal_id": "user123"}, "ai.trace.type": "tool-invocation", "n": 1.5}"#
    );
    assert!(parent.as_ref().is_some_and(|p| p.len() == 16));
    assert_eq!(resource, r#"{"service.name": "MyAgent"}"#);
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
            .unwrap()
            .is_match(started)
    );
    assert_eq!(conversation.as_deref(), Some("conv-1"));
    assert_eq!(rows[1].1, "SERVER");
    assert_eq!(rows[1].3, None);
}

/// The spans of a small agent run, for the filter tests.
fn conversation_spans(tracer: &Tracer) {
    for (conversation, subcontext) in [("c-1", None), ("c-1", Some("sub")), ("c-2", None)] {
        let turn = tracer.span("turn").kind(SpanKind::Server).start();
        turn.add_inheritable_attribute("ai.conversation.id", conversation);
        if let Some(sub) = subcontext {
            turn.add_inheritable_attribute("ai.subcontext.id", sub);
        }
        turn.add_attribute(
            "ai.auth.context",
            Value::from(serde_json::json!({"principal_id": "u1"})),
        );
        for (tool, n) in [("search", 1), ("weather", 2)] {
            drop(
                tracer
                    .span(tool)
                    .attribute("ai.trace.type", "tool-invocation")
                    .attribute("n", n)
                    .start(),
            );
        }
    }
    let explicit_null = tracer.trace("null-sub");
    explicit_null.add_attribute("ai.conversation.id", "c-1");
    explicit_null.add_attribute("ai.subcontext.id", Value::Null);
}

#[test]
fn every_filter_answers_as_the_in_memory_store() {
    let dir = temp();
    let memory = Tracer::in_memory(1000);
    let sqlite = Tracer::sqlite(dir.path().join("t.db")).unwrap();
    let tee = Tracer::tee([memory.clone(), sqlite.clone()]);
    conversation_spans(&tee);
    let all = memory.get_traces(&TraceFilter::new()).unwrap();
    let trace = all[0].trace_id;
    let filters = [
        TraceFilter::new(),
        TraceFilter::new().trace_id(trace),
        TraceFilter::new().trace_id(trace).attribute("n", 2),
        TraceFilter::new().attribute("ai.conversation.id", "c-1"),
        TraceFilter::new()
            .attribute("ai.conversation.id", "c-1")
            .attribute("ai.subcontext.id", "sub"),
        TraceFilter::new()
            .attribute("ai.conversation.id", "c-1")
            .attribute("ai.subcontext.id", Value::Null),
        TraceFilter::new()
            .attribute("ai.conversation.id", "c-2")
            .attribute("ai.trace.type", "tool-invocation"),
        TraceFilter::new().attribute(
            "ai.auth.context",
            Value::from(serde_json::json!({"principal_id": "u1"})),
        ),
        TraceFilter::new().attribute("n", 1.0),
        TraceFilter::new().attribute("n", 3),
        TraceFilter::new().attribute("missing", Value::Null),
        TraceFilter::new().attribute("ai.conversation.id", "nope"),
        TraceFilter::new().trace_id(tracekit::TraceId::random()),
    ];
    for filter in &filters {
        let want = memory.get_traces(filter).unwrap();
        let got = sqlite.get_traces(filter).unwrap();
        assert!(got.is_sorted_by_key(|t| t.started_at));
        // Spans starting in the same microsecond may come in either order.
        let by_id = |s: Vec<Trace>| {
            let mut s = s;
            s.sort_by_key(|t| t.span_id);
            s
        };
        assert_eq!(
            by_id(got),
            by_id(want.into_iter().map(as_stored).collect()),
            "{filter:?}"
        );
    }
}

#[test]
fn spans_come_back_by_start_and_keep_their_parent_when_it_is_not_in_the_result() {
    let dir = temp();
    let tracer = Tracer::sqlite(dir.path().join("t.db")).unwrap();
    conversation_spans(&tracer);
    let tools = tracer
        .get_traces(&TraceFilter::new().attribute("ai.trace.type", "tool-invocation"))
        .unwrap();
    assert_eq!(tools.len(), 6);
    assert!(tools.is_sorted_by_key(|t| t.started_at));
    assert!(tools.iter().all(|t| t.parent_span_id.is_some()));
    let turns = tracer
        .get_traces(&TraceFilter::new().attribute("n", 1))
        .unwrap();
    assert_eq!(common::names(&turns), ["search", "search", "search"]);
}

#[test]
fn the_identifier_separates_agents_sharing_a_file() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let a = Tracer::sqlite(SqliteConfig::new(&path).identifier("a")).unwrap();
    let b = Tracer::sqlite(SqliteConfig::new(&path).identifier("b")).unwrap();
    let none = Tracer::sqlite(&path).unwrap();
    drop(a.trace("from-a"));
    drop(b.trace("from-b"));
    drop(none.trace("from-none"));
    for t in [&a, &b, &none] {
        t.flush().unwrap();
    }
    assert_eq!(
        common::names(&a.get_traces(&TraceFilter::new()).unwrap()),
        ["from-a"]
    );
    assert_eq!(
        common::names(&b.get_traces(&TraceFilter::new()).unwrap()),
        ["from-b"]
    );
    assert_eq!(
        common::names(&none.get_traces(&TraceFilter::new()).unwrap()),
        ["from-none"]
    );
}

#[test]
fn dropping_the_last_handle_flushes_and_a_restart_reads_everything() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracer = Tracer::sqlite(&path).unwrap();
    for i in 0..5000 {
        drop(tracer.span("work").attribute("i", i).start());
    }
    let stats = tracer.stats();
    assert_eq!(stats.spans_accepted, 5000);
    drop(tracer);
    let reopened = Tracer::sqlite(&path).unwrap();
    let spans = reopened.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(spans.len(), 5000);
    let mut seen: Vec<i64> = spans
        .iter()
        .map(|t| t.attributes.get("i").unwrap().as_i64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..5000).collect::<Vec<_>>());
}

#[test]
fn many_threads_and_tracers_in_one_process_lose_nothing() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracers: Vec<Tracer> = (0..3)
        .map(|_| Tracer::sqlite(SqliteConfig::new(&path).max_export_batch_size(64)).unwrap())
        .collect();
    std::thread::scope(|s| {
        for (t, tracer) in tracers.iter().enumerate() {
            for thread in 0..2 {
                s.spawn(move || {
                    for i in 0..2000 {
                        drop(
                            tracer
                                .span("w")
                                .attribute("who", format!("{t}/{thread}/{i}"))
                                .start(),
                        );
                    }
                });
            }
        }
    });
    for t in &tracers {
        t.flush().unwrap();
        let stats = t.stats();
        assert_eq!(
            (
                stats.spans_persisted,
                stats.spans_dropped,
                stats.sink_failures
            ),
            (4000, 0, 0)
        );
    }
    let spans = tracers[0].get_traces(&TraceFilter::new()).unwrap();
    let mut who: Vec<String> = spans
        .iter()
        .map(|t| {
            t.attributes
                .get("who")
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    who.sort();
    who.dedup();
    assert_eq!(who.len(), 12_000);
}

/// Runs this test binary again as a writer process (see `writer_process`).
fn writer(path: &Path, role: &str, spans: u32) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "writer_process",
        "--exact",
        "--nocapture",
        "--include-ignored",
    ])
    .env(
        "TRACEKIT_TEST_WRITER",
        format!("{role}:{spans}:{}", path.display()),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    cmd
}

/// Not a test by itself: the child process of the two-process and killed-writer tests.
#[test]
#[ignore = "run as a child process by other tests"]
fn writer_process() {
    let Ok(spec) = std::env::var("TRACEKIT_TEST_WRITER") else {
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let (role, spans, path) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let spans: u32 = spans.parse().unwrap();
    let tracer = Tracer::sqlite(SqliteConfig::new(path).max_export_batch_size(50)).unwrap();
    for i in 0..spans {
        drop(
            tracer
                .span("w")
                .attribute("who", format!("{role}/{i}"))
                .start(),
        );
    }
    tracer.flush().unwrap();
    if role == "doomed" {
        println!("flushed");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        // These are accepted but never flushed; then the process dies without unwinding.
        for i in spans..spans * 100 {
            drop(
                tracer
                    .span("w")
                    .attribute("who", format!("{role}/{i}"))
                    .start(),
            );
        }
        std::process::abort();
    }
}

#[test]
fn two_processes_write_one_file_without_losing_or_repeating_a_span() {
    let dir = temp();
    let path = dir.path().join("t.db");
    // Created first, so both children open an existing file (they would also race safely).
    drop(Tracer::sqlite(&path).unwrap());
    let children: Vec<_> = ["one", "two"]
        .iter()
        .map(|role| writer(&path, role, 20_000).spawn().unwrap())
        .collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    let spans = Tracer::sqlite(&path)
        .unwrap()
        .get_traces(&TraceFilter::new())
        .unwrap();
    assert_eq!(spans.len(), 40_000);
    let mut who: Vec<&str> = spans
        .iter()
        .map(|t| t.attributes.get("who").unwrap().as_str().unwrap())
        .collect();
    who.sort_unstable();
    who.dedup();
    assert_eq!(who.len(), 40_000, "a span was written twice");
}

#[test]
fn a_killed_writer_loses_at_most_its_unflushed_queue() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let out = writer(&path, "doomed", 3_000).output().unwrap();
    assert!(!out.status.success(), "the child aborts");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| *l == "flushed")
            .count(),
        1
    );
    let spans = Tracer::sqlite(&path)
        .unwrap()
        .get_traces(&TraceFilter::new())
        .unwrap();
    let mut who: Vec<u32> = spans
        .iter()
        .map(|t| {
            t.attributes.get("who").unwrap().as_str().unwrap()["doomed/".len()..]
                .parse()
                .unwrap()
        })
        .collect();
    who.sort_unstable();
    // Everything flushed is there, each once; of the rest, whole batches may have landed.
    assert!(who.len() >= 3_000);
    assert_eq!(who[..3_000], (0..3_000).collect::<Vec<_>>()[..]);
    let n = who.len();
    who.dedup();
    assert_eq!(who.len(), n);
}

fn store_problem(result: Result<Tracer, Error>) -> (String, StoreProblem) {
    match result {
        Err(Error::Store { location, problem }) => (location, problem),
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[test]
fn opening_never_harms_a_users_file() {
    let dir = temp();
    // A missing directory.
    let missing = dir.path().join("no/such/dir/t.db");
    let (location, problem) = store_problem(Tracer::sqlite(&missing));
    assert_eq!(problem, StoreProblem::MissingDirectory);
    assert!(location.contains("no/such/dir"));
    assert!(!missing.parent().unwrap().exists());

    // A file that is not a database stays as it was.
    let text = dir.path().join("notes.txt");
    let content = "my notes, not a database\n".repeat(200);
    std::fs::write(&text, &content).unwrap();
    let (location, problem) = store_problem(Tracer::sqlite(&text));
    assert_eq!(problem, StoreProblem::NotADatabase);
    assert!(location.ends_with("notes.txt"));
    assert_eq!(std::fs::read_to_string(&text).unwrap(), content);
    let message = Error::Store { location, problem }.to_string();
    assert!(message.contains("choose another path"), "{message}");

    // Someone else's `traces` table.
    let other = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch(
        "CREATE TABLE traces (a TEXT, b INTEGER); INSERT INTO traces VALUES ('x', 1);",
    )
    .unwrap();
    drop(conn);
    let (_, problem) = store_problem(Tracer::sqlite(&other));
    assert_eq!(
        problem,
        StoreProblem::ForeignTable {
            found: "a, b".into()
        }
    );
    let conn = rusqlite::Connection::open(&other).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM traces", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0, "nothing was added to the user's file");
}

#[test]
fn corrupt_rows_are_typed_errors_naming_the_row() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracer = Tracer::sqlite(&path).unwrap();
    drop(tracer.trace("good"));
    tracer.flush().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let insert = |trace_id: &str, started: &str, attributes: &str| {
        conn.execute(
            "INSERT INTO traces (trace_id, span_id, span_kind, span_name, span_status, started_at, attributes) VALUES (?1, 'a6090c26632778d0', 'INTERNAL', 'bad', 'UNSET', ?2, ?3)",
            rusqlite::params![trace_id, started, attributes],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    let good_id = "d065753a35e29066b9245130a24c201f";
    let cases = [
        (
            good_id,
            "2026-11-21T22:40:16.021785+00:00",
            "{\"a\": ",
            "attributes",
        ),
        ("not-hex", "2026-11-21T22:40:16+00:00", "{}", "trace_id"),
        (good_id, "yesterday", "{}", "started_at"),
        (good_id, "2026-11-21T22:40:16+00:00", "[1, 2]", "attributes"),
    ];
    for (trace_id, started, attributes, column) in cases {
        let row = insert(trace_id, started, attributes);
        let result = tracer.get_traces(&TraceFilter::new());
        match result {
            Err(Error::Store {
                problem: StoreProblem::CorruptRow { row: which, reason },
                ..
            }) => {
                assert_eq!(which, format!("id {row} (column {column})"), "{reason}");
            }
            other => panic!("expected a corrupt row error, got {other:?}"),
        }
        conn.execute("DELETE FROM traces WHERE id = ?1", [row])
            .unwrap();
    }
    assert_eq!(
        common::names(&tracer.get_traces(&TraceFilter::new()).unwrap()),
        ["good"]
    );
}

#[test]
fn a_full_queue_drops_and_counts_and_block_waits_for_room() {
    let dir = temp();
    let path = dir.path().join("t.db");
    let tracer = Tracer::sqlite(
        SqliteConfig::new(&path)
            .max_queue_size(100)
            .max_export_batch_size(10)
            .busy_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    // Another connection holds the write lock: the writer waits, the queue fills.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    for _ in 0..1000 {
        drop(tracer.trace("x"));
    }
    let stats = tracer.stats();
    assert!(stats.spans_dropped >= 800, "{stats:?}");
    assert!(stats.spans_pending <= 100, "{stats:?}");
    blocker.execute_batch("COMMIT").unwrap();
    tracer.flush().unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_accepted, 1000);
    assert_eq!(
        stats.spans_persisted + stats.spans_dropped,
        1000,
        "{stats:?}"
    );
    assert_eq!(
        tracer.get_traces(&TraceFilter::new()).unwrap().len() as u64,
        stats.spans_persisted
    );

    // Block: the traced thread waits for room instead, so nothing is dropped.
    let path = dir.path().join("block.db");
    let tracer = Tracer::sqlite(
        SqliteConfig::new(&path)
            .max_queue_size(10)
            .max_export_batch_size(5)
            .overflow(Overflow::Block(Duration::from_secs(10))),
    )
    .unwrap();
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        blocker.execute_batch("COMMIT").unwrap();
    });
    for _ in 0..100 {
        drop(tracer.trace("x"));
    }
    release.join().unwrap();
    tracer.flush().unwrap();
    let stats = tracer.stats();
    assert_eq!(
        (stats.spans_persisted, stats.spans_dropped),
        (100, 0),
        "{stats:?}"
    );
}

#[test]
fn reads_a_file_the_reference_wrote() {
    // The reference's rows from outputs/live-sqlite-rows.txt, inserted as its SqliteTracer did.
    let dir = temp();
    let path: PathBuf = dir.path().join("ref.db");
    drop(Tracer::sqlite(SqliteConfig::new(&path).identifier("MyAgent")).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(r#"
        INSERT INTO traces (trace_id, span_id, span_kind, span_name, span_status, scope_name, scope_version, resource_attributes, parent_span_id, started_at, ended_at, attributes, identifier, conversation_id, subcontext_id) VALUES
        ('d065753a35e29066b9245130a24c201f', 'd70b34a05e162469', 'INTERNAL', 'child', 'UNSET', 'generative-ai-toolkit', 'current', '{"service.name": "MyAgent"}', 'a6090c26632778d0', '2026-11-21T22:40:16.021785+00:00', '2026-11-21T22:40:16.021840+00:00', '{"ai.conversation.id": "conv-1", "ai.auth.context": {"principal_id": "user123"}, "ai.trace.type": "tool-invocation", "ai.tool.input": {"bytes": {"__bytes__": "Gar8O\"98E(!!3"}, "when": {"__datetime__": "2025-07-04T11:12:48.882123+00:00"}}}', 'MyAgent', 'conv-1', NULL),
        ('d065753a35e29066b9245130a24c201f', 'a6090c26632778d0', 'SERVER', 'parent', 'UNSET', 'generative-ai-toolkit', 'current', '{"service.name": "MyAgent"}', NULL, '2026-11-21T22:40:16.021754+00:00', '2026-11-21T22:40:16.023138+00:00', '{"ai.conversation.id": "conv-1", "ai.auth.context": {"principal_id": "user123"}}', 'MyAgent', 'conv-1', NULL);
    "#).unwrap();
    let tracer = Tracer::sqlite(SqliteConfig::new(&path).identifier("MyAgent")).unwrap();
    let spans = tracer
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", "conv-1"))
        .unwrap();
    assert_eq!(common::names(&spans), ["parent", "child"]);
    let child = &spans[1];
    assert_eq!(child.parent_span_id, Some(spans[0].span_id));
    assert_eq!(child.scope, Scope::new("generative-ai-toolkit", "current"));
    assert_eq!(
        child.started_at.to_string(),
        "2026-11-21T22:40:16.021785+00:00"
    );
    let input = child.attributes.get("ai.tool.input").unwrap();
    assert_eq!(
        input.get("bytes").unwrap(),
        &Value::from(serde_json::json!([0, 1]))
    );
    assert_eq!(
        input.get("when").unwrap(),
        "2025-07-04T11:12:48.882123+00:00"
    );
    assert_eq!(
        child.resource_attributes.get("service.name").unwrap(),
        "MyAgent"
    );
}

/// `list_traces` on a file walks an index a page at a time; its pages are what a scan of every
/// span gives, for each kind of condition, in both orders.
#[test]
fn listing_traces_pages_through_the_file_as_a_scan_would() {
    use tracekit::query::{self, Predicate, Query};
    let dir = temp();
    let tracer = Tracer::sqlite(dir.path().join("t.db")).unwrap();
    let mut middle = None;
    for i in 0..40 {
        let root = tracer.trace(format!("turn-{i}"));
        root.add_inheritable_attribute("ai.conversation.id", format!("c-{}", i % 3));
        for j in 0..(i % 4) {
            let tool = tracer.trace("tool");
            tool.add_attribute(
                "ai.tool.name",
                if (i + j) % 2 == 0 { "search" } else { "fetch" },
            );
            if i % 5 == 0 {
                tool.set_status(tracekit::SpanStatus::Error);
            }
        }
        if i == 20 {
            middle = Some(tracekit::Timestamp::now());
        }
    }
    tracer.flush().unwrap();
    let all = tracer.get_traces(&TraceFilter::new()).unwrap();
    let middle = middle.unwrap();
    let queries = [
        Query::new(),
        Query::new().oldest_first(),
        Query::new().errors_only(),
        Query::new().conversation("c-1"),
        Query::new()
            .span_name("tool")
            .attribute(Predicate::equals("ai.tool.name", "search")),
        Query::new()
            .attribute(Predicate::prefix("ai.tool.name", "fe"))
            .oldest_first(),
        Query::new().attribute(Predicate::exists("ai.tool.name")),
        Query::new().since(middle),
        Query::new().until(middle).oldest_first(),
    ];
    for q in queries {
        let expected: Vec<_> = query::scan(&all, &q.clone().limit(1_000))
            .items
            .into_iter()
            .map(|h| h.trace_id)
            .collect();
        let mut got = Vec::new();
        let mut page_query = q.clone().limit(7);
        loop {
            let page = tracer.list_traces(&page_query).unwrap();
            assert!(page.items.len() <= 7);
            got.extend(page.items.iter().map(|h| h.trace_id));
            match page.next {
                Some(next) => page_query = page_query.after(next),
                None => break,
            }
        }
        assert_eq!(got, expected, "{q:?}");
        assert!(!expected.is_empty(), "{q:?}");
    }
    let head = &tracer.list_traces(&Query::new().limit(1)).unwrap().items[0];
    assert_eq!(head.root_name.as_deref(), Some("turn-39"));
    assert_eq!((head.spans, head.errors), (4, 0));
    assert_eq!(head.conversation_id.as_deref(), Some("c-0"));
}

/// A store opened to read only: reads what a writer (another connection, as another process
/// would be) has committed while it writes, never creates or changes the file, and drops and
/// counts spans ended into it; a missing file or another kind of file is a typed error.
#[test]
fn a_read_only_store_reads_a_file_being_written_and_never_changes_it() {
    use tracekit::query::Query;
    let dir = temp();
    let path = dir.path().join("t.db");
    let missing = Tracer::sqlite(SqliteConfig::new(&path).read_only());
    assert!(matches!(
        missing,
        Err(Error::Store {
            problem: StoreProblem::Missing,
            ..
        })
    ));
    assert!(!path.exists(), "a read-only open created the file");
    let writer = Tracer::sqlite(&path).unwrap();
    drop(writer.trace("first"));
    writer.flush().unwrap();
    let reader = Tracer::sqlite(SqliteConfig::new(&path).read_only()).unwrap();
    assert_eq!(reader.list_traces(&Query::new()).unwrap().items.len(), 1);
    // The writer goes on; the reader sees each commit.
    drop(writer.trace("second"));
    writer.flush().unwrap();
    let page = reader.list_traces(&Query::new()).unwrap();
    assert_eq!(page.items[0].root_name.as_deref(), Some("second"));
    assert_eq!(reader.get_traces(&TraceFilter::new()).unwrap().len(), 2);
    // Nothing is written through it.
    drop(writer);
    let before = std::fs::read(&path).unwrap();
    drop(reader.trace("ignored"));
    reader.flush().unwrap();
    assert_eq!(reader.stats().spans_dropped, 1);
    assert_eq!(reader.list_traces(&Query::new()).unwrap().items.len(), 2);
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file changed");
    // Not a store.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    assert!(Tracer::sqlite(SqliteConfig::new(&text).read_only()).is_err());
    let empty = dir.path().join("empty.db");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE other (a)")
        .unwrap();
    let err = Tracer::sqlite(SqliteConfig::new(&empty).read_only()).unwrap_err();
    assert!(err.to_string().contains("no `traces` table"), "{err}");
}

/// Pages through `list_traces` to the end.
fn all_pages(tracer: &Tracer, query: tracekit::query::Query) -> Vec<TraceId> {
    let mut got = Vec::new();
    let mut q = query;
    loop {
        let page = tracer.list_traces(&q).unwrap();
        got.extend(page.items.iter().map(|h| h.trace_id));
        match page.next {
            Some(next) => q = q.after(next),
            None => return got,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The same spans in memory and in a SQLite file list the same traces, page by page,
    /// whatever the query.
    #[test]
    fn memory_and_sqlite_list_the_same_traces(
        traces in proptest::collection::vec(
            (0..3usize, proptest::collection::vec((any::<bool>(), any::<bool>()), 0..4)),
            1..12,
        ),
        errors_only in any::<bool>(),
        conversation in proptest::option::of(0..3usize),
        prefix in proptest::option::of(prop_oneof![Just("se"), Just("fe"), Just("x")]),
        oldest_first in any::<bool>(),
        limit in 1..5usize,
    ) {
        use tracekit::query::{self, Predicate, Query};
        let dir = temp();
        let memory = Tracer::in_memory(10_000);
        let sqlite = Tracer::sqlite(dir.path().join("p.db")).unwrap();
        let both = Tracer::tee([memory.clone(), sqlite.clone()]);
        for (conv, tools) in &traces {
            let turn = both.trace("turn");
            turn.add_inheritable_attribute("ai.conversation.id", format!("c-{conv}"));
            for (search, failed) in tools {
                let tool = both.trace("tool");
                tool.add_attribute("ai.tool.name", if *search { "search" } else { "fetch" });
                if *failed {
                    tool.set_status(tracekit::SpanStatus::Error);
                }
            }
        }
        both.flush().unwrap();
        let mut q = Query::new().limit(limit);
        if errors_only {
            q = q.errors_only();
        }
        if let Some(c) = conversation {
            q = q.conversation(format!("c-{c}"));
        }
        if let Some(p) = prefix {
            q = q.attribute(Predicate::prefix("ai.tool.name", p));
        }
        if oldest_first {
            q = q.oldest_first();
        }
        // The file keeps microseconds: compare with the same spans at that precision.
        let spans: Vec<Trace> = memory
            .get_traces(&TraceFilter::new())
            .unwrap()
            .into_iter()
            .map(as_stored)
            .collect();
        let expected: Vec<TraceId> = query::scan(&spans, &q.clone().limit(1_000))
            .items
            .iter()
            .map(|h| h.trace_id)
            .collect();
        prop_assert_eq!(all_pages(&sqlite, q.clone()), expected.clone());
        // Memory at nanoseconds may order traces that start in one microsecond differently;
        // the set is the same.
        let mut from_memory = all_pages(&memory, q);
        let mut expected = expected;
        from_memory.sort_by_key(|id| id.to_int());
        expected.sort_by_key(|id| id.to_int());
        prop_assert_eq!(from_memory, expected);
    }
}

/// A cursor is a place in the order, not an offset: traces written while a reader pages do
/// not shift, repeat or hide the older ones.
#[test]
fn the_cursor_is_stable_under_concurrent_writes() {
    use tracekit::query::Query;
    let dir = temp();
    let tracer = Tracer::sqlite(dir.path().join("c.db")).unwrap();
    let write = |n: usize| {
        for i in 0..n {
            drop(tracer.trace(format!("turn-{i}")));
            std::thread::sleep(Duration::from_micros(50));
        }
        tracer.flush().unwrap();
    };
    write(30);
    let before = all_pages(&tracer, Query::new());
    let first = tracer.list_traces(&Query::new().limit(10)).unwrap();
    write(10); // newer than everything listed
    let mut rest = Vec::new();
    let mut q = Query::new().limit(10).after(first.next.unwrap());
    loop {
        let page = tracer.list_traces(&q).unwrap();
        rest.extend(page.items.iter().map(|h| h.trace_id));
        match page.next {
            Some(next) => q = q.after(next),
            None => break,
        }
    }
    let firsts: Vec<TraceId> = first.items.iter().map(|h| h.trace_id).collect();
    assert_eq!([firsts, rest].concat(), before);
}

/// Following a file: a read-only follower gets each span once, in the order it was written,
/// from the mark on (`now` skips what was there, `start` does not), a large backlog in
/// several calls, and nothing when nothing was written.
#[test]
fn a_follower_gets_each_new_span_once_in_write_order() {
    use tracekit::query::Watermark;
    let dir = temp();
    let path = dir.path().join("f.db");
    let writer = Tracer::sqlite(&path).unwrap();
    drop(writer.trace("before"));
    writer.flush().unwrap();
    let reader = Tracer::sqlite(SqliteConfig::new(&path).read_only()).unwrap();
    let mut now = Watermark::now();
    let mut start = Watermark::start();
    assert!(reader.new_spans(&mut now).unwrap().is_empty());
    let names = |spans: Vec<Trace>| -> Vec<String> {
        spans.iter().map(|s| s.span_name.to_string()).collect()
    };
    assert_eq!(names(reader.new_spans(&mut start).unwrap()), ["before"]);
    for name in ["a", "b", "c"] {
        drop(writer.trace(name));
    }
    writer.flush().unwrap();
    assert_eq!(names(reader.new_spans(&mut now).unwrap()), ["a", "b", "c"]);
    assert!(
        reader.new_spans(&mut now).unwrap().is_empty(),
        "nothing new"
    );
    assert_eq!(
        names(reader.new_spans(&mut start).unwrap()),
        ["a", "b", "c"]
    );
    // Another writer (another connection, as another process) is followed too.
    let other = Tracer::sqlite(&path).unwrap();
    for i in 0..10_050 {
        drop(other.trace(format!("bulk-{i}")));
    }
    other.shutdown().unwrap();
    let first = reader.new_spans(&mut now).unwrap();
    let second = reader.new_spans(&mut now).unwrap();
    assert_eq!((first.len(), second.len()), (10_000, 50), "in pieces");
    assert_eq!(first[0].span_name, "bulk-0");
    assert_eq!(second[49].span_name, "bulk-10049");
    assert!(reader.new_spans(&mut now).unwrap().is_empty());
    // A writing tracer follows its own file, once what it accepted is written.
    let mut own = Watermark::now();
    assert!(writer.new_spans(&mut own).unwrap().is_empty());
    drop(writer.trace("d"));
    assert_eq!(names(writer.new_spans(&mut own).unwrap()), ["d"]);
}

/// `query_spans` streams the spans of the traces a query selects, trace by trace, the same
/// from a file as from memory.
#[test]
fn spans_stream_trace_by_trace_as_from_memory() {
    use tracekit::query::Query;
    let dir = temp();
    let file = Tracer::sqlite(dir.path().join("s.db")).unwrap();
    let memory = Tracer::in_memory(10_000);
    for tracer in [&file, &memory] {
        for i in 0..25 {
            let turn = tracer.trace(format!("turn-{i}"));
            turn.add_inheritable_attribute("ai.conversation.id", format!("c-{}", i % 2));
            drop(tracer.trace("tool"));
            drop(turn);
            std::thread::sleep(Duration::from_micros(50));
        }
        tracer.flush().unwrap();
    }
    for query in [
        Query::new().limit(4),
        Query::new().oldest_first().limit(7),
        Query::new().conversation("c-1").limit(3),
    ] {
        // Each trace's span names (sorted: a root and its child may start in the same
        // microsecond, which is all a file keeps), trace after trace as streamed.
        let stream = |t: &Tracer| -> Vec<Vec<String>> {
            let mut traces: Vec<(TraceId, Vec<String>)> = Vec::new();
            for span in t.query_spans(query.clone()) {
                let span = span.unwrap();
                match traces.last_mut() {
                    Some((id, names)) if *id == span.trace_id => {
                        names.push(span.span_name.to_string())
                    }
                    _ => traces.push((span.trace_id, vec![span.span_name.to_string()])),
                }
            }
            traces
                .into_iter()
                .map(|(_, mut names)| {
                    names.sort();
                    names
                })
                .collect()
        };
        let (from_file, from_memory) = (stream(&file), stream(&memory));
        assert_eq!(from_file, from_memory, "{query:?}");
        let traces = if query.clone() == Query::new().conversation("c-1").limit(3) {
            12
        } else {
            25
        };
        assert_eq!(
            from_file.len(),
            traces,
            "each trace once, together: {query:?}"
        );
        assert!(from_file
            .iter()
            .all(|names| names.len() == 2 && names[0] == "tool"));
    }
}
