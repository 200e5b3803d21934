//! Collection on the traced thread, assembly off it: [`Lanes`].
//!
//! A span that ends is packed ([`record`]) once, by the thread that ran it, into that
//! thread's lane: a ring of bytes with one producer and one consumer. Pushing takes no lock
//! and no atomic read-modify-write: the producer copies the record into free space and
//! publishes it with a release store of its tail. Whoever consumes (a queue's writer thread,
//! a reader of the in-memory store) *settles* a lane: under the lane's lock, it moves the
//! ring's records into the lane's settled chunks, from which it reads or takes them.
//!
//! A lane is a [stripe](crate::stripe): a thread that owns one is its only producer; threads
//! without one share the last lane and take turns on a lock. When a ring is full (or a record
//! is too big for it), the producer settles its own lane and appends after what it settled,
//! so records keep the order in which their spans ended.
//!
//! The `unsafe` code here is the ring: the producer's state and the bytes ahead of the tail
//! belong to the producer; the bytes between head and tail belong to whoever holds the
//! settled lock. Each block says which rule it relies on; the tests run under Miri.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::record::{self, Tables};
use crate::stripe::{self, CachePadded, STRIPES};
use crate::sync::lock;
use crate::FinishedSpan;

/// Bytes in a lane's ring: about two thousand typical spans. Allocated when the lane is first
/// used (a tracer touched by one thread holds one).
const RING: usize = if cfg!(miri) { 512 } else { 128 * 1024 };
/// Records bigger than this skip the ring (they are rare: an attribute of kilobytes).
const BIG: usize = RING / 4;

/// Per-thread lanes of packed spans, for one store or queue.
pub(crate) struct Lanes {
    lanes: Box<[CachePadded<Lane>]>,
    /// Threads without a lane of their own share the last one; this lock makes them take
    /// turns as its producer.
    shared_producer: Mutex<()>,
    /// How many records each lane keeps once settled (older ones are discarded):
    /// `usize::MAX` for a queue, whose consumer takes them all.
    keep: usize,
}

struct Lane {
    ring: Ring,
    /// The producer's own state; see `Lanes::push`.
    producer: UnsafeCell<Producer>,
    /// The tables the records refer to, as the producer last published them. Entries are only
    /// appended, and published before the first record that refers to them.
    tables: Mutex<Tables>,
    /// The consumer's side; holding this lock makes its holder the ring's one consumer.
    settled: Mutex<Settled>,
}

// SAFETY: `Lane` is shared between threads, but its one unsynchronized part, the `producer`
// cell (and the ring bytes it writes), is only touched by the lane's producer: the thread that
// owns the stripe, or a thread holding `shared_producer` for the shared stripe (`push` is the
// only caller of `Lane::push`, an `unsafe fn` with that rule). Everything else is atomics or
// mutexes.
unsafe impl Sync for Lane {}

#[derive(Default)]
struct Producer {
    tables: Tables,
    /// `tables.len()` when last published to `Lane::tables`.
    published: usize,
    /// The record being packed, before it is copied into the ring.
    scratch: Vec<u8>,
    /// The consumer's head when last read: the ring has at least `RING - (tail - head)` free.
    head: usize,
}

/// Records a consumer settled, oldest first, in chunks (a record never straddles two).
#[derive(Default)]
pub(crate) struct Settled {
    chunks: VecDeque<Vec<u8>>,
    /// Where the oldest record starts in `chunks[0]`.
    head: usize,
    /// Records held.
    len: usize,
    /// An emptied chunk kept for reuse.
    spare: Option<Vec<u8>>,
}

/// Chunk size of settled records.
const CHUNK: usize = 16 * 1024;

impl Settled {
    /// Appends `records` (whole records, back to back), keeping at most `keep`.
    fn extend(&mut self, mut records: &[u8], keep: usize) {
        let mut count = 0;
        let mut rest = records;
        while !rest.is_empty() {
            rest = &rest[record::record_len(rest)..];
            count += 1;
        }
        if count > keep {
            // Only the last `keep` of these stay.
            for _ in 0..count - keep {
                records = &records[record::record_len(records)..];
            }
            count = keep;
        }
        while self.len + count > keep {
            self.pop_front();
        }
        if count == 0 {
            return;
        }
        let chunk = match self.chunks.back_mut() {
            Some(chunk) if chunk.capacity() - chunk.len() >= records.len() => chunk,
            _ => {
                let chunk = match self.spare.take() {
                    Some(spare) if spare.capacity() >= records.len() => spare,
                    _ => Vec::with_capacity(CHUNK.max(records.len())),
                };
                self.chunks.push_back(chunk);
                self.chunks.back_mut().expect("just pushed")
            }
        };
        chunk.extend_from_slice(records);
        self.len += count;
    }

