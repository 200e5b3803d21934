//! The state a tracer's handles share: its sink, resource attributes and counts.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::panic_message;
use crate::resource::ResourceCell;
use crate::sink::{BatchInlet, Receipt, Refused};
use crate::stripe::StripedCounter;
use crate::{Attributes, FailureLog, FinishedSpan, Key, Scope, Sink, Trace, Value};

/// Aligned to its own cache lines, so the `Arc`'s reference count, which every root span
/// changes, sits apart from the fields that every span reads.
#[repr(align(128))]
pub(crate) struct TracerInner {
    pub(crate) sink: Box<dyn Sink>,
    /// Set when the sink is a queue that takes unpacked batches too (see `BatchInlet`).
    pub(crate) inlet: Option<Box<dyn BatchInlet>>,
    pub(crate) scope: Scope,
    /// The resource attributes, shared by the records that refer to them.
    pub(crate) resource: ResourceCell,
    accepted: StripedCounter,
    dropped: AtomicU64,
    late_writes: AtomicU64,
    panics: FailureLog,
    pub(super) shut_down: AtomicBool,
    /// Head sampling's threshold (`sampling::by_trace_id`); `None`: every span is sampled.
    pub(crate) head: Option<u64>,
    /// Spans not sampled, and of them the local roots (a trace each).
    sampled_out: StripedCounter,
    traces_sampled_out: StripedCounter,
    /// Whether `#[traced(record)]` calls store their arguments and return values (see
    /// `Tracer::set_recording`); from `TRACEKIT_RECORD` at first.
    pub(super) recording: AtomicBool,
}

/// What a tracer has done so far; from [`Tracer::stats`](crate::Tracer::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans that ended and were handed to the backend.
    pub spans_accepted: u64,
    /// Of those, spans the backend stored or sent (accepted minus failed, dropped and
    /// pending).
    pub spans_persisted: u64,
    /// Spans discarded on purpose: ended after shutdown, or dropped by the backend.
    pub spans_dropped: u64,
    /// Spans the backend failed to store: its own errors plus panics caught around it. For a
    /// tee, the sum over its members.
    pub sink_failures: u64,
    /// Spans accepted but not yet stored (queued in a background worker).
    pub spans_pending: u64,
    /// Snapshots a backend discarded (e.g. a live consumer's full buffer).
    pub snapshots_dropped: u64,
    /// Attribute, event and status writes ignored because the span had already ended.
    pub late_writes: u64,
    /// Traces a [`Sampler`](crate::Sampler)'s tail rules kept.
    pub traces_kept: u64,
    /// Traces a [`Sampler`](crate::Sampler) left out: by head sampling (counted once per
    /// trace and process) or by its tail rules.
    pub traces_sampled_out: u64,
    /// Spans of the traces left out (not counted as accepted or dropped).
    pub spans_sampled_out: u64,
}

/// `TRACEKIT_RECORD`, read once per process: `1`, `true`, `yes`, `on` switch recording on;
/// unset, empty, `0`, `false`, `no`, `off` leave it off. Any other value leaves it off too,
/// said once on stderr (a typo must not record, nor stop the program).
fn recording_from_env() -> bool {
    static SETTING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SETTING.get_or_init(|| {
        let Ok(value) = std::env::var("TRACEKIT_RECORD") else {
            return false;
        };
        match parse_switch(&value) {
            Some(on) => on,
            None => {
                eprintln!(
                    "tracekit: TRACEKIT_RECORD={value:?} is not 1/true/yes/on or 0/false/no/off; recording stays off"
                );
                false
            }
        }
    })
}

