//! Replay: a stored conversation becomes an offline, deterministic agent test.
//!
//! A run records what the outside world answered; a later run gets those answers back
//! instead of calling out, so it needs no network, no API key and no money, and gives the
//! same answers every time. A change to a prompt or a tool then shows as a precise
//! [`Divergence`] (the first request nothing recorded matches, as a diff against the nearest
//! recorded one), and [`analysis::diff`](crate::analysis::diff) (or `tracekit diff`) between
//! the recorded and the replayed conversation is the regression check.
//!
//! Two things are recorded, each as spans of the conversation, in the store the tracer
//! writes (redacted like every span; API keys and headers never stored):
//!
//! - **Model calls, at the HTTP level**, whatever the client: the recording [`Endpoint`]
//!   (feature `replay`; `tracekit replay --record` in the command) is a proxy the provider
//!   client's base URL points at. It forwards each request to the real provider and stores
//!   the exchange (method, path, request body, status, content type, response body whole,
//!   or a server-sent event stream event by event). A request that carries W3C context
//!   (`traceparent`, and `baggage` with the conversation id) is stored under the agent's
//!   span; others go to the endpoint's conversation, in order.
//! - **Tool functions, at the `#[traced]` boundary**: `#[traced(record)]` stores a call's
//!   arguments and return value (serde) on its span while its tracer
//!   [records](crate::Tracer::set_recording) (`TRACEKIT_RECORD=1`).
//!
//! Then a [`Cassette`] is read from the store ([`Cassette::from_store`]) or from a file
//! (`tracekit export STORE CONVERSATION --format cassette` writes one for version control),
//! and a [`Replay`] answers from it: the replay [`Endpoint`] answers HTTP requests (streams
//! with their recorded events), [`Replay::scope`] makes `#[traced(record)]` functions return
//! their recorded values without running.
//!
//! ```
//! use tracekit::replay::{Cassette, Replay};
//! use tracekit::{traced, Tracer};
//!
//! /// A tool that would call a weather service.
//! #[traced(tracer = current, record)]
//! fn get_weather(city: &str) -> Result<String, String> {
//!     Ok(format!("18 °C in {city}")) // imagine an HTTP call here
//! }
//!
//! #[traced(tracer = tracer, inheritable("ai.conversation.id" = conversation))]
//! fn turn(tracer: &Tracer, conversation: &str) -> String {
//!     get_weather("Amsterdam").unwrap_or_default()
//! }
//!
//! // Record: a tracer that records keeps each call's arguments and result.
//! let store = Tracer::in_memory(100);
//! store.set_recording(true);
//! turn(&store, "conv-1");
//!
//! // Replay: the tool's body does not run; its recorded result comes back.
//! let replay = Replay::new(Cassette::from_store(&store, "conv-1")?);
//! let answer = replay.run(|| turn(&Tracer::in_memory(100), "conv-2"));
//! assert_eq!(answer, "18 °C in Amsterdam");
//! replay.check()?; // no divergence
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Matching is by method, path and body for requests and by name and arguments for calls,
//! under a [`Normalizer`] that sets ids and times aside; see [`Replay`] for the order.
//! Conversations traced without recording still replay their model calls: the exchanges
//! are rebuilt from the model-call spans' output messages (see [`Cassette::from_spans`]).

mod cassette;
#[cfg(feature = "replay")]
mod endpoint;
mod normalize;
mod replayer;
pub(crate) mod scope;

pub use cassette::{Body, Cassette, Exchange, RecordedCall};
#[cfg(feature = "replay")]
pub use endpoint::{Endpoint, EndpointBuilder, EndpointStats};
pub use normalize::Normalizer;
pub use replayer::{Divergence, Replay};
pub use scope::Scoped;
#[doc(hidden)]
pub use scope::{arg, Call};

/// The attribute names of recordings (`tracekit.replay.*`).
pub mod attributes {
    pub use crate::semconv::replay::*;
}

use std::path::PathBuf;

/// Why a recording or a replay could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// A cassette file that cannot be read or written, or is not a cassette.
    #[error("{}cannot be used as a cassette: {problem}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Cassette {
        /// The file, when there is one.
        path: Option<PathBuf>,
        /// What is wrong.
        problem: String,
    },
    /// No span has that conversation or trace id.
    #[error("no conversation or trace {0:?} in the store; `tracekit ls STORE` lists them")]
    UnknownId(String),
    /// The conversation has spans, but none that can be replayed.
    #[error(
        "{id:?} has {spans} spans but nothing to replay: record it with the recording endpoint or \
             #[traced(record)] and a recording tracer, or trace its model calls with their output \
             messages (content capture on)"
    )]
    NothingRecorded {
        /// The conversation or trace id.
        id: String,
        /// How many spans it has.
        spans: usize,
    },
    /// A recording span that lacks a part.
    #[error(
        "stored recording {span} cannot be replayed: {problem}; record the conversation again"
    )]
    Corrupt {
        /// The span's name and id.
        span: String,
        /// What is missing.
        problem: String,
    },
    /// The store could not be read.
    #[error("cannot read the store: {0}")]
    Store(#[source] crate::Error),
    /// A setting that is not valid (an upstream URL, an address).
    #[error("{setting}={value:?} is not valid: {problem}")]
    Config {
        /// Which setting.
        setting: &'static str,
        /// As given.
        value: String,
        /// What is wrong and what to give instead.
        problem: String,
    },
    /// The endpoint could not listen.
    #[error("cannot listen on {addr}: {problem}; choose another address (port 0: any free port)")]
    Listen {
        /// The address asked for.
        addr: String,
        /// Why not.
        problem: String,
    },
}
