//! Evaluation data, after the LastMile tracer SDK: the parameters a run used, typed events for
//! each step of a RAG pipeline, and what users thought of the answer, kept with the trace.
//!
//! Import [`EvalSpan`] and call its methods on any span (usually
//! `tracer.current_trace()`):
//!
//! ```
//! use tracekit::eval::{Chunk, EvalSpan, RagEvent, RetrievedChunk, TypedParams};
//! use tracekit::Tracer;
//!
//! let tracer = Tracer::in_memory(10);
//! let query = tracer.trace("query");
//! query.register_param("model", "gpt-4o").register_retrieval_top_k(2)?;
//! {
//!     let retrieve = tracer.trace("retrieve");
//!     retrieve.register_param("index", "docs-v3"); // on this span, and on the trace's set
//!     retrieve.log_rag_event(RagEvent::retrieval(
//!         "what is tracekit?",
//!         &[RetrievedChunk::new(Chunk::new("c-1").content("tracekit traces agents"), 0.92)],
//!     ));
//! }
//! query.log_trace_event("what is tracekit?", "A tracing toolkit.", None)?;
//! assert_eq!(query.params().len(), 3);
//! # Ok::<(), tracekit::eval::EvalError>(())
//! ```
//!
//! Where things are kept: the parameter set is the map attribute [`PARAMS`] on the trace's
//! root span (in this process), and each parameter is also an attribute `param.{key}` of the
//! span that registered it (unless registered with [`EvalSpan::register_trace_param`]). RAG
//! events are span events named `rag.{kind}` with the attributes `rag.input`, `rag.output`,
//! `rag.metadata` and `rag.name`; the trace-level event is `rag.trace` on the root span. So
//! every tracer, store and exporter carries them as it carries attributes and events.

mod evaluation;
mod events;
mod feedback;
mod logs;
mod named;
mod params;

pub use evaluation::{
    evaluations, record_evaluation, record_evaluation_for, Evaluation, EvaluationRecord,
    EvaluationSource, EVALUATION_SPAN,
};
pub use events::{Chunk, Document, RagEvent, RagEventKind, RetrievedChunk};
pub use feedback::{feedback, log_feedback, Feedback, FeedbackRecord, FEEDBACK_SPAN};
#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub use logs::LogBridge;
pub use logs::{Logger, LOG_EVENT};
pub use named::{tracer, RagFlow, TracerConfig, FLOW_TYPE};
pub use params::{
    GenerationParams, IngestionParams, QueryProcessingParams, RetrievalParams, TypedParams,
};

use crate::{Map, Span, Value};

/// The attribute holding a trace's parameter set (a map), on its root span.
pub const PARAMS: &str = "tracekit.params";
/// The event holding a trace's one trace-level RAG event, on its root span.
pub const TRACE_EVENT: &str = "rag.trace";

/// Why an evaluation call was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A trace has one trace-level event (the SDK's rule).
    #[error("trace {trace_id} already has its trace-level event; log span events (log_rag_event) for the steps, or put everything in the one trace event")]
    TraceEventExists {
        /// The trace.
        trace_id: String,
    },
    /// A parameter's value is out of its range.
    #[error("parameter `{key}` = {value} is not valid: {expected}")]
    InvalidParam {
        /// The parameter.
        key: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// Feedback out of its range or not among its categories.
    #[error("feedback {value:?} is not valid: expected {expected}")]
    InvalidFeedback {
        /// The value given.
        value: String,
        /// What it must be.
        expected: String,
    },
    /// The tracer keeps no such trace (or span).
    #[error("no trace {trace_id}{} in this tracer; give the ids of a stored trace", span_id.as_ref().map(|s| format!(" with span {s}")).unwrap_or_default())]
    UnknownTrace {
        /// The trace asked for.
        trace_id: String,
        /// The span asked for.
        span_id: Option<String>,
    },
    /// The tracer could not be read.
    #[error("cannot read the tracer's traces: {0}")]
    Backend(String),
    /// An evaluation without a name, without a score or label, or with a score that is not a
    /// number.
    #[error("evaluation {name:?} is not valid: {reason}")]
    InvalidEvaluation {
        /// The metric's name, as given.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The span has ended, or records nothing (a no-op tracer): nothing was kept.
    #[error("the span has ended (or does not record), so nothing can be added to it")]
    NotRecording,
}

/// Replace or merge, for [`EvalSpan::register_params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Overwrite {
    /// Upsert: keys given replace their values, the others stay (the default).
    #[default]
    Merge,
    /// Replace the whole set with the map given.
    Replace,
}

/// Evaluation data on a span. Implemented for [`Span`] (and so for `SpanGuard`).
pub trait EvalSpan {
    /// Adds `key = value` to the trace's parameter set (upsert) and to this span as
    /// `param.{key}`.
    fn register_param(&self, key: &str, value: impl Into<Value>) -> &Self;

    /// Adds `key = value` to the trace's parameter set only.
    fn register_trace_param(&self, key: &str, value: impl Into<Value>) -> &Self;

    /// Upserts (or with [`Overwrite::Replace`] replaces) the trace's parameter set with
    /// `params`, and records them on this span.
    fn register_params(&self, params: Map, overwrite: Overwrite) -> &Self;

