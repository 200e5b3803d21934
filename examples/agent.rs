//! A small weather agent, traced end to end. Offline and deterministic: the "LLM" follows a
//! script (ask for the weather tool, then the unit-conversion tool, then answer).
//!
//! Its model and tools are `#[traced(record)]`: with `TRACEKIT_RECORD=1` their arguments and
//! answers are stored too, and `tracekit::replay` can answer in their place
//! (`tests/replay.rs` replays a committed cassette of one run).
//!
//! Run it with `cargo run --example agent`. Spans print as they end (children first) and are
//! stored in `traces.db` (SQLite, the reference toolkit's format) in the working directory;
//! then the conversation is read back from the file by `ai.conversation.id` and shown as a
//! tree, a timeline and a summary of tokens, cost and time.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tracekit::genai::{GenAi, Price, PriceTable, Usage};
use tracekit::sinks::ColorChoice;
use tracekit::{analysis, render, traced, TraceFilter, Tracer, Value};

/// What the scripted model says next.
#[derive(Serialize, Deserialize)]
pub enum Turn {
    CallTool { name: String, input: Value },
    Answer(String),
}

/// The model's reply: what it says and what it cost.
#[derive(Serialize, Deserialize)]
pub struct Reply {
    turn: Turn,
    input_tokens: u64,
    output_tokens: u64,
}

/// A stand-in for an LLM client: asks for each tool of its plan in turn, then answers.
struct ScriptedLlm {
    model_id: &'static str,
    plan: Vec<(&'static str, Value)>,
}

impl ScriptedLlm {
    /// The call to the model: the outside world, so recorded (and replayed) whole.
    #[traced("model", tracer = current, kind = Client, record)]
    fn invoke(&self, messages: &[Value]) -> Reply {
        let tool_results = messages
            .iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
            .count();
        let turn = match self.plan.get(tool_results) {
            Some((name, input)) => Turn::CallTool {
                name: name.to_string(),
                input: input.clone(),
            },
            None => Turn::Answer("It is 18 °C (64.4 °F) and sunny in Amsterdam.".into()),
        };
        Reply {
            turn,
            input_tokens: 120 + 40 * messages.len() as u64,
            output_tokens: 25,
        }
    }
}

/// The weather agent's usual plan: the weather, then the unit conversion.
pub fn usual_plan() -> Vec<(&'static str, Value)> {
    vec![
        ("get_weather", json!({"city": "Amsterdam"}).into()),
        ("convert_units", json!({"celsius": 18}).into()),
    ]
}

pub struct WeatherAgent {
    tracer: Tracer,
    llm: ScriptedLlm,
    /// Records tokens and cost in the conventions backends read (see `tracekit::genai`).
    genai: GenAi,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ToolError(String);

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl WeatherAgent {
    /// An agent with the usual plan, tracing to `tracer`.
    pub fn new(tracer: Tracer) -> WeatherAgent {
        WeatherAgent::with_plan(tracer, usual_plan())
    }

    /// An agent whose scripted model asks for `plan`'s tools in turn (tests change it).
    pub fn with_plan(tracer: Tracer, plan: Vec<(&'static str, Value)>) -> WeatherAgent {
        WeatherAgent {
            tracer,
            llm: ScriptedLlm {
                model_id: "scripted-weather-v1",
                plan,
            },
            // The bundled prices do not know the scripted model: give it a price of its own.
            genai: GenAi::new()
                .prices(PriceTable::bundled().with("scripted-weather-v1", Price::new(3.0, 15.0))),
        }
    }

    /// One conversation turn: the root span of a trace. The conversation id and the user flow
    /// to every span below.
    #[traced(
        kind = Server,
        attributes("ai.trace.type" = "converse", "ai.user.input" = input),
        inheritable("ai.conversation.id" = conversation_id, "ai.auth.context" = json!({"principal_id": user})),
        output = "ai.agent.response"
    )]
    pub fn converse(&self, conversation_id: &str, user: &str, input: &str) -> String {
        let mut messages = vec![Value::from(json!({"role": "user", "content": input}))];
        loop {
            match self.call_llm(&messages) {
                Turn::Answer(text) => return text,
                Turn::CallTool { name, input } => {
                    let output = match name.as_str() {
                        "get_weather" => self.get_weather(&input),
                        "convert_units" => self.convert_units(&input),
                        other => Err(ToolError(format!("unknown tool {other}"))),
                    };
                    let content = output.unwrap_or_else(|e| format!("tool failed: {e}"));
                    messages.push(json!({"role": "tool", "name": name, "content": content}).into());
                }
            }
        }
    }

