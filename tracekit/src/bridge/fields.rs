//! `tracing` field values into tracekit attributes, with the fields OpenTelemetry's bridges
//! give a meaning (`otel.name`, `otel.kind`, `otel.status_code`, `error`) and the `gen_ai.*`
//! ones noted for completion.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use tracing::field::{Field, Visit};

use super::tracing_layer::Settings;
use crate::genai::complete::{Call, Observed};
use crate::{Key, SpanKind, SpanStatus, Value};

/// What one `record` (a span's creation, a later `Span::record`, an event) carried.
pub(super) struct Fields<'a> {
    settings: &'a Settings,
    call: Option<&'a mut Call>,
    pub(super) attributes: Vec<(Key, Value)>,
    /// `otel.name`: the span's name instead of its `tracing` name.
    pub(super) name: Option<String>,
    pub(super) kind: Option<SpanKind>,
    pub(super) status: Option<SpanStatus>,
    /// An event's `message`.
    pub(super) message: Option<String>,
    /// Values that could not be turned into text (a `Debug` or `Display` impl panicked).
    pub(super) unrepresentable: u64,
}

impl<'a> Fields<'a> {
    /// Fields of a span (noting `gen_ai.*` ones in `call`) or, without a call, of an event.
    pub(super) fn new(settings: &'a Settings, call: Option<&'a mut Call>) -> Self {
        Fields {
            settings,
            call,
            attributes: Vec::new(),
            name: None,
            kind: None,
            status: None,
            message: None,
            unrepresentable: 0,
        }
    }

    fn put(&mut self, field: &Field, value: Value) {
        let mut name: &'static str = field.name();
        match name {
            "message" if self.call.is_none() => {
                self.message = Some(value.to_text());
                return;
            }
            "otel.name" => {
                self.name = Some(value.to_text());
                return;
            }
            "otel.kind" => {
                self.kind = value.to_text().parse().ok();
                return;
            }
            "otel.status_code" => {
                self.status = value.to_text().parse().ok();
                return;
            }
            "error" => self.status = Some(SpanStatus::Error),
            _ => {}
        }
        if let Some(call) = self.call.as_deref_mut() {
            match call.observe(&self.settings.genai, name, &value) {
                Observed::Store(current) => name = current,
                Observed::Omit => return,
            }
        }
        let key = match &self.settings.rename {
            Some(rename) => match rename(name) {
                Some(key) => key,
                None => return,
            },
            None => Key::Borrowed(name),
        };
        self.attributes.push((key, value));
    }

    /// `value` as text, or a placeholder (counted) when formatting it panics.
    fn formatted(&mut self, format: impl FnOnce() -> String) -> Value {
        match catch_unwind(AssertUnwindSafe(format)) {
            Ok(text) => Value::from(text),
            Err(_) => {
                self.unrepresentable += 1;
                Value::from("<unrepresentable: its formatting panicked>")
            }
        }
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    /// Beyond 64 bits, as text: JSON readers lose precision past 2^53, and stores past 2^64.
    fn record_i128(&mut self, field: &Field, value: i128) {
        let v = i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::from);
        self.put(field, v);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let v = u64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::from);
        self.put(field, v);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        self.put(field, Value::from(hex));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let text = self.formatted(|| value.to_string());
        if field.name() == "error" {
            self.attributes
                .push((Key::Borrowed("exception.message"), text.clone()));
        }
        self.put(field, text);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = self.formatted(|| format!("{value:?}"));
        self.put(field, text);
    }
}
