//! RAG events, and the documents and chunks they carry.

use serde::{Deserialize, Serialize};

use crate::{Map, Value};

/// The steps of a RAG pipeline the SDK names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RagEventKind {
    /// Splitting a document into chunks.
    Chunking,
    /// Embedding data.
    Embedding,
    /// Embedding several inputs at once.
    MultiEmbedding,
    /// Answering a query.
    Query,
    /// Rewriting a query (decomposition, expansion).
    QueryRewrite,
    /// Looking up a vector store.
    Retrieval,
    /// Reordering retrieved chunks.
    Reranking,
    /// Writing the answer from the retrieved context.
    Synthesize,
    /// A sub-question of a decomposed query.
    SubQuestion,
    /// Filling a prompt template.
    Templating,
    /// Calling a tool.
    ToolCall,
    /// Anything else.
    Custom,
}

impl RagEventKind {
    /// The kind's name (`chunking`, `query_rewrite`, ...), as in the event name `rag.{kind}`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RagEventKind::Chunking => "chunking",
            RagEventKind::Embedding => "embedding",
            RagEventKind::MultiEmbedding => "multi_embedding",
            RagEventKind::Query => "query",
            RagEventKind::QueryRewrite => "query_rewrite",
            RagEventKind::Retrieval => "retrieval",
            RagEventKind::Reranking => "reranking",
            RagEventKind::Synthesize => "synthesize",
            RagEventKind::SubQuestion => "sub_question",
            RagEventKind::Templating => "templating",
            RagEventKind::ToolCall => "tool_call",
            RagEventKind::Custom => "custom",
        }
    }
}

/// A document being ingested.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Its id.
    pub id: String,
    /// A name (a file name, a title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its content, if worth keeping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// Anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<Map>,
}

impl Document {
    /// A document with this id.
    pub fn new(id: impl Into<String>) -> Document {
        Document {
            id: id.into(),
            ..Document::default()
        }
    }

    /// Its name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Its content.
    pub fn content(mut self, content: impl Into<Value>) -> Self {
        self.content = Some(content.into());
        self
    }
}

/// A chunk of a document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// Its id.
    pub id: String,
    /// Its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Its embedding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    /// Anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<Map>,
}

impl Chunk {
    /// A chunk with this id.
    pub fn new(id: impl Into<String>) -> Chunk {
        Chunk {
            id: id.into(),
            ..Chunk::default()
        }
    }

    /// Its text.
    pub fn content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }

    /// Its embedding.
    pub fn embedding(mut self, embedding: Vec<f32>) -> Self {
        self.embedding = Some(embedding);
        self
    }
}

/// A chunk a retrieval returned, with its similarity score.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RetrievedChunk {
    /// The chunk.
    #[serde(flatten)]
    pub chunk: Chunk,
    /// Its score (cosine similarity, say).
    pub retrieval_score: f64,
}

impl RetrievedChunk {
    /// `chunk`, retrieved with `score`.
    pub fn new(chunk: Chunk, score: f64) -> RetrievedChunk {
        RetrievedChunk {
            chunk,
            retrieval_score: score,
        }
    }
}

/// One step of a RAG pipeline, recorded on a span with
/// [`EvalSpan::log_rag_event`](super::EvalSpan::log_rag_event) as the event `rag.{kind}`.
///
/// ```
/// use tracekit::eval::{Chunk, Document, RagEvent, RagEventKind};
/// let event = RagEvent::chunking(Some(&Document::new("guide.md")), &[Chunk::new("c-1")])
///     .name("markdown splitter")
///     .metadata(serde_json::json!({"chunk_size": 512}));
/// assert_eq!(event.kind, RagEventKind::Chunking);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RagEvent {
    /// The step.
    pub kind: RagEventKind,
    /// A name telling several events of one kind apart.
    pub name: Option<String>,
    /// What went in.
    pub input: Value,
    /// What came out.
    pub output: Value,
    /// Anything else (settings, model names).
    pub metadata: Value,
}

/// Any serde value as a [`Value`] (the types here always convert).
fn value(v: impl Serialize) -> Value {
    Value::from_serialize(&v).unwrap_or_default()
}

impl RagEvent {
    /// An event of any kind.
    pub fn new(kind: RagEventKind, input: impl Into<Value>, output: impl Into<Value>) -> RagEvent {
        RagEvent {
            kind,
            name: None,
            input: input.into(),
            output: output.into(),
            metadata: Value::Null,
        }
    }

    /// A document split into chunks.
    pub fn chunking(document: Option<&Document>, chunks: &[Chunk]) -> RagEvent {
        RagEvent::new(RagEventKind::Chunking, value(document), value(chunks))
    }

    /// Data embedded into vectors.
    pub fn embedding(data: impl Into<Value>, embeddings: &[Vec<f32>]) -> RagEvent {
        RagEvent::new(RagEventKind::Embedding, data, value(embeddings))
    }

    /// A query rewritten into one or more queries.
    pub fn query_rewrite(query: &str, rewritten: &[String]) -> RagEvent {
        RagEvent::new(RagEventKind::QueryRewrite, query, value(rewritten))
    }

    /// A vector-store lookup and what it returned.
    pub fn retrieval(query: &str, retrieved: &[RetrievedChunk]) -> RagEvent {
        RagEvent::new(RagEventKind::Retrieval, query, value(retrieved))
    }

    /// Retrieved chunks reordered.
    pub fn rerank(retrieved: &[RetrievedChunk], reranked: &[RetrievedChunk]) -> RagEvent {
        RagEvent::new(RagEventKind::Reranking, value(retrieved), value(reranked))
    }

    /// A tool called with `args`, returning `result`.
    pub fn tool_call(tool: &str, args: impl Into<Value>, result: impl Into<Value>) -> RagEvent {
        RagEvent::new(RagEventKind::ToolCall, args, result).name(tool)
    }

    /// A query answered, with the system prompt if any.
    pub fn query(query: &str, response: &str, system_prompt: Option<&str>) -> RagEvent {
        let event = RagEvent::new(RagEventKind::Query, query, response);
        match system_prompt {
            Some(prompt) => {
                event.metadata(Value::from(serde_json::json!({"system_prompt": prompt})))
            }
            None => event,
        }
    }

    /// Names the event.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets its metadata.
    pub fn metadata(mut self, metadata: impl Into<Value>) -> Self {
        self.metadata = metadata.into();
        self
    }

    /// The span event: name `rag.{kind}` and its attributes.
    pub(super) fn into_event(self) -> (String, Vec<(&'static str, Value)>) {
        let mut attributes = vec![
            ("rag.input", self.input),
            ("rag.output", self.output),
            ("rag.metadata", self.metadata),
        ];
        if let Some(name) = self.name {
            attributes.push(("rag.name", Value::from(name)));
        }
        (format!("rag.{}", self.kind.as_str()), attributes)
    }
}
