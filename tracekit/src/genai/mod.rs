//! Agent semantics: typed helpers for the spans an agent makes, in the conventions backends
//! read.
//!
//! One helper call sets, on one span, the attributes of up to three conventions
//! ([`Conventions`], all by default):
//!
//! * the reference toolkit's `ai.*` attributes (its renderer, stores and tooling read them);
//! * the OpenTelemetry GenAI semantic conventions, as kept in their own repository,
//!   `open-telemetry/semantic-conventions-genai`, release **v0.1.0** ([`SEMCONV_VERSION`]):
//!   `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
//!   `gen_ai.usage.*`, `gen_ai.conversation.id`, `gen_ai.agent.name`, `gen_ai.tool.*`, and the
//!   span names `chat {model}`, `invoke_agent {agent}`, `execute_tool {tool}`;
//! * OpenInference's attributes, which Arize Phoenix reads: `openinference.span.kind`
//!   (`LLM`, `TOOL`, `AGENT`, `CHAIN`, `RETRIEVER`, `EMBEDDING`), `llm.model_name`,
//!   `llm.token_count.*`, `session.id`, `input.value`, `output.value`.
//!
//! ```
//! use tracekit::genai::{GenAi, Usage};
//! use tracekit::Tracer;
//!
//! let tracer = Tracer::in_memory(10);
//! let genai = GenAi::new();
//! let turn = genai.agent_turn(&tracer, "weather-agent", "conv-1").start();
//! {
//!     let call = genai.chat(&tracer, "anthropic", "claude-sonnet-4").start();
//!     genai.record_usage(&call, "claude-sonnet-4", &Usage::new(1_200, 300).cache_read(1_000));
//! }
//! drop(turn);
//! let llm = &tracer.get_traces(&Default::default()).unwrap()[1]; // by start time
//! assert_eq!(llm.span_name, "chat claude-sonnet-4");
//! assert_eq!(llm.attributes.get("gen_ai.usage.input_tokens"), Some(&1_200.into()));
//! assert_eq!(llm.attributes.get("openinference.span.kind"), Some(&"LLM".into()));
//! assert_eq!(llm.attributes.get("ai.conversation.id"), Some(&"conv-1".into()));
//! assert!(llm.attributes.get(tracekit::genai::COST_USD).is_some());
//! ```
//!
//! Message content (prompts, completions, tool arguments and results) is recorded only when
//! capture is on ([`GenAi::capture_content`], or
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`), truncated to a limit with a
//! marker. Prices come from a [`PriceTable`]; a model it does not know is recorded as
//! unpriced, never as free.

mod chunks;
pub(crate) mod complete;
mod content;
mod pricing;
mod secrets;

pub use chunks::Chunks;
pub use content::{Message, Role};

/// Content longer than this many bytes is cut by default (16 KiB).
pub const DEFAULT_CONTENT_LIMIT: usize = crate::value::TEXT_LIMIT;
pub use crate::semconv::reference_completions;
pub use pricing::{Price, PriceTable, Usage};
pub(crate) use secrets::mask_keys;
pub use secrets::mask_secrets;

use crate::{Key, Span, SpanBuilder, SpanKind, Tracer, Value};

/// The OpenTelemetry GenAI conventions these helpers follow.
pub const SEMCONV_VERSION: &str = "open-telemetry/semantic-conventions-genai v0.1.0";

/// The cost of an LLM call in US dollars (a float), from the [`PriceTable`].
pub const COST_USD: &str = crate::semconv::COST_USD;
/// The price table a cost was computed with (`{version} ({date})`).
pub const COST_TABLE: &str = "tracekit.cost.table";
/// `true` on an LLM call whose model the price table does not know.
pub const UNPRICED: &str = "tracekit.cost.unpriced";
/// Time from the call's start to its first streamed chunk, in milliseconds (a float).
pub const TIME_TO_FIRST_CHUNK_MS: &str = "gen_ai.response.time_to_first_chunk";
/// How many chunks a streamed call received.
pub const CHUNKS: &str = "tracekit.stream.chunks";

/// Which conventions the helpers write (all by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conventions {
    /// The reference toolkit's `ai.*` attributes.
    pub reference: bool,
    /// The OpenTelemetry GenAI conventions' `gen_ai.*` attributes.
    pub opentelemetry: bool,
    /// OpenInference's attributes (Arize Phoenix).
    pub openinference: bool,
}

impl Default for Conventions {
    fn default() -> Conventions {
        Conventions {
            reference: true,
            opentelemetry: true,
            openinference: true,
        }
    }
}

/// Memory operations an agent traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryOp {
    /// Reading the conversation history or another store.
    Read,
    /// Adding to it.
    Write,
}

/// The helpers, with their settings: conventions, content capture and prices.
///
/// Cheap to clone; make one per agent (or a `static` with `LazyLock`) and use it everywhere.
#[derive(Clone, Debug)]
pub struct GenAi {
    conventions: Conventions,
    capture_content: bool,
    max_content_len: usize,
    prices: std::sync::Arc<PriceTable>,
}

impl Default for GenAi {
    fn default() -> GenAi {
        GenAi::new()
    }
}

/// How a helper's attribute is written: own, or inherited by the span's descendants.
#[derive(Clone, Copy)]
enum Scope {
    Own,
    Inherited,
}
use Scope::{Inherited, Own};

impl GenAi {
    /// All conventions, content capture as `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`
    /// says (off unless `true`), contents cut at 16 KiB, the bundled [`PriceTable`].
    pub fn new() -> GenAi {
        let capture = std::env::var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
        GenAi {
            conventions: Conventions::default(),
            capture_content: capture,
            max_content_len: DEFAULT_CONTENT_LIMIT,
            prices: std::sync::Arc::new(PriceTable::bundled()),
        }
    }

    /// Writes only these conventions.
    pub fn conventions(mut self, conventions: Conventions) -> Self {
        self.conventions = conventions;
        self
    }

    /// Records message content (prompts, completions, tool arguments and results) or not.
    pub fn capture_content(mut self, yes: bool) -> Self {
        self.capture_content = yes;
        self
    }

    /// Whether message content (prompts, completions, tool arguments and results) is
    /// recorded.
    ///
    /// ```
    /// assert!(tracekit::genai::GenAi::new().capture_content(true).captures_content());
    /// ```
    pub fn captures_content(&self) -> bool {
        self.capture_content
    }

    /// Content longer than this many bytes is cut (at a character boundary) and marked.
    pub fn max_content_len(mut self, bytes: usize) -> Self {
        self.max_content_len = bytes;
        self
    }

    /// Prices LLM calls with this table instead of the bundled one.
    pub fn prices(mut self, table: PriceTable) -> Self {
        self.prices = std::sync::Arc::new(table);
        self
    }

    /// The price table in use.
    pub fn price_table(&self) -> &PriceTable {
        &self.prices
    }

    /// A conversation turn (SERVER): the conversation id and agent name are inherited by
    /// every span below (`ai.conversation.id`, `gen_ai.conversation.id`, `session.id`).
    pub fn agent_turn<'t>(
        &self,
        tracer: &'t Tracer,
        agent: &str,
        conversation: &str,
    ) -> SpanBuilder<'t> {
        let (r, o, i) = self.on();
        let b = tracer
            .span(format!("invoke_agent {agent}"))
            .kind(SpanKind::Server);
        with(
            b,
            [
                (r, Own, "ai.trace.type", "converse".into()),
                (r, Inherited, "ai.conversation.id", conversation.into()),
                (r, Inherited, "ai.agent.name", agent.into()),
                (o, Own, "gen_ai.operation.name", "invoke_agent".into()),
                (o, Inherited, "gen_ai.conversation.id", conversation.into()),
                (o, Inherited, "gen_ai.agent.name", agent.into()),
                (i, Own, "openinference.span.kind", "AGENT".into()),
                (i, Inherited, "session.id", conversation.into()),
                (i, Own, "agent.name", agent.into()),
            ],
        )
    }

    /// A sub-agent invoked by this one (INTERNAL).
    pub fn invoke_agent<'t>(&self, tracer: &'t Tracer, agent: &str) -> SpanBuilder<'t> {
        let (r, o, i) = self.on();
        with(
            tracer.span(format!("invoke_agent {agent}")),
            [
                (r, Own, "ai.trace.type", "agent-invocation".into()),
                (o, Own, "gen_ai.operation.name", "invoke_agent".into()),
                (o, Own, "gen_ai.agent.name", agent.into()),
                (i, Own, "openinference.span.kind", "AGENT".into()),
                (i, Own, "agent.name", agent.into()),
            ],
        )
    }

    /// One reasoning cycle of a turn (INTERNAL); its number is inherited below.
    pub fn cycle<'t>(&self, tracer: &'t Tracer, number: u32) -> SpanBuilder<'t> {
        let (r, _, i) = self.on();
        with(
            tracer.span(format!("cycle-{number}")),
            [
                (r, Own, "ai.trace.type", "cycle".into()),
                (r, Inherited, "ai.agent.cycle.nr", number.into()),
                (i, Own, "openinference.span.kind", "CHAIN".into()),
            ],
        )
    }

    /// An LLM call (CLIENT), named `chat {model}`. Record its tokens and cost with
    /// [`record_usage`](Self::record_usage).
    pub fn chat<'t>(&self, tracer: &'t Tracer, provider: &str, model: &str) -> SpanBuilder<'t> {
        let (r, o, i) = self.on();
        with(
            tracer.span(format!("chat {model}")).kind(SpanKind::Client),
            [
                (r, Own, "ai.trace.type", "llm-invocation".into()),
                (r, Own, "peer.service", format!("llm:{model}").into()),
                (r, Own, "ai.llm.request.model.id", model.into()),
                (o, Own, "gen_ai.operation.name", "chat".into()),
                (o, Own, "gen_ai.provider.name", provider.into()),
                (o, Own, "gen_ai.request.model", model.into()),
                (i, Own, "openinference.span.kind", "LLM".into()),
                (i, Own, "llm.provider", provider.into()),
                (i, Own, "llm.model_name", model.into()),
            ],
        )
    }

    /// A streamed LLM call: [`chat`](Self::chat) with `gen_ai.request.stream`. Wrap the
    /// stream of chunks with [`Chunks`] to record the time to the first chunk and the count.
    pub fn chat_stream<'t>(
        &self,
        tracer: &'t Tracer,
        provider: &str,
        model: &str,
    ) -> SpanBuilder<'t> {
        let (_, o, _) = self.on();
        with(
            self.chat(tracer, provider, model),
            [(o, Own, "gen_ai.request.stream", true.into())],
        )
    }

    /// A tool call (INTERNAL, as the GenAI conventions have it), named `execute_tool {tool}`.
    pub fn execute_tool<'t>(
        &self,
        tracer: &'t Tracer,
        tool: &str,
        call_id: Option<&str>,
    ) -> SpanBuilder<'t> {
        let (r, o, i) = self.on();
        let b = with(
            tracer.span(format!("execute_tool {tool}")),
            [
                (r, Own, "ai.trace.type", "tool-invocation".into()),
                (r, Own, "peer.service", format!("tool:{tool}").into()),
                (r, Own, "ai.tool.name", tool.into()),
                (o, Own, "gen_ai.operation.name", "execute_tool".into()),
                (o, Own, "gen_ai.tool.name", tool.into()),
                (o, Own, "gen_ai.tool.type", "function".into()),
                (i, Own, "openinference.span.kind", "TOOL".into()),
                (i, Own, "tool.name", tool.into()),
            ],
        );
        match call_id {
            Some(id) => with(
                b,
                [
                    (r, Own, "ai.tool.use.id", id.into()),
                    (o, Own, "gen_ai.tool.call.id", id.into()),
                ],
            ),
            None => b,
        }
    }

    /// A retrieval from `data_source` (CLIENT), named `retrieval {data_source}`.
    pub fn retrieval<'t>(&self, tracer: &'t Tracer, data_source: &str) -> SpanBuilder<'t> {
        let (r, o, i) = self.on();
        with(
            tracer
                .span(format!("retrieval {data_source}"))
                .kind(SpanKind::Client),
            [
                (r, Own, "ai.trace.type", "retrieval".into()),
                (o, Own, "gen_ai.operation.name", "retrieval".into()),
                (o, Own, "gen_ai.data_source.id", data_source.into()),
                (i, Own, "openinference.span.kind", "RETRIEVER".into()),
            ],
        )
    }

    /// An embeddings call (CLIENT), named `embeddings {model}`.
    pub fn embeddings<'t>(
        &self,
        tracer: &'t Tracer,
        provider: &str,
        model: &str,
    ) -> SpanBuilder<'t> {
        let (r, o, i) = self.on();
        with(
            tracer
                .span(format!("embeddings {model}"))
                .kind(SpanKind::Client),
            [
                (r, Own, "ai.trace.type", "embedding".into()),
                (o, Own, "gen_ai.operation.name", "embeddings".into()),
                (o, Own, "gen_ai.provider.name", provider.into()),
                (o, Own, "gen_ai.request.model", model.into()),
                (i, Own, "openinference.span.kind", "EMBEDDING".into()),
                (i, Own, "embedding.model_name", model.into()),
            ],
        )
    }

    /// Reading or writing agent memory (CLIENT), as the reference's
    /// `conversation-history-list` / `conversation-history-add`.
    pub fn memory<'t>(&self, tracer: &'t Tracer, op: MemoryOp, store: &str) -> SpanBuilder<'t> {
        let (r, _, i) = self.on();
        let name = match op {
            MemoryOp::Read => "conversation-history-list",
            MemoryOp::Write => "conversation-history-add",
        };
        with(
            tracer.span(name).kind(SpanKind::Client),
            [
                (r, Own, "ai.trace.type", name.into()),
                (r, Own, "peer.service", format!("memory:{store}").into()),
                (
                    r,
                    Own,
                    "ai.conversation.history.implementation",
                    store.into(),
                ),
                (i, Own, "openinference.span.kind", "CHAIN".into()),
            ],
        )
    }

    /// A decision the agent takes (INTERNAL), with the options it weighed.
    pub fn decision<'t>(
        &self,
        tracer: &'t Tracer,
        name: &str,
        options: &[&str],
    ) -> SpanBuilder<'t> {
        let (r, _, i) = self.on();
        with(
            tracer.span(format!("decision {name}")),
            [
                (r, Own, "ai.trace.type", "decision".into()),
                (true, Own, "ai.decision.options", options.to_vec().into()),
                (i, Own, "openinference.span.kind", "CHAIN".into()),
            ],
        )
    }

    /// Which conventions are on: (reference, OpenTelemetry, OpenInference).
    fn on(&self) -> (bool, bool, bool) {
        let c = self.conventions;
        (c.reference, c.opentelemetry, c.openinference)
    }

    /// Records an LLM call's tokens and their cost: `gen_ai.usage.*`, the reference's
    /// `ai.llm.response.usage`, OpenInference's `llm.token_count.*`, and [`COST_USD`] with
    /// [`COST_TABLE`] for `model` (the one that answered, which is the one billed), or
    /// [`UNPRICED`] when the table does not know it.
    pub fn record_usage(&self, span: &Span, model: &str, usage: &Usage) {
        let attributes = self.usage_attributes(model, usage);
        span.add_attributes(attributes.into_iter().map(|(k, v)| (Key::Borrowed(k), v)));
    }

    /// What [`record_usage`](Self::record_usage) writes.
    pub(crate) fn usage_attributes(
        &self,
        model: &str,
        usage: &Usage,
    ) -> Vec<(&'static str, Value)> {
        let c = self.conventions;
        let mut attributes: Vec<(&'static str, Value)> = Vec::with_capacity(16);
        if c.opentelemetry {
            attributes.extend([
                ("gen_ai.usage.input_tokens", usage.input.into()),
                ("gen_ai.usage.output_tokens", usage.output.into()),
                (
                    "gen_ai.usage.cache_read.input_tokens",
                    usage.cache_read.into(),
                ),
                (
                    "gen_ai.usage.cache_creation.input_tokens",
                    usage.cache_write.into(),
                ),
                (
                    "gen_ai.usage.reasoning.output_tokens",
                    usage.reasoning.into(),
                ),
            ]);
        }
        if c.reference {
            let counts: crate::Map = [
                ("inputTokens", usage.input),
                ("outputTokens", usage.output),
                ("totalTokens", usage.input + usage.output),
            ]
            .into_iter()
            .collect();
            attributes.push(("ai.llm.response.usage", Value::Map(counts)));
        }
        if c.openinference {
            attributes.extend([
                ("llm.token_count.prompt", usage.input.into()),
                ("llm.token_count.completion", usage.output.into()),
                ("llm.token_count.total", (usage.input + usage.output).into()),
                (
                    "llm.token_count.prompt_details.cache_read",
                    usage.cache_read.into(),
                ),
                (
                    "llm.token_count.prompt_details.cache_write",
                    usage.cache_write.into(),
                ),
                (
                    "llm.token_count.completion_details.reasoning",
                    usage.reasoning.into(),
                ),
            ]);
        }
        match self.prices.cost(model, usage) {
            Some(cost) => {
                attributes.push((COST_USD, cost.into()));
                attributes.push((COST_TABLE, Value::String(self.prices.label().clone())));
                if c.openinference {
                    attributes.push(("llm.cost.total", cost.into()));
                }
            }
            None => attributes.push((UNPRICED, true.into())),
        }
        attributes
    }

    /// Records the model that answered (it may differ from the one requested).
    pub fn record_response_model(&self, span: &Span, model: &str) {
        if self.conventions.opentelemetry {
            span.add_attribute("gen_ai.response.model", model);
        }
        if self.conventions.openinference {
            span.add_attribute("llm.model_name", model);
        }
    }

    /// Records a failure's type (`error.type`) on a GenAI span.
    pub fn record_error(&self, span: &Span, error_type: &str) {
        span.add_attribute("error.type", error_type);
        span.set_status(crate::SpanStatus::Error);
    }

    /// Records the prompt: `gen_ai.input.messages` (and the reference's
    /// `ai.llm.request.messages`, OpenInference's `input.value`) when content capture is on.
    pub fn record_input(&self, span: &Span, messages: &[Message]) {
        let keys = [
            "gen_ai.input.messages",
            "ai.llm.request.messages",
            "input.value",
            "input.mime_type",
        ];
        self.record_messages(span, messages, keys);
    }

    /// Records the completion: `gen_ai.output.messages` (the reference's
    /// `ai.llm.response.output`, OpenInference's `output.value`) when content capture is on.
    pub fn record_output(&self, span: &Span, messages: &[Message]) {
        let keys = [
            "gen_ai.output.messages",
            "ai.llm.response.output",
            "output.value",
            "output.mime_type",
        ];
        self.record_messages(span, messages, keys);
    }

    /// Messages under the keys of each convention: `[opentelemetry, reference, openinference
    /// value, openinference mime type]`.
    fn record_messages(
        &self,
        span: &Span,
        messages: &[Message],
        [otel, reference, value, mime]: [&'static str; 4],
    ) {
        if !self.capture_content {
            return;
        }
        let structured = self.messages(messages);
        let (r, o, i) = self.on();
        let text = i.then(|| self.text(&structured.to_string()));
        span.add_attributes(
            [
                (o, otel, Some(structured.clone())),
                (r, reference, Some(structured)),
                (i, value, text.map(Value::from)),
                (i, mime, Some(Value::from("application/json"))),
            ]
            .into_iter()
            .filter_map(|(on, key, v)| Some((Key::Borrowed(key), v.filter(|_| on)?))),
        );
    }

    /// Records the system instructions (`gen_ai.system_instructions`, the reference's
    /// `ai.llm.request.system`) when content capture is on.
    pub fn record_system_instructions(&self, span: &Span, instructions: &str) {
        if !self.capture_content {
            return;
        }
        let text = self.text(instructions);
        if self.conventions.opentelemetry {
            let parts = serde_json::json!([{"type": "text", "content": text}]);
            span.add_attribute("gen_ai.system_instructions", Value::from(parts));
        }
        if self.conventions.reference {
            span.add_attribute("ai.llm.request.system", text);
        }
    }

    /// Records a tool call's arguments and result (`gen_ai.tool.call.arguments` /
    /// `.result`, the reference's `ai.tool.input` / `ai.tool.output`, OpenInference's
    /// `input.value` / `output.value`) when content capture is on.
    pub fn record_tool_io(
        &self,
        span: &Span,
        arguments: impl Into<Value>,
        result: impl Into<Value>,
    ) {
        if !self.capture_content {
            return;
        }
        let (arguments, result) = (
            self.truncated(arguments.into()),
            self.truncated(result.into()),
        );
        let c = self.conventions;
        for (reference, otel, openinference, value) in [
            (
                "ai.tool.input",
                "gen_ai.tool.call.arguments",
                "input.value",
                arguments,
            ),
            (
                "ai.tool.output",
                "gen_ai.tool.call.result",
                "output.value",
                result,
            ),
        ] {
            if c.reference {
                span.add_attribute(reference, value.clone());
            }
            if c.opentelemetry {
                span.add_attribute(otel, value.clone());
            }
            if c.openinference {
                span.add_attribute(openinference, value.to_text());
            }
        }
    }
}

/// Adds each `(on, scope, key, value)` whose convention is on, as an own or inheritable
/// attribute.
fn with<'t, const N: usize>(
    mut b: SpanBuilder<'t>,
    entries: [(bool, Scope, &'static str, Value); N],
) -> SpanBuilder<'t> {
    for (on, scope, key, value) in entries {
        b = match (on, scope) {
            (false, _) => b,
            (true, Own) => b.attribute(Key::Borrowed(key), value),
            (true, Inherited) => b.inheritable_attribute(Key::Borrowed(key), value),
        };
    }
    b
}
