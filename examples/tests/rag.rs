//! The RAG example tested through its traces: the ingestion and query flows, their steps in
//! order, their parameters and RAG events; and a snapshot of the query trace (insta).

#[path = "../rag.rs"]
#[allow(dead_code)]
mod rag;

use tracekit::eval::{RagFlow, FLOW_TYPE};
use tracekit::testing::{expect, Snapshot};
use tracekit::{Trace, TraceFilter, Tracer};

fn flows() -> (Vec<Trace>, Vec<Trace>) {
    let tracer = Tracer::in_memory(1_000);
    let mut pipeline = rag::Pipeline::new(tracer.clone());
    pipeline.ingest(64);
    let answer = pipeline.query("Where do stores keep traces?", 3);
    assert!(!answer.is_empty());
    let flow = |kind: RagFlow| {
        let root = tracer
            .get_traces(&TraceFilter::new().attribute(FLOW_TYPE, kind.as_str()))
            .unwrap();
        tracer
            .get_traces(&TraceFilter::new().trace_id(root[0].trace_id))
            .unwrap()
    };
    (flow(RagFlow::Ingestion), flow(RagFlow::Query))
}

#[test]
fn the_query_flow_retrieves_reranks_and_generates_in_order() {
    let (ingestion, query) = flows();
    expect(&ingestion).no_failed_spans().span("ingest");
    let q = expect(&query);
    q.no_failed_spans()
        .child_of("retrieve", "query")
        .child_of("rerank", "query")
        .child_of("generate", "query");
    let steps: Vec<&str> = q
        .select(|s| s.parent_span_id.is_some())
        .iter()
        .map(|s| s.span_name.as_ref())
        .collect();
    assert_eq!(steps, ["retrieve", "rerank", "generate"]);
    // Each step left its RAG event.
    for (step, event) in [
        ("retrieve", "rag.retrieval"),
        ("rerank", "rag.reranking"),
        ("generate", "rag.query"),
    ] {
        assert!(
            q.span(step).events.iter().any(|e| e.name == event),
            "{step} has no {event}"
        );
    }
    assert_eq!(
        q.span("rerank").attributes.get("param.reranker"),
        Some(&"word-overlap".into())
    );
}

#[test]
fn the_query_trace_matches_its_snapshot() {
    let (_, query) = flows();
    let text = Snapshot::new()
        .attribute("rag.*")
        .attribute("param.*")
        .attribute("output")
        .render(&query);
    insta::assert_snapshot!(text);
}
