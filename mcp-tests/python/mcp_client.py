"""The official Python MCP SDK (`mcp` 2.x) as a client of tracekit's Rust MCP server.

    python mcp_client.py SERVER_BINARY WORKING_DIRECTORY

Starts the server over stdio, calls `get_weather` and `get_alerts` inside a span of its own with
the conversation id in OpenTelemetry baggage, and prints its spans as JSON lines. The SDK opens
a CLIENT span per request and puts `traceparent` and `baggage` in `params._meta` by itself.
"""

import asyncio
import json
import sys

import spans  # sets the tracer provider before mcp creates its tracer
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from opentelemetry import baggage, context, trace


async def main(server, cwd):
    tracer = trace.get_tracer("python-agent")
    token = context.attach(baggage.set_baggage("ai.conversation.id", "py-conversation"))
    try:
        with tracer.start_as_current_span("python-agent-turn"):
            params = StdioServerParameters(command=server, args=[], cwd=cwd)
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    ok = await session.call_tool("get_weather", {"city": "Lisbon"})
                    failed = await session.call_tool("get_alerts", {"region": "Portugal"})
                    print(json.dumps({"weather": ok.content[0].text, "alerts_failed": failed.is_error}), flush=True)
    finally:
        context.detach(token)
    spans.dump()


asyncio.run(main(sys.argv[1], sys.argv[2]))
