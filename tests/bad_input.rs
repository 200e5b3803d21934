//! Bad input, generated: strings with every kind of control character through every renderer,
//! arbitrary JSON as filters, values and spans, hand-written SQLite rows, and traces 10 000
//! deep and 1 000 000 wide. Nothing panics, every error is typed, nothing reaches a terminal
//! raw. (The cargo-fuzz targets in fuzz/ run the same entry points for longer.)

use proptest::prelude::*;
use tracekit::render::{timeline, timeline_colored, to_jaeger_json, to_json, tree, RenderOptions};
use tracekit::sinks::ColorChoice;
use tracekit::{
    Attributes, Error, Scope, SpanId, SpanKind, SpanStatus, StoreProblem, Timestamp, Trace,
    TraceFilter, TraceId, Value,
};

/// Text that is mostly control characters, escape sequences and their pieces.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,24}",
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{2028}\\u{202e}a\\[;0-9m]{0,24}",
        Just("\x1b[2J\x1b]0;pwned\x07\r\u{9b}31m".to_owned()),
    ]
}

fn span(i: u64, name: &str, key: &str, value: &str) -> Trace {
    let at = |nanos: i64| Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + nanos);
    let mut t = Trace {
        span_name: name.to_owned().into(),
        span_kind: SpanKind::Internal,
        trace_id: TraceId::from_int(1).unwrap(),
        span_id: SpanId::from_int(i + 1).unwrap(),
        parent_span_id: SpanId::from_int(i),
        started_at: at(i as i64 * 1_000),
        ended_at: Some(at(2_000_000_000)),
        attributes: Attributes::new(),
        span_status: SpanStatus::Unset,
        resource_attributes: Attributes::new(),
        scope: Scope::default(),
        events: Vec::new(),
        snapshot_at: None,
    };
    t.attributes.insert(key.to_owned(), value);
    t.attributes.insert("ai.trace.type", "llm-invocation");
    t.attributes.insert("ai.llm.request.model", value);
    t.attributes.insert("ai.tool.input", value);
    t
}

/// What may reach a terminal: text and newlines, and (in coloured output) the renderer's own
/// SGR colour codes; tabs only in the reference's human-readable format, which keeps them in
/// multi-line values.
fn assert_terminal_safe(what: &str, text: &str) {
    let plain = regex_lite_strip_sgr(text);
    let tab_ok = what.starts_with("as_human_readable");
    if let Some(c) = plain
        .chars()
        .find(|&c| c.is_control() && c != '\n' && !(c == '\t' && tab_ok))
    {
        panic!("{what} let {c:?} through: {text:?}");
    }
}

