"""A Python tool service instrumented with the OpenTelemetry SDK as its users would: W3C
trace context and baggage taken from the request (the SDK's default propagators), baggage
copied onto its spans by opentelemetry-processor-baggage, spans exported over OTLP/HTTP to the
collector as each ends.

Usage: python weather_service.py COLLECTOR_URL   (prints "listening PORT", serves until killed)
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

provider = TracerProvider(resource=Resource.create({"service.name": "weather-service"}))
provider.add_span_processor(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{sys.argv[1]}/v1/traces")))
tracer = provider.get_tracer("weather-service")


class Weather(BaseHTTPRequestHandler):
    def do_GET(self):
        # The caller's trace and baggage, current for everything this request does (as
        # OpenTelemetry's server instrumentations attach it).
        token = otel_context.attach(propagate.extract(dict(self.headers)))
        try:
            with tracer.start_as_current_span("GET /weather", kind=SpanKind.SERVER) as span:
                city = parse_qs(urlparse(self.path).query).get("city", ["?"])[0]
                span.set_attribute("city", city)
                with tracer.start_as_current_span("lookup forecast"):
                    body = f"18 °C and sunny in {city}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        finally:
            otel_context.detach(token)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Weather)
print(f"listening {server.server_port}", flush=True)
server.serve_forever()
