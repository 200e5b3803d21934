//! Ordered span attributes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use smallvec::SmallVec;

use crate::Value;

/// An attribute key or span name: a `&'static str` is kept by reference (no allocation), a
/// `String` is moved in.
pub type Key = Cow<'static, str>;

/// Attributes in order, each key once.
///
/// Adding an existing key replaces its value in place, so keys keep their first position, as a
/// Python `dict` does. Iterates as `(&str, &Value)`; equality ignores order.
///
/// ```
/// use tracekit::{Attributes, Value};
/// let mut a = Attributes::new();
/// a.insert("ai.trace.type", "tool-invocation");
/// a.insert("ai.tool.name", "search");
/// a.insert("ai.trace.type", "converse");
/// assert_eq!(a.get("ai.trace.type"), Some(&Value::from("converse")));
/// assert_eq!(a.keys().collect::<Vec<_>>(), ["ai.trace.type", "ai.tool.name"]);
/// for (key, value) in &a {
///     println!("{key}={value}");
/// }
/// ```
#[derive(Clone, Default)]
pub struct Attributes {
    entries: Vec<(Key, Value)>,
}

impl Attributes {
    /// No attributes.
    #[inline]
    pub const fn new() -> Self {
        Attributes {
            entries: Vec::new(),
        }
    }

    /// Inserts or replaces `key`; returns the previous value.
    #[inline]
    pub fn insert(&mut self, key: impl Into<Key>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// The value under `key`, to change in place.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Removes `key`, keeping the order of the rest; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.position(key).map(|i| self.entries.remove(i).1)
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(key, value)` pairs in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// Keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    fn position(&self, key: &str) -> Option<usize> {
        position(&self.entries, key)
    }

    /// The entries in order.
    pub(crate) fn as_slice(&self) -> &[(Key, Value)] {
        &self.entries
    }

    /// The entries of `parts`, concatenated (their keys must be distinct).
    pub(crate) fn concat(parts: [&[(Key, Value)]; 2]) -> Attributes {
        let mut entries = Vec::with_capacity(parts[0].len() + parts[1].len());
        entries.extend_from_slice(parts[0]);
        entries.extend_from_slice(parts[1]);
        Attributes { entries }
    }

    /// Copies every entry of `other` in, replacing values of keys already present in place.
    pub(crate) fn overlay(&mut self, other: &[(Key, Value)]) {
        for (k, v) in other {
            match self.position(k) {
                Some(i) => self.entries[i].1 = v.clone(),
                None => self.entries.push((k.clone(), v.clone())),
            }
        }
    }
}

/// Attributes of an open span, held inline: the few that most spans have need no allocation.
pub(crate) type Fields<const N: usize> = SmallVec<[(Key, Value); N]>;

/// Where `key` is in `entries`.
#[inline]
pub(crate) fn position(entries: &[(Key, Value)], key: &str) -> Option<usize> {
    entries.iter().position(|(k, _)| k == key)
}

/// Sets `key` in `fields`, in place if it is there (so it keeps its first position).
#[inline]
pub(crate) fn upsert<const N: usize>(fields: &mut Fields<N>, key: Key, value: Value) {
    match position(fields, &key) {
        Some(i) => fields[i].1 = value,
        None => fields.push((key, value)),
    }
}

/// Iterator over `(key, value)` pairs of [`Attributes`].
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (Key, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_ref(), v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Attributes {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<Key>, V: Into<Value>> FromIterator<(K, V)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut out = Attributes::new();
        out.extend(iter);
        out
    }
}

impl<K: Into<Key>, V: Into<Value>> Extend<(K, V)> for Attributes {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Attributes) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AttrVisitor;
        impl<'de> Visitor<'de> for AttrVisitor {
            type Value = Attributes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Attributes, A::Error> {
                let mut out = Attributes::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(AttrVisitor)
    }
}
