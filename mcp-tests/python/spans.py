"""OpenTelemetry set up for the MCP interop scripts: every finished span written at once, as a
JSON line, to the file $SPANS_FILE (or kept for `dump()`)."""

import json
import os

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


def record(span):
    ctx = span.get_span_context()
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


class JsonLines(SpanExporter):
    def __init__(self, path):
        self.path = path
        self.kept = []

    def export(self, spans):
        lines = [json.dumps(record(s)) for s in spans]
        self.kept.extend(lines)
        if self.path:
            with open(self.path, "a") as f:
                f.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


exporter = JsonLines(os.environ.get("SPANS_FILE"))
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)


def dump():
    """Prints the spans kept so far, one JSON line each."""
    for line in exporter.kept:
        print(line, flush=True)
