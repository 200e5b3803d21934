//! A rig agent traced into `traces.db`, offline: rig-agent over rig-core's OpenAI
//! chat-completions wire, pointed at a scripted OpenAI-compatible endpoint on 127.0.0.1 that
//! asks for a weather tool call, then answers.
//!
//! ```sh
//! cargo run -p tracekit-examples --example rig_agent --features rig
//! cargo run -p tracekit-cli -- show traces.db conv-rig-demo     # the same tree, from the store
//! ```
//!
//! `bridge::TracingLayer` turns rig's `tracing` spans (`invoke_agent`, `chat`,
//! `execute_tool`) into tracekit spans under the `#[traced]` turn: one tree, the conversation
//! id on every span, tokens and cost on the calls to the model. It ends with the tree, the
//! timeline and the cost summary.

#[path = "../bridge-tests/endpoint.rs"]
mod endpoint;
#[path = "../bridge-tests/weather_agent.rs"]
mod weather_agent;

use tracekit::bridge::TracingLayer;
use tracekit::genai::GenAi;
use tracekit::{TraceFilter, Tracer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use weather_agent::WeatherAgent;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = endpoint::Endpoint::start();
    let tracer = Tracer::sqlite("traces.db")?;
    tracer.set_resource_attribute("service.name", "RigWeatherAgent");
    // Spans of rig outside a tracekit span go nowhere; those inside go to the turn's tracer.
    // Prompts, completions and tool arguments are kept too (content capture on).
    tracing_subscriber::registry()
        .with(TracingLayer::new(Tracer::noop()).genai(GenAi::new().capture_content(true)))
        .init();

    let weather = WeatherAgent::new(tracer.clone(), endpoint.url());
    let answer = weather
        .turn("conv-rig-demo", "What is the weather in Amsterdam?")
        .await?;
    println!("agent: {answer}\n");

    tracer.flush()?;
    let filter = TraceFilter::new().attribute("ai.conversation.id", "conv-rig-demo");
    let spans = tracer.get_traces(&filter)?;
    println!("{}", tracekit::render::tree(&spans));
    println!("{}", tracekit::render::timeline(&spans, 72));
    let summary = tracekit::analysis::summary(&spans);
    println!(
        "{} LLM calls, {} input tokens ({} cached), {} output tokens, ${:.5}",
        summary.llm_calls,
        summary.tokens.input,
        summary.tokens.cache_read,
        summary.tokens.output,
        summary.cost_usd
    );
    Ok(())
}
