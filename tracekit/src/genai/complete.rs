//! Completing spans that other instrumentation wrote with `gen_ai.*` attributes (rig, the
//! genai crate, any OpenTelemetry GenAI instrumentation bridged in): the same reference,
//! OpenInference and cost attributes [`GenAi`]'s helpers write for spans of their own.
//!
//! A [`Call`] gathers what the span says as its attributes arrive (at its start and later,
//! as frameworks record token usage once the response is in), and [`GenAi::complete`] writes
//! the rest when it ends. A finished record from elsewhere (received over OTLP) is completed
//! whole by [`GenAi::complete_trace`], which first reads OpenInference's and OpenLLMetry's
//! names as GenAI ones (`semconv`).

use super::{GenAi, Usage};
use crate::{semconv, Attributes, Trace, Value};
#[cfg(feature = "tracing")]
use crate::{Key, Span, SpanKind};

/// What a span told of an LLM, tool or agent call through `gen_ai.*` attributes.
#[derive(Debug, Default)]
pub(crate) struct Call {
    seen: bool,
    operation: Option<String>,
    provider: Option<String>,
    request_model: Option<String>,
    response_model: Option<String>,
    agent: Option<String>,
    tool: Option<String>,
    tool_call_id: Option<String>,
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    reasoning: Option<u64>,
    /// Message content, kept only while capture is on: `(which, value)`.
    content: Vec<(Content, Value)>,
}

/// Which piece of content a `gen_ai.*` attribute carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    Input,
    Output,
    System,
    ToolArguments,
    ToolResult,
}

/// Attributes that carry message content, recorded only while capture is on.
const CONTENT: [(&str, Content); 7] = [
    ("gen_ai.input.messages", Content::Input),
    ("gen_ai.prompt", Content::Input),
    ("gen_ai.output.messages", Content::Output),
    ("gen_ai.completion", Content::Output),
    ("gen_ai.system_instructions", Content::System),
    ("gen_ai.tool.call.arguments", Content::ToolArguments),
    ("gen_ai.tool.call.result", Content::ToolResult),
];

/// What to do with an attribute [`Call::observe`] looked at.
#[derive(Debug, PartialEq)]
pub(crate) enum Observed<'k> {
    /// Store it under this name (its own, or the current one for a renamed attribute).
    Store(&'k str),
    /// Leave it out: message content while capture is off.
    Omit,
}

impl Call {
    /// Notes `key = value` if it is a GenAI attribute, and says how to store it.
    pub(crate) fn observe<'k>(
        &mut self,
        genai: &GenAi,
        key: &'k str,
        value: &Value,
    ) -> Observed<'k> {
        if !key.starts_with("gen_ai.") {
            return Observed::Store(key);
        }
        self.seen = true;
        let key = semconv::FOREIGN
            .iter()
            .find(|(used, _)| *used == key)
            .map_or(key, |(_, current)| *current);
        if let Some((_, which)) = CONTENT.iter().find(|(k, _)| *k == key) {
            if !genai.capture_content {
                return Observed::Omit;
            }
            self.content
                .push((*which, genai.truncated(structured(value))));
            return Observed::Store(key);
        }
        let text = || match value {
            Value::String(s) => Some(s.to_string()),
            Value::Null => None,
            other => Some(other.to_string()),
        };
        let count = || match value {
            Value::Int(n) => u64::try_from(*n).ok(),
            Value::UInt(n) => Some(*n),
            Value::Float(f) if *f >= 0.0 => Some(*f as u64),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match key {
            "gen_ai.operation.name" => self.operation = text(),
            "gen_ai.provider.name" => self.provider = text(),
            "gen_ai.request.model" => self.request_model = text(),
            "gen_ai.response.model" => self.response_model = text(),
            "gen_ai.agent.name" => self.agent = text(),
            "gen_ai.tool.name" => self.tool = text(),
            "gen_ai.tool.call.id" => self.tool_call_id = text(),
            "gen_ai.usage.input_tokens" => self.input = count(),
            "gen_ai.usage.output_tokens" => self.output = count(),
            "gen_ai.usage.cache_read.input_tokens" => self.cache_read = count(),
            "gen_ai.usage.cache_creation.input_tokens" => self.cache_write = count(),
            "gen_ai.usage.reasoning.output_tokens" => self.reasoning = count(),
            _ => {}
        }
        Observed::Store(key)
    }

    /// Whether the span carried any `gen_ai.*` attribute.
    pub(crate) fn is_genai(&self) -> bool {
        self.seen
    }

    /// The span kind the operation implies: CLIENT for calls to a model, INTERNAL otherwise.
    #[cfg(feature = "tracing")]
    pub(crate) fn kind(&self) -> Option<SpanKind> {
        self.operation.as_ref()?;
        Some(if self.calls_a_model() {
            SpanKind::Client
        } else {
            SpanKind::Internal
        })
    }

    /// Whether the span is one call to a model, the unit that is billed. An agent span that
    /// reports the usage of all its calls (rig's `invoke_agent` does) is not: pricing it too
    /// would count every token twice.
    fn calls_a_model(&self) -> bool {
        matches!(
            self.operation.as_deref(),
            Some("chat" | "text_completion" | "generate_content" | "embeddings")
        )
    }

    /// The token counts as [`Usage`] counts them (cached input inside `input`), if any were
    /// reported.
    pub(crate) fn usage(&self) -> Option<Usage> {
        if self.input.is_none() && self.output.is_none() {
            return None;
        }
        let (cache_read, cache_write) =
            (self.cache_read.unwrap_or(0), self.cache_write.unwrap_or(0));
        let mut input = self.input.unwrap_or(0);
        // The conventions (and `Usage`) count cached input inside `input_tokens`, and so do
        // the frameworks checked: genai 0.7 and rig-core 0.44 add Anthropic's cache reads and
        // writes, which Anthropic reports beside its `input_tokens`, for every provider. An
        // instrumentation that passes Anthropic's own count on gives itself away when it is
        // smaller than the cached part, as a long cached prompt makes it.
        if input < cache_read + cache_write {
            input += cache_read + cache_write;
        }
        Some(Usage {
            input,
            output: self.output.unwrap_or(0),
            cache_read,
            cache_write,
            reasoning: self.reasoning.unwrap_or(0),
        })
    }
}

