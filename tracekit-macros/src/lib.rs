//! The `#[traced]` attribute of [tracekit](https://docs.rs/tracekit). Use it through
//! `tracekit::traced`; this crate has no other API.
#![deny(missing_docs)]

mod attr;
mod expand;
mod shape;

use proc_macro::TokenStream;

/// Opens a span around every call of a function or method.
///
/// ```
/// use tracekit::{traced, Tracer};
///
/// struct Agent {
///     tracer: Tracer,
/// }
///
/// impl Agent {
///     #[traced] // span "converse", tracer = self.tracer
///     fn converse(&self, input: &str) -> String {
///         self.tracer.current_trace().add_attribute("ai.user.input", input);
///         format!("you said {input}")
///     }
/// }
///
/// let agent = Agent { tracer: Tracer::in_memory(10) };
/// agent.converse("hi");
/// let spans = agent.tracer.get_traces(&Default::default()).unwrap();
/// assert_eq!(spans[0].span_name, "converse");
/// assert_eq!(spans[0].attributes.get("ai.user.input"), Some(&"hi".into()));
/// ```
///
/// # Options
///
/// All are optional and may come in any order, except that a bare name goes first.
///
/// | option | meaning |
/// |---|---|
/// | `"name"` or `name = "name"` | the span name (default: the function's name) |
/// | `kind = Client` | `Internal` (default), `Server`, `Client`, `Producer`, `Consumer` |
/// | `tracer = <expr>` | where the tracer comes from (default `self.tracer`) |
/// | `tracer = current` | the tracer of the enclosing span; no span if there is none |
/// | `parent = <expr>` | continues a caller's trace from another process (a `RemoteContext` or an `Option` of one) |
/// | `attributes("key" = <expr>, ..)` | attributes set when the span starts |
/// | `inheritable("key" = <expr>, ..)` | inheritable attributes set when the span starts |
/// | `args`, `args(a, b)`, `skip(c)` | records the arguments (all, or these, but not those) in the attribute `input` |
/// | `output = "key"` | records the return value (the `Ok` value of a `Result`) |
/// | `stream` | the span lasts until the returned `impl Stream`/`impl Iterator` is exhausted or dropped |
/// | `record` | replay: records the arguments (but `skip(..)`) and the return value (serde) while the tracer records, and returns the recorded value without running the body while a `tracekit::replay::Replay` is active |
/// | `crate = path` | where tracekit is, if the dependency is renamed |
///
/// ## Name and kind
///
/// ```
/// # use tracekit::{traced, SpanKind, Tracer};
/// # struct Agent { tracer: Tracer }
/// impl Agent {
///     #[traced("llm-invocation", kind = Client)]
///     fn call_llm(&self, prompt: &str) -> usize {
///         prompt.len()
///     }
/// }
/// # let agent = Agent { tracer: Tracer::in_memory(10) };
/// # agent.call_llm("hello");
/// # let span = &agent.tracer.get_traces(&Default::default()).unwrap()[0];
/// # assert_eq!((span.span_name.as_ref(), span.span_kind), ("llm-invocation", SpanKind::Client));
/// ```
///
/// ## The tracer
///
/// By default the span goes to `self.tracer` for any receiver (`&self`, `&mut self`, `self`,
/// `self: Arc<Self>`, `self: Box<Self>`, `self: Pin<&mut Self>`); the field may be a
/// `Tracer`, `&Tracer`, `Arc<Tracer>` or `Box<Tracer>` (anything [`AsTracer`]). Free
/// functions name it, and the expression may use the arguments:
///
/// [`AsTracer`]: https://docs.rs/tracekit/latest/tracekit/trait.AsTracer.html
///
/// ```
/// # use tracekit::{traced, Tracer};
/// struct Ctx {
///     tracer: std::sync::Arc<Tracer>,
/// }
///
/// #[traced(tracer = ctx.tracer)]
/// fn search(ctx: &Ctx, query: &str) -> Vec<String> {
///     vec![query.to_uppercase()]
/// }
/// # let ctx = Ctx { tracer: std::sync::Arc::new(Tracer::in_memory(10)) };
/// # search(&ctx, "rust");
/// # assert_eq!(ctx.tracer.get_traces(&Default::default()).unwrap()[0].span_name, "search");
/// ```
///
/// `tracer = current` uses the tracer of whatever span encloses the call (and records nothing
/// when there is none), for helpers that do not hold a tracer:
///
/// ```
/// # use tracekit::{traced, Tracer};
/// #[traced(tracer = current)]
/// fn helper() -> u8 {
///     7
/// }
///
/// let tracer = Tracer::in_memory(10);
/// helper(); // no enclosing span: not recorded
/// {
///     let _outer = tracer.trace("outer");
///     helper(); // a child of "outer"
/// }
/// let spans = tracer.get_traces(&Default::default()).unwrap();
/// assert_eq!(spans.len(), 2);
/// assert_eq!(spans[1].span_name, "helper");
/// ```
///
/// ## Attributes
///
/// Keys are string literals; values are any `Serialize` expression, evaluated once when the
/// span starts (only if the tracer records) by reference, so arguments stay usable:
///
/// ```
/// # use tracekit::{traced, Tracer};
/// # struct Ctx { tracer: Tracer }
/// #[traced(
///     name = "search",
///     tracer = ctx.tracer,
///     attributes("ai.trace.type" = "tool-invocation", "ai.tool.input" = query),
///     inheritable("ai.agent.name" = "planner"),
/// )]
/// fn tool(ctx: &Ctx, query: String) -> usize {
///     query.len() // `query` was not moved by the attribute
/// }
/// # let ctx = Ctx { tracer: Tracer::in_memory(10) };
/// # tool(&ctx, "rust".to_string());
/// # let span = &ctx.tracer.get_traces(&Default::default()).unwrap()[0];
/// # assert_eq!(span.attributes.get("ai.tool.input"), Some(&"rust".into()));
/// # assert_eq!(span.attributes.get("ai.agent.name"), Some(&"planner".into()));
/// ```
///
/// ## Arguments: `args` and `skip`
///
/// `args` records the function's arguments as one map attribute, `input` (`{name: value}`),
/// each through `Serialize` by reference, long strings cut at 16 KiB with a marker, as the
/// LastMile SDK's `trace_function` does; `args(a, b)` records only those, `skip(c)` leaves
/// some out (an API key). With `output = "key"` the return value is recorded too. Secrets
/// that must never leave are better masked for every span with `Tracer::redacted`.
///
/// ```
/// use tracekit::{traced, Tracer};
///
/// struct Rag { tracer: Tracer }
/// impl Rag {
///     #[traced(args, skip(api_key), output = "output")]
///     fn answer(&self, question: &str, top_k: u32, api_key: &str) -> String {
///         format!("{question} ({top_k} chunks)")
///     }
/// }
///
/// let rag = Rag { tracer: Tracer::in_memory(10) };
/// rag.answer("why?", 3, "sk-...");
/// let span = &rag.tracer.get_traces(&Default::default()).unwrap()[0];
/// let input = span.attributes.get("input").unwrap();
/// assert_eq!(input.get("top_k"), Some(&3.into()));
/// assert_eq!(input.get("api_key"), None);
/// ```
///
/// ## Serving a request: `parent`
///
/// A request handler continues its caller's trace in one line: `parent` takes what
/// `tracekit::propagation::extract` read from the request's headers (a `RemoteContext`, an
/// `Option<RemoteContext>`, or a reference to either). The span joins the caller's trace as
/// a child of the caller's span, with the caller's baggage as inheritable attributes; with
/// `None` it starts a trace of its own.
///
/// ```
/// use std::collections::HashMap;
/// use tracekit::{propagation, traced, Tracer};
///
/// struct Service { tracer: Tracer }
/// impl Service {
///     #[traced(kind = Server, parent = propagation::extract(headers))]
///     fn handle(&self, headers: &HashMap<String, String>) -> &'static str {
///         "done"
///     }
/// }
///
/// let headers = HashMap::from([
///     ("traceparent".to_string(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string()),
///     ("baggage".to_string(), "ai.conversation.id=c-7".to_string()),
/// ]);
/// let service = Service { tracer: Tracer::in_memory(10) };
/// service.handle(&headers);
/// let span = &service.tracer.get_traces(&Default::default()).unwrap()[0];
/// assert_eq!(span.trace_id.to_string(), "0af7651916cd43dd8448eb211c80319c");
/// assert_eq!(span.parent_span_id.unwrap().to_string(), "b7ad6b7169203331");
/// assert_eq!(span.attributes.get("ai.conversation.id"), Some(&"c-7".into()));
/// ```
///
/// ## Errors, panics, outputs
///
/// A returned `Err` (of any `Result`, including `io::Result`, `anyhow::Result` and aliases)
/// sets status `Error` with `exception.type` (the error's type name) and `exception.message`
/// (its `Display`, else its `Debug`). `output = "key"` records the return value, or the `Ok`
/// value of a `Result`, through `Serialize`. A panic sets status `Error` with
/// `exception.type = "panic"` and the message; the span is recorded and the panic continues
/// unchanged.
///
/// ```
/// # use tracekit::{traced, SpanStatus, Tracer};
/// # struct Agent { tracer: Tracer }
/// impl Agent {
///     #[traced(output = "ai.tool.output")]
///     fn parse(&self, text: &str) -> Result<u32, std::num::ParseIntError> {
///         text.parse()
///     }
/// }
/// # let agent = Agent { tracer: Tracer::in_memory(10) };
/// assert!(agent.parse("12").is_ok());
/// assert!(agent.parse("twelve").is_err());
/// # let spans = agent.tracer.get_traces(&Default::default()).unwrap();
/// # assert_eq!(spans[0].attributes.get("ai.tool.output"), Some(&12.into()));
/// # assert_eq!(spans[1].span_status, SpanStatus::Error);
/// # assert_eq!(spans[1].attributes.get("exception.message"), Some(&"invalid digit found in string".into()));
/// # assert_eq!(spans[1].attributes.get("exception.type"), Some(&"core::num::error::ParseIntError".into()));
/// ```
///
/// ## Async
///
/// On an `async fn` the span covers the whole future: it starts at the first poll, is
/// current on every poll (on whichever thread polls), and ends when the future completes, or
/// with `cancelled = true` if it is dropped first. The future is `Send` whenever the body is.
/// `#[async_trait]` methods are recognised and traced the same way.
///
/// ```
/// # use tracekit::{traced, Tracer};
/// # struct Agent { tracer: Tracer }
/// impl Agent {
///     #[traced(kind = Client)]
///     async fn call_llm(&self, prompt: &str) -> Result<String, std::io::Error> {
///         tokio::task::yield_now().await;
///         Ok(prompt.to_uppercase())
///     }
/// }
/// # let rt = tokio::runtime::Runtime::new().unwrap();
/// # let agent = Agent { tracer: Tracer::in_memory(10) };
/// # rt.block_on(agent.call_llm("hi")).unwrap();
/// # assert_eq!(agent.tracer.get_traces(&Default::default()).unwrap()[0].span_name, "call_llm");
/// ```
///
/// ## Streams and iterators
///
/// With `stream`, a function that returns `impl Stream<Item = ..>` (tracekit's `stream`
/// feature) or `impl Iterator<Item = ..>` runs its body inside the span and hands the span to
/// the returned value: it is current while the value is polled and ends when the value is
/// exhausted, or with `cancelled = true` when it is dropped early.
///
/// ```
/// # use tracekit::{traced, Tracer};
/// # struct Llm { tracer: Tracer }
/// impl Llm {
///     #[traced("llm-stream", stream, kind = Client)]
///     fn tokens(&self, text: &'static str) -> impl Iterator<Item = &'static str> {
///         text.split_inclusive(' ')
///     }
/// }
/// # let llm = Llm { tracer: Tracer::in_memory(10) };
/// let tokens = llm.tokens("hello streaming world");
/// assert!(llm.tracer.get_traces(&Default::default()).unwrap().is_empty()); // still open
/// assert_eq!(tokens.count(), 3);
/// assert_eq!(llm.tracer.get_traces(&Default::default()).unwrap()[0].span_name, "llm-stream");
/// ```
///
/// ## Recording and replaying: `record`
///
/// For a function that calls the outside world (a model, a weather service, a database):
/// while its tracer [records](../tracekit/struct.Tracer.html#method.set_recording), the
/// arguments (by name, through `Serialize`; `skip(..)` leaves some out) and the return value
/// go on the span; while a replay is active (`Replay::scope` / `Replay::run`), the recorded
/// value is returned and the body does not run. The return type must be `Serialize` and
/// `DeserializeOwned` (for a `Result`, its error type too). A call with no recording panics
/// with the divergence: the function has nothing else to return.
///
/// ```
/// # use tracekit::{traced, Tracer};
/// # use tracekit::replay::{Cassette, Replay};
/// #[traced(tracer = current, record, skip(api_key))]
/// fn fetch(url: &str, api_key: &str) -> Result<String, String> {
///     Ok(format!("<page at {url}>")) // the network, in a real tool
/// }
/// let tracer = Tracer::in_memory(10);
/// tracer.set_recording(true);
/// let recorded = {
///     let _turn = tracer.trace("turn"); // `tracer = current`: this span's tracer
///     fetch("https://example.com", "secret")
/// };
/// let replay = Replay::new(Cassette::from_spans(&tracer.get_traces(&Default::default())?)?);
/// let tracer = Tracer::in_memory(10);
/// let replayed = replay.run(|| {
///     let _turn = tracer.trace("turn");
///     fetch("https://example.com", "other") // not run: `api_key` is not compared
/// });
/// assert_eq!(replayed, recorded);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ## A renamed dependency
///
/// ```
/// # extern crate tracekit as tk;
/// # use tk::Tracer;
/// # struct Agent { tracer: Tracer }
/// impl Agent {
///     #[tk::traced(crate = tk)]
///     fn step(&self) {}
/// }
/// # Agent { tracer: Tracer::noop() }.step();
/// ```
///
/// # What it expands to
///
/// The macro decides the function's shape once (sync, sync on `&self`, `async`, boxed
/// `#[async_trait]` future, `-> !`, returned iterator or stream) and calls the one entry
/// point of `tracekit::__private` for that shape; generated names are hygienic, so they
/// cannot clash with yours. Roughly, for a sync method:
///
/// ```text
/// fn converse(&self, input: &str) -> String {
///     let builder = /* tracer.span("converse").kind(..).attribute(..) */;
///     __private::sync_borrowing_self(builder, move || -> String { /* your body */ }, record)
///     // starts the span and makes it current, runs the body, records a returned `Err` and
///     // the output (or a panic, then resumes it), and ends the span
/// }
/// ```
///
/// and for an `async fn`, `__private::async_fn(pending, async move { /* body */ }, record)
/// .await`. Signatures, attributes, docs and visibility stay as written. `tracekit` depends
/// on this crate at an exact version, because these entry points are private and may change
/// between versions.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let args = match syn::parse::<attr::Args>(args) {
        Ok(args) => args,
        Err(e) => return with_error(e, item),
    };
    match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => match expand::expand(args, function) {
            Ok(tokens) => tokens.into(),
            Err(e) => with_error(e, item),
        },
        Err(_) => match not_a_function(&item) {
            Some(e) => with_error(e, item),
            // Not parseable: hand it back untouched so rustc reports the real problem.
            None => item.into(),
        },
    }
}

