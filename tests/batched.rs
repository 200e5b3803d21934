//! `Tracer::batched`: a user's `Exporter` on tracekit's queue — batches, retries with
//! backoff, failures and drops counted, bounded flush and shutdown, the exporter's shutdown
//! hook, and `BatchConfig` from `OTEL_BSP_*` settings.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracekit::sinks::Overflow;
use tracekit::{BatchConfig, Error, ExportError, Exporter, Trace, Tracer};

/// Records every batch; fails as its script says first.
#[derive(Clone, Default)]
struct Recorder {
    batches: Arc<Mutex<Vec<usize>>>,
    names: Arc<Mutex<Vec<String>>>,
    /// Errors to return before accepting, one per call.
    script: Arc<Mutex<Vec<ExportError>>>,
    calls: Arc<AtomicUsize>,
    shutdowns: Arc<AtomicUsize>,
    flushes: Arc<AtomicUsize>,
    /// How long each call takes.
    delay: Duration,
}

impl Exporter for Recorder {
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        let scripted = {
            let mut script = self.script.lock().unwrap();
            (!script.is_empty()).then(|| script.remove(0))
        };
        if let Some(error) = scripted {
            return Err(error);
        }
        self.batches.lock().unwrap().push(batch.len());
        let mut names = self.names.lock().unwrap();
        names.extend(batch.iter().map(|t| t.span_name.to_string()));
        Ok(())
    }

    fn flush(&mut self) {
        self.flushes.fetch_add(1, Ordering::SeqCst);
    }

    fn shutdown(&mut self) {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

/// Batches only on `flush`, so a test knows what one batch holds.
fn quiet() -> BatchConfig {
    BatchConfig::new().scheduled_delay(Duration::from_secs(60))
}

/// Ends `n` spans after the writer's first pass (a flush waits for one), so a writer that
/// starts late on a loaded machine cannot take them in two batches.
fn emit_at_once(tracer: &Tracer, n: usize) {
    tracer.flush().unwrap();
    emit(tracer, n);
}

fn emit(tracer: &Tracer, n: usize) {
    for i in 0..n {
        drop(tracer.span(format!("s{i}")).start());
    }
}

#[test]
fn spans_arrive_in_batches_of_the_configured_size_flush_reaches_the_exporter_and_shutdown_runs_once(
) {
    let recorder = Recorder::default();
    let tracer = Tracer::batched(
        recorder.clone(),
        BatchConfig::new()
            .max_export_batch_size(10)
            .scheduled_delay(Duration::from_secs(60)),
    )
    .unwrap();
    emit(&tracer, 25);
    tracer.flush().unwrap();
    // The exporter's own flush ran before `flush` returned.
    assert!(recorder.flushes.load(Ordering::SeqCst) >= 1);
    let batches = recorder.batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), 25);
    assert!(batches.iter().all(|&n| n <= 10), "{batches:?}");
    // Children before parents, in the order they ended: here, as emitted.
    let names = recorder.names.lock().unwrap().clone();
    assert_eq!(names[0], "s0");
    assert_eq!(names[24], "s24");
    tracer.shutdown().unwrap();
    tracer.shutdown().unwrap();
    assert_eq!(recorder.shutdowns.load(Ordering::SeqCst), 1);
    let stats = tracer.stats();
    assert_eq!((stats.spans_persisted, stats.sink_failures), (25, 0));
}

#[test]
fn retryable_errors_are_retried_and_nothing_is_lost() {
    let recorder = Recorder::default();
    recorder.script.lock().unwrap().extend([
        ExportError::Retryable("busy".into()),
        ExportError::Retryable("still busy".into()),
    ]);
    let tracer = Tracer::batched(recorder.clone(), quiet()).unwrap();
    emit_at_once(&tracer, 3);
    tracer.flush().unwrap();
    assert_eq!(recorder.names.lock().unwrap().len(), 3);
    // Two refusals, then every batch taken (one, unless the writer woke in between).
    assert_eq!(
        recorder.calls.load(Ordering::SeqCst),
        recorder.batches.lock().unwrap().len() + 2,
        "two refusals, then taken"
    );
    assert_eq!(tracer.stats().sink_failures, 0);
}

#[test]
fn failed_batches_and_an_exhausted_retry_budget_count_every_span() {
    let recorder = Recorder::default();
    recorder
        .script
        .lock()
        .unwrap()
        .push(ExportError::Failed("refused: malformed".into()));
    let tracer = Tracer::batched(recorder.clone(), quiet()).unwrap();
    emit_at_once(&tracer, 4);
    match tracer.flush() {
        Err(Error::Sink { message, .. }) => {
            assert!(
                message.starts_with("4 spans could not be delivered"),
                "{message}"
            );
            assert!(message.contains("refused: malformed"), "{message}");
        }
        other => panic!("expected the batch to fail, got {other:?}"),
    }
    assert_eq!(tracer.stats().sink_failures, 4);

    // Always busy: given up after the retry budget, counted, never blocking the caller.
    let recorder = Recorder::default();
    recorder
        .script
        .lock()
        .unwrap()
        .extend((0..1000).map(|_| ExportError::Retryable("busy".into())));
    let tracer = Tracer::batched(
        recorder.clone(),
        BatchConfig::new().retry_for(Duration::from_millis(300)),
    )
    .unwrap();
    let started = Instant::now();
    emit(&tracer, 2);
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "the caller never waits"
    );
    let err = tracer.flush().unwrap_err().to_string();
    assert!(err.contains("gave up retrying"), "{err}");
    assert_eq!(tracer.stats().sink_failures, 2);
}

