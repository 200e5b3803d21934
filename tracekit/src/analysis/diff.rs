//! [`diff`]: what changed between two traces or conversations (yesterday's run and today's).
//!
//! The two sets of spans are aligned as trees: roots with roots, then each matched span's
//! children with the other's, by name and kind in start order, tolerant of inserted and
//! removed spans (a longest common subsequence after the common start and end are set
//! aside). Ids and times never count as changes; tokens, cost and durations are compared as
//! totals per kind of span, against [`Tolerances`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use super::forest::Forest;
use super::summary::{cost, role, tokens, Role};
use super::tool_calls::{tool_calls, ToolCall};
use crate::semconv::replay;
use crate::{SpanStatus, Trace, Value};

/// The most cells the alignment table of one list of siblings may have; longer lists (after
/// their common start and end) are compared position by position.
const MAX_TABLE: usize = 4_000_000;

/// What [`diff_with`] ignores: attribute keys, exact or ending with `*` for a prefix.
///
/// By default ids (keys ending in `.id` or `_id`), measurements (tokens, cost, latencies),
/// which [`TraceDiff::totals`] compares instead, and what [`replay`](crate::replay) recorded
/// (`tracekit.replay.*`).
///
/// ```
/// use tracekit::analysis::{diff_with, DiffOptions};
/// let run = |input: &str| {
///     let tracer = tracekit::Tracer::in_memory(10);
///     tracer.trace("turn").add_attribute("ai.user.input", input);
///     tracer.get_traces(&Default::default()).unwrap()
/// };
/// let options = DiffOptions::new().ignore("ai.user.*");
/// assert!(diff_with(&run("hi"), &run("hello"), &options).is_same());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DiffOptions {
    ignore: Vec<String>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            ignore: [
                "*.id",
                "*_id",
                "gen_ai.usage.*",
                "llm.token_count.*",
                "tracekit.cost.*",
                "llm.cost.*",
                "ai.llm.response.usage*",
                "ai.llm.response.metrics*",
                "gen_ai.response.time_to_first_chunk",
                "gen_ai.server.time_*",
                // What replay recorded or replayed: the tape, not the behaviour.
                "tracekit.replay.*",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl DiffOptions {
    /// The defaults (ids and measurements ignored).
    pub fn new() -> Self {
        DiffOptions::default()
    }

    /// Also ignores `key` (exact, or a prefix when it ends with `*`; `*` at the start: a
    /// suffix).
    pub fn ignore(mut self, key: impl Into<String>) -> Self {
        self.ignore.push(key.into());
        self
    }

    fn ignored(&self, key: &str) -> bool {
        self.ignore.iter().any(|pattern| {
            if let Some(prefix) = pattern.strip_suffix('*') {
                key.starts_with(prefix)
            } else if let Some(suffix) = pattern.strip_prefix('*') {
                key.ends_with(suffix)
            } else {
                key == pattern
            }
        })
    }
}

/// One difference, at a span.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// A span only the second set has.
    Added,
    /// A span only the first set has.
    Removed,
    /// The span's status changed.
    Status {
        /// Before.
        from: SpanStatus,
        /// After.
        to: SpanStatus,
    },
    /// An attribute changed, appeared (`from: None`) or went (`to: None`).
    Attribute {
        /// The key.
        key: String,
        /// Before.
        from: Option<Value>,
        /// After.
        to: Option<Value>,
    },
}

/// A [`Change`] and where: the path of span names from the root, with `#n` where siblings
/// share a name (`converse > llm-invocation #3`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SpanChange {
    /// The span's path.
    pub path: String,
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
}

/// Totals for one kind of span (`llm`, `tool`, `other`), before and after.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct KindTotals {
    /// Spans.
    pub spans: (usize, usize),
    /// Tokens, input plus output.
    pub tokens: (u64, u64),
    /// Cost in US dollars (priced calls).
    pub cost_usd: (f64, f64),
    /// Time in these spans, milliseconds.
    pub duration_ms: (f64, f64),
}

