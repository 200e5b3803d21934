//! Evaluation data: parameter sets (upsert, replace, per-span copies, typed and validated),
//! RAG events on spans and the one trace-level event, through memory and a SQLite file.

mod common;

use common::{all, named};
use serde_json::json;
use tracekit::eval::{
    Chunk, Document, EvalError, EvalSpan, GenerationParams, Overwrite, RagEvent, RagEventKind,
    RetrievedChunk, TypedParams, PARAMS, TRACE_EVENT,
};
use tracekit::{Map, Trace, TraceFilter, Tracer, Value};

fn map(v: serde_json::Value) -> Map {
    match Value::from(v) {
        Value::Map(m) => m,
        other => panic!("not a map: {other:?}"),
    }
}

#[test]
fn params_upsert_on_the_root_and_copy_to_the_registering_span() {
    let tracer = Tracer::in_memory(10);
    {
        let root = tracer.trace("query");
        root.register_param("model", "gpt-4o");
        {
            let child = tracer.trace("retrieve");
            child
                .register_param("top_k", 5)
                .register_param("model", "gpt-4.1");
            child.register_trace_param("index", "docs");
            assert_eq!(
                child.params(),
                map(json!({"model": "gpt-4.1", "top_k": 5, "index": "docs"}))
            );
        }
    }
    let root = named(&tracer, "query");
    assert_eq!(
        root.attributes.get(PARAMS),
        Some(&Value::from(
            json!({"model": "gpt-4.1", "top_k": 5, "index": "docs"})
        ))
    );
    assert_eq!(
        root.attributes.get("param.model"),
        Some(&"gpt-4o".into()),
        "the span's own copy"
    );
    let child = named(&tracer, "retrieve");
    assert_eq!(child.attributes.get("param.top_k"), Some(&5.into()));
    assert_eq!(child.attributes.get("param.index"), None, "trace-only");
    assert_eq!(
        child.attributes.get(PARAMS),
        None,
        "the set lives on the root"
    );
}

#[test]
fn register_params_merges_or_replaces() {
    let tracer = Tracer::in_memory(10);
    let span = tracer.trace("run");
    span.register_params(map(json!({"a": 1, "b": 2})), Overwrite::Merge);
    span.register_params(map(json!({"b": 3, "c": 4})), Overwrite::Merge);
    assert_eq!(span.params(), map(json!({"a": 1, "b": 3, "c": 4})));
    span.register_params(map(json!({"z": true})), Overwrite::Replace);
    assert_eq!(span.params(), map(json!({"z": true})));
}

