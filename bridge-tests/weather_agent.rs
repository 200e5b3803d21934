//! A rig weather agent inside a `#[traced]` turn: rig-agent 0.44 over rig-core's OpenAI
//! chat-completions wire, with one tool, pointed at a base URL (the scripted endpoint).
//! Shared by the rig test and `examples/rig_agent.rs`.

use std::convert::Infallible;

use rig_agent::completion::PromptError;
use rig_agent::{Agent, AgentBuilder};
use rig_core::providers::openai::OpenAIConfig;
use rig_core::tool::{Tool, ToolContext};
use serde_json::json;
use tracekit::{traced, Tracer};

/// The tool the scripted model asks for.
pub struct GetWeather;

#[derive(serde::Deserialize)]
pub struct WeatherArgs {
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

pub struct WeatherAgent {
    tracer: Tracer,
    agent: Agent,
}

impl WeatherAgent {
    /// An agent on the OpenAI-compatible endpoint at `base_url`, tracing its turns into
    /// `tracer`; rig records message content on its spans (tracekit keeps it only with
    /// content capture on).
    pub fn new(tracer: Tracer, base_url: String) -> WeatherAgent {
        let model = OpenAIConfig::new("offline")
            .with_base_url(base_url)
            .client()
            .chat("gpt-4o");
        let agent = AgentBuilder::new(model)
            .name("weather-agent")
            .preamble("Answer with the weather.")
            .tool(GetWeather)
            .record_content_telemetry(true)
            .build();
        WeatherAgent { tracer, agent }
    }

    /// One conversation turn; rig's spans land under it.
    #[traced(kind = Server, inheritable("ai.conversation.id" = conversation))]
    pub async fn turn(&self, conversation: &str, input: &str) -> Result<String, PromptError> {
        Ok(self.agent.prompt(input).max_turns(3).await?.output())
    }
}