/// Limits on growth that [`TraceDiff::beyond`] checks, as fractions (0.1 is 10 %).
///
/// ```
/// use tracekit::analysis::{diff, Tolerances};
/// use tracekit::genai::{GenAi, Usage};
/// let run = |input: u64| {
///     let tracer = tracekit::Tracer::in_memory(10);
///     let genai = GenAi::new();
///     {
///         let _turn = tracer.trace("turn");
///         let call = genai.chat(&tracer, "openai", "gpt-4o").start();
///         genai.record_usage(&call, "gpt-4o", &Usage::new(input, 100));
///     }
///     tracer.get_traces(&Default::default()).unwrap()
/// };
/// let report = diff(&run(1_000), &run(1_500));
/// assert!(report.is_same()); // same spans; tokens are measurements
/// let limits = Tolerances { max_tokens_increase: Some(0.10), ..Tolerances::default() };
/// assert!(report.beyond(&limits)[0].starts_with("tokens grew +45.5 %"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tolerances {
    /// Most the total cost may grow.
    pub max_cost_increase: Option<f64>,
    /// Most the total tokens may grow.
    pub max_tokens_increase: Option<f64>,
    /// Most the total time may grow (the sum of the traces' wall times).
    pub max_duration_increase: Option<f64>,
}

/// What [`diff`] found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TraceDiff {
    /// Every difference, in the order of the aligned tree (depth first).
    pub changes: Vec<SpanChange>,
    /// The tool calls of each side, when their sequences (names and arguments) differ.
    pub tool_calls: Option<(Vec<ToolCall>, Vec<ToolCall>)>,
    /// Tokens, cost and time per kind of span.
    pub totals: BTreeMap<&'static str, KindTotals>,
    /// The traces' wall time, milliseconds, before and after.
    pub wall_ms: (f64, f64),
}

impl TraceDiff {
    /// Whether the two have the same shape, statuses, attributes (ignored ones aside) and
    /// tool calls.
    pub fn is_same(&self) -> bool {
        self.changes.is_empty() && self.tool_calls.is_none()
    }

    /// The first difference in tree order: where the runs diverge.
    pub fn first_divergence(&self) -> Option<&SpanChange> {
        self.changes.first()
    }

    /// What grew beyond `tolerances`, one sentence each; empty if nothing did.
    pub fn beyond(&self, tolerances: &Tolerances) -> Vec<String> {
        let sum = |f: &dyn Fn(&KindTotals) -> (f64, f64)| {
            self.totals
                .values()
                .map(f)
                .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y))
        };
        let checks = [
            ("cost", tolerances.max_cost_increase, sum(&|t| t.cost_usd)),
            (
                "tokens",
                tolerances.max_tokens_increase,
                sum(&|t| (t.tokens.0 as f64, t.tokens.1 as f64)),
            ),
            ("time", tolerances.max_duration_increase, self.wall_ms),
        ];
        checks
            .into_iter()
            .filter_map(|(what, limit, (before, after))| {
                let limit = limit?;
                let grown = if before > 0.0 {
                    (after - before) / before
                } else if after > 0.0 {
                    f64::INFINITY
                } else {
                    0.0
                };
                (grown > limit).then(|| {
                    format!(
                        "{what} grew {} (from {} to {}), more than the {:.0} % allowed",
                        percent(grown),
                        round(before),
                        round(after),
                        limit * 100.0
                    )
                })
            })
            .collect()
    }
}

fn percent(fraction: f64) -> String {
    if fraction.is_finite() {
        format!("{:+.1} %", fraction * 100.0)
    } else {
        "from nothing".to_owned()
    }
}

fn round(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v}")
    } else {
        format!("{v:.4}")
    }
}

/// What changed from `before` to `after` (two traces, or two conversations' spans), with ids
/// and measurements ignored ([`DiffOptions::default`]).
///
/// ```
/// use tracekit::analysis::diff;
/// let run = |tools: &[&'static str]| {
///     let tracer = tracekit::Tracer::in_memory(100);
///     {
///         let _turn = tracer.trace("turn");
///         for tool in tools {
///             drop(tracer.trace(*tool));
///         }
///     }
///     tracer.get_traces(&Default::default()).unwrap()
/// };
/// assert!(diff(&run(&["search", "answer"]), &run(&["search", "answer"])).is_same());
/// let changed = diff(&run(&["search", "answer"]), &run(&["search", "fetch", "answer"]));
/// assert_eq!(changed.first_divergence().unwrap().path, "turn > fetch");
/// ```
pub fn diff(before: &[Trace], after: &[Trace]) -> TraceDiff {
    diff_with(before, after, &DiffOptions::default())
}

