//! The same facts under the names other conventions give them: what a span written in the
//! reference toolkit's `ai.*` style (by `#[traced]` code, by the Python toolkit, or read from
//! an old store) also says in the OpenTelemetry GenAI and OpenInference conventions, so that
//! backends that read only those (Arize Phoenix, Langfuse) show its kind, model, input,
//! output, tokens and cost.
//!
//! Applied where spans leave the process (the OTLP encoding, hence `Tracer::otlp` and
//! `tracekit export`) and by the viewer; stored spans keep what was written. Only names a
//! span does not already carry are added.

use crate::{Attributes, Trace, Value};

/// The attributes that make a span a recording (`tracekit::replay`): what replay reads back.
/// Kept here, with the other conventions' names, because `analysis::diff` leaves recordings
/// out of its comparison (they are the tape, not the agent's behaviour).
pub(crate) mod replay {
    /// An HTTP exchange's request method (`POST`): the span is a recorded exchange.
    pub const REQUEST_METHOD: &str = "tracekit.replay.request.method";
    /// The request's path and query, as the client sent it (secrets in the query masked).
    pub const REQUEST_PATH: &str = "tracekit.replay.request.path";
    /// The request body, whole (text).
    pub const REQUEST_BODY: &str = "tracekit.replay.request.body";
    /// The response's status code.
    pub const RESPONSE_STATUS: &str = "tracekit.replay.response.status";
    /// The response's `Content-Type`.
    pub const RESPONSE_CONTENT_TYPE: &str = "tracekit.replay.response.content_type";
    /// The response body, whole (text); absent for a stream.
    pub const RESPONSE_BODY: &str = "tracekit.replay.response.body";
    /// A server-sent event stream's events, one string per event, in order.
    pub const RESPONSE_CHUNKS: &str = "tracekit.replay.response.chunks";
    /// The exchange's place among those one recording endpoint stored (0, 1, ...).
    pub const SEQUENCE: &str = "tracekit.replay.sequence";
    /// A `#[traced(record)]` call's arguments (an object, by argument name).
    pub const CALL_ARGS: &str = "tracekit.replay.args";
    /// A `#[traced(record)]` call's return value (serde's JSON form).
    pub const CALL_OUTPUT: &str = "tracekit.replay.output";
    /// `true` on a span whose response or return value came from a recording.
    pub const REPLAYED: &str = "tracekit.replay.replayed";
    /// The prefix of all of them.
    pub const PREFIX: &str = "tracekit.replay.";
}

/// What the reference's `ai.trace.type` is in the other conventions: (OpenInference span
/// kind, GenAI operation name).
const KINDS: [(&str, &str, Option<&str>); 9] = [
    ("llm-invocation", "LLM", Some("chat")),
    ("tool-invocation", "TOOL", Some("execute_tool")),
    ("converse", "AGENT", Some("invoke_agent")),
    ("agent-invocation", "AGENT", Some("invoke_agent")),
    ("embedding", "EMBEDDING", Some("embeddings")),
    ("retrieval", "RETRIEVER", Some("retrieval")),
    ("cycle", "CHAIN", None),
    ("decision", "CHAIN", None),
    ("conversation-history-list", "CHAIN", None),
];

/// Reference attributes and the names they also go under: (reference, others).
const SAME: [(&str, &[&str]); 7] = [
    (
        "ai.llm.request.model.id",
        &["gen_ai.request.model", "llm.model_name"],
    ),
    ("ai.tool.name", &["gen_ai.tool.name", "tool.name"]),
    ("ai.tool.use.id", &["gen_ai.tool.call.id"]),
    (
        "ai.conversation.id",
        &["gen_ai.conversation.id", "session.id"],
    ),
    ("ai.agent.name", &["gen_ai.agent.name", "agent.name"]),
    ("tracekit.cost.usd", &["llm.cost.total"]),
    ("ai.tool.input", &["gen_ai.tool.call.arguments"]),
];

/// Reference attributes that are a span's input or output, in the order they are looked
/// for: the first one present is OpenInference's `input.value` / `output.value`.
const INPUTS: [&str; 3] = ["ai.llm.request.messages", "ai.tool.input", "ai.user.input"];
const OUTPUTS: [&str; 3] = [
    "ai.llm.response.output",
    "ai.tool.output",
    "ai.agent.response",
];

