//! Support for the code `#[traced]` generates. Not a public API: it changes without notice.
#![allow(missing_docs, unreachable_pub)]

use std::any::Any;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

pub use serde::Serialize;

use crate::instrument::Instrumented;
use crate::span::{Lifetime, SpanRef};
use crate::{
    AsTracer, Key, Scope, Span, SpanBuilder, SpanGuard, SpanKind, SpanStatus, Tracer, Value,
};

/// A span that is built but not yet current. Building it ends the borrow of the tracer, so
/// the body can take `self` by value or mutably. Its links are counted (it is built as
/// `Lifetime::Shared`), so it may wait, be sent, or be wrapped in a future.
pub struct Pending(Option<SpanRef>);

impl Pending {
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        self.0.is_some()
    }
}

pin_project_lite::pin_project! {
    /// A span (or what will make or hold it) of a `&self` method: it borrows the tracer
    /// from `self` for `'t` instead of holding a lease on it (see
    /// `SpanBuilder::borrowing_tracer`). `'t` ties everything that holds the span unpromoted
    /// to that borrow: the call (`call_in`) or the method's future (`instrument_in`).
    pub struct Scoped<'t, T> {
        #[pin]
        inner: T,
        _tracer: PhantomData<&'t Tracer>,
    }
}

impl<T> Scoped<'_, T> {
    fn new(inner: T) -> Self {
        Scoped {
            inner,
            _tracer: PhantomData,
        }
    }
}

impl Scoped<'_, Pending> {
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }
}

impl<'t> Scoped<'t, Option<SpanBuilder<'t>>> {
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        self.inner.is_some()
    }
}

impl<F: Future> Future for Scoped<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

#[inline]
pub fn begin(builder: Option<SpanBuilder<'_>>) -> Pending {
    Pending(builder.and_then(|b| b.build(Lifetime::Shared)))
}

/// `begin` for a `&self` method's future (see `Scoped`).
#[inline]
pub fn begin_in(builder: Option<SpanBuilder<'_>>) -> Scoped<'_, Pending> {
    Scoped::new(Pending(
        builder.and_then(|b| b.borrowing_tracer().build(Lifetime::Shared)),
    ))
}

/// For a sync `&self` method: the span is built by `call_in`, as it is entered, so it can
/// borrow its parent (see `LocalParent`) with nothing in between.
#[inline(always)]
pub fn defer_in(builder: Option<SpanBuilder<'_>>) -> Scoped<'_, Option<SpanBuilder<'_>>> {
    Scoped::new(builder.map(SpanBuilder::borrowing_tracer))
}

/// Gives a closure the `FnOnce` kind (so its body may return borrows of what it captured).
#[inline(always)]
pub fn once<R, F: FnOnce() -> R>(body: F) -> F {
    body
}

#[inline]
pub fn tracer<T: AsTracer + ?Sized>(tracer: &T) -> &Tracer {
    tracer.as_tracer()
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

#[inline(always)]
pub fn enabled(tracer: &Tracer) -> bool {
    tracer.is_enabled()
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

#[inline]
pub fn start(pending: Pending) -> SpanGuard {
    SpanGuard::enter(pending.0)
}

/// Runs a sync function's body inside its span: records the outcome, or a panic (then resumes
/// it).
#[inline(always)]
pub fn call<R>(pending: Pending, body: impl FnOnce() -> R, record: impl FnOnce(&Span, &R)) -> R {
    run(SpanGuard::enter(pending.0), body, record)
}

/// `call` for a `&self` method: the span starts here and ends before the call returns,
/// within `'t`.
#[inline(always)]
pub fn call_in<'t, R>(
    builder: Scoped<'t, Option<SpanBuilder<'t>>>,
    body: impl FnOnce() -> R,
    record: impl FnOnce(&Span, &R),
) -> R {
    let span = builder.inner.and_then(|b| b.build(Lifetime::Guard));
    run(SpanGuard::enter(span), body, record)
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

/// `T` is named first so generated code can write `instrument::<R, _, _>`: the async block
/// then knows its output type before its body is checked (`?` needs it).
#[inline]
pub fn instrument<T, F, C>(pending: Pending, future: F, on_output: C) -> Instrumented<F, C>
where
    F: Future<Output = T>,
    C: FnOnce(&Span, &T),
{
    Instrumented::new(pending.0, future, on_output)
}

/// `instrument` for a `&self` method: the span ends when the future completes or is dropped,
/// within `'t`.
#[inline]
pub fn instrument_in<T, F, C>(
    pending: Scoped<'_, Pending>,
    future: F,
    on_output: C,
) -> Scoped<'_, Instrumented<F, C>>
where
    F: Future<Output = T>,
    C: FnOnce(&Span, &T),
{
    Scoped::new(instrument(pending.inner, future, on_output))
}

/// Takes a started span off the current context without ending it (`#[traced(stream)]`), to
/// be kept by the value the function returns.
#[inline]
pub fn detach(guard: SpanGuard) -> Pending {
    let span = guard.detach();
    if let Some(span) = &span {
        span.promote();
    }
    Pending(span)
}

/// The span of `#[traced(stream)]` on an iterator.
#[inline]
pub fn iter<I: Iterator>(pending: Pending, iter: I) -> Instrumented<I> {
    Instrumented::new(pending.0, iter, ())
}

/// The span of `#[traced(stream)]` on a stream.
#[cfg(feature = "stream")]
#[inline]
pub fn stream<S: futures_core::Stream>(pending: Pending, stream: S) -> Instrumented<S> {
    Instrumented::new(pending.0, stream, ())
}

/// Without the `stream` feature a stream cannot be wrapped; say how to fix it.
#[cfg(not(feature = "stream"))]
pub fn stream<S: StreamFeatureNeeded>(_: Pending, stream: S) -> S {
    stream
}

#[cfg(not(feature = "stream"))]
#[diagnostic::on_unimplemented(
    message = "#[traced(stream)] on a stream needs tracekit's `stream` feature",
    note = "enable it in Cargo.toml: tracekit = {{ version = \"..\", features = [\"stream\"] }}"
)]
pub trait StreamFeatureNeeded {}

/// Names a future's output type before its body is checked (`?` needs it).
#[inline(always)]
pub fn typed_future<T, F: Future<Output = T>>(future: F) -> F {
    future
}

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
