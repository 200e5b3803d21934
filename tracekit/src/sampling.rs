//! [`Sampler`]: which traces a tracer keeps, given to any tracer with
//! [`Tracer::with_sampler`](crate::Tracer::with_sampler).
//!
//! Two ways to keep fewer traces, which can be combined:
//!
//! * **Head sampling** ([`Sampler::ratio`]) decides when a trace starts, from its trace id, as
//!   OpenTelemetry's `ParentBased(TraceIdRatioBased)` does (the same arithmetic, so services
//!   with either SDK and the same ratio make the same decision for a trace). A span with a
//!   parent follows it: a local parent's decision, or a caller's W3C `sampled` flag (a tracer
//!   without head sampling records every trace, whatever its callers decided, and says so)
//!   ([`RemoteContext::is_sampled`](crate::propagation::RemoteContext::is_sampled)). A span
//!   that is not sampled is still a span for the code (ids, current span, inheritable
//!   attributes, `traceparent` with `sampled` off for the services it calls) but is never
//!   handed to the backend: it costs its start and end, nothing more.
//! * **Tail sampling** ([`Sampler::tail`]) decides once a trace's root has ended, on the whole
//!   trace, on the tracer's writer thread (queued tracers only: SQLite, DynamoDB, OTLP,
//!   [`Tracer::batched`](crate::Tracer::batched), [`Tracer::in_background`](crate::Tracer::in_background)):
//!   keep it if a span failed, if it cost or used enough, if a user's feedback was low, if an
//!   attribute says so, or else by a base ratio. A trace is kept or dropped whole; spans that
//!   end after the decision follow it.
//!
//! The counts are in [`Stats`](crate::Stats): `traces_kept`, `traces_sampled_out`,
//! `spans_sampled_out`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::semconv;
use crate::{Error, Key, SpanStatus, Trace, TraceId, Value};

/// Which traces a tracer keeps: a head ratio, tail rules, or both (the tail rules then see
/// only the traces the head kept).
///
/// ```
/// use std::time::Duration;
/// use tracekit::{Sampler, Tracer};
///
/// // Every failed, expensive or badly rated turn, and 10 % of the rest.
/// let sampler = Sampler::tail()
///     .keep_errors()
///     .keep_cost_at_least(0.05)
///     .keep_tokens_at_least(20_000)
///     .keep_feedback_below(0.5)
///     .keep_attribute("ai.user.tier", "enterprise")
///     .otherwise(0.1)
///     .decision_wait(Duration::from_secs(2));
/// # let path = std::env::temp_dir().join(format!("sampler-doc-{}.db", std::process::id()));
/// let tracer = Tracer::sqlite(&path)?.with_sampler(sampler)?;
/// # drop(tracer);
/// # let _ = std::fs::remove_file(&path);
/// # Ok::<(), tracekit::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "a sampler does nothing until it is given to `Tracer::with_sampler`"]
pub struct Sampler {
    /// The head ratio; `None`: no head sampling (every trace, whatever a caller decided).
    head: Option<f64>,
    tail: Option<Arc<TailRules>>,
}

/// What tail sampling keeps, and how long it holds traces.
#[derive(Clone)]
pub(crate) struct TailRules {
    errors: bool,
    cost_usd: Option<f64>,
    tokens: Option<u64>,
    feedback_below: Option<f64>,
    attributes: Vec<(Key, Value)>,
    custom: Vec<Arc<KeepFn>>,
    otherwise: f64,
    /// Spans held for undecided traces at most; past it, the oldest traces are decided.
    pub(crate) max_pending_spans: usize,
    /// How long after its root ends a trace waits for late spans (feedback) before the
    /// decision.
    pub(crate) decision_wait: Duration,
}

/// A rule of the user's: keep the trace if it returns `true` for its spans.
type KeepFn = dyn Fn(&[Trace]) -> bool + Send + Sync;

impl Default for Sampler {
    fn default() -> Self {
        Sampler::always()
    }
}

impl Sampler {
    /// Keeps every trace, whatever a caller decided (what a tracer does without a sampler).
    pub fn always() -> Sampler {
        Sampler {
            head: None,
            tail: None,
        }
    }

    /// Head sampling: keeps this share of new traces (0 to 1), chosen by trace id; spans with
    /// a parent follow the parent's decision (a caller's W3C `sampled` flag included).
    ///
    /// ```
    /// let tracer = tracekit::Tracer::in_memory(100).with_sampler(tracekit::Sampler::ratio(0.0))?;
    /// let span = tracer.trace("turn");
    /// assert!(!span.is_sampled());
    /// drop(span);
    /// assert_eq!(tracer.stats().traces_sampled_out, 1);
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn ratio(ratio: f64) -> Sampler {
        Sampler {
            head: Some(ratio),
            tail: None,
        }
    }