#[test]
fn a_full_queue_drops_and_counts_or_blocks_as_configured() {
    let slow = Recorder {
        delay: Duration::from_millis(200),
        ..Recorder::default()
    };
    let tracer = Tracer::batched(
        slow.clone(),
        BatchConfig::new()
            .max_queue_size(4)
            .max_export_batch_size(4),
    )
    .unwrap();
    emit(&tracer, 50);
    tracer.flush_within(Duration::from_secs(10)).unwrap();
    let stats = tracer.stats();
    assert!(stats.spans_dropped > 0, "{stats:?}");
    assert_eq!(
        stats.spans_persisted + stats.spans_dropped,
        50,
        "every span delivered or counted: {stats:?}"
    );

    let slow = Recorder {
        delay: Duration::from_millis(5),
        ..Recorder::default()
    };
    let tracer = Tracer::batched(
        slow.clone(),
        BatchConfig::new()
            .max_queue_size(4)
            .max_export_batch_size(4)
            .overflow(Overflow::Block(Duration::from_secs(10))),
    )
    .unwrap();
    emit(&tracer, 50);
    tracer.flush().unwrap();
    assert_eq!(tracer.stats().spans_persisted, 50);
    assert_eq!(slow.names.lock().unwrap().len(), 50);
}

/// An exporter that panics.
struct Panicking;

impl Exporter for Panicking {
    fn export(&mut self, _: &[Trace]) -> Result<(), ExportError> {
        panic!("exporter bug")
    }
}

#[test]
fn a_panicking_exporter_is_contained_and_counted() {
    let tracer = Tracer::batched(Panicking, BatchConfig::new()).unwrap();
    emit(&tracer, 3);
    assert!(tracer.flush().is_err());
    assert_eq!(tracer.stats().sink_failures, 3);
    // The tracer goes on.
    emit(&tracer, 1);
    assert!(tracer.flush().is_err());
    assert_eq!(tracer.stats().sink_failures, 4);
}

#[test]
fn batch_settings_come_from_otel_bsp_variables() {
    let config = BatchConfig::from_env_vars([
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", " 10 "),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_UNRELATED", "x"),
    ])
    .unwrap();
    assert_eq!(
        config,
        BatchConfig::new()
            .max_queue_size(100)
            .max_export_batch_size(10)
            .scheduled_delay(Duration::from_millis(250))
    );
    for (name, value) in [
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0"),
        ("OTEL_BSP_SCHEDULE_DELAY", "5s"),
    ] {
        match BatchConfig::from_env_vars([(name, value)]) {
            Err(Error::Config { setting, .. }) => assert_eq!(setting, name),
            other => panic!("{name}={value}: {other:?}"),
        }
    }
}

#[test]
fn every_backend_takes_the_same_batch_settings() {
    use tracekit::stores::SqliteConfig;
    let batch = BatchConfig::new()
        .max_queue_size(7)
        .max_export_batch_size(3)
        .scheduled_delay(Duration::from_millis(9))
        .overflow(Overflow::Block(Duration::from_millis(5)))
        .retry_for(Duration::from_secs(11))
        .shutdown_timeout(Duration::from_secs(2));
    // All at once, or one by one under the same names over the backend's own defaults.
    assert_eq!(
        SqliteConfig::new("x.db")
            .batch(batch.clone())
            .batch_config(),
        &batch
    );
    let one_by_one = SqliteConfig::new("x.db")
        .max_queue_size(7)
        .max_export_batch_size(3)
        .scheduled_delay(Duration::from_millis(9))
        .overflow(Overflow::Block(Duration::from_millis(5)))
        .retry_for(Duration::from_secs(11))
        .shutdown_timeout(Duration::from_secs(2));
    assert_eq!(one_by_one.batch_config(), &batch);
    // The old names still work, for a release.
    #[allow(deprecated)]
    let old = SqliteConfig::new("x.db").queue_capacity(7).batch_size(3);
    assert_eq!(
        old.batch_config(),
        &SqliteConfig::new("x.db")
            .max_queue_size(7)
            .max_export_batch_size(3)
            .batch_config()
            .clone()
    );
    // And a tracer built with them works as configured.
    let dir = tempfile::tempdir().unwrap();
    let tracer = Tracer::sqlite(SqliteConfig::new(dir.path().join("b.db")).batch(batch)).unwrap();
    emit(&tracer, 20);
    tracer.flush().unwrap();
    assert_eq!(tracer.stats().spans_persisted, 20);
}

