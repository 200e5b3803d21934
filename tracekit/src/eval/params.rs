//! Typed parameters, validated.

use super::{EvalError, EvalSpan, Overwrite};
use crate::{Map, Span};

fn check(
    ok: bool,
    key: &'static str,
    value: impl std::fmt::Display,
    expected: &'static str,
) -> Result<(), EvalError> {
    if ok {
        Ok(())
    } else {
        Err(EvalError::InvalidParam {
            key,
            value: value.to_string(),
            expected,
        })
    }
}

/// The LLM settings of the generation step (`register_generation_params`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenerationParams {
    /// The model.
    pub model: Option<String>,
    /// Sampling temperature, 0 to 2.
    pub temperature: Option<f64>,
    /// Nucleus sampling, 0 to 1.
    pub top_p: Option<f64>,
    /// The most tokens to generate, at least 1.
    pub max_tokens: Option<u64>,
    /// Anything else.
    pub extras: Map,
}

/// The settings of the retrieval step (`register_retrieval_params`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetrievalParams {
    /// How many chunks to retrieve, at least 1.
    pub top_k: Option<u64>,
    /// The reranking model.
    pub reranking_model: Option<String>,
    /// Anything else.
    pub extras: Map,
}

/// The settings of the ingestion side: document preprocessing (chunking) and embedding
/// (`register_ingestion_params`, the SDK's `register_document_preprocess_params` and
/// `register_embedding_params`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestionParams {
    /// Chunk size, at least 1.
    pub chunk_size: Option<u64>,
    /// The chunking algorithm (`sliding_window`, `sentences`, ...).
    pub chunk_strategy: Option<String>,
    /// The embedding model.
    pub embedding_model: Option<String>,
    /// The embedding's dimensions, at least 1.
    pub embedding_dimensions: Option<u64>,
    /// Anything else.
    pub extras: Map,
}

/// The settings of query processing (`register_query_processing_params`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryProcessingParams {
    /// The embedding model used for the query.
    pub embedding_model: Option<String>,
    /// Its dimensions, at least 1.
    pub embedding_dimensions: Option<u64>,
    /// How queries are processed (`sub_questions`, `expansion`, ...).
    pub decomposition_strategy: Option<String>,
    /// Anything else.
    pub extras: Map,
}

impl IngestionParams {
    fn into_map(self) -> Result<Map, EvalError> {
        let mut map = self.extras;
        if let Some(size) = self.chunk_size {
            check(size > 0, "chunk_size", size, "at least 1")?;
            map.insert("chunk_size", size);
        }
        if let Some(strategy) = self.chunk_strategy {
            map.insert("chunk_strategy", strategy);
        }
        if let Some(model) = self.embedding_model {
            map.insert("embedding_model", model);
        }
        if let Some(d) = self.embedding_dimensions {
            check(d > 0, "embedding_dimensions", d, "at least 1")?;
            map.insert("embedding_dimensions", d);
        }
        Ok(map)
    }
}

impl QueryProcessingParams {
    fn into_map(self) -> Result<Map, EvalError> {
        let mut map = self.extras;
        if let Some(model) = self.embedding_model {
            map.insert("query_embedding_model", model);
        }
        if let Some(d) = self.embedding_dimensions {
            check(d > 0, "embedding_dimensions", d, "at least 1")?;
            map.insert("query_embedding_dimensions", d);
        }
        if let Some(strategy) = self.decomposition_strategy {
            map.insert("decomposition_strategy", strategy);
        }
        Ok(map)
    }
}

impl GenerationParams {
    fn into_map(self) -> Result<Map, EvalError> {
        let mut map = self.extras;
        if let Some(model) = self.model {
            check(!model.trim().is_empty(), "model", &model, "a model name")?;
            map.insert("model", model);
        }
        if let Some(t) = self.temperature {
            check(
                (0.0..=2.0).contains(&t),
                "temperature",
                t,
                "between 0 and 2",
            )?;
            map.insert("temperature", t);
        }
        if let Some(p) = self.top_p {
            check((0.0..=1.0).contains(&p), "top_p", p, "between 0 and 1")?;
            map.insert("top_p", p);
        }
        if let Some(n) = self.max_tokens {
            check(n > 0, "max_tokens", n, "at least 1")?;
            map.insert("max_tokens", n);
        }
        Ok(map)
    }
}

