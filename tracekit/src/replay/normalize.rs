//! [`Normalizer`]: the rule that decides whether a request is the one recorded, with what
//! changes between two runs of the same agent (ids, times) set aside.

use serde_json::Value as Json;

/// How requests and call arguments are compared with the recorded ones.
///
/// Both sides are brought to a canonical text first, and the texts must be equal:
///
/// - a body that is JSON is compared as JSON (key order and spacing do not count), with the
///   values of the [ignored keys](Self::ignore_key) left out at any depth: by default `id`,
///   `tool_call_id`, `created`, `created_at`, `timestamp`, `request_id` and `user`;
/// - in every string, UUIDs (`8-4-4-4-12` hex digits) read as `<uuid>` and RFC 3339 times
///   (`2026-12-07T09:30:00Z`, with any fraction and offset) as `<time>`;
/// - a body that is not JSON is compared as text, with the same masks;
/// - the path is compared without its query string.
///
/// ```
/// use tracekit::replay::Normalizer;
/// let rule = Normalizer::new().ignore_key("seed");
/// let a = rule.body(r#"{"seed": 1, "messages": ["at 2026-12-07T09:30:00Z"], "user": "u-1"}"#);
/// let b = rule.body(r#"{"messages":["at 2025-01-01T00:00:00.5+01:00"],"seed":2}"#);
/// assert_eq!(a, b);
/// assert_ne!(a, rule.body(r#"{"messages": ["at noon"]}"#));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalizer {
    ignored: Vec<String>,
    uuids: bool,
    times: bool,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer {
            ignored: [
                "id",
                "tool_call_id",
                "created",
                "created_at",
                "timestamp",
                "request_id",
                "user",
            ]
            .map(String::from)
            .to_vec(),
            uuids: true,
            times: true,
        }
    }
}

impl Normalizer {
    /// The default rule (above).
    pub fn new() -> Normalizer {
        Normalizer::default()
    }

    /// Exact comparison: no key ignored, no string masked (JSON key order still does not
    /// count).
    pub fn exact() -> Normalizer {
        Normalizer {
            ignored: Vec::new(),
            uuids: false,
            times: false,
        }
    }

    /// Also leaves out the values of `key`, wherever it appears in a JSON body.
    pub fn ignore_key(mut self, key: impl Into<String>) -> Normalizer {
        self.ignored.push(key.into());
        self
    }

    /// Compares `key` after all (taking it out of the ignored keys).
    pub fn compare_key(mut self, key: &str) -> Normalizer {
        self.ignored.retain(|k| k != key);
        self
    }

    /// Whether UUIDs in strings are masked (default: yes).
    pub fn mask_uuids(mut self, on: bool) -> Normalizer {
        self.uuids = on;
        self
    }

    /// Whether RFC 3339 times in strings are masked (default: yes).
    pub fn mask_times(mut self, on: bool) -> Normalizer {
        self.times = on;
        self
    }

    /// The canonical text of a body: pretty JSON with sorted keys when it is JSON (one
    /// value per line, so a divergence shows as a line diff), the masked text otherwise.
    pub fn body(&self, body: &str) -> String {
        match serde_json::from_str::<Json>(body) {
            Ok(json) => self.json(json),
            Err(_) => self.text(body),
        }
    }

    /// The canonical text of a JSON value (see [`body`](Self::body)).
    pub fn json(&self, json: Json) -> String {
        let json = super::cassette::sorted(self.strip(json));
        serde_json::to_string_pretty(&json).unwrap_or_default()
    }

    fn strip(&self, json: Json) -> Json {
        match json {
            Json::Object(map) => Json::Object(
                map.into_iter()
                    .filter(|(k, _)| !self.ignored.iter().any(|i| i == k))
                    .map(|(k, v)| (k, self.strip(v)))
                    .collect(),
            ),
            Json::Array(items) => Json::Array(items.into_iter().map(|v| self.strip(v)).collect()),
            Json::String(s) => Json::String(self.text(&s)),
            other => other,
        }
    }

    /// `text` with UUIDs and times masked, as configured.
    fn text(&self, text: &str) -> String {
        if !self.uuids && !self.times {
            return text.to_owned();
        }
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < bytes.len() {
            // Both patterns start with a hex digit or a digit, at a word boundary.
            let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            if boundary && bytes[i].is_ascii_hexdigit() {
                if self.uuids {
                    if let Some(n) = uuid_at(&bytes[i..]) {
                        out.push_str("<uuid>");
                        i += n;
                        continue;
                    }
                }
                if self.times {
                    if let Some(n) = time_at(&bytes[i..]) {
                        out.push_str("<time>");
                        i += n;
                        continue;
                    }
                }
            }
            // Copy one whole character.
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + len]);
            i += len;
        }
        out
    }
}

