//! A span as an item of the reference's DynamoDB table, and back.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as Av;

use crate::{Attributes, Event, Key, Map, Scope, StoreProblem, Text, Timestamp, Trace, Value};

/// The attributes the reference copies into the GSI key.
const CONVERSATION_ID: &str = "ai.conversation.id";
const SUBCONTEXT_ID: &str = "ai.subcontext.id";

pub(super) type Item = HashMap<String, Av>;

/// What the writer needs besides the span.
pub(super) struct Layout<'a> {
    pub(super) identifier: Option<&'a str>,
    pub(super) ttl_seconds: Option<i64>,
}

/// `SPAN#{identifier or _}#`: the start of every sort key this store writes and reads.
pub(super) fn sk_prefix(identifier: Option<&str>) -> String {
    format!("SPAN#{}#", identifier.unwrap_or("_"))
}

/// `TRACE#{trace_id}`.
pub(super) fn pk(trace_id: impl std::fmt::Display) -> String {
    format!("TRACE#{trace_id}")
}

/// The reference's GSI key: `{conversation}#{subcontext or _}`; `None` without a
/// conversation id.
pub(super) fn conversation_key(conversation: &Value, subcontext: Option<&Value>) -> String {
    let sub = subcontext
        .filter(|v| truthy(v))
        .map_or("_".into(), python_str);
    format!("{}#{sub}", python_str(conversation))
}

/// Python's `str()` of a value, as the reference formats the GSI key.
fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// Python's truthiness, for the reference's `x or "_"`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Int(n) => *n != 0,
        Value::UInt(n) => *n != 0,
        Value::Float(f) => *f != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Map(m) => !m.is_empty(),
        Value::Bool(true) => true,
    }
}

/// A timestamp as the reference stores it: ISO 8601, microseconds, `Z`.
fn iso_z(t: Timestamp) -> String {
    let micros = t.truncated_to_micros().to_string();
    match micros.strip_suffix("+00:00") {
        Some(base) => format!("{base}Z"),
        None => micros,
    }
}

/// The item for `trace`, key for key as the reference's `DynamoDbTracer.persist` writes it
/// (plus `events`, only when the span has some).
pub(super) fn encode(trace: &Trace, layout: &Layout<'_>) -> Item {
    let micros = trace.started_at.unix_nanos().div_euclid(1_000);
    let s = |v: String| Av::S(v);
    let mut item = Item::with_capacity(20);
    item.insert("pk".into(), s(pk(trace.trace_id)));
    item.insert(
        "sk".into(),
        s(format!(
            "{}{:017x}#{}",
            sk_prefix(layout.identifier),
            micros,
            trace.span_id
        )),
    );
    item.insert("trace_id".into(), s(trace.trace_id.to_string()));
    item.insert("span_id".into(), s(trace.span_id.to_string()));
    item.insert("span_kind".into(), s(trace.span_kind.as_str().into()));
    item.insert("span_name".into(), s(trace.span_name.to_string()));
    item.insert("span_status".into(), s(trace.span_status.as_str().into()));
    item.insert("scope_name".into(), s(trace.scope.name.to_string()));
    item.insert("scope_version".into(), s(trace.scope.version.to_string()));
    item.insert(
        "resource_attributes".into(),
        map(trace.resource_attributes.iter()),
    );
    item.insert(
        "parent_span_id".into(),
        trace
            .parent_span_id
            .map_or(Av::Null(true), |p| s(p.to_string())),
    );
    item.insert("started_at".into(), s(iso_z(trace.started_at)));
    if let Some(ended) = trace.ended_at {
        item.insert("ended_at".into(), s(iso_z(ended)));
        // The reference: round((ended - started).total_seconds() * 1000).
        let ms = (ended.unix_nanos() - trace.started_at.unix_nanos()) as f64 / 1e6;
        item.insert(
            "duration_ms".into(),
            Av::N(format!("{}", ms.round() as i64)),
        );
    }
    item.insert("attributes".into(), map(trace.attributes.iter()));
    item.insert(
        "identifier".into(),
        layout
            .identifier
            .map_or(Av::Null(true), |i| s(i.to_owned())),
    );
    if let Some(ttl) = layout.ttl_seconds {
        let started = trace.started_at.unix_nanos().div_euclid(1_000_000_000);
        item.insert("expire_at".into(), Av::N((started + ttl).to_string()));
    }
    if let Some(conversation) = trace.attributes.get(CONVERSATION_ID) {
        item.insert(
            "conversation_id".into(),
            s(conversation_key(
                conversation,
                trace.attributes.get(SUBCONTEXT_ID),
            )),
        );
    }
    if !trace.events.is_empty() {
        let events = trace
            .events
            .iter()
            .map(|e| {
                Av::M(HashMap::from([
                    ("name".into(), s(e.name.to_string())),
                    ("timestamp".into(), s(e.timestamp.to_string())),
                    ("attributes".into(), map(e.attributes.iter())),
                ]))
            })
            .collect();
        item.insert("events".into(), Av::L(events));
    }
    item
}

