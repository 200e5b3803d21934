//! The client side: [`Client`] marks each call with its caller's span, and [`Wire`], around
//! the transport, opens the CLIENT span when the request goes out (where its JSON-RPC id and
//! progress token are known) and ends it when the answer comes in.
//!
//! The two halves meet through `_meta`: rmcp hands requests to its transport from a task of
//! its own, where the caller's span is not current, so the caller's half puts a number in the
//! request's `_meta` ([`MARK`]) that names its span in [`Calls::parents`], and the wire takes
//! the number out again before the request is written.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientJsonRpcMessage, ClientNotification, ClientRequest,
    CompleteRequestParams, CompleteResult, GetMeta, GetPromptRequestParams, GetPromptResult,
    JsonObject, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ProgressToken, Prompt, ReadResourceRequestParams,
    ReadResourceResult, RequestId, RequestParamsMeta, Resource, ServerJsonRpcMessage,
    ServerNotification, ServerResult, Tool,
};
use rmcp::service::{
    ClientInitializeError, RoleClient, RunningService, Service, ServiceError, ServiceExt,
};
use rmcp::transport::{IntoTransport, Transport};

use super::call::{params_meta, record_error, record_result, Call, Meta};
use crate::genai::GenAi;
use crate::span::{finish, SpanRef};
use crate::sync::lock;
use crate::{Span, SpanKind, SpanStatus, Tracer, Value};

/// The `_meta` key that carries a call's mark from [`Client`] to [`Wire`]; never written to
/// the transport.
const MARK: &str = "io.tracekit/parent";

/// Where the server is, for `network.transport` and `server.address`/`server.port`.
///
/// Without one, [`ClientBuilder`] tells a pipe from HTTP by the transport's type (rmcp's
/// `TokioChildProcess` and stdio transports are pipes, its streamable HTTP client is TCP) and
/// records no address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A child process's stdin and stdout (or any other pipe): `network.transport = pipe`.
    Pipe,
    /// Streamable HTTP at this URL: `network.transport = tcp`, and the URL's host and port.
    Http(String),
}

impl Endpoint {
    /// The guess from a transport's type name.
    fn guess(type_name: &str) -> Option<Endpoint> {
        if type_name.contains("StreamableHttp") || type_name.contains("Sse") {
            Some(Endpoint::Http(String::new()))
        } else if type_name.contains("ChildProcess")
            || type_name.contains("Stdin")
            || type_name.contains("Stdout")
            || type_name.contains("AsyncRw")
            || type_name.contains("async_rw")
        {
            Some(Endpoint::Pipe)
        } else {
            None
        }
    }

    /// `(network.transport, server.address, server.port)`.
    fn attributes(&self) -> Vec<(&'static str, Value)> {
        match self {
            Endpoint::Pipe => vec![("network.transport", "pipe".into())],
            Endpoint::Http(url) => {
                let mut attributes = vec![("network.transport", Value::from("tcp"))];
                if let Ok(uri) = url.parse::<http::Uri>() {
                    if let Some(host) = uri.host() {
                        attributes.push(("server.address", host.into()));
                    }
                    let port = uri.port_u16().or(match uri.scheme_str() {
                        Some("https") => Some(443),
                        Some("http") => Some(80),
                        _ => None,
                    });
                    if let Some(port) = port {
                        attributes.push(("server.port", i64::from(port).into()));
                    }
                }
                attributes
            }
        }
    }
}

/// Settings for a traced MCP client: [`Client::builder`].
///
/// ```no_run
/// # use rmcp::{transport::IntoTransport, RoleClient};
/// # async fn run<T, E, A>(tracer: tracekit::Tracer, transport: T) -> Result<(), Box<dyn std::error::Error>>
/// # where T: IntoTransport<RoleClient, E, A>, E: std::error::Error + Send + Sync + 'static {
/// use tracekit::genai::GenAi;
/// use tracekit::mcp::{Client, Endpoint};
///
/// // `transport`: rmcp's `StreamableHttpClientTransport::from_uri(url)`.
/// let url = "http://127.0.0.1:8000/mcp";
/// let client = Client::builder(&tracer)
///     .endpoint(Endpoint::Http(url.into()))
///     .genai(GenAi::new().capture_content(true))
///     .serve((), transport)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    tracer: Tracer,
    genai: GenAi,
    endpoint: Option<Endpoint>,
}