    fn pop_front(&mut self) {
        let Some(front) = self.chunks.front() else {
            return;
        };
        self.head += record::record_len(&front[self.head..]);
        self.len -= 1;
        if self.head >= front.len() {
            let mut emptied = self.chunks.pop_front().expect("front exists");
            emptied.clear();
            if emptied.capacity() <= 4 * CHUNK {
                self.spare = Some(emptied);
            }
            self.head = 0;
        }
    }

    /// The records as one buffer, oldest first.
    fn bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.chunks.iter().map(Vec::len).sum());
        for (i, chunk) in self.chunks.iter().enumerate() {
            bytes.extend_from_slice(&chunk[if i == 0 { self.head } else { 0 }..]);
        }
        bytes
    }

    /// Takes every record out, oldest first.
    fn take(&mut self) -> Vec<u8> {
        let bytes = if self.chunks.len() == 1 && self.head == 0 {
            self.chunks.pop_front().expect("one chunk")
        } else {
            let bytes = self.bytes();
            self.chunks.clear();
            bytes
        };
        self.head = 0;
        self.len = 0;
        bytes
    }
}

/// Records copied or taken out of one lane, with the tables they refer to.
pub(crate) struct Packed {
    bytes: Vec<u8>,
    pub(crate) tables: Tables,
}

impl Packed {
    /// The records, oldest first.
    pub(crate) fn records(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest = &self.bytes[..];
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (record, next) = rest.split_at(record::record_len(rest));
            rest = next;
            Some(record)
        })
    }
}

impl Lanes {
    /// Lanes whose settled records are kept up to `keep` per lane (`usize::MAX`: until taken).
    pub(crate) fn new(keep: usize) -> Lanes {
        Lanes {
            lanes: (0..STRIPES)
                .map(|_| {
                    CachePadded(Lane {
                        ring: Ring::default(),
                        producer: UnsafeCell::default(),
                        tables: Mutex::default(),
                        settled: Mutex::default(),
                    })
                })
                .collect(),
            shared_producer: Mutex::new(()),
            keep,
        }
    }

    /// Packs `span` into this thread's lane. No lock unless the thread has no lane of its own
    /// or the ring is full.
    #[inline]
    pub(crate) fn push(&self, span: &FinishedSpan<'_>) {
        let stripe = stripe::this_thread();
        let lane = &self.lanes[stripe.index].0;
        if stripe.owned {
            // SAFETY: this thread owns the stripe (`stripe::this_thread`), so it is the lane's
            // only producer while it lives, and `Lane::push` does not re-enter `Lanes::push`.
            unsafe { lane.push(span, self.keep) }
        } else {
            let _turn = lock(&self.shared_producer);
            // SAFETY: producers of the shared lane hold `shared_producer` while they push.
            unsafe { lane.push(span, self.keep) }
        }
    }

    /// Copies every lane's records (after settling them) without taking them.
    pub(crate) fn copy(&self) -> Vec<Packed> {
        self.lanes
            .iter()
            .filter_map(|lane| {
                let lane = &lane.0;
                let mut settled = lock(&lane.settled);
                lane.settle(&mut settled, self.keep);
                (settled.len > 0).then(|| Packed {
                    bytes: settled.bytes(),
                    tables: lock(&lane.tables).clone(),
                })
            })
            .collect()
    }

    /// Takes every lane's records out, oldest first within each lane, calling `f` with each
    /// lane's batch (outside the lane's lock).
    pub(crate) fn take(&self, mut f: impl FnMut(Packed)) {
        for lane in self.lanes.iter() {
            let lane = &lane.0;
            let batch = {
                let mut settled = lock(&lane.settled);
                lane.settle(&mut settled, self.keep);
                if settled.len == 0 {
                    continue;
                }
                Packed {
                    bytes: settled.take(),
                    tables: lock(&lane.tables).clone(),
                }
            };
            f(batch);
        }
    }
}

