//! Renderings of spans: for people ([`tree`], [`timeline`], the reference's human-readable
//! format) and for other tools ([`to_json`], [`to_jaeger_json`]).
//!
//! [`Trace::as_human_readable`](crate::Trace::as_human_readable) reproduces the reference's
//! `Trace.as_human_readable()` byte for byte
//! (colours, layout, truncation, the `ai.trace.type`-specific detail lines), with one
//! deliberate difference: control characters from span names and attribute values are escaped
//! (`\x1b`, `\r`, ...) so recorded data cannot move the cursor, recolour or clear a terminal.

mod human_readable;
mod json;
mod label;
mod python;
mod rules;
mod timeline;
mod tree;

pub(crate) use human_readable::render as human_readable;
pub use json::{to_jaeger_json, to_json};
pub use timeline::{timeline, timeline_colored};
pub use tree::tree;

/// How [`Trace::as_human_readable_with`](crate::Trace::as_human_readable_with) lays text out.
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
    #[must_use = "this returns the changed options and leaves `self` as it was"]
    pub fn max_length(mut self, chars: usize) -> Self {
        self.max_length = chars;
        self
    }

    /// Sets [`max_lines`](Self::max_lines).
    #[must_use = "this returns the changed options and leaves `self` as it was"]
    pub fn max_lines(mut self, lines: usize) -> Self {
        self.max_lines = Some(lines);
        self
    }

    /// Sets [`color`](Self::color).
    #[must_use = "this returns the changed options and leaves `self` as it was"]
    pub fn color(mut self, on: bool) -> Self {
        self.color = on;
        self
    }
}
