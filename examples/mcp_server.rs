//! A weather MCP server, traced: rmcp's server wrapped in `tracekit::mcp::Server`, writing its
//! spans to `traces.db` in its working directory.
//!
//! ```text
//! cargo build -p tracekit-examples --example mcp_server --features mcp
//! target/debug/examples/mcp_server                   # MCP on stdin/stdout (what clients start)
//! target/debug/examples/mcp_server --http 127.0.0.1:0  # streamable HTTP; prints the address
//! ```
//!
//! Tools: `get_weather` (argument `city`) answers offline from a small table, through a
//! `#[traced]` lookup; `get_alerts` (argument `region`) always fails, as a tool result with
//! `isError`. Prompt: `weather_report` (argument `city`). A client that puts `traceparent`
//! (and `baggage`) in `params._meta`, as `tracekit::mcp::Client` and Python's `mcp` package
//! do, finds its call span as the parent of this server's span, and the lookup below it.
//!
//! Over HTTP the server stops when its stdin closes; on stdio, when the client goes.
//! `examples/mcp_agent.rs` is a client of it.

use std::error::Error;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult, ListToolsResult,
    PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, Role, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use tracekit::{traced, Tracer};

/// The tools and the prompt.
#[derive(Clone)]
struct Weather {
    tracer: Tracer,
}

impl Weather {
    /// The forecast for `city`: what a real server would fetch from a weather service.
    #[traced("forecast-lookup")]
    fn forecast(&self, city: &str) -> Option<&'static str> {
        let span = self.tracer.current_trace();
        span.add_attribute("weather.city", city);
        let forecast = match city.to_ascii_lowercase().as_str() {
            "amsterdam" => Some("light rain, 11 °C"),
            "lisbon" => Some("sunny, 19 °C"),
            "seattle" => Some("overcast, 9 °C"),
            _ => None,
        };
        span.add_attribute("weather.found", forecast.is_some());
        forecast
    }

    fn argument<'a>(params: &'a CallToolRequestParams, name: &str) -> Result<&'a str, ErrorData> {
        params
            .arguments
            .as_ref()
            .and_then(|a| a.get(name))
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                ErrorData::invalid_params(format!("`{name}` (a string) is required"), None)
            })
    }
}

fn schema(argument: &str) -> serde_json::Map<String, serde_json::Value> {
    let schema = serde_json::json!({
        "type": "object",
        "properties": { argument: { "type": "string" } },
        "required": [argument],
    });
    schema.as_object().cloned().unwrap_or_default()
}

impl ServerHandler for Weather {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("weather", env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new("get_weather", "The weather in a city", schema("city")),
            Tool::new(
                "get_alerts",
                "Weather alerts for a region",
                schema("region"),
            ),
        ]))
    }

    async fn call_tool(
        &self,
        params: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let result = match params.name.as_ref() {
            "get_weather" => {
                let city = Self::argument(&params, "city")?;
                match self.forecast(city) {
                    Some(forecast) => CallToolResult::success(vec![ContentBlock::text(format!(
                        "{city}: {forecast}"
                    ))]),
                    None => CallToolResult::error(vec![ContentBlock::text(format!(
                        "no forecast for {city}"
                    ))]),
                }
            }
            "get_alerts" => {
                let region = Self::argument(&params, "region")?;
                CallToolResult::error(vec![ContentBlock::text(format!(
                    "the alerts service for {region} is unavailable"
                ))])
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool `{other}`"),
                    None,
                ));
            }
        };
        Ok(result.into())
    }

    async fn list_prompts(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let city = PromptArgument::new("city").with_required(true);
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "weather_report",
            Some("A short weather report for a city"),
            Some(vec![city]),
        )]))
    }

    async fn get_prompt(
        &self,
        params: GetPromptRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if params.name != "weather_report" {
            return Err(ErrorData::invalid_params(
                format!("no prompt `{}`", params.name),
                None,
            ));
        }
        let city = params
            .arguments
            .as_ref()
            .and_then(|a| a.get("city"))
            .and_then(|v| v.as_str())
            .unwrap_or("your city");
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Write a two-line weather report for {city}."),
        )])
        .into())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let tracer = Tracer::sqlite("traces.db")?;
    tracer.set_resource_attribute("service.name", "weather-mcp-server");
    let weather = Weather {
        tracer: tracer.clone(),
    };
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => {
            // One line: the handler, traced.
            let server = tracekit::mcp::Server::new(&tracer, weather)
                .serve(rmcp::transport::stdio())
                .await?;
            server.waiting().await?;
        }
        (Some("--http"), Some(address)) => http::serve(&tracer, weather, &address).await?,
        _ => return Err("usage: mcp_server [--http ADDRESS]".into()),
    }
    tracer.shutdown()?;
    Ok(())
}

/// Streamable HTTP on hyper, until stdin closes.
mod http {
    use std::error::Error;
    use std::sync::Arc;

    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    use tokio::io::AsyncReadExt;
    use tracekit::Tracer;

    use super::Weather;

    pub(super) async fn serve(
        tracer: &Tracer,
        weather: Weather,
        address: &str,
    ) -> Result<(), Box<dyn Error>> {
        let service = StreamableHttpService::new(
            {
                let tracer = tracer.clone();
                // The same one line, in the service factory.
                move || Ok(tracekit::mcp::Server::new(&tracer, weather.clone()))
            },
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default(),
        );
        let listener = tokio::net::TcpListener::bind(address).await?;
        // A client reads the address from the first line.
        println!("http://{}/mcp", listener.local_addr()?);
        let mut closed = Box::pin(async {
            let _ = tokio::io::stdin().read_to_end(&mut Vec::new()).await;
        });
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _) = accepted?;
                    let service = TowerToHyperService::new(service.clone());
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                _ = &mut closed => return Ok(()),
            }
        }
    }
}