/// An on/off setting's text.
fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "" | "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl TracerInner {
    pub(super) fn new(sink: Box<dyn Sink>, inlet: Option<Box<dyn BatchInlet>>) -> Self {
        TracerInner {
            sink,
            inlet,
            scope: Scope::default(),
            resource: ResourceCell::default(),
            accepted: StripedCounter::new(),
            dropped: AtomicU64::new(0),
            late_writes: AtomicU64::new(0),
            panics: FailureLog::new(),
            shut_down: AtomicBool::new(false),
            head: None,
            sampled_out: StripedCounter::new(),
            traces_sampled_out: StripedCounter::new(),
            recording: AtomicBool::new(recording_from_env()),
        }
    }

    /// Hands a finished span to the sink; a panicking sink is contained and counted.
    pub(crate) fn deliver(&self, span: &FinishedSpan<'_>) {
        if self.shut_down.load(Ordering::Acquire) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.accepted.add(1);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.sink.persist_span(span))) {
            self.panics.record(
                self.sink.name(),
                &format_args!("panicked: {}", panic_message(&*payload)),
            );
        }
    }

    /// Hands a batch another queue unpacked to this tracer's queue (`inlet`), counted as if
    /// each span had ended here.
    pub(crate) fn deliver_batch(&self, inlet: &dyn BatchInlet, batch: &Arc<[Trace]>) {
        let n = batch.len() as u64;
        if self.shut_down.load(Ordering::Acquire) {
            self.dropped.fetch_add(n, Ordering::Relaxed);
            return;
        }
        self.accepted.add(n);
        inlet.accept(batch);
    }

    /// Offers a received batch to this tracer's queue (`inlet`), counted as accepted if taken.
    pub(crate) fn offer_batch(
        &self,
        inlet: &dyn BatchInlet,
        batch: Vec<Trace>,
    ) -> Result<Arc<Receipt>, Refused> {
        let n = batch.len() as u64;
        let receipt = inlet.offer(batch)?;
        self.accepted.add(n);
        Ok(receipt)
    }

    pub(crate) fn deliver_snapshot(&self, snapshot: &Trace) {
        if self.shut_down.load(Ordering::Acquire) {
            return;
        }
        if let Err(payload) =
            catch_unwind(AssertUnwindSafe(|| self.sink.persist_snapshot(snapshot)))
        {
            self.panics.record(
                self.sink.name(),
                &format_args!("panicked on a snapshot: {}", panic_message(&*payload)),
            );
        }
    }

    pub(crate) fn resource_attributes(&self) -> Arc<Attributes> {
        self.resource.attributes()
    }

    pub(super) fn set_resource_attribute(&self, key: Key, value: Value) {
        self.resource.set(key, value);
    }

    /// Counts a span that head sampling left out (`root`: the trace's first in this process).
    pub(crate) fn count_sampled_out(&self, root: bool) {
        self.sampled_out.add(1);
        if root {
            self.traces_sampled_out.add(1);
        }
    }

    pub(crate) fn count_late_write(&self) {
        self.late_writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stats(&self) -> Stats {
        let sink = self.sink.stats();
        let accepted = self.accepted.sum();
        let failures = self.panics.count() + sink.failures;
        Stats {
            spans_accepted: accepted,
            spans_persisted: accepted
                .saturating_sub(failures + sink.dropped + sink.pending + sink.sampled_out),
            spans_dropped: self.dropped.load(Ordering::Relaxed) + sink.dropped,
            sink_failures: failures,
            spans_pending: sink.pending,
            snapshots_dropped: sink.snapshots_dropped,
            late_writes: self.late_writes.load(Ordering::Relaxed),
            traces_kept: sink.traces_kept,
            traces_sampled_out: self.traces_sampled_out.sum() + sink.traces_sampled_out,
            spans_sampled_out: self.sampled_out.sum() + sink.sampled_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_switch;

    #[test]
    fn the_recording_switch_reads_the_usual_spellings_and_nothing_else() {
        for on in ["1", "true", "YES", " on "] {
            assert_eq!(parse_switch(on), Some(true), "{on}");
        }
        for off in ["", "0", "False", "no", "off"] {
            assert_eq!(parse_switch(off), Some(false), "{off}");
        }
        for bad in ["2", "enabled", "tru"] {
            assert_eq!(parse_switch(bad), None, "{bad}");
        }
    }
}
