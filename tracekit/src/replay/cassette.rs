//! [`Cassette`]: what a replay answers with, read from stored spans or from a file.
//!
//! A cassette holds two lists, in the order they happened: HTTP [`Exchange`]s (a model
//! call seen by the recording endpoint) and [`RecordedCall`]s (a `#[traced(record)]`
//! function's arguments and return value). Its file form is for version control: keys
//! sorted, pretty, bodies that are JSON written as JSON, and nothing that changes between
//! two exports of the same conversation (no span ids, trace ids or times).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::ReplayError;
use crate::analysis::{role, Role};
use crate::semconv::replay as names;
use crate::{Trace, Value};

/// The file format's version, written as `tracekit_cassette`.
const FORMAT: u64 = 1;

/// One recorded HTTP exchange.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Exchange {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path and query the client asked for (`/v1/chat/completions`).
    pub path: String,
    /// The request body, whole.
    pub request_body: String,
    /// The response's status code.
    pub status: u16,
    /// The response's `Content-Type`, if it had one.
    pub content_type: Option<String>,
    /// What the response carried.
    pub response: Body,
}

/// A response body: whole, or a server-sent event stream event by event.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// The whole body.
    Whole(String),
    /// The events of a `text/event-stream`, each with its closing blank line: replayed one
    /// HTTP chunk per event, as they were received.
    Chunks(Vec<String>),
}

impl Exchange {
    /// An exchange answered with a whole body.
    pub fn new(
        method: impl Into<String>,
        path: impl Into<String>,
        request_body: impl Into<String>,
        status: u16,
        content_type: Option<String>,
        response: Body,
    ) -> Exchange {
        Exchange {
            method: method.into(),
            path: path.into(),
            request_body: request_body.into(),
            status,
            content_type,
            response,
        }
    }

    /// `POST /v1/chat/completions`: how divergences and span names show it.
    pub fn title(&self) -> String {
        format!("{} {}", self.method, path_only(&self.path))
    }
}

/// The path without its query (where secrets and volatile values live).
pub(crate) fn path_only(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// One `#[traced(record)]` call: the function's span name, its arguments by name and its
/// return value, in serde's JSON form.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RecordedCall {
    /// The span name (the function's name unless `name = ".."` says otherwise).
    pub name: String,
    /// The arguments, an object by argument name.
    pub args: Json,
    /// The return value.
    pub output: Json,
}

impl RecordedCall {
    /// A call of `name` with `args` that returned `output`.
    pub fn new(name: impl Into<String>, args: Json, output: Json) -> RecordedCall {
        RecordedCall {
            name: name.into(),
            args,
            output,
        }
    }
}

/// What a replay answers with: recorded exchanges and calls, in order.
///
/// ```
/// use tracekit::replay::Cassette;
/// use tracekit::Tracer;
///
/// let tracer = Tracer::in_memory(100);
/// tracer.set_recording(true);
/// # #[tracekit::traced(tracer = current, record)]
/// # fn get_weather(city: &str) -> String { format!("sunny in {city}") }
/// # #[tracekit::traced(tracer = tracer)]
/// # fn turn(tracer: &Tracer) { get_weather("Amsterdam"); }
/// turn(&tracer); // a #[traced] turn that calls a #[traced(record)] tool
/// let cassette = Cassette::from_spans(&tracer.get_traces(&Default::default())?)?;
/// assert_eq!(cassette.calls()[0].name, "get_weather");
/// let text = cassette.to_json();
/// assert_eq!(Cassette::from_json(&text)?, cassette);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cassette {
    exchanges: Vec<Exchange>,
    calls: Vec<RecordedCall>,
    /// Whether the exchanges were rebuilt from the spans' messages (no raw recording).
    rebuilt: bool,
}

impl Cassette {
    /// An empty cassette, to fill by hand.
    pub fn new() -> Cassette {
        Cassette::default()
    }

    /// Adds an exchange at the end.
    pub fn push_exchange(&mut self, exchange: Exchange) {
        self.exchanges.push(exchange);
    }

    /// Adds a call at the end.
    pub fn push_call(&mut self, call: RecordedCall) {
        self.calls.push(call);
    }

    /// The HTTP exchanges, in order.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// The `#[traced(record)]` calls, in order.
    pub fn calls(&self) -> &[RecordedCall] {
        &self.calls
    }

    /// Whether the exchanges were rebuilt from model-call spans rather than recorded (see
    /// [`from_spans`](Self::from_spans)).
    pub fn is_rebuilt(&self) -> bool {
        self.rebuilt
    }

