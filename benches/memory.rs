//! Heap bytes per retained span: 100 000 spans, each a root span named "x" with two short
//! string attributes, kept by `Tracer::in_memory`. A counting global allocator measures the
//! bytes still allocated after the spans ended (minus what the empty tracer held), so the
//! figure includes the store's own buffer.
//!
//! `cargo bench --bench memory`. The reference (Python) keeps about 1 090 bytes per span.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SPANS: usize = 100_000;

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let tracer = tracekit::Tracer::in_memory(SPANS);
    tracer.set_resource_attribute("service.name", "MyAgent");
    drop(tracer.trace("warm-up"));
    let before = LIVE.load(Relaxed);
    for _ in 0..SPANS {
        drop(
            tracer
                .span("x")
                .attribute("k", "v")
                .attribute("k2", "v2")
                .start(),
        );
    }
    let after = LIVE.load(Relaxed);
    let kept = tracer.stats().spans_persisted as usize;
    assert!(kept > SPANS, "every span is retained");
    let per_span = (after - before) as f64 / SPANS as f64;
    println!("tracekit in_memory: {per_span:.0} bytes of heap per retained span ({SPANS} spans, 2 short attributes, 1 resource attribute)");
    println!(
        "(Value is {} bytes, Trace {} bytes)",
        std::mem::size_of::<tracekit::Value>(),
        std::mem::size_of::<tracekit::Trace>()
    );
}
