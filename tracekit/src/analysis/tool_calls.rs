//! [`tool_calls`]: which tools an agent called, in order, with which arguments.

use serde::Serialize;

use super::summary::{role, Role};
use crate::{SpanStatus, Trace, Value};

/// One tool call, as the tool's span recorded it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ToolCall {
    /// The tool (`gen_ai.tool.name`, the reference's `ai.tool.name`, else the span's name).
    pub name: String,
    /// Its arguments (`gen_ai.tool.call.arguments` or `ai.tool.input`), if recorded.
    pub arguments: Option<Value>,
    /// Whether the call failed.
    pub failed: bool,
}

/// The tool calls among `spans` (any conventions the genai helpers read), in start order.
///
/// ```
/// use tracekit::genai::GenAi;
/// let tracer = tracekit::Tracer::in_memory(10);
/// let genai = GenAi::new();
/// drop(genai.execute_tool(&tracer, "search", None).start());
/// let calls = tracekit::analysis::tool_calls(&tracer.get_traces(&Default::default()).unwrap());
/// assert_eq!(calls[0].name, "search");
/// ```
pub fn tool_calls(spans: &[Trace]) -> Vec<ToolCall> {
    let mut tools: Vec<&Trace> = spans.iter().filter(|s| role(s) == Role::Tool).collect();
    tools.sort_by_key(|s| s.started_at);
    tools.into_iter().map(tool_call).collect()
}

/// The tool call a tool's span recorded.
pub(crate) fn tool_call(s: &Trace) -> ToolCall {
    let first = |keys: &[&str]| keys.iter().find_map(|k| s.attributes.get(k)).cloned();
    ToolCall {
        name: first(&["gen_ai.tool.name", "ai.tool.name"])
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| s.span_name.to_string()),
        arguments: first(&["gen_ai.tool.call.arguments", "ai.tool.input"]),
        failed: s.span_status == SpanStatus::Error,
    }
}
