"""Python's OpenTelemetry SDK sending to the collector over OTLP/HTTP (protobuf) and OTLP/gRPC,
and OpenInference's OpenAI instrumentation recording a real `openai` client's chat call
against a scripted OpenAI-compatible endpoint on 127.0.0.1.

Usage: python otel_clients.py HTTP_URL GRPC_ADDR   (prints "ok" once every span is exported)
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

http_url, grpc_addr = sys.argv[1], sys.argv[2]


def provider(service, exporter):
    p = TracerProvider(resource=Resource.create({"service.name": service}))
    p.add_span_processor(BatchSpanProcessor(exporter))
    return p


# OTLP/HTTP with protobuf, gzipped as the SDK does when asked.
from opentelemetry.exporter.otlp.proto.http import Compression

http = provider("py-http", HttpExporter(endpoint=f"{http_url}/v1/traces", compression=Compression.Gzip))
t = http.get_tracer("py-http-client", "1.0")
with t.start_as_current_span("http-root", kind=SpanKind.SERVER) as root:
    root.set_attribute("gen_ai.conversation.id", "conv-otel")
    root.set_attribute("numbers", [1, 2, 3])
    with t.start_as_current_span("http-child") as child:
        child.set_status(Status(StatusCode.ERROR, "it broke"))
        child.add_event("retry", {"attempt": 2})

# OTLP/gRPC (the SDK's default protocol).
grpc = provider("py-grpc", GrpcExporter(endpoint=grpc_addr, insecure=True))
with grpc.get_tracer("py-grpc-client").start_as_current_span("grpc-span", kind=SpanKind.CLIENT) as s:
    s.set_attribute("session.id", "conv-otel")


# An OpenAI-compatible endpoint that answers every chat call the same way.
class Scripted(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Sunny, 18 °C."}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
threading.Thread(target=server.serve_forever, daemon=True).start()

import openai
from openinference.instrumentation import using_session
from openinference.instrumentation.openai import OpenAIInstrumentor

oi = provider("py-openinference", HttpExporter(endpoint=f"{http_url}/v1/traces"))
OpenAIInstrumentor().instrument(tracer_provider=oi)
client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="sk-test")
with using_session("conv-oi"):
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}]
    )
assert answer.choices[0].message.content == "Sunny, 18 °C."

for p in (http, grpc, oi):
    assert p.force_flush(10_000), "an exporter could not deliver"
    p.shutdown()
server.shutdown()
print("ok")
