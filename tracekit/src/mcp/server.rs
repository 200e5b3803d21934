//! The server side: [`Server`] wraps any rmcp `ServerHandler` and runs each request's
//! handler inside a SERVER span continued from the caller's `_meta`.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

#[allow(deprecated)] // `SetLevelRequestParams`: logging is legacy, still served.
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CancelledNotificationParam,
    CompleteRequestParams, CompleteResult, CustomNotification, CustomRequest, CustomResult,
    DiscoverResult, GetPromptRequestParams, GetPromptResponse, GetSkillRequestParams,
    GetSkillResult, GetTaskParams, GetTaskResult, InitializeRequestParams, InitializeResult,
    JsonObject, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListSkillsResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ProtocolVersion, ReadResourceDirectoryRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{
    MaybeSendFuture, NotificationContext, RequestContext, RoleServer, SubscriptionContext,
};
use rmcp::ErrorData as McpError;
use rmcp::ServerHandler;

use super::call::{record_error, record_initialized, record_tool_result, Call, ReadMeta};
use crate::genai::GenAi;
use crate::span::instrument::Instrumented;
use crate::{Span, SpanKind, Tracer, Value};

/// A traced rmcp server: wraps a handler (anything rmcp serves: a `ServerHandler`, a tool
/// router) and is served the same way.
///
/// ```no_run
/// use rmcp::model::{ServerCapabilities, ServerConfig};
/// use rmcp::{ServerHandler, ServiceExt};
///
/// #[derive(Clone)]
/// struct Weather;
/// impl ServerHandler for Weather {
///     fn get_info(&self) -> ServerConfig {
///         ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
///     }
///     // list_tools, call_tool, ...
/// }
///
/// # use rmcp::{transport::IntoTransport, RoleServer};
/// # async fn run<T, E, A>(stdio: T) -> Result<(), Box<dyn std::error::Error>>
/// # where T: IntoTransport<RoleServer, E, A>, E: std::error::Error + Send + Sync + 'static {
/// let tracer = tracekit::Tracer::sqlite("traces.db")?;
/// // `stdio`: rmcp's `rmcp::transport::stdio()`.
/// let server = tracekit::mcp::Server::new(&tracer, Weather).serve(stdio).await?;
/// server.waiting().await?;
/// tracer.shutdown()?;
/// # Ok(()) }
/// ```
///
/// Over streamable HTTP, wrap the handler in the service factory:
/// `StreamableHttpService::new(move || Ok(Server::new(&tracer, Weather)), ..)`.
#[derive(Clone, Debug)]
pub struct Server<S> {
    inner: S,
    tracer: Tracer,
    genai: GenAi,
    /// For requests that did not come over HTTP.
    transport: &'static str,
}

/// Settings for a traced MCP server: [`Server::builder`].
///
/// ```
/// use tracekit::genai::GenAi;
/// let tracer = tracekit::Tracer::in_memory(100);
/// let server = tracekit::mcp::Server::builder(&tracer)
///     .genai(GenAi::new().capture_content(true))
///     .network_transport("unix")
///     .wrap(());
/// # let _ = server;
/// ```
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    tracer: Tracer,
    genai: GenAi,
    transport: &'static str,
}

impl ServerBuilder {
    /// Content capture (tool arguments and results) as this [`GenAi`] says; the default is
    /// `GenAi::new()`, which reads `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
    pub fn genai(mut self, genai: GenAi) -> Self {
        self.genai = genai;
        self
    }

    /// `network.transport` for requests that did not come over HTTP (default `pipe`: stdio).
    pub fn network_transport(mut self, transport: &'static str) -> Self {
        self.transport = transport;
        self
    }

    /// Wraps `handler`.
    pub fn wrap<S>(self, handler: S) -> Server<S> {
        Server {
            inner: handler,
            tracer: self.tracer,
            genai: self.genai,
            transport: self.transport,
        }
    }
}

impl Server<()> {
    /// Settings beyond the defaults.
    pub fn builder(tracer: &Tracer) -> ServerBuilder {
        ServerBuilder {
            tracer: tracer.clone(),
            genai: GenAi::new(),
            transport: "pipe",
        }
    }
}

