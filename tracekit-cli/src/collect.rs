//! `tracekit serve --otlp`: the OTLP receivers in front of the store (`tracekit::ingest`), and
//! the tail sampling they may apply.

use std::time::Duration;

use tracekit::ingest::{Collector, HttpReceiver, IngestStats};
use tracekit::{Sampler, Tracer};

use crate::{CliError, StoreSpec};

/// What `serve` was asked to receive, and how to sample it.
#[derive(Debug, Default)]
pub struct Options {
    /// OTLP/HTTP's address, if asked for.
    pub http: Option<String>,
    /// OTLP/gRPC's address, if asked for.
    pub grpc: Option<String>,
    /// The bearer token clients must send.
    pub token: Option<String>,
    /// Tail-sampling rules.
    pub sampling: Sampling,
}

/// `--keep-*` and `--sample-rest`: which traces the collector keeps (all, unless one is given).
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Sampling (with --otlp; every trace is kept unless one is given)")]
pub struct Sampling {
    /// Keep every trace with a failed span (tail sampling over every process's spans).
    #[arg(long)]
    pub keep_errors: bool,
    /// Keep traces that cost at least USD (from the price table).
    #[arg(long, value_name = "USD")]
    pub keep_cost_at_least: Option<f64>,
    /// Keep traces that used at least N tokens.
    #[arg(long, value_name = "N")]
    pub keep_tokens_at_least: Option<u64>,
    /// Keep traces whose user feedback scored below SCORE (thumbs-down is 0).
    #[arg(long, value_name = "SCORE")]
    pub keep_feedback_below: Option<f64>,
    /// Keep this fraction (0 to 1, by trace id) of the traces no rule keeps.
    #[arg(long, value_name = "RATIO", value_parser = ratio)]
    pub sample_rest: Option<f64>,
    /// How long after a trace's root ends its other spans may still arrive (30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = seconds)]
    pub decision_wait: Option<Duration>,
}

/// A share from 0 to 1.
fn ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "expected a share from 0 to 1, such as 0.1, not {text:?}"
        )),
    }
}

/// `30s`, `2m`, `500ms` or a number of seconds.
fn seconds(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => t.split_at(at),
        None => (t, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => f64::NAN,
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && scale.is_finite() => {
            Ok(Duration::from_secs_f64(n * scale))
        }
        _ => Err(format!(
            "expected a duration such as 30s, 2m or 500ms, not {text:?}"
        )),
    }
}

impl Sampling {
    /// Whether any sampling option was given.
    pub fn is_given(&self) -> bool {
        self.keep_errors
            || self.keep_cost_at_least.is_some()
            || self.keep_tokens_at_least.is_some()
            || self.keep_feedback_below.is_some()
            || self.sample_rest.is_some()
            || self.decision_wait.is_some()
    }

    /// The sampler these options make; `None` when none was given (every trace is kept).
    fn sampler(&self) -> Option<Sampler> {
        if !self.is_given() {
            return None;
        }
        let mut s = Sampler::tail();
        if self.keep_errors {
            s = s.keep_errors();
        }
        if let Some(usd) = self.keep_cost_at_least {
            s = s.keep_cost_at_least(usd);
        }
        if let Some(tokens) = self.keep_tokens_at_least {
            s = s.keep_tokens_at_least(tokens);
        }
        if let Some(score) = self.keep_feedback_below {
            s = s.keep_feedback_below(score);
        }
        s = s.otherwise(self.sample_rest.unwrap_or(0.0));
        // Other processes' exporters send late: their batch delay (5 s by default in
        // OpenTelemetry's SDKs) and a retry.
        Some(s.decision_wait(self.decision_wait.unwrap_or(Duration::from_secs(10))))
    }
}

/// The receivers running, and what they write through.
pub struct Running {
    collector: Collector,
    /// Where each listens, for the viewer's status line.
    pub listening: Vec<String>,
    _http: Option<HttpReceiver>,
    #[cfg(feature = "grpc")]
    _grpc: Option<tracekit::ingest::GrpcReceiver>,
}

impl Running {
    /// What they received and refused.
    pub fn stats(&self) -> IngestStats {
        self.collector.stats()
    }

    /// The store's counts.
    pub fn tracer(&self) -> &Tracer {
        self.collector.tracer()
    }
}

/// Opens `store` for writing and starts the receivers `options` ask for; prints where each
/// listens.
pub fn start(store: &StoreSpec, options: &Options) -> Result<Running, CliError> {
    let mut tracer = store.open_for_writing()?;
    if let Some(sampler) = options.sampling.sampler() {
        tracer = tracer.with_sampler(sampler)?;
    }
    let mut collector = Collector::new(tracer);
    if let Some(token) = &options.token {
        collector = collector.token(token.clone());
    }
    let mut listening = Vec::new();
    // Says where a receiver listens (the first lines printed, for people and scripts) and
    // warns if other machines can reach it without a token.
    let mut announce = |at: std::net::SocketAddr, what: &str, shown: String, listed: String| {
        if !at.ip().is_loopback() && options.token.is_none() {
            eprintln!(
                "tracekit: receiving OTLP on {at}, which other machines can reach, without a \
                 token: anyone there can write into the store (set --otlp-token or TRACEKIT_OTLP_TOKEN)"
            );
        }
        println!("tracekit OTLP/{what} receiver on {shown}");
        listening.push(listed);
    };
    let http = match &options.http {
        Some(addr) => {
            let receiver = collector.serve_http(addr.as_str())?;
            let at = receiver.local_addr();
            let url = format!("http://{at}/v1/traces");
            announce(at, "HTTP", url.clone(), url);
            Some(receiver)
        }
        None => None,
    };
    #[cfg(feature = "grpc")]
    let grpc = match &options.grpc {
        Some(addr) => {
            let receiver = collector.serve_grpc(addr.as_str())?;
            let at = receiver.local_addr();
            announce(at, "gRPC", at.to_string(), format!("grpc://{at}"));
            Some(receiver)
        }
        None => None,
    };
    #[cfg(not(feature = "grpc"))]
    if options.grpc.is_some() {
        return Err(CliError::NotBuiltIn(
            "OTLP/gRPC needs the `grpc` feature: cargo install tracekit-cli --features grpc",
        ));
    }
    Ok(Running {
        collector,
        listening,
        _http: http,
        #[cfg(feature = "grpc")]
        _grpc: grpc,
    })
}