/// A JSON text parsed into structure (frameworks record messages as JSON strings), anything
/// else as it is.
fn structured(value: &Value) -> Value {
    if let Value::String(s) = value {
        let t = s.trim_start();
        if t.starts_with('[') || t.starts_with('{') {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(s) {
                return Value::from(json);
            }
        }
    }
    value.clone()
}

impl GenAi {
    /// Completes a span that carried `call`'s `gen_ai.*` attributes in the conventions this
    /// `GenAi` writes: the reference's `ai.*` attributes, OpenInference's, and tokens and cost
    /// through [`record_usage`](Self::record_usage), as its helpers would have.
    #[cfg(feature = "tracing")]
    pub(crate) fn complete(&self, span: &Span, call: &Call) {
        let out = self.completion(call);
        if !out.is_empty() {
            span.add_attributes(out.into_iter().map(|(k, v)| (Key::Borrowed(k), v)));
        }
    }

    /// Completes a finished span record that other instrumentation wrote (received over
    /// OTLP, read from a file): OpenInference's and OpenLLMetry's attributes, old GenAI names
    /// and the reference's `ai.*` attributes are read, and the names of the other conventions
    /// are added with what they say, as tracekit's own helpers write them: the GenAI
    /// operation, model, provider and token counts, the reference's `ai.trace.type`, model
    /// and usage, OpenInference's span kind, and the cost of a call to a model from the
    /// price table. The conversation id, under any of the three conventions' names, is also
    /// written as `ai.conversation.id`, which stores index. Only names the span does not
    /// carry are added: nothing it says is changed or removed (content included, whatever
    /// [`capture_content`](Self::capture_content) says: the sender chose to send it).
    ///
    /// ```
    /// use tracekit::genai::GenAi;
    /// use tracekit::{Trace, Tracer, Value};
    ///
    /// // An OpenInference LLM span, as Arize's Python instrumentations write it.
    /// let tracer = Tracer::in_memory(1);
    /// tracer
    ///     .span("ChatCompletion")
    ///     .attribute("openinference.span.kind", "LLM")
    ///     .attribute("llm.model_name", "gpt-4o")
    ///     .attribute("llm.token_count.prompt", 1_000)
    ///     .attribute("llm.token_count.completion", 100)
    ///     .attribute("session.id", "conv-7")
    ///     .start()
    ///     .end();
    /// let mut span: Trace = tracer.get_traces(&Default::default())?.remove(0);
    ///
    /// GenAi::new().complete_trace(&mut span);
    /// let a = &span.attributes;
    /// assert_eq!(a.get("gen_ai.operation.name"), Some(&Value::from("chat")));
    /// assert_eq!(a.get("gen_ai.usage.input_tokens"), Some(&Value::from(1_000)));
    /// assert_eq!(a.get("ai.trace.type"), Some(&Value::from("llm-invocation")));
    /// assert_eq!(a.get("ai.conversation.id"), Some(&Value::from("conv-7")));
    /// assert!(a.get(tracekit::genai::COST_USD).is_some()); // priced from the bundled table
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn complete_trace(&self, trace: &mut Trace) {
        let foreign = semconv::foreign_completions(&trace.attributes);
        add_missing(&mut trace.attributes, foreign);
        let reference = semconv::reference_completions(&trace.attributes);
        add_missing(&mut trace.attributes, reference);
        let genai = GenAi {
            capture_content: true,
            max_content_len: usize::MAX,
            ..self.clone()
        };
        let mut call = Call::default();
        for (key, value) in trace.attributes.iter() {
            call.observe(&genai, key, value);
        }
        add_missing(&mut trace.attributes, genai.completion(&call));
    }