impl<S> Server<S> {
    /// Wraps `handler`, tracing to `tracer`, with the default settings.
    pub fn new(tracer: &Tracer, handler: S) -> Server<S> {
        Server::builder(tracer).wrap(handler)
    }

    /// The wrapped handler.
    pub fn handler(&self) -> &S {
        &self.inner
    }

    /// Opens the span of one request: the caller's context from `_meta`, else the current.
    fn start(&self, call: &Call<'_>, context: &RequestContext<RoleServer>) -> Span {
        let mut b = self
            .tracer
            .span(call.span_name())
            .kind(SpanKind::Server)
            .remote(ReadMeta(&context.meta.0 .0).extract());
        b = call.attributes(b, &context.id);
        if let Some(version) = context.protocol_version() {
            b = b.attribute("mcp.protocol.version", version.to_string());
        }
        match context.extensions.get::<http::request::Parts>() {
            Some(parts) => {
                b = b.attribute("network.transport", "tcp");
                let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
                if let Some(session) = header("mcp-session-id") {
                    b = b.attribute("mcp.session.id", session);
                }
                if let Some(host) = header("host") {
                    // `host`, `host:port`, `[::1]:port`.
                    let with_port = host
                        .rsplit_once(':')
                        .and_then(|(a, p)| Some((a, p.parse::<u16>().ok()?)));
                    match with_port {
                        Some((address, port)) => {
                            b = b
                                .attribute("server.address", address)
                                .attribute("server.port", i64::from(port));
                        }
                        None => b = b.attribute("server.address", host),
                    }
                }
            }
            None => b = b.attribute("network.transport", self.transport),
        }
        Span {
            inner: b.start_shared(),
        }
    }
}

/// Forwards request methods of `ServerHandler` to the wrapped handler, each in its span:
/// `name(request: Params) -> Result = "mcp/method";`.
macro_rules! traced_requests {
    ($( $name:ident ( $($request:ident : $params:ty)? ) -> $out:ty = $method:literal ; )*) => {
        $(
            fn $name(
                &self,
                $($request: $params,)?
                context: RequestContext<RoleServer>,
            ) -> impl Future<Output = Result<$out, McpError>> + MaybeSendFuture + '_ {
                let call = Call::new($method) $( .params(&$request) )?;
                let span = self.start(&call, &context);
                let arguments = self.arguments(&call);
                let ct = context.ct.clone();
                let cancelled = move || ct.is_cancelled();
                self.traced(span, arguments, cancelled, self.inner.$name($($request,)? context))
            }
        )*
    };
}

impl<S: ServerHandler> Server<S> {
    /// A tool call's arguments, when content is captured.
    fn arguments(&self, call: &Call<'_>) -> Option<JsonObject> {
        self.genai
            .captures_content()
            .then(|| call.arguments.cloned())
            .flatten()
    }

    /// Runs one request's handler inside its span, and records its outcome.
    fn traced<'a, T: Outcome>(
        &'a self,
        span: Span,
        arguments: Option<JsonObject>,
        cancelled: impl Fn() -> bool + Send + 'a,
        handler: impl Future<Output = Result<T, McpError>> + MaybeSendFuture + 'a,
    ) -> impl Future<Output = Result<T, McpError>> + MaybeSendFuture + 'a {
        let handled = Cancellable {
            inner: handler,
            cancelled,
            noted: false,
            span: span.clone(),
        };
        let genai = &self.genai;
        Instrumented::new(
            span.inner,
            handled,
            move |span: &Span, result: &Result<T, McpError>| match result {
                Ok(result) => result.record(span, genai, arguments.as_ref()),
                Err(error) => record_error(span, error),
            },
        )
    }
}

