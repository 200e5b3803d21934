//! Trace and span identifiers (W3C / OpenTelemetry sizes: 128 and 64 bits, never zero).
//!
//! Ids come from a per-thread wyrand generator seeded once per thread, so making one costs a
//! few nanoseconds and no system call.

use std::fmt;
use std::num::{NonZeroU128, NonZeroU64};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {input:?}: expected {digits} hexadecimal digits, not all zero")]
pub struct ParseIdError {
    kind: &'static str,
    digits: usize,
    input: String,
}

fn parse_hex(kind: &'static str, digits: usize, s: &str) -> Result<u128, ParseIdError> {
    let err = || ParseIdError {
        kind,
        digits,
        input: s.chars().take(64).collect(),
    };
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err());
    }
    match u128::from_str_radix(s, 16) {
        Ok(0) | Err(_) => Err(err()),
        Ok(v) => Ok(v),
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $int:ty, $nonzero:ty, $digits:literal, $kind:literal, $random:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($nonzero);

        impl $name {
            /// A fresh random id (never zero).
            pub fn random() -> Self {
                loop {
                    if let Some(v) = <$nonzero>::new($random) {
                        return $name(v);
                    }
                }
            }

            /// The id with this numeric value; `None` for zero, which W3C reserves for "invalid".
            pub const fn from_int(value: $int) -> Option<Self> {
                match <$nonzero>::new(value) {
                    Some(v) => Some($name(v)),
                    None => None,
                }
            }

            /// The numeric value.
            pub const fn to_int(self) -> $int {
                self.0.get()
            }

            /// Big-endian bytes, as OTLP and W3C `traceparent` carry them.
            pub const fn to_bytes(self) -> [u8; $digits / 2] {
                self.0.get().to_be_bytes()
            }

            /// From big-endian bytes; `None` when all are zero.
            pub const fn from_bytes(bytes: [u8; $digits / 2]) -> Option<Self> {
                Self::from_int(<$int>::from_be_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!("{:0", $digits, "x}"), self.0.get())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:0", $digits, "x})"), self.0.get())
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, ParseIdError> {
                let v = parse_hex($kind, $digits, s)?;
                // parse_hex checked the digit count, so the value fits.
                Ok($name(<$nonzero>::new(v as $int).expect("non-zero checked")))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A 128-bit trace id, shown as 32 lowercase hex digits.
    ///
    /// ```
    /// use tracekit::TraceId;
    /// let id: TraceId = "94e99f04b60cea27d7b0f744b4a17d3e".parse().unwrap();
    /// assert_eq!(id.to_string(), "94e99f04b60cea27d7b0f744b4a17d3e");
    /// assert!("not-an-id".parse::<TraceId>().is_err());
    /// assert!("00000000000000000000000000000000".parse::<TraceId>().is_err());
    /// ```
    TraceId, u128, NonZeroU128, 32, "trace id", fastrand::u128(..)
);

id_type!(
    /// A 64-bit span id, shown as 16 lowercase hex digits.
    ///
    /// ```
    /// use tracekit::SpanId;
    /// let id = SpanId::random();
    /// assert_eq!(id.to_string().len(), 16);
    /// assert_eq!(id.to_string().parse::<SpanId>().unwrap(), id);
    /// ```
    SpanId, u64, NonZeroU64, 16, "span id", fastrand::u64(..)
);

impl TraceId {
    /// Stands in until a span starts and its trace is known.
    pub(crate) const PLACEHOLDER: TraceId = TraceId(NonZeroU128::MIN);
}

impl SpanId {
    /// Stands in where no span is (an emptied span kept for reuse).
    pub(crate) const PLACEHOLDER: SpanId = SpanId(NonZeroU64::MIN);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_pads_and_parse_rejects_bad_input() {
        let t = TraceId::from_int(1).unwrap();
        assert_eq!(t.to_string(), "00000000000000000000000000000001");
        assert_eq!(
            format!("{t:?}"),
            "TraceId(00000000000000000000000000000001)"
        );
        for bad in [
            "",
            "1",
            "g4e99f04b60cea27d7b0f744b4a17d3e",
            "+4e99f04b60cea27d7b0f744b4a17d3e",
        ] {
            let err = bad.parse::<TraceId>().unwrap_err();
            assert!(err.to_string().contains("32 hexadecimal digits"), "{err}");
        }
        assert!("0000000000000000".parse::<SpanId>().is_err());
        assert_eq!(
            "ABCDEF0123456789".parse::<SpanId>().unwrap().to_string(),
            "abcdef0123456789"
        );
    }

    #[test]
    fn random_ids_differ_and_bytes_round_trip() {
        let a = TraceId::random();
        assert_ne!(a, TraceId::random());
        assert_eq!(TraceId::from_bytes(a.to_bytes()), Some(a));
        assert_eq!(SpanId::from_bytes([0; 8]), None);
    }

    #[test]
    fn serde_uses_hex_strings() {
        let id: SpanId = "6c894f8009912f45".parse().unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""6c894f8009912f45""#);
        let err = serde_json::from_str::<SpanId>(r#""xyz""#).unwrap_err();
        assert!(err.to_string().contains("invalid span id"), "{err}");
    }
}
