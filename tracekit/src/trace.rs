//! The finished span record: [`Trace`] and its parts.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::{Attributes, Key, SpanId, Timestamp, TraceId};

/// What a span represents in a call graph (OpenTelemetry span kinds).
///
/// ```
/// use tracekit::SpanKind;
/// assert_eq!(SpanKind::Client.to_string(), "CLIENT");
/// assert_eq!("server".parse::<SpanKind>().unwrap(), SpanKind::Server);
/// assert!("sideways".parse::<SpanKind>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SpanKind {
    /// An operation inside the application (the default).
    #[default]
    Internal,
    /// Handling a request from outside, e.g. one conversation turn.
    Server,
    /// A call out to another service: an LLM, a tool, a database.
    Client,
    /// Enqueuing work for later processing.
    Producer,
    /// Processing work taken from a queue.
    Consumer,
}

impl SpanKind {
    /// The upper-case name (`"INTERNAL"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            SpanKind::Internal => "INTERNAL",
            SpanKind::Server => "SERVER",
            SpanKind::Client => "CLIENT",
            SpanKind::Producer => "PRODUCER",
            SpanKind::Consumer => "CONSUMER",
        }
    }
}

/// The outcome of a span.
///
/// ```
/// use tracekit::SpanStatus;
/// assert_eq!(SpanStatus::default(), SpanStatus::Unset);
/// assert_eq!(SpanStatus::Error.to_string(), "ERROR");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SpanStatus {
    /// No outcome recorded (the default; a normal return leaves it so).
    #[default]
    Unset,
    /// Marked successful by the application.
    Ok,
    /// Failed: a returned `Err`, a panic, or set by the application.
    Error,
}

impl SpanStatus {
    /// The upper-case name (`"UNSET"`, `"OK"`, `"ERROR"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SpanStatus::Unset => "UNSET",
            SpanStatus::Ok => "OK",
            SpanStatus::Error => "ERROR",
        }
    }
}

/// Why a string is not a span kind or status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {input:?}: expected one of {expected}")]
pub struct ParseEnumError {
    what: &'static str,
    input: String,
    expected: &'static str,
}

macro_rules! display_and_parse {
    ($ty:ty, $what:literal, [$($variant:ident),*]) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = ParseEnumError;
            /// Case-insensitive.
            fn from_str(s: &str) -> Result<Self, ParseEnumError> {
                $(
                    if s.eq_ignore_ascii_case(<$ty>::$variant.as_str()) {
                        return Ok(<$ty>::$variant);
                    }
                )*
                Err(ParseEnumError {
                    what: $what,
                    input: s.chars().take(64).collect(),
                    expected: concat!($(stringify!($variant), " "),*),
                })
            }
        }
    };
}
display_and_parse!(
    SpanKind,
    "span kind",
    [Internal, Server, Client, Producer, Consumer]
);
display_and_parse!(SpanStatus, "span status", [Unset, Ok, Error]);

/// The instrumenting library (OpenTelemetry instrumentation scope): name and version.
///
/// `#[traced]` uses the crate that contains the traced function; manual spans use
/// `tracekit@<version>` unless given one.
///
/// ```
/// let scope = tracekit::Scope::new("my-agent", "1.2.0");
/// assert_eq!(scope.to_string(), "my-agent@1.2.0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// Library name.
    pub name: Key,
    /// Library version.
    pub version: Key,
}

impl Scope {
    /// A scope with this name and version.
    pub fn new(name: impl Into<Key>, version: impl Into<Key>) -> Scope {
        Scope {
            name: name.into(),
            version: version.into(),
        }
    }
}

