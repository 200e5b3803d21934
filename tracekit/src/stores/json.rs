//! The reference's JSON for stored attributes (`JsonBytes` in `generative_ai_toolkit.utils.json`),
//! byte for byte, so a row or item that tracekit writes is the one the Python toolkit would.
//!
//! Writing follows Python's `json.dumps` defaults: `", "` and `": "` separators, non-ASCII and
//! control characters as `\uXXXX` escapes (`ensure_ascii`), floats as Python's `repr` prints
//! them (`1e+16`, `1.5`, `1e-05`), and the non-finite floats as the bare tokens `NaN`,
//! `Infinity` and `-Infinity`, which Python reads back as floats. Integers keep every digit,
//! so the whole `i64` and `u64` ranges survive, and a float keeps its exact bits (the
//! shortest form that reads back as the same float).
//!
//! Reading accepts standard JSON plus those three tokens, and turns the reference's tagged
//! objects into plain values:
//!
//! | stored by Python | read as |
//! | --- | --- |
//! | `{"__bytes__": "<ascii85 of zlib>"}` | [`Value::Array`] of the byte values (as serde stores bytes) |
//! | `{"__datetime__": "2025-07-04T11:12:48.882123+00:00"}` | [`Value::String`] of the ISO text |
//! | `{"__date__": "2025-07-04"}`, `{"__time__": "11:12:48"}` | [`Value::String`] of the ISO text |
//! | an integer beyond the `u64`/`i64` range | [`Value::Float`] (the nearest float) |
//! | a lone UTF-16 surrogate escape | U+FFFD |
//!
//! A map is read as a tag only when it has exactly that one key with a string value (as the
//! reference decides); a tag whose payload does not decode stays a map.

use std::fmt::Write as _;

use crate::{Attributes, Map, Text, Value};

/// The reference's tags for values JSON cannot hold.
const BYTES_TAG: &str = "__bytes__";
const TEXT_TAGS: [&str; 3] = ["__datetime__", "__date__", "__time__"];

/// Nesting deeper than this is refused rather than risking the reader's stack.
const MAX_DEPTH: usize = 256;

/// The most bytes a `__bytes__` value may inflate to.
const MAX_INFLATED: usize = 64 << 20;

/// Appends `{"key": value, ...}` for the entries, in order.
pub(crate) fn write_object<'a>(
    out: &mut String,
    entries: impl IntoIterator<Item = (&'a str, &'a Value)>,
) {
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(out, key);
        out.push_str(": ");
        write_value(out, value);
    }
    out.push('}');
}

/// The JSON text of `attributes`.
pub(crate) fn attributes_to_string(attributes: &Attributes) -> String {
    let mut out = String::with_capacity(16 + 32 * attributes.len());
    write_object(&mut out, attributes.iter());
    out
}

/// Appends one value.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::UInt(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(map) => write_object(out, map.iter()),
    }
}

/// A float as Python's `repr` writes it: the shortest digits that read back as the same
/// float, positional for exponents -4..16, scientific (`1e+16`, `1.5e-07`) beyond.
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            (0..-exponent - 1).for_each(|_| out.push('0'));
            out.push_str(&digits);
        } else {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                (digits.len()..int_len).for_each(|_| out.push('0'));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    }
}

/// A string with Python's `ensure_ascii` escapes.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            ' '..='~' => continue,
            _ => None,
        };
        out.push_str(&s[plain..i]);
        plain = i + c.len_utf8();
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// Why stored JSON could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    /// Byte offset of the problem.
    pub(crate) offset: usize,
    pub(crate) reason: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.reason)
    }
}

/// Reads a JSON object into attributes (keys in their stored order).
pub(crate) fn parse_object(text: &str) -> Result<Attributes, JsonError> {
    match parse(text)? {
        Value::Map(map) => Ok(map.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect()),
        _ => Err(JsonError {
            offset: 0,
            reason: "expected an object",
        }),
    }
}

