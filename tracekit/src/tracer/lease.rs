//! Leases: what root spans hold to keep their tracer alive.
//!
//! A root span must keep its tracer alive (the guard may outlive every [`Tracer`] handle).
//! Counting a reference on the tracer's own `Arc` would make every thread that traces with
//! it bounce that count's cache line between cores twice per root span. Instead each stripe
//! (see `crate::stripe`) has a [`Lease`]: one more reference to the tracer, made on first
//! use by that stripe, on cache lines of its own. A root span counts a reference on its
//! stripe's lease, so threads tracing at once count on lines of their own.

use std::sync::{Arc, OnceLock};

use super::{Tracer, TracerInner};
use crate::stripe::{self, STRIPES};

/// One more reference to a tracer, held by root spans instead of the tracer's own count.
#[repr(align(128))]
pub(crate) struct Lease {
    tracer: Arc<TracerInner>,
}

/// A tracer's leases, made on first use by each stripe.
#[derive(Default)]
pub(crate) struct Leases([OnceLock<Arc<Lease>>; STRIPES]);

/// Keeps a tracer alive: a lease, or a reference of its own.
pub(crate) enum TracerOwner {
    Lease(Arc<Lease>),
    Tracer(Arc<TracerInner>),
}

impl TracerOwner {
    /// The tracer kept alive, as `Arc::as_ptr` gives it (so it may be turned back into a
    /// counted reference).
    #[inline]
    pub(crate) fn tracer(&self) -> *const TracerInner {
        match self {
            TracerOwner::Lease(lease) => Arc::as_ptr(&lease.tracer),
            TracerOwner::Tracer(tracer) => Arc::as_ptr(tracer),
        }
    }
}

impl Tracer {
    /// What a root span of this tracer holds to keep it alive: a lease, or for handles without
    /// leases (from [`Tracer::current`]) a reference.
    #[inline]
    pub(crate) fn lease(&self) -> Option<TracerOwner> {
        let inner = self.inner.as_ref()?;
        Some(match &self.leases {
            Some(leases) => TracerOwner::Lease(Arc::clone(
                leases.0[stripe::this_thread().index].get_or_init(|| {
                    Arc::new(Lease {
                        tracer: Arc::clone(inner),
                    })
                }),
            )),
            None => TracerOwner::Tracer(Arc::clone(inner)),
        })
    }
}
