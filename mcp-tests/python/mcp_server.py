"""The official Python MCP SDK (`mcp` 2.x) as a server for tracekit's Rust MCP client, on stdio.

    SPANS_FILE=spans.jsonl python mcp_server.py

A `get_weather` tool (argument `city`) whose work is a span of its own. The SDK opens a SERVER
span per request, continued from the `traceparent` in `params._meta`; every finished span is
appended to $SPANS_FILE as a JSON line.
"""

import spans  # sets the tracer provider before mcp creates its tracer
from mcp.server.mcpserver import MCPServer
from opentelemetry import trace

server = MCPServer("python-weather")
tracer = trace.get_tracer("python-weather")


@server.tool()
def get_weather(city: str) -> str:
    """The weather in a city."""
    with tracer.start_as_current_span("python-forecast-lookup"):
        return f"{city}: sunny, 19 °C"


server.run()
