//! [`OtelExporter`]: the OpenTelemetry SDK's finished spans into any tracekit tracer.

use std::time::Duration;

use opentelemetry::trace::{SpanKind as OtelKind, Status};
use opentelemetry::{Array, KeyValue, Value as OtelValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use crate::{
    Attributes, Event, FinishedSpan, Key, Scope, SpanId, SpanKind, SpanStatus, Timestamp, Trace,
    TraceId, Tracer, Value,
};

/// An `opentelemetry_sdk` span exporter that hands each span to a tracekit tracer, so code
/// instrumented with the OpenTelemetry API (or `tracing-opentelemetry`) stores its spans in
/// SQLite or DynamoDB and shows them in `tracekit serve`.
///
/// Ids, parents, kinds, status (a description as `otel.status_description`), typed
/// attributes, events, the instrumentation scope and the SDK's own start and end times are
/// kept; the SDK's resource is laid over the tracer's resource attributes. Links are not
/// (tracekit spans have none): their count goes to `otel.dropped_links_count`. Each span is
/// handed to the tracer once, before `export` returns; the tracer's store or exporter then
/// writes it as it writes its own spans. `force_flush` and `shutdown` flush the tracer (it is
/// shared, so shutting the SDK down leaves it usable).
///
/// ```
/// use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use tracekit::{bridge::OtelExporter, TraceFilter, Tracer};
///
/// let tracer = Tracer::in_memory(100);
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(OtelExporter::new(tracer.clone()))
///     .build();
/// let otel = provider.tracer("my-library");
/// let mut span = otel.start("fetch");
/// span.set_attribute(opentelemetry::KeyValue::new("http.response.status_code", 200));
/// span.end();
///
/// let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
/// assert_eq!(spans[0].span_name, "fetch");
/// assert_eq!(spans[0].attributes.get("http.response.status_code"), Some(&200.into()));
/// assert_eq!(spans[0].scope.name, "my-library");
/// ```
#[derive(Debug)]
pub struct OtelExporter {
    tracer: Tracer,
    resource: Attributes,
}

impl OtelExporter {
    /// An exporter into `tracer`.
    pub fn new(tracer: Tracer) -> OtelExporter {
        OtelExporter {
            tracer,
            resource: Attributes::new(),
        }
    }

    /// The tracekit record of an SDK span.
    fn to_trace(&self, data: SpanData) -> Trace {
        let context = &data.span_context;
        let mut resource = self.tracer.resource_attributes();
        for (key, value) in self.resource.iter() {
            resource.insert(key.to_owned(), value.clone());
        }
        let mut attributes: Attributes = data.attributes.into_iter().map(entry).collect();
        let span_status = match data.status {
            Status::Unset => SpanStatus::Unset,
            Status::Ok => SpanStatus::Ok,
            Status::Error { description } => {
                if !description.is_empty() {
                    attributes.insert("otel.status_description", description.into_owned());
                }
                SpanStatus::Error
            }
        };
        let links = data.links.links.len() as u64 + u64::from(data.links.dropped_count);
        if links > 0 {
            attributes.insert("otel.dropped_links_count", links);
        }
        let scope = &data.instrumentation_scope;
        Trace {
            span_name: data.name,
            span_kind: match data.span_kind {
                OtelKind::Client => SpanKind::Client,
                OtelKind::Server => SpanKind::Server,
                OtelKind::Producer => SpanKind::Producer,
                OtelKind::Consumer => SpanKind::Consumer,
                OtelKind::Internal => SpanKind::Internal,
            },
            trace_id: TraceId::from_bytes(context.trace_id().to_bytes())
                .unwrap_or_else(TraceId::random),
            span_id: SpanId::from_bytes(context.span_id().to_bytes())
                .unwrap_or_else(SpanId::random),
            parent_span_id: SpanId::from_bytes(data.parent_span_id.to_bytes()),
            started_at: Timestamp::from_system_time(data.start_time),
            ended_at: Some(Timestamp::from_system_time(data.end_time)),
            attributes,
            span_status,
            resource_attributes: resource,
            scope: Scope::new(
                scope.name().to_owned(),
                scope.version().unwrap_or_default().to_owned(),
            ),
            events: data
                .events
                .events
                .into_iter()
                .map(|e| Event {
                    name: e.name,
                    timestamp: Timestamp::from_system_time(e.timestamp),
                    attributes: e.attributes.into_iter().map(entry).collect(),
                })
                .collect(),
            snapshot_at: None,
        }
    }
}

/// An OpenTelemetry attribute as a tracekit one.
fn entry(kv: KeyValue) -> (Key, Value) {
    let value = match kv.value {
        OtelValue::Bool(b) => Value::from(b),
        OtelValue::I64(n) => Value::from(n),
        OtelValue::F64(f) => Value::from(f),
        OtelValue::String(s) => Value::from(s.as_str()),
        OtelValue::Array(Array::Bool(v)) => Value::Array(v.into_iter().map(Value::from).collect()),
        OtelValue::Array(Array::I64(v)) => Value::Array(v.into_iter().map(Value::from).collect()),
        OtelValue::Array(Array::F64(v)) => Value::Array(v.into_iter().map(Value::from).collect()),
        OtelValue::Array(Array::String(v)) => {
            Value::Array(v.into_iter().map(|s| Value::from(s.as_str())).collect())
        }
        // The enum is non-exhaustive: anything newer, as text.
        #[allow(unreachable_patterns)]
        other => Value::from(other.to_string()),
    };
    (Key::Owned(kv.key.as_str().to_owned()), value)
}

impl SpanExporter for OtelExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        if let Some(inner) = &self.tracer.inner {
            for data in batch {
                let trace = self.to_trace(data);
                if let Some(span) = FinishedSpan::from_trace(&trace) {
                    inner.deliver(&span);
                }
            }
        }
        std::future::ready(Ok(()))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.tracer
            .flush()
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.tracer
            .flush_within(timeout)
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource
            .iter()
            .map(|(k, v)| entry(KeyValue::new(k.clone(), v.clone())))
            .collect();
    }
}