/// [`diff`] with what to ignore.
///
/// Recorded HTTP exchanges ([`replay`](crate::replay)'s spans) are left out of both sides:
/// they are the tape the run was answered from, not what the agent did.
pub fn diff_with(before: &[Trace], after: &[Trace], options: &DiffOptions) -> TraceDiff {
    let (before, after) = (without_recordings(before), without_recordings(after));
    diff_spans(&before, &after, options)
}

fn without_recordings(spans: &[Trace]) -> std::borrow::Cow<'_, [Trace]> {
    let recording = |t: &Trace| t.attributes.contains_key(replay::REQUEST_METHOD);
    if spans.iter().any(recording) {
        spans.iter().filter(|t| !recording(t)).cloned().collect()
    } else {
        std::borrow::Cow::Borrowed(spans)
    }
}

fn diff_spans(before: &[Trace], after: &[Trace], options: &DiffOptions) -> TraceDiff {
    let (a, b) = (Forest::new(before), Forest::new(after));
    let mut changes = Vec::new();
    // Depth first, in order: each list of siblings is aligned, and each matched pair is
    // compared before the next sibling.
    let mut stack: Vec<Step> = vec![Step::Siblings {
        a: a.roots.clone(),
        b: b.roots.clone(),
        path: String::new(),
        parent: None,
    }];
    while let Some(step) = stack.pop() {
        match step {
            Step::Siblings {
                a: left,
                b: right,
                path,
                parent,
            } => {
                let names_a = ordinals(&left, before);
                let names_b = ordinals(&right, after);
                let pairs = align(&left, &right, before, after);
                // Pushed in reverse so they pop in order.
                for pair in pairs.into_iter().rev() {
                    let (name, i, j) = match pair {
                        Pair::Both(i, j) => (&names_b[&j], Some(i), Some(j)),
                        Pair::OnlyA(i) => (&names_a[&i], Some(i), None),
                        Pair::OnlyB(j) => (&names_b[&j], None, Some(j)),
                    };
                    let path = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path} > {name}")
                    };
                    stack.push(match (i, j) {
                        (Some(i), Some(j)) => Step::Pair { i, j, parent, path },
                        (Some(_), None) => Step::Only(SpanChange {
                            path,
                            change: Change::Removed,
                        }),
                        _ => Step::Only(SpanChange {
                            path,
                            change: Change::Added,
                        }),
                    });
                }
            }
            Step::Only(change) => changes.push(change),
            Step::Pair { i, j, parent, path } => {
                let (x, y) = (&before[i], &after[j]);
                if x.span_status != y.span_status {
                    changes.push(SpanChange {
                        path: path.clone(),
                        change: Change::Status {
                            from: x.span_status,
                            to: y.span_status,
                        },
                    });
                }
                for change in attribute_changes(x, y, options) {
                    // An inherited value that changed on the parent too is the parent's.
                    let inherited = parent.is_some_and(|(pi, pj): (usize, usize)| {
                        let Change::Attribute { key, from, to } = &change else {
                            return false;
                        };
                        before[pi].attributes.get(key.as_str()) == from.as_ref()
                            && after[pj].attributes.get(key.as_str()) == to.as_ref()
                    });
                    if !inherited {
                        changes.push(SpanChange {
                            path: path.clone(),
                            change,
                        });
                    }
                }
                stack.push(Step::Siblings {
                    a: a.children[i].clone(),
                    b: b.children[j].clone(),
                    path,
                    parent: Some((i, j)),
                });
            }
        }
    }
    let (calls_a, calls_b) = (tool_calls(before), tool_calls(after));
    let same_calls = calls_a.len() == calls_b.len()
        && calls_a
            .iter()
            .zip(&calls_b)
            .all(|(x, y)| x.name == y.name && x.arguments == y.arguments);
    let wall = |spans: &[Trace]| super::summary(spans).wall_time.as_secs_f64() * 1e3;
    TraceDiff {
        changes,
        tool_calls: (!same_calls).then_some((calls_a, calls_b)),
        totals: totals(before, after),
        wall_ms: (wall(before), wall(after)),
    }
}

/// Work for the walk of [`diff_with`].
enum Step {
    /// Two lists of siblings to align, under `path`, children of the pair `parent`.
    Siblings {
        a: Vec<usize>,
        b: Vec<usize>,
        path: String,
        parent: Option<(usize, usize)>,
    },
    /// A matched pair at `path`, with the pair of their parents.
    Pair {
        i: usize,
        j: usize,
        parent: Option<(usize, usize)>,
        path: String,
    },
    /// A span on one side only.
    Only(SpanChange),
}

