use std::io::Write;
use std::time::Instant;

use serde::Serialize;

use super::writer::LineWriter;
use crate::{Error, FinishedSpan, Sink, SinkStats, Trace};

/// Writes each finished span as one JSON line, in the reference's shape; from
/// [`Tracer::structured_logs`](crate::Tracer::structured_logs):
///
/// ```text
/// {"logger":"TraceLogger","level":"INFO","message":"Trace","trace":{"span_name":"child",...}}
/// ```
///
/// The `trace` object is [`Trace`]'s serde form. Non-ASCII text is written as UTF-8 (the
/// reference escapes it as `\uXXXX`; both are the same JSON). Write errors are counted in
/// [`Tracer::stats`](crate::Tracer::stats) and the first is printed on stderr.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// #[derive(Clone, Default)]
/// struct Buf(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Buf {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// let buf = Buf::default();
/// let tracer = tracekit::Tracer::structured_logs(buf.clone());
/// drop(tracer.trace("x"));
/// let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
/// let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
/// assert_eq!(line["trace"]["span_name"], "x");
/// ```
#[must_use = "a sink records nothing until it is given to `Tracer::new`"]
pub struct StructuredLogs {
    out: LineWriter,
}

impl std::fmt::Debug for StructuredLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StructuredLogs").finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct LogLine<'a> {
    logger: &'static str,
    level: &'static str,
    message: &'static str,
    trace: &'a Trace,
}

impl StructuredLogs {
    /// Writes to `writer`.
    pub fn new<W: Write + Send + 'static>(writer: W) -> Self {
        StructuredLogs {
            out: LineWriter::new(writer),
        }
    }
}

impl Sink for StructuredLogs {
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        self.persist(&span.to_trace());
    }

    fn persist(&self, trace: &Trace) {
        let line = LogLine {
            logger: "TraceLogger",
            level: "INFO",
            message: "Trace",
            trace,
        };
        match serde_json::to_vec(&line) {
            Ok(mut bytes) => {
                bytes.push(b'\n');
                self.out.write(self.name(), &bytes);
            }
            Err(e) => self.out.fail(self.name(), &e),
        }
    }

    fn flush(&self, _deadline: Instant) -> Result<(), Error> {
        self.out.flush(self.name())
    }

    fn stats(&self) -> SinkStats {
        self.out.stats()
    }

    fn name(&self) -> &'static str {
        "structured_logs"
    }
}
