//! A scripted OpenAI-compatible chat-completions endpoint on 127.0.0.1: the first request of
//! a conversation gets a call of the `get_weather` tool, a request that carries the tool's
//! result gets the final answer; both with token usage (the first with cached input). Every
//! request body is kept for the test to read.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{json, Value};

/// Usage of the first call: 1 200 input tokens, 1 000 of them read from the cache.
pub const FIRST: (u64, u64, u64) = (1_200, 30, 1_000);
/// Usage of the second call.
pub const SECOND: (u64, u64, u64) = (1_300, 12, 0);

pub struct Endpoint {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    pub requests: Arc<Mutex<Vec<Value>>>,
}

impl Endpoint {
    pub fn start() -> Endpoint {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = std::thread::spawn({
            let (server, requests) = (server.clone(), requests.clone());
            move || {
                for mut request in server.incoming_requests() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let reply = answer(&body);
                    let streamed = body["stream"] == true;
                    requests.lock().unwrap().push(body);
                    let (text, content_type) = if streamed {
                        (events(&reply).concat(), &b"text/event-stream"[..])
                    } else {
                        (reply.to_string(), &b"application/json"[..])
                    };
                    let header =
                        tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type).unwrap();
                    let _ =
                        request.respond(tiny_http::Response::from_string(text).with_header(header));
                }
            }
        });
        Endpoint {
            server,
            thread: Some(thread),
            requests,
        }
    }

    /// The base URL, `/v1` included.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.server.server_addr().to_ip().unwrap())
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A completion as the server-sent events of a streamed one (`"stream": true`): the role,
/// the content in three pieces, the finish reason with the usage, then `[DONE]`.
pub fn events(completion: &Value) -> Vec<String> {
    let base = |delta: Value, finish: Value| {
        json!({
            "id": completion["id"], "object": "chat.completion.chunk",
            "created": completion["created"], "model": completion["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let content = completion["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let third = content.len() / 3;
    let cut = |n: usize| {
        let mut i = n;
        while !content.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    let (a, b) = (cut(third), cut(2 * third));
    let mut chunks = vec![base(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for piece in [&content[..a], &content[a..b], &content[b..]] {
        chunks.push(base(json!({"content": piece}), Value::Null));
    }
    let mut last = base(json!({}), completion["choices"][0]["finish_reason"].clone());
    last["usage"] = completion["usage"].clone();
    chunks.push(last);
    let mut out: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    out.push("data: [DONE]\n\n".into());
    out
}

/// The scripted completion for a request.
pub fn answer(request: &Value) -> Value {
    let model = request["model"].as_str().unwrap_or("gpt-4o").to_owned();
    let has_result = request["messages"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
    let offers_tools = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    let usage = |(input, output, cached): (u64, u64, u64)| {
        json!({
            "prompt_tokens": input,
            "completion_tokens": output,
            "total_tokens": input + output,
            "prompt_tokens_details": {"cached_tokens": cached},
        })
    };
    let (message, finish, usage) = if offers_tools && !has_result {
        (
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": "call-1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Amsterdam\"}"},
                }],
            }),
            "tool_calls",
            usage(FIRST),
        )
    } else {
        (
            json!({"role": "assistant", "content": "It is 18 °C and sunny in Amsterdam."}),
            "stop",
            usage(SECOND),
        )
    };
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    })
}