    #[traced(
        "llm-invocation",
        kind = Client,
        attributes(
            "ai.trace.type" = "llm-invocation",
            "peer.service" = "llm:scripted",
            "ai.llm.request.model.id" = self.llm.model_id,
            "ai.llm.request.messages" = messages
        )
    )]
    fn call_llm(&self, messages: &[Value]) -> Turn {
        let Reply {
            turn,
            input_tokens,
            output_tokens,
        } = self.llm.invoke(messages);
        let usage = Usage::new(input_tokens, output_tokens);
        let (output, stop_reason) = match &turn {
            Turn::CallTool { name, input } => (
                json!({"toolUse": {"name": name, "input": input}}),
                "tool_use",
            ),
            Turn::Answer(text) => (
                json!({"message": {"role": "assistant", "content": text}}),
                "end_turn",
            ),
        };
        // Inside a traced method the span is the tracer's current one.
        let span = self.tracer.current_trace();
        span.add_attribute("ai.llm.response.output", output)
            .add_attribute("ai.llm.response.stop.reason", stop_reason);
        self.genai.record_usage(&span, self.llm.model_id, &usage);
        turn
    }

    #[traced(
        kind = Client,
        attributes("ai.trace.type" = "tool-invocation", "peer.service" = "tool:get_weather", "ai.tool.input" = input),
        output = "ai.tool.output",
        record
    )]
    fn get_weather(&self, input: &Value) -> Result<String, ToolError> {
        match input.get("city").and_then(Value::as_str) {
            Some("Amsterdam") => Ok("18 °C, sunny".to_string()),
            other => Err(ToolError(format!("no forecast for {other:?}"))),
        }
    }

    #[traced(
        kind = Client,
        attributes("ai.trace.type" = "tool-invocation", "peer.service" = "tool:convert_units", "ai.tool.input" = input),
        output = "ai.tool.output",
        record
    )]
    fn convert_units(&self, input: &Value) -> Result<String, ToolError> {
        let celsius = input
            .get("celsius")
            .and_then(Value::as_f64)
            .ok_or_else(|| ToolError("missing celsius".into()))?;
        Ok(format!("{:.1} °F", celsius * 9.0 / 5.0 + 32.0))
    }
}

fn main() -> Result<(), tracekit::Error> {
    // Spans go to a SQLite file in the reference toolkit's format (read back from there) and
    // print on the terminal as they end.
    let store = Tracer::sqlite("traces.db")?;
    let tracer = Tracer::tee([store, Tracer::human_readable(std::io::stdout())]);
    tracer.set_resource_attribute("service.name", "WeatherAgent");

    let agent = WeatherAgent::new(tracer.clone());
    // A new conversation each run: the file keeps the earlier ones.
    let conversation_id = format!("conv-{}", tracekit::SpanId::random());
    println!("== spans as they end ==\n");
    let answer = agent.converse(
        &conversation_id,
        "user123",
        "What's the weather in Amsterdam, in Fahrenheit?",
    );
    println!("== answer ==\n{answer}\n");
    // Everything is written once the last handle goes (or on flush/shutdown).
    tracer.shutdown()?;
    let stats = tracer.stats();
    println!(
        "tracer stats: {} accepted, {} persisted, {} dropped, {} failed\n",
        stats.spans_accepted, stats.spans_persisted, stats.spans_dropped, stats.sink_failures
    );
    drop((agent, tracer));

    // Read the conversation back from the file, as a later run or another process would.
    let spans = Tracer::sqlite("traces.db")?.get_traces(
        &TraceFilter::new().attribute("ai.conversation.id", conversation_id.as_str()),
    )?;
    println!(
        "== conversation {conversation_id}, read back from traces.db: {} spans ==",
        spans.len()
    );
    print!("{}", render::tree(&spans));
    println!();
    print!(
        "{}",
        render::timeline_colored(&spans, 100, ColorChoice::Auto)
    );
    let summary = analysis::summary(&spans);
    let path = analysis::critical_path(&spans);
    println!(
        "\n{} LLM calls: {} tokens in, {} out, ${:.4}; {} tool calls, {} failed spans",
        summary.llm_calls,
        summary.tokens.input,
        summary.tokens.output,
        summary.cost_usd,
        summary.tool_calls,
        summary.errors
    );
    println!(
        "time: {:?} in all, {:?} in the LLM, {:?} in tools, {:?} in the agent's own code",
        summary.wall_time, summary.llm_time, summary.tool_time, summary.own_time
    );
    let slowest = path
        .steps
        .iter()
        .max_by_key(|s| s.self_time)
        .map_or("-", |s| s.name.as_str());
    println!(
        "critical path: {} spans; the most own time in `{slowest}`",
        path.steps.len()
    );
    println!("\n(open the file with `sqlite3 traces.db` or the Python toolkit's SqliteTracer; see the README)");
    Ok(())
}
