//! `tracekit`: list, show, follow and export the traces in a store.

mod collect;
mod commands;
mod replay;
mod serve;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use store::StoreSpec;

/// Look at stored traces: list conversations, show a trace as a tree or a timeline, follow new
/// spans, export to files or an OpenTelemetry collector.
///
/// A store is a SQLite file written by tracekit (or the Python toolkit): `traces.db` or
/// `sqlite://traces.db`; or a DynamoDB table: `dynamodb://TABLE?endpoint=URL&region=NAME`
/// (with the `dynamodb` feature).
///
/// Exit status: 0 on success, 1 when `diff` finds the two runs differ, 2 on an error.
#[derive(Debug, Parser)]
#[command(name = "tracekit", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List traces, newest first: id, conversation, start, duration, spans, tokens, cost, errors.
    ///
    /// Examples:
    ///   tracekit ls traces.db
    ///   tracekit ls traces.db --attr ai.conversation.id=conv-42 --errors
    ///   tracekit ls traces.db --since 2h --limit 50 --json
    #[command(verbatim_doc_comment)]
    Ls {
        /// The store (a path, sqlite://PATH or dynamodb://TABLE?...).
        store: StoreSpec,
        /// Only traces with a span whose attribute KEY equals VALUE (a string); repeatable.
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
        /// Only traces started in the last DURATION (30s, 15m, 2h, 7d) or since an RFC 3339
        /// time (2026-12-01T09:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only traces with a failed span.
        #[arg(long)]
        errors: bool,
        /// At most this many traces (a page; the next one starts at the cursor printed on
        /// standard error).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Start after this cursor (printed as `more: add --after CURSOR` under a full page):
        /// the page after it, stable while agents write.
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
        /// One JSON object per trace, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show a trace (by its 32-hex id) or a whole conversation (by its ai.conversation.id).
    ///
    /// Examples:
    ///   tracekit show traces.db 4bf92f3577b34da6a3ce929d0e0e4736
    ///   tracekit show traces.db conv-42 --format timeline
    ///   tracekit show traces.db conv-42 --format jaeger > trace.json
    #[command(verbatim_doc_comment)]
    Show {
        /// The store.
        store: StoreSpec,
        /// A trace id or a conversation id.
        id: String,
        /// How to show it.
        #[arg(long, value_enum, default_value_t = Format::Tree)]
        format: Format,
        /// Columns for the timeline.
        #[arg(long, default_value_t = 100)]
        width: usize,
    },
    /// Follow new spans as agents write them, like `tail -f`: each look reads only what was
    /// written since the last (and a SQLite file nobody wrote to costs no read at all).
    ///
    /// Examples:
    ///   tracekit tail traces.db
    ///   tracekit tail traces.db --json | jq .span_name
    #[command(verbatim_doc_comment)]
    Tail {
        /// The store.
        store: StoreSpec,
        /// JSON lines instead of the human-readable format.
        #[arg(long)]
        json: bool,
        /// Seconds between looks at the store.
        #[arg(long, default_value_t = 0.5)]
        interval: f64,
        /// Also print the spans already stored.
        #[arg(long)]
        from_start: bool,
        /// Stop after this many spans.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Export traces to a file or standard output, or replay them to an OTLP collector.
    ///
    /// The store is read in pieces, so memory holds a piece, however large the store: jsonl and
    /// --to write spans in the order they were stored, jaeger a trace at a time, oldest first.
    /// otlp-json is one request body, built whole.
    ///
    /// Examples:
    /// cassette writes what `tracekit replay --cassette` and `tracekit::replay` answer from: one
    /// stable JSON file to commit beside a test (sorted keys, no ids or times, no secrets).
    ///
    /// Examples:
    ///   tracekit export traces.db --format jsonl -o spans.jsonl
    ///   tracekit export traces.db conv-42 --format jaeger -o conv-42.json
    ///   tracekit export traces.db conv-42 --format cassette -o tests/weather.cassette.json
    ///   tracekit export traces.db --to http://127.0.0.1:4318
    #[command(verbatim_doc_comment)]
    Export {
        /// The store.
        store: StoreSpec,
        /// Only this trace id or conversation id (as --id).
        #[arg(value_name = "ID", conflicts_with = "id")]
        only: Option<String>,
        /// What to write.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Only this trace id or conversation id.
        #[arg(long)]
        id: Option<String>,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
        /// Replay the spans to this OTLP/HTTP collector (base URL, /v1/traces is appended)
        /// instead of writing them.
        #[arg(long, value_name = "URL")]
        to: Option<String>,
    },
    /// Compare two traces or conversations: where they diverge, tool calls, statuses,
    /// attributes (ids and times ignored), tokens, cost and time per kind of span.
    ///
    /// Exit status 1 when they differ: a span added or removed, a status, attribute or tool
    /// call changed, or cost, tokens or time grown beyond a --max-*-increase given; 0 when
    /// they do not; 2 on an error. For a CI job: record a run, then diff the next against it.
    ///
    /// Examples:
    ///   tracekit diff traces.db 4bf92f3577b34da6a3ce929d0e0e4736 a3ce929d0e0e47364bf92f3577b34da6
    ///   tracekit diff baseline.db conv-1 conv-1 --against today.db --max-cost-increase 10%
    ///   tracekit diff traces.db conv-1 conv-2 --ignore ai.user.input --json
    #[command(verbatim_doc_comment)]
    Diff {
        /// The store holding A (and B, unless --against).
        store: StoreSpec,
        /// The first trace id or conversation id (before).
        a: String,
        /// The second (after).
        b: String,
        /// Read B from this store instead.
        #[arg(long, value_name = "STORE")]
        against: Option<StoreSpec>,
        /// Also ignore this attribute (a key, `prefix*` or `*suffix`); repeatable.
        #[arg(long = "ignore", value_name = "KEY")]
        ignore: Vec<String>,
        /// Fail when the total cost grew by more than this (10%, 0%).
        #[arg(long, value_name = "PERCENT", value_parser = percent)]
        max_cost_increase: Option<f64>,
        /// Fail when the total tokens grew by more than this.
        #[arg(long, value_name = "PERCENT", value_parser = percent)]
        max_tokens_increase: Option<f64>,
        /// Fail when the total time grew by more than this.
        #[arg(long, value_name = "PERCENT", value_parser = percent)]
        max_duration_increase: Option<f64>,
        /// The report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Serve the viewer: the traces in a browser, live (127.0.0.1 only by default); with
    /// --otlp, also collect: receive OTLP from any process or language into the store.
    ///
    /// Without --otlp the store is only read. With it, tracekit is the OpenTelemetry collector
    /// of the processes an agent's work crosses (Python services, MCP servers, sub-agents):
    /// point their exporters at it (OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318) and
    /// their spans land in the store, completed with the GenAI conventions and priced, and read
    /// back as one trace with the Rust agent's. A 200 means the spans are in the store; a full
    /// queue or a failing store is a 503 with Retry-After, and the exporter sends again.
    /// The counts are at /healthz on the receiver's port and in the viewer's header.
    ///
    /// STORE may also be an OTLP backend's URL (http://host:4318): spans are forwarded there,
    /// with no viewer.
    ///
    /// Examples:
    ///   tracekit serve traces.db
    ///   tracekit serve traces.db --addr 127.0.0.1:9000
    ///   tracekit serve traces.db --otlp                      # OTLP/HTTP on 127.0.0.1:4318
    ///   tracekit serve traces.db --otlp --otlp-grpc          # and OTLP/gRPC on 127.0.0.1:4317
    ///   tracekit serve traces.db --otlp 0.0.0.0:4318 --otlp-token "$TOKEN"
    ///   tracekit serve traces.db --otlp --keep-errors --keep-cost-at-least 0.05 --sample-rest 0.1
    ///   tracekit serve http://127.0.0.1:6006 --otlp          # forward to Phoenix
    #[command(verbatim_doc_comment)]
    Serve {
        /// The store (a path, sqlite://PATH, dynamodb://TABLE?..., or with --otlp an OTLP URL).
        store: StoreSpec,
        /// Where the viewer listens (port 0: any free port; the first line printed says which).
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: String,
        /// Receive OTLP/HTTP (POST /v1/traces, protobuf or JSON, gzip) on ADDR and write it
        /// into the store.
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = tracekit::ingest::DEFAULT_HTTP_ADDR)]
        otlp: Option<String>,
        /// Receive OTLP/gRPC on ADDR too (the default of Python's and Java's exporters).
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = tracekit::ingest::DEFAULT_GRPC_ADDR)]
        otlp_grpc: Option<String>,
        /// Require `Authorization: Bearer TOKEN` from OTLP clients (set it when listening
        /// beyond 127.0.0.1).
        #[arg(
            long,
            value_name = "TOKEN",
            env = "TRACEKIT_OTLP_TOKEN",
            hide_env_values = true
        )]
        otlp_token: Option<String>,
        /// Which traces to keep (tail sampling over every process's spans).
        #[command(flatten)]
        sampling: collect::Sampling,
    },
    /// Record a model provider's answers, or replay them: a stored conversation becomes an
    /// offline, deterministic test.
    ///
    /// Recording (--record): a proxy in front of the provider. Point the agent's client at it
    /// (its base URL); each request goes to --upstream and the exchange (method, path, request
    /// body, status, response body, a stream event by event; never a header or an API key) is
    /// stored in STORE as a span of the conversation: under the agent's span when the request
    /// carries W3C traceparent/baggage, else in conversation --conversation ID (or a new one,
    /// printed).
    ///
    /// Replaying (STORE CONVERSATION, or --cassette FILE): each request is answered with the
    /// recorded response, matched by method, path and body (ids, `created`, `user`, UUIDs and
    /// RFC 3339 times set aside; --ignore-key adds keys, --exact compares all). Streams come in
    /// their recorded events. A request with no recording gets 404 with a JSON body naming it
    /// and showing it against the nearest recorded one as a diff; with --upstream it goes to
    /// the provider and is recorded into STORE instead. A conversation traced without
    /// recording replays its model calls rebuilt from the spans (OpenAI chat completions).
    ///
    /// Both print the base URL they listen on as their first line and serve until stopped.
    /// Then `tracekit diff STORE RECORDED REPLAYED` is the regression check.
    ///
    /// Examples:
    ///   tracekit replay traces.db --record --upstream https://api.openai.com --conversation conv-42
    ///   OPENAI_BASE_URL=http://127.0.0.1:8089/v1 cargo run --example my_agent
    ///   tracekit replay traces.db conv-42 --addr 127.0.0.1:8089
    ///   tracekit export traces.db conv-42 --format cassette -o tests/conv-42.cassette.json
    ///   tracekit replay --cassette tests/conv-42.cassette.json --addr 127.0.0.1:0
    ///   tracekit replay traces.db conv-42 --upstream https://api.openai.com   # re-record what changed
    #[command(verbatim_doc_comment)]
    Replay(replay::Options),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// Example:
    ///   tracekit completions bash > /etc/bash_completion.d/tracekit
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// How `show` draws a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// An indented tree with durations, tokens and cost.
    Tree,
    /// A waterfall.
    Timeline,
    /// The reference toolkit's human-readable lines.
    Human,
    /// Tokens, cost, time and the critical path.
    Summary,
    /// tracekit's JSON (traces and spans).
    Json,
    /// The Jaeger UI's JSON.
    Jaeger,
}

