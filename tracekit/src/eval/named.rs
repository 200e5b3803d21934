//! Tracers by name, from anywhere (the SDK's `get_lastmile_tracer`), and pipeline kinds.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use super::PARAMS;
use crate::sync::lock;
use crate::{Error, Map, Tracer, Value};

/// The resource attribute (and root-span attribute) naming a trace's pipeline.
pub const FLOW_TYPE: &str = "rag.flow_type";

/// The two pipelines of a RAG application (the SDK's `RagFlowType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RagFlow {
    /// Turning documents into an index.
    Ingestion,
    /// Answering a query from it.
    Query,
}

impl RagFlow {
    /// `ingestion` or `query`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RagFlow::Ingestion => "ingestion",
            RagFlow::Query => "query",
        }
    }
}

fn registry() -> &'static Mutex<HashMap<String, Tracer>> {
    static TRACERS: OnceLock<Mutex<HashMap<String, Tracer>>> = OnceLock::new();
    TRACERS.get_or_init(Mutex::default)
}

/// The tracer registered under `name` by [`TracerConfig::register`], from anywhere in the
/// program.
pub fn tracer(name: &str) -> Option<Tracer> {
    lock(registry()).get(name).cloned()
}

/// A named tracer's settings: parameters every trace starts with, a pipeline kind, and a
/// local file that keeps everything (the SDK's `initial_params`, `rag_flow_type` and
/// `output_filepath`).
///
/// ```
/// use tracekit::eval::{self, EvalSpan, RagFlow, TracerConfig};
/// use tracekit::Tracer;
///
/// let params = serde_json::json!({"chunk_size": 512});
/// let tracer = TracerConfig::new("docs-rag")
///     .initial_params(tracekit::Value::from(params).as_map().unwrap().clone())
///     .flow(RagFlow::Query)
///     .register(Tracer::in_memory(100))?;
/// // Anywhere else:
/// let same = eval::tracer("docs-rag").unwrap();
/// let span = same.trace("query");
/// span.register_param("top_k", 3);
/// assert_eq!(span.params().len(), 2); // the initial chunk_size, and top_k
/// # drop(span); drop(tracer);
/// # Ok::<(), tracekit::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a configuration does nothing until `register`"]
pub struct TracerConfig {
    name: String,
    initial_params: Map,
    flow: Option<RagFlow>,
    output_file: Option<PathBuf>,
}

impl TracerConfig {
    /// Settings for the tracer named `name`.
    pub fn new(name: impl Into<String>) -> TracerConfig {
        TracerConfig {
            name: name.into(),
            initial_params: Map::new(),
            flow: None,
            output_file: None,
        }
    }

    /// Parameters every trace of this tracer has (trace-level ones override them).
    pub fn initial_params(mut self, params: Map) -> Self {
        self.initial_params = params;
        self
    }

    /// Tags every trace as an ingestion or a query trace (else each trace may say with
    /// [`EvalSpan::set_flow`](super::EvalSpan::set_flow)).
    pub fn flow(mut self, flow: RagFlow) -> Self {
        self.flow = Some(flow);
        self
    }

    /// Also keeps every span in this local file: a SQLite store (feature `sqlite`), else JSON
    /// lines.
    pub fn output_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.output_file = Some(path.into());
        self
    }

    /// Registers `backend`, with these settings, under the name, and returns it; if a tracer
    /// of that name exists already, returns that one instead (the SDK's singleton rule) and
    /// `backend` is dropped.
    ///
    /// # Errors
    ///
    /// The output file's errors (a missing directory, a file that is not a database).
    pub fn register(self, backend: Tracer) -> Result<Tracer, Error> {
        let mut tracers = lock(registry());
        if let Some(existing) = tracers.get(&self.name) {
            return Ok(existing.clone());
        }
        let tracer = match &self.output_file {
            Some(path) => Tracer::tee([backend, file_tracer(path)?]),
            None => backend,
        };
        if !self.initial_params.is_empty() {
            tracer.set_resource_attribute(PARAMS, Value::Map(self.initial_params));
        }
        if let Some(flow) = self.flow {
            tracer.set_resource_attribute(FLOW_TYPE, flow.as_str());
        }
        tracers.insert(self.name, tracer.clone());
        Ok(tracer)
    }
}

#[cfg(feature = "sqlite")]
fn file_tracer(path: &std::path::Path) -> Result<Tracer, Error> {
    Tracer::sqlite(path)
}

#[cfg(not(feature = "sqlite"))]
fn file_tracer(path: &std::path::Path) -> Result<Tracer, Error> {
    Ok(Tracer::structured_logs(super::logs::open_append(path)?))
}
