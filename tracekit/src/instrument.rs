//! [`Instrumented`]: a future, stream or iterator that owns a span.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::context::Entered;
use crate::span::{finish, SpanRef};
use crate::Span;

/// Runs when an instrumented future completes, before its span ends; `#[traced]` uses it to
/// record a returned `Err` or an output. `()` does nothing.
#[doc(hidden)]
pub trait OnOutput<T> {
    /// Called once with the span and the output.
    fn on_output(self, span: &Span, output: &T);
}

impl<T> OnOutput<T> for () {
    #[inline]
    fn on_output(self, _: &Span, _: &T) {}
}

impl<T, C: FnOnce(&Span, &T)> OnOutput<T> for C {
    #[inline]
    fn on_output(self, span: &Span, output: &T) {
        self(span, output)
    }
}

/// A future, stream or iterator that carries a span: the span is current whenever it is
/// polled (or `next` is called), on whichever thread, and ends when it completes (the
/// future's output, the stream's or iterator's last item). From
/// [`SpanBuilder::instrument`](crate::SpanBuilder::instrument),
/// [`instrument_iter`](crate::SpanBuilder::instrument_iter) and, with the `stream` feature,
#[cfg_attr(
    feature = "stream",
    doc = "[`instrument_stream`](crate::SpanBuilder::instrument_stream)."
)]
#[cfg_attr(not(feature = "stream"), doc = "`instrument_stream`.")]
///
/// If it panics, the span ends with status `Error` and the panic message (the panic then
/// continues); if it is dropped before completing, the span ends with the attribute
/// `cancelled = true`, after the spans of anything the inner value still held. It is `Send`
/// whenever the wrapped value is.
pub struct Instrumented<T, C = ()> {
    // Structurally pinned (for futures and streams): never moved out; dropped in place in
    // `Drop`, inside the span, so spans of half-finished children end before this one.
    inner: ManuallyDrop<T>,
    span: Option<SpanRef>,
    on_output: Option<C>,
}

impl<T, C> Instrumented<T, C> {
    pub(crate) fn new(span: Option<SpanRef>, inner: T, on_output: C) -> Self {
        Instrumented {
            inner: ManuallyDrop::new(inner),
            span,
            on_output: Some(on_output),
        }
    }

    /// Runs one step of the inner value with the span current. `done` says whether the step
    /// completed it; then `on_done` runs and the span ends. A panic is recorded, ends the span
    /// and continues.
    fn step<R>(
        inner: &mut T,
        span: &mut Option<SpanRef>,
        f: impl FnOnce(&mut T) -> R,
        done: impl FnOnce(&R) -> bool,
        on_done: impl FnOnce(&Span, &R),
    ) -> R {
        let Some(open) = span.as_ref() else {
            return f(inner);
        };
        let stepped = {
            let _entered = Entered::new(open);
            catch_unwind(AssertUnwindSafe(|| f(inner)))
        };
        match stepped {
            Ok(result) => {
                if done(&result) {
                    let ended = Span { inner: span.take() };
                    on_done(&ended, &result);
                    if let Some(open) = ended.inner {
                        finish(open);
                    }
                }
                result
            }
            Err(payload) => {
                if let Some(open) = span.take() {
                    open.record_panic(&*payload);
                    finish(open);
                }
                resume_unwind(payload)
            }
        }
    }
}

impl<F: Future, C: OnOutput<F::Output>> Future for Instrumented<F, C> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is never moved out of `self` (see the field comment), so pinning
        // projects to it; `span` and `on_output` are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let on_output = &mut this.on_output;
        Self::step(
            &mut this.inner,
            &mut this.span,
            |inner| unsafe { Pin::new_unchecked(inner) }.poll(cx),
            Poll::is_ready,
            |span, polled| {
                if let (Poll::Ready(output), Some(hook)) = (polled, on_output.take()) {
                    hook.on_output(span, output);
                }
            },
        )
    }
}

#[cfg(feature = "stream")]
impl<S: futures_core::Stream> futures_core::Stream for Instrumented<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        // SAFETY: as in `Future::poll`.
        let this = unsafe { self.get_unchecked_mut() };
        Self::step(
            &mut this.inner,
            &mut this.span,
            |inner| unsafe { Pin::new_unchecked(inner) }.poll_next(cx),
            |polled| matches!(polled, Poll::Ready(None)),
            |_, _| {},
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<I: Iterator> Iterator for Instrumented<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        Self::step(
            &mut self.inner,
            &mut self.span,
            |inner| inner.next(),
            Option::is_none,
            |_, _| {},
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T, C> Drop for Instrumented<T, C> {
    fn drop(&mut self) {
        let span = self.span.take();
        {
            let _entered = span.as_ref().map(Entered::new);
            // SAFETY: dropped exactly once, here, in place; never used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        }
        if let Some(span) = span {
            span.record_cancelled();
            finish(span);
        }
    }
}

impl<T, C> std::fmt::Debug for Instrumented<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("open", &self.span.is_some())
            .finish()
    }
}
