//! Finished spans' allocations, kept per thread for the next spans: most spans start and end
//! on one thread, and reusing one saves the allocator a `malloc` and a `free`.

use std::cell::RefCell;

use triomphe::UniqueArc;

use super::inner::SpanInner;

/// Enough for the spans a thread has open at once in usual code.
const SIZE: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<UniqueArc<SpanInner>>> = const { RefCell::new(Vec::new()) };
}

/// A span from the pool, holding no references (see `put`).
#[inline]
pub(super) fn take() -> Option<UniqueArc<SpanInner>> {
    POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten()
}

/// Keeps `span` (ended and emptied) for reuse, if there is room.
#[inline]
pub(super) fn put(span: UniqueArc<SpanInner>) {
    let _ = POOL.try_with(|p| {
        let mut pool = p.borrow_mut();
        if pool.len() < SIZE {
            pool.push(span);
        }
    });
}