#[test]
fn typed_params_are_validated() {
    let tracer = Tracer::in_memory(10);
    let span = tracer.trace("run");
    span.register_query_model("claude-sonnet-4")
        .unwrap()
        .register_query_temperature(0.7)
        .unwrap();
    span.register_ingestion_chunk_size(512)
        .unwrap()
        .register_retrieval_top_k(3)
        .unwrap();
    for (result, key) in [
        (
            span.register_query_temperature(2.5).map(|_| ()),
            "temperature",
        ),
        (
            span.register_query_temperature(f64::NAN).map(|_| ()),
            "temperature",
        ),
        (span.register_query_top_p(-0.1).map(|_| ()), "top_p"),
        (
            span.register_ingestion_chunk_size(0).map(|_| ()),
            "chunk_size",
        ),
        (span.register_retrieval_top_k(0).map(|_| ()), "top_k"),
        (span.register_query_model("  ").map(|_| ()), "model"),
    ] {
        match result {
            Err(EvalError::InvalidParam { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}: {other:?}"),
        }
    }
    // A group is all or nothing.
    let bad = GenerationParams {
        model: Some("m".into()),
        temperature: Some(9.0),
        ..Default::default()
    };
    assert!(span.register_generation_params(bad).is_err());
    assert_eq!(
        span.params(),
        map(json!({"model": "claude-sonnet-4", "temperature": 0.7, "chunk_size": 512, "top_k": 3}))
    );
}

#[test]
fn one_trace_level_event_per_trace() {
    let tracer = Tracer::in_memory(10);
    {
        let root = tracer.trace("query");
        let child = tracer.trace("answer");
        child
            .log_trace_event(
                "question?",
                "answer.",
                Some(json!({"latency_ms": 12}).into()),
            )
            .unwrap();
        let again = root.log_trace_event("q2", "a2", None).unwrap_err();
        assert!(
            matches!(again, EvalError::TraceEventExists { .. }),
            "{again}"
        );
        assert!(
            again.to_string().contains("log_rag_event"),
            "says what to do: {again}"
        );
    }
    let root = named(&tracer, "query");
    let events: Vec<_> = root
        .events
        .iter()
        .filter(|e| e.name == TRACE_EVENT)
        .collect();
    assert_eq!(events.len(), 1, "kept on the root span");
    assert_eq!(
        events[0].attributes.get("rag.input"),
        Some(&"question?".into())
    );
    // A no-op span records nothing and says so.
    let noop = Tracer::noop();
    assert_eq!(
        noop.trace("x").log_trace_event("a", "b", None),
        Err(EvalError::NotRecording)
    );
}

fn pipeline(tracer: &Tracer) {
    let doc = Document::new("guide.md")
        .name("Guide")
        .content("tracekit traces agents. It is fast.");
    let chunks = [
        Chunk::new("c-1").content("tracekit traces agents."),
        Chunk::new("c-2")
            .content("It is fast.")
            .embedding(vec![0.5, -1.0]),
    ];
    let retrieved = [
        RetrievedChunk::new(chunks[0].clone(), 0.9),
        RetrievedChunk::new(chunks[1].clone(), 0.4),
    ];
    let span = tracer.trace("rag");
    span.log_rag_event(RagEvent::chunking(Some(&doc), &chunks).metadata(json!({"chunk_size": 32})))
        .log_rag_event(RagEvent::embedding(
            json!(["tracekit traces agents."]),
            &[vec![0.25, 0.75]],
        ))
        .log_rag_event(RagEvent::query_rewrite(
            "what is it?",
            &["what is tracekit?".to_string()],
        ))
        .log_rag_event(RagEvent::retrieval("what is tracekit?", &retrieved))
        .log_rag_event(
            RagEvent::rerank(&retrieved, &[retrieved[1].clone(), retrieved[0].clone()])
                .name("cross-encoder"),
        )
        .log_rag_event(RagEvent::tool_call(
            "search",
            json!({"q": "x"}),
            json!({"hits": 1}),
        ))
        .log_rag_event(RagEvent::query(
            "what is tracekit?",
            "A tracer.",
            Some("Be brief."),
        ))
        .log_rag_event(RagEvent::new(RagEventKind::Synthesize, "ctx", "answer"));
}

fn check_pipeline(span: &Trace) {
    let names: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "rag.chunking",
            "rag.embedding",
            "rag.query_rewrite",
            "rag.retrieval",
            "rag.reranking",
            "rag.tool_call",
            "rag.query",
            "rag.synthesize"
        ]
    );
    let chunking = &span.events[0].attributes;
    assert_eq!(
        chunking.get("rag.input"),
        Some(&Value::from(
            json!({"id": "guide.md", "name": "Guide", "content": "tracekit traces agents. It is fast."})
        ))
    );
    assert_eq!(
        chunking
            .get("rag.output")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        chunking.get("rag.metadata"),
        Some(&Value::from(json!({"chunk_size": 32})))
    );
    let retrieval = &span.events[3].attributes;
    let first: RetrievedChunk = serde_json::from_value(
        serde_json::to_value(&retrieval.get("rag.output").unwrap().as_array().unwrap()[0]).unwrap(),
    )
    .unwrap();
    assert_eq!(
        first,
        RetrievedChunk::new(Chunk::new("c-1").content("tracekit traces agents."), 0.9)
    );
    assert_eq!(
        span.events[4].attributes.get("rag.name"),
        Some(&"cross-encoder".into())
    );
    assert_eq!(
        span.events[6].attributes.get("rag.metadata"),
        Some(&Value::from(json!({"system_prompt": "Be brief."})))
    );
}

#[test]
fn rag_events_round_trip_through_memory_and_sqlite() {
    let memory = Tracer::in_memory(10);
    pipeline(&memory);
    check_pipeline(&all(&memory)[0]);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rag.db");
    {
        let store = Tracer::sqlite(&path).unwrap();
        pipeline(&store);
        store.shutdown().unwrap();
    }
    let reopened = Tracer::sqlite(&path).unwrap();
    check_pipeline(&all(&reopened)[0]);
}

