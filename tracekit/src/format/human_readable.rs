//! The reference's `Trace.as_human_readable()` layout: a header line, a summary line and
//! detail lines, each built by its own function from the rules in [`super::rules`].

use std::borrow::Cow;
use std::fmt::Write;

use super::python;
use super::rules::{self, Colour, When};
use super::RenderOptions;
use crate::{SpanKind, Trace, Value};

/// Renders one span in the reference's human-readable format.
pub(crate) fn render(trace: &Trace, options: &RenderOptions) -> String {
    let snapshot = trace.ended_at.is_none();
    let p = Palette::new(options.color, snapshot);
    let mut out = String::with_capacity(256);
    header(&mut out, trace, &p);
    summary(&mut out, trace, &p);
    details(&mut out, trace, &p, options);
    out.push('\n');
    if snapshot {
        out.push('\n');
    }
    out
}

/// `[trace/parent/span] agent KIND name - start - end [1.2s] ` (or `[SNAPSHOT - at]`).
fn header(out: &mut String, trace: &Trace, p: &Palette) {
    let attrs = &trace.attributes;
    let (span_key, resource_key) = rules::AGENT_NAME;
    let agent = attrs
        .get(span_key)
        .filter(|v| python::truthy(v))
        .or_else(|| {
            trace
                .resource_attributes
                .get(resource_key)
                .filter(|v| python::truthy(v))
        })
        .map_or_else(|| rules::MISSING_AGENT.to_string(), python::str_of);
    let failed = rules::FAILURE_KEYS.iter().any(|k| attrs.contains_key(k));
    let kind_colour = match (failed, trace.span_kind) {
        (true, _) => p.red,
        (false, SpanKind::Client) => p.magenta,
        (false, SpanKind::Server) => p.green,
        (false, _) => p.blue,
    };
    let parent = trace
        .parent_span_id
        .map_or_else(|| "root".to_string(), |id| id.to_string());
    let _ = write!(
        out,
        "{blue}[{trace_id}/{parent}/{span_id}]{reset} {cyan}{agent}{reset} {kind_colour}{kind}{reset} {white}{name} - {start}",
        blue = p.blue,
        reset = p.reset,
        cyan = p.cyan,
        white = p.white,
        trace_id = trace.trace_id,
        span_id = trace.span_id,
        agent = escape(&agent),
        kind = trace.span_kind,
        name = escape(&trace.span_name),
        start = trace.started_at.to_iso_millis(),
    );
    match trace.ended_at {
        Some(end) => {
            let secs = trace.duration_ms().unwrap_or(0) as f64 / 1000.0;
            let _ = write!(out, " - {} [{secs:.1}s] ", end.to_iso_millis());
        }
        None => {
            let at = trace.snapshot_at.unwrap_or(trace.started_at);
            let _ = write!(out, "  [SNAPSHOT - {}]", at.to_iso_millis());
        }
    }
    out.push_str(p.reset);
    out.push('\n');
}

/// `  key=value key=value` for the summary keys present.
fn summary(out: &mut String, trace: &Trace, p: &Palette) {
    let attrs = &trace.attributes;
    let summary: Vec<String> = rules::SUMMARY_KEYS
        .iter()
        .filter_map(|&key| {
            let value = attrs.get(key)?;
            let shown = if key == rules::AUTH_CONTEXT {
                value
                    .as_map()
                    .and_then(|auth| auth.get(rules::PRINCIPAL_ID))
                    .map_or_else(|| rules::UNKNOWN_PRINCIPAL.to_string(), summary_value)
            } else {
                summary_value(value)
            };
            Some(format!("{key}={shown}"))
        })
        .collect();
    if !summary.is_empty() {
        let _ = write!(out, "  {}{}{}", p.yellow, summary.join(" "), p.reset);
    }
}

/// The detail lines of the span's trace type.
fn details(out: &mut String, trace: &Trace, p: &Palette, options: &RenderOptions) {
    let attrs = &trace.attributes;
    let Some(trace_type) = attrs.get(rules::TRACE_TYPE).and_then(Value::as_str) else {
        return;
    };
    if trace_type == rules::LLM_TYPE {
        let last_content = attrs
            .get(rules::LLM_MESSAGES)
            .and_then(Value::as_array)
            .and_then(<[Value]>::last)
            .and_then(Value::as_map)
            .map(|m| m.get("content").map_or_else(String::new, python::str_of));
        if let Some(text) = last_content {
            push_detail(out, p.gray, p.reset, "Last message", &text, options);
        }
    }
    for d in rules::details(trace_type) {
        let Some(value) = attrs.get(d.key) else {
            continue;
        };
        let show = match d.when {
            When::NotNone => !value.is_null(),
            When::Truthy => python::truthy(value),
        };
        if show {
            let colour = match d.colour {
                Colour::Gray => p.gray,
                Colour::Red => p.red,
            };
            let text = python::str_of(value);
            push_detail(out, colour, p.reset, d.title, &text, options);
        }
    }
}