/// Reads one JSON value (with the reference's tags and non-finite tokens).
pub(crate) fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = p.value(0)?;
    p.skip_ws();
    if p.at != p.bytes.len() {
        return Err(p.error("trailing characters"));
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.at,
            reason,
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.bytes[self.at..].starts_with(literal.as_bytes()) {
            self.at += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.skip_ws();
        match self.bytes.get(self.at) {
            None => Err(self.error("unexpected end")),
            Some(b'{') => self.object(depth),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.eat("]") {
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    if self.eat("]") {
                        return Ok(Value::Array(items));
                    }
                    if !self.eat(",") {
                        return Err(self.error("expected `,` or `]`"));
                    }
                }
            }
            Some(b'"') => Ok(Value::String(Text::from(self.string()?))),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat("null") => Ok(Value::Null),
            Some(b'N') if self.eat("NaN") => Ok(Value::Float(f64::NAN)),
            Some(b'I') if self.eat("Infinity") => Ok(Value::Float(f64::INFINITY)),
            Some(b'-') if self.eat("-Infinity") => Ok(Value::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.at += 1;
        let mut map = Map::new();
        self.skip_ws();
        if !self.eat("}") {
            loop {
                self.skip_ws();
                if self.bytes.get(self.at) != Some(&b'"') {
                    return Err(self.error("expected a string key"));
                }
                let key = self.string()?;
                self.skip_ws();
                if !self.eat(":") {
                    return Err(self.error("expected `:`"));
                }
                let value = self.value(depth + 1)?;
                map.insert(key, value);
                self.skip_ws();
                if self.eat("}") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.error("expected `,` or `}`"));
                }
            }
        }
        Ok(untag(map))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The input is a `str` and we stopped at ASCII, so this is whole characters.
            out.push_str(
                std::str::from_utf8(&self.bytes[start..self.at])
                    .map_err(|_| self.error("invalid UTF-8"))?,
            );
            match self.bytes.get(self.at) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self.bytes.get(self.at).copied();
                    self.at += 1;
                    match escaped {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => out.push(self.unicode_escape()?),
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                // Python's reader is strict about raw control characters too.
                Some(_) => return Err(self.error("control character in a string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u16::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.at += 4;
        Ok(digits)
    }

    /// The character of a `\uXXXX` escape (after the `u`), joining a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.bytes[self.at..].starts_with(b"\\u") {
            let save = self.at;
            self.at += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let c =
                    0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.at = save;
        }
        Ok(char::from_u32(first.into()).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.at;
        let mut integer = true;
        if self.bytes[self.at] == b'-' {
            self.at += 1;
        }
        while let Some(&b) = self.bytes.get(self.at) {
            match b {
                b'0'..=b'9' => {}
                b'.' | b'e' | b'E' | b'+' | b'-' => integer = false,
                _ => break,
            }
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).expect("ASCII");
        if integer {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Value::Int(n));
            }
            if let Ok(n) = text.parse::<u64>() {
                return Ok(Value::UInt(n));
            }
        }
        text.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| JsonError {
                offset: start,
                reason: "invalid number",
            })
    }
}

/// The reference's tagged objects as plain values (see the module docs).
fn untag(map: Map) -> Value {
    if map.len() == 1 {
        let (key, value) = map.iter().next().expect("one entry");
        if let Some(text) = value.as_str() {
            if key == BYTES_TAG {
                if let Some(bytes) = decode_bytes(text) {
                    return Value::Array(bytes.into_iter().map(|b| Value::Int(b.into())).collect());
                }
            } else if TEXT_TAGS.contains(&key) {
                return Value::String(Text::from(text));
            }
        }
    }
    Value::Map(map)
}

/// `zlib.decompress(base64.a85decode(text))`; `None` if either step fails.
fn decode_bytes(text: &str) -> Option<Vec<u8>> {
    let compressed = ascii85(text)?;
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, MAX_INFLATED).ok()
}

/// Python's `base64.a85decode` with its defaults: `z` for four zero bytes, whitespace
/// ignored, a short last group padded with `u`.
fn ascii85(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 4 / 5);
    let mut group = [0u8; 5];
    let mut n = 0;
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        match b {
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = b - b'!';
                n += 1;
                if n == 5 {
                    out.extend_from_slice(&word(&group)?.to_be_bytes());
                    n = 0;
                }
            }
            _ => return None,
        }
    }
    if n > 0 {
        if n == 1 {
            return None;
        }
        group[n..].fill(b'u' - b'!');
        out.extend_from_slice(&word(&group)?.to_be_bytes()[..n - 1]);
    }
    Some(out)
}

