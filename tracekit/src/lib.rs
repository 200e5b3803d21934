//! Tracing for LLM-agent code: spans around agent steps, with attributes that flow from a
//! conversation to every LLM call and tool call inside it.
//!
//! # In thirty seconds
//!
//! Put [`#[traced]`](macro@traced) on the methods of your agent. It finds the `tracer` field
//! on `self`, opens a span around each call (sync or `async`), and records a returned `Err`,
//! a panic or a dropped future. Inside, [`Tracer::current_trace`] is the current span.
//!
//! ```
//! use tracekit::{traced, TraceFilter, Tracer};
//!
//! struct Agent {
//!     tracer: Tracer,
//! }
//!
//! impl Agent {
//!     /// One conversation turn: the conversation id flows to every span below.
//!     #[traced(kind = Server, inheritable("ai.conversation.id" = conversation))]
//!     fn converse(&self, conversation: &str, input: &str) -> String {
//!         let forecast = self.get_weather("Amsterdam").unwrap_or_default();
//!         format!("{input} -> {forecast}")
//!     }
//!
//!     /// A tool call: a child span; a returned `Err` would mark it failed.
//!     #[traced(kind = Client, attributes("ai.tool.input" = city))]
//!     fn get_weather(&self, city: &str) -> Result<String, std::io::Error> {
//!         self.tracer.current_trace().add_attribute("ai.tool.output", "sunny");
//!         Ok("sunny".into())
//!     }
//! }
//!
//! let agent = Agent { tracer: Tracer::in_memory(1000) };
//! agent.converse("conv-42", "Weather?");
//!
//! // Read the conversation back; the tool call inherited the conversation id.
//! let filter = TraceFilter::new().attribute("ai.conversation.id", "conv-42");
//! let spans = agent.tracer.get_traces(&filter)?;
//! assert_eq!(spans.len(), 2);
//! assert_eq!(spans[1].parent_span_id, Some(spans[0].span_id));
//! # Ok::<(), tracekit::Error>(())
//! ```
//!
//! The [macro's documentation](macro@traced) lists every option (name, kind, tracer,
//! attributes, inheritable attributes, output, streams) with an example each.
//!
//! # Without the macro
//!
//! The same spans, opened by hand: [`Tracer::trace`] (or [`Tracer::span`] and
//! [`SpanBuilder::start`]) returns a [`SpanGuard`] that ends the span when dropped.
//!
//! ```
//! use tracekit::{TraceFilter, Tracer};
//!
//! let tracer = Tracer::in_memory(1000);
//! tracer.set_resource_attribute("service.name", "WeatherAgent");
//!
//! {
//!     // One conversation turn: a root span.
//!     let turn = tracer.trace("converse");
//!     turn.add_inheritable_attribute("ai.conversation.id", "conv-42"); // flows to children
//!     turn.add_attribute("ai.user.input", "Weather in Amsterdam?");
//!
//!     // A tool call inside it: a child span, found through the tracer's context.
//!     let tool = tracer.trace("get_weather");
//!     tracer.current_trace().add_attribute("ai.tool.output", "sunny");
//!     drop(tool); // ends the span; children end before their parents
//! }
//!
//! let spans = tracer.get_traces(&TraceFilter::new().attribute("ai.conversation.id", "conv-42"))?;
//! assert_eq!(spans.len(), 2);
//! assert_eq!(spans[1].parent_span_id, Some(spans[0].span_id));
//! # Ok::<(), tracekit::Error>(())
//! ```
//!
//! # Concepts
//!
//! * A [`Tracer`] is a cheap, cloneable handle to one backend ([`Sink`]): in memory
//!   ([`Tracer::in_memory`]), a terminal ([`Tracer::human_readable`],
//!   [`Tracer::structured_logs`]), several at once ([`Tracer::tee`]), nothing
//!   ([`Tracer::noop`]) or your own ([`Tracer::new`] for a [`Sink`], [`Tracer::batched`] for
//!   an [`Exporter`] that takes batches on a thread of its own).
//! * A span is open while its [`SpanGuard`] lives (sync code) or while its [`Instrumented`]
//!   future runs (async code). When it ends, its [`Trace`] record goes to the sink.
//! * Context is per tracer and follows the task: inside a span,
//!   [`Tracer::current_trace`] finds it, on whichever thread polls the task. Carry it into
//!   spawned tasks with [`FutureExt::in_current_trace`] and into threads with
//!   [`Context::wrap`].
//! * Inheritable attributes of ancestors (root first, nearest wins) come before a span's own
//!   in [`Trace::attributes`]; what an ancestor adds before the child ends is included.
//! * Tracing never breaks the traced code: sink errors and panics are contained, counted in
//!   [`Tracer::stats`] and reported once on stderr. Stores and exporters write from a thread
//!   of their own; [`Tracer::in_background`] does the same for any other tracer, so a slow
//!   or stuck backend never holds up the traced code. The repository's RELIABILITY.md lists
//!   the faults, bad input and load this is tested against, and what each loses.
//! * Nothing queued is lost when the process ends ([`exit`]); a `Spool` (OTLP, DynamoDB)
//!   keeps acknowledged spans across a SIGKILL or an outage; a [`Sampler`]
//!   ([`Tracer::with_sampler`]) keeps fewer traces, by trace id or whole by rule (every
//!   failed, expensive or badly rated one).
//!
//! # Async
//!
//! ```
//! # let rt = tokio::runtime::Runtime::new().unwrap();
//! # rt.block_on(async {
//! use tracekit::{FutureExt, SpanKind, Tracer};
//!
//! let tracer = Tracer::in_memory(100);
//! let t = tracer.clone();
//! tracer
//!     .span("converse")
//!     .kind(SpanKind::Server)
//!     .instrument(async move {
//!         // Spawned tasks keep the parent when wrapped with `in_current_trace`.
//!         let call = t.span("llm-invocation").kind(SpanKind::Client).instrument(async { "hi" });
//!         tokio::spawn(call.in_current_trace()).await.unwrap()
//!     })
//!     .await;
//! let spans = tracer.get_traces(&Default::default()).unwrap();
//! assert_eq!(spans[0].trace_id, spans[1].trace_id);
//! # });
//! ```
//!
//! # Live traces
//!
//! [`Span::emit_snapshot`] sends an in-progress copy of a span to the tracer;
//! [`Tracer::iterable`] streams snapshots and finished spans to consumers as a blocking
//! [`Iterator`] ([`sinks::TraceStream`]), or as an async `Stream` with the `stream`
//! feature. `#[traced(stream)]` keeps a span open until a returned stream or iterator is done.
//!
//! # Stores
//!
//! Traces outlive the process in the reference toolkit's formats, so Python and Rust agents
//! read each other's: `Tracer::sqlite("traces.db")?` (an embedded file, on by default) and
//! `Tracer::dynamodb(DynamoDbConfig::new("traces"))?` (a table a fleet shares). Both pack
//! spans on the traced thread as cheaply as the in-memory store and write them in batches on
//! a thread of their own; see [`stores`].
//!
//! # Agent semantics and analysis
//!
//! [`genai`] sets, for each agent turn, LLM call, tool call, retrieval, embedding, memory
//! access or decision, the attributes of the reference toolkit, the OpenTelemetry GenAI
//! conventions and OpenInference, with tokens and cost from a versioned price table.
//! [`analysis`] sums tokens, cost and time and finds the critical path; [`render`] draws
//! trees and timelines and exports JSON and Jaeger JSON. [`Tracer::redacted`] cleans every
//! span (e-mail addresses, API keys) before any tracer sees it.
//!
//! # Evaluation data
//!
//! [`eval`] keeps what a run used and how it went with its trace: parameter sets, RAG events,
//! user feedback (even on traces that ended long ago), logs, and named tracers per pipeline.
//!
//! # Across services
//!
//! `Tracer::otlp(OtlpConfig::from_env()?)?` sends spans to any OpenTelemetry backend over
//! OTLP/HTTP from an exporter thread (see [`exporters`]). [`propagation::inject`] and
//! [`propagation::extract`] carry the trace and the conversation across processes as W3C
//! `traceparent` and `baggage` headers; a handler continues its caller's trace with
//! [`SpanBuilder::remote`] or `#[traced(parent = extract(&headers))]`.
//!
//! # Receiving from other processes
//!
//! With the `ingest` feature, `ingest::Collector` receives OTLP (HTTP, and gRPC with
//! `ingest-grpc`) from any process or language into any tracer, completing the spans'
//! conventions on the way in and answering 200 only once they are stored: tracekit as the
//! collector of the Python services, MCP servers and sub-agents an agent calls. `tracekit
//! serve STORE --otlp` runs one.
//!
//! # MCP tool servers
//!
//! With the `mcp` feature, `mcp::Client` and `mcp::Server` wrap rmcp's client and server:
//! each request is a CLIENT span under the caller's span and a SERVER span in the tool
//! server, named and attributed as the GenAI conventions for MCP say, with the context and
//! the conversation id carried in `params._meta`; one line on each side.
//!
//! # Replaying a conversation as a test
//!
//! [`replay`] turns a stored conversation into an offline, deterministic test: model calls
//! recorded at the HTTP level by a recording proxy (feature `replay`) and tool calls by
//! `#[traced(record)]`, then answered from the store or a committed cassette file, with the
//! first diverging request shown as a diff.
//!
//! # Other instrumentation
//!
//! With the `tracing` feature, `bridge::TracingLayer` records the `tracing` spans that rig,
//! the genai crate, reqwest-tracing, sqlx and axum emit as tracekit spans: inside a
//! `#[traced]` turn they become its children (inheriting its conversation id), `gen_ai.*`
//! spans are completed in tracekit's conventions and priced, and a `#[traced]` function
//! called inside a bridged span is its child. With the `opentelemetry` feature,
//! `bridge::OtelExporter` stores what the OpenTelemetry SDK exports in any tracekit tracer.
//! See [`bridge`].
//!
//! # Cargo features
//!
//! | Feature  | What it adds                                                                  |
//! |----------|-------------------------------------------------------------------------------|
//! | `sqlite` (default) | `Tracer::sqlite` and [`stores::SqliteConfig`]: rusqlite with SQLite compiled in (nothing to install), miniz_oxide for the reference's compressed bytes |
//! | `dynamodb` | `Tracer::dynamodb` and `DynamoDbConfig`: the AWS SDK for DynamoDB (plain HTTP and HTTPS clients, the standard credential chain) on a tokio runtime of the store's own |
//! | `otlp` | `Tracer::otlp` and `OtlpConfig`: OTLP/HTTP with `opentelemetry-proto`'s prost types (no tonic), ureq with rustls, flate2 for gzip |
//! | `ingest` | `ingest::Collector`: OTLP/HTTP received into any tracer, as `tracekit serve --otlp` does: opentelemetry-proto's prost types, tiny_http, flate2 |
//! | `ingest-grpc` | `ingest::GrpcReceiver`: OTLP/gRPC too: tonic's server on a tokio runtime |
//! | `mcp` | `mcp::Client` and `mcp::Server`: rmcp 3.11 (its client and server roles; transports are the user's choice), http for streamable HTTP requests' headers |
//! | `replay` | `replay::Endpoint`, the recording proxy and replay endpoint: tiny_http, ureq with rustls |
//! | `http` | [`propagation`] on `http::HeaderMap` |
//! | `log` | `eval::LogBridge`: the `log` crate's records as events on the current span |
//! | `stream` | `futures_core::Stream` for [`sinks::TraceStream`], `SpanBuilder::instrument_stream` and `#[traced(stream)]` on functions returning a stream |
//! | `tracing` | `bridge::TracingLayer`: `tracing` 0.1 and `tracing-subscriber` 0.3 (its registry only) |
//! | `opentelemetry` | `bridge::OtelExporter`: the `opentelemetry` API and `opentelemetry_sdk`'s trace part, 0.33 |
//!
//! # More
//!
//! * [Set up](https://github.com/tracekit/tracekit#set-up): the two commands that run the
//!   main example and every test.
//! * [What you get](https://github.com/tracekit/tracekit#what-you-get): every tracer, option
//!   and guarantee on one page, with what each costs.
//! * [BENCHMARKS.md](https://github.com/tracekit/tracekit/blob/main/BENCHMARKS.md): the
//!   figures against tracing, OpenTelemetry and fastrace, and how to reproduce them.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    unused_qualifications,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc,
    clippy::multiple_unsafe_ops_per_block
)]