impl Lane {
    /// Packs `span` into the ring, or, when it does not fit, settles the ring and appends it
    /// to the settled records.
    ///
    /// # Safety
    ///
    /// The caller must be this lane's only producer for the duration of the call: the thread
    /// owning the lane's stripe, or a thread holding `Lanes::shared_producer`.
    unsafe fn push(&self, span: &FinishedSpan<'_>, keep: usize) {
        // SAFETY: the caller is the only producer (this function's contract), and only the
        // producer touches this cell, so this is the only reference to it.
        let producer = unsafe { &mut *self.producer.get() };
        let indexes = producer.tables.indexes(span);
        if producer.tables.len() != producer.published {
            // Before the record that refers to the new entry is published (below).
            *lock(&self.tables) = producer.tables.clone();
            producer.published = producer.tables.len();
        }
        producer.scratch.clear();
        record::encode(span, indexes, &mut producer.scratch);
        // SAFETY: the caller is the only producer (this function's contract).
        if unsafe { self.ring.write(&producer.scratch, &mut producer.head) } {
            return;
        }
        // Full, or too big for the ring: what the ring holds is older, so settle it first.
        let mut settled = lock(&self.settled);
        self.settle(&mut settled, keep);
        settled.extend(&producer.scratch, keep);
    }

    /// Moves the ring's records into `settled` (the lane's, locked by the caller).
    fn settle(&self, settled: &mut Settled, keep: usize) {
        // SAFETY: the caller holds the lane's `settled` lock, which makes it the ring's only
        // consumer.
        unsafe { self.ring.read(|records| settled.extend(records, keep)) }
    }
}

/// A ring of bytes with one producer and one consumer (the rules are on `write` and `read`).
/// `head` and `tail` count bytes since the start, wrap-around padding included.
#[derive(Default)]
struct Ring {
    buf: OnceLock<Box<[UnsafeCell<u8>]>>,
    /// Written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Written by the producer only.
    tail: CachePadded<AtomicUsize>,
}

/// Where a record does not fit before the end of the ring, the producer writes this length
/// (no record is empty) and goes on at the start; with fewer than 2 bytes left it just goes
/// on.
const WRAP: [u8; 2] = [0, 0];

impl Ring {
    fn buf(&self) -> &[UnsafeCell<u8>] {
        self.buf.get_or_init(|| {
            let bytes: Box<[u8]> = vec![0u8; RING].into_boxed_slice();
            // SAFETY: `UnsafeCell<u8>` has the same layout as `u8` (it is
            // `repr(transparent)`), so the allocation is a valid `[UnsafeCell<u8>]` of the
            // same length, owned by the new box alone.
            unsafe { Box::from_raw(Box::into_raw(bytes) as *mut [UnsafeCell<u8>]) }
        })
    }

    /// Appends `record` (a packed record, starting with its length) if it fits; `false`
    /// otherwise. `head` is the producer's cached copy of the consumer's head.
    ///
    /// # Safety
    ///
    /// The caller must be the ring's only producer for the duration of the call.
    unsafe fn write(&self, record: &[u8], head: &mut usize) -> bool {
        let n = record.len();
        if n > BIG {
            return false;
        }
        let tail = self.tail.0.load(Ordering::Relaxed);
        let at = tail % RING;
        let room = RING - at;
        let start = if n <= room { tail } else { tail + room };
        if start + n - *head > RING {
            // Acquire: the consumer is done with the bytes before its head.
            *head = self.head.0.load(Ordering::Acquire);
            if start + n - *head > RING {
                return false;
            }
        }
        let buf = self.buf();
        if start != tail && room >= WRAP.len() {
            // SAFETY: `at..at + 2` lies in the free part of the ring (between the tail and
            // the consumer's head, checked above), which only the producer (the caller, by
            // this function's contract) touches until it publishes a new tail.
            unsafe { copy_into(buf, at, &WRAP) };
        }
        // SAFETY: as above: the record's place is free space, checked above.
        unsafe { copy_into(buf, start % RING, record) };
        // Release: the bytes are written before the consumer can see the new tail.
        self.tail.0.store(start + n, Ordering::Release);
        true
    }

    /// Calls `f` with the records published since the last read, oldest first, in runs of
    /// whole records that lie back to back in the ring, and frees their space.
    ///
    /// # Safety
    ///
    /// The caller must be the ring's only consumer for the duration of the call.
    unsafe fn read(&self, mut f: impl FnMut(&[u8])) {
        // Acquire: the bytes before the tail were written before it was published.
        let tail = self.tail.0.load(Ordering::Acquire);
        let mut head = self.head.0.load(Ordering::Relaxed);
        if head == tail {
            return;
        }
        let buf = self.buf();
        while head < tail {
            let at = head % RING;
            let room = RING - at;
            // The run goes to the tail or to the end of the ring, whichever is first; a
            // record never straddles the end.
            let end = (tail - head).min(room);
            let mut len = 0;
            while len + WRAP.len() <= end {
                // SAFETY: `head..tail` holds published records, which the producer does not
                // touch until the head moves past them, and only the consumer (the caller,
                // by this function's contract) moves the head.
                let field = unsafe { bytes(buf, at + len, WRAP.len()) };
                if field == WRAP {
                    break;
                }
                len += record::record_len(field);
            }
            if len > 0 {
                // SAFETY: as above.
                f(unsafe { bytes(buf, at, len) });
            }
            // The rest of the run, if any, is the padding before a wrap.
            head += if len == end { len } else { room };
        }
        // Release: the consumer is done with these bytes before the producer may reuse them.
        self.head.0.store(head, Ordering::Release);
    }
}

