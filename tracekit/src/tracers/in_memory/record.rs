//! The in-memory store's record format: a finished span packed into bytes.
//!
//! A `Trace` is 224 bytes before its attributes, and each attribute 56 more; packed, a span
//! with two short attributes takes about 80. Packing copies the span once, with no
//! allocation, straight into one of the store's chunks; reading unpacks it into a `Trace`.
//!
//! Layout (little-endian; `varint` is LEB128; a string is a varint length and UTF-8 bytes):
//!
//! ```text
//! u32 record length (all of it)    i64 ended_at      u128 trace_id    u64 span_id
//! u64 parent span id (0 = none)    i64 started_at    u8 kind          u8 status
//! varint resource index            varint scope index                 string name
//! varint count, then (string key, value) per attribute
//! varint count, then (string name, i64 timestamp, attributes as above) per event
//! value: u8 tag (see `Tag`), then the payload: i64/u64/f64, a string, or a varint count
//!        of values (array) or of (string key, value) pairs (map)
//! ```
//!
//! Resources and scopes are kept once per store stripe and referred to by index.

use std::sync::Arc;

use crate::{
    Attributes, Event, FinishedSpan, Key, Map, Scope, SpanId, SpanKind, SpanStatus, Text,
    Timestamp, Trace, TraceId, Value,
};

/// Value tags.
#[repr(u8)]
enum Tag {
    Null,
    False,
    True,
    Int,
    UInt,
    Float,
    String,
    Array,
    Map,
}

/// What records refer to by index.
#[derive(Clone, Default)]
pub(super) struct Tables {
    resources: Vec<Arc<Attributes>>,
    /// The tracer's resource version that `resources.last()` holds.
    resource_version: Option<u64>,
    scopes: Vec<Scope>,
}

impl Tables {
    /// The indexes of the span's resource and scope, added to the tables if new.
    pub(super) fn indexes(&mut self, span: &FinishedSpan<'_>) -> (usize, usize) {
        (self.resource_index(span), self.scope_index(span.scope()))
    }

    fn resource_index(&mut self, span: &FinishedSpan<'_>) -> usize {
        let version = span.resource_version();
        if version.is_none() || version != self.resource_version || self.resources.is_empty() {
            let current = span.resource_attributes();
            if self.resources.last() != Some(&current) {
                self.resources.push(current);
            }
            self.resource_version = version;
        }
        self.resources.len() - 1
    }

    fn scope_index(&mut self, scope: &Scope) -> usize {
        // Scopes are one per instrumented crate: a short list, and the same `&'static str`s
        // each time, so comparing addresses first usually settles it.
        let same = |a: &str, b: &str| std::ptr::eq(a, b) || a == b;
        match self
            .scopes
            .iter()
            .rposition(|s| same(&s.name, &scope.name) && same(&s.version, &scope.version))
        {
            Some(i) => i,
            None => {
                self.scopes.push(scope.clone());
                self.scopes.len() - 1
            }
        }
    }
}

/// Bytes before the name: length, times, ids, kind and status.
const FIXED: usize = 4 + 8 + 16 + 8 + 8 + 8 + 2;

