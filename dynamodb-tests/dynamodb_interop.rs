//! One DynamoDB table, two toolkits: the Python reference's `DynamoDbTracer` (boto3 pointed
//! at the local server) reads tracekit's items, and tracekit reads the reference's. Skipped,
//! loudly, without a CPython 3.13 or a DynamoDB-compatible server.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/dynamodb.rs"]
mod server;

use common::reference::{agent_turn, enc, python, run_python, same, PY_ENC};
use serde_json::json;
use tracekit::{TraceFilter, Tracer, Value};

/// The environment boto3 needs to reach the local DynamoDB-compatible server.
fn boto_env(url: &str) -> [(&'static str, String); 4] {
    [
        ("AWS_ENDPOINT_URL", url.to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
    ]
}

#[test]
fn the_reference_reads_dynamodb_items_tracekit_wrote() {
    let (Some(python), Some(url)) = (python(), server::endpoint()) else {
        return;
    };
    let table = server::unique_table("interop-rs");
    let memory = Tracer::in_memory(100);
    let dynamo = Tracer::dynamodb(server::config(&url, &table).identifier("RustAgent")).unwrap();
    let tracer = Tracer::tee([memory.clone(), dynamo]);
    agent_turn(&tracer, "conv-rs");
    tracer.flush().unwrap();
    let written = memory.get_traces(&TraceFilter::new()).unwrap();
    let script = format!(
        "{PY_ENC}
import sys
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer
t = DynamoDbTracer(sys.argv[1], identifier='RustAgent')
by_trace = t.get_traces(trace_id=sys.argv[2])
by_conversation = t.get_traces(attribute_filter={{'ai.conversation.id': 'conv-rs', 'ai.subcontext.id': None}})
print(json.dumps({{'by_trace': [trace_json(x) for x in by_trace], 'by_conversation': [x.span_id for x in by_conversation]}}))
"
    );
    let trace_id = written[0].trace_id.to_string();
    let out = run_python(&python, &script, &[&table, &trace_id], &boto_env(&url));
    let read: serde_json::Value = serde_json::from_str(&out).unwrap();
    let spans = read["by_trace"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(read["by_conversation"].as_array().unwrap().len(), 2);
    for (theirs, ours) in spans.iter().zip(&written) {
        assert_eq!(theirs["span_id"], ours.span_id.to_string());
        assert_eq!(theirs["span_kind"], ours.span_kind.as_str());
        assert_eq!(theirs["span_status"], ours.span_status.as_str());
        assert_eq!(
            theirs["parent_span_id"],
            json!(ours.parent_span_id.map(|p| p.to_string()))
        );
        let micros = ours.started_at.unix_nanos().div_euclid(1000);
        let their_start = theirs["started_at"]
            .as_str()
            .unwrap()
            .parse::<tracekit::Timestamp>()
            .unwrap();
        assert_eq!(their_start.unix_nanos() / 1000, micros);
        // DynamoDB keeps no key order, and NaN/Infinity are strings there (see DynamoDbConfig).
        let attributes: std::collections::BTreeMap<String, serde_json::Value> = theirs
            ["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| (kv[0].as_str().unwrap().to_owned(), kv[1].clone()))
            .collect();
        assert_eq!(attributes.len(), ours.attributes.len());
        for key in [
            "ai.conversation.id",
            "u64.max",
            "i64.min",
            "beyond.2^53",
            "third",
            "control",
        ] {
            if let Some(v) = ours.attributes.get(key) {
                assert!(
                    same(&attributes[key], &enc(v)),
                    "{key}: {} vs {}",
                    attributes[key],
                    enc(v)
                );
            }
        }
        if ours.attributes.contains_key("nan") {
            assert_eq!(attributes["nan"], "NaN");
            assert_eq!(attributes["inf"], "Infinity");
            // Beyond DynamoDB's number range (1e126): its text.
            assert_eq!(attributes["big"], "1e300");
        }
    }
}

#[test]
fn tracekit_reads_dynamodb_items_the_reference_wrote() {
    let (Some(python), Some(url)) = (python(), server::endpoint()) else {
        return;
    };
    let table = server::unique_table("interop-py");
    // The table as tracekit creates it; the reference writes into it.
    drop(Tracer::dynamodb(server::config(&url, &table)).unwrap());
    let script = "
import sys, decimal
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer
t = DynamoDbTracer(sys.argv[1], identifier='PyAgent')
with t.trace('parent', span_kind='SERVER', resource_attributes={'service.name': 'PyAgent'}) as parent:
    parent.add_attribute('ai.conversation.id', 'conv-py', inheritable=True)
    with t.trace('child') as child:
        child.add_attribute('a.float', 1.5)
        child.add_attribute('a.set', {'x', 'y'})
        child.add_attribute('a.bytes', b'\\x00\\x01')
        child.add_attribute('a.none', None)
        child.add_attribute('a.big', 2**64 - 1)
        child.add_attribute('a.nested', {'k': [1, 'two', {'z': True}]})
print(parent.trace_id)
";
    let trace_id = run_python(&python, script, &[&table], &boto_env(&url));
    let tracer = Tracer::dynamodb(server::config(&url, &table).identifier("PyAgent")).unwrap();
    let spans = tracer
        .get_traces(&TraceFilter::new().trace_id(trace_id.trim().parse().unwrap()))
        .unwrap();
    assert_eq!(common::names(&spans), ["parent", "child"]);
    assert_eq!(spans[1].parent_span_id, Some(spans[0].span_id));
    let a = &spans[1].attributes;
    assert_eq!(a.get("a.float").unwrap().as_f64(), Some(1.5));
    let mut set: Vec<&str> = a
        .get("a.set")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    set.sort_unstable();
    assert_eq!(set, ["x", "y"]);
    assert_eq!(a.get("a.bytes").unwrap(), &Value::from(json!([0, 1])));
    assert_eq!(a.get("a.none").unwrap(), &Value::Null);
    assert_eq!(a.get("a.big").unwrap().as_u64(), Some(u64::MAX));
    assert_eq!(
        a.get("a.nested").unwrap(),
        &Value::from(json!({"k": [1, "two", {"z": true}]}))
    );
    assert_eq!(
        spans[0].resource_attributes.get("service.name").unwrap(),
        "PyAgent"
    );
    let by_conversation = tracer
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", "conv-py"))
        .unwrap();
    assert_eq!(by_conversation.len(), 2);
}
