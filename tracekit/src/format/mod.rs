//! The text of one span: the reference's human-readable format (and the Python `repr` of
//! values it uses), with its options. A core module: [`Trace::as_human_readable`] and the
//! terminal sinks use it; [`render`](crate::render) re-exports [`RenderOptions`].
//!
//! [`Trace::as_human_readable`]: crate::Trace::as_human_readable

mod human_readable;
mod python;
mod rules;

pub(crate) use human_readable::{escape, render as human_readable};

use crate::Trace;

/// Whether text is coloured: the terminal sinks' setting
/// ([`HumanReadable::color`](crate::sinks::HumanReadable::color)) and
/// [`render::timeline_colored`](crate::render::timeline_colored)'s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colours when writing to a terminal (stdout, stderr or a terminal file) and the
    /// `NO_COLOR` environment variable is unset or empty.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

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

/// The reference's text of one span.
impl Trace {
    /// The reference's human-readable text, without colours (see
    /// [`as_human_readable_with`](Self::as_human_readable_with) for colours and limits).
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// tracer.set_resource_attribute("service.name", "MyAgent");
    /// drop(tracer.trace("parent"));
    /// let span = &tracer.get_traces(&Default::default()).unwrap()[0];
    /// let text = span.as_human_readable();
    /// assert!(text.contains("/root/"));
    /// assert!(text.contains(" MyAgent INTERNAL parent - "));
    /// ```
    pub fn as_human_readable(&self) -> String {
        self.as_human_readable_with(&RenderOptions::default())
    }

    /// The human-readable text with explicit options.
    ///
    /// ```
    /// use tracekit::render::RenderOptions;
    /// let tracer = tracekit::Tracer::in_memory(10);
    /// drop(tracer.trace("x"));
    /// let span = &tracer.get_traces(&Default::default()).unwrap()[0];
    /// let coloured = span.as_human_readable_with(&RenderOptions::default().color(true));
    /// assert!(coloured.starts_with("\x1b[94m["));
    /// ```
    pub fn as_human_readable_with(&self, options: &RenderOptions) -> String {
        human_readable(self, options)
    }
}
