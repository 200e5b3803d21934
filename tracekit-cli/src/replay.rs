//! `tracekit replay`: the recording proxy in front of a model provider, or the replay
//! endpoint answering from a stored conversation or a cassette file.

use std::path::PathBuf;

use tracekit::replay::{Cassette, Endpoint, Normalizer, Replay};

use crate::store::StoreSpec;
use crate::CliError;

/// What `tracekit replay` was asked for.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The store: where a recording goes, or what a replay reads (with CONVERSATION).
    pub store: Option<StoreSpec>,
    /// The conversation (its ai.conversation.id) or trace id to replay from STORE.
    pub conversation: Option<String>,
    /// Where to listen (port 0: any free port). The first line printed is the base URL.
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub addr: String,
    /// Record: forward every request to --upstream and store each exchange in STORE.
    #[arg(long)]
    pub record: bool,
    /// The provider's origin (and path prefix) requests are forwarded to, e.g.
    /// https://api.openai.com. Replaying, requests with no recording go there and are
    /// recorded into STORE (re-recording) instead of failing.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// Recording: the conversation exchanges without W3C context are stored in (default: a
    /// new id, printed on the second line).
    #[arg(long = "conversation", value_name = "ID")]
    pub into_conversation: Option<String>,
    /// Replay this cassette file (from `tracekit export STORE CONVERSATION --format
    /// cassette`) instead of STORE and CONVERSATION.
    #[arg(long, value_name = "FILE")]
    pub cassette: Option<PathBuf>,
    /// Also ignore this JSON key when matching request bodies (at any depth); repeatable.
    #[arg(long = "ignore-key", value_name = "KEY")]
    pub ignore_keys: Vec<String>,
    /// Match request bodies exactly: no key ignored, no id or time masked.
    #[arg(long)]
    pub exact: bool,
}

/// Runs the endpoint until the process is stopped (Ctrl-C, SIGTERM: the store is written
/// first).
pub fn run(options: Options) -> Result<(), CliError> {
    let endpoint = if options.record {
        record(&options)?
    } else {
        replay(&options)?
    };
    // The first line is the base URL, for scripts; what it does follows. A reader that has
    // gone (a script that read the first line) must not stop the endpoint: write errors are
    // ignored.
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", endpoint.url());
    let _ = match (options.record, endpoint.conversation()) {
        (true, Some(conversation)) => writeln!(
            out,
            "recording: {} -> {}; exchanges without W3C context go to conversation {conversation}. Ctrl-C stops.",
            endpoint.url(),
            options.upstream.as_deref().unwrap_or_default()
        ),
        _ => writeln!(
            out,
            "replaying on {}; a request with no recording gets 404 naming it. Ctrl-C stops.",
            endpoint.url()
        ),
    };
    let _ = out.flush();
    loop {
        std::thread::park();
    }
}

fn record(options: &Options) -> Result<Endpoint, CliError> {
    let usage = |m: &str| Err(CliError::Usage(m.to_owned()));
    let Some(store) = &options.store else {
        return usage("--record needs a STORE to record into: tracekit replay traces.db --record --upstream URL");
    };
    let Some(upstream) = &options.upstream else {
        return usage(
            "--record needs --upstream URL, the provider's origin (e.g. https://api.openai.com)",
        );
    };
    if options.conversation.is_some() || options.cassette.is_some() {
        return usage("--record takes only a STORE; name the conversation with --conversation ID");
    }
    // The upstream is checked before the store is opened: a typo creates no file.
    let builder = Endpoint::record(&tracekit::Tracer::noop(), upstream)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut builder = builder
        .tracer(&store.open_for_writing()?)
        .addr(&options.addr);
    if let Some(id) = &options.into_conversation {
        builder = builder.conversation(id);
    }
    builder.start().map_err(|e| CliError::Io(e.to_string()))
}

fn replay(options: &Options) -> Result<Endpoint, CliError> {
    let usage = |m: &str| CliError::Usage(m.to_owned());
    let rerecord = options.upstream.is_some();
    if !rerecord && options.into_conversation.is_some() {
        return Err(usage(
            "--conversation names where recordings go: give it with --record, or with --upstream while replaying",
        ));
    }
    if let (Some(_), Some(_), false) = (&options.cassette, &options.store, rerecord) {
        return Err(usage(
            "with --cassette, a STORE is where re-recorded exchanges go: add --upstream URL, or leave the STORE out",
        ));
    }
    let cassette = match (&options.cassette, &options.store, &options.conversation) {
        (Some(file), _, None) => Cassette::load(file).map_err(|e| usage(&e.to_string()))?,
        (None, Some(store), Some(id)) => {
            Cassette::from_store(&store.open()?, id).map_err(|e| usage(&e.to_string()))?
        }
        (Some(_), _, Some(_)) => {
            return Err(usage(
                "give either --cassette FILE or STORE CONVERSATION, not both",
            ))
        }
        (None, _, _) => return Err(usage(
            "replay what? tracekit replay STORE CONVERSATION, or tracekit replay --cassette FILE; \
                 to record, add --record --upstream URL",
        )),
    };
    let mut normalizer = if options.exact {
        Normalizer::exact()
    } else {
        Normalizer::new()
    };
    for key in &options.ignore_keys {
        normalizer = normalizer.ignore_key(key);
    }
    let replay = Replay::new(cassette)
        .normalizer(normalizer)
        .record_missing(rerecord);
    let mut builder = Endpoint::replay(replay).addr(&options.addr);
    if let Some(upstream) = &options.upstream {
        let Some(store) = &options.store else {
            return Err(usage(
                "--upstream while replaying records what is missing: give the STORE to record into",
            ));
        };
        builder = builder
            .tracer(&store.open_for_writing()?)
            .upstream(upstream)
            .map_err(|e| usage(&e.to_string()))?;
        if let Some(id) = &options.into_conversation {
            builder = builder.conversation(id);
        }
    }
    builder.start().map_err(|e| CliError::Io(e.to_string()))
}
