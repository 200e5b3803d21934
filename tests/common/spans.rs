//! Generated spans for the store round-trip properties (in memory, SQLite): any values, kinds,
//! statuses, events, resources and scopes. Included by the tests that use proptest.

use proptest::prelude::*;
use tracekit::{Map, Scope, SpanKind, SpanStatus, Tracer, Value};

pub fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Value::Float),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((".{0,8}", inner), 0..4)
                .prop_map(|entries| Value::Map(entries.into_iter().collect::<Map>())),
        ]
    })
}

pub type Attrs = Vec<(String, Value)>;

/// Up to 6 attributes with keys matching the regex `keys`.
pub fn attrs(keys: &'static str) -> impl Strategy<Value = Attrs> {
    prop::collection::vec((keys, value()), 0..6)
}

/// A parent span to record: everything a span can carry.
#[derive(Debug, Clone)]
pub struct Shape {
    pub name: String,
    pub kind: SpanKind,
    pub status: SpanStatus,
    pub own: Attrs,
    pub inheritable: Attrs,
    pub events: Vec<(String, Attrs)>,
    pub resource: Attrs,
    pub scope: Option<(String, String)>,
}

/// Shapes whose attribute keys match the regex `keys`.
pub fn shape(keys: &'static str) -> impl Strategy<Value = Shape> {
    let kind = prop::sample::select(vec![
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ]);
    let status = prop::sample::select(vec![SpanStatus::Unset, SpanStatus::Ok, SpanStatus::Error]);
    (
        (".{0,30}", kind, status),
        (attrs(keys), attrs(keys), attrs(keys)),
        prop::collection::vec(("[a-z]{1,8}", attrs(keys)), 0..3),
        prop::option::of(("[a-z]{1,8}", "[0-9.]{1,6}")),
    )
        .prop_map(
            |((name, kind, status), (own, inheritable, resource), events, scope)| Shape {
                name,
                kind,
                status,
                own,
                inheritable,
                events,
                resource,
                scope,
            },
        )
}

/// Records `shape` on `tracer` (resource attributes first), with a child named "child"
/// carrying `child` as its own attributes; both end.
pub fn record(tracer: &Tracer, shape: &Shape, child: &Attrs) {
    for (k, v) in &shape.resource {
        tracer.set_resource_attribute(k.clone(), v.clone());
    }
    let mut builder = tracer.span(shape.name.clone()).kind(shape.kind);
    if let Some((n, v)) = &shape.scope {
        builder = builder.scope(Scope::new(n.clone(), v.clone()));
    }
    for (k, v) in &shape.own {
        builder = builder.attribute(k.clone(), v.clone());
    }
    let parent = builder.start();
    for (k, v) in &shape.inheritable {
        parent.add_inheritable_attribute(k.clone(), v.clone());
    }
    for (event, attributes) in &shape.events {
        parent.add_event(event.clone(), attributes.clone());
    }
    parent.set_status(shape.status);
    let c = tracer.trace("child");
    for (k, v) in child {
        c.add_attribute(k.clone(), v.clone());
    }
}
