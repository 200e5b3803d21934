//! The OTLP/JSON mapping, read leniently: ids as hex, 64-bit integers as strings or numbers,
//! enums as integers or names, field names in lowerCamelCase (or as in the `.proto`), unknown
//! fields ignored. Written out rather than through `opentelemetry-proto`'s serde support,
//! which takes enums only as integers and says only "invalid value" about a bad one; here an
//! error names the field (`resourceSpans[0].scopeSpans[1].spans[3].traceId: ...`).

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use serde_json::{Map, Value as Json};

/// Where in the body a value is, and what is wrong with it.
type Problem = String;

/// A JSON body as the request `opentelemetry-proto` decodes from protobuf.
pub(super) fn request(body: &[u8]) -> Result<ExportTraceServiceRequest, Problem> {
    let json: Json =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let root = object(&json, "the body")?;
    Ok(ExportTraceServiceRequest {
        resource_spans: list(root, "resourceSpans", "resource_spans", "", resource_spans)?,
    })
}

fn resource_spans(json: &Json, at: &str) -> Result<ResourceSpans, Problem> {
    let o = object(json, at)?;
    Ok(ResourceSpans {
        resource: match field(o, "resource", "resource") {
            Some(r) => {
                let at = format!("{at}.resource");
                let r = object(r, &at)?;
                Some(Resource {
                    attributes: list(r, "attributes", "attributes", &at, key_value)?,
                    dropped_attributes_count: uint(
                        r,
                        "droppedAttributesCount",
                        "dropped_attributes_count",
                        &at,
                    )?,
                    ..Default::default()
                })
            }
            None => None,
        },
        scope_spans: list(o, "scopeSpans", "scope_spans", at, scope_spans)?,
        schema_url: string(o, "schemaUrl", "schema_url", at)?,
    })
}

fn scope_spans(json: &Json, at: &str) -> Result<ScopeSpans, Problem> {
    let o = object(json, at)?;
    Ok(ScopeSpans {
        scope: match field(o, "scope", "scope") {
            Some(s) => {
                let at = format!("{at}.scope");
                let s = object(s, &at)?;
                Some(InstrumentationScope {
                    name: string(s, "name", "name", &at)?,
                    version: string(s, "version", "version", &at)?,
                    attributes: list(s, "attributes", "attributes", &at, key_value)?,
                    dropped_attributes_count: uint(
                        s,
                        "droppedAttributesCount",
                        "dropped_attributes_count",
                        &at,
                    )?,
                })
            }
            None => None,
        },
        spans: list(o, "spans", "spans", at, one_span)?,
        schema_url: string(o, "schemaUrl", "schema_url", at)?,
    })
}

fn one_span(json: &Json, at: &str) -> Result<Span, Problem> {
    let o = object(json, at)?;
    Ok(Span {
        trace_id: hex(o, "traceId", "trace_id", at)?,
        span_id: hex(o, "spanId", "span_id", at)?,
        trace_state: string(o, "traceState", "trace_state", at)?,
        parent_span_id: hex(o, "parentSpanId", "parent_span_id", at)?,
        flags: uint(o, "flags", "flags", at)?,
        name: string(o, "name", "name", at)?,
        kind: enumeration(o, "kind", at, |name| {
            span::SpanKind::from_str_name(name).map(|k| k as i32)
        })?,
        start_time_unix_nano: u64_field(o, "startTimeUnixNano", "start_time_unix_nano", at)?,
        end_time_unix_nano: u64_field(o, "endTimeUnixNano", "end_time_unix_nano", at)?,
        attributes: list(o, "attributes", "attributes", at, key_value)?,
        dropped_attributes_count: uint(
            o,
            "droppedAttributesCount",
            "dropped_attributes_count",
            at,
        )?,
        events: list(o, "events", "events", at, |json, at| {
            let e = object(json, at)?;
            Ok(span::Event {
                time_unix_nano: u64_field(e, "timeUnixNano", "time_unix_nano", at)?,
                name: string(e, "name", "name", at)?,
                attributes: list(e, "attributes", "attributes", at, key_value)?,
                dropped_attributes_count: uint(
                    e,
                    "droppedAttributesCount",
                    "dropped_attributes_count",
                    at,
                )?,
            })
        })?,
        dropped_events_count: uint(o, "droppedEventsCount", "dropped_events_count", at)?,
        links: list(o, "links", "links", at, |json, at| {
            let l = object(json, at)?;
            Ok(span::Link {
                trace_id: hex(l, "traceId", "trace_id", at)?,
                span_id: hex(l, "spanId", "span_id", at)?,
                trace_state: string(l, "traceState", "trace_state", at)?,
                attributes: list(l, "attributes", "attributes", at, key_value)?,
                dropped_attributes_count: uint(
                    l,
                    "droppedAttributesCount",
                    "dropped_attributes_count",
                    at,
                )?,
                flags: uint(l, "flags", "flags", at)?,
            })
        })?,
        dropped_links_count: uint(o, "droppedLinksCount", "dropped_links_count", at)?,
        status: match field(o, "status", "status") {
            Some(s) => {
                let at = format!("{at}.status");
                let s = object(s, &at)?;
                Some(Status {
                    message: string(s, "message", "message", &at)?,
                    code: enumeration(s, "code", &at, |name| {
                        status::StatusCode::from_str_name(name).map(|c| c as i32)
                    })?,
                })
            }
            None => None,
        },
    })
}