/// The attributes to add to `attributes` so that the GenAI and OpenInference conventions say
/// what its reference (`ai.*`) attributes say; none that it already has.
///
/// ```
/// use tracekit::{Attributes, Value};
/// let mut span = Attributes::new();
/// span.insert("ai.trace.type", "tool-invocation");
/// span.insert("ai.tool.name", "get_weather");
/// span.insert("ai.tool.output", "sunny");
/// let added: Attributes = tracekit::genai::reference_completions(&span).into_iter().collect();
/// assert_eq!(added.get("openinference.span.kind"), Some(&Value::from("TOOL")));
/// assert_eq!(added.get("gen_ai.tool.name"), Some(&Value::from("get_weather")));
/// assert_eq!(added.get("output.value"), Some(&Value::from("sunny")));
/// ```
pub fn reference_completions(attributes: &Attributes) -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    let add =
        |out: &mut Vec<(&'static str, Value)>, key, value| add_new(attributes, out, key, value);
    if let Some(Value::String(kind)) = attributes.get("ai.trace.type") {
        if let Some((_, openinference, operation)) = KINDS.iter().find(|(k, ..)| kind == *k) {
            add(
                &mut out,
                "openinference.span.kind",
                Value::from_static(openinference),
            );
            if let Some(operation) = operation {
                add(
                    &mut out,
                    "gen_ai.operation.name",
                    Value::from_static(operation),
                );
            }
        }
    }
    for (reference, others) in SAME {
        if let Some(value) = attributes.get(reference) {
            for other in others {
                add(&mut out, other, value.clone());
            }
        }
    }
    for (keys, value_key, mime_key) in [
        (&INPUTS, "input.value", "input.mime_type"),
        (&OUTPUTS, "output.value", "output.mime_type"),
    ] {
        if let Some(value) = keys.iter().find_map(|k| attributes.get(k)) {
            let (text, mime) = match value {
                Value::String(s) => (s.to_string(), "text/plain"),
                other => (other.to_string(), "application/json"),
            };
            add(&mut out, value_key, Value::from(text));
            add(&mut out, mime_key, Value::from_static(mime));
        }
    }
    if let Some(Value::Map(usage)) = attributes.get("ai.llm.response.usage") {
        let count = |k: &str| usage.get(k).filter(|v| v.as_u64().is_some()).cloned();
        for (from, to) in [
            (
                "inputTokens",
                ["gen_ai.usage.input_tokens", "llm.token_count.prompt"],
            ),
            (
                "outputTokens",
                ["gen_ai.usage.output_tokens", "llm.token_count.completion"],
            ),
        ] {
            if let Some(n) = count(from) {
                for key in to {
                    add(&mut out, key, n.clone());
                }
            }
        }
        if let Some(n) = count("totalTokens") {
            add(&mut out, "llm.token_count.total", n);
        }
    }
    out
}

/// OpenInference's span kinds and OpenLLMetry's request types and span kinds, as GenAI
/// operations: (attribute, value, `gen_ai.operation.name`).
const OPERATIONS: [(&str, &str, &str); 10] = [
    ("openinference.span.kind", "LLM", "chat"),
    ("openinference.span.kind", "EMBEDDING", "embeddings"),
    ("openinference.span.kind", "TOOL", "execute_tool"),
    ("openinference.span.kind", "AGENT", "invoke_agent"),
    ("openinference.span.kind", "RETRIEVER", "retrieval"),
    ("llm.request.type", "chat", "chat"),
    ("llm.request.type", "completion", "text_completion"),
    ("llm.request.type", "embedding", "embeddings"),
    ("traceloop.span.kind", "tool", "execute_tool"),
    ("traceloop.span.kind", "agent", "invoke_agent"),
];

