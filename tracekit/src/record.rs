//! A finished span packed into bytes: the in-memory store's records and the stores' queue.
//!
//! A `Trace` is 224 bytes before its attributes, and each attribute 56 more; packed, a span
//! with two short attributes takes about 60. Packing copies the span once, with no
//! allocation, straight into one of the store's chunks; reading unpacks it into a `Trace`.
//!
//! Layout (little-endian; `varint` is LEB128; a string is a varint length and UTF-8 bytes):
//!
//! ```text
//! u16 record length (all of it); 0xFFFF: a u32 length follows (records of 64 KiB and more)
//! u8 kind (bits 0-2), status (bits 3-4), has a parent (bit 5), long duration (bit 6), the
//!    parent is in another process (bit 7)
//! u128 trace_id    u64 span_id    u64 parent span id (only with a parent)
//! i64 started_at   duration (ended_at - started_at): u32 nanoseconds, or i64 if the
//!                  flags' bit 6 is set (4.3 s and longer, or an end before the start)
//! varint resource index            varint scope index                 string name
//! varint count, then (string key, value) per attribute
//! varint count, then (string name, i64 timestamp, attributes as above) per event
//! value: u8 tag (see `Tag`), then the payload: i64/u64/f64, a string, or a varint count
//!        of values (array) or of (string key, value) pairs (map)
//! ```
//!
//! Resources and scopes are kept once per lane (`collect.rs`) and referred to by index. Most of a
//! span's bytes are its ids and start time; the end is a 4-byte duration, and a root has no
//! parent bytes, so a store that grows touches fewer new pages per span.

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
pub(crate) struct Tables {
    resources: Vec<Arc<Attributes>>,
    /// The tracer's resource version that `resources.last()` holds.
    resource_version: Option<u64>,
    scopes: Vec<Scope>,
    /// The index `scope_index` found last.
    last_scope: Option<usize>,
}

impl Tables {
    /// Entries held: it changes whenever an entry is added.
    pub(crate) fn len(&self) -> usize {
        self.resources.len() + self.scopes.len()
    }

    /// The indexes of the span's resource and scope, added to the tables if new.
    #[inline]
    pub(crate) fn indexes(&mut self, span: &FinishedSpan<'_>) -> (usize, usize) {
        (self.resource_index(span), self.scope_index(span.scope()))
    }

    #[inline]
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

    #[inline]
    fn scope_index(&mut self, scope: &Scope) -> usize {
        // Scopes are one per instrumented crate: a short list, and the same `&'static str`s
        // each time, so comparing addresses first usually settles it, and the last one used
        // is checked first.
        let same = |a: &str, b: &str| std::ptr::eq(a, b) || a == b;
        let is = |s: &Scope| same(&s.name, &scope.name) && same(&s.version, &scope.version);
        if let Some(i) = self.last_scope.filter(|&i| is(&self.scopes[i])) {
            return i;
        }
        let i = match self.scopes.iter().rposition(is) {
            Some(i) => i,
            None => {
                self.scopes.push(scope.clone());
                self.scopes.len() - 1
            }
        };
        self.last_scope = Some(i);
        i
    }
}

/// A record length that does not fit the short form: the real one follows as a `u32`.
const LONG: u16 = u16::MAX;
/// The `has a parent` bit of the flags byte.
const HAS_PARENT: u8 = 1 << 5;
/// The `duration is long` bit: 8 bytes, not 4.
const LONG_DURATION: u8 = 1 << 6;
/// The `parent is in another process` bit: the span is its trace's root here.
const REMOTE_PARENT: u8 = 1 << 7;
/// The most bytes before the resource index: length, flags, ids, parent, start, duration.
const HEAD: usize = 2 + 1 + 16 + 8 + 8 + 8 + 8;