#[test]
fn documents_and_chunks_are_serde_types() {
    let retrieved = RetrievedChunk::new(Chunk::new("c").content("t").embedding(vec![1.0]), 0.5);
    let text = serde_json::to_string(&retrieved).unwrap();
    assert_eq!(
        text,
        r#"{"id":"c","content":"t","embedding":[1.0],"retrieval_score":0.5}"#
    );
    assert_eq!(
        serde_json::from_str::<RetrievedChunk>(&text).unwrap(),
        retrieved
    );
    let doc: Document = serde_json::from_str(r#"{"id": "d"}"#).unwrap();
    assert_eq!(doc, Document::new("d"));
    assert_eq!(
        serde_json::to_string(&RagEventKind::QueryRewrite).unwrap(),
        r#""query_rewrite""#
    );
}

mod feedback {
    use super::*;
    use tracekit::eval::{feedback, log_feedback, Feedback, FEEDBACK_SPAN};

    #[test]
    fn every_kind_on_the_current_turn_reads_back() {
        let tracer = Tracer::in_memory(20);
        let given = [
            Feedback::Binary(false),
            Feedback::Numeric(0.8),
            Feedback::categorical("too long", &["helpful", "too long", "wrong"]),
            Feedback::Text("cite your sources".into()),
            Feedback::FreeForm(json!({"stars": 4, "tags": ["x"]}).into()),
        ];
        let turn_id = {
            let turn = tracer.trace("turn");
            for f in &given {
                turn.log_feedback(f.clone()).unwrap();
            }
            turn.span_id().unwrap()
        };
        let spans = all(&tracer);
        let records = feedback(&spans);
        assert_eq!(
            records
                .iter()
                .map(|r| r.feedback.clone())
                .collect::<Vec<_>>(),
            given
        );
        assert!(records.iter().all(|r| r.span_id == Some(turn_id)));
        let numeric = spans
            .iter()
            .find(|s| s.attributes.get("tracekit.feedback.kind") == Some(&"numeric".into()))
            .unwrap();
        assert_eq!(numeric.parent_span_id, Some(turn_id));
        assert_eq!(
            numeric.attributes.get("gen_ai.evaluation.name"),
            Some(&"user_feedback".into())
        );
        assert_eq!(
            numeric.attributes.get("gen_ai.evaluation.score.value"),
            Some(&0.8.into())
        );
        let binary = spans
            .iter()
            .find(|s| s.attributes.get("tracekit.feedback.kind") == Some(&"binary".into()))
            .unwrap();
        assert_eq!(
            binary.attributes.get("gen_ai.evaluation.score.label"),
            Some(&"negative".into())
        );
    }

    #[test]
    fn invalid_feedback_is_refused_and_records_nothing() {
        let tracer = Tracer::in_memory(20);
        {
            let turn = tracer.trace("turn");
            for bad in [
                Feedback::Numeric(1.01),
                Feedback::Numeric(-0.1),
                Feedback::Numeric(f64::NAN),
                Feedback::categorical("meh", &["good", "bad"]),
            ] {
                let err = turn.log_feedback(bad.clone()).unwrap_err();
                assert!(
                    matches!(err, EvalError::InvalidFeedback { .. }),
                    "{bad:?}: {err}"
                );
            }
        }
        assert!(feedback(&all(&tracer)).is_empty());
        assert_eq!(all(&tracer).len(), 1);
    }

    #[test]
    fn feedback_on_a_trace_that_ended_in_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.db");
        // The agent's process: a turn, stored, and gone.
        let (trace_id, answer_span) = {
            let agent = Tracer::sqlite(&path).unwrap();
            let ids = {
                let turn = agent.trace("turn");
                let answer = agent.trace("answer");
                (turn.trace_id().unwrap(), answer.span_id().unwrap())
            };
            agent.shutdown().unwrap();
            ids
        };
        // Later, the feedback service opens the same file.
        let service = Tracer::sqlite(&path).unwrap();
        log_feedback(&service, trace_id, None, Feedback::Binary(true)).unwrap();
        log_feedback(
            &service,
            trace_id,
            Some(answer_span),
            Feedback::Numeric(0.25),
        )
        .unwrap();
        let unknown = log_feedback(
            &service,
            tracekit::TraceId::random(),
            None,
            Feedback::Binary(true),
        )
        .unwrap_err();
        assert!(
            matches!(unknown, EvalError::UnknownTrace { .. }),
            "{unknown}"
        );
        let wrong_span = log_feedback(
            &service,
            trace_id,
            Some(tracekit::SpanId::random()),
            Feedback::Binary(true),
        )
        .unwrap_err();
        assert!(
            matches!(
                wrong_span,
                EvalError::UnknownTrace {
                    span_id: Some(_),
                    ..
                }
            ),
            "{wrong_span}"
        );
        service.shutdown().unwrap();

        let reader = Tracer::sqlite(&path).unwrap();
        let spans = reader
            .get_traces(&tracekit::TraceFilter::new().trace_id(trace_id))
            .unwrap();
        assert_eq!(
            spans.len(),
            4,
            "the turn, its answer and two feedback spans"
        );
        let records = feedback(&spans);
        assert_eq!(records.len(), 2);
        assert_eq!(
            (records[0].feedback.clone(), records[0].span_id),
            (Feedback::Binary(true), None)
        );
        assert_eq!(
            (records[1].feedback.clone(), records[1].span_id),
            (Feedback::Numeric(0.25), Some(answer_span))
        );
        let on_answer = spans
            .iter()
            .filter(|s| s.span_name == FEEDBACK_SPAN)
            .find(|s| s.parent_span_id == Some(answer_span));
        assert!(on_answer.is_some(), "a child of the span it is about");
    }
}

