//! Shared by the terminal tracers: whole lines to a writer, failures counted.

use std::any::Any;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::sync::lock;
use crate::{FailureLog, SinkStats};

/// Writes each span's text in one `write_all` under a lock, so lines from several threads
/// never interleave, and flushes so a crash loses nothing already ended.
pub(crate) struct LineWriter {
    out: Mutex<Box<dyn Write + Send>>,
    failures: FailureLog,
    /// Whether the writer is a terminal (known only for stdout, stderr and files).
    pub(crate) terminal: bool,
}

impl LineWriter {
    pub(crate) fn new<W: Write + Send + 'static>(writer: W) -> Self {
        LineWriter {
            terminal: is_terminal(&writer),
            out: Mutex::new(Box::new(writer)),
            failures: FailureLog::new(),
        }
    }

    pub(crate) fn write(&self, sink: &'static str, text: &[u8]) {
        let mut out = lock(&self.out);
        if let Err(e) = out.write_all(text).and_then(|()| out.flush()) {
            drop(out);
            self.failures.record(sink, &e);
        }
    }

    pub(crate) fn fail(&self, sink: &'static str, error: &dyn std::fmt::Display) {
        self.failures.record(sink, error);
    }

    pub(crate) fn flush(&self, sink: &'static str) -> Result<(), crate::Error> {
        lock(&self.out).flush().map_err(|e| crate::Error::Sink {
            sink,
            operation: "flush",
            message: e.to_string(),
        })
    }

    pub(crate) fn stats(&self) -> SinkStats {
        SinkStats {
            failures: self.failures.count(),
            ..SinkStats::default()
        }
    }
}

/// Whether `writer` is a terminal, for the writer types that can tell.
fn is_terminal<W: Write + 'static>(writer: &W) -> bool {
    let any = writer as &dyn Any;
    if let Some(w) = any.downcast_ref::<std::io::Stdout>() {
        w.is_terminal()
    } else if let Some(w) = any.downcast_ref::<std::io::Stderr>() {
        w.is_terminal()
    } else if let Some(w) = any.downcast_ref::<std::fs::File>() {
        w.is_terminal()
    } else {
        false
    }
}
