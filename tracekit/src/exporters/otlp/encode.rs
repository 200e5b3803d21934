//! Spans as OTLP: the mapping to `opentelemetry-proto`'s types, and the request body.

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;

use super::config::{Compression, Protocol};
use crate::{Attributes, Key, Scope, SpanKind, SpanStatus, Timestamp, Trace, Value};

/// The W3C `sampled` flag in OTLP's span flags: a span that reaches an exporter was sampled.
const SAMPLED: u32 = 0x01;

/// The request for `batch`: spans grouped by resource (the exporter's, under each span's
/// own resource attributes), then by scope, in the order they came.
pub(super) fn request(batch: &[Trace], resource: &[(Key, Value)]) -> ExportTraceServiceRequest {
    let mut groups: Vec<ResourceGroup<'_>> = Vec::new();
    for trace in batch {
        let scopes = group(&mut groups, &trace.resource_attributes);
        group(scopes, &trace.scope).push(span(trace));
    }
    let resource_spans = groups
        .into_iter()
        .map(|(own, scopes)| {
            let mut attributes: Vec<KeyValue> = resource
                .iter()
                .filter(|(k, _)| !own.contains_key(k))
                .map(|(k, v)| key_value(k, v))
                .collect();
            attributes.extend(own.iter().map(|(k, v)| key_value(k, v)));
            ResourceSpans {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_spans: scopes
                    .into_iter()
                    .map(|(scope, spans)| ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: scope.name.to_string(),
                            version: scope.version.to_string(),
                            ..Default::default()
                        }),
                        spans,
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: String::new(),
            }
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// Spans of one resource, by scope, in the order they came.
type ResourceGroup<'a> = (&'a Attributes, Vec<(&'a Scope, Vec<Span>)>);

/// The entry of `groups` for `key`, added last if it is new (groups are few: a linear search).
fn group<'g, 'a, K: PartialEq, V: Default>(
    groups: &'g mut Vec<(&'a K, V)>,
    key: &'a K,
) -> &'g mut V {
    let i = match groups.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            groups.push((key, V::default()));
            groups.len() - 1
        }
    };
    &mut groups[i].1
}

fn span(trace: &Trace) -> Span {
    Span {
        trace_id: trace.trace_id.to_bytes().to_vec(),
        span_id: trace.span_id.to_bytes().to_vec(),
        trace_state: String::new(),
        parent_span_id: trace
            .parent_span_id
            .map_or_else(Vec::new, |p| p.to_bytes().to_vec()),
        flags: SAMPLED,
        name: trace.span_name.to_string(),
        kind: kind(trace.span_kind) as i32,
        start_time_unix_nano: nanos(trace.started_at),
        end_time_unix_nano: nanos(trace.ended_at.unwrap_or(trace.started_at)),
        // What reference-style (`ai.*`) attributes also say in the GenAI and OpenInference
        // conventions, which backends read (see `semconv`).
        attributes: trace
            .attributes
            .iter()
            .map(|(k, v)| key_value(k, v))
            .chain(
                crate::semconv::reference_completions(&trace.attributes)
                    .iter()
                    .map(|(k, v)| key_value(k, v)),
            )
            .collect(),
        dropped_attributes_count: 0,
        events: trace
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: nanos(e.timestamp),
                name: e.name.to_string(),
                attributes: e.attributes.iter().map(|(k, v)| key_value(k, v)).collect(),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: match trace.span_status {
            SpanStatus::Unset => None,
            SpanStatus::Ok => Some(Status {
                message: String::new(),
                code: status::StatusCode::Ok as i32,
            }),
            SpanStatus::Error => Some(Status {
                message: match trace.attributes.get("exception.message") {
                    Some(Value::String(message)) => message.to_string(),
                    _ => String::new(),
                },
                code: status::StatusCode::Error as i32,
            }),
        },
    }
}

fn kind(kind: SpanKind) -> span::SpanKind {
    match kind {
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
    }
}

/// Exact nanoseconds (before 1970 is not representable in OTLP: 0).
fn nanos(t: Timestamp) -> u64 {
    u64::try_from(t.unix_nanos()).unwrap_or(0)
}

fn key_value(key: &str, value: &Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(any_value(value)),
        ..Default::default()
    }
}