fn key_value(json: &Json, at: &str) -> Result<KeyValue, Problem> {
    let o = object(json, at)?;
    Ok(KeyValue {
        key: string(o, "key", "key", at)?,
        value: match field(o, "value", "value") {
            Some(v) => Some(any_value(v, &format!("{at}.value"))?),
            None => None,
        },
        ..Default::default()
    })
}

fn any_value(json: &Json, at: &str) -> Result<AnyValue, Problem> {
    use any_value::Value as V;
    let o = object(json, at)?;
    let mut value = None;
    for (key, v) in o {
        if v.is_null() {
            continue;
        }
        let inner = format!("{at}.{key}");
        value = Some(match key.as_str() {
            "stringValue" | "string_value" => V::StringValue(text(v, &inner)?.to_owned()),
            "boolValue" | "bool_value" => V::BoolValue(
                v.as_bool()
                    .ok_or_else(|| format!("{inner}: expected true or false"))?,
            ),
            "intValue" | "int_value" => V::IntValue(integer(v, &inner)?),
            "doubleValue" | "double_value" => V::DoubleValue(double(v, &inner)?),
            "bytesValue" | "bytes_value" => V::BytesValue(
                base64::engine::general_purpose::STANDARD
                    .decode(text(v, &inner)?)
                    .map_err(|e| format!("{inner}: not base64: {e}"))?,
            ),
            "arrayValue" | "array_value" => V::ArrayValue(ArrayValue {
                values: list(object(v, &inner)?, "values", "values", &inner, any_value)?,
            }),
            "kvlistValue" | "kvlist_value" => V::KvlistValue(KeyValueList {
                values: list(object(v, &inner)?, "values", "values", &inner, key_value)?,
            }),
            // Unknown fields are ignored (the OTLP/JSON rules).
            _ => continue,
        });
    }
    Ok(AnyValue { value })
}

fn object<'j>(json: &'j Json, at: &str) -> Result<&'j Map<String, Json>, Problem> {
    json.as_object()
        .ok_or_else(|| format!("{at}: expected an object"))
}

/// A field under its JSON name or its `.proto` name; a `null` is absent.
fn field<'j>(o: &'j Map<String, Json>, camel: &str, snake: &str) -> Option<&'j Json> {
    o.get(camel)
        .or_else(|| o.get(snake))
        .filter(|v| !v.is_null())
}

fn list<T>(
    o: &Map<String, Json>,
    camel: &str,
    snake: &str,
    at: &str,
    item: impl Fn(&Json, &str) -> Result<T, Problem>,
) -> Result<Vec<T>, Problem> {
    let here = if at.is_empty() {
        camel.to_owned()
    } else {
        format!("{at}.{camel}")
    };
    match field(o, camel, snake) {
        None => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| item(v, &format!("{here}[{i}]")))
            .collect(),
        Some(_) => Err(format!("{here}: expected a list")),
    }
}

fn text<'j>(v: &'j Json, at: &str) -> Result<&'j str, Problem> {
    v.as_str().ok_or_else(|| format!("{at}: expected a string"))
}

fn string(o: &Map<String, Json>, camel: &str, snake: &str, at: &str) -> Result<String, Problem> {
    match field(o, camel, snake) {
        None => Ok(String::new()),
        Some(v) => Ok(text(v, &format!("{at}.{camel}"))?.to_owned()),
    }
}

