use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

pub use crate::batch::Overflow;
use crate::sync::lock;
use crate::{Error, FinishedSpan, Sink, SinkStats, Trace};

/// Hands every finished span and every snapshot to live consumers, in order; from
/// [`Tracer::iterable`](crate::Tracer::iterable).
///
/// Each consumer ([`TraceStream`]) has its own bounded buffer (default 4096 items). The
/// traced code never blocks on a slow consumer unless asked to ([`Overflow::Block`], with a
/// time limit); otherwise an item that does not fit is dropped and counted
/// ([`TraceStream::dropped`], [`Tracer::stats`](crate::Tracer::stats)). Shutting the tracer
/// down, or dropping every handle to it, ends the streams once they have delivered what was
/// accepted.
///
/// ```
/// use tracekit::sinks::{Iterable, Overflow};
/// use tracekit::Tracer;
///
/// let sink = Iterable::new().capacity(100).overflow(Overflow::Drop);
/// let stream = sink.subscribe();
/// let tracer = Tracer::new(sink);
/// {
///     let span = tracer.trace("llm-invocation");
///     span.add_attribute("ai.llm.response.output", "Hel");
///     span.emit_snapshot();
/// }
/// tracer.shutdown().unwrap();
/// let seen: Vec<_> = stream.map(|t| t.ended_at.is_some()).collect();
/// assert_eq!(seen, [false, true]); // the snapshot, then the finished span
/// ```
#[must_use = "a sink records nothing until it is given to `Tracer::new`"]
pub struct Iterable {
    hub: Arc<Hub>,
}

impl std::fmt::Debug for Iterable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = lock(&self.hub.state);
        f.debug_struct("Iterable")
            .field("consumers", &st.queues.len())
            .field("capacity", &st.capacity)
            .field("overflow", &st.overflow)
            .field("closed", &st.closed)
            .field("dropped", &self.hub.dropped.load(Ordering::Relaxed))
            .finish()
    }
}

struct Hub {
    state: Mutex<HubState>,
    dropped: AtomicU64,
    snapshots_dropped: AtomicU64,
}

struct HubState {
    queues: Vec<Arc<Queue>>,
    closed: bool,
    capacity: usize,
    overflow: Overflow,
}

struct Queue {
    state: Mutex<QueueState>,
    readable: Condvar,
    writable: Condvar,
}

#[derive(Default)]
struct QueueState {
    items: VecDeque<Trace>,
    /// No more items will come (shutdown, or the tracer is gone).
    closed: bool,
    /// The consumer went away.
    detached: bool,
    waker: Option<Waker>,
    dropped: u64,
}

impl Default for Iterable {
    fn default() -> Self {
        Iterable::new()
    }
}

impl Iterable {
    /// A sink with the default capacity (4096 items per consumer) that drops on overflow.
    pub fn new() -> Self {
        Iterable {
            hub: Arc::new(Hub {
                state: Mutex::new(HubState {
                    queues: Vec::new(),
                    closed: false,
                    capacity: 4096,
                    overflow: Overflow::Drop,
                }),
                dropped: AtomicU64::new(0),
                snapshots_dropped: AtomicU64::new(0),
            }),
        }
    }

    /// Items each consumer can hold before [`Overflow`] applies (at least 1; 0 means 1).
    pub fn capacity(self, items: usize) -> Self {
        lock(&self.hub.state).capacity = items.max(1);
        self
    }

    /// What happens when a consumer's buffer is full (default [`Overflow::Drop`]).
    pub fn overflow(self, overflow: Overflow) -> Self {
        lock(&self.hub.state).overflow = overflow;
        self
    }

    /// A new consumer: it receives every item published from now on.
    pub fn subscribe(&self) -> TraceStream {
        self.hub.subscribe()
    }
}