    /// Nothing to replay.
    pub fn is_empty(&self) -> bool {
        self.exchanges.is_empty() && self.calls.is_empty()
    }

    /// The cassette in `spans` (a conversation or a trace, in any order): the exchanges a
    /// recording endpoint stored and the calls `#[traced(record)]` stored, in the order they
    /// started (exchanges of one endpoint by their sequence number).
    ///
    /// Spans traced without recording still replay their model calls: when nothing was
    /// recorded, each model call (a span the GenAI, reference or OpenInference conventions
    /// call an LLM call) that recorded its output messages becomes an OpenAI
    /// chat-completions exchange (`POST /v1/chat/completions`, the message, its tool calls,
    /// finish reason and usage). Such an exchange has no request body: it answers the next
    /// chat-completions request in order, whatever it asks.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Corrupt`] when a recording span lacks a part (a store row changed by
    /// hand), naming the span.
    pub fn from_spans(spans: &[Trace]) -> Result<Cassette, ReplayError> {
        let mut ordered: Vec<&Trace> = spans.iter().collect();
        let sequence = |t: &Trace| t.attributes.get(names::SEQUENCE).and_then(Value::as_u64);
        ordered.sort_by_key(|t| (t.started_at, sequence(t)));
        let mut cassette = Cassette::default();
        for span in &ordered {
            if span.attributes.contains_key(names::REQUEST_METHOD) {
                cassette.exchanges.push(exchange_of(span)?);
            }
            if let Some(output) = span.attributes.get(names::CALL_OUTPUT) {
                let args = span
                    .attributes
                    .get(names::CALL_ARGS)
                    .map_or(Json::Null, |a| Json::from(a.clone()));
                cassette.calls.push(RecordedCall::new(
                    span.span_name.to_string(),
                    args,
                    Json::from(output.clone()),
                ));
            }
        }
        // Rebuilt only when nothing was recorded: a run recorded at the `#[traced]` boundary
        // (its model call a recorded function) is answered there.
        if cassette.exchanges.is_empty() && cassette.calls.is_empty() {
            cassette.exchanges = ordered
                .iter()
                .filter(|s| role(s) == Role::Llm)
                .filter_map(|s| rebuilt(s))
                .collect();
            cassette.rebuilt = !cassette.exchanges.is_empty();
        }
        Ok(cassette)
    }

    /// The cassette of conversation `id` (its `ai.conversation.id`) in `store`, or of the
    /// trace with that 32-hex id.
    ///
    /// # Errors
    ///
    /// [`ReplayError::UnknownId`] when no span has that id, [`ReplayError::NothingRecorded`]
    /// when nothing in it can be replayed;
    /// [`ReplayError::Store`] when the store cannot be read.
    pub fn from_store(store: &crate::Tracer, id: &str) -> Result<Cassette, ReplayError> {
        let filter = match id.parse::<crate::TraceId>() {
            Ok(trace) if id.len() == 32 => crate::TraceFilter::new().trace_id(trace),
            _ => crate::TraceFilter::new().attribute("ai.conversation.id", id),
        };
        let spans = store.get_traces(&filter).map_err(ReplayError::Store)?;
        if spans.is_empty() {
            return Err(ReplayError::UnknownId(id.to_owned()));
        }
        let cassette = Cassette::from_spans(&spans)?;
        if cassette.is_empty() {
            return Err(ReplayError::NothingRecorded {
                id: id.to_owned(),
                spans: spans.len(),
            });
        }
        Ok(cassette)
    }

