//! [`Replay`]: a cassette being answered from. It matches each request and each
//! `#[traced(record)]` call with a recorded one, in order, and keeps what did not match.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value as Json;

use super::cassette::{path_only, Cassette, Exchange, RecordedCall};
use super::normalize::{distance, line_diff, Normalizer};

/// A cassette being replayed: shared by the replay endpoint and by
/// [`scope`](Replay::scope)s, cheap to clone.
///
/// A request matches a recorded exchange with the same method and path (query left out)
/// whose body is the same under the [`Normalizer`]; a call matches a recorded call with the
/// same span name and arguments. The first match not yet used answers, in recorded order; a
/// request repeated more often than it was recorded gets the last matching answer again.
/// Nothing matching is a [`Divergence`]: kept (see [`divergences`](Self::divergences)) and
/// answered with an error, unless [`record_missing`](Self::record_missing) is on.
///
/// ```
/// use tracekit::replay::{Cassette, RecordedCall, Replay};
/// let mut cassette = Cassette::new();
/// cassette.push_call(RecordedCall::new("get_weather", serde_json::json!({"city": "Oslo"}), "snow".into()));
/// let replay = Replay::new(cassette);
/// assert_eq!(replay.call("get_weather", &serde_json::json!({"city": "Oslo"})).unwrap(), "snow");
/// let missed = replay.call("get_weather", &serde_json::json!({"city": "Rome"})).unwrap_err();
/// assert!(missed.to_string().contains(r#"+  "city": "Rome""#), "{missed}");
/// assert_eq!(replay.divergences().len(), 1);
/// ```
#[derive(Clone)]
pub struct Replay {
    inner: Arc<Inner>,
}

struct Inner {
    cassette: Cassette,
    normalizer: Normalizer,
    /// Each exchange's body and each call's arguments, normalized once.
    exchange_keys: Vec<String>,
    call_keys: Vec<String>,
    record_missing: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    exchanges_used: Vec<bool>,
    calls_used: Vec<bool>,
    requests: usize,
    calls: usize,
    divergences: Vec<Divergence>,
    /// What was recorded while replaying (with `record_missing`).
    added: Cassette,
}

/// A request or call that nothing recorded matches: which, and the nearest recording as a
/// line diff. Its `Display` is the message a test shows.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Divergence {
    /// `POST /v1/chat/completions`, or a call's span name.
    pub what: String,
    /// Its place among the requests (or calls) the replayed run made, from 1.
    pub position: usize,
    /// Whether it is a call of a `#[traced(record)]` function (else an HTTP request).
    pub call: bool,
    /// The request body or arguments, normalized.
    pub requested: String,
    /// The nearest recording (its position among the recorded ones, from 1) and how it
    /// differs: `-` recorded lines, `+` requested ones.
    pub nearest: Option<(usize, String)>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.call { "call" } else { "request" };
        write!(
            f,
            "replay diverged at {kind} {} ({}): nothing recorded matches it",
            self.position, self.what
        )?;
        match &self.nearest {
            Some((n, diff)) => write!(f, "; nearest recorded {kind} is #{n}:\n{diff}"),
            None => write!(
                f,
                "; nothing of that kind was recorded. It asked:\n{}",
                self.requested
            ),
        }
    }
}

impl std::error::Error for Divergence {}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("exchanges", &self.inner.cassette.exchanges().len())
            .field("calls", &self.inner.cassette.calls().len())
            .field("record_missing", &self.inner.record_missing)
            .finish()
    }
}

impl Replay {
    /// Replays `cassette` with the default [`Normalizer`].
    pub fn new(cassette: Cassette) -> Replay {
        Replay::build(cassette, Normalizer::default(), false)
    }

    /// The same cassette compared under `normalizer`. Give it before replaying starts (it
    /// starts a new replay: nothing used, no divergence).
    pub fn normalizer(self, normalizer: Normalizer) -> Replay {
        let record_missing = self.inner.record_missing;
        Replay::build(self.cassette(), normalizer, record_missing)
    }

    /// Re-recording: a call with no recording runs its body (and is recorded when its
    /// tracer records), and the replay endpoint sends a request with no recording to its
    /// upstream and records the exchange, instead of failing. What was recorded this way is
    /// in [`recorded`](Self::recorded). Starts a new replay, as `normalizer` does.
    pub fn record_missing(self, on: bool) -> Replay {
        let normalizer = self.inner.normalizer.clone();
        Replay::build(self.cassette(), normalizer, on)
    }