impl Hub {
    fn subscribe(self: &Arc<Self>) -> TraceStream {
        let mut hubbed = lock(&self.state);
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                closed: hubbed.closed,
                ..QueueState::default()
            }),
            readable: Condvar::new(),
            writable: Condvar::new(),
        });
        hubbed.queues.push(Arc::clone(&queue));
        TraceStream {
            hub: Arc::clone(self),
            queue,
        }
    }

    fn publish(&self, item: Trace, snapshot: bool) {
        let mut hubbed = lock(&self.state);
        hubbed.queues.retain(|q| !lock(&q.state).detached);
        let (capacity, overflow) = (hubbed.capacity, hubbed.overflow);
        let lost = match hubbed.queues.split_last() {
            None => 1,
            Some((last, rest)) => {
                let mut lost = 0;
                for queue in rest {
                    lost += u64::from(!queue.push(item.clone(), capacity, overflow));
                }
                lost + u64::from(!last.push(item, capacity, overflow))
            }
        };
        drop(hubbed);
        if lost > 0 {
            let counter = if snapshot {
                &self.snapshots_dropped
            } else {
                &self.dropped
            };
            counter.fetch_add(lost, Ordering::Relaxed);
        }
    }

    fn close(&self) {
        let mut hubbed = lock(&self.state);
        hubbed.closed = true;
        for queue in &hubbed.queues {
            let waker = {
                let mut st = lock(&queue.state);
                st.closed = true;
                st.waker.take()
            };
            queue.readable.notify_all();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl Queue {
    /// Whether the item was queued (false: dropped on overflow or the consumer left).
    fn push(&self, item: Trace, capacity: usize, overflow: Overflow) -> bool {
        let mut st = lock(&self.state);
        if st.items.len() >= capacity {
            let Overflow::Block(max_wait) = overflow else {
                st.dropped += 1;
                return false;
            };
            let deadline = Instant::now() + max_wait;
            while st.items.len() >= capacity && !st.detached {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    st.dropped += 1;
                    return false;
                };
                st = self
                    .writable
                    .wait_timeout(st, left)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        }
        if st.detached {
            return false;
        }
        st.items.push_back(item);
        let waker = st.waker.take();
        drop(st);
        self.readable.notify_one();
        if let Some(w) = waker {
            w.wake();
        }
        true
    }
}

impl Sink for Iterable {
    fn persist(&self, trace: &Trace) {
        self.hub.publish(trace.clone(), false);
    }

    fn persist_span(&self, span: &FinishedSpan<'_>) {
        self.hub.publish(span.to_trace(), false);
    }

    fn persist_snapshot(&self, snapshot: &Trace) {
        self.hub.publish(snapshot.clone(), true);
    }

    fn snapshot_enabled(&self) -> bool {
        true
    }

    fn shutdown(&self, _deadline: Instant) -> Result<(), Error> {
        self.hub.close();
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        SinkStats {
            dropped: self.hub.dropped.load(Ordering::Relaxed),
            snapshots_dropped: self.hub.snapshots_dropped.load(Ordering::Relaxed),
            ..SinkStats::default()
        }
    }

    fn name(&self) -> &'static str {
        "iterable"
    }
}

impl Drop for Iterable {
    fn drop(&mut self) {
        // The tracer is gone: nothing more will arrive.
        self.hub.close();
    }
}

/// One consumer of an [`Iterable`] tracer: snapshots and finished spans in the order they
/// happened. A blocking [`Iterator`] and, with the `stream` feature, an async
/// `futures_core::Stream`; both end after the tracer shuts down (or is dropped) and the
/// buffer is drained.
///
/// ```
/// let (tracer, stream) = tracekit::Tracer::iterable();
/// let consumer = std::thread::spawn(move || {
///     stream.map(|t| t.span_name.to_string()).collect::<Vec<_>>()
/// });
/// drop(tracer.trace("a"));
/// drop(tracer.trace("b"));
/// tracer.shutdown().unwrap();
/// assert_eq!(consumer.join().unwrap(), ["a", "b"]);
/// ```
pub struct TraceStream {
    hub: Arc<Hub>,
    queue: Arc<Queue>,
}

impl TraceStream {
    /// Another consumer of the same tracer; it receives items published from now on.
    pub fn subscribe(&self) -> TraceStream {
        self.hub.subscribe()
    }

    /// The next item if one is ready, without waiting.
    pub fn try_next(&mut self) -> Option<Trace> {
        self.pop(Wait::No)
    }

    /// The next item, waiting at most `timeout`; `None` on timeout or at the end (see
    /// [`is_finished`](Self::is_finished)).
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Trace> {
        self.pop(Wait::Until(Instant::now() + timeout))
    }

    /// Whether the stream has ended: the tracer shut down and every item was taken.
    pub fn is_finished(&self) -> bool {
        let st = lock(&self.queue.state);
        st.closed && st.items.is_empty()
    }

    /// Items this consumer lost because its buffer was full.
    pub fn dropped(&self) -> u64 {
        lock(&self.queue.state).dropped
    }

    fn pop(&self, wait: Wait) -> Option<Trace> {
        let mut st = lock(&self.queue.state);
        loop {
            if let Some(item) = st.items.pop_front() {
                drop(st);
                // A producer may be waiting for room (`Overflow::Block`).
                self.queue.writable.notify_one();
                return Some(item);
            }
            if st.closed {
                return None;
            }
            st = match wait {
                Wait::No => return None,
                Wait::Forever => self
                    .queue
                    .readable
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Wait::Until(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.queue
                        .readable
                        .wait_timeout(st, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

#[derive(Clone, Copy)]
enum Wait {
    No,
    Until(Instant),
    Forever,
}

impl Iterator for TraceStream {
    type Item = Trace;

    /// Waits for the next item; `None` once the stream has ended.
    fn next(&mut self) -> Option<Trace> {
        self.pop(Wait::Forever)
    }
}

#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
impl futures_core::Stream for TraceStream {
    type Item = Trace;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Trace>> {
        let mut st = lock(&self.queue.state);
        if let Some(item) = st.items.pop_front() {
            drop(st);
            self.queue.writable.notify_one();
            return std::task::Poll::Ready(Some(item));
        }
        if st.closed {
            return std::task::Poll::Ready(None);
        }
        st.waker = Some(cx.waker().clone());
        std::task::Poll::Pending
    }
}

impl Drop for TraceStream {
    fn drop(&mut self) {
        lock(&self.queue.state).detached = true;
        // A producer waiting for room must not wait for a consumer that is gone.
        self.queue.writable.notify_all();
    }
}

impl std::fmt::Debug for TraceStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = lock(&self.queue.state);
        f.debug_struct("TraceStream")
            .field("buffered", &st.items.len())
            .field("dropped", &st.dropped)
            .field("closed", &st.closed)
            .finish()
    }
}
