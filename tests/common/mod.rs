//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

pub mod load;
pub mod reference;
pub mod servers;

use tracekit::{Sink, Trace, TraceFilter, Tracer};

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

/// A span as a store returns it: times cut to the microsecond, as the reference keeps them.
pub fn in_microseconds(mut t: Trace) -> Trace {
    t.started_at = t.started_at.truncated_to_micros();
    t.ended_at = t.ended_at.map(tracekit::Timestamp::truncated_to_micros);
    t
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

/// A sink that keeps every finished span, as the default `Sink::persist_span` builds it: the
/// reference to compare a store's read-back against. Clones share the spans.
#[derive(Clone, Default)]
pub struct Kept(Arc<Mutex<Vec<Trace>>>);

impl Sink for Kept {
    fn persist(&self, trace: &Trace) {
        self.0.lock().unwrap().push(trace.clone());
    }
}

impl Kept {
    /// The spans kept so far, in the order they arrived.
    pub fn spans(&self) -> Vec<Trace> {
        self.0.lock().unwrap().clone()
    }

    /// Their names.
    pub fn names(&self) -> Vec<String> {
        names(&self.spans())
    }

    /// Whether a tracer still holds this sink (one whose last reference is gone drops it).
    #[allow(dead_code)] // not every test binary asks
    pub fn held_by_a_tracer(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }
}

/// A tee that stores into an in-memory tracer and into a `Kept`: `(tee, memory, kept)`.
pub fn pair(memory_size: usize) -> (Tracer, Tracer, Kept) {
    let memory = Tracer::in_memory(memory_size);
    let kept = Kept::default();
    let tee = Tracer::tee([memory.clone(), Tracer::new(kept.clone())]);
    (tee, memory, kept)
}
