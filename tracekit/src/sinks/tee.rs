use std::sync::Arc;
use std::time::Instant;

use crate::batch::{BatchConfig, ExportError, Exporter, QueueConfig};
use crate::query::{Page, Query, TraceHead, Watermark};
use crate::queue::{Behind, Inlet, Queued, SpanQueue};
use crate::{Error, FinishedSpan, Sink, SinkStats, Trace, TraceFilter, Tracer};

/// Sends every span to several tracers; from [`Tracer::tee`](crate::Tracer::tee). Members
/// that take spans one at a time get them through the tracers' public
/// [forwarding](crate::Tracer#forwarding) calls, as a sink of your own that wraps tracers
/// would.
///
/// Members receive each span in order. Each member contains its own failures (a panicking
/// or failing member is counted in its own [`Tracer::stats`] and never stops the others or
/// reaches the traced code). `get_traces` reads from the first member. Snapshots go to the
/// members that take them. `flush`/`shutdown` reach every member; the first error is
/// returned after all were tried.
///
/// Two or more queued members (stores, OTLP, [`Tracer::batched`], [`Tracer::in_background`])
/// share one queue: the traced thread packs each span once, into the tee's queue, whose
/// thread unpacks each batch once and hands it to every queued member's queue, where each
/// member writes, retries and counts on its own thread as before. The tee's queue takes the
/// largest capacity and batch size and the shortest delay of those members; a batch a
/// member's queue has no room for is dropped and counted by that member (after waiting for
/// room, on the tee's thread, if the member's overflow is `Block`). Other members get
/// each span on the traced thread, in order.
#[must_use = "a sink records nothing until it is given to `Tracer::new`"]
pub struct Tee {
    members: Vec<Tracer>,
    /// The members that get each span on the traced thread.
    direct: Vec<Tracer>,
    /// The queued members' shared queue, when there are two or more of them.
    fanout: Option<Queued<SharedQueue>>,
}

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee")
            .field("members", &self.members)
            .field("shared_queue", &self.fanout.is_some())
            .finish()
    }
}

impl Tee {
    /// A tee over `tracers`.
    pub fn new(tracers: impl IntoIterator<Item = Tracer>) -> Self {
        let members: Vec<Tracer> = tracers.into_iter().collect();
        let queued: Vec<(Tracer, QueueConfig)> = members
            .iter()
            .filter_map(|m| {
                let inlet = m.inlet()?.as_any().downcast_ref::<Inlet>()?;
                Some((m.clone(), inlet.config()))
            })
            .collect();
        let fanout = (queued.len() >= 2)
            .then(|| {
                let config = QueueConfig::widest(queued.iter().map(|(_, c)| *c));
                let targets: Vec<Tracer> = queued.into_iter().map(|(m, _)| m).collect();
                let config = BatchConfig {
                    queue: config,
                    ..BatchConfig::new()
                };
                // Without a thread for the shared queue, each member packs on its own.
                let queue = SpanQueue::start("tee", &config, Fanout(targets)).ok()?;
                Some(Queued {
                    queue,
                    behind: SharedQueue,
                })
            })
            .flatten();
        let direct = members
            .iter()
            .filter(|m| fanout.is_none() || m.inlet().is_none())
            .cloned()
            .collect();
        Tee {
            members,
            direct,
            fanout,
        }
    }

    /// The member tracers.
    pub fn members(&self) -> &[Tracer] {
        &self.members
    }

    /// Hands what waits in the shared queue to the members before one is read; spans that
    /// failed are counted and not read, so only running out of time is an error.
    fn settle(&self) -> Result<(), Error> {
        self.fanout.as_ref().map_or(Ok(()), Queued::settle)
    }

    /// Runs `f` on every member (even after one fails) and returns the first error.
    fn each(&self, f: impl Fn(&Tracer) -> Result<(), Error>) -> Result<(), Error> {
        let mut first = Ok(());
        for member in &self.members {
            let result = f(member);
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

impl Sink for Tee {
    fn persist_span(&self, span: &FinishedSpan<'_>) {
        for member in &self.direct {
            member.forward(span);
        }
        if let Some(fanout) = &self.fanout {
            fanout.persist_span(span);
        }
    }

    fn persist_snapshot(&self, snapshot: &Trace) {
        for member in &self.members {
            member.forward_snapshot(snapshot);
        }
    }

    fn snapshot_enabled(&self) -> bool {
        self.members.iter().any(Tracer::takes_snapshots)
    }

    fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        self.settle()?;
        match self.members.first() {
            Some(first) => first.get_traces(filter),
            None => Ok(Vec::new()),
        }
    }

    fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
        self.settle()?;
        match self.members.first() {
            Some(first) => first.list_traces(query),
            None => Ok(crate::query::scan(&[], query)),
        }
    }

    fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
        self.settle()?;
        match self.members.first() {
            Some(first) => first.new_spans(mark),
            None => Ok(Vec::new()),
        }
    }

    fn flush(&self, deadline: Instant) -> Result<(), Error> {
        // The shared queue first: what it hands on is then in the members' queues.
        let shared = self
            .fanout
            .as_ref()
            .map_or(Ok(()), |f| f.queue.flush(deadline));
        shared.and(self.each(|m| m.flush_until(deadline)))
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        let shared = self
            .fanout
            .as_ref()
            .map_or(Ok(()), |f| f.queue.shutdown(deadline));
        shared.and(self.each(|m| m.shutdown_until(deadline)))
    }

    fn stats(&self) -> SinkStats {
        let shared = self.fanout.as_ref().map(|f| f.queue.stats());
        self.members
            .iter()
            .map(|m| SinkStats::from(m.stats()))
            .chain(shared)
            .fold(SinkStats::default(), SinkStats::plus)
    }

    fn name(&self) -> &'static str {
        "tee"
    }
}

/// The shared queue's writer: hands each unpacked batch to every queued member.
struct Fanout(Vec<Tracer>);

impl Exporter for Fanout {
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
        let batch: Arc<[Trace]> = batch.into();
        for member in &self.0 {
            member.forward_batch(&batch);
        }
        Ok(())
    }
}

/// What is behind the shared queue: nothing of its own; the members behind it are flushed,
/// read and counted by the tee itself.
struct SharedQueue;

impl Behind for SharedQueue {
    fn name(&self) -> &'static str {
        "tee"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchConfig, ExportError, Exporter};

    struct Nowhere;

    impl Exporter for Nowhere {
        fn export(&mut self, _: &[Trace]) -> Result<(), ExportError> {
            Ok(())
        }
    }

    fn batched() -> Tracer {
        Tracer::batched(Nowhere, BatchConfig::new()).unwrap()
    }

    /// Two or more queued members share one queue; others, or a lone queued one, take each
    /// span directly.
    #[test]
    fn queued_members_share_a_queue() {
        let shared = Tee::new([Tracer::in_memory(1), batched(), batched()]);
        assert!(shared.fanout.is_some());
        assert_eq!(shared.direct.len(), 1);
        let lone = Tee::new([Tracer::in_memory(1), batched()]);
        assert!(lone.fanout.is_none());
        assert_eq!(lone.direct.len(), 2);
    }
}
