//! An agent calling an MCP tool server, one trace across both processes.
//!
//! ```text
//! cargo run -p tracekit-examples --example mcp_agent --features mcp
//! ```
//!
//! The agent starts `examples/mcp_server.rs` (built beside it, first if need be) as a child
//! process and talks MCP to it over stdio through `tracekit::mcp::Client`. Its turn is a `#[traced]` span with
//! the conversation id; each request is a CLIENT span under it, with the context in
//! `params._meta`; the server continues the trace in its SERVER spans, and its `#[traced]`
//! lookup is a child of those. Both processes write to `traces.db` in the working directory,
//! so the joined tree is read back from there (and `tracekit show traces.db CONVERSATION`
//! shows the same).

use std::error::Error;
use std::path::PathBuf;

use rmcp::model::{CallToolRequestParams, GetPromptRequestParams};
use rmcp::transport::TokioChildProcess;
use tracekit::sinks::ColorChoice;
use tracekit::{render, traced, TraceFilter, Tracer};

struct Agent {
    tracer: Tracer,
    tools: tracekit::mcp::Client,
}

impl Agent {
    /// One turn: the tools on offer, the weather (a tool that works), alerts (a tool that
    /// fails) and a prompt template.
    #[traced("agent-turn")]
    async fn turn(&self, conversation: &str, city: &str) -> Result<String, rmcp::ServiceError> {
        self.tracer
            .current_trace()
            .add_inheritable_attribute("ai.conversation.id", conversation);
        let tools = self.tools.list_all_tools().await?;
        let weather = self
            .tools
            .call_tool(
                CallToolRequestParams::new("get_weather").with_arguments(arguments("city", city)),
            )
            .await?;
        let alerts = self
            .tools
            .call_tool(
                CallToolRequestParams::new("get_alerts")
                    .with_arguments(arguments("region", "Portugal")),
            )
            .await?;
        let prompt = self
            .tools
            .get_prompt(
                GetPromptRequestParams::new("weather_report")
                    .with_arguments(arguments("city", city)),
            )
            .await?;
        Ok(format!(
            "{} tools; weather: {}; alerts failed: {}; prompt: {} message(s)",
            tools.len(),
            text(&weather.content),
            alerts.is_error == Some(true),
            prompt.messages.len()
        ))
    }
}

fn arguments(name: &str, value: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    map.insert(name.to_owned(), value.into());
    map
}

fn text(content: &[rmcp::model::ContentBlock]) -> String {
    content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `mcp_server`, beside this example; built first (by the cargo that built this one) when
/// `cargo run --example mcp_agent` has not built it yet.
fn server_path() -> Result<PathBuf, Box<dyn Error>> {
    let path = std::env::current_exe()?
        .parent()
        .ok_or("no directory for the current executable")?
        .join(format!("mcp_server{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        eprintln!("building the mcp_server example first");
        let mut build = std::process::Command::new(env!("CARGO"));
        build
            .args(["build", "--example", "mcp_server", "--features", "mcp"])
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        if !build.status()?.success() || !path.exists() {
            return Err(format!(
                "{} is missing: build it with `cargo build -p tracekit-examples --example mcp_server --features mcp`",
                path.display()
            )
            .into());
        }
    }
    Ok(path)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let tracer = Tracer::sqlite("traces.db")?;
    tracer.set_resource_attribute("service.name", "weather-agent");
    let server = TokioChildProcess::new(tokio::process::Command::new(server_path()?))?;
    // One line: rmcp's `().serve(transport)`, traced.
    let tools = tracekit::mcp::Client::serve(&tracer, (), server).await?;
    let agent = Agent {
        tracer: tracer.clone(),
        tools,
    };
    let conversation = format!("mcp-{}", tracekit::SpanId::random());
    let answer = agent.turn(&conversation, "Lisbon").await?;
    println!("{answer}\n");
    // Closing the connection ends the server, which writes its spans as it exits.
    agent.tools.cancel().await?;
    tracer.shutdown()?;

    let spans = Tracer::sqlite("traces.db")?
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", conversation.as_str()))?;
    let traces: std::collections::BTreeSet<_> = spans.iter().map(|s| s.trace_id).collect();
    let services: std::collections::BTreeSet<_> = spans
        .iter()
        .filter_map(|s| s.resource_attributes.get("service.name"))
        .map(|v| v.to_string())
        .collect();
    println!(
        "conversation {conversation}: {} spans in {} trace(s), from {}",
        spans.len(),
        traces.len(),
        services.into_iter().collect::<Vec<_>>().join(" and ")
    );
    print!("{}", render::tree(&spans));
    println!();
    print!(
        "{}",
        render::timeline_colored(&spans, 100, ColorChoice::Auto)
    );
    Ok(())
}
