//! A tiny RAG pipeline, traced with evaluation data: an offline ingestion trace (chunking,
//! embeddings) and a query trace (retrieval, rerank, generation) with their parameters, RAG
//! events and the user's feedback, printed and stored in `rag-traces.db`.
//!
//! `cargo run --example rag`. Offline and deterministic: the "embeddings" count letters and
//! the "LLM" quotes the best chunk.

use tracekit::eval::{
    self, Chunk, Document, EvalSpan, Feedback, RagEvent, RagFlow, RetrievedChunk, TracerConfig,
    TypedParams,
};
use tracekit::{render, traced, TraceFilter, Tracer, Value};

const DOCUMENT: &str = "tracekit traces LLM agents in Rust. Spans carry the conversation id. \
                        Stores keep traces in SQLite or DynamoDB. Exporters send them over OTLP.";

/// A 26-dimensional letter histogram, normalised: enough to rank sentences by overlap.
fn embed(text: &str) -> Vec<f32> {
    let mut v = [0f32; 26];
    for c in text
        .to_ascii_lowercase()
        .bytes()
        .filter(u8::is_ascii_lowercase)
    {
        v[(c - b'a') as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / norm).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum()
}

pub struct Pipeline {
    tracer: Tracer,
    index: Vec<Chunk>,
}

impl Pipeline {
    /// A pipeline with an empty index, tracing to `tracer`.
    pub fn new(tracer: Tracer) -> Pipeline {
        Pipeline {
            tracer,
            index: Vec::new(),
        }
    }

    #[traced(args)]
    pub fn ingest(&mut self, chunk_size: u64) {
        let span = self.tracer.current_trace();
        span.set_flow(RagFlow::Ingestion);
        span.register_ingestion_chunk_size(chunk_size)
            .expect("a valid chunk size");
        let document = Document::new("guide.md")
            .name("tracekit guide")
            .content(DOCUMENT);
        let chunks: Vec<Chunk> = DOCUMENT
            .split(". ")
            .enumerate()
            .map(|(i, text)| Chunk::new(format!("c-{i}")).content(text.trim_end_matches('.')))
            .collect();
        span.log_rag_event(
            RagEvent::chunking(Some(&document), &chunks)
                .metadata(serde_json::json!({"splitter": "sentences"})),
        );
        let embeddings: Vec<Vec<f32>> = chunks
            .iter()
            .map(|c| embed(c.content.as_deref().unwrap_or_default()))
            .collect();
        span.log_rag_event(
            RagEvent::embedding(Value::from(chunks.len()), &embeddings).name("letters-26"),
        );
        self.index = chunks
            .into_iter()
            .zip(embeddings)
            .map(|(c, e)| c.embedding(e))
            .collect();
    }

    #[traced(args, output = "output")]
    pub fn query(&self, question: &str, top_k: u64) -> String {
        let span = self.tracer.current_trace();
        span.set_flow(RagFlow::Query);
        span.register_query_model("quote-the-best-chunk")
            .expect("a model name");
        span.register_query_temperature(0.0)
            .expect("a valid temperature");
        span.register_retrieval_top_k(top_k).expect("a valid top_k");
        let retrieved = self.retrieve(question, top_k);
        let reranked = self.rerank(question, &retrieved);
        let answer = self.generate(question, &reranked);
        span.log_trace_event(question, answer.as_str(), None)
            .expect("one trace-level event");
        answer
    }

    #[traced]
    fn retrieve(&self, question: &str, top_k: u64) -> Vec<RetrievedChunk> {
        let q = embed(question);
        let mut scored: Vec<RetrievedChunk> = self
            .index
            .iter()
            .map(|c| {
                RetrievedChunk::new(
                    c.clone(),
                    cosine(&q, c.embedding.as_deref().unwrap_or_default()),
                )
            })
            .collect();
        scored.sort_by(|a, b| b.retrieval_score.total_cmp(&a.retrieval_score));
        scored.truncate(top_k as usize);
        self.tracer
            .current_trace()
            .log_rag_event(RagEvent::retrieval(question, &scored));
        scored
    }

    #[traced]
    fn rerank(&self, question: &str, retrieved: &[RetrievedChunk]) -> Vec<RetrievedChunk> {
        // Words shared with the question first, then the retrieval score: a stand-in for a
        // cross-encoder.
        let words: Vec<String> = question
            .to_lowercase()
            .split_whitespace()
            .map(|w| w.trim_matches('?').to_owned())
            .collect();
        let overlap = |c: &RetrievedChunk| {
            let text = c
                .chunk
                .content
                .as_deref()
                .unwrap_or_default()
                .to_lowercase();
            text.split_whitespace()
                .filter(|w| words.iter().any(|q| q == w))
                .count()
        };
        let mut reranked = retrieved.to_vec();
        reranked.sort_by(|a, b| {
            overlap(b)
                .cmp(&overlap(a))
                .then(b.retrieval_score.total_cmp(&a.retrieval_score))
        });
        let span = self.tracer.current_trace();
        span.register_param("reranker", "word-overlap");
        span.log_rag_event(RagEvent::rerank(retrieved, &reranked));
        reranked
    }

    #[traced]
    fn generate(&self, question: &str, context: &[RetrievedChunk]) -> String {
        let best = context
            .first()
            .and_then(|c| c.chunk.content.clone())
            .unwrap_or_default();
        let answer = format!("{best}.");
        self.tracer.current_trace().log_rag_event(RagEvent::query(
            question,
            &answer,
            Some("Answer from the context only."),
        ));
        answer
    }
}

fn main() -> Result<(), tracekit::Error> {
    // A named tracer, found from anywhere with eval::tracer("docs-rag"); everything also goes
    // to rag-traces.db.
    TracerConfig::new("docs-rag")
        .output_file("rag-traces.db")
        .register(Tracer::in_memory(1_000))?;
    let tracer = eval::tracer("docs-rag").expect("registered above");
    let mut pipeline = Pipeline::new(tracer.clone());

    pipeline.ingest(64);
    let question = "Where do stores keep traces?";
    let answer = pipeline.query(question, 3);
    println!("Q: {question}\nA: {answer}\n");

    // The user rates the answer, later, knowing only the trace id.
    let spans = tracer.get_traces(&TraceFilter::new().attribute("rag.flow_type", "query"))?;
    let trace_id = spans[0].trace_id;
    eval::log_feedback(&tracer, trace_id, None, Feedback::Binary(true)).expect("a stored trace");
    eval::log_feedback(&tracer, trace_id, None, Feedback::Numeric(0.8)).expect("a stored trace");
    tracer.flush()?;

    for flow in ["ingestion", "query"] {
        let root = tracer.get_traces(&TraceFilter::new().attribute("rag.flow_type", flow))?;
        let spans = tracer.get_traces(&TraceFilter::new().trace_id(root[0].trace_id))?;
        println!("== {flow} trace {} ==", root[0].trace_id);
        print!("{}", render::tree(&spans));
        for span in &spans {
            for event in span.events.iter().filter(|e| e.name.starts_with("rag.")) {
                println!("  {} on `{}`", event.name, span.span_name);
            }
        }
        if let Some(params) = root[0].attributes.get(eval::PARAMS) {
            println!("  parameters: {params}");
        }
        for record in eval::feedback(&spans) {
            println!("  feedback: {:?}", record.feedback);
        }
        println!();
    }
    println!("(stored in rag-traces.db: `sqlite3 rag-traces.db \"SELECT span_name, trace_id FROM traces\"`)");
    Ok(())
}
