use std::time::Instant;

use crate::{Error, FinishedSpan, Sink, SinkStats, Trace, TraceFilter, Tracer};

/// Sends every span to several tracers; from [`Tracer::tee`](crate::Tracer::tee). It is
/// built on the tracers' public [forwarding](crate::Tracer#forwarding) calls, as a sink of
/// your own that wraps tracers would be.
///
/// Members receive each span in order. Each member contains its own failures (a panicking
/// or failing member is counted in its own [`Tracer::stats`] and never stops the others or
/// reaches the traced code). `get_traces` reads from the first member. Snapshots go to the
/// members that take them. `flush`/`shutdown` reach every member; the first error is
/// returned after all were tried.
#[derive(Debug)]
#[must_use = "a sink records nothing until it is given to `Tracer::new`"]
pub struct Tee {
    members: Vec<Tracer>,
}

impl Tee {
    /// A tee over `tracers`.
    pub fn new(tracers: impl IntoIterator<Item = Tracer>) -> Self {
        Tee {
            members: tracers.into_iter().collect(),
        }
    }

    /// The member tracers.
    pub fn members(&self) -> &[Tracer] {
        &self.members
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
    fn persist(&self, trace: &Trace) {
        if let Some(span) = FinishedSpan::from_trace(trace) {
            self.persist_span(&span);
        }
    }

    fn persist_span(&self, span: &FinishedSpan<'_>) {
        for member in &self.members {
            member.forward(span);
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
        match self.members.first() {
            Some(first) => first.get_traces(filter),
            None => Ok(Vec::new()),
        }
    }

    fn flush(&self, deadline: Instant) -> Result<(), Error> {
        self.each(|m| m.flush_until(deadline))
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        self.each(|m| m.shutdown_until(deadline))
    }

    fn stats(&self) -> SinkStats {
        self.members
            .iter()
            .map(|m| SinkStats::from(m.stats()))
            .fold(SinkStats::default(), |acc, s| SinkStats {
                failures: acc.failures + s.failures,
                dropped: acc.dropped + s.dropped,
                pending: acc.pending + s.pending,
                snapshots_dropped: acc.snapshots_dropped + s.snapshots_dropped,
            })
    }

    fn name(&self) -> &'static str {
        "tee"
    }
}
