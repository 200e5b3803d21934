//! Support for the code `#[traced]` generates. Not a public API: it changes without notice,
//! which is why tracekit depends on tracekit-macros with an exact version.
//!
//! The macro decides the shape of the traced function once (tracekit-macros' `Shape`) and
//! calls the one entry point below that serves it:
//!
//! | shape | entry point | the span |
//! |---|---|---|
//! | sync | [`sync`] | built before the body, current for the call |
//! | sync `&self` method | [`sync_borrowing_self`] | borrows the tracer from `self`; built as it is entered |
//! | `async fn` | [`async_fn`] | covers the future |
//! | `async fn` on `&self` | [`async_fn_borrowing_self`] | as above, borrowing the tracer from `self` |
//! | `#[async_trait]` method | [`async_fn`] | covers the boxed future (the macro rewrites the body) |
//! | `#[async_trait]` on `&self` | [`async_fn_borrowing_self`] | as above, borrowing the tracer from `self` |
//! | returns `!` | [`never`] | current until the function diverges |
//! | `stream` on `impl Iterator` | [`iter`] | moves into the returned iterator |
//! | `stream` on `impl Stream` | [`stream`] | moves into the returned stream |
//!
//! Every shape describes its span the same way: [`tracer`] (any [`AsTracer`]), then, only if
//! [`enabled`], [`builder`] with the attributes; shapes whose body may move or mutably borrow
//! `self` turn that into a [`Pending`] span first ([`pending`]), ending the borrow of the
//! tracer; async `&self` methods start it borrowing the tracer ([`pending_borrowing_self`]);
//! a sync `&self` method's entry point takes the builder itself. An `async fn` with a tracer
//! that records nothing awaits its body as it is ([`Described::records`]).
#![allow(missing_docs, unreachable_pub)]

use std::any::Any;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

pub use serde::Serialize;

/// `#[traced(record)]`'s hooks.
pub use crate::replay::scope::{arg as replay_arg, Call as ReplayCall};

use crate::span::instrument::Instrumented;
use crate::span::SpanRef;
use crate::{
    AsTracer, Key, RemoteContext, Scope, Span, SpanBuilder, SpanGuard, SpanKind, SpanStatus,
    Tracer, Value,
};

// The span's description, shared by every shape.

#[inline]
pub fn tracer<T: AsTracer + ?Sized>(tracer: &T) -> &Tracer {
    tracer.as_tracer()
}

#[inline(always)]
pub fn enabled(tracer: &Tracer) -> bool {
    tracer.is_enabled()
}

#[inline]
pub fn builder<'a>(
    tracer: &'a Tracer,
    name: &'static str,
    kind: SpanKind,
    scope: &'static Scope,
) -> SpanBuilder<'a> {
    tracer.span(name).kind(kind).static_scope(scope)
}

/// What `#[traced(parent = ..)]` takes: a caller's context, if there is one.
#[diagnostic::on_unimplemented(
    message = "`#[traced(parent = ..)]` takes a `RemoteContext` or an `Option<RemoteContext>`, not `{Self}`",
    label = "not a caller's context",
    note = "read one from the request's headers: `parent = tracekit::propagation::extract(&headers)`"
)]
pub trait RemoteParent {
    /// The context to continue, if any.
    fn into_remote(self) -> Option<RemoteContext>;
}

impl RemoteParent for RemoteContext {
    fn into_remote(self) -> Option<RemoteContext> {
        Some(self)
    }
}

impl RemoteParent for Option<RemoteContext> {
    fn into_remote(self) -> Option<RemoteContext> {
        self
    }
}

impl RemoteParent for &RemoteContext {
    fn into_remote(self) -> Option<RemoteContext> {
        Some(self.clone())
    }
}

impl RemoteParent for &Option<RemoteContext> {
    fn into_remote(self) -> Option<RemoteContext> {
        self.clone()
    }
}

#[inline]
pub fn remote_parent(parent: impl RemoteParent) -> Option<RemoteContext> {
    parent.into_remote()
}

/// The instrumenting crate, from its `CARGO_PKG_*` (when built by cargo).
#[inline]
pub const fn scope(name: Option<&'static str>, version: Option<&'static str>) -> Scope {
    Scope {
        name: Key::Borrowed(match name {
            Some(n) => n,
            None => "unknown",
        }),
        version: Key::Borrowed(match version {
            Some(v) => v,
            None => "unknown",
        }),
    }
}

/// A span that is started but not yet current (`None` when the tracer records nothing). It
/// no longer borrows the tracer, so the body may take `self` by value or mutably; its links
/// are counted, so it may wait, be sent, or go into a future.
pub struct Pending(Option<SpanRef>);

#[inline]
pub fn pending(builder: Option<SpanBuilder<'_>>) -> Pending {
    Pending(builder.and_then(SpanBuilder::start_shared))
}

pin_project_lite::pin_project! {
    /// A value holding a span that borrows its tracer from `self` for `'t` instead of holding
    /// a lease on it (see `SpanBuilder::borrowing_tracer`): `'t` ties the span, while it is
    /// unpromoted, to that borrow. Its field is private, so the span cannot be taken out.
    pub struct BorrowsTracer<'t, T> {
        #[pin]
        inner: T,
        _tracer: PhantomData<&'t Tracer>,
    }
}