pub mod analysis;
mod as_tracer;
mod attributes;
mod batch;
pub mod bridge;
mod collect;
mod error;
pub mod eval;
pub mod exit;
pub mod exporters;
mod filter;
mod finished;
mod format;
pub mod genai;
mod ids;
#[cfg(feature = "ingest")]
#[cfg_attr(docsrs, doc(cfg(feature = "ingest")))]
pub mod ingest;
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub mod mcp;
pub mod propagation;
pub mod query;
mod queue;
mod record;
pub mod render;
pub mod replay;
mod resource;
mod sampling;
mod semconv;
mod sink;
pub mod sinks;
mod span;
pub mod stores;
mod stripe;
mod sync;
pub mod testing;
mod timestamp;
mod trace;
mod tracer;

/// The built-in sinks under their old name; see [`sinks`].
#[deprecated(
    since = "0.1.0",
    note = "renamed `tracekit::sinks` (what it holds: the sinks)"
)]
#[doc(hidden)]
pub mod tracers {
    pub use crate::sinks::*;
}
mod value;

#[doc(hidden)]
#[path = "private.rs"]
// Only generated code names these types; nobody prints them.
#[allow(missing_debug_implementations)]
pub mod __private;

pub use tracekit_macros::traced;

pub use as_tracer::AsTracer;
pub use attributes::{Attributes, Iter, Key};
pub use batch::{BatchConfig, ExportError, Exporter, Retries, TraceReader};
pub use error::{Error, StoreProblem};
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use exporters::{Compression, OtlpConfig, Protocol};
pub use filter::TraceFilter;
pub use finished::FinishedSpan;
pub use ids::{ParseIdError, SpanId, TraceId};
pub use propagation::RemoteContext;
pub use sampling::Sampler;
pub use sink::{FailureLog, Sink, SinkStats};
pub use sinks::TraceStream;
pub use span::context::{Context, ContextGuard, FutureExt, WithContext};
pub use span::instrument::Instrumented;
pub use span::{Span, SpanBuilder, SpanGuard};
#[cfg(feature = "dynamodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
pub use stores::DynamoDbConfig;
#[cfg(all(feature = "sqlite", any(feature = "otlp", feature = "dynamodb")))]
pub use stores::Spool;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use stores::SqliteConfig;
pub use timestamp::{ParseTimestampError, Timestamp};
pub use trace::{Event, ParseEnumError, Scope, SpanKind, SpanStatus, Trace};
pub use tracer::{NotReceived, Received, SpanStream, Stats, Tracer, DEFAULT_DEADLINE};
pub use value::{Map, Text, Value, ValueError};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
