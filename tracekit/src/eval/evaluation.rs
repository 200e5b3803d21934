//! Evaluation results in the OpenTelemetry GenAI convention: `gen_ai.evaluation.result`.
//!
//! The convention describes an event (a log record) parented to the evaluated span. tracekit
//! records it as a span of that name, a child of the evaluated span with the event's
//! attributes and no duration, for two reasons: a span can be added to a trace that ended
//! long ago or in another process (an evaluation usually runs later, elsewhere), and every
//! store and exporter keeps it with its trace. (genai's OpenTelemetry bridge does the same.)

use super::feedback::{self, FEEDBACK_SPAN};
use super::EvalError;
use crate::{SpanId, Trace, TraceId, Tracer, Value};

/// The name of an evaluation result's span.
pub const EVALUATION_SPAN: &str = "gen_ai.evaluation.result";

/// One evaluation of a GenAI output: a metric's name, a score and/or a label, why.
///
/// ```
/// use tracekit::eval::Evaluation;
/// let e = Evaluation::new("relevance").score(0.92).label("relevant").explanation("cites the doc");
/// assert_eq!(e.name, "relevance");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Evaluation {
    /// The metric (`gen_ai.evaluation.name`), such as `relevance` or `user_feedback`.
    pub name: String,
    /// Its score (`gen_ai.evaluation.score.value`).
    pub score: Option<f64>,
    /// Its label (`gen_ai.evaluation.score.label`), such as `pass` or `relevant`.
    pub label: Option<String>,
    /// Why (`gen_ai.evaluation.explanation`).
    pub explanation: Option<String>,
    /// The evaluated completion's `gen_ai.response.id`, when known.
    pub response_id: Option<String>,
}

impl Evaluation {
    /// An evaluation by the metric `name`; give it a [`score`](Self::score), a
    /// [`label`](Self::label) or both.
    pub fn new(name: impl Into<String>) -> Evaluation {
        Evaluation {
            name: name.into(),
            score: None,
            label: None,
            explanation: None,
            response_id: None,
        }
    }

    /// The score.
    pub fn score(mut self, score: f64) -> Self {
        self.score = Some(score);
        self
    }

    /// The label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Why the evaluator decided so.
    pub fn explanation(mut self, explanation: impl Into<String>) -> Self {
        self.explanation = Some(explanation.into());
        self
    }

    /// The evaluated completion's response id.
    pub fn response_id(mut self, id: impl Into<String>) -> Self {
        self.response_id = Some(id.into());
        self
    }

    fn validate(&self) -> Result<(), EvalError> {
        let bad = |reason: &str| {
            Err(EvalError::InvalidEvaluation {
                name: self.name.clone(),
                reason: reason.to_owned(),
            })
        };
        if self.name.trim().is_empty() {
            return bad("the metric's name is empty");
        }
        if self.score.is_some_and(|s| !s.is_finite()) {
            return bad("the score is not a finite number");
        }
        if self.score.is_none() && self.label.is_none() {
            return bad("give a score, a label or both");
        }
        Ok(())
    }

    fn attributes(&self) -> Vec<(&'static str, Value)> {
        let mut a = vec![("gen_ai.evaluation.name", Value::from(self.name.as_str()))];
        if let Some(score) = self.score {
            a.push(("gen_ai.evaluation.score.value", Value::from(score)));
        }
        let texts = [
            ("gen_ai.evaluation.score.label", &self.label),
            ("gen_ai.evaluation.explanation", &self.explanation),
            ("gen_ai.response.id", &self.response_id),
        ];
        for (key, value) in texts {
            if let Some(v) = value {
                a.push((key, Value::from(v.as_str())));
            }
        }
        a
    }