/// Appends the record of `span` to `out`.
pub(super) fn encode(
    span: &FinishedSpan<'_>,
    (resource, scope): (usize, usize),
    out: &mut Vec<u8>,
) {
    let start = out.len();
    let mut fixed = [0u8; FIXED];
    let parent = span.parent_span_id.map_or(0, SpanId::to_int);
    fixed[4..12].copy_from_slice(&span.ended_at.unix_nanos().to_le_bytes());
    fixed[12..28].copy_from_slice(&span.trace_id.to_int().to_le_bytes());
    fixed[28..36].copy_from_slice(&span.span_id.to_int().to_le_bytes());
    fixed[36..44].copy_from_slice(&parent.to_le_bytes());
    fixed[44..52].copy_from_slice(&span.started_at.unix_nanos().to_le_bytes());
    fixed[52] = span.kind as u8;
    fixed[53] = span.status as u8;
    out.extend_from_slice(&fixed);
    varint(out, resource);
    varint(out, scope);
    string(out, span.name);
    let [first, second] = span.attributes;
    varint(out, first.len() + second.len());
    for (key, value) in first.iter().chain(second) {
        string(out, key);
        encode_value(out, value);
    }
    varint(out, span.events.len());
    for event in span.events {
        string(out, &event.name);
        out.extend_from_slice(&event.timestamp.unix_nanos().to_le_bytes());
        attributes(out, event.attributes.iter());
    }
    let len = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// The length of the record at the start of `bytes`.
pub(super) fn record_len(bytes: &[u8]) -> usize {
    u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize
}

/// When the record ended, read without unpacking it.
pub(super) fn ended_at(record: &[u8]) -> i64 {
    i64::from_le_bytes(record[4..12].try_into().expect("8 bytes"))
}

/// The record's trace id, read without unpacking it.
pub(super) fn trace_id(record: &[u8]) -> u128 {
    u128::from_le_bytes(record[12..28].try_into().expect("16 bytes"))
}

/// Unpacks a record; `None` only if the bytes are not a record this module wrote.
pub(super) fn decode(record: &[u8], tables: &Tables) -> Option<Trace> {
    let mut r = Reader(record.get(4..)?);
    let ended_at = Timestamp::from_unix_nanos(r.i64()?);
    let trace_id = TraceId::from_int(u128::from_le_bytes(r.array()?))?;
    let span_id = SpanId::from_int(u64::from_le_bytes(r.array()?))?;
    let parent_span_id = SpanId::from_int(u64::from_le_bytes(r.array()?));
    let started_at = Timestamp::from_unix_nanos(r.i64()?);
    let span_kind = kind(r.u8()?)?;
    let span_status = status(r.u8()?)?;
    let resource_attributes = Attributes::clone(tables.resources.get(r.varint()?)?);
    let scope = tables.scopes.get(r.varint()?)?.clone();
    let span_name = Key::Owned(r.str()?.to_owned());
    let attributes = r.attributes()?;
    let events = (0..r.varint()?)
        .map(|_| {
            Some(Event {
                name: Key::Owned(r.str()?.to_owned()),
                timestamp: Timestamp::from_unix_nanos(r.i64()?),
                attributes: r.attributes()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Trace {
        span_name,
        span_kind,
        trace_id,
        span_id,
        parent_span_id,
        started_at,
        ended_at: Some(ended_at),
        attributes,
        span_status,
        resource_attributes,
        scope,
        events,
        snapshot_at: None,
    })
}

fn kind(byte: u8) -> Option<SpanKind> {
    [
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ]
    .into_iter()
    .find(|k| *k as u8 == byte)
}

fn status(byte: u8) -> Option<SpanStatus> {
    [SpanStatus::Unset, SpanStatus::Ok, SpanStatus::Error]
        .into_iter()
        .find(|s| *s as u8 == byte)
}

fn varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn attributes<'a>(out: &mut Vec<u8>, entries: impl ExactSizeIterator<Item = (&'a str, &'a Value)>) {
    varint(out, entries.len());
    for (key, value) in entries {
        string(out, key);
        encode_value(out, value);
    }
}

fn encode_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(Tag::Null as u8),
        Value::Bool(false) => out.push(Tag::False as u8),
        Value::Bool(true) => out.push(Tag::True as u8),
        Value::Int(n) => {
            out.push(Tag::Int as u8);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Value::UInt(n) => {
            out.push(Tag::UInt as u8);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(Tag::Float as u8);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => {
            out.push(Tag::String as u8);
            string(out, s);
        }
        Value::Array(items) => {
            out.push(Tag::Array as u8);
            varint(out, items.len());
            items.iter().for_each(|v| encode_value(out, v));
        }
        Value::Map(map) => {
            out.push(Tag::Map as u8);
            attributes(out, map.iter());
        }
    }
}

/// Reads a record front to back; every method returns `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.array()?))
    }

    fn varint(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in (0..usize::BITS).step_by(7) {
            let byte = self.u8()?;
            n |= usize::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.varint()?;
        std::str::from_utf8(self.bytes(len)?).ok()
    }

    fn attributes(&mut self) -> Option<Attributes> {
        (0..self.varint()?)
            .map(|_| Some((self.str()?.to_owned(), self.value()?)))
            .collect()
    }

    fn value(&mut self) -> Option<Value> {
        Some(match self.u8()? {
            t if t == Tag::Null as u8 => Value::Null,
            t if t == Tag::False as u8 => Value::Bool(false),
            t if t == Tag::True as u8 => Value::Bool(true),
            t if t == Tag::Int as u8 => Value::Int(self.i64()?),
            t if t == Tag::UInt as u8 => Value::UInt(u64::from_le_bytes(self.array()?)),
            t if t == Tag::Float as u8 => Value::Float(f64::from_le_bytes(self.array()?)),
            t if t == Tag::String as u8 => Value::String(Text::from(self.str()?)),
            t if t == Tag::Array as u8 => Value::Array(
                (0..self.varint()?)
                    .map(|_| self.value())
                    .collect::<Option<_>>()?,
            ),
            t if t == Tag::Map as u8 => Value::Map(
                (0..self.varint()?)
                    .map(|_| Some((self.str()?, self.value()?)))
                    .collect::<Option<Map>>()?,
            ),
            _ => return None,
        })
    }
}
