//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use tracekit::{Trace, TraceFilter, Tracer};

/// A writer whose bytes the test can read back.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every stored span, by start time.
pub fn all(tracer: &Tracer) -> Vec<Trace> {
    tracer.get_traces(&TraceFilter::new()).unwrap()
}

/// The stored span named `name` (exactly one).
pub fn named(tracer: &Tracer, name: &str) -> Trace {
    let mut found: Vec<Trace> = all(tracer)
        .into_iter()
        .filter(|t| t.span_name == name)
        .collect();
    assert_eq!(found.len(), 1, "expected one span named {name}");
    found.remove(0)
}

/// Span names in `get_traces` order.
pub fn names(spans: &[Trace]) -> Vec<String> {
    spans.iter().map(|t| t.span_name.to_string()).collect()
}

/// A multi-thread tokio runtime with `workers` threads and timers.
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .unwrap()
}