/// Ids as hex (either case); an empty string is no id.
fn hex(o: &Map<String, Json>, camel: &str, snake: &str, at: &str) -> Result<Vec<u8>, Problem> {
    let Some(v) = field(o, camel, snake) else {
        return Ok(Vec::new());
    };
    let here = format!("{at}.{camel}");
    let digits = text(v, &here)?.as_bytes();
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    if digits.len() % 2 != 0 {
        return Err(format!("{here}: expected an even number of hex digits"));
    }
    digits
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| format!("{here}: expected hex digits (OTLP/JSON ids are hex, not base64)"))
}

/// A 64-bit unsigned integer: a number or a decimal string.
fn u64_field(o: &Map<String, Json>, camel: &str, snake: &str, at: &str) -> Result<u64, Problem> {
    let Some(v) = field(o, camel, snake) else {
        return Ok(0);
    };
    let here = format!("{at}.{camel}");
    match v {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{here}: expected a whole number from 0 to 2^64-1"))
}

fn uint(o: &Map<String, Json>, camel: &str, snake: &str, at: &str) -> Result<u32, Problem> {
    let n = u64_field(o, camel, snake, at)?;
    u32::try_from(n).map_err(|_| format!("{at}.{camel}: {n} is over 2^32-1"))
}

fn integer(v: &Json, at: &str) -> Result<i64, Problem> {
    match v {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{at}: expected a whole number within the 64-bit range"))
}

/// A double: a number, or one of the strings the proto3 JSON mapping uses.
fn double(v: &Json, at: &str) -> Result<f64, Problem> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.trim().parse().ok(),
        },
        _ => None,
    }
    .ok_or_else(|| format!("{at}: expected a number"))
}

/// An enum as its number or its name (`SPAN_KIND_SERVER`); a name this version of OTLP does
/// not know is the unspecified value, as an unknown number is kept.
fn enumeration(
    o: &Map<String, Json>,
    name: &str,
    at: &str,
    by_name: impl Fn(&str) -> Option<i32>,
) -> Result<i32, Problem> {
    match o.get(name) {
        None | Some(Json::Null) => Ok(0),
        Some(Json::String(s)) => Ok(by_name(s).unwrap_or(0)),
        Some(Json::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| format!("{at}.{name}: expected a 32-bit whole number or a name")),
        Some(_) => Err(format!("{at}.{name}: expected a number or a name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_specifications_example_shapes() {
        let body = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"py"}}]},
          "scopeSpans":[{"scope":{"name":"s","version":"1"},"spans":[{
            "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
            "parentSpanId":"","name":"I'm a server span","kind":"SPAN_KIND_SERVER",
            "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,
            "attributes":[{"key":"n","value":{"intValue":"42"}},{"key":"d","value":{"doubleValue":"NaN"}},
              {"key":"a","value":{"arrayValue":{"values":[{"boolValue":true}]}}},
              {"key":"b","value":{"bytesValue":"AAE="}},{"key":"x","value":{"futureValue":1}}],
            "status":{"code":2,"message":"boom"},"unknownField":{}}]}]}]}"#;
        let request = request(body).unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.trace_id[0], 0x5b);
        assert_eq!(span.span_id.len(), 8);
        assert!(span.parent_span_id.is_empty());
        assert_eq!(span.kind, span::SpanKind::Server as i32);
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
        assert_eq!(span.status.as_ref().unwrap().code, 2);
        let values: Vec<_> = span
            .attributes
            .iter()
            .map(|kv| kv.value.clone().unwrap().value)
            .collect();
        assert_eq!(values[0], Some(any_value::Value::IntValue(42)));
        assert!(matches!(values[1], Some(any_value::Value::DoubleValue(d)) if d.is_nan()));
        assert_eq!(values[3], Some(any_value::Value::BytesValue(vec![0, 1])));
        assert_eq!(values[4], None);
    }

    #[test]
    fn errors_name_the_field() {
        for (body, says) in [
            (
                &br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz0"}]}]}]}"#[..],
                "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected hex digits",
            ),
            (br#"{"resourceSpans":{}}"#, "resourceSpans: expected a list"),
            (
                br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}"#,
                "startTimeUnixNano: expected a whole number",
            ),
            (br#"[1]"#, "the body: expected an object"),
            (b"\xff", "the body is not JSON"),
        ] {
            let err = request(body).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