impl<T> BorrowsTracer<'_, T> {
    fn new(inner: T) -> Self {
        BorrowsTracer {
            inner,
            _tracer: PhantomData,
        }
    }
}

impl<F: Future> Future for BorrowsTracer<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// Starts `builder`'s span borrowing its tracer, held by `BorrowsTracer<'t, _>`.
#[inline]
fn start_borrowing_tracer<'t, T>(
    builder: SpanBuilder<'t>,
    hold: impl FnOnce(Option<SpanRef>) -> T,
) -> BorrowsTracer<'t, T> {
    // SAFETY: the span goes straight into a `BorrowsTracer<'t, _>`, which cannot outlive the
    // builder's borrow `'t` of the tracer and never gives the span out unpromoted.
    let span = unsafe { builder.borrowing_tracer() }.start_shared();
    BorrowsTracer::new(hold(span))
}

// Sync functions.

/// Runs a sync function's body inside its span: records the outcome, or a panic (then resumes
/// it). With no span, calls the body as it is.
#[inline(always)]
pub fn sync<R>(span: Pending, body: impl FnOnce() -> R, record: impl FnOnce(&Span, &R)) -> R {
    match span.0 {
        None => body(),
        span => run(SpanGuard::enter(span), body, record),
    }
}

/// `sync` for a `&self` method: the span borrows the tracer from `self`, starts here and ends
/// before the call returns, within `'t`; built as it is entered, it can borrow its parent.
#[inline(always)]
pub fn sync_borrowing_self<'t, R>(
    builder: Option<SpanBuilder<'t>>,
    body: impl FnOnce() -> R,
    record: impl FnOnce(&Span, &R),
) -> R {
    match builder {
        None => body(),
        // SAFETY: the guard is dropped before this call returns, within `'t`; what may
        // escape it (handles, children that are futures) promotes the span first.
        Some(builder) => run(unsafe { builder.borrowing_tracer() }.start(), body, record),
    }
}

#[inline(always)]
fn run<R>(guard: SpanGuard, body: impl FnOnce() -> R, record: impl FnOnce(&Span, &R)) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(ret) => {
            record(&guard.span, &ret);
            ret
        }
        Err(payload) => {
            record_panic(&guard.span, &*payload);
            drop(guard);
            std::panic::resume_unwind(payload)
        }
    }
}

/// The span of a function that returns `!`: current until the function diverges.
#[inline]
pub fn never(span: Pending) -> SpanGuard {
    SpanGuard::enter(span.0)
}

// Async functions.

/// What an `async fn`'s span is described by: whether it records. The generated code awaits
/// the body as it is when it does not; when it does, through the entry point. Each branch
/// awaits its own future, so the function's state holds the body once.
pub trait Described {
    fn records(&self) -> bool;
}

impl Described for Pending {
    #[inline(always)]
    fn records(&self) -> bool {
        self.0.is_some()
    }
}

impl Described for BorrowsTracer<'_, Pending> {
    #[inline(always)]
    fn records(&self) -> bool {
        self.inner.0.is_some()
    }
}

/// Starts the span of an async `&self` method (or of the future an `#[async_trait]` `&self`
/// method boxes), borrowing the tracer from `self` for `'t`. Started before the future is
/// made, it is small to keep in the function's state.
#[inline]
pub fn pending_borrowing_self(builder: Option<SpanBuilder<'_>>) -> BorrowsTracer<'_, Pending> {
    match builder {
        None => BorrowsTracer::new(Pending(None)),
        Some(builder) => start_borrowing_tracer(builder, Pending),
    }
}

/// Names the output type of an `async fn`'s body before the body is checked (`?` needs it).
#[inline(always)]
pub fn typed_future<T, F: Future<Output = T>>(future: F) -> F {
    future
}

/// An `async fn`'s body (or the future an `#[async_trait]` method boxes) in its span, which
/// ends when the future completes (recording the outcome) or is dropped. One type whether or
/// not the tracer records, as a box needs. `T` is named first so generated code can write
/// `async_fn::<R, _, _>`: the async block then knows its output type before its body is
/// checked (`?` needs it).
#[inline]
pub fn async_fn<T, F, C>(span: Pending, future: F, record: C) -> Instrumented<F, C>
where
    F: Future<Output = T>,
    C: FnOnce(&Span, &T),
{
    Instrumented::new(span.0, future, record)
}

/// `async_fn` for a `&self` method: the span borrows the tracer from `self`, and ends when the
/// future completes or is dropped, within `'t`.
#[inline]
pub fn async_fn_borrowing_self<'t, T, F, C>(
    span: BorrowsTracer<'t, Pending>,
    future: F,
    record: C,
) -> BorrowsTracer<'t, Instrumented<F, C>>
where
    F: Future<Output = T>,
    C: FnOnce(&Span, &T),
{
    // The span moves from one `BorrowsTracer<'t, _>` to another: still tied to `'t`.
    BorrowsTracer::new(Instrumented::new(span.inner.0, future, record))
}