/// OpenInference's and OpenLLMetry's names, and old GenAI ones, for what the GenAI
/// conventions name now: (theirs, GenAI's). The first one present of those with the same
/// GenAI name counts. The old GenAI names (rig writes `gen_ai.usage.reasoning_tokens`, older
/// instrumentations `gen_ai.system` and the `prompt`/`completion` counts) are also what the
/// `tracing` bridge stores under the current name.
pub(crate) const FOREIGN: [(&str, &str); 20] = [
    ("llm.model_name", "gen_ai.request.model"),
    ("embedding.model_name", "gen_ai.request.model"),
    ("llm.provider", "gen_ai.provider.name"),
    ("llm.system", "gen_ai.provider.name"),
    ("gen_ai.system", "gen_ai.provider.name"),
    ("llm.token_count.prompt", "gen_ai.usage.input_tokens"),
    ("gen_ai.usage.prompt_tokens", "gen_ai.usage.input_tokens"),
    ("llm.token_count.completion", "gen_ai.usage.output_tokens"),
    (
        "gen_ai.usage.completion_tokens",
        "gen_ai.usage.output_tokens",
    ),
    (
        "llm.token_count.prompt_details.cache_read",
        "gen_ai.usage.cache_read.input_tokens",
    ),
    (
        "gen_ai.usage.cache_read_input_tokens",
        "gen_ai.usage.cache_read.input_tokens",
    ),
    (
        "llm.token_count.prompt_details.cache_write",
        "gen_ai.usage.cache_creation.input_tokens",
    ),
    (
        "gen_ai.usage.cache_creation_input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
    ),
    (
        "llm.token_count.completion_details.reasoning",
        "gen_ai.usage.reasoning.output_tokens",
    ),
    (
        "gen_ai.usage.reasoning_tokens",
        "gen_ai.usage.reasoning.output_tokens",
    ),
    ("session.id", "gen_ai.conversation.id"),
    (
        "traceloop.association.properties.session_id",
        "gen_ai.conversation.id",
    ),
    ("agent.name", "gen_ai.agent.name"),
    ("tool.name", "gen_ai.tool.name"),
    ("tool_call.id", "gen_ai.tool.call.id"),
];

/// Where the conversation id goes under each convention; the reference's column is filled
/// from the first.
const CONVERSATION_IDS: [&str; 3] = ["ai.conversation.id", "gen_ai.conversation.id", "session.id"];

/// The attributes to add to `attributes` so that the GenAI conventions say what OpenInference
/// (Arize's instrumentations), OpenLLMetry (Traceloop's) or older GenAI names say: the
/// operation, model, provider, token counts, conversation, agent, tool, and the messages
/// those instrumentations flatten into numbered attributes (`llm.input_messages.0.message.
/// content`, `gen_ai.prompt.0.content`) as `gen_ai.input.messages` /
/// `gen_ai.output.messages`. A tool's input and output become its call's arguments and
/// result. None that it already has; the conversation id also under the reference's
/// `ai.conversation.id`, which a store indexes.
pub(crate) fn foreign_completions(attributes: &Attributes) -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    let add =
        |out: &mut Vec<(&'static str, Value)>, key, value| add_new(attributes, out, key, value);
    let text = |key: &str| attributes.get(key).and_then(Value::as_str);
    let operation = OPERATIONS
        .iter()
        .find(|(key, value, _)| text(key).is_some_and(|v| v.eq_ignore_ascii_case(value)));
    if let Some((.., operation)) = operation {
        add(
            &mut out,
            "gen_ai.operation.name",
            Value::from_static(operation),
        );
    }
    for (theirs, ours) in FOREIGN {
        if let Some(value) = attributes.get(theirs) {
            add(&mut out, ours, value.clone());
        }
    }
    for (prefix, key) in [
        ("llm.input_messages", "gen_ai.input.messages"),
        ("gen_ai.prompt", "gen_ai.input.messages"),
        ("llm.output_messages", "gen_ai.output.messages"),
        ("gen_ai.completion", "gen_ai.output.messages"),
    ] {
        if let Some(messages) = numbered_messages(attributes, prefix) {
            add(&mut out, key, messages);
        }
    }
    let is_tool = operation.is_some_and(|(.., op)| *op == "execute_tool");
    if is_tool {
        for (theirs, ours) in [
            ("input.value", "gen_ai.tool.call.arguments"),
            ("traceloop.entity.input", "gen_ai.tool.call.arguments"),
            ("output.value", "gen_ai.tool.call.result"),
            ("traceloop.entity.output", "gen_ai.tool.call.result"),
        ] {
            if let Some(value) = attributes.get(theirs) {
                add(&mut out, ours, value.clone());
            }
        }
        if let Some(name) = attributes.get("traceloop.entity.name") {
            add(&mut out, "gen_ai.tool.name", name.clone());
        }
    }
    let conversation = CONVERSATION_IDS
        .iter()
        .find_map(|k| attributes.get(k))
        .or_else(|| {
            out.iter()
                .find(|(k, _)| *k == "gen_ai.conversation.id")
                .map(|(_, v)| v)
        })
        .cloned();
    if let Some(conversation) = conversation {
        add(&mut out, CONVERSATION_IDS[0], conversation);
    }
    out
}