    /// The cassette as its file text: pretty JSON with sorted keys, no ids or times, API
    /// keys and `Bearer` tokens masked (`[secret]`) wherever they appear.
    pub fn to_json(&self) -> String {
        let exchanges: Vec<Json> = self.exchanges.iter().map(exchange_json).collect();
        let calls: Vec<Json> = self
            .calls
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "args": c.args, "output": c.output}))
            .collect();
        let mut file = serde_json::json!({
            "tracekit_cassette": FORMAT,
            "exchanges": exchanges,
            "calls": calls,
        });
        if self.rebuilt {
            file["rebuilt"] = Json::Bool(true);
        }
        let mut file = sorted(file);
        mask(&mut file);
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a cassette's file text.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Cassette`] naming what is wrong (not JSON, another format version, a
    /// missing field).
    pub fn from_json(text: &str) -> Result<Cassette, ReplayError> {
        let file: CassetteFile = serde_json::from_str(text).map_err(|e| ReplayError::Cassette {
            path: None,
            problem: e.to_string(),
        })?;
        if file.tracekit_cassette != FORMAT {
            return Err(ReplayError::Cassette {
                path: None,
                problem: format!(
                    "format version {} (this tracekit reads {FORMAT}): export it again with this version",
                    file.tracekit_cassette
                ),
            });
        }
        let exchanges = file
            .exchanges
            .into_iter()
            .map(|e| {
                let response = match (e.response.chunks, e.response.body) {
                    (Some(chunks), _) => Body::Chunks(chunks),
                    (None, Some(body)) => Body::Whole(body.into_text()),
                    (None, None) => Body::Whole(String::new()),
                };
                Exchange::new(
                    e.request.method,
                    e.request.path,
                    e.request.body.map(FileBody::into_text).unwrap_or_default(),
                    e.response.status,
                    e.response.content_type,
                    response,
                )
            })
            .collect();
        let calls = file
            .calls
            .into_iter()
            .map(|c| RecordedCall::new(c.name, c.args, c.output))
            .collect();
        Ok(Cassette {
            exchanges,
            calls,
            rebuilt: file.rebuilt,
        })
    }

    /// Reads the cassette file at `path`.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Cassette`] with the path, when it cannot be read or is not a cassette.
    pub fn load(path: impl AsRef<Path>) -> Result<Cassette, ReplayError> {
        let path = path.as_ref();
        let named = |problem: String| ReplayError::Cassette {
            path: Some(path.to_path_buf()),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| named(e.to_string()))?;
        Cassette::from_json(&text).map_err(|e| match e {
            ReplayError::Cassette { problem, .. } => named(problem),
            other => other,
        })
    }

    /// Writes the cassette's file text to `path`.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Cassette`] with the path when it cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ReplayError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()).map_err(|e| ReplayError::Cassette {
            path: Some(path.to_path_buf()),
            problem: e.to_string(),
        })
    }
}

/// A recorded exchange's span, read back.
fn exchange_of(span: &Trace) -> Result<Exchange, ReplayError> {
    let text = |key: &str| span.attributes.get(key).and_then(Value::as_str);
    let corrupt = |what: &str| ReplayError::Corrupt {
        span: format!("{} ({})", span.span_name, span.span_id),
        problem: format!("its {what} is missing or not of its type"),
    };
    let response = match span.attributes.get(names::RESPONSE_CHUNKS) {
        Some(chunks) => Body::Chunks(
            chunks
                .as_array()
                .ok_or_else(|| corrupt(names::RESPONSE_CHUNKS))?
                .iter()
                .map(|c| c.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| corrupt(names::RESPONSE_CHUNKS))?,
        ),
        None => Body::Whole(text(names::RESPONSE_BODY).unwrap_or_default().to_owned()),
    };
    let status = span
        .attributes
        .get(names::RESPONSE_STATUS)
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| corrupt(names::RESPONSE_STATUS))?;
    Ok(Exchange::new(
        text(names::REQUEST_METHOD).ok_or_else(|| corrupt(names::REQUEST_METHOD))?,
        text(names::REQUEST_PATH).ok_or_else(|| corrupt(names::REQUEST_PATH))?,
        text(names::REQUEST_BODY).unwrap_or_default(),
        status,
        text(names::RESPONSE_CONTENT_TYPE).map(str::to_owned),
        response,
    ))
}