    /// Tail sampling with no rule yet: add `keep_*` rules and a base ratio
    /// ([`otherwise`](Self::otherwise), 0 unless set: only traces a rule keeps are kept).
    pub fn tail() -> Sampler {
        Sampler::always().rules(|_| {})
    }

    fn rules(mut self, change: impl FnOnce(&mut TailRules)) -> Sampler {
        let tail = self.tail.get_or_insert_with(|| {
            Arc::new(TailRules {
                errors: false,
                cost_usd: None,
                tokens: None,
                feedback_below: None,
                attributes: Vec::new(),
                custom: Vec::new(),
                otherwise: 0.0,
                max_pending_spans: 100_000,
                decision_wait: Duration::ZERO,
            })
        });
        change(Arc::make_mut(tail));
        self
    }

    /// Head sampling before the tail rules: only this share of traces is recorded at all.
    pub fn head_ratio(mut self, ratio: f64) -> Sampler {
        self.head = Some(ratio);
        self
    }

    /// Keeps a trace in which any span failed (status `Error`).
    pub fn keep_errors(self) -> Sampler {
        self.rules(|r| r.errors = true)
    }

    /// Keeps a trace whose LLM calls cost at least `usd` US dollars in all (the
    /// `tracekit.cost.usd` the genai helpers and the tracing bridge write).
    pub fn keep_cost_at_least(self, usd: f64) -> Sampler {
        self.rules(|r| r.cost_usd = Some(usd))
    }

    /// Keeps a trace whose LLM calls used at least `tokens` input plus output tokens in all
    /// (any convention `analysis::summary` reads).
    pub fn keep_tokens_at_least(self, tokens: u64) -> Sampler {
        self.rules(|r| r.tokens = Some(tokens))
    }

    /// Keeps a trace with a user's feedback scored below `score` (0 to 1; a thumbs-down is
    /// 0), recorded with [`eval::log_feedback`](crate::eval::log_feedback) before the
    /// decision: while the trace runs, or within [`decision_wait`](Self::decision_wait) of
    /// its root's end.
    pub fn keep_feedback_below(self, score: f64) -> Sampler {
        self.rules(|r| r.feedback_below = Some(score))
    }

    /// Keeps a trace in which any span has attribute `key` equal to `value`.
    pub fn keep_attribute(self, key: impl Into<Key>, value: impl Into<Value>) -> Sampler {
        self.rules(|r| r.attributes.push((key.into(), value.into())))
    }

    /// Keeps a trace for which `rule` returns `true`, given its spans (in the order they
    /// ended). It runs on the tracer's writer thread; a panic counts as `true`.
    pub fn keep_if(self, rule: impl Fn(&[Trace]) -> bool + Send + Sync + 'static) -> Sampler {
        self.rules(|r| r.custom.push(Arc::new(rule)))
    }

    /// The share of the traces no rule keeps that are kept all the same (0 to 1), chosen by
    /// trace id as [`ratio`](Self::ratio) is.
    pub fn otherwise(self, ratio: f64) -> Sampler {
        self.rules(|r| r.otherwise = ratio)
    }

    /// How many spans of undecided traces the writer holds at most (default 100 000); past
    /// it, the oldest traces are decided on what has arrived, and their later spans follow.
    pub fn max_pending_spans(self, spans: usize) -> Sampler {
        self.rules(|r| r.max_pending_spans = spans.max(1))
    }

    /// How long a trace waits after its root ends for late spans, such as a user's feedback,
    /// before it is decided (default 0: at once). Shutdown and exit decide at once.
    pub fn decision_wait(self, wait: Duration) -> Sampler {
        self.rules(|r| r.decision_wait = wait)
    }