mod named {
    use super::*;
    use tracekit::eval::{tracer, RagFlow, TracerConfig, FLOW_TYPE};

    #[test]
    fn a_named_tracer_from_anywhere_with_initial_params_flow_and_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rag-traces.db");
        let memory = Tracer::in_memory(10);
        let registered = TracerConfig::new("eval-test-query")
            .initial_params(map(json!({"chunk_size": 256, "model": "m-0"})))
            .flow(RagFlow::Query)
            .output_file(&file)
            .register(memory.clone())
            .unwrap();
        // The singleton rule: a second registration gets the first tracer.
        let again = TracerConfig::new("eval-test-query")
            .register(Tracer::noop())
            .unwrap();
        assert!(again.is_enabled());
        assert!(tracer("eval-test-nothing").is_none());
        std::thread::spawn(|| {
            let t = tracer("eval-test-query").unwrap();
            let span = t.trace("query");
            span.register_param("model", "m-1");
            assert_eq!(
                span.params(),
                map(json!({"chunk_size": 256, "model": "m-1"}))
            );
        })
        .join()
        .unwrap();
        registered.flush().unwrap();
        let span = &all(&memory)[0];
        assert_eq!(
            span.resource_attributes.get(FLOW_TYPE),
            Some(&"query".into())
        );
        let kept = Tracer::sqlite(&file).unwrap();
        assert_eq!(all(&kept).len(), 1, "the output file keeps it too");
    }

    #[test]
    fn each_trace_may_say_its_flow() {
        let tracer = Tracer::in_memory(10);
        {
            let root = tracer.trace("ingest");
            let chunk = tracer.trace("chunk");
            chunk.set_flow(RagFlow::Ingestion);
            drop(chunk);
            drop(root);
        }
        assert_eq!(
            named(&tracer, "ingest").attributes.get(FLOW_TYPE),
            Some(&"ingestion".into())
        );
    }
}

mod logs {
    use super::*;
    use tracekit::eval::{LogBridge, Logger, LOG_EVENT};

