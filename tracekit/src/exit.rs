//! Nothing lost at exit: every queued tracer (a store, an exporter, `in_background`, a tee's
//! queue) is written out on each normal way a process ends, without the user writing
//! anything beyond creating the tracer.
//!
//! | how the process ends | what writes the queues |
//! |---|---|
//! | `main` returns (a tracer in a `static` included) | `atexit` |
//! | `std::process::exit` | `atexit` |
//! | a panic unwinds out of `main` | `atexit` (the runtime exits with status 101) |
//! | a panic with `panic = "abort"` | the panic hook (before the abort) |
//! | SIGTERM, SIGINT | a thread of their own, then the signal's default action |
//! | SIGKILL, `abort()`, a crash of the process | nothing in the process can; a [`Spool`](crate::Spool) keeps every acknowledged span for the next start |
//! | power loss, a crash of the machine | a [`Spool`](crate::Spool) with `power_safe(true)` (each batch synced to the disk) |
//!
//! What a SIGKILL can take without a spool is what was queued: at most the spans of the last
//! `scheduled_delay` (100 ms for SQLite, 1 s for OTLP), or more while a backend was slow. With
//! a spool (OTLP, DynamoDB; feature `sqlite`) it takes only spans not yet written to the spool
//! file: those ended since the writer's last pass; a [`Tracer::flush`](crate::Tracer::flush)
//! that returned means none.
//!
//! Each waits at most the longest `shutdown_timeout` among the queues (5 s by default), then
//! says once on stderr how many spans could not be written. Dropping the last handle of a
//! tracer still shuts it down as before; these hooks catch what no destructor reaches.
//!
//! Signals: tracekit handles SIGTERM and SIGINT only where they had their default action when
//! the first queued tracer started. A handler installed before it is kept and runs first
//! (chained); tracekit then writes the queues and leaves the ending to that handler. A signal
//! ignored then (a program started under `nohup`, or in the background of a non-interactive
//! shell, inherits SIGINT ignored) stays ignored: tracekit installs nothing for it and never
//! turns it into an exit, and the spans are written at the program's normal end. Programs
//! that handle signals themselves after creating a tracer (`tokio::signal`, `ctrlc`) call
//! [`leave_signals_alone`] first, or set `TRACEKIT_SIGNALS=off`, and shut their tracers down
//! on their own way out. `TRACEKIT_EXIT_HOOKS=off` turns every hook off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use crate::sync::lock;

/// What the exit hooks write out: a queue.
pub(crate) trait Drain: Send + Sync {
    /// The tracer's name, for the report.
    fn name(&self) -> &'static str;
    /// Writes what is queued, giving up at `deadline`.
    fn drain(&self, deadline: Instant);
    /// Spans still queued.
    fn left(&self) -> u64;
    /// How long the queue may take to shut down.
    fn timeout(&self) -> Duration;
}

/// The live queues, in the order they started.
static QUEUES: Mutex<Vec<Weak<dyn Drain>>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
static SIGNALS: AtomicBool = AtomicBool::new(true);
static REPORTED: AtomicBool = AtomicBool::new(false);

/// Makes `queue` one the exit hooks write out (installing the hooks with the first).
pub(crate) fn watch(queue: Weak<dyn Drain>) {
    INSTALL.call_once(install);
    let mut queues = lock(&QUEUES);
    queues.retain(|q| q.strong_count() > 0);
    queues.push(queue);
}

/// Keeps tracekit's hands off SIGTERM and SIGINT, for programs that handle them: call it
/// before the first queued tracer starts (the other exit hooks stay).
///
/// ```
/// tracekit::exit::leave_signals_alone();
/// let tracer = tracekit::Tracer::in_memory(100).in_background()?; // a queued tracer
/// # drop(tracer);
/// # Ok::<(), tracekit::Error>(())
/// ```
pub fn leave_signals_alone() {
    SIGNALS.store(false, Ordering::Relaxed);
}

/// Writes out every live queued tracer, within `timeout` in all; returns how many spans
/// were left unwritten. The exit hooks call it; call it yourself before an exit they do not
/// see (`libc::_exit`, `exec`).
///
/// ```
/// let tracer = tracekit::Tracer::in_memory(100).in_background()?;
/// drop(tracer.trace("turn"));
/// assert_eq!(tracekit::exit::flush_all(std::time::Duration::from_secs(5)), 0);
/// # Ok::<(), tracekit::Error>(())
/// ```
pub fn flush_all(timeout: Duration) -> u64 {
    drain_all(&live(), Instant::now() + timeout)
}

