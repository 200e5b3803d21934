use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use super::writer::LineWriter;
use crate::format::{ColorChoice, RenderOptions};
use crate::{Error, FinishedSpan, Key, Sink, SinkStats, Timestamp, Trace, Value};

/// Prints each finished span in the reference's human-readable format; from
/// [`Tracer::human_readable`](crate::Tracer::human_readable).
///
/// Defaults as the reference: detail values cut to `max(COLUMNS - 40, 80)` characters per
/// line (`COLUMNS` unset or not a number: 80) and 4 lines; a blank line after each span.
/// Snapshots of open spans whose `ai.trace.type` is `llm-invocation` or `tool-invocation` are
/// printed too, all in gray, at most one every 0.3 s (the throttle is shared by all spans, so
/// a streaming response does not flood the terminal).
/// Control characters in recorded values are escaped so they cannot drive the terminal.
/// Write errors are counted in [`Tracer::stats`](crate::Tracer::stats); the first is
/// printed on stderr.
///
/// ```
/// use tracekit::sinks::{ColorChoice, HumanReadable};
/// let sink = HumanReadable::new(std::io::stdout()).color(ColorChoice::Never).max_length(100);
/// let tracer = tracekit::Tracer::new(sink);
/// tracer.set_resource_attribute("service.name", "MyAgent");
/// drop(tracer.trace("hello")); // prints "[<trace id>/root/<span id>] MyAgent INTERNAL hello - ..."
/// ```
#[must_use = "a sink records nothing until it is given to `Tracer::new`"]
pub struct HumanReadable {
    out: LineWriter,
    options: RenderOptions,
    color: ColorChoice,
    snapshot_types: Vec<Key>,
    snapshot_every: Duration,
    /// When the last snapshot was printed (Unix nanoseconds).
    last_snapshot: AtomicI64,
}

impl std::fmt::Debug for HumanReadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HumanReadable")
            .field("options", &self.options)
            .field("color", &self.color)
            .field("snapshot_types", &self.snapshot_types)
            .field("snapshot_every", &self.snapshot_every)
            .finish_non_exhaustive()
    }
}

/// The `ai.trace.type`s whose snapshots are printed by default, as in the reference.
const SNAPSHOT_TYPES: [&str; 2] = ["llm-invocation", "tool-invocation"];

impl HumanReadable {
    /// Prints to `writer`.
    pub fn new<W: Write + Send + 'static>(writer: W) -> Self {
        let out = LineWriter::new(writer);
        let mut options = RenderOptions::default()
            .max_length(default_max_length(std::env::var("COLUMNS").ok().as_deref()))
            .max_lines(4);
        options.color = resolve(ColorChoice::Auto, out.terminal);
        HumanReadable {
            out,
            options,
            color: ColorChoice::Auto,
            snapshot_types: SNAPSHOT_TYPES.map(Key::Borrowed).to_vec(),
            snapshot_every: Duration::from_millis(300),
            last_snapshot: AtomicI64::new(i64::MIN),
        }
    }

    /// Which `ai.trace.type`s have their snapshots printed (default `llm-invocation` and
    /// `tool-invocation`); empty turns snapshots off.
    pub fn snapshot_trace_types<K: Into<Key>>(
        mut self,
        types: impl IntoIterator<Item = K>,
    ) -> Self {
        self.snapshot_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// At most one snapshot per this interval (default 0.3 s).
    pub fn snapshot_every(mut self, interval: Duration) -> Self {
        self.snapshot_every = interval;
        self
    }

    /// Whether enough time passed since the last printed snapshot; claims the slot if so.
    fn snapshot_due(&self) -> bool {
        let now = Timestamp::now().unix_nanos();
        let every = i64::try_from(self.snapshot_every.as_nanos()).unwrap_or(i64::MAX);
        let last = self.last_snapshot.load(Ordering::Relaxed);
        now.saturating_sub(last) >= every
            && self
                .last_snapshot
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Chooses colours (default [`ColorChoice::Auto`]).
    pub fn color(mut self, choice: ColorChoice) -> Self {
        self.color = choice;
        self.options.color = resolve(choice, self.out.terminal);
        self
    }

    /// Characters per detail line.
    pub fn max_length(mut self, chars: usize) -> Self {
        self.options.max_length = chars;
        self
    }

    /// Lines per detail value.
    pub fn max_lines(mut self, lines: usize) -> Self {
        self.options.max_lines = Some(lines);
        self
    }

    /// The colour choice.
    pub fn color_choice(&self) -> ColorChoice {
        self.color
    }

    /// The layout in use (with the colour choice resolved).
    pub fn options(&self) -> &RenderOptions {
        &self.options
    }
}

fn resolve(choice: ColorChoice, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// The reference's default width: terminal columns minus 40, at least 80.
fn default_max_length(columns: Option<&str>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .map_or(80, |c| c.saturating_sub(40).max(80))
}

impl HumanReadable {
    fn print(&self, trace: &Trace) {
        let mut text = trace.as_human_readable_with(&self.options);
        text.push('\n');
        self.out.write(self.name(), text.as_bytes());
    }
}

impl Sink for HumanReadable {
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        self.print(&span.to_trace());
    }

    fn persist(&self, trace: &Trace) {
        self.print(trace);
    }

    fn persist_snapshot(&self, snapshot: &Trace) {
        let wanted = snapshot
            .attributes
            .get("ai.trace.type")
            .and_then(Value::as_str)
            .is_some_and(|t| self.snapshot_types.iter().any(|w| w == t));
        if wanted && self.snapshot_due() {
            self.print(snapshot);
        }
    }

    fn snapshot_enabled(&self) -> bool {
        !self.snapshot_types.is_empty()
    }

    fn flush(&self, _deadline: Instant) -> Result<(), Error> {
        self.out.flush(self.name())
    }

    fn stats(&self) -> SinkStats {
        self.out.stats()
    }

    fn name(&self) -> &'static str {
        "human_readable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_follows_columns_with_a_floor_and_a_fallback() {
        assert_eq!(default_max_length(None), 80);
        assert_eq!(default_max_length(Some("200")), 160);
        assert_eq!(default_max_length(Some("100")), 80);
        assert_eq!(default_max_length(Some("wide")), 80);
    }

    #[test]
    fn auto_colour_needs_a_terminal() {
        assert!(!resolve(ColorChoice::Auto, false));
        assert!(resolve(ColorChoice::Always, false));
        assert!(!resolve(ColorChoice::Never, true));
        assert!(!HumanReadable::new(Vec::new()).options().color);
    }
}