/// A tee of queued tracers shares one queue (each span packed once on the traced thread) and
/// hands every batch to each member's own queue: every member gets every span, counts it, and
/// a member whose queue is full drops and counts without holding up the others.
#[test]
fn a_tee_of_queued_tracers_packs_once_and_every_member_gets_every_span() {
    let (a, b, slow) = (
        Recorder::default(),
        Recorder::default(),
        Recorder {
            delay: Duration::from_millis(300),
            ..Recorder::default()
        },
    );
    // Room for the whole run: this part is about delivery, not overflow.
    let roomy = || BatchConfig::new().max_queue_size(10_000);
    let ta = Tracer::batched(a.clone(), roomy()).unwrap();
    let tb = Tracer::batched(b.clone(), roomy()).unwrap();
    let memory = Tracer::in_memory(10_000);
    let tee = Tracer::tee([memory.clone(), ta.clone(), tb.clone()]);
    emit(&tee, 3_000);
    // Reading through a tee whose first member is queued sees every span, without a flush.
    let dir = tempfile::tempdir().unwrap();
    let first_queued = Tracer::tee([
        Tracer::sqlite(dir.path().join("t.db")).unwrap(),
        Tracer::batched(Recorder::default(), roomy()).unwrap(),
    ]);
    emit(&first_queued, 10);
    assert_eq!(
        first_queued.get_traces(&Default::default()).unwrap().len(),
        10
    );
    tee.flush().unwrap();
    for (recorder, member) in [(&a, &ta), (&b, &tb)] {
        let names = recorder.names.lock().unwrap();
        assert_eq!(names.len(), 3_000);
        assert_eq!(names[0], "s0");
        assert_eq!(names[2_999], "s2999");
        let stats = member.stats();
        assert_eq!(
            (stats.spans_accepted, stats.spans_persisted),
            (3_000, 3_000)
        );
    }
    assert_eq!(memory.get_traces(&Default::default()).unwrap().len(), 3_000);
    assert_eq!(tee.stats().spans_accepted, 3_000);

    // A member whose small queue is held up by a slow exporter drops batches it has no room
    // for; the other member still gets everything.
    let ts = Tracer::batched(slow.clone(), BatchConfig::new().max_queue_size(600)).unwrap();
    let fast = Recorder::default();
    let tf = Tracer::batched(fast.clone(), BatchConfig::new()).unwrap();
    let tee = Tracer::tee([ts.clone(), tf.clone()]);
    for _ in 0..5 {
        emit(&tee, 500);
        tee.flush_until(Instant::now() + Duration::from_millis(50))
            .ok();
    }
    tee.shutdown().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fast.names.lock().unwrap().len(), 2_500);
    let s = ts.stats();
    assert!(s.spans_dropped > 0, "{s:?}");
    assert_eq!(
        s.spans_accepted,
        s.spans_persisted + s.spans_dropped,
        "{s:?}"
    );
    assert_eq!(slow.names.lock().unwrap().len() as u64, s.spans_persisted);
}

/// An exporter with a reader: the tracer reads back what it wrote, after flushing its queue.
#[test]
fn a_batched_tracer_reads_back_through_the_exporters_reader() {
    use tracekit::{TraceFilter, TraceReader};

    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<Trace>>>);

    impl Exporter for Kept {
        fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
            self.0.lock().unwrap().extend_from_slice(batch);
            Ok(())
        }
        fn reader(&self) -> Option<Box<dyn TraceReader>> {
            Some(Box::new(self.clone()))
        }
    }

    impl TraceReader for Kept {
        fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
            let kept = self.0.lock().unwrap();
            Ok(kept.iter().filter(|t| filter.matches(t)).cloned().collect())
        }
    }

    let tracer = Tracer::batched(Kept::default(), quiet()).unwrap();
    emit(&tracer, 3);
    // No flush: reading flushes the queue first.
    assert_eq!(tracer.get_traces(&TraceFilter::new()).unwrap().len(), 3);
    let without = Tracer::batched(Recorder::default(), quiet()).unwrap();
    assert!(matches!(
        without.get_traces(&TraceFilter::new()),
        Err(Error::Unsupported { .. })
    ));
}

/// A background tracer over a queued one whose overflow is `Block` waits for room on its own
/// thread, as a traced thread would: nothing is dropped.
#[test]
fn a_background_tracer_over_a_blocking_queue_waits_for_room() {
    let slow = Recorder {
        delay: Duration::from_millis(20),
        ..Recorder::default()
    };
    let inner = Tracer::batched(
        slow.clone(),
        BatchConfig::new()
            .max_queue_size(100)
            .max_export_batch_size(50)
            .overflow(Overflow::Block(Duration::from_secs(10))),
    )
    .unwrap();
    let tracer = inner
        .clone()
        .in_background_with(BatchConfig::new().max_queue_size(10_000))
        .unwrap();
    emit(&tracer, 1_000);
    tracer.flush_within(Duration::from_secs(30)).unwrap();
    assert_eq!(slow.names.lock().unwrap().len(), 1_000);
    assert_eq!(inner.stats().spans_dropped, 0, "{:?}", inner.stats());
}