    /// The attributes [`complete`](Self::complete) adds for `call`.
    fn completion(&self, call: &Call) -> Vec<(&'static str, Value)> {
        if !call.is_genai() {
            return Vec::new();
        }
        let (r, _, i) = self.on();
        let mut out: Vec<(&'static str, Value)> = Vec::with_capacity(12);
        let model = call.response_model.as_ref().or(call.request_model.as_ref());
        let mut put = |on: bool, key: &'static str, value: Option<Value>| {
            if let (true, Some(v)) = (on, value) {
                out.push((key, v));
            }
        };
        let text = |s: &Option<String>| s.as_deref().map(Value::from);
        match call.operation.as_deref() {
            Some("chat" | "text_completion" | "generate_content") => {
                put(r, "ai.trace.type", Some("llm-invocation".into()));
                put(r, "peer.service", model.map(|m| format!("llm:{m}").into()));
                put(r, "ai.llm.request.model.id", text(&call.request_model));
                put(i, "openinference.span.kind", Some("LLM".into()));
                put(i, "llm.provider", text(&call.provider));
                put(i, "llm.model_name", model.map(|m| m.as_str().into()));
            }
            Some("embeddings") => {
                put(r, "ai.trace.type", Some("embedding".into()));
                put(i, "openinference.span.kind", Some("EMBEDDING".into()));
                put(i, "embedding.model_name", model.map(|m| m.as_str().into()));
            }
            Some("execute_tool") => {
                put(r, "ai.trace.type", Some("tool-invocation".into()));
                put(
                    r,
                    "peer.service",
                    call.tool.as_ref().map(|t| format!("tool:{t}").into()),
                );
                put(r, "ai.tool.name", text(&call.tool));
                put(r, "ai.tool.use.id", text(&call.tool_call_id));
                put(i, "openinference.span.kind", Some("TOOL".into()));
                put(i, "tool.name", text(&call.tool));
            }
            Some("invoke_agent" | "create_agent") => {
                put(r, "ai.trace.type", Some("agent-invocation".into()));
                put(i, "openinference.span.kind", Some("AGENT".into()));
                put(i, "agent.name", text(&call.agent));
            }
            _ => {}
        }
        for (which, value) in &call.content {
            let (reference, openinference) = match which {
                Content::Input => ("ai.llm.request.messages", Some("input.value")),
                Content::Output => ("ai.llm.response.output", Some("output.value")),
                Content::System => ("ai.llm.request.system", None),
                Content::ToolArguments => ("ai.tool.input", Some("input.value")),
                Content::ToolResult => ("ai.tool.output", Some("output.value")),
            };
            put(r, reference, Some(value.clone()));
            if let Some(key) = openinference {
                put(i, key, Some(value.to_text().into()));
            }
        }
        if let Some(usage) = call.usage().filter(|_| call.calls_a_model()) {
            let model = model.map_or("", String::as_str);
            out.extend(self.usage_attributes(model, &usage));
        }
        out
    }
}

