//! [`TracingLayer`]: `tracing` spans and events into tracekit traces.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::fields::Fields;
use crate::genai::complete::Call;
use crate::genai::GenAi;
use crate::span::context;
use crate::span::{finish, SpanRef};
use crate::{Key, Span, SpanKind, SpanStatus, Tracer, Value};

/// A `tracing_subscriber` layer that records `tracing` spans as tracekit spans, so the spans
/// frameworks emit (rig's `invoke_agent`, `chat` and `execute_tool`, the genai crate's,
/// reqwest-tracing's, sqlx's, tower-http's) land in the trace of the tracekit code that called
/// them.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use tracekit::bridge::TracingLayer;
/// use tracekit::{traced, TraceFilter, Tracer};
///
/// struct Agent {
///     tracer: Tracer,
/// }
///
/// impl Agent {
///     #[traced(inheritable("ai.conversation.id" = "conv-1"))]
///     fn turn(&self) {
///         // What a framework does inside: a `tracing` span, usage recorded later.
///         let chat = tracing::info_span!(
///             "chat gpt-4o",
///             gen_ai.operation.name = "chat",
///             gen_ai.provider.name = "openai",
///             gen_ai.request.model = "gpt-4o",
///             gen_ai.usage.input_tokens = tracing::field::Empty,
///             gen_ai.usage.output_tokens = tracing::field::Empty,
///         );
///         chat.record("gen_ai.usage.input_tokens", 1_200);
///         chat.record("gen_ai.usage.output_tokens", 300);
///     }
/// }
///
/// let tracer = Tracer::in_memory(100);
/// let subscriber = tracing_subscriber::registry().with(TracingLayer::new(tracer.clone()));
/// tracing::subscriber::with_default(subscriber, || Agent { tracer: tracer.clone() }.turn());
///
/// let spans = tracer.get_traces(&TraceFilter::new()).unwrap();
/// let (turn, chat) = (&spans[0], &spans[1]);
/// assert_eq!(chat.parent_span_id, Some(turn.span_id));          // one tree
/// assert_eq!(chat.span_kind, tracekit::SpanKind::Client);
/// assert_eq!(chat.attributes.get("ai.conversation.id"), Some(&"conv-1".into())); // inherited
/// assert_eq!(chat.attributes.get("ai.trace.type"), Some(&"llm-invocation".into()));
/// assert!(chat.attributes.get(tracekit::genai::COST_USD).is_some());  // priced
/// ```
///
/// # What becomes what
///
/// * **Parent**: the `tracing` parent if it is bridged (an explicit `parent:` included), else
///   the innermost open tracekit span on this thread, of whichever tracer (so a framework's
///   spans inside a `#[traced]` turn are its children and inherit its inheritable attributes).
///   A span declared as an explicit root (`parent: None`, as rig declares its agent span) is
///   adopted by that tracekit span all the same. The parent is decided when the span is
///   created.
/// * **Tracer**: the parent's; with no parent, the layer's own (a span with neither, under
///   [`Tracer::noop`], is not recorded).
/// * **Current span**: while a bridged span is entered, it is the current tracekit span of
///   its tracer: `#[traced]` code, [`Tracer::current_trace`], [`FutureExt::in_current_trace`]
///   and [`Context`] see it, across `.await`, `Instrument`ed tasks and threads.
/// * **Name**: the `tracing` name, or the `otel.name` field. **Kind**: the `otel.kind` field,
///   else CLIENT for a `gen_ai.operation.name` of `chat`, `text_completion`,
///   `generate_content` or `embeddings`, else INTERNAL. **Status**: the `otel.status_code`
///   field; ERROR when an `error` field is recorded (its text also as `exception.message`).
/// * **Fields** become attributes under their own names, typed: strings, `i64`, `u64`,
///   `f64`, `bool`; 128-bit integers beyond 64 bits and `Debug`/`Display` values as text
///   (one whose formatting panics is counted in [`BridgeStats::unrepresentable_fields`] and
///   recorded as a placeholder). Fields recorded later with `Span::record` are added to the
///   same span. The layer adds `tracing.target`, `tracing.level`, `tracing.module`,
///   `tracing.file` and `tracing.line`.
/// * **GenAI**: a span with `gen_ai.*` fields is completed when it closes as
///   [`genai`](crate::genai) writes its own (see [`TracingLayer::genai`]): the reference's
///   `ai.*`, OpenInference's kind, model and token counts, and the cost from the price
///   table. Only calls to a model are priced (rig's `invoke_agent` span sums its chats' usage:
///   pricing it too would count each token twice). Cached input is counted once: inside
///   `gen_ai.usage.input_tokens`, as the conventions, genai 0.7 and rig-core 0.44 report it
///   for every provider, or beside it when the count gives that away by being smaller than
///   the cached part (Anthropic's own count passed on). rig's
///   `gen_ai.usage.reasoning_tokens` and older names are stored under the current ones.
///   Message content is recorded only with content capture on.
/// * **Events** inside a bridged or tracekit span become span events (name = the message,
///   fields as attributes, with `level` and `tracing.target`); an ERROR event marks nothing
///   unless [`TracingLayer::error_events_fail_span`] says so.
///
/// Filtering: the layer takes spans and events at INFO and above
/// ([`max_level`](TracingLayer::max_level)), those a [`filter`](TracingLayer::filter) closure
/// accepts, and only what any per-layer filter (`.with_filter(EnvFilter::new(..))`) lets
/// through. Nothing it does panics into, or blocks, the traced code: a panic inside it (a
/// filter or rename hook's, say) is caught and counted in [`BridgeStats::contained_panics`].
///
/// Not mapped: a span's name or kind recorded after it started (`otel.name`/`otel.kind` in
/// `Span::record`; counted in [`BridgeStats::late_renames`]), `follows_from` links, and
/// `tracing` spans on other threads than the one that entered them never being exited.
///
/// [`FutureExt::in_current_trace`]: crate::FutureExt::in_current_trace
/// [`Context`]: crate::Context
pub struct TracingLayer {
    tracer: Tracer,
    settings: Settings,
}