/// Copies `src` into `buf[at..]`.
///
/// # Safety
///
/// No other thread may access `buf[at..at + src.len()]` during the call.
unsafe fn copy_into(buf: &[UnsafeCell<u8>], at: usize, src: &[u8]) {
    let dst = &buf[at..at + src.len()];
    // SAFETY: `dst` is in bounds (indexed above) and no other thread accesses it (this
    // function's contract); `UnsafeCell::raw_get` gives a pointer that may write it.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), UnsafeCell::raw_get(dst.as_ptr()), src.len())
    };
}

/// `buf[at..at + len]` as bytes.
///
/// # Safety
///
/// No thread may write `buf[at..at + len]` while the returned slice lives.
unsafe fn bytes(buf: &[UnsafeCell<u8>], at: usize, len: usize) -> &[u8] {
    let cells = &buf[at..at + len];
    // SAFETY: `cells` is in bounds (indexed above), `UnsafeCell<u8>` has `u8`'s layout, and
    // nobody writes it while the slice lives (this function's contract).
    unsafe { std::slice::from_raw_parts(UnsafeCell::raw_get(cells.as_ptr()).cast_const(), len) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tracer;

    /// A tracer whose sink pushes into `lanes`, so tests make real spans.
    struct Into(std::sync::Arc<Lanes>);

    impl crate::Sink for Into {
        fn persist(&self, _: &crate::Trace) {}
        fn persist_span(&self, span: &FinishedSpan<'_>) {
            self.0.push(span);
        }
    }

    fn names(batches: Vec<Packed>) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                b.records().map(|r| {
                    record::decode(r, &b.tables)
                        .expect("decodes")
                        .span_name
                        .to_string()
                })
            })
            .collect()
    }

    /// Records wrap around the ring many times, big ones go around it, and order holds.
    #[test]
    fn keeps_order_through_wraps_and_big_records() {
        let lanes = std::sync::Arc::new(Lanes::new(usize::MAX));
        let tracer = Tracer::new(Into(lanes.clone()));
        let mut expected = Vec::new();
        let mut got = Vec::new();
        let rounds = if cfg!(miri) { 40 } else { 5_000 };
        for i in 0..rounds {
            let name = if i % 7 == 3 {
                format!("big-{i}-{}", "x".repeat(BIG))
            } else {
                format!("span-{i}")
            };
            tracer.trace(name.clone()).end();
            expected.push(name);
            if i % 13 == 0 {
                lanes.take(|b| got.extend(names(vec![b])));
            }
        }
        lanes.take(|b| got.extend(names(vec![b])));
        assert_eq!(got, expected);
    }

    /// Producers on several threads (more than there are lanes, so some share one) and a
    /// consumer taking at the same time: every record arrives once.
    #[test]
    fn many_producers_one_consumer() {
        let lanes = std::sync::Arc::new(Lanes::new(usize::MAX));
        let tracer = Tracer::new(Into(lanes.clone()));
        let (threads, each) = if cfg!(miri) { (3, 20) } else { (40, 2_000) };
        let mut got = Vec::new();
        std::thread::scope(|s| {
            for t in 0..threads {
                let tracer = tracer.clone();
                s.spawn(move || {
                    for i in 0..each {
                        tracer.trace(format!("{t}-{i}")).end();
                    }
                });
            }
            for _ in 0..20 {
                lanes.take(|b| got.extend(names(vec![b])));
                std::thread::yield_now();
            }
        });
        lanes.take(|b| got.extend(names(vec![b])));
        assert_eq!(got.len(), threads * each);
        got.sort();
        got.dedup();
        assert_eq!(got.len(), threads * each);
    }

    /// A store that keeps the last `keep` per lane, read by copying.
    #[test]
    fn keeps_the_last_records() {
        let lanes = std::sync::Arc::new(Lanes::new(3));
        let tracer = Tracer::new(Into(lanes.clone()));
        for i in 0..10 {
            tracer.trace(format!("span-{i}")).end();
        }
        assert_eq!(names(lanes.copy()), ["span-7", "span-8", "span-9"]);
        // Copying does not take.
        assert_eq!(names(lanes.copy()), ["span-7", "span-8", "span-9"]);
    }
}
