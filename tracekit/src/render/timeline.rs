//! [`timeline`]: a waterfall of spans in the terminal.

use crate::analysis::forest::Forest;
use crate::format::ColorChoice;
use crate::{SpanStatus, Trace};

use super::label;

/// The spans as a waterfall `width` columns wide: a label (indented name, status mark,
/// duration) and a bar placed on the time axis from the first start to the last end. Each
/// span takes one line, in tree order; orphans are roots. Never coloured; see
/// [`timeline_colored`].
///
/// ```
/// let tracer = tracekit::Tracer::in_memory(10);
/// {
///     let _turn = tracer.trace("turn");
///     drop(tracer.trace("step"));
/// }
/// let text = tracekit::render::timeline(&tracer.get_traces(&Default::default()).unwrap(), 60);
/// assert!(text.lines().all(|l| l.chars().count() == 60));
/// assert!(text.lines().nth(1).unwrap().contains("step"));
/// ```
pub fn timeline(spans: &[Trace], width: usize) -> String {
    render(spans, width, false)
}

/// [`timeline`] with bars coloured by status (green ok, red error, blue unset, yellow
/// open) when `color` says so: [`ColorChoice::Auto`] colours when standard output is a
/// terminal and `NO_COLOR` is unset or empty.
pub fn timeline_colored(spans: &[Trace], width: usize, color: ColorChoice) -> String {
    let on = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    render(spans, width, on)
}

/// The narrowest bar drawn, whatever `width` says.
const MIN_BAR: usize = 10;

fn render(spans: &[Trace], width: usize, color: bool) -> String {
    let forest = Forest::new(spans);
    let Some(start) = spans.iter().map(|s| s.started_at).min() else {
        return String::new();
    };
    let end = (0..spans.len())
        .map(|i| forest.end(i))
        .max()
        .unwrap_or(start);
    let total = end.saturating_duration_since(start).as_nanos().max(1);
    let label_width = (width / 2).clamp(8, 48);
    let bar_width = width.saturating_sub(label_width + 2).max(MIN_BAR);
    let mut out = String::new();
    for (i, depth) in forest.depth_first() {
        let t = &spans[i];
        let time = t
            .duration()
            .map_or_else(|| "open".to_owned(), label::duration);
        let text = format!(
            "{}{} {} {time}",
            "  ".repeat(depth.min(label_width / 4)),
            label::mark(t),
            label::name(t)
        );
        out.push_str(&fit(&text, label_width));
        out.push('|');
        let offset = |at: crate::Timestamp| {
            (at.saturating_duration_since(start).as_nanos() * bar_width as u128 / total) as usize
        };
        let from = offset(t.started_at).min(bar_width - 1);
        let to = offset(forest.end(i)).clamp(from + 1, bar_width);
        let (on, off) = match (color, t.ended_at, t.span_status) {
            (false, ..) => ("", ""),
            (true, None, _) => ("\x1b[33m", "\x1b[0m"),
            (true, _, SpanStatus::Error) => ("\x1b[31m", "\x1b[0m"),
            (true, _, SpanStatus::Ok) => ("\x1b[32m", "\x1b[0m"),
            (true, _, SpanStatus::Unset) => ("\x1b[34m", "\x1b[0m"),
        };
        out.push_str(&" ".repeat(from));
        out.push_str(on);
        out.push_str(&"=".repeat(to - from));
        out.push_str(off);
        out.push_str(&" ".repeat(bar_width - to));
        out.push_str("|\n");
    }
    out
}

/// `text` padded or cut (with `…`) to exactly `width` characters.
fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        format!("{text}{}", " ".repeat(width - n))
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}