/// Adds each of `pairs` that `attributes` lacks.
fn add_missing(attributes: &mut Attributes, pairs: Vec<(&'static str, Value)>) {
    for (key, value) in pairs {
        if attributes.get(key).is_none() {
            attributes.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe(
        call: &mut Call,
        genai: &GenAi,
        pairs: &[(&'static str, Value)],
    ) -> Vec<Observed<'static>> {
        pairs
            .iter()
            .map(|(k, v)| call.observe(genai, k, v))
            .collect()
    }

    #[test]
    fn rigs_names_fold_into_the_current_ones() {
        let genai = GenAi::new();
        let mut call = Call::default();
        let seen = observe(
            &mut call,
            &genai,
            &[
                ("gen_ai.usage.reasoning_tokens", 7u64.into()),
                ("gen_ai.system", "openai".into()),
                ("other", 1.into()),
            ],
        );
        assert_eq!(
            seen,
            [
                Observed::Store("gen_ai.usage.reasoning.output_tokens"),
                Observed::Store("gen_ai.provider.name"),
                Observed::Store("other"),
            ]
        );
        assert_eq!(call.reasoning, Some(7));
        assert_eq!(call.provider.as_deref(), Some("openai"));
    }

    #[test]
    fn content_is_left_out_unless_captured() {
        let off = GenAi::new().capture_content(false);
        let mut call = Call::default();
        let input = ("gen_ai.input.messages", Value::from(r#"[{"role":"user"}]"#));
        assert_eq!(
            observe(&mut call, &off, std::slice::from_ref(&input)),
            [Observed::Omit]
        );
        assert!(call.content.is_empty());
        let on = GenAi::new().capture_content(true);
        assert_eq!(
            observe(&mut call, &on, &[input]),
            [Observed::Store("gen_ai.input.messages")]
        );
        // The JSON text is kept as structure.
        assert_eq!(
            call.content[0].1,
            Value::from(serde_json::json!([{"role": "user"}]))
        );
    }

    #[test]
    fn cached_input_is_counted_once_whatever_the_provider_reports() {
        let genai = GenAi::new();
        // OpenAI counts cached input inside input_tokens.
        let mut openai = Call::default();
        observe(
            &mut openai,
            &genai,
            &[
                ("gen_ai.provider.name", "openai".into()),
                ("gen_ai.usage.input_tokens", 1_200u64.into()),
                ("gen_ai.usage.output_tokens", 300u64.into()),
                ("gen_ai.usage.cache_read.input_tokens", 1_000u64.into()),
            ],
        );
        assert_eq!(
            openai.usage().unwrap(),
            Usage::new(1_200, 300).cache_read(1_000)
        );
        // Anthropic's own count passed on: 200 uncached beside 1 000 read from the cache.
        let mut anthropic = Call::default();
        observe(
            &mut anthropic,
            &genai,
            &[
                ("gen_ai.provider.name", "anthropic".into()),
                ("gen_ai.usage.input_tokens", 200u64.into()),
                ("gen_ai.usage.output_tokens", 300u64.into()),
                ("gen_ai.usage.cache_read.input_tokens", 1_000u64.into()),
            ],
        );
        assert_eq!(anthropic.usage(), openai.usage());
        // An unknown provider whose count is smaller than its cached part left it out.
        let mut unknown = Call::default();
        observe(
            &mut unknown,
            &genai,
            &[
                ("gen_ai.usage.input_tokens", 10u64.into()),
                ("gen_ai.usage.cache_creation.input_tokens", 500u64.into()),
            ],
        );
        assert_eq!(unknown.usage().unwrap().input, 510);
    }

    #[test]
    #[cfg(feature = "tracing")]
    fn operations_imply_kinds() {
        let genai = GenAi::new();
        for (operation, kind) in [
            ("chat", SpanKind::Client),
            ("embeddings", SpanKind::Client),
            ("execute_tool", SpanKind::Internal),
            ("invoke_agent", SpanKind::Internal),
        ] {
            let mut call = Call::default();
            call.observe(&genai, "gen_ai.operation.name", &operation.into());
            assert_eq!(call.kind(), Some(kind), "{operation}");
        }
        assert_eq!(Call::default().kind(), None);
    }

    #[test]
    #[cfg(feature = "tracing")]
    fn only_calls_to_a_model_are_priced() {
        let genai = GenAi::new();
        let priced = |operation: &str| {
            let tracer = crate::Tracer::in_memory(10);
            let mut call = Call::default();
            for (k, v) in [
                ("gen_ai.operation.name", Value::from(operation)),
                ("gen_ai.request.model", "gpt-4o".into()),
                ("gen_ai.usage.input_tokens", 100u64.into()),
                ("gen_ai.usage.output_tokens", 10u64.into()),
            ] {
                call.observe(&genai, k, &v);
            }
            let span = tracer.span("call").start();
            genai.complete(&span, &call);
            drop(span);
            let spans = tracer.get_traces(&Default::default()).unwrap();
            spans[0].attributes.get(super::super::COST_USD).is_some()
        };
        assert!(priced("chat"));
        // rig's agent span sums its chats' usage.
        assert!(!priced("invoke_agent"));
    }
}
