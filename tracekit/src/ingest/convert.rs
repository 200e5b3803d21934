//! OTLP's spans (`opentelemetry-proto`'s types) as tracekit records: the inverse of
//! `exporters/otlp/encode.rs`, for what other processes send.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status, Span};

use crate::{
    Attributes, Event, Scope, SpanId, SpanKind, SpanStatus, Timestamp, Trace, TraceId, Value,
};

/// The instrumentation scope of the Python reference toolkit's spans: its `OtlpTracer` sends
/// dicts and lists as JSON text and times through a float, so spans of this scope get their
/// structure back and their times rounded to the microsecond its clock has.
pub(super) const REFERENCE_SCOPE: &str = "generative-ai-toolkit";

/// What a request's spans became.
#[derive(Debug, Default)]
pub(super) struct Converted {
    pub(super) spans: Vec<Trace>,
    /// Spans refused (malformed ids, times), and why the first one was.
    pub(super) rejected: u64,
    pub(super) first_rejection: Option<String>,
    /// Attributes left out over the per-span limit.
    pub(super) attributes_dropped: u64,
}

/// The spans of `request`, each with its resource and scope; at most `max_attributes`
/// attributes (and as many per event) per span.
pub(super) fn spans(request: ExportTraceServiceRequest, max_attributes: usize) -> Converted {
    let mut out = Converted::default();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| {
                attributes(
                    r.attributes,
                    max_attributes,
                    false,
                    &mut out.attributes_dropped,
                )
            })
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans
                .scope
                .map(|s| Scope::new(s.name, s.version))
                .unwrap_or_default();
            let reference = scope.name == REFERENCE_SCOPE;
            for span in scope_spans.spans {
                match one(span, &resource, &scope, reference, max_attributes, &mut out) {
                    Ok(trace) => out.spans.push(trace),
                    Err(why) => {
                        out.rejected += 1;
                        out.first_rejection.get_or_insert(why);
                    }
                }
            }
        }
    }
    out
}

