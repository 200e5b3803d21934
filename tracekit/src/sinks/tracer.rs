//! The [`Tracer`] constructors for the built-in sinks.

use std::io::Write;

use super::{HumanReadable, InMemory, Iterable, Redact, StructuredLogs, Tee, TraceStream};
use crate::{Trace, Tracer};

impl Tracer {
    /// Keeps finished spans in memory and reads back the last `memory_size` to end; for tests
    /// and for reading a conversation back. See [`InMemory`](crate::sinks::InMemory) for how
    /// threads share it.
    pub fn in_memory(memory_size: usize) -> Tracer {
        Tracer::new(InMemory::new(memory_size))
    }

    /// Prints each finished span in the reference's human-readable format: colours on a
    /// terminal unless `NO_COLOR` is set, values cut to the terminal width. See
    /// [`HumanReadable`](crate::sinks::HumanReadable) to configure it.
    pub fn human_readable<W: Write + Send + 'static>(writer: W) -> Tracer {
        Tracer::new(HumanReadable::new(writer))
    }

    /// Writes each finished span as one JSON line in the reference's shape. See
    /// [`StructuredLogs`](crate::sinks::StructuredLogs).
    pub fn structured_logs<W: Write + Send + 'static>(writer: W) -> Tracer {
        Tracer::new(StructuredLogs::new(writer))
    }

    /// Streams snapshots and finished spans, in order, to live consumers: the returned
    /// [`TraceStream`] is a blocking iterator and (with the `stream` feature) an async
    /// stream; [`TraceStream::subscribe`] adds consumers. It never blocks the traced code:
    /// items that do not fit a consumer's buffer are dropped and counted. See
    /// [`Iterable`](crate::sinks::Iterable) to size the buffer or ask for backpressure.
    ///
    /// ```
    /// let (tracer, mut stream) = tracekit::Tracer::iterable();
    /// {
    ///     let span = tracer.trace("llm-invocation");
    ///     span.add_attribute("ai.llm.response.output", "Hel").emit_snapshot();
    ///     span.add_attribute("ai.llm.response.output", "Hello");
    /// }
    /// let snapshot = stream.try_next().unwrap();
    /// assert!(snapshot.ended_at.is_none());
    /// assert_eq!(snapshot.attributes.get("ai.llm.response.output"), Some(&"Hel".into()));
    /// let done = stream.try_next().unwrap();
    /// assert_eq!(done.attributes.get("ai.llm.response.output"), Some(&"Hello".into()));
    /// ```
    pub fn iterable() -> (Tracer, TraceStream) {
        let sink = Iterable::new();
        let stream = sink.subscribe();
        (Tracer::new(sink), stream)
    }

    /// Runs `hook` on every span (and snapshot) before this tracer sees it: mask e-mail
    /// addresses and API keys ([`genai::mask_secrets`](crate::genai::mask_secrets)), drop
    /// attributes, shorten values. Wrap the outermost tracer (a tee, say) so that no store or
    /// exporter sees a span first. A hook that panics loses that span, counted as failed. See
    /// [`Redact`](crate::sinks::Redact).
    ///
    /// ```
    /// use tracekit::{genai, Tracer};
    /// let memory = Tracer::in_memory(10);
    /// let tracer = memory.clone().redacted(genai::mask_secrets);
    /// tracer.span("call").attribute("ai.user.input", "mail me at jo@example.com").start().end();
    /// let span = &memory.get_traces(&Default::default()).unwrap()[0];
    /// assert_eq!(span.attributes.get("ai.user.input"), Some(&"mail me at [email]".into()));
    /// ```
    pub fn redacted(self, hook: impl Fn(&mut Trace) + Send + Sync + 'static) -> Tracer {
        Tracer::new(Redact::new(self, hook))
    }

    /// Sends every span to each of `tracers` (in order; one failing does not stop the others)
    /// and reads back from the first. The tee has its own context: open spans on it, not on
    /// its members. See [`Tee`](crate::sinks::Tee).
    ///
    /// ```
    /// use tracekit::Tracer;
    /// let memory = Tracer::in_memory(100);
    /// let tee = Tracer::tee([memory.clone(), Tracer::structured_logs(std::io::sink())]);
    /// drop(tee.trace("x"));
    /// assert_eq!(memory.get_traces(&Default::default()).unwrap().len(), 1);
    /// assert_eq!(tee.get_traces(&Default::default()).unwrap().len(), 1);
    /// ```
    pub fn tee(tracers: impl IntoIterator<Item = Tracer>) -> Tracer {
        Tracer::new(Tee::new(tracers))
    }
}