// `#[traced(stream)]`.

/// Runs the body inside the span, then hands the span to the iterator it returns.
#[inline]
pub fn iter<I: Iterator>(span: Pending, body: impl FnOnce() -> I) -> Instrumented<I> {
    let guard = SpanGuard::enter(span.0);
    let iter = body();
    Instrumented::new(guard.detach(), iter, ())
}

/// Runs the body inside the span, then hands the span to the stream it returns.
#[cfg(feature = "stream")]
#[inline]
pub fn stream<S: futures_core::Stream>(span: Pending, body: impl FnOnce() -> S) -> Instrumented<S> {
    let guard = SpanGuard::enter(span.0);
    let stream = body();
    Instrumented::new(guard.detach(), stream, ())
}

/// Without the `stream` feature a stream cannot be wrapped; say how to fix it.
#[cfg(not(feature = "stream"))]
pub fn stream<S: StreamFeatureNeeded>(_: Pending, body: impl FnOnce() -> S) -> S {
    body()
}

#[cfg(not(feature = "stream"))]
#[diagnostic::on_unimplemented(
    message = "#[traced(stream)] on a stream needs tracekit's `stream` feature",
    note = "enable it in Cargo.toml: tracekit = {{ version = \"..\", features = [\"stream\"] }}"
)]
pub trait StreamFeatureNeeded {}

// Recording the outcome.

pub fn record_panic(span: &Span, payload: &(dyn Any + Send)) {
    if let Some(inner) = &span.inner {
        inner.record_panic(payload);
    }
}

/// An attribute value from any `Serialize` expression; data without a JSON form is kept as
/// an explanation rather than dropped.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    Value::from_serialize(value).unwrap_or_else(|e| Value::from(format!("<{e}>")))
}

/// An argument recorded by `#[traced(args)]`: through `Serialize`, strings cut as the
/// `genai` content limit cuts them.
pub fn captured<T: Serialize + ?Sized>(value: &T) -> Value {
    crate::value::truncate_value(to_value(value), crate::value::TEXT_LIMIT)
}

pub fn captured_args<const N: usize>(args: [(&'static str, Value); N]) -> Value {
    Value::Map(args.into_iter().collect())
}

pub fn record_output<T: Serialize + ?Sized>(span: &Span, key: &'static str, value: Option<&T>) {
    if let (Some(value), true) = (value, span.inner.is_some()) {
        span.add_attribute(key, to_value(value));
    }
}

fn record_err(span: &Span, type_name: &'static str, message: String) {
    if span.inner.is_some() {
        span.set_status(SpanStatus::Error)
            .add_attribute("exception.type", Value::from_static(type_name))
            .add_attribute("exception.message", message);
    }
}

// Outcome recording dispatches on the return type at the call site (autoref
// specialisation): `(&&Outcome(&ret)).__tracekit_record(span)` picks the first that applies
// of: a `Result` whose error is `Display`, a `Result` whose error is `Debug`, anything else.

pub struct Outcome<'a, T: ?Sized>(pub &'a T);

pub trait RecordErrDisplay {
    fn __tracekit_record(&self, span: &Span);
}

impl<T, E: Display> RecordErrDisplay for &Outcome<'_, Result<T, E>> {
    #[inline]
    fn __tracekit_record(&self, span: &Span) {
        if let Err(e) = self.0 {
            record_err(span, std::any::type_name::<E>(), e.to_string());
        }
    }
}

pub trait RecordErrDebug {
    fn __tracekit_record(&self, span: &Span);
}

impl<T, E: Debug> RecordErrDebug for &&Outcome<'_, Result<T, E>> {
    #[inline]
    fn __tracekit_record(&self, span: &Span) {
        if let Err(e) = self.0 {
            record_err(span, std::any::type_name::<E>(), format!("{e:?}"));
        }
    }
}

pub trait RecordNothing {
    fn __tracekit_record(&self, span: &Span);
}

impl<T: ?Sized> RecordNothing for Outcome<'_, T> {
    #[inline]
    fn __tracekit_record(&self, _: &Span) {}
}

// `output = "key"`: `(&OutputOf(&ret)).__tracekit_output()` is the `Ok` value of a `Result`,
// else the whole value.

pub struct OutputOf<'a, T: ?Sized>(pub &'a T);

pub trait OkOutput {
    type Output: ?Sized;
    fn __tracekit_output(&self) -> Option<&Self::Output>;
}

impl<T, E> OkOutput for OutputOf<'_, Result<T, E>> {
    type Output = T;
    #[inline]
    fn __tracekit_output(&self) -> Option<&T> {
        self.0.as_ref().ok()
    }
}

pub trait WholeOutput {
    type Output: ?Sized;
    fn __tracekit_output(&self) -> Option<&Self::Output>;
}

impl<T: ?Sized> WholeOutput for &OutputOf<'_, T> {
    type Output = T;
    #[inline]
    fn __tracekit_output(&self) -> Option<&T> {
        Some(self.0)
    }
}
