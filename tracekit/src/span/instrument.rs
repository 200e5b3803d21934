//! [`Instrumented`]: a future, stream or iterator that owns a span.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::span::context::with_entered;
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

pin_project_lite::pin_project! {
    /// A future, stream or iterator that carries a span: the span is current whenever it is
    /// polled (or `next` is called), on whichever thread, and ends when it completes (the
    /// future's output, the stream's or iterator's last item). From
    /// [`SpanBuilder::instrument`](crate::SpanBuilder::instrument),
    /// [`instrument_iter`](crate::SpanBuilder::instrument_iter) and, with the `stream`
    /// feature, `instrument_stream`.
    ///
    /// If it panics, the span ends with status `Error` and the panic message (the panic then
    /// continues); if it is dropped before completing, the span ends with the attribute
    /// `cancelled = true`, after the spans of anything the inner value still held. It is
    /// `Send` whenever the wrapped value is.
    #[must_use = "an instrumented future or stream does nothing unless polled, and an \
                  iterator unless iterated; dropped now, its span ends as `cancelled`"]
    pub struct Instrumented<T, C = ()> {
        // `None` only once dropped: `PinnedDrop` drops the value in place, inside the span,
        // so the spans of half-finished children end before this one.
        #[pin]
        inner: Option<T>,
        span: Option<SpanRef>,
        on_output: Option<C>,
    }

    impl<T, C> PinnedDrop for Instrumented<T, C> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let span = this.span.take();
            match &span {
                Some(open) => with_entered(std::slice::from_ref(open), || this.inner.set(None)),
                None => this.inner.set(None),
            }
            if let Some(span) = span {
                span.record_cancelled();
                finish(span);
            }
        }
    }
}

impl<T, C> Instrumented<T, C> {
    pub(crate) fn new(span: Option<SpanRef>, inner: T, on_output: C) -> Self {
        Instrumented {
            inner: Some(inner),
            span,
            on_output: Some(on_output),
        }
    }

    /// Runs one step of the inner value with the span current. `done` says whether the step
    /// completed it; then `on_done` runs and the span ends. A panic is recorded, ends the span
    /// and continues.
    fn step<I, R>(
        inner: I,
        span: &mut Option<SpanRef>,
        f: impl FnOnce(I) -> R,
        done: impl FnOnce(&R) -> bool,
        on_done: impl FnOnce(&Span, &R),
    ) -> R {
        let Some(open) = span.as_ref() else {
            return f(inner);
        };
        let stepped = with_entered(std::slice::from_ref(open), || {
            catch_unwind(AssertUnwindSafe(|| f(inner)))
        });
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

/// The inner value: present until the wrapper is dropped, and nothing is polled after that.
fn present<T>(inner: Option<T>) -> T {
    match inner {
        Some(inner) => inner,
        None => unreachable!("an Instrumented value is used only before it is dropped"),
    }
}

impl<F: Future, C: OnOutput<F::Output>> Future for Instrumented<F, C> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let on_output = this.on_output;
        Self::step(
            present(this.inner.as_pin_mut()),
            this.span,
            |inner| inner.poll(cx),
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
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
impl<S: futures_core::Stream> futures_core::Stream for Instrumented<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        Self::step(
            present(this.inner.as_pin_mut()),
            this.span,
            |inner| inner.poll_next(cx),
            |polled| matches!(polled, Poll::Ready(None)),
            |_, _| {},
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.as_ref().map_or((0, Some(0)), S::size_hint)
    }
}

impl<I: Iterator> Iterator for Instrumented<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        Self::step(
            present(self.inner.as_mut()),
            &mut self.span,
            I::next,
            Option::is_none,
            |_, _| {},
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.as_ref().map_or((0, Some(0)), I::size_hint)
    }
}

impl<T, C> std::fmt::Debug for Instrumented<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("open", &self.span.is_some())
            .finish()
    }
}