    /// The trace's parameter set so far: the tracer's initial parameters
    /// ([`TracerConfig::initial_params`]) under the trace's own (empty for a no-op span).
    fn params(&self) -> Map;

    /// Tags the trace as an ingestion or a query trace ([`FLOW_TYPE`] on its root span).
    fn set_flow(&self, flow: RagFlow) -> &Self;

    /// Records a RAG event on this span.
    fn log_rag_event(&self, event: RagEvent) -> &Self;

    /// Records `data` (a warning, debug output) on this span as a [`LOG_EVENT`] event with
    /// the attribute `log.data`.
    fn log(&self, data: impl Into<Value>) -> &Self;

    /// Writes `data` to `logger` (a file kept apart from spans), with this span's ids.
    fn log_to(&self, logger: &Logger, data: impl Into<Value>) -> &Self;

    /// Records what a user thought of this span's work (a turn's answer): a feedback span
    /// below it (see [`log_feedback`] for its attributes, and for traces that have ended).
    ///
    /// # Errors
    ///
    /// [`EvalError::InvalidFeedback`] for a rating outside 0..=1 or a category not offered;
    /// [`EvalError::NotRecording`] for a no-op span.
    fn log_feedback(&self, feedback: Feedback) -> Result<(), EvalError>;

    /// Records the trace's one trace-level event: the input and output of the whole flow.
    ///
    /// # Errors
    ///
    /// [`EvalError::TraceEventExists`] if the trace has one already (it is left as it was);
    /// [`EvalError::NotRecording`] if the root span has ended or does not record.
    fn log_trace_event(
        &self,
        input: impl Into<Value>,
        output: impl Into<Value>,
        metadata: Option<Value>,
    ) -> Result<(), EvalError>;
}

impl EvalSpan for Span {
    fn register_param(&self, key: &str, value: impl Into<Value>) -> &Self {
        let value = value.into();
        self.add_attribute(format!("param.{key}"), value.clone());
        self.register_trace_param(key, value)
    }

    fn register_trace_param(&self, key: &str, value: impl Into<Value>) -> &Self {
        let value = value.into();
        update_params(self, |set| {
            set.insert(key.to_owned(), value);
        });
        self
    }

    fn register_params(&self, params: Map, overwrite: Overwrite) -> &Self {
        self.add_attributes(
            params
                .iter()
                .map(|(k, v)| (format!("param.{k}"), v.clone())),
        );
        update_params(self, |set| match overwrite {
            Overwrite::Replace => *set = params,
            Overwrite::Merge => {
                for (k, v) in params {
                    set.insert(k, v);
                }
            }
        });
        self
    }

    fn params(&self) -> Map {
        let Some(span) = self.shared() else {
            return Map::new();
        };
        let mut set = match span.tracer().resource_attributes().get(PARAMS) {
            Some(Value::Map(initial)) => initial.clone(),
            _ => Map::new(),
        };
        if let Some(Value::Map(own)) = span.local_root().attribute(PARAMS) {
            for (k, v) in own {
                set.insert(k, v);
            }
        }
        set
    }

    fn set_flow(&self, flow: RagFlow) -> &Self {
        if let Some(root) = self.shared().map(|s| s.local_root()) {
            root.replace_attribute(FLOW_TYPE, |_| (Value::from(flow.as_str()), ()));
        }
        self
    }

    fn log(&self, data: impl Into<Value>) -> &Self {
        self.add_event(LOG_EVENT, [("log.data", data.into())]);
        self
    }

    fn log_to(&self, logger: &Logger, data: impl Into<Value>) -> &Self {
        logger.write(self, data.into());
        self
    }

    fn log_feedback(&self, feedback: Feedback) -> Result<(), EvalError> {
        feedback::on_span(self, feedback)
    }

    fn log_rag_event(&self, event: RagEvent) -> &Self {
        let (name, attributes) = event.into_event();
        self.add_event(name, attributes);
        self
    }

    fn log_trace_event(
        &self,
        input: impl Into<Value>,
        output: impl Into<Value>,
        metadata: Option<Value>,
    ) -> Result<(), EvalError> {
        let root = self
            .shared()
            .map(|s| s.local_root())
            .ok_or(EvalError::NotRecording)?;
        let event = crate::Event {
            name: TRACE_EVENT.into(),
            timestamp: crate::Timestamp::now(),
            attributes: [
                ("rag.input", input.into()),
                ("rag.output", output.into()),
                ("rag.metadata", metadata.unwrap_or_default()),
            ]
            .into_iter()
            .collect(),
        };
        root.with_events(|events| {
            if events.iter().any(|e| e.name == TRACE_EVENT) {
                return Err(EvalError::TraceEventExists {
                    trace_id: self.trace_id().map(|t| t.to_string()).unwrap_or_default(),
                });
            }
            events.push(event);
            Ok(())
        })
        .unwrap_or(Err(EvalError::NotRecording))
    }
}

/// Changes the trace's parameter set on its root span, under the root's lock.
fn update_params(span: &Span, f: impl FnOnce(&mut Map)) {
    if let Some(root) = span.shared().map(|s| s.local_root()) {
        root.replace_attribute(PARAMS, |current| {
            let mut set = match current {
                Some(Value::Map(set)) => set.clone(),
                _ => Map::new(),
            };
            f(&mut set);
            (Value::Map(set), ())
        });
    }
}
