//! A small weather agent, traced end to end. Offline and deterministic: the "LLM" follows a
//! script (ask for the weather tool, then the unit-conversion tool, then answer).
//!
//! Run it with `cargo run --example agent`. Spans print as they end (children first) and are
//! stored in `traces.db` (SQLite, the reference toolkit's format) in the working directory;
//! then the conversation is read back from the file by `ai.conversation.id` and drawn as a tree.

use std::collections::HashMap;

use serde_json::json;
use tracekit::{traced, Trace, TraceFilter, Tracer, Value};

/// What the scripted model says next.
enum Turn {
    CallTool { name: &'static str, input: Value },
    Answer(String),
}

/// A stand-in for an LLM client: returns the next scripted turn.
struct ScriptedLlm {
    model_id: &'static str,
}

impl ScriptedLlm {
    fn invoke(&self, messages: &[Value]) -> (Turn, Value) {
        let tool_results = messages
            .iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
            .count();
        let turn = match tool_results {
            0 => Turn::CallTool {
                name: "get_weather",
                input: json!({"city": "Amsterdam"}).into(),
            },
            1 => Turn::CallTool {
                name: "convert_units",
                input: json!({"celsius": 18}).into(),
            },
            _ => Turn::Answer("It is 18 °C (64.4 °F) and sunny in Amsterdam.".into()),
        };
        let input_tokens = 120 + 40 * messages.len() as u64;
        let usage = json!({"inputTokens": input_tokens, "outputTokens": 25, "totalTokens": input_tokens + 25});
        (turn, usage.into())
    }
}

struct WeatherAgent {
    tracer: Tracer,
    llm: ScriptedLlm,
}

#[derive(Debug)]
struct ToolError(String);

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl WeatherAgent {
    /// One conversation turn: the root span of a trace. The conversation id and the user flow
    /// to every span below.
    #[traced(
        kind = Server,
        attributes("ai.trace.type" = "converse", "ai.user.input" = input),
        inheritable("ai.conversation.id" = conversation_id, "ai.auth.context" = json!({"principal_id": user})),
        output = "ai.agent.response"
    )]
    fn converse(&self, conversation_id: &str, user: &str, input: &str) -> String {
        let mut messages = vec![Value::from(json!({"role": "user", "content": input}))];
        loop {
            match self.call_llm(&messages) {
                Turn::Answer(text) => return text,
                Turn::CallTool { name, input } => {
                    let output = match name {
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
        let (turn, usage) = self.llm.invoke(messages);
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
        self.tracer
            .current_trace()
            .add_attribute("ai.llm.response.output", output)
            .add_attribute("ai.llm.response.stop.reason", stop_reason)
            .add_attribute("ai.llm.response.usage", usage);
        turn
    }

    #[traced(
        kind = Client,
        attributes("ai.trace.type" = "tool-invocation", "peer.service" = "tool:get_weather", "ai.tool.input" = input),
        output = "ai.tool.output"
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
        output = "ai.tool.output"
    )]
    fn convert_units(&self, input: &Value) -> Result<String, ToolError> {
        let celsius = input
            .get("celsius")
            .and_then(Value::as_f64)
            .ok_or_else(|| ToolError("missing celsius".into()))?;
        Ok(format!("{:.1} °F", celsius * 9.0 / 5.0 + 32.0))
    }
}

/// Draws the spans of one conversation as a tree with durations and token counts.
fn print_tree(spans: &[Trace]) {
    let mut children: HashMap<Option<tracekit::SpanId>, Vec<&Trace>> = HashMap::new();
    for span in spans {
        children.entry(span.parent_span_id).or_default().push(span);
    }
    fn walk(span: &Trace, depth: usize, children: &HashMap<Option<tracekit::SpanId>, Vec<&Trace>>) {
        let ms = span.duration().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let tokens = span
            .attributes
            .get("ai.llm.response.usage")
            .and_then(|u| u.get("totalTokens"))
            .map(|t| format!("  {t} tokens"))
            .unwrap_or_default();
        println!(
            "{}{} [{}] {ms:.3} ms{tokens}",
            "  ".repeat(depth),
            span.span_name,
            span.span_kind
        );
        for child in children.get(&Some(span.span_id)).into_iter().flatten() {
            walk(child, depth + 1, children);
        }
    }
    for root in children.get(&None).into_iter().flatten() {
        walk(root, 0, &children);
    }
}

fn main() -> Result<(), tracekit::Error> {
    // Spans go to a SQLite file in the reference toolkit's format (read back from there) and
    // print on the terminal as they end.
    let store = Tracer::sqlite("traces.db")?;
    let tracer = Tracer::tee([store, Tracer::human_readable(std::io::stdout())]);
    tracer.set_resource_attribute("service.name", "WeatherAgent");

    let agent = WeatherAgent {
        tracer: tracer.clone(),
        llm: ScriptedLlm {
            model_id: "scripted-weather-v1",
        },
    };
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
    print_tree(&spans);
    let total_tokens: u64 = spans
        .iter()
        .filter_map(|s| {
            s.attributes
                .get("ai.llm.response.usage")?
                .get("totalTokens")?
                .as_u64()
        })
        .sum();
    println!("total tokens: {total_tokens}");
    println!("\n(open the file with `sqlite3 traces.db` or the Python toolkit's SqliteTracer; see the README)");
    Ok(())
}