/// Values keep their types: nested arrays and maps become OTLP arrays and key-value lists,
/// never JSON text. A `u64` above `i64::MAX` has no OTLP integer: it is sent as its decimal
/// string, which keeps every digit.
fn any_value(value: &Value) -> AnyValue {
    use any_value::Value as V;
    let value = match value {
        Value::Null => None,
        Value::Bool(b) => Some(V::BoolValue(*b)),
        Value::Int(i) => Some(V::IntValue(*i)),
        Value::UInt(u) => Some(match i64::try_from(*u) {
            Ok(i) => V::IntValue(i),
            Err(_) => V::StringValue(u.to_string()),
        }),
        Value::Float(f) => Some(V::DoubleValue(*f)),
        Value::String(s) => Some(V::StringValue(s.to_string())),
        Value::Array(items) => Some(V::ArrayValue(ArrayValue {
            values: items.iter().map(any_value).collect(),
        })),
        Value::Map(map) => Some(V::KvlistValue(KeyValueList {
            values: map.iter().map(|(k, v)| key_value(k, v)).collect(),
        })),
    };
    AnyValue { value }
}

/// A request body and its content headers.
pub(super) struct Body {
    pub(super) bytes: Vec<u8>,
    pub(super) content_type: &'static str,
    pub(super) gzip: bool,
}

