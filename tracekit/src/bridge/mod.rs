//! Other instrumentation into tracekit traces.
//!
//! * [`TracingLayer`] (feature `tracing`): spans and events of the `tracing` crate, the way
//!   rig, the genai crate, reqwest-tracing, sqlx and axum/tower-http report their work,
//!   become tracekit spans in the trace of the `#[traced]` code that called them, with
//!   `gen_ai.*` spans priced and completed in tracekit's conventions.
//!
//! * [`OtelExporter`] (feature `opentelemetry`): an `opentelemetry_sdk` span exporter into
//!   any tracekit tracer, for code instrumented with the OpenTelemetry API.
//!
//! The bridge sits with the agent layer: it writes the conventions of [`crate::genai`].

#[cfg(feature = "tracing")]
mod fields;
#[cfg(feature = "opentelemetry")]
mod otel_exporter;
#[cfg(feature = "tracing")]
mod tracing_layer;

#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub use otel_exporter::OtelExporter;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use tracing_layer::{BridgeStats, TracingLayer};