fn map<'a>(entries: impl Iterator<Item = (&'a str, &'a Value)>) -> Av {
    Av::M(entries.map(|(k, v)| (k.to_owned(), value(v))).collect())
}

/// DynamoDB numbers hold 38 digits between 1e-130 and 1e126; floats outside that, and the
/// non-finite ones, are stored as strings (see the module docs of `DynamoDbConfig`).
fn value(v: &Value) -> Av {
    match v {
        Value::Null => Av::Null(true),
        Value::Bool(b) => Av::Bool(*b),
        Value::Int(n) => Av::N(n.to_string()),
        Value::UInt(n) => Av::N(n.to_string()),
        Value::Float(f) => {
            let a = f.abs();
            if f.is_finite() && (a == 0.0 || (1e-130..1e126).contains(&a)) {
                // Shortest round-trip digits, with a point or exponent so it reads back as a
                // float.
                let text = format!("{f:?}");
                Av::N(text)
            } else {
                Av::S(non_number(*f))
            }
        }
        Value::String(s) => Av::S(s.to_string()),
        Value::Array(items) => Av::L(items.iter().map(value).collect()),
        Value::Map(m) => map(m.iter()),
    }
}

fn non_number(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "Infinity".into()
    } else if f == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        format!("{f:?}")
    }
}

