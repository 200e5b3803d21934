//! One store, two toolkits: the Python reference (`generative-ai-toolkit` 0.23.0) reads what
//! tracekit wrote and tracekit reads what the reference wrote. Skipped, loudly, only when no
//! CPython 3.13 can be found (see `common/reference.rs`).

mod common;

use common::reference::{agent_turn, enc, python, run_python, same, PY_ENC};
use serde_json::json;
use tracekit::stores::SqliteConfig;
use tracekit::{SpanStatus, Trace, TraceFilter, Tracer, Value};

#[test]
fn the_reference_reads_a_file_tracekit_wrote() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let memory = Tracer::in_memory(100);
    let sqlite = Tracer::sqlite(SqliteConfig::new(&path).identifier("RustAgent")).unwrap();
    let tracer = Tracer::tee([memory.clone(), sqlite]);
    agent_turn(&tracer, "conv-rs");
    tracer.flush().unwrap();
    let written = memory.get_traces(&TraceFilter::new()).unwrap();

    let script = format!(
        "{PY_ENC}
import sys
from generative_ai_toolkit.tracer.tracer import SqliteTracer
t = SqliteTracer(db_path=sys.argv[1], identifier='RustAgent')
by_trace = t.get_traces(trace_id=sys.argv[2])
by_conversation = t.get_traces(attribute_filter={{'ai.conversation.id': 'conv-rs', 'ai.subcontext.id': None}})
print(json.dumps({{'by_trace': [trace_json(x) for x in by_trace], 'by_conversation': [x.span_id for x in by_conversation]}}))
"
    );
    let trace_id = written[0].trace_id.to_string();
    let out = run_python(&python, &script, &[path.to_str().unwrap(), &trace_id], &[]);
    let read: serde_json::Value = serde_json::from_str(&out).unwrap();
    let read_spans = read["by_trace"].as_array().unwrap();
    assert_eq!(read_spans.len(), 2);
    assert_eq!(read["by_conversation"].as_array().unwrap().len(), 2);
    for (theirs, ours) in read_spans.iter().zip(&written) {
        check_same_span(theirs, ours);
    }
}

/// `theirs` (the reference's `trace_json`) is the span `ours`.
fn check_same_span(theirs: &serde_json::Value, ours: &Trace) {
    assert_eq!(theirs["span_name"], ours.span_name.as_ref());
    assert_eq!(theirs["span_kind"], ours.span_kind.as_str());
    assert_eq!(theirs["span_status"], ours.span_status.as_str());
    assert_eq!(theirs["trace_id"], ours.trace_id.to_string());
    assert_eq!(theirs["span_id"], ours.span_id.to_string());
    assert_eq!(
        theirs["parent_span_id"],
        json!(ours.parent_span_id.map(|p| p.to_string()))
    );
    let micros = |t: tracekit::Timestamp| t.truncated_to_micros().to_string();
    assert_eq!(theirs["started_at"], micros(ours.started_at));
    assert_eq!(theirs["ended_at"], micros(ours.ended_at.unwrap()));
    assert_eq!(
        theirs["scope"],
        json!([&*ours.scope.name, &*ours.scope.version])
    );
    let ours_enc = |a: &tracekit::Attributes| -> serde_json::Value {
        a.iter().map(|(k, v)| json!([k, enc(v)])).collect()
    };
    assert!(
        same(&theirs["attributes"], &ours_enc(&ours.attributes)),
        "attributes differ:\n theirs {}\n ours   {}",
        theirs["attributes"],
        ours_enc(&ours.attributes)
    );
    assert!(same(
        &theirs["resource_attributes"],
        &ours_enc(&ours.resource_attributes)
    ));
}

