"""The `openai` package (its real client, nobody here wrote it) against a tracekit replay or
recording endpoint: one plain and one streamed chat completion. Prints one JSON line with what
the client received: the plain answer, the streamed deltas in order, the finish reasons and the
usage; or the error the client raised (status and message), exit status 3.

    python openai_client.py BASE_URL PROMPT [TRACEPARENT BAGGAGE]
"""

import json
import sys

import openai

base_url, prompt = sys.argv[1], sys.argv[2]
headers = {}
if len(sys.argv) > 4:
    headers = {"traceparent": sys.argv[3], "baggage": sys.argv[4]}
client = openai.OpenAI(
    base_url=base_url,
    api_key="sk-test-0123456789abcdefghijklmnop",
    default_headers=headers,
    max_retries=0,
)
messages = [{"role": "user", "content": prompt}]
try:
    plain = client.chat.completions.create(model="gpt-4o", messages=messages)
    deltas, finish, usage = [], None, None
    for chunk in client.chat.completions.create(
        model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}
    ):
        for choice in chunk.choices:
            if choice.delta.content is not None:
                deltas.append(choice.delta.content)
            finish = choice.finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage.model_dump()
except openai.APIStatusError as e:
    print(json.dumps({"status": e.status_code, "message": str(e)}))
    sys.exit(3)
print(
    json.dumps(
        {
            "plain": plain.choices[0].message.content,
            "plain_finish": plain.choices[0].finish_reason,
            "plain_usage": plain.usage.model_dump(),
            "stream": deltas,
            "stream_finish": finish,
            "stream_usage": usage,
        }
    )
)
