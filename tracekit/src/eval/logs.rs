//! Logs: data that is neither an attribute, an event of the pipeline nor a parameter.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::sync::lock;
use crate::{Error, Span, Timestamp, Value};

/// The event name of a log entry on a span.
pub const LOG_EVENT: &str = "log";

/// A named log kept apart from spans: a JSON-lines file, each line the time, the trace and
/// span it was written in, and the data (the SDK's `log(data, logger)`).
///
/// ```
/// use tracekit::eval::{EvalSpan, Logger};
/// # let dir = std::env::temp_dir().join(format!("tracekit-logger-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let logger = Logger::file(dir.join("debug.jsonl"))?;
/// let tracer = tracekit::Tracer::in_memory(1);
/// let span = tracer.trace("query");
/// span.log_to(&logger, "retrieved 0 chunks; falling back to web search");
/// let text = std::fs::read_to_string(dir.join("debug.jsonl")).unwrap();
/// assert!(text.contains("falling back"));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), tracekit::Error>(())
/// ```
#[derive(Debug)]
pub struct Logger {
    file: Mutex<std::fs::File>,
    failures: crate::FailureLog,
}

impl Logger {
    /// Appends to the file at `path` (created if missing).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the file cannot be opened (a missing directory, no permission).
    pub fn file(path: impl AsRef<Path>) -> Result<Logger, Error> {
        let path = path.as_ref();
        let file = open_append(path)?;
        Ok(Logger {
            file: Mutex::new(file),
            failures: crate::FailureLog::new(),
        })
    }

    /// Writes one entry; a write error is counted ([`failures`](Self::failures)), never
    /// raised into the traced code.
    pub(super) fn write(&self, span: &Span, data: Value) {
        let line = serde_json::json!({
            "time": Timestamp::now(),
            "trace_id": span.trace_id(),
            "span_id": span.span_id(),
            "data": data,
        });
        let mut file = lock(&self.file);
        if let Err(e) = writeln!(file, "{line}") {
            self.failures.record("logger", &e);
        }
    }

    /// Entries that could not be written.
    pub fn failures(&self) -> u64 {
        self.failures.count()
    }
}

/// Opens `path` for appending, creating it if missing: a log file, or JSON lines of spans.
pub(super) fn open_append(path: &Path) -> Result<std::fs::File, Error> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::Store {
            location: path.display().to_string(),
            problem: crate::StoreProblem::Backend(format!(
                "cannot open the file for appending: {e}"
            )),
        })
}

/// Bridges the `log` crate: each record becomes a [`LOG_EVENT`] event (`log.severity`,
/// `log.target`, `log.message`) on the innermost open span of the thread or task, whichever
/// tracer it belongs to; records outside any span are dropped. Install it once with
/// [`LogBridge::install`].
///
/// ```
/// tracekit::eval::LogBridge::install(log::LevelFilter::Info).unwrap();
/// let tracer = tracekit::Tracer::in_memory(1);
/// {
///     let _span = tracer.trace("query");
///     log::warn!("cache miss for {}", "q-1");
/// }
/// let span = &tracer.get_traces(&Default::default()).unwrap()[0];
/// assert_eq!(span.events[0].attributes.get("log.message"), Some(&"cache miss for q-1".into()));
/// ```
#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
#[derive(Debug)]
pub struct LogBridge {
    level: log::LevelFilter,
}

#[cfg(feature = "log")]
impl LogBridge {
    /// Makes the bridge the `log` crate's logger, for records at `level` and above.
    ///
    /// # Errors
    ///
    /// `log::SetLoggerError` if another logger is installed already.
    pub fn install(level: log::LevelFilter) -> Result<(), log::SetLoggerError> {
        log::set_boxed_logger(Box::new(LogBridge { level }))?;
        log::set_max_level(level);
        Ok(())
    }
}

#[cfg(feature = "log")]
impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if let Some(span) = crate::Tracer::current().try_current_trace() {
            span.add_event(
                LOG_EVENT,
                [
                    ("log.severity", Value::from(record.level().as_str())),
                    ("log.target", Value::from(record.target())),
                    ("log.message", Value::from(record.args().to_string())),
                ],
            );
        }
    }

    fn flush(&self) {}
}