    fn build(cassette: Cassette, normalizer: Normalizer, record_missing: bool) -> Replay {
        let exchange_keys = cassette
            .exchanges()
            .iter()
            .map(|e| normalizer.body(&e.request_body))
            .collect();
        let call_keys = cassette
            .calls()
            .iter()
            .map(|c| normalizer.json(c.args.clone()))
            .collect();
        let state = State {
            exchanges_used: vec![false; cassette.exchanges().len()],
            calls_used: vec![false; cassette.calls().len()],
            ..State::default()
        };
        Replay {
            inner: Arc::new(Inner {
                cassette,
                normalizer,
                exchange_keys,
                call_keys,
                record_missing,
                state: Mutex::new(state),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held (none of this code panics) leaves usable state.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cassette replayed.
    pub fn cassette(&self) -> Cassette {
        self.inner.cassette.clone()
    }

    /// Whether missing recordings are recorded rather than failing (see
    /// [`record_missing`](Self::record_missing)).
    pub fn records_missing(&self) -> bool {
        self.inner.record_missing
    }

    /// The recorded answer to a request, marked used.
    ///
    /// # Errors
    ///
    /// The [`Divergence`] when nothing recorded matches (also kept in
    /// [`divergences`](Self::divergences) unless the replay records missing ones).
    pub fn exchange(&self, method: &str, path: &str, body: &str) -> Result<Exchange, Divergence> {
        let cassette = &self.inner.cassette;
        let key = self.inner.normalizer.body(body);
        let same_route = |e: &Exchange| {
            e.method.eq_ignore_ascii_case(method)
                && if cassette.is_rebuilt() {
                    // Rebuilt answers have no request to compare: any chat-completions request,
                    // in order.
                    path_only(path).ends_with("/chat/completions")
                } else {
                    path_only(&e.path) == path_only(path)
                }
        };
        let matches = |i: usize, e: &Exchange| {
            same_route(e) && (cassette.is_rebuilt() || self.inner.exchange_keys[i] == key)
        };
        let mut state = self.state();
        state.requests += 1;
        let position = state.requests;
        let found = first_unused(cassette.exchanges(), &state.exchanges_used, &matches);
        if let Some(i) = found {
            state.exchanges_used[i] = true;
            return Ok(cassette.exchanges()[i].clone());
        }
        let nearest = nearest(
            cassette
                .exchanges()
                .iter()
                .enumerate()
                .filter(|(_, e)| same_route(e)),
            |i, _| &self.inner.exchange_keys[i],
            &key,
        );
        self.miss(
            &mut state,
            Divergence {
                what: format!("{} {}", method.to_ascii_uppercase(), path_only(path)),
                position,
                call: false,
                requested: key,
                nearest,
            },
        )
    }

    /// The recorded return value of a call of `name` with `args` (an object by argument
    /// name), marked used.
    ///
    /// # Errors
    ///
    /// The [`Divergence`] when nothing recorded matches, as for [`exchange`](Self::exchange).
    pub fn call(&self, name: &str, args: &Json) -> Result<Json, Divergence> {
        let cassette = &self.inner.cassette;
        let key = self.inner.normalizer.json(args.clone());
        let matches = |i: usize, c: &RecordedCall| c.name == name && self.inner.call_keys[i] == key;
        let mut state = self.state();
        state.calls += 1;
        let position = state.calls;
        if let Some(i) = first_unused(cassette.calls(), &state.calls_used, &matches) {
            state.calls_used[i] = true;
            return Ok(cassette.calls()[i].output.clone());
        }
        let nearest = nearest(
            cassette
                .calls()
                .iter()
                .enumerate()
                .filter(|(_, c)| c.name == name),
            |i, _| &self.inner.call_keys[i],
            &key,
        );
        self.miss(
            &mut state,
            Divergence {
                what: name.to_owned(),
                position,
                call: true,
                requested: key,
                nearest,
            },
        )
    }

    /// A miss: kept as a divergence unless missing recordings are being recorded.
    fn miss<T>(&self, state: &mut State, divergence: Divergence) -> Result<T, Divergence> {
        if !self.inner.record_missing {
            state.divergences.push(divergence.clone());
        }
        Err(divergence)
    }

    /// Keeps an exchange or call recorded while replaying (with `record_missing`).
    #[cfg(feature = "replay")]
    pub(crate) fn add_exchange(&self, exchange: Exchange) {
        self.state().added.push_exchange(exchange);
    }

    pub(crate) fn add_call(&self, call: RecordedCall) {
        self.state().added.push_call(call);
    }

    /// The cassette with what was recorded while replaying added at the end (with
    /// [`record_missing`](Self::record_missing)): save it to keep the new recordings.
    pub fn recorded(&self) -> Cassette {
        let mut cassette = self.cassette();
        let added = self.state().added.clone();
        for e in added.exchanges() {
            cassette.push_exchange(e.clone());
        }
        for c in added.calls() {
            cassette.push_call(c.clone());
        }
        cassette
    }

    /// Every divergence so far, in order.
    pub fn divergences(&self) -> Vec<Divergence> {
        self.state().divergences.clone()
    }

    /// `Err` with the first divergence, if there was one: the line to end a replayed test
    /// with.
    ///
    /// # Errors
    ///
    /// The first [`Divergence`].
    pub fn check(&self) -> Result<(), Divergence> {
        match self.state().divergences.first() {
            Some(d) => Err(d.clone()),
            None => Ok(()),
        }
    }

    /// How many recorded exchanges and calls were never used: the replayed run made fewer
    /// requests or calls than the recorded one.
    pub fn unused(&self) -> (usize, usize) {
        let state = self.state();
        let count = |used: &[bool]| used.iter().filter(|u| !**u).count();
        (count(&state.exchanges_used), count(&state.calls_used))
    }
}

/// The first recording that matches and is unused, else the last that matches.
fn first_unused<T>(
    items: &[T],
    used: &[bool],
    matches: &impl Fn(usize, &T) -> bool,
) -> Option<usize> {
    let mut last = None;
    for (i, item) in items.iter().enumerate() {
        if matches(i, item) {
            if !used[i] {
                return Some(i);
            }
            last = Some(i);
        }
    }
    last
}

/// The recording whose normalized text is closest to `key`, as (position from 1, diff).
fn nearest<'a, T: 'a>(
    candidates: impl Iterator<Item = (usize, &'a T)>,
    key_of: impl Fn(usize, &T) -> &'a String,
    key: &str,
) -> Option<(usize, String)> {
    candidates
        .map(|(i, item)| (i, key_of(i, item)))
        .min_by_key(|(_, recorded)| distance(recorded, key))
        .map(|(i, recorded)| (i + 1, line_diff(recorded, key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::Body;

    fn chat(body: &str, answer: &str) -> Exchange {
        Exchange::new(
            "POST",
            "/v1/chat/completions",
            body,
            200,
            None,
            Body::Whole(answer.into()),
        )
    }

    #[test]
    fn requests_are_answered_in_recorded_order_and_repeats_get_the_last() {
        let mut c = Cassette::new();
        c.push_exchange(chat(r#"{"q": 1}"#, "a"));
        c.push_exchange(chat(r#"{"q": 1}"#, "b"));
        let r = Replay::new(c);
        let answer =
            |r: &Replay| match r.exchange("POST", "/v1/chat/completions?x=1", r#"{ "q":1 }"#) {
                Ok(e) => e.response,
                Err(d) => panic!("{d}"),
            };
        assert_eq!(answer(&r), Body::Whole("a".into()));
        assert_eq!(answer(&r), Body::Whole("b".into()));
        assert_eq!(answer(&r), Body::Whole("b".into()));
        assert_eq!(r.unused(), (0, 0));
        assert!(r.check().is_ok());
    }

    #[test]
    fn a_divergence_names_the_request_and_shows_the_nearest_recording() {
        let mut c = Cassette::new();
        c.push_exchange(chat(
            r#"{"messages": ["weather in Amsterdam?"], "model": "m"}"#,
            "a",
        ));
        c.push_exchange(chat(
            r#"{"messages": ["something else entirely"], "model": "n"}"#,
            "b",
        ));
        let r = Replay::new(c);
        let d = r
            .exchange(
                "post",
                "/v1/chat/completions",
                r#"{"messages": ["weather in Paris?"], "model": "m"}"#,
            )
            .unwrap_err();
        assert_eq!(d.what, "POST /v1/chat/completions");
        assert_eq!(d.position, 1);
        let text = d.to_string();
        assert!(text.contains("nearest recorded request is #1"), "{text}");
        assert!(text.contains("-    \"weather in Amsterdam?\""), "{text}");
        assert!(text.contains("+    \"weather in Paris?\""), "{text}");
        assert_eq!(r.check().unwrap_err(), d);
        // Another path: nothing of that kind.
        let other = r.exchange("POST", "/v1/embeddings", "{}").unwrap_err();
        assert!(other.nearest.is_none());
        assert_eq!(r.divergences().len(), 2);
    }

    #[test]
    fn re_recording_keeps_no_divergence() {
        let r = Replay::new(Cassette::new()).record_missing(true);
        assert!(r.call("t", &Json::Null).is_err());
        r.add_call(RecordedCall::new("t", Json::Null, Json::Bool(true)));
        assert!(r.check().is_ok());
        assert_eq!(r.recorded().calls().len(), 1);
    }
}
