//! [`to_json`] and [`to_jaeger_json`]: traces for other tools.

use std::collections::BTreeMap;

use serde_json::{json, Map as JsonMap, Value as Json};

use crate::{Attributes, Trace, TraceId, Value};

/// The spans grouped by trace, as the agent article's `TraceRenderer.to_json` shapes them:
/// `{"traces": [{"trace_id", "spans": [{"span_id", "parent_span_id", "name", "kind",
/// "start_time", "end_time", "duration_ms", "status", "attributes", "events"}]}]}`, traces
/// in order of their first span, spans by start.
///
/// ```
/// let tracer = tracekit::Tracer::in_memory(10);
/// drop(tracer.span("step").attribute("k", 1).start());
/// let json = tracekit::render::to_json(&tracer.get_traces(&Default::default()).unwrap());
/// assert_eq!(json["traces"][0]["spans"][0]["name"], "step");
/// assert_eq!(json["traces"][0]["spans"][0]["attributes"]["k"], 1);
/// ```
pub fn to_json(spans: &[Trace]) -> Json {
    let traces = by_trace(spans)
        .into_iter()
        .map(|(trace_id, members)| {
            let spans: Vec<Json> = members
                .into_iter()
                .map(|t| {
                    json!({
                        "span_id": t.span_id,
                        "parent_span_id": t.parent_span_id,
                        "name": t.span_name,
                        "kind": t.span_kind,
                        "start_time": t.started_at,
                        "end_time": t.ended_at,
                        "duration_ms": t.duration().map(|d| d.as_secs_f64() * 1e3),
                        "status": t.span_status,
                        "attributes": t.attributes,
                        "events": t.events,
                    })
                })
                .collect();
            json!({ "trace_id": trace_id, "spans": spans })
        })
        .collect::<Vec<_>>();
    json!({ "traces": traces })
}

/// The spans in the Jaeger UI's JSON format (what its "JSON File" upload and
/// `/api/traces/{id}` take): `{"data": [{"traceID", "spans", "processes"}]}`, times in
/// microseconds, parents as `CHILD_OF` references, attributes as typed tags (nested values
/// as their JSON text, since tags are flat), events as logs, one process per distinct
/// resource (its `service.name` as the service).
///
/// ```
/// let tracer = tracekit::Tracer::in_memory(10);
/// tracer.set_resource_attribute("service.name", "agent");
/// {
///     let _turn = tracer.trace("turn");
///     drop(tracer.trace("step"));
/// }
/// let jaeger = tracekit::render::to_jaeger_json(&tracer.get_traces(&Default::default()).unwrap());
/// let trace = &jaeger["data"][0];
/// assert_eq!(trace["processes"]["p1"]["serviceName"], "agent");
/// assert_eq!(trace["spans"][1]["references"][0]["refType"], "CHILD_OF");
/// ```
pub fn to_jaeger_json(spans: &[Trace]) -> Json {
    let data = by_trace(spans)
        .into_iter()
        .map(|(trace_id, members)| {
            let mut processes: Vec<&Attributes> = Vec::new();
            let spans: Vec<Json> = members
                .iter()
                .map(|t| {
                    let p = match processes.iter().position(|r| **r == t.resource_attributes) {
                        Some(p) => p,
                        None => {
                            processes.push(&t.resource_attributes);
                            processes.len() - 1
                        }
                    };
                    let micros = |at: crate::Timestamp| at.unix_nanos().div_euclid(1_000);
                    let references: Vec<Json> = t
                        .parent_span_id
                        .map(|p| json!({"refType": "CHILD_OF", "traceID": trace_id, "spanID": p}))
                        .into_iter()
                        .collect();
                    let mut tags = tags(&t.attributes);
                    tags.push(json!({"key": "span.kind", "type": "string", "value": t.span_kind.as_str().to_ascii_lowercase()}));
                    if t.span_status == crate::SpanStatus::Error {
                        tags.push(json!({"key": "error", "type": "bool", "value": true}));
                    }
                    json!({
                        "traceID": trace_id,
                        "spanID": t.span_id,
                        "operationName": t.span_name,
                        "references": references,
                        "startTime": micros(t.started_at),
                        "duration": t.duration().map_or(0, |d| d.as_micros() as u64),
                        "tags": tags,
                        "logs": t.events.iter().map(|e| json!({
                            "timestamp": micros(e.timestamp),
                            "fields": std::iter::once(json!({"key": "event", "type": "string", "value": e.name}))
                                .chain(tags_of(&e.attributes))
                                .collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                        "processID": format!("p{}", p + 1),
                        "warnings": null,
                        "flags": 1,
                    })
                })
                .collect();
            let processes: JsonMap<String, Json> = processes
                .iter()
                .enumerate()
                .map(|(i, resource)| {
                    let service = resource.get("service.name").and_then(Value::as_str).unwrap_or("unknown_service");
                    (format!("p{}", i + 1), json!({"serviceName": service, "tags": tags(resource)}))
                })
                .collect();
            json!({"traceID": trace_id, "spans": spans, "processes": processes, "warnings": null})
        })
        .collect::<Vec<_>>();
    json!({ "data": data, "total": 0, "limit": 0, "offset": 0, "errors": null })
}

fn tags(attributes: &Attributes) -> Vec<Json> {
    tags_of(attributes).collect()
}

fn tags_of(attributes: &Attributes) -> impl Iterator<Item = Json> + '_ {
    attributes.iter().map(|(key, value)| {
        let (kind, value) = match value {
            Value::Bool(b) => ("bool", json!(b)),
            Value::Int(i) => ("int64", json!(i)),
            Value::UInt(u) if i64::try_from(*u).is_ok() => ("int64", json!(u)),
            Value::Float(f) if f.is_finite() => ("float64", json!(f)),
            Value::String(s) => ("string", json!(s.as_str())),
            other => ("string", json!(other.to_string())),
        };
        json!({"key": key, "type": kind, "value": value})
    })
}

/// Spans grouped by trace: traces in order of their first span, spans by start.
fn by_trace(spans: &[Trace]) -> Vec<(TraceId, Vec<&Trace>)> {
    let mut groups: BTreeMap<TraceId, Vec<&Trace>> = BTreeMap::new();
    for t in spans {
        groups.entry(t.trace_id).or_default().push(t);
    }
    let mut out: Vec<(TraceId, Vec<&Trace>)> = groups.into_iter().collect();
    for (_, members) in &mut out {
        members.sort_by_key(|t| (t.started_at, t.span_id));
    }
    out.sort_by_key(|(_, members)| members.first().map(|t| t.started_at));
    out
}
