//! How a span refers to its parent and to its tracer, and the context stack's entries that
//! point at spans. This module owns the rules that make borrowing them sound.
//!
//! # Borrowed links
//!
//! Counting a reference costs two locked instructions (up when the span starts, down when
//! it ends), about 8–9 ns each on the machines this runs on; most spans would pay that twice.
//! So a span *borrows* its parent or its tracer when something else is sure to keep it alive:
//!
//! * **Parent** ([`ParentLink`]): a span started with a guard ([`SpanBuilder::start`]) while
//!   its parent is current on this thread borrows the parent. The parent's context entry is
//!   then beneath the child's, and whoever pushed that entry keeps the parent alive until it
//!   removes the entry (see [`Entry::new`]).
//! * **Tracer** ([`TracerLink`]): a span borrows its tracer through a local parent with the
//!   same tracer (the span keeps its parent alive, and the parent its tracer), or from the
//!   code that started it, which keeps the [`Tracer`](crate::Tracer) borrowed for as long as the
//!   span is reachable unpromoted (`#[traced]` on a `&self` method: see
//!   [`SpanBuilder::borrowing_tracer`] and `__private::BorrowsTracer`).
//!
//! Other links are counted: a span started as a future, stream or iterator, or with an
//! explicit parent, counts its parent; roots and spans under another tracer's span hold a
//! lease on their tracer (`tracer::lease`).
//!
//! # The invariant
//!
//! **A borrowed link is followed only while its lender keeps the referent alive.** So a span
//! with a borrowed link stays reachable only from this thread, only from its guard (or the
//! caller that lends its tracer), and only above its parent's context entry. Before anything
//! could break that, the span is *promoted*, on this thread: its borrowed links become counted
//! references, and so do its ancestors' up to the first counted link
//! ([`SpanInner::promote`]). Promotion keeps a second invariant: **above a counted link,
//! every link is counted** (or owned), so promotion stops there.
//!
//! # Where spans are promoted
//!
//! Each of these has a test in `tests/span_lifetimes.rs` that fails (wrong data or a crash
//! under AddressSanitizer and Miri) without its promotion:
//!
//! 1. [`Entry::counted`]: a counted reference to a context entry's span, for
//!    [`Tracer::current_trace`](crate::Tracer::current_trace), a captured
//!    [`Context`](crate::Context), and the parent of a span that no guard holds (a
//!    future, stream or iterator), all of which may be kept or sent anywhere.
//! 2. [`SpanGuard::span`](crate::SpanGuard::span) (and its `Deref`): a [`Span`](crate::Span)
//!    handle can be cloned and kept beyond the guard.
//! 3. `context::exit` of an entry that is not on top of the stack: the spans above it may
//!    borrow from it, and can now outlive it.
//! 4. The context stack's teardown with the thread's locals: guards still open (kept in
//!    another thread-local, or forgotten) can no longer find their entries.
//! 5. `__private::iter` and `__private::stream` (`#[traced(stream)]`): the span leaves its
//!    guard for the returned value.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use super::inner::{Parent, SpanInner, SpanRef};
use crate::tracer::{TracerInner, TracerOwner};

#[cfg(doc)]
use super::SpanBuilder;

/// A span's link to its tracer: a pointer, and what keeps the tracer alive.
///
/// Invariant: once `keep` is not [`Keep::Unset`], `ptr` points to a live tracer for as long
/// as the link exists. Each setter below establishes it for its own case: `set_owned` by
/// holding the owner, the two `unsafe` ones by their callers' promise.
pub(crate) struct TracerLink {
    ptr: NonNull<TracerInner>,
    keep: Keep,
}

/// What keeps a span's tracer alive. Each way is set by one function of [`TracerLink`]; the
/// borrowing ones are `unsafe`, and their callers say why the borrow holds.
enum Keep {
    /// Nothing: the span is being configured or sits in the pool, and the link is not
    /// followed until one of the others is set.
    Unset,
    /// A lease (or a reference) on the tracer; held only to be dropped with the link.
    Owned(#[allow(dead_code)] TracerOwner),
    /// The span's local parent, which has the same tracer (see
    /// [`TracerLink::set_through_parent`]).
    Parent,
    /// The code that started the span (see [`TracerLink::set_borrowed_from_caller`]); the
    /// reference that promotion takes, once it has.
    Caller(OnceLock<Arc<TracerInner>>),
}

// SAFETY: a `TracerLink` gives out only `&TracerInner` (`TracerInner` is `Send + Sync`) and
// holds `Arc`s of it; whether the pointee is alive does not depend on the thread (see
// `TracerLink::get`).
unsafe impl Send for TracerLink {}
// SAFETY: as for `Send`: shared access only reads the pointer or promotes through a
// `OnceLock`.
unsafe impl Sync for TracerLink {}

impl TracerLink {
    /// A link that points nowhere yet.
    pub(super) const fn unset() -> TracerLink {
        TracerLink {
            ptr: NonNull::dangling(),
            keep: Keep::Unset,
        }
    }

