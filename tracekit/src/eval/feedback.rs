//! User feedback on a trace, as a span of its own in that trace.

use super::EvalError;
use crate::{Error, SpanId, Trace, TraceFilter, TraceId, Tracer, Value};

/// What a user thought of an answer.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Feedback {
    /// Anything JSON-like.
    FreeForm(Value),
    /// Thumbs up (`true`) or down.
    Binary(bool),
    /// A rating from 0 to 1.
    Numeric(f64),
    /// One of a list of categories.
    Categorical {
        /// The chosen category.
        value: String,
        /// The categories offered.
        categories: Vec<String>,
    },
    /// Words.
    Text(String),
}

impl Feedback {
    /// A category chosen from `categories`.
    pub fn categorical(value: impl Into<String>, categories: &[&str]) -> Feedback {
        Feedback::Categorical {
            value: value.into(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// Its kind's name: `free_form`, `binary`, `numeric`, `categorical`, `text`.
    pub fn kind(&self) -> &'static str {
        match self {
            Feedback::FreeForm(_) => "free_form",
            Feedback::Binary(_) => "binary",
            Feedback::Numeric(_) => "numeric",
            Feedback::Categorical { .. } => "categorical",
            Feedback::Text(_) => "text",
        }
    }

    fn validate(&self) -> Result<(), EvalError> {
        match self {
            Feedback::Numeric(v) if !(0.0..=1.0).contains(v) => Err(EvalError::InvalidFeedback {
                value: v.to_string(),
                expected: "a number from 0 to 1".into(),
            }),
            Feedback::Categorical { value, categories } if !categories.contains(value) => {
                Err(EvalError::InvalidFeedback {
                    value: value.clone(),
                    expected: format!("one of {categories:?}"),
                })
            }
            _ => Ok(()),
        }
    }

    /// The feedback span's attributes: the OpenTelemetry GenAI evaluation attributes where
    /// they fit, and tracekit's own, which read back exactly.
    fn attributes(&self, span: Option<SpanId>) -> Vec<(&'static str, Value)> {
        let mut a = vec![
            ("gen_ai.evaluation.name", Value::from("user_feedback")),
            ("tracekit.feedback.kind", Value::from(self.kind())),
        ];
        match self {
            Feedback::FreeForm(v) => {
                a.push(("gen_ai.evaluation.explanation", Value::from(v.to_string())));
                a.push(("tracekit.feedback.value", v.clone()));
            }
            Feedback::Binary(b) => {
                a.push((
                    "gen_ai.evaluation.score.value",
                    Value::from(if *b { 1.0 } else { 0.0 }),
                ));
                a.push((
                    "gen_ai.evaluation.score.label",
                    Value::from(if *b { "positive" } else { "negative" }),
                ));
                a.push(("tracekit.feedback.value", Value::from(*b)));
            }
            Feedback::Numeric(v) => {
                a.push(("gen_ai.evaluation.score.value", Value::from(*v)));
                a.push(("tracekit.feedback.value", Value::from(*v)));
            }
            Feedback::Categorical { value, categories } => {
                a.push(("gen_ai.evaluation.score.label", Value::from(value.as_str())));
                a.push(("tracekit.feedback.value", Value::from(value.as_str())));
                a.push((
                    "tracekit.feedback.categories",
                    Value::from(categories.clone()),
                ));
            }
            Feedback::Text(t) => {
                a.push(("gen_ai.evaluation.explanation", Value::from(t.as_str())));
                a.push(("tracekit.feedback.value", Value::from(t.as_str())));
            }
        }
        if let Some(span) = span {
            a.push(("tracekit.feedback.span_id", Value::from(span.to_string())));
        }
        a
    }

    /// The feedback a span recorded, if it is a feedback span.
    fn from_span(t: &Trace) -> Option<Feedback> {
        let value = t.attributes.get("tracekit.feedback.value")?;
        Some(
            match t.attributes.get("tracekit.feedback.kind")?.as_str()? {
                "free_form" => Feedback::FreeForm(value.clone()),
                "binary" => Feedback::Binary(value.as_bool()?),
                "numeric" => Feedback::Numeric(value.as_f64()?),
                "categorical" => Feedback::Categorical {
                    value: value.as_str()?.to_owned(),
                    categories: t
                        .attributes
                        .get("tracekit.feedback.categories")?
                        .as_array()?
                        .iter()
                        .filter_map(|c| c.as_str().map(str::to_owned))
                        .collect(),
                },
                "text" => Feedback::Text(value.as_str()?.to_owned()),
                _ => return None,
            },
        )
    }
}

/// Feedback as read back from stored spans.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackRecord {
    /// The trace it is about.
    pub trace_id: TraceId,
    /// The span it is about, if one was named.
    pub span_id: Option<SpanId>,
    /// What the user said.
    pub feedback: Feedback,
}

/// The span name feedback is recorded under.
pub const FEEDBACK_SPAN: &str = "feedback";

/// Records `feedback` on trace `trace_id` (and span `span_id`, if given), which may have
/// ended long ago or in another process: a span named [`FEEDBACK_SPAN`] in that trace (a
/// child of the span, or a root of its own in the trace), so every store keeps it next to the
/// trace and every exporter sends it with it. Its attributes are the OpenTelemetry GenAI
/// evaluation attributes (`gen_ai.evaluation.name` = `user_feedback`,
/// `gen_ai.evaluation.score.value` / `.score.label` / `.explanation`) and tracekit's
/// `tracekit.feedback.*`, which [`feedback`] reads back.
///
/// # Errors
///
/// [`EvalError::InvalidFeedback`] for a rating outside 0..=1 or a category not offered;
/// [`EvalError::UnknownTrace`] when `tracer` keeps spans (a store, memory) and has none of
/// that trace (or of that span). A tracer that cannot read back (an exporter) takes the ids
/// as given.
///
/// ```
/// use tracekit::eval::{feedback, log_feedback, Feedback};
/// let tracer = tracekit::Tracer::in_memory(10);
/// let trace_id = {
///     let turn = tracer.trace("turn");
///     turn.trace_id().unwrap()
/// };
/// log_feedback(&tracer, trace_id, None, Feedback::Binary(true))?;
/// assert!(log_feedback(&tracer, trace_id, None, Feedback::Numeric(1.5)).is_err());
/// let stored = tracer.get_traces(&Default::default()).unwrap();
/// assert_eq!(feedback(&stored)[0].feedback, Feedback::Binary(true));
/// # Ok::<(), tracekit::eval::EvalError>(())
/// ```
pub fn log_feedback(
    tracer: &Tracer,
    trace_id: TraceId,
    span_id: Option<SpanId>,
    feedback: Feedback,
) -> Result<(), EvalError> {
    feedback.validate()?;
    let span = start_in_trace(tracer, trace_id, span_id, FEEDBACK_SPAN)?;
    span.add_attributes(feedback.attributes(span_id));
    Ok(())
}

/// Starts a span named `name` in trace `trace_id`, which may have ended long ago or in another
/// process: a child of `span_id` if given, else a root of its own in the trace. A tracer that
/// keeps spans must have the trace (and the span); one that cannot read back takes the ids as
/// given.
pub(super) fn start_in_trace(
    tracer: &Tracer,
    trace_id: TraceId,
    span_id: Option<SpanId>,
    name: &'static str,
) -> Result<crate::SpanGuard, EvalError> {
    let unknown = || EvalError::UnknownTrace {
        trace_id: trace_id.to_string(),
        span_id: span_id.map(|s| s.to_string()),
    };
    let parent = match tracer.get_traces(&TraceFilter::new().trace_id(trace_id)) {
        Ok(spans) if spans.is_empty() => return Err(unknown()),
        Ok(spans) => match span_id {
            Some(id) if spans.iter().any(|s| s.span_id == id) => Some(id),
            Some(_) => return Err(unknown()),
            None => None,
        },
        Err(Error::Unsupported { .. }) => span_id,
        Err(e) => return Err(EvalError::Backend(e.to_string())),
    };
    let builder = tracer.span(name);
    let builder = match parent {
        Some(parent) => builder.remote_parent(trace_id, parent),
        None => builder.in_trace(trace_id),
    };
    Ok(builder.start())
}

/// Starts a span named `name` below `span`, which is still open.
pub(super) fn start_under(
    span: &crate::Span,
    name: &'static str,
) -> Result<crate::SpanGuard, EvalError> {
    let inner = span.shared().ok_or(EvalError::NotRecording)?;
    Ok(Tracer::of_span(inner).span(name).parent(span).start())
}

/// Records `feedback` on `span` (the current turn, say): a [`FEEDBACK_SPAN`] child of it.
pub(super) fn on_span(span: &crate::Span, feedback: Feedback) -> Result<(), EvalError> {
    feedback.validate()?;
    let child = start_under(span, FEEDBACK_SPAN)?;
    child.add_attributes(feedback.attributes(span.span_id()));
    Ok(())
}

/// The feedback among `spans` (from `get_traces`), in their order.
pub fn feedback(spans: &[Trace]) -> Vec<FeedbackRecord> {
    spans
        .iter()
        .filter(|t| t.span_name == FEEDBACK_SPAN)
        .filter_map(|t| {
            Some(FeedbackRecord {
                trace_id: t.trace_id,
                span_id: t
                    .attributes
                    .get("tracekit.feedback.span_id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok()),
                feedback: Feedback::from_span(t)?,
            })
        })
        .collect()
}