/// A chat-completions exchange rebuilt from a model call's span: its output messages (the
/// GenAI conventions' parts, or OpenAI's own message form), finish reason, model and usage.
/// `None` when the span recorded no output.
fn rebuilt(span: &Trace) -> Option<Exchange> {
    let output = [
        "gen_ai.output.messages",
        "ai.llm.response.output",
        "gen_ai.completion",
    ]
    .iter()
    .find_map(|k| span.attributes.get(k))?;
    let mut messages = Json::from(output.clone());
    if let Json::String(text) = &messages {
        messages = serde_json::from_str(text).unwrap_or(Json::String(text.clone()));
    }
    let message = match &messages {
        Json::Array(list) => list.last().cloned()?,
        Json::Object(_) => messages.clone(),
        Json::String(text) => serde_json::json!({"role": "assistant", "content": text}),
        _ => return None,
    };
    let (message, finish) = openai_message(&message);
    let finish = span
        .attributes
        .get("gen_ai.response.finish_reasons")
        .and_then(|f| f.as_array().and_then(|a| a.first()).cloned())
        .and_then(|f| f.as_str().map(str::to_owned))
        .or(finish)
        // The GenAI conventions say `tool_call`, OpenAI's wire `tool_calls`; a reason the wire
        // does not know (rig writes `unknown` for `stop`) is inferred from the message.
        .map(|f| {
            if f == "tool_call" {
                "tool_calls".into()
            } else {
                f
            }
        })
        .filter(|f| {
            matches!(
                f.as_str(),
                "stop" | "length" | "tool_calls" | "content_filter"
            )
        })
        .unwrap_or_else(|| {
            if message.get("tool_calls").is_some() {
                "tool_calls".into()
            } else {
                "stop".into()
            }
        });
    let model = [
        "gen_ai.response.model",
        "gen_ai.request.model",
        "ai.llm.request.model.id",
    ]
    .iter()
    .find_map(|k| span.attributes.get(k).and_then(Value::as_str))
    .unwrap_or("unknown");
    let tokens = crate::semconv::tokens(span);
    let body = serde_json::json!({
        "id": span.attributes.get("gen_ai.response.id").and_then(Value::as_str).unwrap_or("chatcmpl-replay"),
        "object": "chat.completion",
        "created": span
            .started_at
            .to_system_time()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": tokens.input,
            "completion_tokens": tokens.output,
            "total_tokens": tokens.input + tokens.output,
            "prompt_tokens_details": {"cached_tokens": tokens.cache_read},
        },
    });
    Some(Exchange::new(
        "POST",
        "/v1/chat/completions",
        "",
        200,
        Some("application/json".into()),
        Body::Whole(body.to_string()),
    ))
}

/// An output message in OpenAI's form (`content`, `tool_calls`), from the GenAI
/// conventions' parts or as it is; and the finish reason the message carries.
fn openai_message(message: &Json) -> (Json, Option<String>) {
    let finish = message
        .get("finish_reason")
        .and_then(Json::as_str)
        .map(str::to_owned);
    let Some(parts) = message.get("parts").and_then(Json::as_array) else {
        let mut plain = serde_json::Map::new();
        plain.insert("role".into(), "assistant".into());
        for key in ["content", "tool_calls"] {
            if let Some(v) = message.get(key) {
                plain.insert(key.into(), v.clone());
            }
        }
        return (Json::Object(plain), finish);
    };
    let text: String = parts
        .iter()
        .filter(|p| p.get("type").and_then(Json::as_str) == Some("text"))
        .filter_map(|p| p.get("content").and_then(Json::as_str))
        .collect();
    let tool_calls: Vec<Json> = parts
        .iter()
        .filter(|p| p.get("type").and_then(Json::as_str) == Some("tool_call"))
        .map(|p| {
            let arguments = match p.get("arguments") {
                Some(Json::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "{}".into(),
            };
            serde_json::json!({
                "id": p.get("id").cloned().unwrap_or(Json::Null),
                "type": "function",
                "function": {"name": p.get("name").cloned().unwrap_or(Json::Null), "arguments": arguments},
            })
        })
        .collect();
    let mut out = serde_json::json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Json::Null } else { Json::String(text) },
    });
    if !tool_calls.is_empty() {
        out["tool_calls"] = Json::Array(tool_calls);
    }
    (out, finish)
}

/// An exchange in the file's form: bodies that parse as JSON written as JSON (`json`),
/// others as text (`text`).
fn exchange_json(e: &Exchange) -> Json {
    let mut request = serde_json::json!({"method": e.method, "path": e.path});
    if !e.request_body.is_empty() {
        request["body"] = FileBody::of(&e.request_body).to_json();
    }
    let mut response = serde_json::json!({"status": e.status});
    if let Some(ct) = &e.content_type {
        response["content_type"] = ct.clone().into();
    }
    match &e.response {
        Body::Whole(body) => response["body"] = FileBody::of(body).to_json(),
        Body::Chunks(chunks) => response["chunks"] = chunks.clone().into(),
    }
    serde_json::json!({"request": request, "response": response})
}

/// `value` with every object's keys sorted (serde_json keeps insertion order here).
pub(crate) fn sorted(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Masks API keys and bearer tokens in every string of `value`.
fn mask(value: &mut Json) {
    match value {
        Json::String(s) => {
            if let Some(masked) = crate::genai::mask_keys(s) {
                *s = masked;
            }
        }
        Json::Array(items) => items.iter_mut().for_each(mask),
        Json::Object(map) => map.values_mut().for_each(mask),
        _ => {}
    }
}

/// A body in the file: JSON when it is, text otherwise.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    json: Option<Json>,
    text: Option<String>,
}