/// A value on the summary line: numbers, bools and null as Python prints them, strings and
/// JSON of anything else cut to one line.
fn summary_value(value: &Value) -> String {
    let width = rules::SUMMARY_WIDTH;
    match value {
        Value::String(s) => truncate(s, width, Some(1), 0),
        Value::Map(_) | Value::Array(_) => truncate(&python::json_dumps(value), width, Some(1), 0),
        scalar => python::str_of(scalar),
    }
}

fn push_detail(
    out: &mut String,
    colour: &str,
    reset: &str,
    title: &str,
    text: &str,
    options: &RenderOptions,
) {
    const WIDTH: usize = rules::TITLE_WIDTH;
    // Right-aligned in the column; a longer title keeps its last characters, as the
    // reference's `f"{' ' * 16}{title}: "[-16:]` does.
    let padded: Vec<char> = format!("{}{title}: ", " ".repeat(WIDTH)).chars().collect();
    let label: String = padded[padded.len() - WIDTH..].iter().collect();
    let body = truncate(text, options.max_length, options.max_lines, WIDTH);
    let _ = write!(out, "\n{colour}{label}{body}{reset}");
}

/// The reference's `truncate`: strip, escape, cut into `max_length`-character lines (each
/// stripped, stopping at an empty one), at most `max_lines`, the last cut with `...`.
fn truncate(text: &str, max_length: usize, max_lines: Option<usize>, indent: usize) -> String {
    let escaped: Vec<char> = escape(python::strip(text)).chars().collect();
    let mut lines: Vec<String> = Vec::new();
    for i in 0..max_lines.unwrap_or(999) {
        let from = (i * max_length).min(escaped.len());
        let to = ((i + 1) * max_length).min(escaped.len());
        let fragment: String = escaped[from..to].iter().collect();
        let fragment = python::strip(&fragment);
        if fragment.is_empty() {
            break;
        }
        let keep = max_length.saturating_sub(3);
        if Some(i + 1) == max_lines && fragment.chars().count() > keep {
            let cut: String = fragment.chars().take(keep).collect();
            lines.push(cut + "...");
        } else {
            lines.push(fragment.to_string());
        }
    }
    lines.join(&format!("\n{}", " ".repeat(indent)))
}

/// Makes text safe for a terminal: newlines become `\n` (as the reference does), other
/// control and bidi-override characters become `\xNN` / `\uNNNN`; tabs stay.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\t' && python::is_unprintable(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if python::is_unprintable(c) => python::push_escape(c, &mut out),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// ANSI colours, or empty strings when colour is off.
struct Palette {
    white: &'static str,
    blue: &'static str,
    green: &'static str,
    yellow: &'static str,
    red: &'static str,
    gray: &'static str,
    reset: &'static str,
    magenta: &'static str,
    cyan: &'static str,
}

impl Palette {
    fn new(color: bool, snapshot: bool) -> Palette {
        const GRAY: &str = "\x1b[90m";
        match (color, snapshot) {
            (false, _) => Palette {
                white: "",
                blue: "",
                green: "",
                yellow: "",
                red: "",
                gray: "",
                reset: "",
                magenta: "",
                cyan: "",
            },
            // An open span is drawn all in gray so it reads as provisional.
            (true, true) => Palette {
                white: GRAY,
                blue: GRAY,
                green: GRAY,
                yellow: GRAY,
                red: GRAY,
                gray: GRAY,
                reset: "\x1b[0m",
                magenta: GRAY,
                cyan: GRAY,
            },
            (true, false) => Palette {
                white: "\x1b[37m",
                blue: "\x1b[94m",
                green: "\x1b[92m",
                yellow: "\x1b[93m",
                red: "\x1b[91m",
                gray: GRAY,
                reset: "\x1b[0m",
                magenta: "\x1b[95m",
                cyan: "\x1b[96m",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_follows_the_reference() {
        // A 78-character value is already cut on the summary line.
        let v = "x".repeat(78);
        assert_eq!(
            truncate(&v, 80, Some(1), 0),
            format!("{}...", "x".repeat(77))
        );
        assert_eq!(truncate(&"x".repeat(77), 80, Some(1), 0), "x".repeat(77));
        // Multi-line with indent, stripping at chunk boundaries.
        assert_eq!(truncate("abcd efgh", 5, None, 2), "abcd\n  efgh");
        // The last allowed line is cut even when nothing follows.
        assert_eq!(truncate("abcdefghij", 5, Some(2), 0), "abcde\nfg...");
        assert_eq!(truncate("a\nb", 80, Some(1), 0), "a\\nb");
        assert_eq!(truncate("", 80, None, 0), "");
    }

    #[test]
    fn escape_neutralises_terminal_controls() {
        assert_eq!(escape("plain\ttab"), "plain\ttab");
        assert_eq!(
            escape("\x1b[2Jboom\r\u{9b}\u{202e}"),
            "\\x1b[2Jboom\\r\\x9b\\u202e"
        );
    }
}
