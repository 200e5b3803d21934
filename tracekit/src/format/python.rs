//! Python's text forms of JSON-like values, because the reference's human-readable format is
//! defined by them: `str(v)` for the detail lines, `json.dumps(v)` for the attribute line, and
//! truthiness for "print this line if set".

use std::fmt::Write;

use crate::Value;

/// `str(v)`: strings as they are, everything else as `repr(v)`.
pub(crate) fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => {
            let mut out = String::new();
            repr(other, &mut out);
            out
        }
    }
}

/// `repr(v)` of the Python object the value would be (`{'k': [1, None, True]}`).
pub(crate) fn repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => out.push_str(&float_repr(*f)),
        Value::String(s) => repr_str(s, out),
        Value::Array(_) | Value::Map(_) => nested(v, out, repr_str, repr),
    }
}

/// An array or a map with Python's `", "` and `": "` separators; `string` writes keys,
/// `item` writes elements and values.
fn nested(
    v: &Value,
    out: &mut String,
    string: fn(&str, &mut String),
    item: fn(&Value, &mut String),
) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, element) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                item(element, out);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                string(k, out);
                out.push_str(": ");
                item(value, out);
            }
            out.push('}');
        }
        scalar => item(scalar, out),
    }
}

/// `repr(s)`: single quotes unless the text has `'` and no `"`; control characters escaped.
fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_unprintable(c) => push_escape(c, out),
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Characters a terminal may act on: C0/C1 controls, DEL, line/paragraph separators and the
/// bidirectional overrides that can reorder what is shown.
pub(crate) fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `\xNN` below U+0100, `\uNNNN` above, as Python escapes them.
pub(crate) fn push_escape(c: char, out: &mut String) {
    let code = c as u32;
    let _ = if code < 0x100 {
        write!(out, "\\x{code:02x}")
    } else {
        write!(out, "\\u{code:04x}")
    };
}

/// `repr(f)`: the shortest digits that round-trip, in Python's layout (`1e-05`, `1e+16`,
/// `100.0`, `inf`, `nan`).
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits as d.ddde<exp>.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!(
                "{sign}{digits}{}.0",
                "0".repeat(point as usize - digits.len())
            )
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// `json.dumps(v)` with Python's defaults: `", "` and `": "` separators, non-ASCII escaped.
pub(crate) fn json_dumps(v: &Value) -> String {
    let mut out = String::new();
    dump(v, &mut out);
    out
}

fn dump(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Float(f) if f.is_nan() => out.push_str("NaN"),
        Value::Float(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" })
        }
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => repr(v, out),
        Value::String(s) => dump_str(s, out),
        Value::Array(_) | Value::Map(_) => nested(v, out, dump_str, dump),
    }
}

fn dump_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python truthiness: `None`, `False`, zero, and empty strings/lists/dicts are false.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::UInt(u) => *u != 0,
        Value::Float(f) => *f != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Map(m) => !m.is_empty(),
    }
}

/// `str.strip()`: Python also counts the separators U+001C..U+001F as whitespace.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (1.5e-7, "1.5e-07"),
            (f64::INFINITY, "inf"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn repr_matches_python() {
        let v = Value::from(json!({"city": "Amsterdam", "n": [1, 2.5, null, true], "q": "it's"}));
        let mut out = String::new();
        repr(&v, &mut out);
        assert_eq!(
            out,
            r#"{'city': 'Amsterdam', 'n': [1, 2.5, None, True], 'q': "it's"}"#
        );
        let mut out = String::new();
        repr(&Value::from("a\x1bb\n'\""), &mut out);
        assert_eq!(out, r#"'a\x1bb\n\'"'"#);
    }

    #[test]
    fn json_dumps_matches_python() {
        let v = Value::from(json!({"a": [1, "é"], "b": {"c": null}}));
        assert_eq!(json_dumps(&v), r#"{"a": [1, "\u00e9"], "b": {"c": null}}"#);
        assert_eq!(json_dumps(&Value::from("😀")), r#""\ud83d\ude00""#);
    }
}
