//! [`Redact`]: a hook that rewrites every span before the tracer behind it sees it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::error::panic_message;
use crate::query::{Page, Query, TraceHead, Watermark};
use crate::{Error, FailureLog, FinishedSpan, Sink, SinkStats, Trace, TraceFilter, Tracer};

/// The hook's type: it may change anything in the span (mask values, drop attributes).
pub type RedactFn = dyn Fn(&mut Trace) + Send + Sync + 'static;

/// Runs a hook on every finished span and snapshot, then hands the result to the tracer it
/// wraps; from [`Tracer::redacted`].
///
/// A hook that panics loses that span (it is counted as failed): a span the hook could not
/// clean never reaches a tracer.
#[must_use = "a sink records nothing until it is given to `Tracer::new`"]
pub struct Redact {
    inner: Tracer,
    hook: Box<RedactFn>,
    failures: FailureLog,
}

impl std::fmt::Debug for Redact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redact")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Redact {
    /// Wraps `inner` with `hook`.
    pub fn new(inner: Tracer, hook: impl Fn(&mut Trace) + Send + Sync + 'static) -> Self {
        Redact {
            inner,
            hook: Box::new(hook),
            failures: FailureLog::new(),
        }
    }

    fn cleaned(&self, mut trace: Trace) -> Option<Trace> {
        match catch_unwind(AssertUnwindSafe(|| (self.hook)(&mut trace))) {
            Ok(()) => Some(trace),
            Err(payload) => {
                self.failures.record(
                    "redact",
                    &format_args!(
                        "the redaction hook panicked, its span is dropped: {}",
                        panic_message(&*payload)
                    ),
                );
                None
            }
        }
    }
}

impl Sink for Redact {
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        if let Some(trace) = self.cleaned(span.to_trace()) {
            if let Some(span) = FinishedSpan::from_trace(&trace) {
                self.inner.forward(&span);
            }
        }
    }

    fn persist_snapshot(&self, snapshot: &Trace) {
        if let Some(trace) = self.cleaned(snapshot.clone()) {
            self.inner.forward_snapshot(&trace);
        }
    }

    fn snapshot_enabled(&self) -> bool {
        self.inner.takes_snapshots()
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        self.inner.get_traces(filter)
    }

    fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
        self.inner.list_traces(query)
    }

    fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
        self.inner.new_spans(mark)
    }

    fn flush(&self, deadline: Instant) -> Result<(), Error> {
        self.inner.flush_until(deadline)
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        self.inner.shutdown_until(deadline)
    }

    fn stats(&self) -> SinkStats {
        let inner = SinkStats::from(self.inner.stats());
        SinkStats {
            failures: inner.failures + self.failures.count(),
            ..inner
        }
    }

    fn name(&self) -> &'static str {
        "redact"
    }
}
