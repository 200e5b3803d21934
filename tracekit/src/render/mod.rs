//! Text renderings of spans for people.
//!
//! [`Trace::as_human_readable`](crate::Trace::as_human_readable) reproduces the reference's `Trace.as_human_readable()` byte for byte
//! (colours, layout, truncation, the `ai.trace.type`-specific detail lines), with one
//! deliberate difference: control characters from span names and attribute values are escaped
//! (`\x1b`, `\r`, ...) so recorded data cannot move the cursor, recolour or clear a terminal.

mod python;

use std::fmt::Write;

use crate::{SpanKind, Trace, Value};

/// How [`Trace::as_human_readable_with`] lays text out.
///
/// ```
/// use tracekit::render::RenderOptions;
/// let opts = RenderOptions::default().color(true).max_length(100).max_lines(4);
/// assert_eq!(opts.max_length, 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Characters per detail line (default 160).
    pub max_length: usize,
    /// Lines per detail value; `None` (default) means up to 999, never cut with `...`.
    pub max_lines: Option<usize>,
    /// Whether to emit ANSI colours (default false).
    pub color: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            max_length: 160,
            max_lines: None,
            color: false,
        }
    }
}

impl RenderOptions {
    /// Sets [`max_length`](Self::max_length).
    pub fn max_length(mut self, chars: usize) -> Self {
        self.max_length = chars;
        self
    }

    /// Sets [`max_lines`](Self::max_lines).
    pub fn max_lines(mut self, lines: usize) -> Self {
        self.max_lines = Some(lines);
        self
    }

    /// Sets [`color`](Self::color).
    pub fn color(mut self, on: bool) -> Self {
        self.color = on;
        self
    }
}

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

/// Attributes shown on the second line, in this order, when present.
const SUMMARY_KEYS: [&str; 5] = [
    "ai.trace.type",
    "peer.service",
    "ai.conversation.id",
    "ai.subcontext.id",
    "ai.auth.context",
];

/// Width of the right-aligned `Title: ` column of detail lines.
const TITLE_WIDTH: usize = 16;

/// When a detail line is printed.
#[derive(Clone, Copy)]
enum When {
    /// The attribute is present and not null.
    NotNone,
    /// The attribute is truthy in Python's sense.
    Truthy,
}

#[derive(Clone, Copy)]
enum Colour {
    Gray,
    Red,
}

struct Detail {
    title: &'static str,
    key: &'static str,
    when: When,
    colour: Colour,
}

const fn detail(title: &'static str, key: &'static str, when: When, colour: Colour) -> Detail {
    Detail {
        title,
        key,
        when,
        colour,
    }
}

use Colour::{Gray, Red};
use When::{NotNone, Truthy};

const LLM: &[Detail] = &[
    detail("Response", "ai.llm.response.output", Truthy, Gray),
    detail("Stop reason", "ai.llm.response.stop.reason", Truthy, Gray),
    detail("Error", "ai.llm.response.error", Truthy, Red),
];
const TOOL: &[Detail] = &[
    detail("Input", "ai.tool.input", NotNone, Gray),
    detail("Output", "ai.tool.output", NotNone, Gray),
    detail("Error", "ai.tool.error", Truthy, Red),
];
// The reference prints a conversation's error in gray, unlike every other error line.
const CONVERSE: &[Detail] = &[
    detail("Input", "ai.user.input", NotNone, Gray),
    detail("Response", "ai.agent.response", NotNone, Gray),
    detail("Error", "exception.message", Truthy, Gray),
];
const CYCLE: &[Detail] = &[
    detail("Response", "ai.agent.cycle.response", NotNone, Gray),
    detail("Error", "exception.message", Truthy, Red),
];
const HISTORY_LIST: &[Detail] = &[detail(
    "Messages",
    "ai.conversation.history.messages",
    NotNone,
    Gray,
)];
const HISTORY_ADD: &[Detail] = &[detail(
    "Message",
    "ai.conversation.history.message",
    NotNone,
    Gray,
)];

/// Detail lines per `ai.trace.type` (the llm "Last message" line is computed separately).
fn details(trace_type: &str) -> &'static [Detail] {
    match trace_type {
        "llm-invocation" => LLM,
        "tool-invocation" => TOOL,
        "converse" | "converse-stream" => CONVERSE,
        "cycle" => CYCLE,
        "conversation-history-list" => HISTORY_LIST,
        "conversation-history-add" => HISTORY_ADD,
        _ => &[],
    }
}

/// Renders one span in the reference's human-readable format.
pub(crate) fn human_readable(trace: &Trace, options: &RenderOptions) -> String {
    let snapshot = trace.ended_at.is_none();
    let p = Palette::new(options.color, snapshot);
    let attrs = &trace.attributes;
    let mut out = String::with_capacity(256);

    let agent = attrs
        .get("ai.agent.name")
        .filter(|v| python::truthy(v))
        .or_else(|| {
            trace
                .resource_attributes
                .get("service.name")
                .filter(|v| python::truthy(v))
        })
        .map_or_else(|| "<missing service.name>".to_string(), python::str_of);
    let failed = [
        "ai.tool.error",
        "ai.llm.response.error",
        "exception.message",
    ]
    .iter()
    .any(|k| attrs.contains_key(k));
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

    let summary: Vec<String> = SUMMARY_KEYS
        .iter()
        .filter_map(|&key| {
            let value = attrs.get(key)?;
            let shown = if key == "ai.auth.context" {
                match value.as_map() {
                    Some(auth) => auth
                        .get("principal_id")
                        .map_or_else(|| "unknown-principal".to_string(), summary_value),
                    None => "unknown-principal".to_string(),
                }
            } else {
                summary_value(value)
            };
            Some(format!("{key}={shown}"))
        })
        .collect();
    if !summary.is_empty() {
        let _ = write!(out, "  {}{}{}", p.yellow, summary.join(" "), p.reset);
    }

    if let Some(trace_type) = attrs.get("ai.trace.type").and_then(Value::as_str) {
        if trace_type == "llm-invocation" {
            let last_content = attrs
                .get("ai.llm.request.messages")
                .and_then(Value::as_array)
                .and_then(<[Value]>::last)
                .and_then(Value::as_map)
                .map(|m| m.get("content").map_or_else(String::new, python::str_of));
            if let Some(text) = last_content {
                push_detail(&mut out, p.gray, p.reset, "Last message", &text, options);
            }
        }
        for d in details(trace_type) {
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
                push_detail(&mut out, colour, p.reset, d.title, &text, options);
            }
        }
    }

    out.push('\n');
    if snapshot {
        out.push('\n');
    }
    out
}

/// A value on the summary line: numbers, bools and null as Python prints them, strings and
/// JSON of anything else cut to one 80-character line.
fn summary_value(value: &Value) -> String {
    match value {
        Value::String(s) => truncate(s, 80, Some(1), 0),
        Value::Map(_) | Value::Array(_) => truncate(&python::json_dumps(value), 80, Some(1), 0),
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
    // Right-aligned in the column; a longer title keeps its last characters, as the
    // reference's `f"{' ' * 16}{title}: "[-16:]` does.
    let padded: Vec<char> = format!("{}{title}: ", " ".repeat(TITLE_WIDTH))
        .chars()
        .collect();
    let label: String = padded[padded.len() - TITLE_WIDTH..].iter().collect();
    let body = truncate(text, options.max_length, options.max_lines, TITLE_WIDTH);
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
fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c != '\t' && python::is_unprintable(c)) {
        return std::borrow::Cow::Borrowed(text);
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
    std::borrow::Cow::Owned(out)
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