#[test]
fn tracekit_reads_a_file_the_reference_wrote() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let script = format!(
        "{PY_ENC}
import sys
from generative_ai_toolkit.tracer.tracer import SqliteTracer
t = SqliteTracer(db_path=sys.argv[1], identifier='PyAgent')
with t.trace('parent', span_kind='SERVER', resource_attributes={{'service.name': 'PyAgent'}}) as parent:
    parent.add_attribute('ai.conversation.id', 'conv-py', inheritable=True)
    with t.trace('child') as child:
        child.add_attribute('bytes', b'\\x00\\x01\\xff' * 10)
        child.add_attribute('when', datetime.datetime(2025, 7, 4, 11, 12, 48, 882123, tzinfo=datetime.timezone.utc))
        child.add_attribute('day', datetime.date(2025, 7, 4))
        child.add_attribute('clock', datetime.time(11, 12, 48))
        child.add_attribute('huge', 2**64 - 1)
        child.add_attribute('negative', -2**63)
        child.add_attribute('float', 0.1)
        child.add_attribute('nan', float('nan'))
        child.add_attribute('nested', {{'z': [1, 2.5, None], 'a': {{'é': '😀'}}}})
        child.span_status = 'ERROR'
print(json.dumps([trace_json(x) for x in t.get_traces(trace_id=parent.trace_id)]))
"
    );
    let out = run_python(&python, &script, &[path.to_str().unwrap()], &[]);
    let theirs: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();

    // Listed through the query API, read-only: the file as Python left it, without tracekit's
    // index, is walked all the same.
    let reader =
        Tracer::sqlite(SqliteConfig::new(&path).identifier("PyAgent").read_only()).unwrap();
    let page = reader
        .list_traces(&tracekit::query::Query::new().errors_only())
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let head = &page.items[0];
    assert_eq!((head.spans, head.errors), (2, 1));
    assert_eq!(head.root_name.as_deref(), Some("parent"));
    assert_eq!(head.conversation_id.as_deref(), Some("conv-py"));
    drop(reader);

    let tracer = Tracer::sqlite(SqliteConfig::new(&path).identifier("PyAgent")).unwrap();
    let ours = tracer
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", "conv-py"))
        .unwrap();
    assert_eq!(ours.len(), 2);
    assert_eq!(ours[1].parent_span_id, Some(ours[0].span_id));
    let child = &ours[1];
    let a = &child.attributes;
    let bytes: Vec<Value> = [0, 1, 255].repeat(10).into_iter().map(Value::Int).collect();
    assert_eq!(a.get("bytes").unwrap(), &Value::Array(bytes));
    assert_eq!(a.get("when").unwrap(), "2025-07-04T11:12:48.882123+00:00");
    assert_eq!(a.get("day").unwrap(), "2025-07-04");
    assert_eq!(a.get("clock").unwrap(), "11:12:48");
    assert_eq!(
        format!("{:?}", a.get("huge").unwrap()),
        format!("{:?}", Value::UInt(u64::MAX))
    );
    assert_eq!(a.get("negative").unwrap().as_i64(), Some(i64::MIN));
    assert_eq!(a.get("float").unwrap().as_f64(), Some(0.1));
    assert!(a.get("nan").unwrap().as_f64().unwrap().is_nan());
    assert_eq!(
        a.get("nested").unwrap(),
        &Value::from(json!({"z": [1, 2.5, null], "a": {"é": "😀"}}))
    );
    assert_eq!(child.span_status, SpanStatus::Error);
    // And listed once tracekit has opened it to write (and added its index).
    let page = tracer
        .list_traces(&tracekit::query::Query::new().conversation("conv-py"))
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].started_at, ours[0].started_at);
    // Everything else is what the reference itself reads back.
    for (theirs, ours) in theirs.iter().zip(&ours) {
        assert_eq!(theirs["span_id"], ours.span_id.to_string());
        assert_eq!(
            theirs["parent_span_id"],
            json!(ours.parent_span_id.map(|p| p.to_string()))
        );
        assert_eq!(theirs["started_at"], ours.started_at.to_string());
        assert_eq!(theirs["ended_at"], ours.ended_at.unwrap().to_string());
        assert_eq!(theirs["span_kind"], ours.span_kind.as_str());
        assert_eq!(
            theirs["scope"],
            json!([&*ours.scope.name, &*ours.scope.version])
        );
    }
    assert_eq!(
        ours[0].resource_attributes.get("service.name").unwrap(),
        "PyAgent"
    );
}
