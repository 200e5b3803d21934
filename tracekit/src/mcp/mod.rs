//! MCP: one trace from an agent through its tool servers (feature `mcp`).
//!
//! [rmcp](https://docs.rs/rmcp), the official Rust SDK of the Model Context Protocol, opens no
//! spans and passes no trace context. These wrappers trace both of its sides as the
//! OpenTelemetry GenAI conventions for MCP say, and carry the context in each request's
//! `params._meta` (`traceparent`, `tracestate`, `baggage`), so a tool server's spans, its own
//! model calls and its errors are children of the agent's call in one trace, across processes
//! and languages.
//!
//! One line on each side:
//!
//! ```no_run
//! # use rmcp::{transport::IntoTransport, RoleClient};
//! # async fn agent<T, E, A>(tracer: tracekit::Tracer, server: T) -> Result<(), Box<dyn std::error::Error>>
//! # where T: IntoTransport<RoleClient, E, A>, E: std::error::Error + Send + Sync + 'static {
//! use rmcp::model::CallToolRequestParams;
//!
//! // The agent: rmcp's `().serve(transport)`, traced. `server` is any rmcp transport, e.g.
//! // `TokioChildProcess::new(Command::new("./weather-server"))?`.
//! let client = tracekit::mcp::Client::serve(&tracer, (), server).await?;
//! let city = serde_json::json!({"city": "Lisbon"}).as_object().cloned().unwrap_or_default();
//! let weather = client
//!     .call_tool(CallToolRequestParams::new("get_weather").with_arguments(city))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! ```no_run
//! # use rmcp::{transport::IntoTransport, RoleServer};
//! # async fn tool_server<H: rmcp::ServerHandler, T, E, A>(tracer: tracekit::Tracer, handler: H, stdio: T) -> Result<(), Box<dyn std::error::Error>>
//! # where T: IntoTransport<RoleServer, E, A>, E: std::error::Error + Send + Sync + 'static {
//! use rmcp::ServiceExt;
//!
//! // The tool server: any rmcp handler, traced; `stdio` is e.g. `rmcp::transport::stdio()`.
//! let running = tracekit::mcp::Server::new(&tracer, handler).serve(stdio).await?;
//! running.waiting().await?;
//! # Ok(()) }
//! ```
//!
//! (`TokioChildProcess` and `stdio` are rmcp's transports behind its `transport-child-process`
//! and `transport-io` features; any rmcp transport works, streamable HTTP included.
//! `examples/mcp_server.rs` and `examples/mcp_agent.rs` are a complete pair.)
//!
//! # What is recorded
//!
//! **Client.** Every request the client sends is a CLIENT span named
//! `{mcp.method.name} {target}` (`tools/call get_weather`, `prompts/get summary`,
//! `initialize`), a child of the span current where the call was made (a `#[traced]` turn, a
//! bridged rig span), with `mcp.method.name`, `jsonrpc.request.id`, `mcp.protocol.version`,
//! `network.transport` (`pipe` for a child process or stdio, `tcp` for HTTP),
//! `server.address`/`server.port` when the [builder](ClientBuilder::endpoint) knows the URL,
//! `mcp.resource.uri`, `gen_ai.prompt.name`, and for `tools/call`
//! `gen_ai.operation.name = execute_tool` and `gen_ai.tool.name`. Arguments and results are
//! recorded when [`GenAi`](crate::genai::GenAi)'s content capture is on (`gen_ai.tool.call.arguments` /
//! `.result`, with the reference's and OpenInference's names). A result with `isError` ends
//! the span as an error with `error.type = tool_error`; a JSON-RPC error sets
//! `rpc.response.status_code` and `error.type` to its code. The context (and the allowlisted
//! baggage: the conversation id) goes into `params._meta`; a `_meta` that already carries a
//! `traceparent` the caller set is left as it is.
//!
//! When the call is made inside a tool span of the agent's own for the same tool (a
//! `genai::execute_tool` span, rig's `execute_tool` span through the bridge), the MCP
//! attributes go on that span and no second one is opened, as the conventions ask.
//!
//! Requests sent through the wrapper's methods ([`Client::call_tool`], [`Client::get_prompt`],
//! [`Client::send_request`], ...) know their caller's span. Requests rmcp sends by itself, or
//! that code sends through rmcp's `peer()` ([`Client::service`]), are traced too, as children
//! of whatever span is current on the thread that sends them (often none: then they start a
//! trace).
//!
//! Progress notifications from the server become events on the request they belong to (by
//! its progress token); a request the client cancels (rmcp sends
//! `notifications/cancelled` when a call's future is dropped) ends its span with
//! `cancelled = true`; requests still open when the connection closes end with
//! `error.type = transport_closed`.
//!
//! **Server.** Each request handled is a SERVER span with the same name and attributes, whose
//! parent is the caller's span from `params._meta` (else the span current where the server
//! runs), with the caller's baggage restored as inheritable attributes: `#[traced]` functions
//! and bridged `tracing` spans inside a tool handler are its children and carry the
//! conversation id. A `_meta` with a malformed `traceparent` or baggage is ignored as W3C
//! says: the request starts a trace of its own, never fails. Over streamable HTTP the span
//! also gets `mcp.session.id` (the `Mcp-Session-Id` header) and `server.address`/`.port`
//! (the `Host` header). A request the client cancels gets a `notifications/cancelled` event
//! and `cancelled = true` when rmcp cancels its handler's token.
//!
//! Not traced: requests the server sends the client (sampling, elicitation, roots).
//!
//! # Metrics
//!
//! The conventions' `mcp.client.operation.duration` and `mcp.server.operation.duration`
//! histograms are these spans' durations by `mcp.method.name`, `gen_ai.tool.name` and
//! `error.type`; they belong with tracekit's other span-derived metrics, computed off the
//! traced thread from finished spans, not here.

mod call;
mod client;
mod server;

pub use client::{Client, ClientBuilder, Endpoint};
pub use server::{Server, ServerBuilder};
