//! Exporters: spans sent to other systems as they end.
//!
//! | exporter | feature | constructor |
//! | --- | --- | --- |
//! | OTLP/HTTP to any OpenTelemetry backend | `otlp` | `Tracer::otlp(OtlpConfig)` |
//!
//! An exporter is a [`Sink`](crate::Sink) built as the stores are: the traced thread packs
//! each finished span into a bounded queue and never does I/O; an exporter thread sends
//! batches, retries what may succeed later, and counts what it could not deliver. Combine an
//! exporter with a store with [`Tracer::tee`](crate::Tracer::tee) to keep a local copy.
//!
//! Why these crates for OTLP: `opentelemetry-proto`'s prost types are the protocol's own
//! definitions (without tonic, which only gRPC needs); ureq is a small, well-kept blocking
//! HTTP/1.1 client with rustls (bundled Mozilla roots, the platform's store, or a CA file)
//! that needs no async runtime on an exporter thread of its own; flate2 gzips the bodies.

#[cfg(feature = "otlp")]
mod otlp;

#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp::{to_otlp_json, Compression, OtlpConfig, Protocol};