/// The length of a UUID at the start of `b`.
fn uuid_at(b: &[u8]) -> Option<usize> {
    let groups = [8, 4, 4, 4, 12];
    let mut i = 0;
    for (n, len) in groups.iter().enumerate() {
        if n > 0 {
            (b.get(i) == Some(&b'-')).then_some(())?;
            i += 1;
        }
        b.get(i..i + len)?
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(())?;
        i += len;
    }
    let after = b.get(i);
    (after.is_none_or(|c| !c.is_ascii_alphanumeric())).then_some(i)
}

/// The length of an RFC 3339 time at the start of `b`: `YYYY-MM-DDTHH:MM:SS`, a fraction,
/// and `Z` or an offset (or nothing).
fn time_at(b: &[u8]) -> Option<usize> {
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let shape = digits(0, 4)
        && at(4, b'-')
        && digits(5, 2)
        && at(7, b'-')
        && digits(8, 2)
        && (at(10, b'T') || at(10, b't') || at(10, b' '))
        && digits(11, 2)
        && at(13, b':')
        && digits(14, 2)
        && at(16, b':')
        && digits(17, 2);
    if !shape {
        return None;
    }
    let mut i = 19;
    if at(i, b'.') && digits(i + 1, 1) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if at(i, b'Z') || at(i, b'z') {
        i += 1;
    } else if (at(i, b'+') || at(i, b'-'))
        && digits(i + 1, 2)
        && at(i + 3, b':')
        && digits(i + 4, 2)
    {
        i += 6;
    }
    Some(i)
}

/// A line diff of two texts: `-` lines only in `recorded`, `+` lines only in `requested`,
/// one line of context around each change, `…` where lines are left out. Long texts whose
/// table would be too large are shown whole, one after the other.
pub(crate) fn line_diff(recorded: &str, requested: &str) -> String {
    let a: Vec<&str> = recorded.lines().collect();
    let b: Vec<&str> = requested.lines().collect();
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return format!("--- recorded\n{recorded}\n+++ requested\n{requested}\n");
    }
    // Longest common subsequence, from the end.
    let mut table = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            table[i][j] = if a[i] == b[j] {
                table[i + 1][j + 1] + 1
            } else {
                table[i + 1][j].max(table[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || table[i + 1][j] >= table[i][j + 1]) {
            lines.push(('-', a[i]));
            i += 1;
        } else {
            lines.push(('+', b[j]));
            j += 1;
        }
    }
    let changed = |k: usize| lines.get(k).is_some_and(|(c, _)| *c != ' ');
    let mut out = String::from("--- recorded\n+++ requested\n");
    let mut skipped = false;
    for (k, (c, line)) in lines.iter().enumerate() {
        let near = changed(k) || changed(k + 1) || (k > 0 && changed(k - 1));
        if near {
            out.push(*c);
            out.push_str(line);
            out.push('\n');
            skipped = false;
        } else if !skipped {
            out.push_str("…\n");
            skipped = true;
        }
    }
    out
}

/// How many lines differ between two texts (a distance to find the nearest recording).
pub(crate) fn distance(a: &str, b: &str) -> usize {
    line_diff(a, b)
        .lines()
        .skip(2)
        .filter(|l| l.starts_with(['-', '+']))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_times_are_masked_at_word_boundaries_only() {
        let rule = Normalizer::new();
        assert_eq!(
            rule.text("req 123e4567-e89b-12d3-a456-426614174000 at 2026-12-07T09:30:00.123Z ok"),
            "req <uuid> at <time> ok"
        );
        assert_eq!(rule.text("x2026-12-07T09:30:00Z"), "x2026-12-07T09:30:00Z");
        assert_eq!(rule.text("2026-12-07"), "2026-12-07");
        assert_eq!(rule.text("ünï 2026-12-07 10:00:00+01:00"), "ünï <time>");
        assert_eq!(
            Normalizer::exact().text("2026-12-07T09:30:00Z"),
            "2026-12-07T09:30:00Z"
        );
    }

    #[test]
    fn ignored_keys_go_at_any_depth_and_order_does_not_count() {
        let rule = Normalizer::new();
        assert_eq!(
            rule.body(r#"{"b": 1, "a": [{"id": "x", "k": 2}]}"#),
            rule.body(r#"{"a": [{"k": 2, "id": "y"}], "b": 1}"#)
        );
        assert_ne!(
            Normalizer::exact().body(r#"{"id": "x"}"#),
            Normalizer::exact().body(r#"{"id": "y"}"#)
        );
        assert_ne!(
            rule.clone().compare_key("user").body(r#"{"user": "a"}"#),
            rule.compare_key("user").body(r#"{"user": "b"}"#)
        );
    }

    #[test]
    fn the_line_diff_shows_what_changed_with_context() {
        let a = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3,\n  \"d\": 4,\n  \"e\": 5\n}";
        let b = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 30,\n  \"d\": 4,\n  \"e\": 5\n}";
        let d = line_diff(a, b);
        assert!(d.contains("-  \"c\": 3,\n+  \"c\": 30,\n"), "{d}");
        assert!(d.contains(" \"b\": 2,"), "{d}");
        assert!(d.contains('…'), "{d}");
        assert_eq!(distance(a, b), 2);
        assert_eq!(distance(a, a), 0);
    }
}
