//! JSON-like attribute values.
//!
//! Agents attach prompts, tool inputs, token counts and whole responses to spans, so a value is
//! any JSON document: null, bool, integer, float, string, array or map. [`Value`] keeps that
//! shape exactly (maps keep their insertion order) so it survives a round trip through JSON,
//! SQLite or OTLP, and the same JSON compares equal however it was built.

mod ser;

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

use compact_str::CompactString;
use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A string stored in a [`Value`]: up to 24 bytes inline without a heap allocation, and
/// `&'static str` by reference through [`Text::from_static`].
///
/// ```
/// use tracekit::Text;
/// let t = Text::from("Amsterdam");
/// assert_eq!(t, "Amsterdam");
/// assert_eq!(t.len(), 9); // derefs to `str`
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(CompactString);

impl Text {
    /// Wraps a string literal without copying it.
    ///
    /// ```
    /// const GREETING: tracekit::Text = tracekit::Text::from_static("hello");
    /// assert_eq!(GREETING.as_str(), "hello");
    /// ```
    #[inline]
    pub const fn from_static(s: &'static str) -> Self {
        Text(CompactString::const_new(s))
    }

    /// The text as a `&str`.
    ///
    /// ```
    /// assert_eq!(tracekit::Text::from("x").as_str(), "x");
    /// ```
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl From<&str> for Text {
    #[inline]
    fn from(s: &str) -> Self {
        Text(CompactString::new(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(CompactString::from(s))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text(CompactString::new(s))
    }
}

impl From<Cow<'_, str>> for Text {
    fn from(s: Cow<'_, str>) -> Self {
        match s {
            Cow::Borrowed(b) => Text::from(b),
            Cow::Owned(o) => Text::from(o),
        }
    }
}

impl From<char> for Text {
    fn from(c: char) -> Self {
        let mut buf = [0u8; 4];
        Text::from(&*c.encode_utf8(&mut buf))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0.into_string()
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CompactString::deserialize(deserializer).map(Text)
    }
}

/// An ordered JSON object: keys keep their insertion order; equality ignores order, as in JSON.
///
/// ```
/// use tracekit::{Map, Value};
/// let mut m = Map::new();
/// m.insert("principal_id", "user123");
/// m.insert("tier", 2);
/// assert_eq!(m.get("tier"), Some(&Value::from(2)));
/// assert_eq!(m.keys().collect::<Vec<_>>(), ["principal_id", "tier"]);
/// ```
// Boxed so a `Value` stays 32 bytes: maps are rarer than strings and numbers, and every
// attribute pays for the size of the largest variant.
#[derive(Clone, Default, PartialEq)]
pub struct Map(Box<IndexMap<Text, Value>>);

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }

    /// Inserts or replaces `key`, keeping the key's first position; returns the old value.
    ///
    /// ```
    /// let mut m = tracekit::Map::new();
    /// assert!(m.insert("a", 1).is_none());
    /// assert_eq!(m.insert("a", 2), Some(1.into()));
    /// ```
    pub fn insert(&mut self, key: impl Into<Text>, value: impl Into<Value>) -> Option<Value> {
        self.0.insert(key.into(), value.into())
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.0.keys().map(Text::as_str)
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Text>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Map(Box::new(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ))
    }
}

impl IntoIterator for Map {
    type Item = (Text, Value);
    type IntoIter = indexmap::map::IntoIter<Text, Value>;
    fn into_iter(self) -> Self::IntoIter {
        (*self.0).into_iter()
    }
}

/// A JSON-like attribute value.
///
/// Build one with `From` (`&str`, `String`, `bool`, every integer type, `f32`/`f64`,
/// `Option<T>`, `Vec<T>`, [`Map`], `serde_json::Value`) or from any `T: Serialize` with
/// [`Value::from_serialize`].
///
/// Numbers compare by value, so `Value::from(1u8) == Value::from(1.0)`, and the same JSON is
/// equal however it was added:
///
/// ```
/// use tracekit::Value;
/// use serde_json::json;
///
/// let built: Value = vec![Value::from("a"), Value::from(1)].into();
/// assert_eq!(built, Value::from(json!(["a", 1])));
/// assert_eq!(Value::from(json!({"n": 1})), Value::from_serialize(&[("n", 1u64)].into_iter().collect::<std::collections::BTreeMap<_, _>>()).unwrap());
/// ```
#[derive(Clone, Default)]
pub enum Value {
    /// JSON `null` (also `None` and `()`).
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer; `From<u64>` uses it only above `i64::MAX`.
    UInt(u64),
    /// A float. Non-finite floats serialise to JSON as `null`.
    Float(f64),
    /// A string.
    String(Text),
    /// An array.
    Array(Vec<Value>),
    /// An object with ordered keys.
    Map(Map),
}

