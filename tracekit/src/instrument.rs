//! [`Instrumented`]: a future that owns a span.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::context::Entered;
use crate::span::{finish, SpanInner};
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

/// A future whose span is current whenever it is polled, on whichever thread polls it; from
/// [`SpanBuilder::instrument`](crate::SpanBuilder::instrument).
///
/// The span ends when the future completes; if the future panics, with status `Error` and the
/// panic message (the panic then continues); if it is dropped before completing, with the
/// attribute `cancelled = true`. It is `Send` whenever the wrapped future is.
pub struct Instrumented<F, C = ()> {
    // Structurally pinned: never moved out; dropped in place in `Drop` (inside the span, so
    // spans of half-finished children end before this one).
    inner: ManuallyDrop<F>,
    span: Option<Arc<SpanInner>>,
    on_output: Option<C>,
}

impl<F, C> Instrumented<F, C> {
    pub(crate) fn new(span: Option<Arc<SpanInner>>, inner: F, on_output: C) -> Self {
        Instrumented {
            inner: ManuallyDrop::new(inner),
            span,
            on_output: Some(on_output),
        }
    }
}

impl<F: Future, C: OnOutput<F::Output>> Future for Instrumented<F, C> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is never moved out of `self` (see the field comment), so pinning
        // projects to it; `span` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let inner = unsafe { Pin::new_unchecked(&mut *this.inner) };
        let Some(span) = this.span.as_ref() else {
            return inner.poll(cx);
        };
        let polled = {
            let _entered = Entered::new(span);
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                let span = Span {
                    inner: this.span.take(),
                };
                if let (Some(hook), true) = (this.on_output.take(), span.inner.is_some()) {
                    hook.on_output(&span, &output);
                }
                if let Some(inner) = span.inner {
                    finish(inner);
                }
                Poll::Ready(output)
            }
            Err(payload) => {
                if let Some(span) = this.span.take() {
                    span.record_panic(&*payload);
                    finish(span);
                }
                resume_unwind(payload)
            }
        }
    }
}

impl<F, C> Drop for Instrumented<F, C> {
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

impl<F, C> std::fmt::Debug for Instrumented<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("open", &self.span.is_some())
            .finish()
    }
}