impl Default for Scope {
    /// `tracekit@<this crate's version>`.
    fn default() -> Scope {
        Scope::new("tracekit", env!("CARGO_PKG_VERSION"))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// Something that happened at a point in time during a span (a retry, a streamed chunk).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub name: Key,
    /// When.
    pub timestamp: Timestamp,
    /// Details.
    #[serde(default)]
    pub attributes: Attributes,
}

/// One span: finished, or an in-progress snapshot (`ended_at == None`).
///
/// Serialises exactly as the `trace` object of the reference's structured logs (field order,
/// upper-case kind and status, ISO 8601 UTC times, integer `duration_ms`); `events` and
/// `snapshot_at` are added only when present. Deserialising reads the same shape back.
///
/// ```
/// use tracekit::Tracer;
/// let tracer = Tracer::in_memory(10);
/// drop(tracer.trace("step"));
/// let spans = tracer.get_traces(&Default::default()).unwrap();
/// let json = serde_json::to_string(&spans[0]).unwrap();
/// assert!(json.starts_with(r#"{"span_name":"step","span_kind":"INTERNAL","trace_id":""#));
/// let back: tracekit::Trace = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, spans[0]);
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Trace {
    /// The span's name (a `#[traced]` function's name unless given).
    pub span_name: Key,
    /// Its kind.
    pub span_kind: SpanKind,
    /// The trace it belongs to (shared by every span of one request).
    pub trace_id: TraceId,
    /// Its own id.
    pub span_id: SpanId,
    /// The parent's id; `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended; `None` for a snapshot of an open span.
    pub ended_at: Option<Timestamp>,
    /// Inherited attributes first (root first, nearest ancestor wins), then its own.
    pub attributes: Attributes,
    /// Its outcome.
    pub span_status: SpanStatus,
    /// Attributes of the process/service (e.g. `service.name`), from the tracer.
    pub resource_attributes: Attributes,
    /// The instrumenting library.
    pub scope: Scope,
    /// Events in the order they were added.
    #[serde(default)]
    pub events: Vec<Event>,
    /// For a snapshot: when it was taken.
    #[serde(default)]
    pub snapshot_at: Option<Timestamp>,
}

impl Trace {
    /// How long the span took; `None` for a snapshot.
    pub fn duration(&self) -> Option<Duration> {
        Some(self.ended_at?.saturating_duration_since(self.started_at))
    }

    /// The duration in whole milliseconds (half to even), as the reference reports
    /// `duration_ms`; `None` for a snapshot.
    pub fn duration_ms(&self) -> Option<u64> {
        let nanos = self.duration()?.as_nanos();
        let (ms, rest) = (nanos / 1_000_000, nanos % 1_000_000);
        let round_up = rest > 500_000 || (rest == 500_000 && ms % 2 == 1);
        Some((ms + u128::from(round_up)) as u64)
    }

    /// Whether this is a snapshot of a span that was still open.
    pub fn is_snapshot(&self) -> bool {
        self.ended_at.is_none()
    }
}

impl Serialize for Trace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let extra = usize::from(!self.events.is_empty()) + usize::from(self.snapshot_at.is_some());
        let mut s = serializer.serialize_struct("Trace", 12 + extra)?;
        s.serialize_field("span_name", &self.span_name)?;
        s.serialize_field("span_kind", &self.span_kind)?;
        s.serialize_field("trace_id", &self.trace_id)?;
        s.serialize_field("span_id", &self.span_id)?;
        s.serialize_field("parent_span_id", &self.parent_span_id)?;
        s.serialize_field("started_at", &self.started_at)?;
        s.serialize_field("ended_at", &self.ended_at)?;
        s.serialize_field("duration_ms", &self.duration_ms())?;
        s.serialize_field("attributes", &self.attributes)?;
        s.serialize_field("span_status", &self.span_status)?;
        s.serialize_field("resource_attributes", &self.resource_attributes)?;
        s.serialize_field("scope", &self.scope)?;
        if !self.events.is_empty() {
            s.serialize_field("events", &self.events)?;
        }
        if let Some(at) = &self.snapshot_at {
            s.serialize_field("snapshot_at", at)?;
        }
        s.end()
    }
}
