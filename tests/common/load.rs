//! A load on every tracer kind: many tokio tasks on a multi-thread runtime, each task one trace
//! (a root with an inheritable `task` attribute and children that yield to the runtime as they
//! go), then checks that nothing was lost and nothing crossed between tasks. Shared by the
//! root, DynamoDB and OTLP load tests, each of which runs `Load::QUICK` in every `cargo test`
//! and `Load::FULL` (64 × 10 000) behind `#[ignore]`, as `.ci/run` does.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tracekit::{Trace, Tracer};

/// How many tasks, each with how many spans (its root included).
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub tasks: u32,
    pub per_task: u32,
}

impl Load {
    /// 64 tasks × 10 000 spans: 640 000 spans, minutes through a local server.
    pub const FULL: Load = Load {
        tasks: 64,
        per_task: 10_000,
    };
    /// The same shape at a size every `cargo test` can afford: 16 tasks × 500 spans.
    pub const QUICK: Load = Load {
        tasks: 16,
        per_task: 500,
    };

    pub fn total(self) -> u64 {
        u64::from(self.tasks) * u64::from(self.per_task)
    }
}

/// What the checks need of one span, small enough to keep 640 000 of.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub task: Option<i64>,
    pub root: bool,
    pub trace: u128,
    pub span: u64,
    pub parent: Option<u64>,
}

impl Seen {
    pub fn of(t: &Trace) -> Seen {
        Seen {
            task: t.attributes.get("task").and_then(|v| v.as_i64()),
            root: t.span_name == "task",
            trace: t.trace_id.to_int(),
            span: t.span_id.to_int(),
            parent: t.parent_span_id.map(|p| p.to_int()),
        }
    }
}

/// Runs `load` on `tracer` (4 worker threads); returns how long the tasks took.
pub fn drive(tracer: &Tracer, load: Load) -> Duration {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..load.tasks)
            .map(|k| {
                let tracer = tracer.clone();
                tokio::spawn(async move {
                    let inner = tracer.clone();
                    tracer
                        .span("task")
                        .inheritable_attribute("task", k)
                        .instrument(async move {
                            for i in 1..load.per_task {
                                drop(inner.span("step").attribute("i", i).start());
                                if i % 64 == 0 {
                                    tokio::task::yield_now().await;
                                }
                            }
                        })
                        .await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    started.elapsed()
}

/// Every task's spans are there once, in one trace under its root, each with its own task's
/// inherited attribute.
pub fn check(seen: &[Seen], load: Load) {
    assert_eq!(seen.len() as u64, load.total(), "spans lost or repeated");
    let roots: HashMap<i64, &Seen> = seen
        .iter()
        .filter(|s| s.root)
        .map(|s| (s.task.expect("a root without its task"), s))
        .collect();
    assert_eq!(roots.len(), load.tasks as usize, "a task's root is missing");
    let mut per_task: HashMap<i64, u32> = HashMap::new();
    let mut ids = std::collections::HashSet::with_capacity(seen.len());
    for s in seen {
        let task = s.task.expect("a span without the inherited task attribute");
        let root = roots[&task];
        *per_task.entry(task).or_default() += 1;
        assert!(ids.insert((s.trace, s.span)), "a span arrived twice: {s:?}");
        assert_eq!(
            s.trace, root.trace,
            "a span of task {task} in another trace"
        );
        if s.root {
            assert_eq!(s.parent, None);
        } else {
            assert_eq!(
                s.parent,
                Some(root.span),
                "a span of task {task} under another parent"
            );
        }
    }
    assert!(
        per_task.values().all(|&n| n == load.per_task),
        "{per_task:?}"
    );
}

/// This process's resident memory now, in MiB (Linux; 0 elsewhere).
pub fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

/// One line of the report: spans per second and memory.
pub fn report(kind: &str, load: Load, took: Duration, rss_before: u64) {
    let total = load.total();
    println!(
        "load {kind:<28} {total} spans in {:>6.2} s = {:>9.0} spans/s; RSS {} MiB (+{} MiB)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        rss_mib(),
        rss_mib().saturating_sub(rss_before)
    );
}