impl ClientBuilder {
    /// Content capture (tool arguments and results) as this [`GenAi`] says; the default is
    /// `GenAi::new()`, which reads `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
    pub fn genai(mut self, genai: GenAi) -> Self {
        self.genai = genai;
        self
    }

    /// Where the server is (default: guessed from the transport's type, without an address).
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Connects as rmcp's `service.serve(transport)` does (sending `initialize`, itself
    /// traced), with every request traced.
    ///
    /// # Errors
    ///
    /// rmcp's: the transport closed or the server refused the handshake.
    pub async fn serve<S, T, E, A>(
        self,
        service: S,
        transport: T,
    ) -> Result<Client<S>, ClientInitializeError>
    where
        S: Service<RoleClient>,
        T: IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let endpoint = self
            .endpoint
            .or_else(|| Endpoint::guess(std::any::type_name::<T>()));
        let calls = Arc::new(Calls {
            tracer: self.tracer,
            genai: self.genai,
            network: endpoint.map(|e| e.attributes()).unwrap_or_default(),
            next_mark: AtomicU64::new(1),
            parents: Default::default(),
            open: Default::default(),
            protocol: Default::default(),
        });
        let wire = Wire {
            inner: transport.into_transport(),
            calls: calls.clone(),
        };
        let running = service.serve(wire).await?;
        Ok(Client { running, calls })
    }
}

/// A traced rmcp client: rmcp's `RunningService<RoleClient, S>` (which it derefs to), whose
/// requests are CLIENT spans, children of the caller's span, with the context in `_meta`.
///
/// Its methods have rmcp's names and signatures, so code written against rmcp's client keeps
/// working; see the [module docs](super) for what each span carries.
///
/// ```no_run
/// # use rmcp::{transport::IntoTransport, RoleClient};
/// # async fn run<T, E, A>(server: T) -> Result<(), Box<dyn std::error::Error>>
/// # where T: IntoTransport<RoleClient, E, A>, E: std::error::Error + Send + Sync + 'static {
/// use rmcp::model::CallToolRequestParams;
/// use tracekit::{traced, Tracer};
///
/// struct Agent {
///     tracer: Tracer,
///     tools: tracekit::mcp::Client,
/// }
///
/// impl Agent {
///     #[traced]
///     async fn turn(&self, city: &str) -> Result<String, rmcp::ServiceError> {
///         self.tracer.current_trace().add_inheritable_attribute("ai.conversation.id", "c-1");
///         let arguments = serde_json::json!({ "city": city });
///         let call = CallToolRequestParams::new("get_weather")
///             .with_arguments(arguments.as_object().cloned().unwrap_or_default());
///         // A CLIENT span under `turn`, with the conversation id; the server's spans below it.
///         let result = self.tools.call_tool(call).await?;
///         Ok(format!("{:?}", result.content))
///     }
/// }
///
/// let tracer = Tracer::sqlite("traces.db")?;
/// // `server`: e.g. `TokioChildProcess::new(tokio::process::Command::new("./weather-server"))?`
/// let tools = tracekit::mcp::Client::serve(&tracer, (), server).await?;
/// let agent = Agent { tracer, tools };
/// agent.turn("Lisbon").await?;
/// # Ok(()) }
/// ```
pub struct Client<S: Service<RoleClient> = ()> {
    running: RunningService<RoleClient, S>,
    calls: Arc<Calls>,
}

impl<S: Service<RoleClient>> std::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peer", self.running.peer())
            .finish_non_exhaustive()
    }
}

impl Client<()> {
    /// Settings beyond the defaults: content capture, where the server is.
    pub fn builder(tracer: &Tracer) -> ClientBuilder {
        ClientBuilder {
            tracer: tracer.clone(),
            genai: GenAi::new(),
            endpoint: None,
        }
    }

    /// Connects `service` (`()` for a plain client) over `transport`, as rmcp's
    /// `service.serve(transport)` does, with every request traced to `tracer`.
    ///
    /// # Errors
    ///
    /// rmcp's: the transport closed or the server refused the handshake.
    pub async fn serve<S, T, E, A>(
        tracer: &Tracer,
        service: S,
        transport: T,
    ) -> Result<Client<S>, ClientInitializeError>
    where
        S: Service<RoleClient>,
        T: IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        Client::builder(tracer).serve(service, transport).await
    }
}

