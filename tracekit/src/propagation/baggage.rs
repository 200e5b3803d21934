//! The W3C `baggage` header (<https://www.w3.org/TR/baggage/>).

/// At most this many list members cross a process boundary, in either direction.
pub const MAX_ENTRIES: usize = 64;
/// At most this many bytes of `baggage` are read, or written.
pub const MAX_BYTES: usize = 8192;

/// One `baggage` list member: `key=value;property;key=value`.
///
/// `value` is percent-decoded (invalid UTF-8 becomes U+FFFD, as the spec asks); properties are
/// kept as they came, without their surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaggageEntry {
    /// The key (an HTTP token).
    pub key: String,
    /// The decoded value.
    pub value: String,
    /// The member's properties, in order.
    pub properties: Vec<String>,
}

/// Reads the members of every `baggage` value in order. Members that are malformed (a key
/// that is not a token, a value with a character the spec forbids, a bad percent escape, a
/// malformed property) are skipped and the good ones kept. Reading stops after
/// [`MAX_ENTRIES`] members, and at [`MAX_BYTES`]: a member that does not end within them is
/// not read, so a hostile header costs at most 8 KiB of work.
pub(super) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<BaggageEntry> {
    let mut out = Vec::new();
    let mut budget = MAX_BYTES;
    'values: for value in values {
        for member in value.split(',') {
            let Some(rest) = budget.checked_sub(member.len()) else {
                break 'values;
            };
            // The separating comma counts too.
            budget = rest.saturating_sub(1);
            if out.len() == MAX_ENTRIES {
                break 'values;
            }
            if let Some(entry) = parse_member(member) {
                out.push(entry);
            }
        }
    }
    out
}

fn parse_member(member: &str) -> Option<BaggageEntry> {
    let mut parts = member.split(';');
    let (key, value) = parts.next()?.split_once('=')?;
    let (key, value) = (ows(key), ows(value));
    if !is_token(key) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    let valid_property = |p: &str| match p.split_once('=') {
        None => is_token(ows(p)),
        Some((k, v)) => is_token(ows(k)) && ows(v).bytes().all(is_baggage_octet),
    };
    let properties = parts
        .map(|p| valid_property(p).then(|| ows(p).to_owned()))
        .collect::<Option<Vec<_>>>()?;
    Some(BaggageEntry {
        key: key.to_owned(),
        value: percent_decode(value)?,
        properties,
    })
}

/// Writes `key=value` members for `entries`, percent-encoding values; members whose key is not
/// a token are left out, and so is every member past [`MAX_ENTRIES`] or one that would take
/// the header past [`MAX_BYTES`] (never a partial member).
pub(super) fn format<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut out = String::new();
    let mut count = 0;
    for (key, value) in entries {
        if count == MAX_ENTRIES {
            break;
        }
        if !is_token(key) {
            continue;
        }
        let start = out.len();
        if count > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        percent_encode(value, &mut out);
        if out.len() > MAX_BYTES {
            out.truncate(start);
            continue;
        }
        count += 1;
    }
    (count > 0).then_some(out)
}

/// Optional whitespace around a part.
fn ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// An HTTP token (RFC 9110 `tchar`s), not empty.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// `baggage-octet`: printable ASCII but space, `"`, `,`, `;` and `\`.
fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

fn percent_encode(value: &str, out: &mut String) {
    for &b in value.as_bytes() {
        if is_baggage_octet(b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

/// `None` for a `%` not followed by two hex digits; invalid UTF-8 becomes U+FFFD.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    if !value.contains('%') {
        return Some(value.to_owned());
    }
    let b = value.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let digit = |c: u8| (c as char).to_digit(16);
            bytes.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
            i += 3;
        } else {
            bytes.push(b[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(entries: &[BaggageEntry]) -> Vec<(&str, &str)> {
        entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect()
    }

    #[test]
    fn reads_the_spec_examples() {
        let e = parse([
            "key1 = value1, key2=value2;propertyKey=propertyValue;flag , key3=%20sp%C3%A9c",
        ]);
        assert_eq!(
            pairs(&e),
            [("key1", "value1"), ("key2", "value2"), ("key3", " spéc")]
        );
        assert_eq!(e[1].properties, ["propertyKey=propertyValue", "flag"]);
    }

    #[test]
    fn skips_malformed_members_and_keeps_the_rest() {
        let e = parse([
            "good=1,=novalue,nokey,bad key=2,k=has space,k2=\"quoted\",k3=%zz,k4=%4,ok=2;bad prop,last=3",
            "second=header",
        ]);
        assert_eq!(
            pairs(&e),
            [("good", "1"), ("last", "3"), ("second", "header")]
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(parse(["k=%FF%C3"])[0].value, "\u{fffd}\u{fffd}");
    }

    #[test]
    fn reads_at_most_64_members_and_8192_bytes() {
        let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse([many.join(",").as_str()]).len(), MAX_ENTRIES);

        let big = "x".repeat(4000);
        let header = format!("a={big},b={big},c={big}");
        assert_eq!(
            pairs(&parse([header.as_str()])).len(),
            2,
            "the third member ends past 8192 bytes"
        );
        let huge = "k=v,".repeat(1_000_000);
        assert_eq!(parse([huge.as_str()]).len(), MAX_ENTRIES);
    }

    #[test]
    fn writes_percent_encoded_values_within_the_limits() {
        let out = format([("a", "x y,z;%é"), ("not a token", "v"), ("b", "plain")]).unwrap();
        assert_eq!(out, "a=x%20y%2Cz%3B%25%C3%A9,b=plain");
        assert_eq!(
            pairs(&parse([out.as_str()])),
            [("a", "x y,z;%é"), ("b", "plain")]
        );

        let big = "x".repeat(5000);
        let out = format([("a", big.as_str()), ("b", big.as_str()), ("c", "small")]).unwrap();
        assert_eq!(
            out.len(),
            5002 + 8,
            "the second member would pass 8192 bytes: left out whole"
        );
        assert!(out.ends_with(",c=small"));
        assert_eq!(format(std::iter::empty()), None);
    }
}