/// Every method of rmcp's `ServerHandler`: requests run in their span, the rest is passed on
/// as it is. rmcp serves a handler by calling these (over stdio and streamable HTTP alike),
/// so the wrapper must forward each one: a method rmcp adds would answer "method not found"
/// here, which is why the rmcp dependency is held to one minor version.
#[allow(deprecated)] // `subscribe`, `unsubscribe` and `set_level` are legacy, still served.
impl<S: ServerHandler> ServerHandler for Server<S> {
    traced_requests! {
        ping() -> () = "ping";
        initialize(request: InitializeRequestParams) -> InitializeResult = "initialize";
        discover() -> DiscoverResult = "server/discover";
        complete(request: CompleteRequestParams) -> CompleteResult = "completion/complete";
        set_level(request: SetLevelRequestParams) -> () = "logging/setLevel";
        get_prompt(request: GetPromptRequestParams) -> GetPromptResponse = "prompts/get";
        list_prompts(request: Option<PaginatedRequestParams>) -> ListPromptsResult = "prompts/list";
        list_resources(request: Option<PaginatedRequestParams>) -> ListResourcesResult = "resources/list";
        list_resource_templates(request: Option<PaginatedRequestParams>) -> ListResourceTemplatesResult = "resources/templates/list";
        read_resource(request: ReadResourceRequestParams) -> ReadResourceResponse = "resources/read";
        subscribe(request: SubscribeRequestParams) -> () = "resources/subscribe";
        unsubscribe(request: UnsubscribeRequestParams) -> () = "resources/unsubscribe";
        call_tool(request: CallToolRequestParams) -> CallToolResponse = "tools/call";
        list_tools(request: Option<PaginatedRequestParams>) -> ListToolsResult = "tools/list";
        on_custom_request(request: CustomRequest) -> CustomResult = "custom";
        get_task(request: GetTaskParams) -> GetTaskResult = "tasks/get";
        update_task(request: UpdateTaskParams) -> () = "tasks/update";
        cancel_task(request: CancelTaskParams) -> () = "tasks/cancel";
        list_skills(request: Option<PaginatedRequestParams>) -> ListSkillsResult = "skills/list";
        get_skill(request: GetSkillRequestParams) -> GetSkillResult = "skills/get";
        read_resource_directory(request: ReadResourceDirectoryRequestParams) -> ListResourcesResult = "resources/directory/read";
    }

    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, McpError> {
        self.inner.negotiate_initialize(request)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.inner.accepted_subscription_filter(requested)
    }

    fn listen(
        &self,
        context: SubscriptionContext,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.listen(context)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.get_tool(name)
    }

    fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_cancelled(notification, context)
    }

    fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_progress(notification, context)
    }

    fn on_initialized(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_initialized(context)
    }

    fn on_roots_list_changed(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_roots_list_changed(context)
    }

    fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_custom_notification(notification, context)
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }
}

/// What a result adds to its span: a tool's `isError`, the negotiated protocol version,
/// content when capture is on; nothing for the rest.
trait Outcome {
    fn record(&self, _span: &Span, _genai: &GenAi, _arguments: Option<&JsonObject>) {}
}

impl Outcome for CallToolResponse {
    fn record(&self, span: &Span, genai: &GenAi, arguments: Option<&JsonObject>) {
        if let CallToolResponse::Complete(result) = self {
            record_tool_result(span, genai, arguments, result);
        }
    }
}

impl Outcome for InitializeResult {
    fn record(&self, span: &Span, _: &GenAi, _: Option<&JsonObject>) {
        record_initialized(span, self);
    }
}

macro_rules! no_outcome {
    ($($result:ty),*) => {$( impl Outcome for $result {} )*};
}
no_outcome!(
    (),
    DiscoverResult,
    CompleteResult,
    GetPromptResponse,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ReadResourceResponse,
    ListToolsResult,
    CustomResult,
    GetTaskResult,
    ListSkillsResult,
    GetSkillResult
);

pin_project_lite::pin_project! {
    /// A handler's future that notes on its span that rmcp cancelled the request (the client
    /// sent `notifications/cancelled`); the handler itself goes on, as rmcp leaves it to. The
    /// token is looked at whenever the handler is polled, and when it ends: a cancelled
    /// handler that watches its token is woken by it; one that does not is noted when it
    /// ends. (Waiting on the token would register a waker per request, for a rare event.)
    struct Cancellable<F, C> {
        #[pin]
        inner: F,
        cancelled: C,
        noted: bool,
        span: Span,
    }
}

impl<F: Future, C: Fn() -> bool> Future for Cancellable<F, C> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let polled = this.inner.poll(cx);
        if !*this.noted && (this.cancelled)() {
            *this.noted = true;
            this.span
                .add_event(
                    "notifications/cancelled",
                    [("cancelled", Value::from(true))],
                )
                .add_attribute("cancelled", true);
        }
        polled
    }
}