/// rmcp's request methods, under their own names, each marked with its caller's span:
/// in `calls`, `name(Params) -> Result;`, and in `pages` a listing's page, `name -> Result;` (its
/// parameters made present, to carry the mark).
macro_rules! marked_requests {
    (
        calls { $( $(#[$doc:meta])* $name:ident($params:ty) -> $out:ty; )* }
        pages { $( $(#[$pdoc:meta])* $page:ident -> $pout:ty; )* }
    ) => {
        $(
            $(#[$doc])*
            pub async fn $name(&self, params: $params) -> Result<$out, ServiceError> {
                let (params, _mark) = self.calls.mark(params);
                self.running.$name(params).await
            }
        )*
        $(
            $(#[$pdoc])*
            pub async fn $page(
                &self,
                params: Option<PaginatedRequestParams>,
            ) -> Result<$pout, ServiceError> {
                let (params, _mark) = self.calls.mark(params.unwrap_or_default());
                self.running.$page(Some(params)).await
            }
        )*
    };
}

impl<S: Service<RoleClient>> Client<S> {
    marked_requests! {
        calls {
            /// `tools/call`, with rmcp's follow-up rounds when the server asks for input.
            call_tool(CallToolRequestParams) -> CallToolResult;
            /// `prompts/get`.
            get_prompt(GetPromptRequestParams) -> GetPromptResult;
            /// `resources/read`.
            read_resource(ReadResourceRequestParams) -> ReadResourceResult;
            /// `completion/complete`.
            complete(CompleteRequestParams) -> CompleteResult;
        }
        pages {
            /// One page of `tools/list`.
            list_tools -> ListToolsResult;
            /// One page of `prompts/list`.
            list_prompts -> ListPromptsResult;
            /// One page of `resources/list`.
            list_resources -> ListResourcesResult;
            /// One page of `resources/templates/list`.
            list_resource_templates -> ListResourceTemplatesResult;
        }
    }

    /// Every page of `tools/list` (one span per page).
    pub async fn list_all_tools(&self) -> Result<Vec<Tool>, ServiceError> {
        self.all(|p| self.list_tools(p), |r| (r.tools, r.next_cursor))
            .await
    }

    /// Every page of `prompts/list` (one span per page).
    pub async fn list_all_prompts(&self) -> Result<Vec<Prompt>, ServiceError> {
        self.all(|p| self.list_prompts(p), |r| (r.prompts, r.next_cursor))
            .await
    }

    /// Every page of `resources/list` (one span per page).
    pub async fn list_all_resources(&self) -> Result<Vec<Resource>, ServiceError> {
        self.all(|p| self.list_resources(p), |r| (r.resources, r.next_cursor))
            .await
    }

    /// Any request, as rmcp's `Peer::send_request`.
    pub async fn send_request(
        &self,
        mut request: ClientRequest,
    ) -> Result<ServerResult, ServiceError> {
        // Held until the answer: the wire looks the caller's span up by this mark.
        let marked = self.calls.marked();
        if let Some(mark) = marked.mark {
            let meta = &mut request.get_meta_mut().0 .0;
            meta.insert(MARK.to_owned(), mark.into());
        }
        self.running.send_request(request).await
    }

    /// rmcp's running service, for what the wrapper does not cover (its requests are traced
    /// too, without knowing their caller's span).
    pub fn service(&self) -> &RunningService<RoleClient, S> {
        &self.running
    }

    /// Closes the connection (rmcp's `RunningService::cancel`).
    ///
    /// # Errors
    ///
    /// When rmcp's service task panicked.
    pub async fn cancel(self) -> Result<rmcp::service::QuitReason, tokio::task::JoinError> {
        self.running.cancel().await
    }

    /// rmcp's running service; requests sent through it are still traced by the transport.
    pub fn into_inner(self) -> RunningService<RoleClient, S> {
        self.running
    }

    /// Every page of a listing.
    async fn all<R, T, F>(
        &self,
        page: impl Fn(Option<PaginatedRequestParams>) -> F,
        items: impl Fn(R) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, ServiceError>
    where
        F: Future<Output = Result<R, ServiceError>>,
    {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let (mut got, next) =
                items(page(Some(PaginatedRequestParams::default().with_cursor(cursor))).await?);
            all.append(&mut got);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }
}

impl<S: Service<RoleClient>> Deref for Client<S> {
    type Target = RunningService<RoleClient, S>;
    fn deref(&self) -> &Self::Target {
        &self.running
    }
}

/// What a client's two halves share.
struct Calls {
    tracer: Tracer,
    genai: GenAi,
    /// `network.transport`, `server.address`, `server.port`.
    network: Vec<(&'static str, Value)>,
    next_mark: AtomicU64,
    /// The callers' spans of calls in progress, by mark.
    parents: std::sync::Mutex<HashMap<u64, Span>>,
    /// Requests sent and not answered, by JSON-RPC id.
    open: std::sync::Mutex<HashMap<RequestId, Open>>,
    /// The version `initialize` agreed on.
    protocol: std::sync::OnceLock<String>,
}

/// A request in flight.
struct Open {
    span: SpanRef,
    /// `false` for an `execute_tool` span of the agent's own that the call joined: its owner
    /// ends it.
    owned: bool,
    progress: Option<ProgressToken>,
    /// A tool call's arguments, for content capture.
    arguments: Option<JsonObject>,
}

/// Removes a call's mark when the call ends (or its future is dropped).
struct Marked<'a> {
    calls: &'a Calls,
    mark: Option<u64>,
}

impl Drop for Marked<'_> {
    fn drop(&mut self) {
        if let Some(mark) = self.mark {
            lock(&self.calls.parents).remove(&mark);
        }
    }
}

impl Calls {
    /// Marks `params` with the caller's span (the innermost open span on this thread, of any
    /// tracer). Outside any span, `params` go as they came: no `_meta` is added.
    fn mark<P: RequestParamsMeta>(&self, mut params: P) -> (P, Marked<'_>) {
        let marked = self.marked();
        if let Some(mark) = marked.mark {
            let meta = params.meta_mut().get_or_insert_default();
            meta.0 .0.insert(MARK.to_owned(), mark.into());
        }
        (params, marked)
    }

    /// The caller's span registered under a new mark, if there is one.
    fn marked(&self) -> Marked<'_> {
        let mark = Span::innermost().map(|parent| {
            let mark = self.next_mark.fetch_add(1, Ordering::Relaxed);
            lock(&self.parents).insert(mark, parent);
            mark
        });
        Marked { calls: self, mark }
    }

    /// A request going out: opens its span (or joins the caller's `execute_tool` span) and
    /// writes the context into its `_meta`.
    fn sending(&self, id: &RequestId, request: &mut ClientRequest) {
        // rmcp keeps `_meta` in two places, merged when written: the parameters' own (where
        // `Client` puts its mark) and the request's extensions (where rmcp puts the progress
        // token, and this puts the context).
        let mut mark = request.get_meta_mut().0 .0.remove(MARK);
        let mut callers_context = request.get_meta().0 .0.contains_key("traceparent");
        if let Some(meta) = params_meta(request) {
            mark = meta.remove(MARK).or(mark);
            callers_context |= meta.contains_key("traceparent");
        }
        let parent = mark
            .and_then(|m| m.as_u64())
            .and_then(|m| lock(&self.parents).get(&m).cloned())
            .or_else(Span::innermost);
        let call = Call::of(request);
        let arguments = self
            .genai
            .captures_content()
            .then(|| call.arguments.cloned())
            .flatten();
        let joined = parent.as_ref().filter(|p| {
            call.tool().is_some_and(|tool| {
                p.attribute("gen_ai.operation.name")
                    .as_ref()
                    .and_then(Value::as_str)
                    == Some("execute_tool")
                    && p.attribute("gen_ai.tool.name")
                        .as_ref()
                        .and_then(Value::as_str)
                        == Some(tool)
            })
        });
        let (span, owned) = match joined {
            Some(own) => {
                call.annotate(own, id);
                (own.inner.clone(), false)
            }
            None => {
                let mut b = self.tracer.span(call.span_name()).kind(SpanKind::Client);
                if let Some(parent) = &parent {
                    b = b.parent(parent);
                }
                b = call.attributes(b, id);
                if let Some(version) = self.protocol.get() {
                    b = b.attribute("mcp.protocol.version", version.as_str());
                }
                for (k, v) in &self.network {
                    b = b.attribute(*k, v.clone());
                }
                (b.start_shared(), true)
            }
        };
        let Some(span) = span else { return };
        if !callers_context {
            Meta(&mut request.get_meta_mut().0 .0).inject(&Span {
                inner: Some(span.clone()),
            });
        }
        let progress = request.get_meta().get_progress_token();
        lock(&self.open).insert(
            id.clone(),
            Open {
                span,
                owned,
                progress,
                arguments,
            },
        );
    }

    /// A notification going out: a cancellation ends its request's span.
    fn notifying(&self, notification: &ClientNotification) {
        let ClientNotification::CancelledNotification(cancelled) = notification else {
            return;
        };
        let Some(id) = &cancelled.params.request_id else {
            return;
        };
        let Some(open) = lock(&self.open).remove(id) else {
            return;
        };
        open.handle().add_event(
            "notifications/cancelled",
            cancelled
                .params
                .reason
                .as_deref()
                .map(|r| ("reason", Value::from(r))),
        );
        open.span.record_cancelled();
        open.end();
    }

    /// A message coming in: an answer ends its request's span; progress becomes an event.
    fn received(&self, message: &ServerJsonRpcMessage) {
        match message {
            rmcp::model::JsonRpcMessage::Response(response) => {
                let Some(open) = lock(&self.open).remove(&response.id) else {
                    return;
                };
                if let ServerResult::InitializeResult(init) = &response.result {
                    let _ = self.protocol.set(init.protocol_version.to_string());
                }
                record_result(
                    &open.handle(),
                    &self.genai,
                    open.arguments.as_ref(),
                    &response.result,
                );
                open.end();
            }
            rmcp::model::JsonRpcMessage::Error(error) => {
                let Some(id) = &error.id else { return };
                let Some(open) = lock(&self.open).remove(id) else {
                    return;
                };
                record_error(&open.handle(), &error.error);
                open.end();
            }
            rmcp::model::JsonRpcMessage::Notification(n) => {
                if let ServerNotification::ProgressNotification(p) = &n.notification {
                    let open = lock(&self.open);
                    let request = open
                        .values()
                        .find(|o| o.progress.as_ref() == Some(&p.params.progress_token));
                    if let Some(request) = request {
                        let mut attributes = vec![("progress", Value::from(p.params.progress))];
                        if let Some(total) = p.params.total {
                            attributes.push(("total", total.into()));
                        }
                        if let Some(message) = &p.params.message {
                            attributes.push(("message", message.as_str().into()));
                        }
                        request
                            .handle()
                            .add_event("notifications/progress", attributes);
                    }
                }
            }
            rmcp::model::JsonRpcMessage::Request(_) => {}
        }
    }

    /// The connection is gone: what is still open will not be answered.
    fn closed(&self) {
        let open: Vec<Open> = lock(&self.open).drain().map(|(_, o)| o).collect();
        for open in open {
            open.handle()
                .add_attribute("error.type", "transport_closed")
                .set_status(SpanStatus::Error);
            open.end();
        }
    }
}

impl Open {
    fn handle(&self) -> Span {
        Span {
            inner: Some(self.span.clone()),
        }
    }

    /// Ends the span, if it is the call's own.
    fn end(self) {
        if self.owned {
            finish(self.span);
        }
    }
}

/// The transport, seen by rmcp: every message passes [`Calls`] on its way.
struct Wire<T> {
    inner: T,
    calls: Arc<Calls>,
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Wire<T> {
    type Error = T::Error;

    fn name() -> std::borrow::Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        mut item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        match &mut item {
            rmcp::model::JsonRpcMessage::Request(r) => self.calls.sending(&r.id, &mut r.request),
            rmcp::model::JsonRpcMessage::Notification(n) => self.calls.notifying(&n.notification),
            _ => {}
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        let message = self.inner.receive().await;
        match &message {
            Some(message) => self.calls.received(message),
            None => self.calls.closed(),
        }
        message
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.calls.closed();
        self.inner.close()
    }
}

impl<T> Drop for Wire<T> {
    fn drop(&mut self) {
        self.calls.closed();
    }
}
