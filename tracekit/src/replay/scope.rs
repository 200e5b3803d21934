//! Where a replay is active: [`Replay::scope`] for a future, [`Replay::run`] for a closure.
//! A thread-local stack, set for the length of each poll or call, so `#[traced(record)]`
//! functions anywhere below find it, on any runtime; and the hooks those functions call.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;

use super::cassette::RecordedCall;
use super::Replay;
use crate::semconv::replay as names;
use crate::{Tracer, Value};

thread_local! {
    static ACTIVE: RefCell<Vec<Replay>> = const { RefCell::new(Vec::new()) };
}

/// Makes `replay` active on this thread until dropped (also when a poll unwinds).
struct Entered;

impl Entered {
    fn new(replay: &Replay) -> Entered {
        ACTIVE.with(|a| a.borrow_mut().push(replay.clone()));
        Entered
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = ACTIVE.try_with(|a| a.borrow_mut().pop());
    }
}

/// The replay active here, innermost first.
pub(crate) fn active() -> Option<Replay> {
    ACTIVE
        .try_with(|a| a.borrow().last().cloned())
        .ok()
        .flatten()
}

pin_project_lite::pin_project! {
    /// A future with a replay active while it runs: from [`Replay::scope`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Scoped<F> {
        replay: Replay,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = Entered::new(this.replay);
        this.future.poll(cx)
    }
}

impl Replay {
    /// `future` with this replay active whenever it runs: every `#[traced(record)]` call in
    /// it (on this task; give a spawned task its own `scope`) returns its recorded value
    /// without running its body.
    ///
    /// ```
    /// # use tracekit::replay::{Cassette, RecordedCall, Replay};
    /// # let mut cassette = Cassette::new();
    /// # cassette.push_call(RecordedCall::new("fetch", serde_json::json!({"url": "https://example.com"}), "<html>".into()));
    /// #[tracekit::traced(tracer = current, record)]
    /// async fn fetch(url: &str) -> String {
    ///     unreachable!("replayed: the network is not touched")
    /// }
    /// let replay = Replay::new(cassette);
    /// let page = futures_executor(replay.scope(fetch("https://example.com")));
    /// assert_eq!(page, "<html>");
    /// # fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
    /// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    /// # }
    /// ```
    pub fn scope<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped {
            replay: self.clone(),
            future,
        }
    }

    /// Calls `f` with this replay active (see [`scope`](Self::scope)).
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = Entered::new(self);
        f()
    }
}

/// A `#[traced(record)]` call in progress: what generated code asks before and after the
/// body runs.
#[doc(hidden)]
#[derive(Debug)]
pub struct Call {
    name: &'static str,
    /// The arguments, serialized only when a replay is active or the tracer records.
    args: Option<Json>,
    replay: Option<Replay>,
    tracer: Tracer,
}

impl Call {
    /// A call of `name`; `args` serializes the arguments, and runs only if they are needed.
    pub fn new(name: &'static str, args: impl FnOnce() -> Vec<(&'static str, Json)>) -> Call {
        let replay = active();
        let tracer = Tracer::current();
        let args = (replay.is_some() || tracer.recording())
            .then(|| Json::Object(args().into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        Call {
            name,
            args,
            replay,
            tracer,
        }
    }

    /// The recorded return value when a replay is active and has one. A replay without one
    /// is a divergence: this panics with it (the function has nothing to return), unless the
    /// replay records missing calls, when the body runs (`None`).
    pub fn replayed<R: DeserializeOwned>(&self) -> Option<R> {
        let (replay, args) = (self.replay.as_ref()?, self.args.as_ref()?);
        match replay.call(self.name, args) {
            Ok(output) => match serde_json::from_value::<R>(output) {
                Ok(value) => {
                    self.tracer
                        .current_trace()
                        .add_attribute(names::REPLAYED, true);
                    Some(value)
                }
                Err(e) => panic!(
                    "replay: the recorded return value of {} does not read back as {}: {e}; record it again",
                    self.name,
                    std::any::type_name::<R>()
                ),
            },
            Err(_) if replay.records_missing() => None,
            Err(divergence) => panic!("{divergence}"),
        }
    }

    /// Records the return value (with the arguments) on the current span when its tracer
    /// records, and in the replay when it records missing calls.
    pub fn record<R: Serialize>(&self, output: &R) {
        let Some(args) = &self.args else { return };
        let output = serde_json::to_value(output)
            .unwrap_or_else(|e| Json::String(format!("<not serializable: {e}>")));
        if let Some(replay) = self.replay.as_ref().filter(|r| r.records_missing()) {
            replay.add_call(RecordedCall::new(self.name, args.clone(), output.clone()));
        }
        if self.tracer.recording() {
            let span = self.tracer.current_trace();
            span.add_attribute(names::CALL_ARGS, Value::from(args.clone()));
            span.add_attribute(names::CALL_OUTPUT, Value::from(output));
        }
    }
}

/// An argument in serde's JSON form (a value that cannot be serialized says why).
#[doc(hidden)]
pub fn arg<T: Serialize + ?Sized>(value: &T) -> Json {
    serde_json::to_value(value).unwrap_or_else(|e| Json::String(format!("<not serializable: {e}>")))
}