    /// Every ratio between 0 and 1, amounts finite and not negative.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let check = |setting: &'static str, value: f64, max: f64| {
            if value.is_finite() && (0.0..=max).contains(&value) {
                Ok(())
            } else {
                Err(Error::Config {
                    setting,
                    value: value.to_string(),
                    problem: if max == 1.0 {
                        "expected a share from 0 to 1".into()
                    } else {
                        "expected a finite amount, 0 or more".into()
                    },
                })
            }
        };
        if let Some(ratio) = self.head {
            check("Sampler::ratio", ratio, 1.0)?;
        }
        if let Some(tail) = &self.tail {
            check("Sampler::otherwise", tail.otherwise, 1.0)?;
            if let Some(usd) = tail.cost_usd {
                check("Sampler::keep_cost_at_least", usd, f64::MAX)?;
            }
            if let Some(score) = tail.feedback_below {
                check("Sampler::keep_feedback_below", score, 1.0)?;
            }
        }
        Ok(())
    }

    /// The head decision's threshold ([`by_trace_id`]); `None` without head sampling.
    pub(crate) fn head_threshold(&self) -> Option<u64> {
        self.head.map(threshold)
    }

    /// The tail rules, if any.
    pub(crate) fn tail_rules(&self) -> Option<Arc<TailRules>> {
        self.tail.clone()
    }
}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Sampler");
        d.field("head", &self.head);
        if let Some(t) = &self.tail {
            d.field("keep_errors", &t.errors)
                .field("keep_cost_at_least", &t.cost_usd)
                .field("keep_tokens_at_least", &t.tokens)
                .field("keep_feedback_below", &t.feedback_below)
                .field("keep_attribute", &t.attributes)
                .field("keep_if", &t.custom.len())
                .field("otherwise", &t.otherwise)
                .field("max_pending_spans", &t.max_pending_spans)
                .field("decision_wait", &t.decision_wait);
        }
        d.finish()
    }
}

/// Every trace passes this threshold.
const ALWAYS: u64 = 1 << 63;

/// OpenTelemetry's `TraceIdRatioBased` bound for `ratio`.
fn threshold(ratio: f64) -> u64 {
    if ratio >= 1.0 {
        ALWAYS
    } else {
        (ratio.max(0.0) * ALWAYS as f64) as u64
    }
}

/// Whether `trace_id` falls within the share `threshold` stands for: OpenTelemetry's
/// arithmetic (the id's last 8 bytes, big-endian, shifted right once, below the bound), so
/// the decision is the same in every process that sees the trace.
#[inline]
pub(crate) fn by_trace_id(trace_id: TraceId, threshold: u64) -> bool {
    ((trace_id.to_int() as u64) >> 1) < threshold
}

impl TailRules {
    /// Whether the trace `spans` make up (ended ones, in any order) is kept.
    pub(crate) fn keeps(&self, trace_id: TraceId, spans: &[Trace]) -> bool {
        if self.errors && spans.iter().any(|s| s.span_status == SpanStatus::Error) {
            return true;
        }
        if let Some(usd) = self.cost_usd {
            if spans.iter().filter_map(semconv::cost).sum::<f64>() >= usd {
                return true;
            }
        }
        if let Some(tokens) = self.tokens {
            if spans
                .iter()
                .map(|s| semconv::tokens(s).total())
                .sum::<u64>()
                >= tokens
            {
                return true;
            }
        }
        if let Some(below) = self.feedback_below {
            if spans
                .iter()
                .any(|s| feedback_score(s).is_some_and(|v| v < below))
            {
                return true;
            }
        }
        if self
            .attributes
            .iter()
            .any(|(key, value)| spans.iter().any(|s| s.attributes.get(key) == Some(value)))
        {
            return true;
        }
        if self.custom.iter().any(|rule| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rule(spans))).unwrap_or(true)
        }) {
            return true;
        }
        by_trace_id(trace_id, threshold(self.otherwise))
    }
}

/// A user's feedback score on this span, if it is a feedback span (`eval::log_feedback`):
/// `gen_ai.evaluation.name = user_feedback` with a score.
fn feedback_score(span: &Trace) -> Option<f64> {
    if span.attributes.get("gen_ai.evaluation.name")?.as_str()? != "user_feedback" {
        return None;
    }
    span.attributes
        .get("gen_ai.evaluation.score.value")?
        .as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_arithmetic_is_opentelemetrys() {
        // OpenTelemetry keeps a trace when its last 8 bytes >> 1 fall below ratio * 2^63.
        let id = |low: u64| TraceId::from_int(1 << 64 | u128::from(low)).unwrap();
        assert!(by_trace_id(id(u64::MAX), threshold(1.0)));
        assert!(!by_trace_id(id(0), threshold(0.0)));
        assert!(by_trace_id(id(0x7fff_ffff_ffff_fffe), threshold(0.5)));
        assert!(!by_trace_id(id(0x8000_0000_0000_0000), threshold(0.5)));
    }

    #[test]
    fn ratios_outside_zero_to_one_are_refused() {
        assert!(Sampler::ratio(1.5).validate().is_err());
        assert!(Sampler::ratio(f64::NAN).validate().is_err());
        assert!(Sampler::tail().otherwise(-0.1).validate().is_err());
        assert!(Sampler::tail()
            .keep_cost_at_least(f64::INFINITY)
            .validate()
            .is_err());
        assert!(Sampler::tail().keep_feedback_below(2.0).validate().is_err());
        assert!(Sampler::ratio(0.25).otherwise(0.5).validate().is_ok());
    }
}
