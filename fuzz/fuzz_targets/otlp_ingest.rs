//! OTLP export requests from anyone (`tracekit serve --otlp`): any body, as protobuf or JSON,
//! gzipped or not, is an answer the OTLP specification allows (200, 400, 413), never a
//! panic; whatever is taken reaches the tracer whole, completed, and renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracekit::ingest::{Collector, ExportRequest, Limits};
use tracekit::{TraceFilter, Tracer};

fuzz_target!(|data: &[u8]| {
    let Some((&how, body)) = data.split_first() else {
        return;
    };
    let content_type = if how & 1 == 0 { "application/x-protobuf" } else { "application/json" };
    let tracer = Tracer::in_memory(100_000);
    let collector = Collector::new(tracer.clone())
        .limits(Limits::new().max_decompressed_bytes(1 << 20).max_attributes_per_span(64));
    let mut request = ExportRequest::new(body).content_type(content_type);
    if how & 2 != 0 {
        request = request.content_encoding("gzip");
    }
    let reply = collector.export(request);
    assert!([200, 400, 413].contains(&reply.status()), "{}", reply.status());
    let stats = collector.stats();
    let stored = tracer.get_traces(&TraceFilter::new()).unwrap();
    assert_eq!(stored.len() as u64, stats.spans_stored);
    assert_eq!(stats.spans_received, stats.spans_stored + stats.spans_rejected);
    let _ = tracekit::render::tree(&stored);
});
