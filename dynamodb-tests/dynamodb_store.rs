//! `Tracer::dynamodb` against a real DynamoDB-compatible server (dynalite, started by
//! `scripts/dynamodb-local.sh`): items, filters, pagination, throttling and unprocessed items.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/dynamodb.rs"]
mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde_json::json;
use server::{config, endpoint, unique_table};
use tracekit::{Error, SpanKind, SpanStatus, StoreProblem, Trace, TraceFilter, Tracer, Value};

/// A span as DynamoDB gives it back: times to the microsecond, attributes sorted by key.
fn as_stored(t: Trace) -> Trace {
    let mut t = common::in_microseconds(t);
    let sort = |a: &tracekit::Attributes| -> tracekit::Attributes {
        let mut entries: Vec<(String, Value)> =
            a.iter().map(|(k, v)| (k.to_owned(), sorted(v))).collect();
        entries.sort_by(|x, y| x.0.cmp(&y.0));
        entries.into_iter().collect()
    };
    t.attributes = sort(&t.attributes);
    t.resource_attributes = sort(&t.resource_attributes);
    for e in &mut t.events {
        e.attributes = sort(&e.attributes);
    }
    t
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Map(m) => {
            let mut entries: Vec<(&str, Value)> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Map(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn agent_turn(tracer: &Tracer, conversation: &str, subcontext: Option<&str>) {
    tracer.set_resource_attribute("service.name", "RustAgent");
    let turn = tracer.span("converse").kind(SpanKind::Server).start();
    turn.add_inheritable_attribute("ai.conversation.id", conversation);
    if let Some(sub) = subcontext {
        turn.add_inheritable_attribute("ai.subcontext.id", sub);
    }
    turn.add_event("retry", [("attempt", Value::from(2))]);
    let tool = tracer.span("get_weather").kind(SpanKind::Client).start();
    tool.add_attribute("ai.trace.type", "tool-invocation");
    tool.add_attribute(
        "ai.tool.input",
        Value::from(json!({"city": "Zürich 😀", "z": 1, "a": [1.5, null, true, {"deep": "x"}]})),
    );
    tool.add_attribute("u64.max", u64::MAX);
    tool.add_attribute("i64.min", i64::MIN);
    tool.add_attribute("beyond.2^53", (1i64 << 53) + 1);
    tool.add_attribute("third", 1.0 / 3.0);
    tool.add_attribute("whole", 2.0);
    tool.add_attribute("empty", "");
    tool.set_status(SpanStatus::Error);
}

#[test]
fn spans_round_trip_through_the_table() {
    let Some(url) = endpoint() else { return };
    let memory = Tracer::in_memory(100);
    let dynamo =
        Tracer::dynamodb(config(&url, &unique_table("rt")).identifier("RustAgent")).unwrap();
    let tracer = Tracer::tee([memory.clone(), dynamo.clone()]);
    agent_turn(&tracer, "conv-1", None);
    let written = memory.get_traces(&TraceFilter::new()).unwrap();
    let by_trace = TraceFilter::new().trace_id(written[0].trace_id);
    let stored = dynamo.get_traces(&by_trace).unwrap();
    let expected: Vec<Trace> = written.into_iter().map(as_stored).collect();
    assert_eq!(stored, expected);
    // Bit-exact numbers, and integers stay integers.
    let tool = &stored[1].attributes;
    assert_eq!(
        format!("{:?}", tool.get("u64.max").unwrap()),
        format!("{:?}", Value::UInt(u64::MAX))
    );
    // DynamoDB normalises numbers: an integral float comes back as an integer (equal by value).
    assert_eq!(
        format!("{:?}", tool.get("whole").unwrap()),
        format!("{:?}", Value::Int(2))
    );
    assert_eq!(
        tool.get("third").unwrap().as_f64().unwrap().to_bits(),
        (1.0f64 / 3.0).to_bits()
    );
    assert_eq!(stored[0].events.len(), 1);
}

#[test]
fn numbers_dynamodb_cannot_hold_are_stored_as_strings() {
    let Some(url) = endpoint() else { return };
    let tracer = Tracer::dynamodb(config(&url, &unique_table("nan"))).unwrap();
    let span = tracer.trace("x");
    span.add_attribute("nan", f64::NAN);
    span.add_attribute("inf", f64::NEG_INFINITY);
    span.add_attribute("tiny", 5e-324);
    let id = span.trace_id().unwrap();
    drop(span);
    let stored = tracer.get_traces(&TraceFilter::new().trace_id(id)).unwrap();
    let a = &stored[0].attributes;
    assert_eq!(a.get("nan").unwrap(), "NaN");
    assert_eq!(a.get("inf").unwrap(), "-Infinity");
    assert_eq!(a.get("tiny").unwrap(), "5e-324");
    assert_eq!(tracer.stats().sink_failures, 0);
}

#[test]
fn filters_use_the_keys_and_apply_the_rest() {
    let Some(url) = endpoint() else { return };
    let table = unique_table("filters");
    let tracer = Tracer::dynamodb(config(&url, &table)).unwrap();
    agent_turn(&tracer, "conv-a", None);
    agent_turn(&tracer, "conv-a", Some("sub"));
    agent_turn(&tracer, "conv-b", None);
    let names = |f: &TraceFilter| common::names(&tracer.get_traces(f).unwrap());

    // By conversation: the spans outside any subcontext, or those of the one given.
    let conv_a = TraceFilter::new().attribute("ai.conversation.id", "conv-a");
    assert_eq!(names(&conv_a), ["converse", "get_weather"]);
    assert!(tracer
        .get_traces(&conv_a)
        .unwrap()
        .iter()
        .all(|t| !t.attributes.contains_key("ai.subcontext.id")));
    let sub = conv_a.clone().attribute("ai.subcontext.id", "sub");
    assert_eq!(names(&sub), ["converse", "get_weather"]);
    // The rest of the filter applies (the reference ignores it with a trace id).
    let tools = conv_a.clone().attribute("ai.trace.type", "tool-invocation");
    assert_eq!(names(&tools), ["get_weather"]);
    let one = tracer.get_traces(&conv_a).unwrap()[0].trace_id;
    let trace_and_attr = TraceFilter::new()
        .trace_id(one)
        .attribute("ai.trace.type", "tool-invocation");
    assert_eq!(names(&trace_and_attr), ["get_weather"]);
    assert_eq!(
        names(&TraceFilter::new().attribute("ai.conversation.id", "nope")),
        Vec::<String>::new()
    );

    // Neither key: a typed error naming them, unless scans are allowed.
    match tracer.get_traces(&TraceFilter::new().attribute("ai.trace.type", "tool-invocation")) {
        Err(Error::Store {
            problem: StoreProblem::UnsupportedFilter(message),
            location,
        }) => {
            assert!(
                message.contains("TraceFilter::trace_id") && message.contains("ai.conversation.id")
            );
            assert!(location.contains(&table));
        }
        other => panic!("expected an unsupported filter, got {other:?}"),
    }
    let scanning = Tracer::dynamodb(config(&url, &table).allow_scan(true)).unwrap();
    let all_tools = scanning
        .get_traces(&TraceFilter::new().attribute("ai.trace.type", "tool-invocation"))
        .unwrap();
    assert_eq!(all_tools.len(), 3);
}

#[test]
fn results_over_one_megabyte_are_read_page_by_page() {
    let Some(url) = endpoint() else { return };
    let tracer = Tracer::dynamodb(config(&url, &unique_table("pages"))).unwrap();
    let filler = "x".repeat(2_000);
    {
        let turn = tracer.trace("converse");
        turn.add_inheritable_attribute("ai.conversation.id", "big");
        for i in 0..800 {
            drop(
                tracer
                    .span("step")
                    .attribute("i", i)
                    .attribute("filler", filler.as_str())
                    .start(),
            );
        }
    }
    // 801 items of about 2 KB: more than 1 MB, so more than one page.
    let spans = tracer
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", "big"))
        .unwrap();
    assert_eq!(spans.len(), 801);
    assert!(spans.is_sorted_by_key(|t| t.started_at));
    let stats = tracer.stats();
    assert_eq!(
        (stats.spans_persisted, stats.sink_failures),
        (801, 0),
        "{stats:?}"
    );
}

#[test]
fn a_missing_table_is_a_typed_error() {
    let Some(url) = endpoint() else { return };
    let result = Tracer::dynamodb(config(&url, &unique_table("missing")).create_table(false));
    match result {
        Err(Error::Store {
            problem: StoreProblem::Backend(message),
            ..
        }) => {
            assert!(message.contains("create_table(true)"), "{message}")
        }
        other => panic!("expected a store error, got {other:?}"),
    }
}

/// A proxy in front of the server that answers the first `throttle` `BatchWriteItem`
/// requests with a throttling error and the next one with every item unprocessed, then
/// forwards everything.
struct Flaky {
    url: String,
    throttled: Arc<AtomicU32>,
    unprocessed: Arc<AtomicU32>,
}

fn flaky(upstream: &str, throttle: u32) -> Flaky {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let (throttled, unprocessed) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let (t, u) = (throttled.clone(), unprocessed.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (t, u, upstream) = (t.clone(), u.clone(), upstream.clone());
            std::thread::spawn(move || serve(client, &upstream, throttle, &t, &u));
        }
    });
    Flaky {
        url,
        throttled,
        unprocessed,
    }
}

/// Reads one HTTP message (head and a `Content-Length` body).
fn read_message(r: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn serve(
    client: TcpStream,
    upstream: &str,
    throttle: u32,
    throttled: &AtomicU32,
    unprocessed: &AtomicU32,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut client = client;
    let mut server: Option<(TcpStream, BufReader<TcpStream>)> = None;
    while let Some((head, body)) = read_message(&mut reader) {
        let reply = |client: &mut TcpStream, status: &str, json: &str| {
            let _ = write!(
                client,
                "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{json}",
                json.len()
            );
        };
        if head.contains("DynamoDB_20120810.BatchWriteItem") {
            if throttled.load(Ordering::SeqCst) < throttle {
                throttled.fetch_add(1, Ordering::SeqCst);
                reply(
                    &mut client,
                    "400 Bad Request",
                    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
                );
                continue;
            }
            if unprocessed.load(Ordering::SeqCst) == 0 {
                unprocessed.fetch_add(1, Ordering::SeqCst);
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let answer = json!({"UnprocessedItems": request["RequestItems"]});
                reply(&mut client, "200 OK", &answer.to_string());
                continue;
            }
        }
        let (up, up_reader) = server.get_or_insert_with(|| {
            let s = TcpStream::connect(upstream).unwrap();
            (s.try_clone().unwrap(), BufReader::new(s))
        });
        up.write_all(head.as_bytes()).unwrap();
        up.write_all(&body).unwrap();
        let Some((rhead, rbody)) = read_message(up_reader) else {
            return;
        };
        client.write_all(rhead.as_bytes()).unwrap();
        client.write_all(&rbody).unwrap();
    }
}

#[test]
fn throttling_and_unprocessed_items_are_retried_without_loss() {
    let Some(url) = endpoint() else { return };
    let table = unique_table("retry");
    drop(Tracer::dynamodb(config(&url, &table)).unwrap()); // created directly
    let proxy = flaky(&url, 3);
    let tracer = Tracer::dynamodb(config(&proxy.url, &table).create_table(false)).unwrap();
    {
        let turn = tracer.trace("converse");
        turn.add_inheritable_attribute("ai.conversation.id", "retry");
        for i in 0..60 {
            drop(tracer.span("step").attribute("i", i).start());
        }
    }
    tracer.flush().unwrap();
    assert_eq!(proxy.throttled.load(Ordering::SeqCst), 3);
    assert_eq!(proxy.unprocessed.load(Ordering::SeqCst), 1);
    let stats = tracer.stats();
    assert_eq!(
        (stats.spans_persisted, stats.sink_failures),
        (61, 0),
        "{stats:?}"
    );
    // Read straight from the server: every span once.
    let direct = Tracer::dynamodb(config(&url, &table)).unwrap();
    let spans = direct
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", "retry"))
        .unwrap();
    assert_eq!(spans.len(), 61);
}

#[test]
fn evaluation_data_round_trips_through_the_table() {
    use tracekit::eval::{
        feedback, log_feedback, Chunk, EvalSpan, Feedback, RagEvent, RetrievedChunk, PARAMS,
    };
    let Some(url) = endpoint() else { return };
    let dynamo = Tracer::dynamodb(config(&url, &unique_table("eval"))).unwrap();
    let trace_id = {
        let span = dynamo.trace("query");
        span.register_param("top_k", 2)
            .register_param("model", "m-1");
        span.log_rag_event(RagEvent::retrieval(
            "q",
            &[RetrievedChunk::new(Chunk::new("c-1").content("text"), 0.5)],
        ));
        span.log_trace_event("q", "a", None).unwrap();
        span.trace_id().unwrap()
    };
    dynamo.flush().unwrap();
    // Later: feedback on the stored trace, found by id in the table.
    log_feedback(
        &dynamo,
        trace_id,
        None,
        Feedback::categorical("helpful", &["helpful", "wrong"]),
    )
    .unwrap();
    let stored = dynamo
        .get_traces(&TraceFilter::new().trace_id(trace_id))
        .unwrap();
    assert_eq!(stored.len(), 2);
    let query = stored.iter().find(|s| s.span_name == "query").unwrap();
    let params = query.attributes.get(PARAMS).unwrap();
    assert_eq!(params.get("top_k"), Some(&Value::from(2)));
    let names: Vec<&str> = query.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["rag.retrieval", "rag.trace"]);
    let chunks = query.events[0]
        .attributes
        .get("rag.output")
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(
        chunks[0].get("retrieval_score").and_then(Value::as_f64),
        Some(0.5)
    );
    assert_eq!(
        feedback(&stored)[0].feedback,
        Feedback::categorical("helpful", &["helpful", "wrong"])
    );
}

/// Listing traces: a conversation's through the conversation index, everything only with
/// scans allowed; the pages are the ones the in-memory store gives for the same spans.
#[test]
fn listing_traces_matches_memory_and_scans_only_when_allowed() {
    use tracekit::query::{Predicate, Query};
    let Some(url) = endpoint() else { return };
    let table = unique_table("listing");
    let dynamo = Tracer::dynamodb(config(&url, &table)).unwrap();
    let memory = Tracer::in_memory(1_000);
    let both = Tracer::tee([memory.clone(), dynamo.clone()]);
    for i in 0..9 {
        agent_turn(&both, &format!("conv-{}", i % 2), None);
    }
    both.flush().unwrap();
    // Memory keeps nanoseconds, the table microseconds: compare at the table's precision.
    let spans: Vec<Trace> = memory
        .get_traces(&TraceFilter::new())
        .unwrap()
        .into_iter()
        .map(as_stored)
        .collect();
    let ids = |page: tracekit::query::Page<tracekit::query::TraceHead>| {
        page.items.iter().map(|h| h.trace_id).collect::<Vec<_>>()
    };
    let scanning = Tracer::dynamodb(config(&url, &table).allow_scan(true)).unwrap();
    for q in [
        Query::new().conversation("conv-1"),
        Query::new().conversation("conv-0").oldest_first().limit(2),
        Query::new()
            .conversation("conv-0")
            .attribute(Predicate::equals("ai.trace.type", "tool-invocation")),
    ] {
        let expected = ids(tracekit::query::scan(&spans, &q));
        assert!(!expected.is_empty());
        assert_eq!(ids(dynamo.list_traces(&q).unwrap()), expected, "{q:?}");
        assert_eq!(ids(scanning.list_traces(&q).unwrap()), expected, "{q:?}");
    }
    match dynamo.list_traces(&Query::new()) {
        Err(Error::Store {
            problem: StoreProblem::UnsupportedFilter(_),
            ..
        }) => {}
        other => panic!("listing every trace without scans allowed: {other:?}"),
    }
    let all = Query::new().limit(4);
    assert_eq!(
        ids(scanning.list_traces(&all).unwrap()),
        ids(tracekit::query::scan(&spans, &all))
    );
    // Spans streamed trace by trace, and followed as they are written (by scans).
    let streamed: Vec<Trace> = scanning
        .query_spans(Query::new().conversation("conv-1").limit(2))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        streamed.len(),
        spans
            .iter()
            .filter(|s| s.attributes.get("ai.conversation.id") == Some(&"conv-1".into()))
            .count()
    );
    let mut mark = tracekit::query::Watermark::now();
    assert!(scanning.new_spans(&mut mark).unwrap().is_empty());
    agent_turn(&dynamo, "conv-new", None);
    dynamo.flush().unwrap();
    let new = scanning.new_spans(&mut mark).unwrap();
    assert!(
        !new.is_empty()
            && new
                .iter()
                .all(|s| s.attributes.get("ai.conversation.id") == Some(&"conv-new".into())),
        "{new:?}"
    );
    assert!(scanning.new_spans(&mut mark).unwrap().is_empty());
}