/// Encodes `request` as `protocol` says, compressed if asked.
pub(super) fn body(
    request: &ExportTraceServiceRequest,
    protocol: Protocol,
    compression: Compression,
) -> Result<Body, String> {
    let mut encoded = Vec::new();
    let content_type = match protocol {
        Protocol::HttpProtobuf => {
            request
                .encode(&mut encoded)
                .map_err(|e| format!("cannot encode the batch as protobuf: {e}"))?;
            "application/x-protobuf"
        }
        Protocol::HttpJson => {
            serde_json::to_writer(&mut encoded, request)
                .map_err(|e| format!("cannot encode the batch as JSON: {e}"))?;
            "application/json"
        }
    };
    let bytes = match compression {
        Compression::None => encoded,
        Compression::Gzip => {
            // Fast compression: most of the gain at a fraction of the default level's cost,
            // on the exporter's own thread.
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(encoded.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(&encoded)
                .and_then(|()| gz.finish())
                .map_err(|e| format!("cannot gzip the batch: {e}"))?
        }
    };
    Ok(Body {
        bytes,
        content_type,
        gzip: compression == Compression::Gzip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, SpanId, TraceId};
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;

    fn trace() -> Trace {
        let mut attributes = Attributes::new();
        attributes.insert("s", "text");
        attributes.insert("b", true);
        attributes.insert("i", -7i64);
        attributes.insert("big", u64::MAX);
        attributes.insert("f", 0.5);
        attributes.insert("none", Value::Null);
        attributes.insert(
            "nested",
            Value::from(serde_json::json!({"k": [1, "two", {"x": null}]})),
        );
        attributes.insert("exception.message", "boom");
        let mut resource = Attributes::new();
        resource.insert("service.name", "agent");
        Trace {
            span_name: "call".into(),
            span_kind: SpanKind::Client,
            trace_id: TraceId::from_int(0x0af7651916cd43dd8448eb211c80319c).unwrap(),
            span_id: SpanId::from_int(0xb7ad6b7169203331).unwrap(),
            parent_span_id: SpanId::from_int(0x00f067aa0ba902b7),
            started_at: Timestamp::from_unix_nanos(1_795_300_816_026_429_123),
            ended_at: Some(Timestamp::from_unix_nanos(1_795_300_816_126_439_987)),
            attributes,
            span_status: SpanStatus::Error,
            resource_attributes: resource,
            scope: Scope::default(),
            events: vec![Event {
                name: "retry".into(),
                timestamp: Timestamp::from_unix_nanos(1_795_300_816_026_500_001),
                attributes: [("attempt".to_string(), Value::from(2))]
                    .into_iter()
                    .collect(),
            }],
            snapshot_at: None,
        }
    }

    fn attr<'a>(kvs: &'a [KeyValue], key: &str) -> &'a V {
        kvs.iter()
            .find(|kv| kv.key == key)
            .unwrap()
            .value
            .as_ref()
            .unwrap()
            .value
            .as_ref()
            .unwrap()
    }

    #[test]
    fn maps_every_field() {
        let config_resource = [
            (Key::from("service.name"), Value::from("overridden")),
            (Key::from("deployment.environment"), Value::from("test")),
        ];
        let request = request(&[trace()], &config_resource);
        let rs = &request.resource_spans[0];
        let resource = &rs.resource.as_ref().unwrap().attributes;
        assert_eq!(
            attr(resource, "service.name"),
            &V::StringValue("agent".into())
        );
        assert_eq!(
            attr(resource, "deployment.environment"),
            &V::StringValue("test".into())
        );
        assert_eq!(resource.len(), 2);
        let scope = rs.scope_spans[0].scope.as_ref().unwrap();
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("tracekit", env!("CARGO_PKG_VERSION"))
        );
        let s = &rs.scope_spans[0].spans[0];
        assert_eq!(hex(&s.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(hex(&s.span_id), "b7ad6b7169203331");
        assert_eq!(hex(&s.parent_span_id), "00f067aa0ba902b7");
        assert_eq!(s.kind, span::SpanKind::Client as i32);
        assert_eq!(
            s.start_time_unix_nano, 1_795_300_816_026_429_123,
            "no float rounding"
        );
        assert_eq!(s.end_time_unix_nano, 1_795_300_816_126_439_987);
        let status = s.status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (status::StatusCode::Error as i32, "boom")
        );
        assert_eq!(attr(&s.attributes, "s"), &V::StringValue("text".into()));
        assert_eq!(attr(&s.attributes, "b"), &V::BoolValue(true));
        assert_eq!(attr(&s.attributes, "i"), &V::IntValue(-7));
        assert_eq!(
            attr(&s.attributes, "big"),
            &V::StringValue(u64::MAX.to_string())
        );
        assert_eq!(attr(&s.attributes, "f"), &V::DoubleValue(0.5));
        let none = s.attributes.iter().find(|kv| kv.key == "none").unwrap();
        assert_eq!(none.value.as_ref().unwrap().value, None);
        let V::KvlistValue(nested) = attr(&s.attributes, "nested") else {
            panic!("a kvlist")
        };
        let V::ArrayValue(list) = attr(&nested.values, "k") else {
            panic!("an array")
        };
        assert_eq!(list.values[0].value, Some(V::IntValue(1)));
        assert_eq!(list.values[1].value, Some(V::StringValue("two".into())));
        assert!(matches!(list.values[2].value, Some(V::KvlistValue(_))));
        let event = &s.events[0];
        assert_eq!(
            (event.name.as_str(), event.time_unix_nano),
            ("retry", 1_795_300_816_026_500_001)
        );
        assert_eq!(attr(&event.attributes, "attempt"), &V::IntValue(2));
    }

    #[test]
    fn groups_by_resource_then_scope() {
        let a = trace();
        let mut b = trace();
        b.scope = Scope::new("other", "1");
        let mut c = trace();
        c.resource_attributes.insert("service.name", "tool");
        let request = request(&[a.clone(), b, c, a], &[]);
        assert_eq!(request.resource_spans.len(), 2);
        let first = &request.resource_spans[0].scope_spans;
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].spans.len(), 2);
        assert_eq!(request.resource_spans[1].scope_spans[0].spans.len(), 1);
    }

    #[test]
    fn unset_status_sends_none_and_ok_has_no_message() {
        let mut t = trace();
        t.span_status = SpanStatus::Unset;
        assert_eq!(span(&t).status, None);
        t.span_status = SpanStatus::Ok;
        assert_eq!(span(&t).status.unwrap().message, "");
    }

    #[test]
    fn bodies_decode_back() {
        let request = request(&[trace()], &[]);
        let body = body(&request, Protocol::HttpProtobuf, Compression::None).unwrap();
        assert_eq!(
            ExportTraceServiceRequest::decode(&body.bytes[..]).unwrap(),
            request
        );
        let gz = super::body(&request, Protocol::HttpProtobuf, Compression::Gzip).unwrap();
        assert!(gz.gzip && gz.bytes.len() < body.bytes.len());
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.bytes[..]), &mut plain)
            .unwrap();
        assert_eq!(plain, body.bytes);
        let json = super::body(&request, Protocol::HttpJson, Compression::None).unwrap();
        assert_eq!(json.content_type, "application/json");
        let text = String::from_utf8(json.bytes).unwrap();
        assert!(
            text.contains(r#""traceId":"0af7651916cd43dd8448eb211c80319c""#),
            "{text}"
        );
        assert!(
            text.contains(r#""startTimeUnixNano":"1795300816026429123""#),
            "{text}"
        );
        let back: ExportTraceServiceRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, request);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