/// Why a value could not be converted with [`Value::from_serialize`].
#[derive(Debug, thiserror::Error)]
#[error("cannot store this value as a tracekit::Value: {0}; make its Serialize output JSON-like (string map keys, no raw bytes streams)")]
pub struct ValueError(pub(crate) String);

impl Value {
    /// Converts any `T: Serialize` into a value (structs become maps in field order).
    ///
    /// Fails only where the data has no JSON form, e.g. a map with non-string keys.
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Hit { title: &'static str, score: f64 }
    /// let v = tracekit::Value::from_serialize(&Hit { title: "Rust", score: 0.9 }).unwrap();
    /// assert_eq!(v.get("title").and_then(|t| t.as_str()), Some("Rust"));
    /// ```
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
        value.serialize(ser::ValueSerializer)
    }

    /// A string value that borrows a literal instead of copying it.
    ///
    /// ```
    /// assert_eq!(tracekit::Value::from_static("tool-invocation"), "tool-invocation");
    /// ```
    #[inline]
    pub const fn from_static(s: &'static str) -> Value {
        Value::String(Text::from_static(s))
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if this is a `String`.
    ///
    /// ```
    /// assert_eq!(tracekit::Value::from("x").as_str(), Some("x"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// A string as it is, anything else as its JSON text: the form a text-only attribute
    /// (OpenInference's `input.value`, a span's name) takes.
    pub(crate) fn to_text(&self) -> String {
        match self {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        }
    }

    /// The bool, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as `i64`, if it is an integer (or integral float) in range.
    ///
    /// ```
    /// assert_eq!(tracekit::Value::from(3.0).as_i64(), Some(3));
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self.number()? {
            Number::Int(i) => i64::try_from(i).ok(),
            Number::Float(f) => float_as_int(f).and_then(|i| i64::try_from(i).ok()),
        }
    }

    /// The number as `u64`, if it is a non-negative integer (or integral float) in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self.number()? {
            Number::Int(i) => u64::try_from(i).ok(),
            Number::Float(f) => float_as_int(f).and_then(|i| u64::try_from(i).ok()),
        }
    }

    /// The number as `f64` (integers are converted, possibly rounding).
    pub fn as_f64(&self) -> Option<f64> {
        match self.number()? {
            Number::Int(i) => Some(i as f64),
            Number::Float(f) => Some(f),
        }
    }

    /// The elements, if this is an `Array`.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The map, if this is a `Map`.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks `key` up if this is a map.
    ///
    /// ```
    /// let v = tracekit::Value::from(serde_json::json!({"principal_id": "u1"}));
    /// assert_eq!(v.get("principal_id").and_then(|p| p.as_str()), Some("u1"));
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?.get(key)
    }

    fn number(&self) -> Option<Number> {
        match *self {
            Value::Int(i) => Some(Number::Int(i as i128)),
            Value::UInt(u) => Some(Number::Int(u as i128)),
            Value::Float(f) => Some(Number::Float(f)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Number {
    Int(i128),
    Float(f64),
}

/// The exact integer a float holds, if it holds one within `i128`'s range.
fn float_as_int(f: f64) -> Option<i128> {
    // 2^127 is exactly representable; anything at or beyond it cannot be an i128.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    (f.fract() == 0.0 && f.abs() < LIMIT).then_some(f as i128)
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => match (self.number(), other.number()) {
                (Some(Number::Int(a)), Some(Number::Int(b))) => a == b,
                (Some(Number::Float(a)), Some(Number::Float(b))) => a == b,
                (Some(Number::Int(i)), Some(Number::Float(f)))
                | (Some(Number::Float(f)), Some(Number::Int(i))) => float_as_int(f) == Some(i),
                _ => false,
            },
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => fmt::Debug::fmt(b, f),
            Value::Int(i) => fmt::Debug::fmt(i, f),
            Value::UInt(u) => fmt::Debug::fmt(u, f),
            Value::Float(x) => fmt::Debug::fmt(x, f),
            Value::String(s) => fmt::Debug::fmt(s, f),
            Value::Array(a) => f.debug_list().entries(a).finish(),
            Value::Map(m) => fmt::Debug::fmt(m, f),
        }
    }
}

/// Compact JSON.
///
/// ```
/// let v = tracekit::Value::from(serde_json::json!({"a": [1, "x", null]}));
/// assert_eq!(v.to_string(), r#"{"a":[1,"x",null]}"#);
/// ```
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            #[inline]
            fn from(v: $t) -> Value { Value::Int(v as i64) }
        }
    )*};
}
from_signed!(i8, i16, i32, i64);

macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            #[inline]
            fn from(v: $t) -> Value { Value::Int(v as i64) }
        }
    )*};
}
from_unsigned!(u8, u16, u32);

impl From<u64> for Value {
    #[inline]
    fn from(v: u64) -> Value {
        i64::try_from(v).map_or(Value::UInt(v), Value::Int)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::from(v as u64)
    }
}