/// Messages an instrumentation flattened into `{prefix}.{i}.role` / `.content` (OpenLLMetry)
/// or `{prefix}.{i}.message.role` / `.message.content` (OpenInference), in the GenAI
/// conventions' structure: `[{"role", "parts": [{"type": "text", "content"}]}]`.
fn numbered_messages(attributes: &Attributes, prefix: &str) -> Option<Value> {
    let mut messages: Vec<(usize, Option<Value>, Option<Value>)> = Vec::new();
    for (key, value) in attributes.iter() {
        let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        let Some((index, field)) = rest.split_once('.') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        let field = field.strip_prefix("message.").unwrap_or(field);
        let slot = match messages.iter().position(|(i, ..)| *i == index) {
            Some(at) => at,
            None => {
                messages.push((index, None, None));
                messages.len() - 1
            }
        };
        match field {
            "role" => messages[slot].1 = Some(value.clone()),
            "content" => messages[slot].2 = Some(value.clone()),
            _ => {}
        }
    }
    if messages.is_empty() {
        return None;
    }
    messages.sort_by_key(|(i, ..)| *i);
    let list = messages
        .into_iter()
        .map(|(_, role, content)| {
            let mut message = crate::Map::new();
            message.insert("role", role.unwrap_or(Value::Null));
            let part: crate::Map = [
                ("type", Value::from_static("text")),
                ("content", content.unwrap_or(Value::Null)),
            ]
            .into_iter()
            .collect();
            message.insert("parts", Value::Array(vec![Value::Map(part)]));
            Value::Map(message)
        })
        .collect();
    Some(Value::Array(list))
}

/// Adds `key = value` to `out` unless `attributes` or `out` has `key` already: what the
/// completions add is only ever new.
fn add_new(
    attributes: &Attributes,
    out: &mut Vec<(&'static str, Value)>,
    key: &'static str,
    value: Value,
) {
    if attributes.get(key).is_none() && out.iter().all(|(k, _)| *k != key) {
        out.push((key, value));
    }
}

/// Where an LLM call's cost in US dollars is written (`genai::COST_USD`, which is this).
pub(crate) const COST_USD: &str = "tracekit.cost.usd";

/// Token counts, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Input tokens (cached ones included).
    pub input: u64,
    /// Output tokens (reasoning ones included).
    pub output: u64,
    /// Input tokens read from a cache.
    pub cache_read: u64,
    /// Input tokens written to a cache.
    pub cache_write: u64,
    /// Output tokens spent reasoning.
    pub reasoning: u64,
}

impl Tokens {
    pub(crate) fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
        self.reasoning += other.reasoning;
    }

    /// Input plus output.
    pub fn total(&self) -> u64 {
        self.input + self.output
    }
}

fn count(t: &Trace, keys: &[&str]) -> u64 {
    keys.iter()
        .find_map(|k| match t.attributes.get(k) {
            Some(Value::Int(i)) => u64::try_from(*i).ok(),
            Some(Value::UInt(u)) => Some(*u),
            Some(Value::Float(f)) if *f >= 0.0 => Some(*f as u64),
            _ => None,
        })
        .unwrap_or(0)
}