/// One span, or why it cannot be stored.
fn one(
    span: Span,
    resource: &Attributes,
    scope: &Scope,
    reference: bool,
    max_attributes: usize,
    out: &mut Converted,
) -> Result<Trace, String> {
    let trace_id = <[u8; 16]>::try_from(span.trace_id.as_slice())
        .ok()
        .and_then(TraceId::from_bytes)
        .ok_or_else(|| id_problem("traceId", 16, &span.trace_id))?;
    let span_id = <[u8; 8]>::try_from(span.span_id.as_slice())
        .ok()
        .and_then(SpanId::from_bytes)
        .ok_or_else(|| id_problem("spanId", 8, &span.span_id))?;
    let parent_span_id = match span.parent_span_id.len() {
        0 => None,
        8 => SpanId::from_bytes(span.parent_span_id.as_slice().try_into().unwrap_or([0; 8])),
        _ => return Err(id_problem("parentSpanId", 8, &span.parent_span_id)),
    };
    let time = |nanos: u64, field: &str| -> Result<Timestamp, String> {
        let nanos = i64::try_from(nanos)
            .map_err(|_| format!("span {span_id}: {field} {nanos} is after the year 2262"))?;
        // The reference's float clock: …987139840 stands for …987140000.
        let nanos = if reference {
            (nanos + 500) - (nanos + 500).rem_euclid(1_000)
        } else {
            nanos
        };
        Ok(Timestamp::from_unix_nanos(nanos))
    };
    if span.start_time_unix_nano == 0 {
        return Err(format!("span {span_id}: startTimeUnixNano is missing"));
    }
    let started_at = time(span.start_time_unix_nano, "startTimeUnixNano")?;
    let ended_at = time(span.end_time_unix_nano, "endTimeUnixNano")?;
    if ended_at < started_at {
        return Err(format!(
            "span {span_id}: endTimeUnixNano is before startTimeUnixNano"
        ));
    }
    let mut own = attributes(
        span.attributes,
        max_attributes,
        reference,
        &mut out.attributes_dropped,
    );
    let span_status = match span
        .status
        .map(|s| (status::StatusCode::try_from(s.code), s.message))
    {
        Some((Ok(status::StatusCode::Ok), _)) => SpanStatus::Ok,
        Some((Ok(status::StatusCode::Error), message)) => {
            if !message.is_empty() && own.get("otel.status_description").is_none() {
                own.insert("otel.status_description", message);
            }
            SpanStatus::Error
        }
        // Unset, and codes this version of OTLP does not know.
        _ => SpanStatus::Unset,
    };
    let links = span.links.len() as u64 + u64::from(span.dropped_links_count);
    if links > 0 {
        own.insert("otel.dropped_links_count", links);
    }
    let events = span
        .events
        .into_iter()
        .map(|e| {
            Ok(Event {
                name: e.name.into(),
                timestamp: time(e.time_unix_nano, "an event's timeUnixNano")?,
                attributes: attributes(
                    e.attributes,
                    max_attributes,
                    reference,
                    &mut out.attributes_dropped,
                ),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Trace {
        span_name: span.name.into(),
        span_kind: match span::SpanKind::try_from(span.kind) {
            Ok(span::SpanKind::Server) => SpanKind::Server,
            Ok(span::SpanKind::Client) => SpanKind::Client,
            Ok(span::SpanKind::Producer) => SpanKind::Producer,
            Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
            // Internal, unspecified, and kinds this version of OTLP does not know.
            _ => SpanKind::Internal,
        },
        trace_id,
        span_id,
        parent_span_id,
        started_at,
        ended_at: Some(ended_at),
        attributes: own,
        span_status,
        resource_attributes: resource.clone(),
        scope: scope.clone(),
        events,
        snapshot_at: None,
    })
}

fn id_problem(field: &str, bytes: usize, got: &[u8]) -> String {
    if got.len() == bytes {
        format!("{field} is all zeros, which W3C reserves for \"invalid\"")
    } else {
        format!("{field} has {} bytes, not {bytes}", got.len())
    }
}

/// Key-values as attributes (a repeated key: the last one counts), at most `max`; the rest
/// counted in `dropped`.
fn attributes(kvs: Vec<KeyValue>, max: usize, reference: bool, dropped: &mut u64) -> Attributes {
    let mut out = Attributes::new();
    for kv in kvs {
        if out.len() >= max && out.get(&kv.key).is_none() {
            *dropped += 1;
            continue;
        }
        let value = value(kv.value, reference);
        out.insert(kv.key, value);
    }
    out
}

/// An OTLP value as a tracekit value: arrays and key-value lists keep their structure, bytes
/// become an array of byte values (as serde stores bytes), an empty value is null. For the
/// reference's spans, a string holding a JSON object or array is that structure again.
fn value(any: Option<AnyValue>, reference: bool) -> Value {
    use any_value::Value as V;
    match any.and_then(|v| v.value) {
        // A string table index belongs to profiles; no span has a table to look it up in.
        None | Some(V::StringValueStrindex(_)) => Value::Null,
        Some(V::StringValue(s)) => {
            if reference && (s.starts_with('{') || s.starts_with('[')) {
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(&s) {
                    return Value::from(json);
                }
            }
            Value::from(s)
        }
        Some(V::BoolValue(b)) => Value::Bool(b),
        Some(V::IntValue(i)) => Value::Int(i),
        Some(V::DoubleValue(f)) => Value::Float(f),
        Some(V::ArrayValue(a)) => Value::Array(
            a.values
                .into_iter()
                .map(|v| value(Some(v), reference))
                .collect(),
        ),
        Some(V::KvlistValue(list)) => Value::Map(
            list.values
                .into_iter()
                .map(|kv| (kv.key, value(kv.value, reference)))
                .collect(),
        ),
        Some(V::BytesValue(bytes)) => Value::Array(
            bytes
                .into_iter()
                .map(|b| Value::UInt(u64::from(b)))
                .collect(),
        ),
    }
}
