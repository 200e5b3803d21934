//! [`snapshot`]: a trace (or conversation) as stable text.

use std::collections::HashMap;
use std::fmt::Write;

use crate::analysis::forest::Forest;
use crate::format::escape;
use crate::{SpanStatus, Trace, Value};

/// The attributes a [`Snapshot`] shows unless told otherwise: what an agent did and said,
/// in the conventions tracekit writes (patterns: a trailing `*` is a prefix).
const DEFAULT_ATTRIBUTES: [&str; 19] = [
    "ai.trace.type",
    "ai.conversation.id",
    "ai.user.input",
    "ai.agent.response",
    "ai.tool.name",
    "ai.tool.input",
    "ai.tool.output",
    "ai.tool.error",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.tool.name",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.evaluation.*",
    "error.type",
    "exception.message",
    "cancelled",
];

/// How [`snapshot`] writes spans: which attributes, which redacted, whether with times.
///
/// ```
/// use tracekit::testing::Snapshot;
/// let tracer = tracekit::Tracer::in_memory(10);
/// {
///     let turn = tracer.trace("turn");
///     turn.add_attribute("api.key", "sk-123").add_attribute("answer", "42");
/// }
/// let spans = tracer.get_traces(&Default::default()).unwrap();
/// let text = Snapshot::new().attribute("answer").attribute("api.*").redact("api.key").render(&spans);
/// assert_eq!(text, "turn (INTERNAL)\n  answer: \"42\"\n  api.key: [redacted]\n");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    attributes: Vec<String>,
    all: bool,
    redact: Vec<String>,
    times: bool,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            attributes: DEFAULT_ATTRIBUTES.map(String::from).to_vec(),
            all: false,
            redact: Vec::new(),
            times: false,
        }
    }
}

impl Snapshot {
    /// The defaults: the attributes that say what the agent did (tool names and arguments,
    /// models, tokens, inputs and answers, errors, evaluations), no times.
    pub fn new() -> Self {
        Snapshot::default()
    }

    /// Also shows attributes matching `pattern` (a key, or a prefix ending with `*`).
    pub fn attribute(mut self, pattern: impl Into<String>) -> Self {
        self.attributes.push(pattern.into());
        self
    }

    /// Shows only attributes matching `patterns` (none: names, kinds and statuses alone).
    pub fn only<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.attributes = patterns.into_iter().map(Into::into).collect();
        self.all = false;
        self
    }

    /// Shows every attribute.
    pub fn all_attributes(mut self) -> Self {
        self.all = true;
        self
    }

    /// Writes `[redacted]` for attributes matching `pattern` (secrets, timestamps of your own).
    pub fn redact(mut self, pattern: impl Into<String>) -> Self {
        self.redact.push(pattern.into());
        self
    }

    /// Adds each span's start (from the first span) and duration. They change from run to
    /// run: for reading, not for snapshots.
    pub fn times(mut self, on: bool) -> Self {
        self.times = on;
        self
    }

    /// The spans as text: one line per span (`name (KIND)`, `, ERROR` or `, OK` when set),
    /// indented as a tree, roots and siblings in start order (then by name), each followed by
    /// its shown attributes, sorted, where they differ from its parent's; ids that attributes
    /// carry are numbered (`<id-1>`) in order of appearance.
    pub fn render(&self, spans: &[Trace]) -> String {
        let mut forest = Forest::new(spans);
        // Start order, then name: ids (the forest's tie-break) differ from run to run.
        let stable = |v: &mut Vec<usize>| {
            v.sort_by(|&a, &b| {
                (spans[a].started_at, &spans[a].span_name)
                    .cmp(&(spans[b].started_at, &spans[b].span_name))
            })
        };
        forest.children.iter_mut().for_each(stable);
        stable(&mut forest.roots);
        let parents = forest.parents();
        let first = spans.iter().map(|s| s.started_at).min();
        let mut ids = Ids::default();
        let mut out = String::new();
        // Whether each open level has more siblings below: `│` or blank.
        let mut open: Vec<bool> = Vec::new();
        let last = forest.last_of_siblings();
        for (i, depth) in forest.depth_first() {
            let s = &spans[i];
            open.truncate(depth);
            let prefix: String = open
                .iter()
                .skip(1)
                .map(|&more| if more { "│  " } else { "   " })
                .collect();
            let branch = match depth {
                0 => "",
                _ if last[i] => "└─ ",
                _ => "├─ ",
            };
            let _ = write!(
                out,
                "{prefix}{branch}{} ({}",
                escape(&s.span_name),
                s.span_kind.as_str()
            );
            match s.span_status {
                SpanStatus::Unset => {}
                status => {
                    let _ = write!(out, ", {}", status.as_str());
                }
            }
            out.push(')');
            if let (true, Some(first), Some(d)) = (self.times, first, s.duration()) {
                let offset = s.started_at.unix_nanos().saturating_sub(first.unix_nanos());
                let _ = write!(
                    out,
                    " +{:.3} ms {:.3} ms",
                    offset as f64 / 1e6,
                    d.as_secs_f64() * 1e3
                );
            }
            out.push('\n');
            let below = if depth == 0 {
                String::new()
            } else {
                format!("{prefix}{}", if last[i] { "   " } else { "│  " })
            };
            let has_children = !forest.children[i].is_empty();
            let bar = if has_children { "│ " } else { "  " };
            let mut keys: Vec<(&str, &Value)> = s
                .attributes
                .iter()
                .filter(|(k, _)| self.all || matches(&self.attributes, k))
                .filter(|(k, v)| parents[i].is_none_or(|p| spans[p].attributes.get(k) != Some(*v)))
                .collect();
            keys.sort_by_key(|(k, _)| *k);
            for (k, v) in keys {
                let text = if matches(&self.redact, k) {
                    "[redacted]".to_owned()
                } else if k.ends_with(".id") || k.ends_with("_id") {
                    ids.name(v)
                } else {
                    escape(&serde_json::to_string(v).unwrap_or_default()).into_owned()
                };
                let _ = writeln!(out, "{below}{bar}{}: {text}", escape(k));
            }
            open.push(!last[i]);
        }
        out
    }
}

/// Whether `key` matches one of `patterns` (exact, or a prefix ending with `*`).
fn matches(patterns: &[String], key: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => key == p,
    })
}

/// Ids as `<id-1>`, `<id-2>`, …, the same value the same name.
#[derive(Default)]
struct Ids(HashMap<String, usize>);

impl Ids {
    fn name(&mut self, value: &Value) -> String {
        let next = self.0.len() + 1;
        let n = *self.0.entry(value.to_string()).or_insert(next);
        format!("<id-{n}>")
    }
}

/// The spans as stable text, with [`Snapshot`]'s defaults: the tree of names, kinds and
/// statuses with the attributes that say what the agent did; no ids, timestamps or
/// durations. For `insta::assert_snapshot!` or a golden file.
pub fn snapshot(spans: &[Trace]) -> String {
    Snapshot::new().render(spans)
}