/// A span's tokens, from the GenAI conventions, OpenInference, or the reference's
/// `ai.llm.response.usage`.
pub(crate) fn tokens(t: &Trace) -> Tokens {
    let mut tokens = Tokens {
        input: count(t, &["gen_ai.usage.input_tokens", "llm.token_count.prompt"]),
        output: count(
            t,
            &["gen_ai.usage.output_tokens", "llm.token_count.completion"],
        ),
        cache_read: count(
            t,
            &[
                "gen_ai.usage.cache_read.input_tokens",
                "llm.token_count.prompt_details.cache_read",
            ],
        ),
        cache_write: count(
            t,
            &[
                "gen_ai.usage.cache_creation.input_tokens",
                "llm.token_count.prompt_details.cache_write",
            ],
        ),
        reasoning: count(
            t,
            &[
                "gen_ai.usage.reasoning.output_tokens",
                "llm.token_count.completion_details.reasoning",
            ],
        ),
    };
    if tokens.input == 0 && tokens.output == 0 {
        if let Some(Value::Map(usage)) = t.attributes.get("ai.llm.response.usage") {
            let get = |k: &str| match usage.get(k) {
                Some(Value::Int(i)) => u64::try_from(*i).unwrap_or(0),
                Some(Value::UInt(u)) => *u,
                _ => 0,
            };
            tokens.input = get("inputTokens");
            tokens.output = get("outputTokens");
        }
    }
    tokens
}

/// A span's cost: `Some(usd)` if priced, `None` if it says it is unpriced or says nothing.
pub(crate) fn cost(t: &Trace) -> Option<f64> {
    match t.attributes.get(COST_USD) {
        Some(Value::Float(f)) => Some(*f),
        Some(Value::Int(i)) => Some(*i as f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, Value)]) -> Attributes {
        pairs.iter().cloned().collect()
    }

    fn added(span: &Attributes) -> Attributes {
        reference_completions(span).into_iter().collect()
    }

    #[test]
    fn an_llm_call_in_the_reference_style_gets_kind_model_io_and_tokens() {
        let span = with(&[
            ("ai.trace.type", "llm-invocation".into()),
            ("ai.llm.request.model.id", "claude-sonnet-4".into()),
            (
                "ai.llm.request.messages",
                Value::from(serde_json::json!([{"role": "user", "content": "hi"}])),
            ),
            ("ai.llm.response.output", "hello".into()),
            (
                "ai.llm.response.usage",
                Value::from(
                    serde_json::json!({"inputTokens": 10, "outputTokens": 3, "totalTokens": 13}),
                ),
            ),
            ("tracekit.cost.usd", 0.5.into()),
        ]);
        let a = added(&span);
        assert_eq!(a.get("openinference.span.kind"), Some(&"LLM".into()));
        assert_eq!(a.get("gen_ai.operation.name"), Some(&"chat".into()));
        assert_eq!(a.get("llm.model_name"), Some(&"claude-sonnet-4".into()));
        assert_eq!(
            a.get("gen_ai.request.model"),
            Some(&"claude-sonnet-4".into())
        );
        assert_eq!(
            a.get("input.value"),
            Some(&r#"[{"role":"user","content":"hi"}]"#.into())
        );
        assert_eq!(a.get("input.mime_type"), Some(&"application/json".into()));
        assert_eq!(a.get("output.value"), Some(&"hello".into()));
        assert_eq!(a.get("output.mime_type"), Some(&"text/plain".into()));
        assert_eq!(a.get("llm.token_count.prompt"), Some(&10.into()));
        assert_eq!(a.get("gen_ai.usage.output_tokens"), Some(&3.into()));
        assert_eq!(a.get("llm.token_count.total"), Some(&13.into()));
        assert_eq!(a.get("llm.cost.total"), Some(&0.5.into()));
    }

    #[test]
    fn what_a_span_already_says_is_kept() {
        let span = with(&[
            ("ai.trace.type", "converse".into()),
            ("openinference.span.kind", "CHAIN".into()),
            ("ai.user.input", "Weather?".into()),
            ("ai.agent.response", "Sunny".into()),
            ("ai.conversation.id", "c-1".into()),
            ("session.id", "given".into()),
        ]);
        let a = added(&span);
        assert_eq!(a.get("openinference.span.kind"), None);
        assert_eq!(a.get("session.id"), None);
        assert_eq!(a.get("gen_ai.conversation.id"), Some(&"c-1".into()));
        assert_eq!(a.get("gen_ai.operation.name"), Some(&"invoke_agent".into()));
        assert_eq!(a.get("input.value"), Some(&"Weather?".into()));
        assert_eq!(a.get("output.value"), Some(&"Sunny".into()));
        // A span with nothing of the reference's gets nothing.
        assert!(reference_completions(&with(&[("k", 1.into())])).is_empty());
    }
}