/// How two lists of siblings line up.
enum Pair {
    Both(usize, usize),
    OnlyA(usize),
    OnlyB(usize),
}

type Key<'a> = (&'a str, crate::SpanKind);

fn key(t: &Trace) -> Key<'_> {
    (t.span_name.as_ref(), t.span_kind)
}

/// Each sibling's name in a path: `name`, or `name #n` when siblings share it.
fn ordinals(ids: &[usize], spans: &[Trace]) -> HashMap<usize, String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut total: HashMap<&str, usize> = HashMap::new();
    for &i in ids {
        *total.entry(spans[i].span_name.as_ref()).or_default() += 1;
    }
    ids.iter()
        .map(|&i| {
            let name = spans[i].span_name.as_ref();
            let n = seen.entry(name).or_default();
            *n += 1;
            let text = if total[name] > 1 {
                format!("{name} #{n}")
            } else {
                name.to_owned()
            };
            (i, crate::format::escape(&text).into_owned())
        })
        .collect()
}

/// Lines up two lists of siblings by name and kind: the common start and end, then a longest
/// common subsequence of the middle (position by position if the middle is huge).
fn align(a: &[usize], b: &[usize], sa: &[Trace], sb: &[Trace]) -> Vec<Pair> {
    let same = |i: usize, j: usize| key(&sa[a[i]]) == key(&sb[b[j]]);
    let mut start = 0;
    while start < a.len() && start < b.len() && same(start, start) {
        start += 1;
    }
    let mut end = 0;
    while end < a.len() - start
        && end < b.len() - start
        && same(a.len() - 1 - end, b.len() - 1 - end)
    {
        end += 1;
    }
    let (ma, mb) = (a.len() - start - end, b.len() - start - end);
    let mut out: Vec<Pair> = (0..start).map(|k| Pair::Both(a[k], b[k])).collect();
    if ma.saturating_mul(mb) > MAX_TABLE {
        let common = ma.min(mb);
        for k in 0..common {
            let (i, j) = (start + k, start + k);
            if same(i, j) {
                out.push(Pair::Both(a[i], b[j]));
            } else {
                out.push(Pair::OnlyA(a[i]));
                out.push(Pair::OnlyB(b[j]));
            }
        }
        out.extend((start + common..start + ma).map(|i| Pair::OnlyA(a[i])));
        out.extend((start + common..start + mb).map(|j| Pair::OnlyB(b[j])));
    } else {
        // lengths[i][j]: the longest common subsequence of a[start+i..] and b[start+j..].
        let width = mb + 1;
        let mut lengths = vec![0u32; (ma + 1) * width];
        for i in (0..ma).rev() {
            for j in (0..mb).rev() {
                lengths[i * width + j] = if same(start + i, start + j) {
                    lengths[(i + 1) * width + j + 1] + 1
                } else {
                    lengths[(i + 1) * width + j].max(lengths[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma || j < mb {
            if i < ma && j < mb && same(start + i, start + j) {
                out.push(Pair::Both(a[start + i], b[start + j]));
                i += 1;
                j += 1;
            } else if j < mb
                && (i == ma || lengths[i * width + j + 1] >= lengths[(i + 1) * width + j])
            {
                out.push(Pair::OnlyB(b[start + j]));
                j += 1;
            } else {
                out.push(Pair::OnlyA(a[start + i]));
                i += 1;
            }
        }
    }
    out.extend(
        (0..end)
            .rev()
            .map(|k| Pair::Both(a[a.len() - 1 - k], b[b.len() - 1 - k])),
    );
    out
}

/// The attributes that differ between two matched spans, in key order.
fn attribute_changes(x: &Trace, y: &Trace, options: &DiffOptions) -> Vec<Change> {
    let mut keys: Vec<&str> = x
        .attributes
        .iter()
        .chain(y.attributes.iter())
        .map(|(k, _)| k)
        .filter(|k| !options.ignored(k))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (from, to) = (x.attributes.get(k), y.attributes.get(k));
            (from != to).then(|| Change::Attribute {
                key: k.to_owned(),
                from: from.cloned(),
                to: to.cloned(),
            })
        })
        .collect()
}

/// Per kind of span: counts, tokens, cost and time on each side.
fn totals(before: &[Trace], after: &[Trace]) -> BTreeMap<&'static str, KindTotals> {
    let mut out: BTreeMap<&'static str, KindTotals> = BTreeMap::new();
    for (side, spans) in [(0, before), (1, after)] {
        for s in spans {
            let kind = match role(s) {
                Role::Llm => "llm",
                Role::Tool => "tool",
                Role::Other => "other",
            };
            let t = out.entry(kind).or_default();
            let ms = s.duration().map_or(0.0, |d| d.as_secs_f64() * 1e3);
            let tok = tokens(s).total();
            let usd = cost(s).unwrap_or(0.0);
            let pick = |pair: &mut (f64, f64), v: f64| {
                if side == 0 {
                    pair.0 += v
                } else {
                    pair.1 += v
                }
            };
            pick(&mut t.duration_ms, ms);
            pick(&mut t.cost_usd, usd);
            if side == 0 {
                t.spans.0 += 1;
                t.tokens.0 += tok;
            } else {
                t.spans.1 += 1;
                t.tokens.1 += tok;
            }
        }
    }
    out
}

/// The report for people: the changes (`+` added, `-` removed, `~` changed), the tool calls
/// when they differ, and the totals per kind.
impl fmt::Display for TraceDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first_divergence() {
            None if self.tool_calls.is_none() => {
                writeln!(f, "same: no span, status, attribute or tool call differs")?
            }
            None => writeln!(f, "the tool calls differ")?,
            Some(first) => writeln!(
                f,
                "{} difference{}; first at {} ({})",
                self.changes.len(),
                if self.changes.len() == 1 { "" } else { "s" },
                first.path,
                first.change.word()
            )?,
        }
        for c in &self.changes {
            match &c.change {
                Change::Added => writeln!(f, "+ {}", c.path)?,
                Change::Removed => writeln!(f, "- {}", c.path)?,
                Change::Status { from, to } => writeln!(
                    f,
                    "~ {}: status {} → {}",
                    c.path,
                    from.as_str(),
                    to.as_str()
                )?,
                Change::Attribute { key, from, to } => writeln!(
                    f,
                    "~ {}: {} {} → {}",
                    c.path,
                    crate::format::escape(key),
                    shown(from.as_ref()),
                    shown(to.as_ref())
                )?,
            }
        }
        if let Some((a, b)) = &self.tool_calls {
            writeln!(f, "tool calls before: {}", calls(a))?;
            writeln!(f, "tool calls after:  {}", calls(b))?;
        }
        writeln!(
            f,
            "{:<6} {:>13} {:>21} {:>25} {:>25}",
            "kind", "spans", "tokens", "cost", "time (ms)"
        )?;
        for (kind, t) in &self.totals {
            writeln!(
                f,
                "{:<6} {:>13} {:>21} {:>25} {:>25}",
                kind,
                format!("{} → {}", t.spans.0, t.spans.1),
                format!("{} → {}", t.tokens.0, t.tokens.1),
                format!("${:.4} → ${:.4}", t.cost_usd.0, t.cost_usd.1),
                format!("{:.3} → {:.3}", t.duration_ms.0, t.duration_ms.1),
            )?;
        }
        Ok(())
    }
}

impl Change {
    /// `added`, `removed`, `status`, `attribute KEY`.
    fn word(&self) -> String {
        match self {
            Change::Added => "added".into(),
            Change::Removed => "removed".into(),
            Change::Status { .. } => "status".into(),
            Change::Attribute { key, .. } => format!("attribute {}", crate::format::escape(key)),
        }
    }
}

/// A value on one line, cut at 120 characters; `(none)` when absent.
fn shown(v: Option<&Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(v) => {
            let text = crate::format::escape(&v.to_string()).replace('\n', "\\n");
            if text.chars().count() > 120 {
                text.chars().take(119).collect::<String>() + "…"
            } else {
                text
            }
        }
    }
}

fn calls(list: &[ToolCall]) -> String {
    if list.is_empty() {
        return "(none)".into();
    }
    list.iter()
        .map(|c| match &c.arguments {
            Some(args) => format!("{}({})", crate::format::escape(&c.name), shown(Some(args))),
            None => crate::format::escape(&c.name).into_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