/// The queues still alive.
fn live() -> Vec<Arc<dyn Drain>> {
    lock(&QUEUES).iter().filter_map(Weak::upgrade).collect()
}

/// Writes `queues` out by `deadline`; returns the spans left.
fn drain_all(queues: &[Arc<dyn Drain>], deadline: Instant) -> u64 {
    // Latest first: a tee's (or `in_background`'s) queue hands its spans to the queues of
    // its members, which started before it. A second pass catches what the first handed on.
    for _ in 0..2 {
        for queue in queues.iter().rev() {
            queue.drain(deadline);
        }
        if queues.iter().all(|q| q.left() == 0) {
            break;
        }
    }
    queues.iter().map(|q| q.left()).sum()
}

/// Writes the queues out as the process ends (`why`), and says once what was lost.
fn at_exit(why: &str) {
    let queues = live();
    let Some(timeout) = queues.iter().map(|q| q.timeout()).max() else {
        return;
    };
    let left = drain_all(&queues, Instant::now() + timeout);
    if left > 0 && !REPORTED.swap(true, Ordering::Relaxed) {
        let names: Vec<&str> = queues
            .iter()
            .filter(|q| q.left() > 0)
            .map(|q| q.name())
            .collect();
        eprintln!(
            "tracekit: {left} spans could not be written before the process ended ({why}; \
             queues: {}); a tracer's shutdown_timeout bounds the wait",
            names.join(", ")
        );
    }
}

fn off(variable: &str) -> bool {
    std::env::var_os(variable).is_some_and(|v| v == "off" || v == "0")
}

fn install() {
    // Miri cannot call into libc; the child processes of `exit-tests/` test the hooks.
    if cfg!(miri) || off("TRACEKIT_EXIT_HOOKS") {
        return;
    }
    #[cfg(unix)]
    {
        extern "C" fn on_exit() {
            // Nothing may unwind into C.
            let _ = std::panic::catch_unwind(|| at_exit("the process exited"));
        }
        // SAFETY: `on_exit` is an `extern "C" fn()` taking nothing and returning nothing, as
        // atexit requires, and it never unwinds; a failure to register (no room) is ignored.
        unsafe {
            libc::atexit(on_exit);
        }
        if SIGNALS.load(Ordering::Relaxed) && !off("TRACEKIT_SIGNALS") {
            signals::install();
        }
    }
    #[cfg(panic = "abort")]
    if !std::thread::panicking() {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            // A writer thread waiting for itself would only wait out the deadline.
            let writer = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("tracekit-"));
            if !writer {
                at_exit("a panic aborts the process");
            }
        }));
    }
}

#[cfg(unix)]
mod signals {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    /// Handles SIGTERM and SIGINT on a thread of their own: write the queues, then, where the
    /// signal had its default action, take it (the process ends as the signal says).
    pub(super) fn install() {
        let mut handled = Vec::new();
        for signal in [SIGTERM, SIGINT] {
            match disposition(signal) {
                Some(libc::SIG_IGN) | None => {}
                Some(action) => handled.push((signal, action == libc::SIG_DFL)),
            }
        }
        let Ok(mut signals) = Signals::new(handled.iter().map(|(s, _)| *s)) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("tracekit-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let name = if signal == SIGTERM {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    };
                    super::at_exit(name);
                    if handled.iter().any(|&(s, default)| s == signal && default) {
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                    }
                }
            });
    }

    /// The signal's current handler (`SIG_DFL`, `SIG_IGN` or a function), if it can be read.
    fn disposition(signal: libc::c_int) -> Option<libc::sighandler_t> {
        let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: with a null new action, sigaction only writes the current one into
        // `current`, which points to writable memory the size of a `sigaction`.
        let read = unsafe { libc::sigaction(signal, std::ptr::null(), current.as_mut_ptr()) };
        // SAFETY: sigaction returned 0, so it filled `current`; zeroed memory is a valid
        // `sigaction` anyway (every field is an integer, a pointer or a bit set).
        (read == 0).then(|| unsafe { current.assume_init() }.sa_sigaction)
    }
}