impl RetrievalParams {
    fn into_map(self) -> Result<Map, EvalError> {
        let mut map = self.extras;
        if let Some(k) = self.top_k {
            check(k > 0, "top_k", k, "at least 1")?;
            map.insert("top_k", k);
        }
        if let Some(model) = self.reranking_model {
            map.insert("reranking_model", model);
        }
        Ok(map)
    }
}

/// The SDK's typed helpers: each validates its value, then registers it on the trace and on
/// the span. A rejected value registers nothing.
///
/// ```
/// use tracekit::eval::{EvalError, EvalSpan, TypedParams};
/// let tracer = tracekit::Tracer::in_memory(1);
/// let span = tracer.trace("query");
/// span.register_query_temperature(0.2)?.register_retrieval_top_k(5)?;
/// assert!(matches!(span.register_query_top_p(1.5), Err(EvalError::InvalidParam { key: "top_p", .. })));
/// assert_eq!(span.params().len(), 2);
/// # Ok::<(), EvalError>(())
/// ```
pub trait TypedParams: EvalSpan {
    /// `model`: a non-empty model name.
    fn register_query_model(&self, model: &str) -> Result<&Self, EvalError>;
    /// `temperature`, 0 to 2.
    fn register_query_temperature(&self, temperature: f64) -> Result<&Self, EvalError>;
    /// `top_p`, 0 to 1.
    fn register_query_top_p(&self, top_p: f64) -> Result<&Self, EvalError>;
    /// `chunk_size`, at least 1.
    fn register_ingestion_chunk_size(&self, size: u64) -> Result<&Self, EvalError>;
    /// `top_k`, at least 1.
    fn register_retrieval_top_k(&self, k: u64) -> Result<&Self, EvalError>;
    /// Every set field of `params`, validated together.
    fn register_generation_params(&self, params: GenerationParams) -> Result<&Self, EvalError>;
    /// Every set field of `params`, validated together.
    fn register_retrieval_params(&self, params: RetrievalParams) -> Result<&Self, EvalError>;
    /// Every set field of `params`, validated together.
    fn register_ingestion_params(&self, params: IngestionParams) -> Result<&Self, EvalError>;
    /// Every set field of `params`, validated together.
    fn register_query_processing_params(
        &self,
        params: QueryProcessingParams,
    ) -> Result<&Self, EvalError>;
}

impl TypedParams for Span {
    fn register_query_model(&self, model: &str) -> Result<&Self, EvalError> {
        let params = GenerationParams {
            model: Some(model.to_owned()),
            ..Default::default()
        };
        self.register_generation_params(params)
    }

    fn register_query_temperature(&self, temperature: f64) -> Result<&Self, EvalError> {
        let params = GenerationParams {
            temperature: Some(temperature),
            ..Default::default()
        };
        self.register_generation_params(params)
    }

    fn register_query_top_p(&self, top_p: f64) -> Result<&Self, EvalError> {
        let params = GenerationParams {
            top_p: Some(top_p),
            ..Default::default()
        };
        self.register_generation_params(params)
    }

    fn register_ingestion_chunk_size(&self, size: u64) -> Result<&Self, EvalError> {
        let params = IngestionParams {
            chunk_size: Some(size),
            ..Default::default()
        };
        self.register_ingestion_params(params)
    }

    fn register_retrieval_top_k(&self, k: u64) -> Result<&Self, EvalError> {
        let params = RetrievalParams {
            top_k: Some(k),
            ..Default::default()
        };
        self.register_retrieval_params(params)
    }

    fn register_generation_params(&self, params: GenerationParams) -> Result<&Self, EvalError> {
        Ok(self.register_params(params.into_map()?, Overwrite::Merge))
    }

    fn register_retrieval_params(&self, params: RetrievalParams) -> Result<&Self, EvalError> {
        Ok(self.register_params(params.into_map()?, Overwrite::Merge))
    }

    fn register_ingestion_params(&self, params: IngestionParams) -> Result<&Self, EvalError> {
        Ok(self.register_params(params.into_map()?, Overwrite::Merge))
    }

    fn register_query_processing_params(
        &self,
        params: QueryProcessingParams,
    ) -> Result<&Self, EvalError> {
        Ok(self.register_params(params.into_map()?, Overwrite::Merge))
    }
}