impl From<isize> for Value {
    fn from(v: isize) -> Value {
        Value::Int(v as i64)
    }
}

impl From<f64> for Value {
    #[inline]
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::Float(v as f64)
    }
}

impl From<bool> for Value {
    #[inline]
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<()> for Value {
    fn from(_: ()) -> Value {
        Value::Null
    }
}

impl From<&str> for Value {
    #[inline]
    fn from(v: &str) -> Value {
        Value::String(Text::from(v))
    }
}

impl From<String> for Value {
    #[inline]
    fn from(v: String) -> Value {
        Value::String(Text::from(v))
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::String(Text::from(v))
    }
}

impl From<Cow<'_, str>> for Value {
    fn from(v: Cow<'_, str>) -> Value {
        Value::String(Text::from(v))
    }
}

impl From<char> for Value {
    fn from(v: char) -> Value {
        Value::String(Text::from(v))
    }
}

impl From<Text> for Value {
    fn from(v: Text) -> Value {
        Value::String(v)
    }
}

impl From<Map> for Value {
    fn from(v: Map) -> Value {
        Value::Map(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Clone + Into<Value>> From<&[T]> for Value {
    fn from(v: &[T]) -> Value {
        Value::Array(v.iter().cloned().map(Into::into).collect())
    }
}

impl From<&Value> for Value {
    fn from(v: &Value) -> Value {
        v.clone()
    }
}

impl<T: Into<Value>> FromIterator<T> for Value {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Value {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::String(Text::from(s)),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.into_iter()
                    .map(|(k, v)| (Text::from(k), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        Value::from(v.clone())
    }
}

impl From<Value> for serde_json::Value {
    fn from(v: Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => b.into(),
            Value::Int(i) => i.into(),
            Value::UInt(u) => u.into(),
            Value::Float(f) => serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.into()),
            Value::Array(a) => a.into_iter().map(serde_json::Value::from).collect(),
            Value::Map(m) => serde_json::Value::Object(
                m.into_iter()
                    .map(|(k, v)| (String::from(k), serde_json::Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::UInt(u) => serializer.serialize_u64(*u),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(a) => {
                let mut seq = serializer.serialize_seq(Some(a.len()))?;
                for item in a {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(m) => m.serialize(serializer),
        }
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Map {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Map, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Map(m) => Ok(m),
            other => Err(de::Error::custom(format_args!(
                "expected a map, found {other}"
            ))),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-like value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut out = IndexMap::with_capacity(access.size_hint().unwrap_or(0).min(1024));
        while let Some((k, v)) = access.next_entry::<Text, Value>()? {
            out.insert(k, v);
        }
        Ok(Value::Map(Map(Box::new(out))))
    }
}

/// Where recorded text is cut by default (16 KiB): message content (`genai`) and arguments
/// `#[traced(args)]` records.
pub(crate) const TEXT_LIMIT: usize = 16 * 1024;

/// `value` with every string in it cut to `max` bytes (see [`truncate`]).
pub(crate) fn truncate_value(value: Value, max: usize) -> Value {
    match value {
        Value::String(s) if s.len() > max => Value::from(truncate(&s, max)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| truncate_value(v, max)).collect())
        }
        Value::Map(map) => Value::Map(
            map.into_iter()
                .map(|(k, v)| (k, truncate_value(v, max)))
                .collect(),
        ),
        other => other,
    }
}

/// `text` cut to `max` bytes at a character boundary, with a marker saying how much was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated {} bytes]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value_across_representations() {
        assert_eq!(Value::from(1u8), Value::from(1.0f64));
        assert_eq!(Value::from(u64::MAX), Value::from(json!(u64::MAX)));
        assert_ne!(Value::from(1), Value::from(1.5));
        assert_ne!(Value::from(true), Value::from(1));
        assert_eq!(Value::from(u64::MAX), Value::UInt(u64::MAX));
        assert_ne!(Value::from(-1), Value::from(u64::MAX));
    }

    #[test]
    fn maps_compare_without_order_but_keep_it() {
        let a = Value::from(json!({"a": 1, "b": 2}));
        let b = Value::from(json!({"b": 2, "a": 1}));
        assert_eq!(a, b);
        assert_eq!(a.to_string(), r#"{"a":1,"b":2}"#);
        assert_eq!(b.to_string(), r#"{"b":2,"a":1}"#);
    }

    #[test]
    fn json_round_trip_is_lossless() {
        let doc = json!({"s": "x", "n": -3, "u": u64::MAX, "f": 0.25, "b": false, "z": null, "a": [1, {"k": "v"}]});
        let v = Value::from(doc.clone());
        let text = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        assert_eq!(serde_json::Value::from(back), doc);
    }

    #[test]
    fn from_serialize_reports_non_json_data() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(vec![1u8], 1);
        let err = Value::from_serialize(&m).unwrap_err();
        assert!(err.to_string().contains("cannot store"), "{err}");
    }
}
