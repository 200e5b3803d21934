"""The Python reference toolkit's agent tracing, sent with its own `OtlpTracer()` as its docs
set it up: no arguments, so localhost:4318, one request per span on one connection. The same
spans also go to an InMemoryTracer; once the agent is done, they are read back from the SQLite
file the collector wrote with the reference's own SqliteTracer and compared field by field.

Usage: python reference_agent.py DB  (prints one JSON line: what was compared)
"""

import json
import sys

from generative_ai_toolkit.tracer.otlp import OtlpTracer
from generative_ai_toolkit.tracer.tracer import InMemoryTracer, SqliteTracer, TeeTracer

db = sys.argv[1]
memory = InMemoryTracer()
tracer = TeeTracer().add_tracer(memory).add_tracer(OtlpTracer())
tracer.set_context(resource_attributes={"service.name": "PyWeatherAgent"})

with tracer.trace("converse", span_kind="SERVER") as turn:
    turn.add_attribute("ai.trace.type", "converse")
    turn.add_attribute("ai.conversation.id", "conv-py", inheritable=True)
    turn.add_attribute("ai.subcontext.id", None, inheritable=True)
    turn.add_attribute("ai.auth.context", {"principal_id": "user123"}, inheritable=True)
    turn.add_attribute("ai.user.input", "Weather in Amsterdam?")
    with tracer.trace("llm-invocation", span_kind="CLIENT") as llm:
        llm.add_attribute("ai.trace.type", "llm-invocation")
        llm.add_attribute("ai.llm.request.model.id", "anthropic.claude-sonnet-4-20250514-v1:0")
        llm.add_attribute(
            "ai.llm.request.messages",
            [{"role": "user", "content": [{"text": "Weather in Amsterdam?"}]}],
        )
        llm.add_attribute(
            "ai.llm.response.usage",
            {"inputTokens": 1200, "outputTokens": 80, "totalTokens": 1280},
        )
    with tracer.trace("get_weather", span_kind="CLIENT") as tool:
        tool.add_attribute("ai.trace.type", "tool-invocation")
        tool.add_attribute("ai.tool.name", "get_weather")
        tool.add_attribute("ai.tool.input", {"city": "Amsterdam"})
        tool.add_attribute("ai.tool.output", {"celsius": 18, "sky": "sunny"})
    turn.add_attribute("ai.agent.response", "18 °C and sunny")

sent = memory.get_traces()
stored = SqliteTracer(db_path=db).get_traces(
    attribute_filter={"ai.conversation.id": "conv-py", "ai.subcontext.id": None}
)
by_id = {t.span_id: t for t in stored}
problems = []
for t in sent:
    s = by_id.get(t.span_id)
    if s is None:
        problems.append(f"{t.span_name}: not in the file")
        continue
    parent = lambda x: x.parent_span.span_id if x.parent_span else None
    for field in ["span_name", "span_kind", "trace_id", "span_status", "started_at", "ended_at"]:
        if getattr(s, field) != getattr(t, field):
            problems.append(f"{t.span_name}.{field}: {getattr(s, field)!r} != {getattr(t, field)!r}")
    if parent(s) != parent(t):
        problems.append(f"{t.span_name}: parent {parent(s)} != {parent(t)}")
    if dict(s.resource_attributes) != dict(t.resource_attributes):
        problems.append(f"{t.span_name}: resource {s.resource_attributes} != {t.resource_attributes}")
    if (s.scope.name, s.scope.version) != (t.scope.name, t.scope.version):
        problems.append(f"{t.span_name}: scope {s.scope} != {t.scope}")
    for key, value in t.attributes.items():
        # The reference sends None as an empty value, which the store keeps as null.
        if s.attributes.get(key) != value:
            problems.append(f"{t.span_name}.{key}: {s.attributes.get(key)!r} != {value!r}")
print(json.dumps({"sent": len(sent), "stored": len(stored), "problems": problems}))