    /// The span holds `owner` (a lease or a reference on its tracer).
    pub(super) fn set_owned(&mut self, owner: TracerOwner) {
        // `TracerOwner::tracer` is never null: it is an `Arc`'s data pointer.
        if let Some(ptr) = NonNull::new(owner.tracer().cast_mut()) {
            self.ptr = ptr;
            self.keep = Keep::Owned(owner);
        }
    }

    /// The span borrows its tracer through its parent, whose tracer is `parent`.
    ///
    /// # Safety
    ///
    /// The span's `header.parent` is a [`Parent::Local`] link to the span whose tracer link
    /// is `parent`, so the span keeps that parent alive, and the parent keeps the tracer
    /// alive, for as long as the span lives.
    pub(super) unsafe fn set_through_parent(&mut self, parent: &TracerLink) {
        self.ptr = parent.ptr;
        self.keep = Keep::Parent;
    }

    /// The span borrows `tracer` from the code that started it.
    ///
    /// # Safety
    ///
    /// Until the span is promoted ([`SpanInner::promote`]) or dropped, `tracer` stays alive:
    /// the caller holds a borrow of a [`Tracer`](crate::Tracer) that owns `tracer`, and keeps
    /// the span reachable only through values that cannot outlive that borrow.
    pub(super) unsafe fn set_borrowed_from_caller(&mut self, tracer: &Arc<TracerInner>) {
        // `Arc::as_ptr` keeps the provenance of the whole allocation, which `arc` needs.
        if let Some(ptr) = NonNull::new(Arc::as_ptr(tracer).cast_mut()) {
            self.ptr = ptr;
            self.keep = Keep::Caller(OnceLock::new());
        }
    }

    /// Whether this link and `tracer` are the same tracer.
    #[inline]
    pub(super) fn is(&self, tracer: &Arc<TracerInner>) -> bool {
        std::ptr::eq(self.ptr.as_ptr(), Arc::as_ptr(tracer))
    }

    /// The tracer.
    #[inline]
    pub(super) fn get(&self) -> &TracerInner {
        debug_assert!(!matches!(self.keep, Keep::Unset), "followed an unset link");
        // SAFETY: the link is set (spans with an unset link are reachable only from the
        // `SpanBuilder` that sets it before anything follows it), so by the type's invariant
        // `ptr` points to a live tracer for as long as `self` is borrowed.
        unsafe { self.ptr.as_ref() }
    }

    /// A new reference to the tracer.
    pub(super) fn arc(&self) -> Arc<TracerInner> {
        let _alive = self.get();
        let ptr = self.ptr.as_ptr().cast_const();
        // SAFETY: `ptr` came from `Arc::as_ptr` (every setter takes it from an `Arc` or from
        // another link), and the tracer is alive (`get` above checked the link is set).
        unsafe { Arc::increment_strong_count(ptr) };
        // SAFETY: as above; the count just taken is the one the new `Arc` owns.
        unsafe { Arc::from_raw(ptr) }
    }

    /// Makes the span keep its tracer alive itself, if it borrowed it from its caller.
    #[inline]
    fn promote(&self) {
        if let Keep::Caller(promoted) = &self.keep {
            promoted.get_or_init(|| self.arc());
        }
    }
}

/// A span's link to its parent in this process: a counted reference, or a borrow (see the
/// module docs).
pub(crate) struct ParentLink {
    span: NonNull<SpanInner>,
    /// Set once the link holds a reference. Written only on the thread that borrows (see
    /// the module docs); other threads see it through whatever sent them the span.
    counted: AtomicBool,
}

// SAFETY: a counted link is a `SpanRef` (which is `Send + Sync`); a borrowed one is followed
// only on the thread it was made on, since its span is promoted before it can reach another
// (see the module docs).
unsafe impl Send for ParentLink {}
// SAFETY: as for `Send`.
unsafe impl Sync for ParentLink {}

impl ParentLink {
    /// A link holding a reference.
    pub(super) fn counted(span: SpanRef) -> ParentLink {
        // `into_raw` is `as_ptr` without giving the reference back.
        let span = ptr_of(&std::mem::ManuallyDrop::new(span));
        ParentLink {
            span,
            counted: AtomicBool::new(true),
        }
    }

    /// A link that borrows `parent`.
    ///
    /// # Safety
    ///
    /// `parent` is the span of an entry on this thread's context stack (from
    /// `context::current_borrowed`), and the span that will hold this link is entered at once
    /// above that entry and held only by a guard (as [`SpanBuilder::start`] does). Then the
    /// parent outlives the link unless one of the promotions of the module docs happens first.
    pub(super) unsafe fn borrowed(parent: NonNull<SpanInner>) -> ParentLink {
        ParentLink {
            span: parent,
            counted: AtomicBool::new(false),
        }
    }