    #[test]
    fn logs_go_to_the_span_a_file_or_from_the_log_crate() {
        let dir = tempfile::tempdir().unwrap();
        let logger = Logger::file(dir.path().join("debug.jsonl")).unwrap();
        LogBridge::install(log::LevelFilter::Info).unwrap();
        let tracer = Tracer::in_memory(10);
        let (trace_id, span_id) = {
            let span = tracer.trace("query");
            span.log("no chunks above 0.5").log(json!({"retries": 2}));
            span.log_to(&logger, json!({"debug": [1, 2]}));
            log::warn!(target: "retriever", "index {} is stale", "docs-v2");
            log::debug!("below the level: dropped");
            (span.trace_id().unwrap(), span.span_id().unwrap())
        };
        log::error!("outside any span: dropped, no panic");
        let span = &all(&tracer)[0];
        let logs: Vec<_> = span.events.iter().filter(|e| e.name == LOG_EVENT).collect();
        assert_eq!(logs.len(), 3);
        assert_eq!(
            logs[0].attributes.get("log.data"),
            Some(&"no chunks above 0.5".into())
        );
        assert_eq!(
            logs[1].attributes.get("log.data"),
            Some(&Value::from(json!({"retries": 2})))
        );
        assert_eq!(logs[2].attributes.get("log.severity"), Some(&"WARN".into()));
        assert_eq!(
            logs[2].attributes.get("log.target"),
            Some(&"retriever".into())
        );
        assert_eq!(
            logs[2].attributes.get("log.message"),
            Some(&"index docs-v2 is stale".into())
        );
        let line: serde_json::Value = serde_json::from_str(
            std::fs::read_to_string(dir.path().join("debug.jsonl"))
                .unwrap()
                .trim(),
        )
        .unwrap();
        assert_eq!(line["trace_id"], trace_id.to_string());
        assert_eq!(line["span_id"], span_id.to_string());
        assert_eq!(line["data"], json!({"debug": [1, 2]}));
        assert_eq!(logger.failures(), 0);
        assert!(Logger::file(dir.path().join("missing/dir/x.jsonl")).is_err());
    }
}

mod capture {
    use super::*;
    use serde::Serialize;
    use tracekit::traced;

    #[derive(Serialize)]
    struct Query {
        text: String,
        top_k: u32,
    }

    struct Rag {
        tracer: Tracer,
    }

    impl Rag {
        #[traced(args, skip(api_key), output = "output")]
        fn answer(&self, query: &Query, api_key: &str, long: String) -> String {
            let _ = (api_key, long);
            format!("{} ({})", query.text, query.top_k)
        }

        #[traced(args(question))]
        async fn ask(&self, question: String, _unrecorded: u8) -> usize {
            question.len()
        }
    }

    #[test]
    fn arguments_are_captured_with_skip_and_truncation() {
        let rag = Rag {
            tracer: Tracer::in_memory(10),
        };
        let out = rag.answer(
            &Query {
                text: "what?".into(),
                top_k: 3,
            },
            "sk-secret",
            "x".repeat(20_000),
        );
        assert_eq!(out, "what? (3)");
        let span = named(&rag.tracer, "answer");
        let Some(Value::Map(input)) = span.attributes.get("input") else {
            panic!("{:?}", span.attributes)
        };
        assert_eq!(
            input.get("query"),
            Some(&Value::from(json!({"text": "what?", "top_k": 3})))
        );
        assert_eq!(input.get("api_key"), None, "skipped");
        let long = input.get("long").unwrap().as_str().unwrap();
        assert!(
            long.len() < 17_000 && long.ends_with("…[truncated 3616 bytes]"),
            "{}",
            &long[long.len() - 40..]
        );
        assert_eq!(span.attributes.get("output"), Some(&"what? (3)".into()));

        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(runtime.block_on(rag.ask("why?".into(), 7)), 4);
        let span = named(&rag.tracer, "ask");
        assert_eq!(
            span.attributes.get("input"),
            Some(&Value::from(json!({"question": "why?"})))
        );
    }
}

#[test]
fn ingestion_and_query_processing_groups() {
    use tracekit::eval::{IngestionParams, QueryProcessingParams};
    let tracer = Tracer::in_memory(10);
    let span = tracer.trace("run");
    span.register_ingestion_params(IngestionParams {
        chunk_size: Some(256),
        chunk_strategy: Some("sliding_window".into()),
        embedding_model: Some("text-embedding-3-small".into()),
        embedding_dimensions: Some(1536),
        ..Default::default()
    })
    .unwrap();
    span.register_query_processing_params(QueryProcessingParams {
        decomposition_strategy: Some("sub_questions".into()),
        ..Default::default()
    })
    .unwrap();
    let bad = IngestionParams {
        embedding_dimensions: Some(0),
        ..Default::default()
    };
    assert!(matches!(
        span.register_ingestion_params(bad),
        Err(EvalError::InvalidParam {
            key: "embedding_dimensions",
            ..
        })
    ));
    assert_eq!(
        span.params(),
        map(
            json!({"chunk_size": 256, "chunk_strategy": "sliding_window", "embedding_model": "text-embedding-3-small", "embedding_dimensions": 1536, "decomposition_strategy": "sub_questions"})
        )
    );
}

