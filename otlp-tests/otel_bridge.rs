//! `bridge::OtelExporter`: spans made with the OpenTelemetry SDK land in a tracekit SQLite
//! store with their ids, parents, kinds, status, typed attributes, events, scope, resource and
//! the SDK's own times, and read back like tracekit's own.

use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Span as _, SpanKind as OtelKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracekit::bridge::OtelExporter;
use tracekit::{SpanKind, SpanStatus, TraceFilter, Tracer, Value};

#[test]
fn sdk_spans_land_in_sqlite_intact() {
    let dir = tempfile::tempdir().unwrap();
    let tracer = Tracer::sqlite(dir.path().join("otel.db")).unwrap();
    tracer.set_resource_attribute("deployment.environment", "test");
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("otel-app")
                .build(),
        )
        .with_simple_exporter(OtelExporter::new(tracer.clone()))
        .build();
    let otel = provider.tracer_with_scope(
        opentelemetry::InstrumentationScope::builder("my-library")
            .with_version("1.2.3")
            .build(),
    );

    let started = SystemTime::now() - Duration::from_secs(2);
    let mut parent = otel
        .span_builder("handle request")
        .with_kind(OtelKind::Server)
        .with_start_time(started)
        .start(&otel);
    parent.set_attribute(KeyValue::new("http.request.method", "GET"));
    parent.set_attribute(KeyValue::new("count", 3i64));
    parent.set_attribute(KeyValue::new("ratio", 0.5));
    parent.set_attribute(KeyValue::new("cached", true));
    parent.set_attribute(KeyValue::new(
        "tags",
        opentelemetry::Value::Array(
            vec!["a", "b"]
                .into_iter()
                .map(Into::into)
                .collect::<Vec<opentelemetry::StringValue>>()
                .into(),
        ),
    ));
    let parent_cx = Context::current_with_span(parent);
    let mut child = otel
        .span_builder("query")
        .with_kind(OtelKind::Client)
        .start_with_context(&otel, &parent_cx);
    child.add_event("retry", vec![KeyValue::new("attempt", 2i64)]);
    child.set_status(Status::error("timed out"));
    child.end();
    let parent_ids = parent_cx.span().span_context().clone();
    parent_cx
        .span()
        .end_with_timestamp(started + Duration::from_millis(1500));
    provider.shutdown().unwrap();
    tracer.flush().unwrap();

    let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(tracekit_names(&spans), ["handle request", "query"]);
    let (server, client) = (&spans[0], &spans[1]);
    // Ids and parents as the SDK made them.
    assert_eq!(server.trace_id.to_bytes(), parent_ids.trace_id().to_bytes());
    assert_eq!(server.span_id.to_bytes(), parent_ids.span_id().to_bytes());
    assert_eq!(server.parent_span_id, None);
    assert_eq!(client.parent_span_id, Some(server.span_id));
    assert_eq!(client.trace_id, server.trace_id);
    // Kinds, status, the SDK's own times.
    assert_eq!(
        (server.span_kind, client.span_kind),
        (SpanKind::Server, SpanKind::Client)
    );
    assert_eq!(client.span_status, SpanStatus::Error);
    assert_eq!(
        client.attributes.get("otel.status_description"),
        Some(&"timed out".into())
    );
    assert_eq!(server.duration(), Some(Duration::from_millis(1500)));
    // Typed attributes, events, scope, resource.
    assert_eq!(server.attributes.get("count"), Some(&3.into()));
    assert_eq!(server.attributes.get("ratio"), Some(&0.5.into()));
    assert_eq!(server.attributes.get("cached"), Some(&true.into()));
    assert_eq!(
        server.attributes.get("tags"),
        Some(&Value::from(serde_json::json!(["a", "b"])))
    );
    assert_eq!(client.events[0].name, "retry");
    assert_eq!(client.events[0].attributes.get("attempt"), Some(&2.into()));
    assert_eq!(
        (&*server.scope.name, &*server.scope.version),
        ("my-library", "1.2.3")
    );
    assert_eq!(
        server.resource_attributes.get("service.name"),
        Some(&"otel-app".into())
    );
    assert_eq!(
        server.resource_attributes.get("deployment.environment"),
        Some(&"test".into())
    );
    assert_eq!(tracer.stats().spans_persisted, 2);
}

fn tracekit_names(spans: &[tracekit::Trace]) -> Vec<&str> {
    spans.iter().map(|s| &*s.span_name).collect()
}