/// A stored item back as a span; a typed error names the item and the attribute.
pub(super) fn decode(item: &Item) -> Result<Trace, StoreProblem> {
    let name = || {
        let key = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .map_or("?", |s| s.as_str())
        };
        format!("pk {} sk {}", key("pk"), key("sk"))
    };
    let corrupt = |attribute: &str, reason: &dyn std::fmt::Display| StoreProblem::CorruptRow {
        row: format!("{} (attribute {attribute})", name()),
        reason: reason.to_string(),
    };
    let text = |k: &str| -> Result<Option<&str>, StoreProblem> {
        match item.get(k) {
            None | Some(Av::Null(_)) => Ok(None),
            Some(Av::S(s)) => Ok(Some(s)),
            Some(other) => Err(corrupt(
                k,
                &format_args!("expected a string, found {other:?}"),
            )),
        }
    };
    let required = |k: &str| text(k)?.ok_or_else(|| corrupt(k, &"missing"));
    macro_rules! parse {
        ($k:expr) => {
            required($k)?.parse().map_err(|e| corrupt($k, &e))?
        };
    }
    let attributes = |k: &str| -> Result<Attributes, StoreProblem> {
        match item.get(k) {
            None | Some(Av::Null(_)) => Ok(Attributes::new()),
            Some(Av::M(m)) => Ok(sorted(m).map(|(k, v)| (k.clone(), read_value(v))).collect()),
            Some(other) => Err(corrupt(k, &format_args!("expected a map, found {other:?}"))),
        }
    };
    let parent_span_id = match text("parent_span_id")? {
        None | Some("") => None,
        Some(s) => Some(s.parse().map_err(|e| corrupt("parent_span_id", &e))?),
    };
    let ended_at = match text("ended_at")? {
        None => None,
        Some(s) => Some(s.parse().map_err(|e| corrupt("ended_at", &e))?),
    };
    let scope = match text("scope_name")? {
        Some(n) => Scope::new(
            n.to_owned(),
            text("scope_version")?.unwrap_or("").to_owned(),
        ),
        None => Scope::default(),
    };
    let events = match item.get("events") {
        None => Vec::new(),
        Some(Av::L(list)) => list
            .iter()
            .map(|e| {
                event(e).ok_or_else(|| {
                    corrupt("events", &"an event is not {name, timestamp, attributes}")
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(corrupt("events", &"expected a list")),
    };
    Ok(Trace {
        span_name: Key::Owned(required("span_name")?.to_owned()),
        span_kind: parse!("span_kind"),
        trace_id: parse!("trace_id"),
        span_id: parse!("span_id"),
        parent_span_id,
        started_at: parse!("started_at"),
        ended_at,
        attributes: attributes("attributes")?,
        span_status: parse!("span_status"),
        resource_attributes: attributes("resource_attributes")?,
        scope,
        events,
        snapshot_at: None,
    })
}

/// DynamoDB keeps no order in a map: entries come back sorted by key, so reads are stable.
fn sorted(m: &HashMap<String, Av>) -> impl Iterator<Item = (&String, &Av)> {
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries.into_iter()
}

fn event(e: &Av) -> Option<Event> {
    let m = e.as_m().ok()?;
    Some(Event {
        name: Key::Owned(m.get("name")?.as_s().ok()?.clone()),
        timestamp: m.get("timestamp")?.as_s().ok()?.parse().ok()?,
        attributes: match m.get("attributes") {
            Some(Av::M(a)) => sorted(a).map(|(k, v)| (k.clone(), read_value(v))).collect(),
            _ => Attributes::new(),
        },
    })
}

/// A stored value as a [`Value`] (sets become arrays, binary an array of byte values).
fn read_value(v: &Av) -> Value {
    match v {
        Av::Null(_) => Value::Null,
        Av::Bool(b) => Value::Bool(*b),
        Av::S(s) => Value::String(Text::from(s.as_str())),
        Av::N(n) => number(n),
        Av::L(items) => Value::Array(items.iter().map(read_value).collect()),
        Av::M(m) => Value::Map(
            sorted(m)
                .map(|(k, v)| (k.as_str(), read_value(v)))
                .collect::<Map>(),
        ),
        Av::Ss(items) => Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect()),
        Av::Ns(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
        Av::B(b) => bytes(b),
        Av::Bs(items) => Value::Array(items.iter().map(bytes).collect()),
        _ => Value::Null,
    }
}

fn bytes(b: &Blob) -> Value {
    Value::Array(b.as_ref().iter().map(|b| Value::Int((*b).into())).collect())
}

/// A DynamoDB number: an integer when it has no point or exponent (and fits), else a float.
fn number(n: &str) -> Value {
    if !n.contains(['.', 'e', 'E']) {
        if let Ok(i) = n.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(u) = n.parse::<u64>() {
            return Value::UInt(u);
        }
    }
    n.parse::<f64>()
        .map_or_else(|_| Value::from(n), Value::Float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any attribute value DynamoDB can hold, a few levels deep.
    fn any_av() -> impl Strategy<Value = Av> {
        let leaf = prop_oneof![
            Just(Av::Null(true)),
            any::<bool>().prop_map(Av::Bool),
            "(?s).{0,20}".prop_map(Av::S),
            "[0-9a-f]{16,32}".prop_map(Av::S),
            Just(Av::S("2026-11-21T22:40:16.021785Z".into())),
            "-?[0-9]{1,30}(\\.[0-9]{0,5})?(e-?[0-9]{1,3})?".prop_map(Av::N),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| Av::B(Blob::new(b))),
            proptest::collection::vec("[a-z]{0,4}", 1..3).prop_map(Av::Ss),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Av::L),
                proptest::collection::hash_map("[a-z_]{0,10}", inner, 0..4).prop_map(Av::M),
            ]
        })
    }

    const KEYS: [&str; 18] = [
        "pk",
        "sk",
        "trace_id",
        "span_id",
        "span_kind",
        "span_name",
        "span_status",
        "scope_name",
        "scope_version",
        "resource_attributes",
        "parent_span_id",
        "started_at",
        "ended_at",
        "attributes",
        "identifier",
        "conversation_id",
        "events",
        "duration_ms",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Items another tool (or a person) wrote: a span, or a `CorruptRow` naming the item
        /// and the attribute; never a panic.
        #[test]
        fn any_item_is_a_span_or_names_what_is_wrong(
            fields in proptest::collection::hash_map(proptest::sample::select(&KEYS[..]), any_av(), 0..18),
            good in proptest::collection::hash_set(proptest::sample::select(&KEYS[..]), 0..18),
        ) {
            // Start from a valid item so decoding gets past the first attributes, keep the
            // `good` attributes, and put anything in place of the others (or leave them out).
            let t = Trace {
                span_name: "s".into(),
                span_kind: crate::SpanKind::Internal,
                trace_id: crate::TraceId::from_int(1).unwrap(),
                span_id: crate::SpanId::from_int(2).unwrap(),
                parent_span_id: None,
                started_at: Timestamp::from_unix_nanos(0),
                ended_at: None,
                attributes: Attributes::new(),
                span_status: crate::SpanStatus::Unset,
                resource_attributes: Attributes::new(),
                scope: Scope::default(),
                events: Vec::new(),
                snapshot_at: None,
            };
            let mut item = encode(&t, &Layout { identifier: None, ttl_seconds: None });
            item.retain(|k, _| good.contains(k.as_str()));
            for (k, v) in fields {
                if !good.contains(k) {
                    item.insert(k.to_owned(), v);
                }
            }
            match decode(&item) {
                Ok(_) => {}
                Err(StoreProblem::CorruptRow { row, reason }) => {
                    prop_assert!(row.contains("(attribute "), "{row}: {reason}");
                }
                Err(other) => prop_assert!(false, "untyped: {other:?}"),
            }
        }
    }
}