/// What `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// One span per line, tracekit's JSON.
    Jsonl,
    /// The Jaeger UI's JSON.
    Jaeger,
    /// An OTLP/HTTP JSON request body.
    OtlpJson,
    /// A replay cassette of one conversation or trace (give its id).
    Cassette,
}

/// Why a command failed: each says what to do.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum CliError {
    /// A store URL that cannot be read.
    #[error("{url:?} is not a store: {problem}")]
    StoreUrl {
        /// As given.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// A SQLite store that does not exist.
    #[error("no store at {0}: check the path (tracekit never creates a store when reading one)")]
    MissingStore(String),
    /// A store or exporter error.
    #[error("{0}")]
    Tracekit(String),
    /// Nothing matched the id.
    #[error("no trace or conversation {0:?} in this store; `tracekit ls STORE` lists them")]
    UnknownId(String),
    /// A bad option value.
    #[error("{0}")]
    Usage(String),
    /// Built without what this needs.
    #[error("{0}")]
    NotBuiltIn(&'static str),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Io(String),
}

impl From<tracekit::Error> for CliError {
    fn from(e: tracekit::Error) -> CliError {
        CliError::Tracekit(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError::Io(e.to_string())
    }
}

/// `10%`, `10` or `0%` as a fraction (0.1).
fn percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p / 100.0),
        _ => Err(format!(
            "expected a percentage such as 10% or 0%, not {text:?}"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ls {
            store,
            attributes,
            since,
            errors,
            limit,
            after,
            json,
        } => commands::ls(
            &store,
            &attributes,
            since.as_deref(),
            errors,
            limit,
            after.as_deref(),
            json,
        ),
        Command::Show {
            store,
            id,
            format,
            width,
        } => commands::show(&store, &id, format, width),
        Command::Tail {
            store,
            json,
            interval,
            from_start,
            count,
        } => commands::tail(&store, json, interval, from_start, count),
        Command::Export {
            store,
            only,
            format,
            id,
            output,
            to,
        } => commands::export(
            &store,
            format,
            only.or(id).as_deref(),
            output.as_deref(),
            to.as_deref(),
        ),
        Command::Diff {
            store,
            a,
            b,
            against,
            ignore,
            max_cost_increase,
            max_tokens_increase,
            max_duration_increase,
            json,
        } => {
            let tolerances = tracekit::analysis::Tolerances {
                max_cost_increase,
                max_tokens_increase,
                max_duration_increase,
            };
            match commands::diff(&store, &a, &b, against.as_ref(), &ignore, &tolerances, json) {
                Ok(true) => return ExitCode::from(1),
                other => other.map(|_| ()),
            }
        }
        Command::Serve {
            store,
            addr,
            otlp,
            otlp_grpc,
            otlp_token,
            sampling,
        } => {
            let options = collect::Options {
                http: otlp,
                grpc: otlp_grpc,
                token: otlp_token,
                sampling,
            };
            serve::serve(&store, &addr, &options)
        }
        Command::Replay(options) => replay::run(options),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "tracekit",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracekit: {e}");
            // 1 is `diff`'s "they differ".
            ExitCode::from(2)
        }
    }
}