impl std::fmt::Debug for TracingLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.settings;
        f.debug_struct("TracingLayer")
            .field("tracer", &self.tracer)
            .field("max_level", &s.max_level)
            .field("filter", &s.filter.is_some())
            .field("events", &s.events)
            .field("error_events_fail_span", &s.error_events_fail_span)
            .field("rename_fields", &s.rename.is_some())
            .field("genai", &s.genai)
            .finish()
    }
}

/// The layer's settings, read by the field visitor too.
pub(super) struct Settings {
    pub(super) genai: GenAi,
    pub(super) rename: Option<FieldRename>,
    max_level: LevelFilter,
    filter: Option<MetadataFilter>,
    events: bool,
    error_events_fail_span: bool,
    stats: BridgeStats,
}

type FieldRename = Box<dyn Fn(&'static str) -> Option<Key> + Send + Sync>;
type MetadataFilter = Box<dyn Fn(&Metadata<'_>) -> bool + Send + Sync>;

impl Settings {
    #[inline]
    fn wants(&self, meta: &Metadata<'_>) -> bool {
        self.max_level >= *meta.level() && self.filter.as_ref().is_none_or(|f| f(meta))
    }
}

/// How many bridged spans are open, in every layer: while none is, entering, exiting and
/// closing a `tracing` span skip the registry lookup (the span cannot be bridged).
static OPEN: AtomicU64 = AtomicU64::new(0);

/// What a bridged `tracing` span carries in the registry: its tracekit span and what its
/// `gen_ai.*` fields said.
struct Bridged {
    span: Span,
    call: Call,
}

impl TracingLayer {
    /// A layer recording into `tracer` the spans that have no tracekit parent (those with one
    /// go to their parent's tracer). `Tracer::noop()` records only spans under tracekit spans.
    pub fn new(tracer: Tracer) -> TracingLayer {
        TracingLayer {
            tracer,
            settings: Settings {
                genai: GenAi::new(),
                rename: None,
                max_level: LevelFilter::INFO,
                filter: None,
                events: true,
                error_events_fail_span: false,
                stats: BridgeStats::default(),
            },
        }
    }

    /// Takes spans and events at `level` and above (default INFO; `LevelFilter::TRACE` leaves
    /// the choice to per-layer filters).
    pub fn max_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.settings.max_level = level.into();
        self
    }

    /// Takes only spans and events whose metadata `filter` accepts (target, name, level...).
    ///
    /// ```
    /// let layer = tracekit::bridge::TracingLayer::new(tracekit::Tracer::in_memory(10))
    ///     .filter(|meta| meta.target().starts_with("rig"));
    /// # drop(layer);
    /// ```
    pub fn filter(
        mut self,
        filter: impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.settings.filter = Some(Box::new(filter));
        self
    }

    /// Whether `tracing` events become span events (default `true`).
    pub fn events(mut self, yes: bool) -> Self {
        self.settings.events = yes;
        self
    }

    /// Whether an ERROR event sets its span's status to ERROR (default `false`: frameworks
    /// log errors they recover from).
    pub fn error_events_fail_span(mut self, yes: bool) -> Self {
        self.settings.error_events_fail_span = yes;
        self
    }

    /// Stores each field under the name `rename` returns for it, or leaves it out on `None`
    /// (after the `otel.*` and GenAI fields were read).
    ///
    /// ```
    /// use std::borrow::Cow;
    /// let layer = tracekit::bridge::TracingLayer::new(tracekit::Tracer::in_memory(10))
    ///     .rename_fields(|name| match name {
    ///         "http.status" => Some(Cow::Borrowed("http.response.status_code")),
    ///         "password" => None,
    ///         other => Some(Cow::Borrowed(other)),
    ///     });
    /// # drop(layer);
    /// ```
    pub fn rename_fields(
        mut self,
        rename: impl Fn(&'static str) -> Option<Key> + Send + Sync + 'static,
    ) -> Self {
        self.settings.rename = Some(Box::new(rename));
        self
    }

    /// Completes `gen_ai.*` spans with these conventions, content-capture switch and prices
    /// (default [`GenAi::new`]: all conventions, capture as
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` says, the bundled prices).
    pub fn genai(mut self, genai: GenAi) -> Self {
        self.settings.genai = genai;
        self
    }

    /// A handle to the layer's counters, to read after the layer is installed.
    pub fn stats(&self) -> BridgeStats {
        self.settings.stats.clone()
    }

    /// The parent and tracer of a span or event: `explicit` if it is bridged, else the
    /// innermost open tracekit span on this thread.
    fn parent_of<S>(&self, explicit: Option<&Id>, ctx: &LayerContext<'_, S>) -> Option<Span>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let bridged = explicit.and_then(|id| {
            let span = ctx.span(id)?;
            let extensions = span.extensions();
            extensions.get::<Bridged>().map(|b| b.span.clone())
        });
        bridged.or_else(|| context::innermost().map(|s| Span { inner: Some(s) }))
    }
}

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        self.contain(|| self.new_span(attrs, id, &ctx));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        self.contain(|| self.record(id, values, &ctx));
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = bridged_span(id, &ctx) else {
            return;
        };
        let _ = ENTERED.try_with(|entered| {
            let mut entered = entered.borrow_mut();
            entered.0.push(span);
            if let Some(span) = entered.0.last() {
                // SAFETY: `ENTERED` holds this counted reference until `on_exit` (or its own
                // `Drop`) has removed the entry with `context::exit`; moving the reference
                // within the vector does not move the span it points at.
                unsafe { context::enter(span) };
            }
        });
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = bridged_span(id, &ctx) else {
            return;
        };
        let _ = ENTERED.try_with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(i) = entered.0.iter().rposition(|e| SpanRef::ptr_eq(e, &span)) {
                // The entry goes before the reference that keeps its span alive.
                context::exit(&entered.0[i]);
                entered.0.remove(i);
            }
        });
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        self.contain(|| self.close(&id, &ctx));
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        self.contain(|| self.event(event, &ctx));
    }
}

/// The layer's work, each called inside [`TracingLayer::contain`].
impl TracingLayer {
    /// Runs `f`; a panic in it (a user's filter or rename hook, say) is counted in
    /// [`BridgeStats::contained_panics`] instead of reaching the traced code.
    fn contain(&self, f: impl FnOnce()) {
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            self.settings.stats.0.panics.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn new_span<S>(&self, attrs: &Attributes<'_>, id: &Id, ctx: &LayerContext<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = attrs.metadata();
        if !self.settings.wants(meta) {
            return;
        }
        let parent = self.parent_of(attrs.parent(), ctx);
        let of_parent;
        let tracer = match parent.as_ref().and_then(Span::shared) {
            Some(p) => {
                of_parent = Tracer::of_span(p);
                &of_parent
            }
            None => &self.tracer,
        };
        if !tracer.is_enabled() {
            return;
        }
        let mut call = Call::default();
        let mut fields = Fields::new(&self.settings, Some(&mut call));
        attrs.record(&mut fields);
        let name = fields
            .name
            .take()
            .map_or(Key::Borrowed(meta.name()), Key::Owned);
        let (status, unrepresentable) = (fields.status, fields.unrepresentable);
        let attributes = std::mem::take(&mut fields.attributes);
        let kind = fields.kind.or(call.kind()).unwrap_or(SpanKind::Internal);
        let mut builder = tracer.span(name).kind(kind);
        builder = match &parent {
            Some(p) => builder.parent(p),
            None => builder.root(),
        };
        for (key, value) in location(meta).chain(attributes) {
            builder = builder.attribute(key, value);
        }
        let span = Span {
            inner: builder.start_shared(),
        };
        if let Some(status) = status {
            span.set_status(status);
        }
        let stats = &self.settings.stats.0;
        stats.spans.fetch_add(1, Ordering::Relaxed);
        if unrepresentable > 0 {
            stats
                .unrepresentable
                .fetch_add(unrepresentable, Ordering::Relaxed);
        }
        if let Some(registered) = ctx.span(id) {
            OPEN.fetch_add(1, Ordering::Relaxed);
            registered.extensions_mut().insert(Bridged { span, call });
        }
    }

    fn record<S>(&self, id: &Id, values: &Record<'_>, ctx: &LayerContext<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if OPEN.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(registered) = ctx.span(id) else {
            return;
        };
        let mut extensions = registered.extensions_mut();
        let Some(Bridged { span, call }) = extensions.get_mut::<Bridged>() else {
            return;
        };
        let mut fields = Fields::new(&self.settings, Some(call));
        values.record(&mut fields);
        let stats = &self.settings.stats.0;
        if fields.name.is_some() || fields.kind.is_some() {
            stats.late_renames.fetch_add(1, Ordering::Relaxed);
        }
        if fields.unrepresentable > 0 {
            stats
                .unrepresentable
                .fetch_add(fields.unrepresentable, Ordering::Relaxed);
        }
        if let Some(status) = fields.status {
            span.set_status(status);
        }
        span.add_attributes(fields.attributes);
    }

    fn close<S>(&self, id: &Id, ctx: &LayerContext<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if OPEN.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(registered) = ctx.span(id) else {
            return;
        };
        let Some(Bridged { span, call }) = registered.extensions_mut().remove::<Bridged>() else {
            return;
        };
        OPEN.fetch_sub(1, Ordering::Relaxed);
        self.settings.genai.complete(&span, &call);
        if let Some(open) = span.inner {
            finish(open);
        }
    }

    fn event<S>(&self, event: &Event<'_>, ctx: &LayerContext<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        if !self.settings.events || !self.settings.wants(meta) {
            return;
        }
        let span = if event.is_root() {
            None
        } else {
            self.parent_of(event.parent(), ctx)
        };
        let Some(span) = span.filter(Span::is_recording) else {
            return;
        };
        let mut fields = Fields::new(&self.settings, None);
        event.record(&mut fields);
        let name = fields
            .message
            .take()
            .map_or(Key::Borrowed(meta.name()), Key::Owned);
        let mut attributes = std::mem::take(&mut fields.attributes);
        attributes.push((Key::Borrowed("level"), Value::from(meta.level().as_str())));
        attributes.push((Key::Borrowed("tracing.target"), Value::from(meta.target())));
        span.add_event(name, attributes);
        if self.settings.error_events_fail_span && *meta.level() == Level::ERROR {
            span.set_status(SpanStatus::Error);
        }
        let stats = &self.settings.stats.0;
        stats.events.fetch_add(1, Ordering::Relaxed);
        if fields.unrepresentable > 0 {
            stats
                .unrepresentable
                .fetch_add(fields.unrepresentable, Ordering::Relaxed);
        }
    }
}

/// The counted reference to the tracekit span of a bridged `tracing` span.
fn bridged_span<S>(id: &Id, ctx: &LayerContext<'_, S>) -> Option<SpanRef>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if OPEN.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let registered = ctx.span(id)?;
    let extensions = registered.extensions();
    extensions.get::<Bridged>()?.span.inner.clone()
}

/// Where the span was declared: `tracing.*` attributes, borrowing the callsite's static
/// strings (no allocation).
fn location(meta: &'static Metadata<'static>) -> impl Iterator<Item = (Key, Value)> {
    let fixed = [
        ("tracing.target", Some(Value::from_static(meta.target()))),
        (
            "tracing.level",
            Some(Value::from_static(meta.level().as_str())),
        ),
        ("tracing.module", meta.module_path().map(Value::from_static)),
        ("tracing.file", meta.file().map(Value::from_static)),
        ("tracing.line", meta.line().map(Value::from)),
    ];
    fixed
        .into_iter()
        .filter_map(|(k, v)| Some((Key::Borrowed(k), v?)))
}

/// The bridged spans entered on this thread, each held by a counted reference while its
/// context entry exists.
struct Entered(Vec<SpanRef>);

impl Drop for Entered {
    /// Spans still entered when the thread's locals are torn down leave the context stack
    /// before their references go.
    fn drop(&mut self) {
        self.0.iter().rev().for_each(context::exit);
    }
}

thread_local! {
    static ENTERED: RefCell<Entered> = const { RefCell::new(Entered(Vec::new())) };
}

/// Counters of a [`TracingLayer`], from [`TracingLayer::stats`]; clones share them.
#[derive(Clone, Debug, Default)]
pub struct BridgeStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    spans: AtomicU64,
    events: AtomicU64,
    unrepresentable: AtomicU64,
    late_renames: AtomicU64,
    panics: AtomicU64,
}

impl BridgeStats {
    /// `tracing` spans recorded as tracekit spans.
    pub fn spans(&self) -> u64 {
        self.0.spans.load(Ordering::Relaxed)
    }

    /// `tracing` events recorded as span events.
    pub fn events(&self) -> u64 {
        self.0.events.load(Ordering::Relaxed)
    }

    /// Field values that could not be turned into text (their `Debug` or `Display` panicked);
    /// each was recorded as a placeholder.
    pub fn unrepresentable_fields(&self) -> u64 {
        self.0.unrepresentable.load(Ordering::Relaxed)
    }

    /// `otel.name` or `otel.kind` recorded after a span started, which a started tracekit span
    /// cannot take.
    pub fn late_renames(&self) -> u64 {
        self.0.late_renames.load(Ordering::Relaxed)
    }

    /// Panics caught inside the layer (in a filter or rename hook of yours, or in tracekit);
    /// the span or event at hand was not recorded, and the traced code went on.
    pub fn contained_panics(&self) -> u64 {
        self.0.panics.load(Ordering::Relaxed)
    }
}