fn word(group: &[u8; 5]) -> Option<u32> {
    let n = group.iter().fold(0u64, |acc, &d| acc * 85 + u64::from(d));
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: &Value) -> String {
        let mut out = String::new();
        write_value(&mut out, v);
        out
    }

    #[test]
    fn floats_print_as_python_repr() {
        let cases = [
            (1.5, "1.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.2345e-7, "1.2345e-07"),
            (1e300, "1e+300"),
            (123456.789, "123456.789"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(json(&Value::Float(f)), want, "{f:?}");
        }
    }

    #[test]
    fn strings_are_ascii_with_python_escapes() {
        let v = Value::from("a\"b\\c\n\t\u{1}é 😀\u{7f}");
        assert_eq!(json(&v), r#""a\"b\\c\n\t\u0001\u00e9 \ud83d\ude00\u007f""#);
        assert_eq!(parse(&json(&v)).unwrap(), v);
    }

    #[test]
    fn objects_use_python_separators_and_keep_order() {
        let v = Value::from(serde_json::json!({"z": 1, "a": [true, null, "x"], "m": {"k": 2.5}}));
        let text = json(&v);
        assert_eq!(text, r#"{"z": 1, "a": [true, null, "x"], "m": {"k": 2.5}}"#);
        let back = parse(&text).unwrap();
        assert_eq!(
            back.as_map().unwrap().keys().collect::<Vec<_>>(),
            ["z", "a", "m"]
        );
        assert_eq!(back, v);
    }

    #[test]
    fn integers_keep_every_digit() {
        for v in [
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::UInt(u64::MAX),
            Value::Int((1 << 53) + 1),
        ] {
            let back = parse(&json(&v)).unwrap();
            assert_eq!(format!("{back:?}"), format!("{v:?}"));
        }
        // Beyond u64, as Python may write: the nearest float.
        assert_eq!(
            parse("36893488147419103232").unwrap(),
            Value::Float(36893488147419103232.0)
        );
    }

    #[test]
    fn reference_tags_become_plain_values() {
        // Written by the reference for b"\x00\x01" and a datetime (outputs/live-sqlite-rows.txt).
        let text = r#"{"bytes": {"__bytes__": "Gar8O\"98E(!!3"}, "when": {"__datetime__": "2025-07-04T11:12:48.882123+00:00"}}"#;
        let v = parse(text).unwrap();
        assert_eq!(
            v.get("bytes").unwrap(),
            &Value::Array(vec![Value::Int(0), Value::Int(1)])
        );
        assert_eq!(v.get("when").unwrap(), "2025-07-04T11:12:48.882123+00:00");
        // Not a tag: two keys, or a payload that does not decode.
        let v = parse(r#"{"a": {"__date__": "x", "b": 1}, "c": {"__bytes__": "~~~"}}"#).unwrap();
        assert!(v.get("a").unwrap().as_map().is_some());
        assert!(v.get("c").unwrap().as_map().is_some());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            "",
            "{",
            r#"{"a" 1}"#,
            "[1,",
            r#""\u12"#,
            "tru",
            "{\"a\": 1} x",
            "-",
            "\"\u{1}\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(10_000);
        assert_eq!(parse(&deep).unwrap_err().reason, "nested too deeply");
        assert!(parse_object("[1]").is_err());
    }

    #[test]
    fn non_finite_floats_round_trip_as_python_tokens() {
        let v = Value::from(vec![
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
        ]);
        assert_eq!(json(&v), "[NaN, Infinity, -Infinity]");
        let back = parse(&json(&v)).unwrap();
        let items = back.as_array().unwrap();
        assert!(items[0].as_f64().unwrap().is_nan());
        assert_eq!(items[1].as_f64(), Some(f64::INFINITY));
        assert_eq!(items[2].as_f64(), Some(f64::NEG_INFINITY));
    }
}