/// Appends the record of `span` to `out`.
pub(crate) fn encode(
    span: &FinishedSpan<'_>,
    (resource, scope): (usize, usize),
    out: &mut Vec<u8>,
) {
    let start = out.len();
    // The fixed part is assembled on the stack at fixed offsets and appended whole (a
    // constant-size copy, cheaper than a copy of its exact length), then cut to size.
    let mut head = [0u8; HEAD];
    let mut flags = span.kind as u8 | (span.status as u8) << 3;
    head[3..19].copy_from_slice(&span.trace_id.to_int().to_le_bytes());
    head[19..27].copy_from_slice(&span.span_id.to_int().to_le_bytes());
    let mut at = 27;
    if let Some(parent) = span.parent_span_id {
        flags |= HAS_PARENT;
        if span.remote_parent {
            flags |= REMOTE_PARENT;
        }
        head[27..35].copy_from_slice(&parent.to_int().to_le_bytes());
        at = 35;
    }
    let started = span.started_at.unix_nanos();
    head[at..at + 8].copy_from_slice(&started.to_le_bytes());
    at += 8;
    let duration = span.ended_at.unix_nanos().wrapping_sub(started);
    match u32::try_from(duration) {
        Ok(short) => {
            head[at..at + 4].copy_from_slice(&short.to_le_bytes());
            at += 4;
        }
        Err(_) => {
            flags |= LONG_DURATION;
            head[at..at + 8].copy_from_slice(&duration.to_le_bytes());
            at += 8;
        }
    }
    head[2] = flags;
    out.extend_from_slice(&head);
    out.truncate(start + at);
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
    let len = out.len() - start;
    match u16::try_from(len) {
        Ok(short) if short != LONG => out[start..start + 2].copy_from_slice(&short.to_le_bytes()),
        _ => {
            // Rare (an attribute of tens of KiB): make room for the long form.
            out[start..start + 2].copy_from_slice(&LONG.to_le_bytes());
            let long = u32::try_from(len + 4).unwrap_or(u32::MAX);
            out.splice(start + 2..start + 2, long.to_le_bytes());
        }
    }
}

/// The length of the record at the start of `bytes`, and of its length field.
fn lengths(bytes: &[u8]) -> (usize, usize) {
    match u16::from_le_bytes([bytes[0], bytes[1]]) {
        LONG => (
            u32::from_le_bytes(bytes[2..6].try_into().expect("4 bytes")) as usize,
            6,
        ),
        short => (usize::from(short), 2),
    }
}

/// Whether the record at the start of `bytes` is the first span of its trace in the process
/// that ended it: no parent, or a parent in another process.
pub(crate) fn is_local_root(bytes: &[u8]) -> bool {
    let flags = bytes.get(lengths(bytes).1).copied().unwrap_or(0);
    flags & HAS_PARENT == 0 || flags & REMOTE_PARENT != 0
}

/// The length of the record at the start of `bytes`.
pub(crate) fn record_len(bytes: &[u8]) -> usize {
    lengths(bytes).0
}

/// The record after its length field.
fn body(record: &[u8]) -> &[u8] {
    &record[lengths(record).1..]
}

/// When the record ended, read without unpacking the rest.
pub(crate) fn ended_at(record: &[u8]) -> i64 {
    let mut r = Reader(body(record));
    r.head()
        .and_then(|(flags, ..)| r.times(flags & LONG_DURATION != 0))
        .map_or(i64::MIN, |(_, ended)| ended)
}

/// The record's trace id, read without unpacking the rest.
pub(crate) fn trace_id(record: &[u8]) -> u128 {
    u128::from_le_bytes(body(record)[1..17].try_into().expect("16 bytes"))
}

/// Unpacks a record; `None` only if the bytes are not a record this module wrote.
pub(crate) fn decode(record: &[u8], tables: &Tables) -> Option<Trace> {
    let mut r = Reader(record.get(lengths(record).1..)?);
    let (flags, trace_id, span_id, parent) = r.head()?;
    let trace_id = TraceId::from_int(trace_id)?;
    let span_id = SpanId::from_int(span_id)?;
    let parent_span_id = match parent {
        Some(id) => Some(SpanId::from_int(id)?),
        None => None,
    };
    let (started_at, ended_at) = r.times(flags & LONG_DURATION != 0)?;
    let span_kind = kind(flags & 0b111)?;
    let span_status = status(flags >> 3 & 0b11)?;
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
        started_at: Timestamp::from_unix_nanos(started_at),
        ended_at: Some(Timestamp::from_unix_nanos(ended_at)),
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

    /// The flags, trace id, span id and parent span id.
    fn head(&mut self) -> Option<(u8, u128, u64, Option<u64>)> {
        let flags = self.u8()?;
        let trace_id = u128::from_le_bytes(self.array()?);
        let span_id = u64::from_le_bytes(self.array()?);
        let parent = if flags & HAS_PARENT != 0 {
            Some(u64::from_le_bytes(self.array()?))
        } else {
            None
        };
        Some((flags, trace_id, span_id, parent))
    }

    /// `started_at` and `ended_at` (after `head`, given its flags' long-duration bit).
    fn times(&mut self, long: bool) -> Option<(i64, i64)> {
        let started = self.i64()?;
        let duration = if long {
            self.i64()?
        } else {
            i64::from(u32::from_le_bytes(self.array()?))
        };
        Some((started, started.wrapping_add(duration)))
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
