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

use std::convert::Infallible;

use rig_agent::completion::PromptError;
use rig_agent::{Agent, AgentBuilder};
use rig_core::providers::openai::OpenAIConfig;
use rig_core::tool::{Tool, ToolContext};
use serde_json::json;
use tracekit::bridge::TracingLayer;
use tracekit::genai::GenAi;
use tracekit::{traced, TraceFilter, Tracer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The tool the scripted model asks for.
struct GetWeather;

#[derive(serde::Deserialize)]
struct WeatherArgs {
    city: String,
}

impl Tool for GetWeather {
    const NAME: &'static str = "get_weather";
    type Args = WeatherArgs;
    type Output = String;
    type Error = Infallible;

    fn description(&self) -> String {
        "The weather in a city".into()
    }

    fn parameters(&self) -> serde_json::Value {
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    }

    async fn call(&self, _: &mut ToolContext, args: WeatherArgs) -> Result<String, Infallible> {
        Ok(format!("18 °C, sunny in {}", args.city))
    }
}

struct WeatherAgent {
    tracer: Tracer,
    agent: Agent,
}

impl WeatherAgent {
    /// One conversation turn; rig's spans land under it.
    #[traced(kind = Server, inheritable("ai.conversation.id" = conversation))]
    async fn turn(&self, conversation: &str, input: &str) -> Result<String, PromptError> {
        Ok(self.agent.prompt(input).max_turns(3).await?.output())
    }
}

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

    let model = OpenAIConfig::new("offline")
        .with_base_url(endpoint.url())
        .client()
        .chat("gpt-4o");
    let agent = AgentBuilder::new(model)
        .name("weather-agent")
        .preamble("Answer with the weather.")
        .tool(GetWeather)
        .record_content_telemetry(true)
        .build();
    let weather = WeatherAgent {
        tracer: tracer.clone(),
        agent,
    };
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
