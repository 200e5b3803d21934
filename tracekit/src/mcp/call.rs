//! What both sides record about one MCP request: its name and attributes from the request,
//! its outcome from the result, and the context in `params._meta`.

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, ErrorData, GetPromptRequestParams,
    InitializeResult, JsonObject, ReadResourceRequestParams, ServerResult, SubscribeRequestParams,
    UnsubscribeRequestParams,
};

use crate::genai::GenAi;
use crate::propagation::{Extractor, Injector, Propagator, RemoteContext};
use crate::{Span, SpanBuilder, SpanStatus, Value};

/// One request as the conventions see it.
pub(super) struct Call<'a> {
    pub(super) method: &'a str,
    /// The tool's or prompt's name: low-cardinality, so it goes in the span name.
    target: Option<&'a str>,
    uri: Option<&'a str>,
    /// A tool call's arguments, kept for content capture.
    pub(super) arguments: Option<&'a JsonObject>,
}

impl<'a> Call<'a> {
    /// A request of `method`, before its parameters are read.
    pub(super) fn new(method: &'a str) -> Call<'a> {
        Call {
            method,
            target: None,
            uri: None,
            arguments: None,
        }
    }

    /// A request as the client sends it.
    pub(super) fn of(request: &'a ClientRequest) -> Call<'a> {
        let call = Call::new(request.method());
        match request {
            ClientRequest::CallToolRequest(r) => call.params(&r.params),
            ClientRequest::GetPromptRequest(r) => call.params(&r.params),
            ClientRequest::ReadResourceRequest(r) => call.params(&r.params),
            ClientRequest::SubscribeRequest(r) => call.params(&r.params),
            ClientRequest::UnsubscribeRequest(r) => call.params(&r.params),
            _ => call,
        }
    }

    /// What the request's parameters say about it.
    pub(super) fn params(self, params: &'a impl Params) -> Call<'a> {
        params.describe(self)
    }

    /// `{mcp.method.name} {target}`, or the method alone.
    pub(super) fn span_name(&self) -> String {
        // Not `format!`: this runs for every request, and the formatting machinery costs
        // more than the span's other attributes together.
        let mut name =
            String::with_capacity(self.method.len() + 1 + self.target.map_or(0, str::len));
        name.push_str(self.method);
        if let Some(target) = self.target {
            name.push(' ');
            name.push_str(target);
        }
        name
    }

    /// The tool this request calls, if it is a `tools/call`.
    pub(super) fn tool(&self) -> Option<&'a str> {
        (self.method == "tools/call")
            .then_some(self.target)
            .flatten()
    }

    /// The request's attributes (`mcp.method.name`, the tool, prompt or resource, the
    /// JSON-RPC id), on a span being built.
    pub(super) fn attributes<'t>(
        &self,
        mut b: SpanBuilder<'t>,
        id: &impl ToString,
    ) -> SpanBuilder<'t> {
        b = b
            .attribute("mcp.method.name", self.method)
            .attribute("jsonrpc.request.id", id.to_string());
        if let Some(tool) = self.tool() {
            b = b
                .attribute("gen_ai.operation.name", "execute_tool")
                .attribute("gen_ai.tool.name", tool);
        }
        if self.method == "prompts/get" {
            if let Some(prompt) = self.target {
                b = b.attribute("gen_ai.prompt.name", prompt);
            }
        }
        if let Some(uri) = self.uri {
            b = b.attribute("mcp.resource.uri", uri);
        }
        b
    }

    /// The same attributes on a span that is already open (an `execute_tool` span of the
    /// agent's own that this call joins).
    pub(super) fn annotate(&self, span: &Span, id: &impl ToString) {
        span.add_attribute("mcp.method.name", self.method)
            .add_attribute("jsonrpc.request.id", id.to_string());
    }
}

/// Request parameters that name a tool, a prompt or a resource. The others describe nothing
/// (the default).
pub(super) trait Params {
    fn describe<'a>(&'a self, call: Call<'a>) -> Call<'a> {
        call
    }
}

impl Params for CallToolRequestParams {
    fn describe<'a>(&'a self, call: Call<'a>) -> Call<'a> {
        Call {
            target: Some(&self.name),
            arguments: self.arguments.as_ref(),
            ..call
        }
    }
}

impl Params for GetPromptRequestParams {
    fn describe<'a>(&'a self, call: Call<'a>) -> Call<'a> {
        Call {
            target: Some(&self.name),
            ..call
        }
    }
}

macro_rules! resource_params {
    ($($params:ty),*) => {$(
        impl Params for $params {
            fn describe<'a>(&'a self, call: Call<'a>) -> Call<'a> {
                Call { uri: Some(&self.uri), ..call }
            }
        }
    )*};
}
resource_params!(
    ReadResourceRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams
);

