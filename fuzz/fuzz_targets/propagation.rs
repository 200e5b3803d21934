//! `traceparent`, `tracestate` and `baggage` headers from anyone: a context or `None`, never
//! a panic; what is accepted goes out again within the limits and reads back the same.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use tracekit::propagation::{extract, inject};
use tracekit::Tracer;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let mut headers = HashMap::new();
    for name in ["traceparent", "tracestate", "baggage"] {
        if let Some(value) = parts.next() {
            headers.insert(name.to_owned(), value.to_owned());
        }
    }
    let Some(context) = extract(&headers) else {
        return;
    };
    // Continue the trace and send it on: the outgoing headers parse back to the same ids.
    let tracer = Tracer::in_memory(1);
    let span = tracer.span("handler").remote(context.clone()).start();
    let mut outgoing: HashMap<String, String> = HashMap::new();
    inject(&span, &mut outgoing);
    let back = extract(&outgoing).expect("what tracekit sends, it reads");
    assert_eq!(back.trace_id(), context.trace_id());
    assert!(outgoing.get("baggage").is_none_or(|b| b.len() <= 8192));
});
