//! The built-in backends. Each is a [`Sink`](crate::Sink); the `Tracer` constructors
//! (`Tracer::in_memory`, `Tracer::human_readable`, ...) wrap them with defaults, and
//! [`Tracer::new`](crate::Tracer::new) takes a configured one:
//!
//! ```
//! use tracekit::sinks::{ColorChoice, HumanReadable};
//! let tracer = tracekit::Tracer::new(
//!     HumanReadable::new(std::io::stderr()).color(ColorChoice::Never).max_lines(2),
//! );
//! # drop(tracer);
//! ```

mod background;
mod human_readable;
mod in_memory;
mod iterable;
mod redact;
mod structured_logs;
mod tee;
mod tracer;
mod writer;

pub use crate::format::ColorChoice;
pub use background::Background;
#[allow(deprecated)]
pub use background::BackgroundConfig;
pub use human_readable::HumanReadable;
pub use in_memory::InMemory;
pub use iterable::{Iterable, Overflow, TraceStream};
pub use redact::{Redact, RedactFn};
pub use structured_logs::StructuredLogs;
pub use tee::Tee;