/// Records a request's outcome on its span (the client's view: any result).
pub(super) fn record_result(
    span: &Span,
    genai: &GenAi,
    arguments: Option<&JsonObject>,
    result: &ServerResult,
) {
    match result {
        ServerResult::CallToolResult(result) => record_tool_result(span, genai, arguments, result),
        ServerResult::InitializeResult(result) => record_initialized(span, result),
        _ => {}
    }
}

/// The version `initialize` agreed on.
pub(super) fn record_initialized(span: &Span, result: &InitializeResult) {
    span.add_attribute("mcp.protocol.version", result.protocol_version.to_string());
}

/// A tool result with `isError` is an error of type `tool_error`; content capture records
/// the arguments and the result.
pub(super) fn record_tool_result(
    span: &Span,
    genai: &GenAi,
    arguments: Option<&JsonObject>,
    result: &CallToolResult,
) {
    if result.is_error == Some(true) {
        span.add_attribute("error.type", "tool_error")
            .set_status(SpanStatus::Error);
    }
    if genai.captures_content() {
        let arguments = arguments.map_or(Value::Null, |a| {
            Value::from(serde_json::Value::Object(a.clone()))
        });
        let result = serde_json::to_value(result).map_or(Value::Null, Value::from);
        genai.record_tool_io(span, arguments, result);
    }
}

/// Records a JSON-RPC error: its code as `rpc.response.status_code` and `error.type`.
pub(super) fn record_error(span: &Span, error: &ErrorData) {
    let code = error.code.0.to_string();
    span.add_attribute("rpc.response.status_code", code.clone())
        .add_attribute("error.type", code)
        .set_status(SpanStatus::Error);
}

/// `params._meta` as a propagation carrier.
pub(super) struct Meta<'a>(pub(super) &'a mut JsonObject);

impl Meta<'_> {
    /// Writes `span`'s context (the caller checks first that the request carries no
    /// `traceparent` of its own: then the whole context is theirs, and nothing is mixed in).
    pub(super) fn inject(&mut self, span: &Span) {
        Propagator::default().inject(span, self);
    }
}

/// The `_meta` of a request's parameters, for the requests whose parameters have one.
pub(super) fn params_meta(request: &mut ClientRequest) -> Option<&mut JsonObject> {
    use ClientRequest as R;
    let meta = match request {
        R::CallToolRequest(r) => r.params.meta.as_mut(),
        R::GetPromptRequest(r) => r.params.meta.as_mut(),
        R::ReadResourceRequest(r) => r.params.meta.as_mut(),
        R::CompleteRequest(r) => r.params.meta.as_mut(),
        R::SubscribeRequest(r) => r.params.meta.as_mut(),
        R::UnsubscribeRequest(r) => r.params.meta.as_mut(),
        R::ListToolsRequest(r) => r.params.as_mut().and_then(|p| p.meta.as_mut()),
        R::ListPromptsRequest(r) => r.params.as_mut().and_then(|p| p.meta.as_mut()),
        R::ListResourcesRequest(r) => r.params.as_mut().and_then(|p| p.meta.as_mut()),
        R::ListResourceTemplatesRequest(r) => r.params.as_mut().and_then(|p| p.meta.as_mut()),
        _ => None,
    }?;
    Some(&mut meta.0 .0)
}

impl Injector for Meta<'_> {
    fn set(&mut self, name: &'static str, value: String) {
        self.0
            .entry(name)
            .or_insert(serde_json::Value::String(value));
    }
}

/// A read-only `_meta`, for the server side.
pub(super) struct ReadMeta<'a>(pub(super) &'a JsonObject);

impl ReadMeta<'_> {
    /// The caller's context, with its allowlisted baggage; `None` when `traceparent` is
    /// missing or malformed (W3C: then the context is ignored).
    pub(super) fn extract(&self) -> Option<RemoteContext> {
        Propagator::default().extract(self)
    }
}

impl Extractor for ReadMeta<'_> {
    /// `_meta` holds a few keys (the progress token, the context): a scan finds one sooner
    /// than hashing its name. A JSON object has one value per key; keys that differ only in
    /// case are taken as the first one.
    fn get_all<'a>(&'a self, name: &str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        let value = self
            .0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str());
        Box::new(value.into_iter())
    }
}

/// The parameters that name nothing. (A module of its own for the `allow`:
/// `SetLevelRequestParams` is deprecated, logging being legacy, and still served.)
#[allow(deprecated)]
mod no_target {
    use super::Params;

    macro_rules! no_target {
        ($($params:ty),*) => {$( impl Params for $params {} )*};
    }
    no_target!(
        Option<rmcp::model::PaginatedRequestParams>,
        rmcp::model::InitializeRequestParams,
        rmcp::model::CompleteRequestParams,
        rmcp::model::SetLevelRequestParams,
        rmcp::model::CustomRequest,
        rmcp::model::GetTaskParams,
        rmcp::model::UpdateTaskParams,
        rmcp::model::CancelTaskParams,
        rmcp::model::GetSkillRequestParams,
        rmcp::model::ReadResourceDirectoryRequestParams
    );
}