/// Removes `ESC [ digits;... m` sequences (the renderers' colours).
fn regex_lite_strip_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let sgr = tail.strip_prefix('[').and_then(|t| {
            let end = t.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
            (t[end..].starts_with('m')).then(|| &t[end + 1..])
        });
        match sgr {
            Some(after) => rest = after,
            None => {
                out.push('\x1b');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn no_renderer_lets_control_characters_through(
        names in proptest::collection::vec(hostile(), 1..6),
        key in hostile(),
        value in hostile(),
        width in 0usize..120,
    ) {
        let spans: Vec<Trace> = names
            .iter()
            .enumerate()
            .map(|(i, name)| span(i as u64, name, &key, &value))
            .collect();
        assert_terminal_safe("tree", &tree(&spans));
        assert_terminal_safe("timeline", &timeline(&spans, width));
        assert_terminal_safe(
            "timeline_colored",
            &timeline_colored(&spans, width, ColorChoice::Always),
        );
        for t in &spans {
            assert_terminal_safe("as_human_readable", &t.as_human_readable());
            assert_terminal_safe(
                "as_human_readable (colour)",
                &t.as_human_readable_with(&RenderOptions::default().color(true).max_length(width)),
            );
        }
        // JSON escapes by itself; it must still be valid and round-trip the text.
        let json = to_json(&spans).to_string();
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert!(back.to_string().contains(&serde_json::to_string(&value).unwrap()[1..]));
        let _ = to_jaeger_json(&spans);
    }

    #[test]
    fn arbitrary_json_is_a_filter_value_or_span_or_a_typed_error(json in arbitrary_json()) {
        let text = json.to_string();
        // Errors are serde_json's typed errors; none of these may panic.
        let _ = serde_json::from_value::<TraceFilter>(json.clone());
        let _ = serde_json::from_str::<TraceFilter>(&text);
        if let Ok(v) = serde_json::from_value::<Value>(json.clone()) {
            // A value reads back as itself.
            let again: Value = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            prop_assert_eq!(again, v);
        }
        let _ = serde_json::from_str::<Trace>(&text);
    }

    #[test]
    fn arbitrary_text_is_never_a_panic(text in "(?s).{0,200}") {
        let _ = serde_json::from_str::<TraceFilter>(&text);
        let _ = serde_json::from_str::<Value>(&text);
        let _ = serde_json::from_str::<Trace>(&text);
        let _ = text.parse::<TraceId>();
        let _ = text.parse::<SpanId>();
        let _ = text.parse::<Timestamp>();
    }
}

/// JSON documents of every shape, with keys a span or filter has, so deserialisation gets past
/// the first field.
fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("trace_id".to_owned()),
        Just("span_id".to_owned()),
        Just("parent_span_id".to_owned()),
        Just("started_at".to_owned()),
        Just("ended_at".to_owned()),
        Just("attributes".to_owned()),
        Just("span_kind".to_owned()),
        Just("span_status".to_owned()),
        Just("__bytes__".to_owned()),
        Just("__datetime__".to_owned()),
        "[a-z_]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "(?s).{0,16}".prop_map(serde_json::Value::from),
        "[0-9a-f]{16,32}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("2026-11-21T22:40:16.021785+00:00")),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Values a hand-written or foreign row may hold in any column.
fn cell() -> impl Strategy<Value = rusqlite::types::Value> {
    use rusqlite::types::Value as Sql;
    prop_oneof![
        Just(Sql::Null),
        any::<i64>().prop_map(Sql::Integer),
        any::<f64>().prop_map(Sql::Real),
        "(?s).{0,24}".prop_map(Sql::Text),
        "[0-9a-f]{16,32}".prop_map(Sql::Text),
        Just(Sql::Text("2026-11-21T22:40:16.021785+00:00".into())),
        Just(Sql::Text("{\"a\": {\"__bytes__\": \"!!\"}}".into())),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Sql::Blob),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn hand_written_sqlite_rows_read_back_or_name_the_bad_row(
        rows in proptest::collection::vec(proptest::collection::vec(cell(), 15), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let tracer = tracekit::Tracer::sqlite(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        for row in &rows {
            // NOT NULL columns may refuse a row: another tool could not write it either.
            let _ = conn.execute(
                "INSERT INTO traces (trace_id, span_id, span_kind, span_name, span_status, \
                 scope_name, scope_version, resource_attributes, parent_span_id, started_at, \
                 ended_at, attributes, identifier, conversation_id, subcontext_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                rusqlite::params_from_iter(row.iter()),
            );
        }
        for filter in [
            TraceFilter::new(),
            TraceFilter::new().attribute("ai.conversation.id", "c"),
        ] {
            match tracer.get_traces(&filter) {
                Ok(_) => {}
                Err(Error::Store { problem: StoreProblem::CorruptRow { row, reason }, .. }) => {
                    prop_assert!(row.starts_with("id "), "{row}: {reason}");
                }
                Err(other) => prop_assert!(false, "untyped failure: {other:?}"),
            }
        }
    }
}

fn chain(n: u64) -> Vec<Trace> {
    (0..n).map(|i| span(i, "step", "k", "v")).collect()
}

#[test]
fn ten_thousand_deep_through_the_tracer_store_and_every_renderer() {
    use tracekit::analysis::{critical_path, summary};
    let dir = tempfile::tempdir().unwrap();
    let tracer = tracekit::Tracer::sqlite(dir.path().join("t.db")).unwrap();
    // 10 000 nested guards on one thread: the context is a list, not the call stack.
    let mut guards = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        guards.push(tracer.trace("nested"));
    }
    while let Some(guard) = guards.pop() {
        drop(guard);
    }
    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(spans.len(), 10_000);
    assert_eq!(critical_path(&spans).steps.len(), 10_000);
    assert_eq!(summary(&spans).spans, 10_000);
    assert_eq!(tree(&spans).lines().count(), 10_000);
    assert_eq!(timeline(&spans, 80).lines().count(), 10_000);
    let json = to_json(&spans);
    assert_eq!(
        json["traces"][0]["spans"].as_array().map(Vec::len),
        Some(10_000)
    );
    let _ = to_jaeger_json(&spans);
}

#[test]
fn a_million_span_trace_renders_and_analyses_in_linear_time() {
    use tracekit::analysis::{critical_path, summary};
    // A root with 1 000 chains of 1 000: deep and wide at once.
    let mut spans = Vec::with_capacity(1_000_000);
    for i in 0..1_000_000u64 {
        let mut t = span(i, "s", "k", "v");
        t.parent_span_id = match i {
            0 => None,
            _ if i % 1_000 == 1 => SpanId::from_int(1),
            _ => SpanId::from_int(i),
        };
        spans.push(t);
    }
    // Linear: twice the spans take about twice the time. Timed against the same code on a
    // tenth of the input, so a quadratic step (100x) cannot hide in machine noise (10x at most
    // is allowed for cache effects and noise on a shared machine).
    let time = |spans: &[Trace]| {
        let mut took = vec![];
        let mut lap = std::time::Instant::now();
        let mut done = |what| {
            took.push((what, lap.elapsed()));
            lap = std::time::Instant::now();
        };
        assert_eq!(summary(spans).spans, spans.len());
        done("summary");
        assert!(!critical_path(spans).steps.is_empty());
        done("critical_path");
        assert_eq!(tree(spans).lines().count(), spans.len());
        done("tree");
        assert_eq!(timeline(spans, 60).lines().count(), spans.len());
        done("timeline");
        println!("{} spans: {took:?}", spans.len());
        took.iter().map(|t| t.1).sum::<std::time::Duration>()
    };
    let small = time(&chain(100_000));
    let large = time(&spans);
    assert!(
        large < small * 30,
        "1 000 000 spans took {large:?}, 100 000 took {small:?}: worse than linear"
    );
    println!("1 000 000 spans: {large:?}; 100 000: {small:?}");
}