    /// The evaluation a span's `gen_ai.evaluation.*` attributes hold.
    fn from_span(t: &Trace) -> Option<Evaluation> {
        let text = |key: &str| {
            t.attributes
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Some(Evaluation {
            name: text("gen_ai.evaluation.name")?,
            score: t
                .attributes
                .get("gen_ai.evaluation.score.value")
                .and_then(Value::as_f64),
            label: text("gen_ai.evaluation.score.label"),
            explanation: text("gen_ai.evaluation.explanation"),
            response_id: text("gen_ai.response.id"),
        })
    }
}

/// Records `evaluation` of `span`, which is still open (the current LLM call or turn): a
/// [`EVALUATION_SPAN`] child of it. For a span that has ended, see [`record_evaluation_for`].
///
/// # Errors
///
/// [`EvalError::InvalidEvaluation`] without a name, with neither score nor label, or with a
/// score that is not a finite number; [`EvalError::NotRecording`] for a no-op span.
///
/// ```
/// use tracekit::eval::{evaluations, record_evaluation, Evaluation};
/// let tracer = tracekit::Tracer::in_memory(10);
/// {
///     let call = tracer.trace("chat gpt-4o");
///     record_evaluation(&call, Evaluation::new("relevance").score(0.9).label("relevant"))?;
/// }
/// let found = evaluations(&tracer.get_traces(&Default::default()).unwrap());
/// assert_eq!(found[0].evaluation.score, Some(0.9));
/// # Ok::<(), tracekit::eval::EvalError>(())
/// ```
pub fn record_evaluation(span: &crate::Span, evaluation: Evaluation) -> Result<(), EvalError> {
    evaluation.validate()?;
    let child = feedback::start_under(span, EVALUATION_SPAN)?;
    child.add_attributes(evaluation.attributes());
    Ok(())
}

/// Records `evaluation` of span `span_id` of trace `trace_id`, which may have ended long ago
/// or in another process: an [`EVALUATION_SPAN`] child of it, in its trace.
///
/// # Errors
///
/// As [`record_evaluation`]; [`EvalError::UnknownTrace`] when `tracer` keeps spans and has no
/// such span. A tracer that cannot read back (an exporter) takes the ids as given.
///
/// ```
/// use tracekit::eval::{evaluations, record_evaluation_for, Evaluation};
/// let tracer = tracekit::Tracer::in_memory(10);
/// let (trace_id, span_id) = {
///     let call = tracer.trace("chat gpt-4o");
///     (call.trace_id().unwrap(), call.span_id().unwrap())
/// };
/// record_evaluation_for(&tracer, trace_id, span_id, Evaluation::new("correctness").label("pass"))?;
/// let found = evaluations(&tracer.get_traces(&Default::default()).unwrap());
/// assert_eq!((found[0].span_id, found[0].evaluation.label.as_deref()), (Some(span_id), Some("pass")));
/// # Ok::<(), tracekit::eval::EvalError>(())
/// ```
pub fn record_evaluation_for(
    tracer: &Tracer,
    trace_id: TraceId,
    span_id: SpanId,
    evaluation: Evaluation,
) -> Result<(), EvalError> {
    evaluation.validate()?;
    let span = feedback::start_in_trace(tracer, trace_id, Some(span_id), EVALUATION_SPAN)?;
    span.add_attributes(evaluation.attributes());
    Ok(())
}

/// Where an evaluation result came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvaluationSource {
    /// An evaluator ([`record_evaluation`], or any `gen_ai.evaluation.result` span).
    Evaluator,
    /// A user ([`log_feedback`](super::log_feedback)), read as the evaluation `user_feedback`.
    UserFeedback,
}

/// An evaluation result as read back from stored spans ([`evaluations`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvaluationRecord {
    /// The trace it is about.
    pub trace_id: TraceId,
    /// The evaluated span, if one was named.
    pub span_id: Option<SpanId>,
    /// The result.
    pub evaluation: Evaluation,
    /// Who gave it.
    pub source: EvaluationSource,
}

/// The evaluation results among `spans` (from `get_traces`), in their order: evaluators'
/// `gen_ai.evaluation.result` spans and users' feedback (as the evaluation `user_feedback`,
/// with the score and label `log_feedback` wrote).
pub fn evaluations(spans: &[Trace]) -> Vec<EvaluationRecord> {
    spans
        .iter()
        .filter_map(|t| {
            let (source, span_id) = if t.span_name == EVALUATION_SPAN {
                (EvaluationSource::Evaluator, t.parent_span_id)
            } else if t.span_name == FEEDBACK_SPAN {
                let about = t
                    .attributes
                    .get("tracekit.feedback.span_id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok());
                (EvaluationSource::UserFeedback, about)
            } else {
                return None;
            };
            Some(EvaluationRecord {
                trace_id: t.trace_id,
                span_id,
                evaluation: Evaluation::from_span(t)?,
                source,
            })
        })
        .collect()
}
