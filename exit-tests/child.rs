//! A program that writes spans and then ends in the way it is told, for `exit_paths.rs`:
//!
//!   exit-child MODE BACKEND TARGET SPANS
//!
//! MODE: `return` (the tracer in a `static`, never dropped), `exit` (`std::process::exit`),
//! `panic` (a panic out of `main`, the tracer in a `static`), `signal` (prints `ready`, then
//! waits to be signalled), `own-handler` (installs a SIGTERM handler of its own before the
//! tracer, waits for it to run, then returns), `ignoring` (starts with SIGINT and SIGTERM
//! ignored, as under `nohup` or in a non-interactive shell's background; prints `ready`,
//! then returns after a second whatever it was sent), `acknowledge` (flushes, prints
//! `acknowledged`, then waits to be killed). BACKEND: `sqlite` (TARGET a file) or `otlp`
//! (TARGET a base URL; with a spool in the directory `TRACEKIT_TEST_SPOOL` names, if set).
//!
//! Every mode but `ignoring` starts with SIGINT and SIGTERM at their default action, whatever
//! the test runner inherited (a runner started in the background has them ignored): the
//! dispositions a test relies on are the ones it sets.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tracekit::{OtlpConfig, Spool, Tracer};

/// Where `return` and `panic` keep the tracer: a static is never dropped, so only the exit
/// hooks can write its queue.
static KEPT: OnceLock<Tracer> = OnceLock::new();

/// Set by the child's own SIGTERM handler.
static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, backend, target, spans] = &args[..] else {
        eprintln!("usage: exit-child MODE BACKEND TARGET SPANS");
        std::process::exit(2);
    };
    // Before the tracer, so tracekit finds them as a program finds what it inherits.
    let start_with = if mode == "ignoring" {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: setting a signal to its default action or to ignored runs no code of ours.
        unsafe {
            libc::signal(signal, start_with);
        }
    }
    if mode == "own-handler" {
        // SAFETY: `on_sigterm` only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t);
        }
    }
    let tracer = match backend.as_str() {
        "sqlite" => Tracer::sqlite(target.as_str()),
        // Room for every span: what is measured is the exit, not the queue's bound.
        _ => {
            let mut config = OtlpConfig::new(target.as_str()).max_queue_size(65_536);
            if let Ok(dir) = std::env::var("TRACEKIT_TEST_SPOOL") {
                config = config.spool(Spool::new(dir));
            }
            Tracer::otlp(config)
        }
    }
    .expect("a tracer");
    let tracer = KEPT.get_or_init(|| tracer);
    let spans: usize = spans.parse().expect("a number of spans");
    for i in 0..spans {
        let span = tracer.trace("step");
        span.add_attribute("i", i as u64);
    }
    match mode.as_str() {
        "return" => {}
        "exit" => std::process::exit(0),
        "panic" => panic!("the agent failed after {spans} spans"),
        "acknowledge" => {
            // With a spool and the collector down, a flush returns once every span is in
            // the spool: acknowledged.
            tracer.flush().expect("a flush");
            println!("acknowledged {}", tracer.stats().spans_pending);
            let _ = std::io::stdout().flush();
            std::thread::sleep(Duration::from_secs(60));
            eprintln!("exit-child: not killed");
            std::process::exit(3);
        }
        "own-handler" => {
            println!("ready");
            let _ = std::io::stdout().flush();
            // The program's own handler decides: it returns normally once told to stop.
            while !TERMINATED.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        "ignoring" => {
            println!("ready");
            let _ = std::io::stdout().flush();
            // SIGINT and SIGTERM sent meanwhile change nothing: a normal end follows.
            std::thread::sleep(Duration::from_secs(1));
        }
        _ => {
            println!("ready");
            let _ = std::io::stdout().flush();
            std::thread::sleep(Duration::from_secs(10));
            eprintln!(
                "exit-child: waited 10 s for the test's SIGTERM or SIGINT, which never ended \
                 the process"
            );
            std::process::exit(3);
        }
    }
}