/// Evaluation results (`gen_ai.evaluation.result`): on an open span and on one that ended in
/// another tracer, read back from a SQLite file with users' feedback as `user_feedback`;
/// invalid ones refused.
#[test]
fn evaluation_results_are_kept_next_to_the_evaluated_span() {
    use tracekit::eval::{
        evaluations, log_feedback, record_evaluation, record_evaluation_for, EvalError, Evaluation,
        EvaluationSource, Feedback, EVALUATION_SPAN,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evals.db");
    let (trace_id, call_id) = {
        let tracer = Tracer::sqlite(&path).unwrap();
        let turn = tracer.trace("turn");
        let call = tracer.trace("chat gpt-4o");
        record_evaluation(
            &call,
            Evaluation::new("relevance")
                .score(0.92)
                .label("relevant")
                .explanation("answers the question")
                .response_id("resp-1"),
        )
        .unwrap();
        let ids = (call.trace_id().unwrap(), call.span_id().unwrap());
        drop(call);
        drop(turn);
        tracer.shutdown().unwrap();
        ids
    };
    // Later, another process: the trace has ended; the evaluation joins it.
    let later = Tracer::sqlite(&path).unwrap();
    record_evaluation_for(
        &later,
        trace_id,
        call_id,
        Evaluation::new("correctness").label("fail"),
    )
    .unwrap();
    log_feedback(&later, trace_id, Some(call_id), Feedback::Binary(false)).unwrap();
    let unknown = record_evaluation_for(
        &later,
        trace_id,
        tracekit::SpanId::from_int(7).unwrap(),
        Evaluation::new("x").score(1.0),
    );
    assert!(
        matches!(unknown, Err(EvalError::UnknownTrace { .. })),
        "{unknown:?}"
    );
    for bad in [
        Evaluation::new("").score(1.0),
        Evaluation::new("relevance"),
        Evaluation::new("relevance").score(f64::NAN),
    ] {
        let err = record_evaluation_for(&later, trace_id, call_id, bad.clone()).unwrap_err();
        assert!(
            matches!(err, EvalError::InvalidEvaluation { .. }),
            "{bad:?}: {err}"
        );
    }
    let spans = later
        .get_traces(&TraceFilter::new().trace_id(trace_id))
        .unwrap();
    let found = evaluations(&spans);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found.iter().all(|e| e.span_id == Some(call_id)));
    let relevance = found
        .iter()
        .find(|e| e.evaluation.name == "relevance")
        .unwrap();
    assert_eq!(
        relevance.evaluation,
        Evaluation::new("relevance")
            .score(0.92)
            .label("relevant")
            .explanation("answers the question")
            .response_id("resp-1")
    );
    assert_eq!(relevance.source, EvaluationSource::Evaluator);
    let user = found
        .iter()
        .find(|e| e.source == EvaluationSource::UserFeedback)
        .unwrap();
    assert_eq!(
        (
            user.evaluation.name.as_str(),
            user.evaluation.score,
            user.evaluation.label.as_deref()
        ),
        ("user_feedback", Some(0.0), Some("negative"))
    );
    // Each is a span of the convention's name below the evaluated span.
    let eval_spans: Vec<&Trace> = spans
        .iter()
        .filter(|s| s.span_name == EVALUATION_SPAN)
        .collect();
    assert_eq!(eval_spans.len(), 2);
    assert!(eval_spans.iter().all(|s| s.parent_span_id == Some(call_id)));
    // `tracekit show` (the tree) prints them next to the span they evaluate.
    let tree = tracekit::render::tree(&spans);
    for line in [
        "[relevance = 0.92 relevant]",
        "[correctness = fail]",
        "[user_feedback = 0 negative]",
    ] {
        assert!(tree.contains(line), "{line}: {tree}");
    }
}
