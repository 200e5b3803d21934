//! The [`Tracer`] calls that start spans or find the current one: they belong with the spans
//! (the tracer itself, below, only delivers finished spans to its sink).

use super::context;
use super::{SpanBuilder, SpanGuard, SpanInner};
use crate::{Key, Span, Tracer};

impl Tracer {
    /// Starts a span named `name` under the current span and makes it current until the
    /// guard drops. Short for `tracer.span(name).start()`.
    #[inline]
    pub fn trace(&self, name: impl Into<Key>) -> SpanGuard {
        self.span(name).start()
    }

    /// Configures a span to start: kind, parent, attributes, then `.start()` or
    /// `.instrument(future)`.
    #[inline]
    pub fn span(&self, name: impl Into<Key>) -> SpanBuilder<'_> {
        SpanBuilder::new(self, name.into())
    }

    /// The innermost open span of this tracer in the current thread or task, or a no-op
    /// handle outside any span.
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// tracer.current_trace().add_attribute("ignored", true); // no span: a no-op
    /// let _span = tracer.trace("x");
    /// assert_eq!(tracer.current_trace().span_name(), Some("x"));
    /// ```
    pub fn current_trace(&self) -> Span {
        self.try_current_trace().unwrap_or_default()
    }

    /// The innermost open span of this tracer, if any.
    pub fn try_current_trace(&self) -> Option<Span> {
        let inner = self.inner.as_ref()?;
        context::current(inner).map(|span| Span { inner: Some(span) })
    }

    /// A handle to the tracer of `span`, for spans below it (which keep the tracer alive).
    pub(crate) fn of_span(span: &SpanInner) -> Tracer {
        Tracer {
            inner: Some(span.tracer_arc()),
            leases: None,
        }
    }

    /// The tracer of the innermost open span on this thread or task, whichever tracer it
    /// belongs to; a no-op tracer outside any span. For code that does not know its tracer
    /// (`#[traced(tracer = current)]` uses it).
    ///
    /// ```
    /// use tracekit::Tracer;
    /// let tracer = Tracer::in_memory(10);
    /// assert!(!Tracer::current().is_enabled());
    /// let _span = tracer.trace("outer");
    /// drop(Tracer::current().trace("inner"));
    /// assert_eq!(tracer.get_traces(&Default::default()).unwrap()[0].span_name, "inner");
    /// ```
    pub fn current() -> Tracer {
        Tracer {
            inner: context::innermost_tracer(),
            leases: None,
        }
    }
}