impl FileBody {
    fn of(body: &str) -> FileBody {
        match serde_json::from_str::<Json>(body) {
            Ok(json) if body.trim_start().starts_with(['{', '[']) => FileBody {
                json: Some(json),
                text: None,
            },
            _ => FileBody {
                json: None,
                text: Some(body.to_owned()),
            },
        }
    }

    fn to_json(&self) -> Json {
        match (&self.json, &self.text) {
            (Some(json), _) => serde_json::json!({ "json": json }),
            (None, text) => serde_json::json!({ "text": text.clone().unwrap_or_default() }),
        }
    }

    fn into_text(self) -> String {
        match (self.json, self.text) {
            (Some(json), _) => json.to_string(),
            (None, text) => text.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct CassetteFile {
    tracekit_cassette: u64,
    #[serde(default)]
    exchanges: Vec<FileExchange>,
    #[serde(default)]
    calls: Vec<FileCall>,
    #[serde(default)]
    rebuilt: bool,
}

#[derive(Deserialize)]
struct FileExchange {
    request: FileRequest,
    response: FileResponse,
}

#[derive(Deserialize)]
struct FileRequest {
    method: String,
    path: String,
    body: Option<FileBody>,
}

#[derive(Deserialize)]
struct FileResponse {
    status: u16,
    content_type: Option<String>,
    body: Option<FileBody>,
    chunks: Option<Vec<String>>,
}

#[derive(Deserialize, Serialize)]
struct FileCall {
    name: String,
    #[serde(default)]
    args: Json,
    output: Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cassette {
        let mut c = Cassette::new();
        c.push_exchange(Exchange::new(
            "POST",
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
            200,
            Some("application/json".into()),
            Body::Whole(r#"{"id":"c-1","choices":[]}"#.into()),
        ));
        c.push_exchange(Exchange::new(
            "POST",
            "/v1/chat/completions",
            "not json",
            200,
            Some("text/event-stream".into()),
            Body::Chunks(vec![
                "data: {\"a\":1}\n\n".into(),
                "data: [DONE]\n\n".into(),
            ]),
        ));
        c.push_call(RecordedCall::new(
            "get_weather",
            serde_json::json!({"city": "Amsterdam"}),
            serde_json::json!({"Ok": "sunny"}),
        ));
        c
    }

    #[test]
    fn the_file_reads_back_as_written_and_is_stable() {
        let c = sample();
        let text = c.to_json();
        let back = Cassette::from_json(&text).unwrap();
        assert_eq!(back.calls(), c.calls());
        assert_eq!(back.exchanges()[1], c.exchanges()[1]);
        // JSON bodies come back as the same JSON (compact).
        let body: Json = serde_json::from_str(&back.exchanges()[0].request_body).unwrap();
        assert_eq!(body["messages"][0]["content"], "hi");
        // Exported twice: the same bytes; keys sorted.
        assert_eq!(back.to_json(), text);
        assert!(text.find("\"calls\"").unwrap() < text.find("\"exchanges\"").unwrap());
    }

    #[test]
    fn secrets_never_reach_the_file() {
        let mut c = Cassette::new();
        c.push_call(RecordedCall::new(
            "t",
            serde_json::json!({"key": "sk-proj-0123456789abcdefghijkl"}),
            Json::Null,
        ));
        assert!(!c.to_json().contains("0123456789abcdefghijkl"));
        assert!(c.to_json().contains("[secret]"));
    }

    #[test]
    fn a_recording_span_changed_by_hand_is_named() {
        let tracer = crate::Tracer::in_memory(10);
        let mut span = tracer.trace("POST /v1/chat").snapshot().unwrap();
        span.attributes.insert(names::REQUEST_METHOD, "POST");
        span.attributes.insert(names::REQUEST_PATH, "/v1/chat");
        span.attributes
            .insert(names::RESPONSE_STATUS, "two hundred");
        let e = Cassette::from_spans(&[span]).unwrap_err().to_string();
        assert!(
            e.contains("POST /v1/chat") && e.contains(names::RESPONSE_STATUS),
            "{e}"
        );
        assert!(e.contains("record the conversation again"), "{e}");
    }

    #[test]
    fn a_bad_file_says_what_is_wrong() {
        for (text, expected) in [
            ("{", "EOF"),
            (r#"{"tracekit_cassette": 9}"#, "format version 9"),
            (
                r#"{"tracekit_cassette": 1, "exchanges": [{"request": {}}]}"#,
                "missing field",
            ),
        ] {
            let e = Cassette::from_json(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
