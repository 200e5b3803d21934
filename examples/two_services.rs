//! Two services, one trace: an agent calls a tool service over HTTP on 127.0.0.1, and both
//! export to the OpenTelemetry backend that the `OTEL_*` variables name.
//!
//! ```text
//! bash scripts/phoenix.sh start           # Arize Phoenix on 127.0.0.1:6006, or any collector
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006 \
//!   cargo run -p tracekit-examples --example two_services --features otlp
//! ```
//!
//! The agent process starts the tool service as a child process (this program with the
//! argument `tool-service`). The agent's `call-tool` span injects `traceparent` and
//! `baggage` into its request; the service's handler continues the trace with
//! `#[traced(parent = propagation::extract(headers))]`, so the backend shows one trace across
//! both services, with the conversation id on every span.

use std::collections::HashMap;
use std::error::Error;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use tracekit::{propagation, traced, OtlpConfig, TraceId, Tracer};

fn main() -> Result<(), Box<dyn Error>> {
    if std::env::args().nth(1).as_deref() == Some("tool-service") {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| e as Box<dyn Error>)?;
        // The parent reads the address from the first line.
        println!("{}", server.server_addr());
        return serve_tools(server, tool_service_tracer(OtlpConfig::from_env()?)?);
    }

    let mut tool_service = Command::new(std::env::current_exe()?)
        .arg("tool-service")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut address = String::new();
    BufReader::new(tool_service.stdout.take().ok_or("no stdout")?).read_line(&mut address)?;
    let tools = format!("http://{}", address.trim());

    let agent = Agent::new(agent_tracer(OtlpConfig::from_env()?)?, &tools);
    let conversation = format!("conv-{}", std::process::id());
    let (answer, trace_id) = agent.converse(&conversation, "Amsterdam")?;
    println!("agent: {answer}");
    agent.stop()?;
    tool_service.wait()?;
    println!(
        "one trace {trace_id} across `weather-agent` and `tool-service`, \
         conversation {conversation} on every span"
    );
    Ok(())
}

/// The agent's tracer: the OTLP exporter the configuration gives, as `weather-agent`.
pub fn agent_tracer(config: OtlpConfig) -> Result<Tracer, tracekit::Error> {
    Tracer::otlp(config.service_name("weather-agent"))
}

/// The tool service's tracer, as `tool-service`.
pub fn tool_service_tracer(config: OtlpConfig) -> Result<Tracer, tracekit::Error> {
    Tracer::otlp(config.service_name("tool-service"))
}

pub struct Agent {
    tracer: Tracer,
    tools: String,
    http: ureq::Agent,
}

impl Agent {
    pub fn new(tracer: Tracer, tools: &str) -> Agent {
        Agent {
            tracer,
            tools: tools.to_owned(),
            http: ureq::Agent::new_with_defaults(),
        }
    }

    /// One turn; returns the answer and the trace it was recorded in.
    #[traced(
        kind = Server,
        inheritable("ai.conversation.id" = conversation, "ai.agent.name" = "weather-agent")
    )]
    pub fn converse(
        &self,
        conversation: &str,
        city: &str,
    ) -> Result<(String, TraceId), Box<dyn Error>> {
        let trace_id = self.tracer.current_trace().trace_id().ok_or("not traced")?;
        let forecast = self.call_tool(city)?;
        Ok((format!("The forecast: {forecast}"), trace_id))
    }

    #[traced("call-tool", kind = Client, attributes("ai.tool.name" = "weather"))]
    fn call_tool(&self, city: &str) -> Result<String, ureq::Error> {
        let mut headers = HashMap::new();
        propagation::inject(&self.tracer.current_trace(), &mut headers);
        let mut request = self.http.post(format!("{}/weather", self.tools));
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        request.send(city)?.body_mut().read_to_string()
    }

    /// Stops the tool service, then delivers the agent's spans.
    pub fn stop(&self) -> Result<(), Box<dyn Error>> {
        self.http
            .post(format!("{}/shutdown", self.tools))
            .send("")?;
        self.tracer.shutdown()?;
        Ok(())
    }
}

struct ToolService {
    tracer: Tracer,
}

impl ToolService {
    /// Continues the caller's trace: the baggage brings the conversation id.
    #[traced("weather-tool", kind = Server, parent = propagation::extract(headers))]
    fn handle(&self, headers: &HashMap<String, String>, city: &str) -> String {
        self.lookup(city)
    }

    #[traced(attributes("ai.tool.input" = city))]
    fn lookup(&self, city: &str) -> String {
        format!("sunny in {city}")
    }
}

/// Answers `POST /weather` until `POST /shutdown`, then delivers the service's spans.
pub fn serve_tools(server: tiny_http::Server, tracer: Tracer) -> Result<(), Box<dyn Error>> {
    let service = ToolService { tracer };
    for mut request in server.incoming_requests() {
        if request.url() == "/shutdown" {
            request.respond(tiny_http::Response::empty(204))?;
            break;
        }
        let headers: HashMap<String, String> = request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.to_string(),
                )
            })
            .collect();
        let mut city = String::new();
        request.as_reader().read_to_string(&mut city)?;
        let answer = service.handle(&headers, &city);
        request.respond(tiny_http::Response::from_string(answer))?;
    }
    service.tracer.shutdown()?;
    Ok(())
}