    /// The parent.
    #[inline]
    pub(super) fn get(&self) -> &SpanInner {
        // SAFETY: a counted link holds a reference; a borrowed one is followed only while the
        // parent's entry keeps it alive (see `borrowed`).
        unsafe { self.span.as_ref() }
    }
}

impl Drop for ParentLink {
    #[inline]
    fn drop(&mut self) {
        if *self.counted.get_mut() {
            // SAFETY: the reference `counted` made, or `promote` took.
            drop(unsafe { SpanRef::from_raw(self.span.as_ptr()) });
        }
    }
}

impl SpanInner {
    /// Makes the span keep alive what it borrows: its links to its ancestors become counted
    /// references (up to the first one that is), and a tracer borrowed from the caller gets a
    /// reference of its own. Call it on this thread before anything could let the span
    /// outlive its context entry or its caller, or reach another thread (the module docs list
    /// where). Costs a load or two when there is nothing to do.
    #[inline]
    pub(crate) fn promote(&self) {
        let mut span = self;
        loop {
            span.header.tracer.promote();
            let Parent::Local(parent) = &span.header.parent else {
                return;
            };
            if parent.counted.load(Ordering::Relaxed) {
                // Above a counted link, everything is promoted.
                return;
            }
            // SAFETY: a borrowed parent is alive while its child is (see `ParentLink::get`),
            // and the reference taken here is the one `ParentLink::drop` gives back.
            std::mem::forget(unsafe { clone_from_ptr(parent.span.as_ptr()) });
            parent.counted.store(true, Ordering::Relaxed);
            span = parent.get();
        }
    }
}

/// `SpanRef::as_ptr`, which keeps the provenance of the whole allocation (reference count
/// included), as `clone_from_ptr` needs; a pointer made from `&SpanInner` would not.
#[inline]
fn ptr_of(span: &SpanRef) -> NonNull<SpanInner> {
    // SAFETY: the data pointer of a live `Arc` is not null.
    unsafe { NonNull::new_unchecked(SpanRef::as_ptr(span).cast_mut()) }
}

/// One more reference to the span at `ptr`.
///
/// # Safety
///
/// `ptr` is [`triomphe::Arc::as_ptr`] (or `into_raw`) of a span that is alive.
unsafe fn clone_from_ptr(ptr: *const SpanInner) -> SpanRef {
    // SAFETY: the caller guarantees the allocation is alive; `ManuallyDrop` leaves the
    // borrowed reference's count as it was, and the clone adds one.
    let borrowed = std::mem::ManuallyDrop::new(unsafe { SpanRef::from_raw(ptr) });
    SpanRef::clone(&borrowed)
}

/// A span entered on this thread's context stack (see `crate::span::context`). It points at the
/// span without owning it; it exists only while the span is alive (see [`Entry::new`]), and
/// it is neither `Clone` nor `Copy`, so it cannot be kept beyond its place on the stack.
pub(crate) struct Entry {
    /// Compared, never followed.
    tracer: *const TracerInner,
    span: NonNull<SpanInner>,
}

impl Entry {
    /// An entry for `span`.
    ///
    /// # Safety
    ///
    /// `span`'s allocation outlives the entry: the entry is dropped (removed from the stack)
    /// before the reference `span` borrows from is dropped, or that reference is leaked.
    #[inline]
    pub(crate) unsafe fn new(span: &SpanRef) -> Entry {
        Entry {
            tracer: span.tracer(),
            span: ptr_of(span),
        }
    }

    /// Whether this is the entry of `span`.
    #[inline]
    pub(crate) fn is(&self, span: &SpanRef) -> bool {
        std::ptr::eq(self.span.as_ptr(), SpanRef::as_ptr(span))
    }

    /// Whether the entry's span belongs to `tracer`.
    #[inline]
    pub(crate) fn belongs_to(&self, tracer: &TracerInner) -> bool {
        std::ptr::eq(self.tracer, tracer)
    }

    /// Whether both entries' spans belong to the same tracer.
    #[inline]
    pub(crate) fn same_tracer(&self, other: &Entry) -> bool {
        std::ptr::eq(self.tracer, other.tracer)
    }

    #[inline]
    fn span(&self) -> &SpanInner {
        // SAFETY: an entry exists only while its span is alive (see `new`).
        unsafe { self.span.as_ref() }
    }

    /// The span, for a child that will be entered above this entry and may borrow it (see
    /// [`ParentLink::borrowed`]).
    #[inline]
    pub(crate) fn borrowable(&self) -> NonNull<SpanInner> {
        self.span
    }

    /// Promotes the entry's span (see [`SpanInner::promote`]).
    #[inline]
    pub(crate) fn promote(&self) {
        self.span().promote();
    }

    /// A counted reference to the entry's span, which may then go anywhere: promoted first.
    pub(crate) fn counted(&self) -> SpanRef {
        self.promote();
        // SAFETY: the span is alive (see `span`), and `span` is its `as_ptr` (see `new`).
        unsafe { clone_from_ptr(self.span.as_ptr()) }
    }

    /// A new reference to the entry's span's tracer.
    pub(crate) fn tracer_arc(&self) -> Arc<TracerInner> {
        self.span().tracer_arc()
    }
}