/// The error, plus the item unchanged so one mistake does not cascade into others.
fn with_error(error: syn::Error, item: proc_macro2::TokenStream) -> TokenStream {
    let mut out = error.to_compile_error();
    out.extend(item);
    out.into()
}

/// Explains why an item that parses but is not a function with a body cannot be traced.
fn not_a_function(item: &proc_macro2::TokenStream) -> Option<syn::Error> {
    if let Ok(f) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        if f.default.is_none() {
            return Some(syn::Error::new_spanned(
                f.semi_token,
                "#[traced] needs a function body; put it on the implementations of this method",
            ));
        }
    }
    let item = syn::parse2::<syn::Item>(item.clone()).ok()?;
    let (span, what) = match &item {
        syn::Item::Struct(s) => (s.struct_token.span, "a struct"),
        syn::Item::Enum(e) => (e.enum_token.span, "an enum"),
        syn::Item::Impl(i) => (
            i.impl_token.span,
            "an impl block; put it on the methods inside",
        ),
        syn::Item::Trait(t) => (
            t.trait_token.span,
            "a trait declaration; put it on its default methods or on the methods of an impl",
        ),
        syn::Item::Mod(m) => (m.mod_token.span, "a module"),
        other => (syn::spanned::Spanned::span(other), "this item"),
    };
    Some(syn::Error::new(
        span,
        format!("#[traced] goes on functions and methods, not on {what}"),
    ))
}
