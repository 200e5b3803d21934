//! The Python reference toolkit (`generative-ai-toolkit` on PyPI, CPython 3.13) for the
//! interop tests: its interpreter comes from `servers::reference_python` (with
//! `$TRACEKIT_REFERENCE_PYTHON`, or the venv `scripts/reference-python.sh` builds), and the
//! helpers below run scripts with it and compare what it read.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Python with the reference toolkit, or `None` after a loud line.
pub fn python() -> Option<PathBuf> {
    super::servers::reference_python()
}

/// Runs `script` with the reference's Python, `args` and extra environment variables;
/// returns its stdout.
pub fn run_python(python: &Path, script: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Spans with every kind of value, as an agent turn with a tool call.
pub fn agent_turn(tracer: &tracekit::Tracer, conversation: &str) {
    tracer.set_resource_attribute("service.name", "RustAgent");
    let turn = tracer
        .span("converse")
        .kind(tracekit::SpanKind::Server)
        .start();
    turn.add_inheritable_attribute("ai.conversation.id", conversation);
    turn.add_inheritable_attribute(
        "ai.auth.context",
        tracekit::Value::from(serde_json::json!({"principal_id": "user123"})),
    );
    let tool = tracer
        .span("get_weather")
        .kind(tracekit::SpanKind::Client)
        .start();
    tool.add_attribute("ai.trace.type", "tool-invocation");
    tool.add_attribute(
        "ai.tool.input",
        tracekit::Value::from(
            serde_json::json!({"city": "Zürich 😀", "z": 1, "a": [1.5, null, true]}),
        ),
    );
    tool.add_attribute("u64.max", u64::MAX);
    tool.add_attribute("i64.min", i64::MIN);
    tool.add_attribute("beyond.2^53", (1i64 << 53) + 1);
    tool.add_attribute("third", 1.0 / 3.0);
    tool.add_attribute("big", 1e300);
    tool.add_attribute("tiny", 5e-324);
    tool.add_attribute("inf", f64::INFINITY);
    tool.add_attribute("nan", f64::NAN);
    tool.add_attribute("control", "tab\t nul\0 quote\" \u{7f}");
    tool.set_status(tracekit::SpanStatus::Error);
}

/// A Python helper the scripts share: `enc(v)` makes any attribute value JSON-safe and
/// exact (`{"float": repr}`, `{"int": str}`, `{"bytes": [..]}`, maps as `[[k, v], ..]`).
pub const PY_ENC: &str = r#"
import datetime, json, math
def enc(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"bytes": list(v)}
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return {"iso": v.isoformat()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return {"set": sorted(enc(x) for x in v)}
    if isinstance(v, dict):
        return [[k, enc(x)] for k, x in v.items()]
    return {"repr": repr(v)}
def trace_json(t):
    d = t.as_dict()
    return {
        "span_name": d["span_name"], "span_kind": d["span_kind"], "trace_id": d["trace_id"],
        "span_id": d["span_id"], "parent_span_id": d["parent_span_id"],
        "started_at": d["started_at"].isoformat(), "ended_at": d["ended_at"].isoformat() if d["ended_at"] else None,
        "span_status": d["span_status"], "scope": [d["scope"]["name"], d["scope"]["version"]],
        "attributes": enc(dict(d["attributes"])), "resource_attributes": enc(dict(d["resource_attributes"])),
    }
"#;

/// The `enc` form of a tracekit value, for comparing with what Python read.
pub fn enc(v: &tracekit::Value) -> serde_json::Value {
    use serde_json::json;
    use tracekit::Value;
    match v {
        Value::Null => json!(null),
        Value::Bool(b) => json!(b),
        Value::Int(n) => json!({"int": n.to_string()}),
        Value::UInt(n) => json!({"int": n.to_string()}),
        Value::Float(f) => json!({"float": python_float(*f)}),
        Value::String(s) => json!(s.as_str()),
        Value::Array(items) => items.iter().map(enc).collect(),
        Value::Map(map) => map.iter().map(|(k, v)| json!([k, enc(v)])).collect(),
    }
}

/// Python's `repr` of a float, via a round trip through its text (compared as floats).
fn python_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{f:e}")
    }
}

/// Whether two `enc` forms are equal, floats compared by value (bits for NaN kinds aside).
pub fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Object(x), J::Object(y)) if x.contains_key("float") && y.contains_key("float") => {
            let p = |v: &J| v.as_str().unwrap().parse::<f64>().unwrap();
            let (x, y) = (p(&x["float"]), p(&y["float"]));
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
