//! What each command does.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tracekit::analysis::TraceSummary;
use tracekit::query::{Predicate, Query, Watermark};
use tracekit::sinks::ColorChoice;
use tracekit::{
    analysis, render, FinishedSpan, SpanStatus, Timestamp, Trace, TraceFilter, TraceId, Tracer,
};

use crate::{CliError, ExportFormat, Format, StoreSpec};

/// Progress for people: on standard error, only when it is a terminal.
fn progress(message: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("{message}");
    }
}

/// `KEY=VALUE` filters.
pub fn filter(attributes: &[String]) -> Result<TraceFilter, CliError> {
    attributes
        .iter()
        .try_fold(TraceFilter::new(), |f, pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok(f.attribute(k.to_owned(), v.to_owned())),
            _ => Err(CliError::Usage(format!(
                "--attr {pair:?}: expected KEY=VALUE, such as ai.conversation.id=conv-42"
            ))),
        })
}

/// `30s`, `15m`, `2h`, `7d` ago, or an RFC 3339 time.
pub fn since(text: &str) -> Result<Timestamp, CliError> {
    let bad = || {
        CliError::Usage(format!("--since {text:?}: expected 30s, 15m, 2h, 7d or an RFC 3339 time such as 2026-12-01T09:00:00Z"))
    };
    if let Ok(at) =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        let nanos = i64::try_from(at.unix_timestamp_nanos()).map_err(|_| bad())?;
        return Ok(Timestamp::from_unix_nanos(nanos));
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(bad()),
    };
    let now = Timestamp::now().unix_nanos();
    Ok(Timestamp::from_unix_nanos(now.saturating_sub(
        (seconds as i64).saturating_mul(1_000_000_000),
    )))
}

/// A trace's spans, by its 32-hex id, or a conversation's (by `ai.conversation.id`, its turns
/// oldest first), through the store's indexes.
pub fn resolve(tracer: &Tracer, id: &str) -> Result<Vec<Trace>, CliError> {
    let spans = match id.parse::<TraceId>() {
        Ok(trace) if id.len() == 32 => tracer.get_traces(&TraceFilter::new().trace_id(trace))?,
        _ => tracer
            .query_spans(Query::new().conversation(id).oldest_first().limit(100))
            .collect::<Result<_, _>>()?,
    };
    if spans.is_empty() {
        return Err(CliError::UnknownId(id.to_owned()));
    }
    Ok(spans)
}

/// What `ls` and the viewer's list show of one trace.
pub fn summary_json(row: &TraceSummary) -> serde_json::Value {
    let (head, s) = (&row.head, &row.summary);
    json!({
        "trace_id": head.trace_id,
        "conversation_id": head.conversation_id,
        "root": head.root_name.as_deref().unwrap_or("?"),
        "start": head.started_at,
        "duration_ms": s.wall_time.as_secs_f64() * 1e3,
        "spans": head.spans,
        "llm_calls": s.llm_calls,
        "tool_calls": s.tool_calls,
        "tokens": s.tokens.total(),
        "cost_usd": s.cost_usd,
        "unpriced_calls": s.unpriced_calls,
        "errors": head.errors,
    })
}

pub fn ls(
    store: &StoreSpec,
    attributes: &[String],
    since_text: Option<&str>,
    errors: bool,
    limit: usize,
    after: Option<&str>,
    as_json: bool,
) -> Result<(), CliError> {
    let tracer = store.open()?;
    let mut query = query(attributes, since_text, errors)?.limit(limit);
    if let Some(cursor) = after {
        query = query.after(
            cursor
                .parse()
                .map_err(|e| CliError::Usage(format!("--after: {e}")))?,
        );
    }
    // A page of traces from the store's indexes, then each listed trace's spans for its
    // tokens and cost: the work is the page's, not the store's.
    let page = analysis::list(&tracer, &query)?;
    let rows: Vec<_> = page
        .items
        .iter()
        .map(|row| (row.head.started_at, summary_json(row)))
        .collect();
    let mut out = std::io::stdout().lock();
    if as_json {
        for (_, row) in &rows {
            writeln!(out, "{row}")?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<32}  {:<24}  {:<24}  {:>10}  {:>5}  {:>7}  {:>9}  {:>6}",
        "TRACE", "CONVERSATION", "START", "DURATION", "SPANS", "TOKENS", "COST", "ERRORS"
    )?;
    for (start, row) in &rows {
        let conversation = row["conversation_id"].as_str().unwrap_or("-");
        let short: String = conversation.chars().take(24).collect();
        writeln!(
            out,
            "{:<32}  {:<24}  {:<24}  {:>8.1}ms  {:>5}  {:>7}  {:>9}  {:>6}",
            row["trace_id"].as_str().unwrap_or_default(),
            short,
            start.to_iso_millis(),
            row["duration_ms"].as_f64().unwrap_or_default(),
            row["spans"].as_u64().unwrap_or_default(),
            row["tokens"].as_u64().unwrap_or_default(),
            format!("${:.4}", row["cost_usd"].as_f64().unwrap_or_default()),
            row["errors"].as_u64().unwrap_or_default(),
        )?;
    }
    if rows.is_empty() {
        progress("no traces match");
    }
    if let Some(next) = page.next {
        progress(&format!("more: add --after {next}"));
    }
    Ok(())
}

/// The query `ls` and the viewer's list make of `--attr KEY=VALUE`, `--since` and `--errors`:
/// a conversation id goes to the store's conversation index, other attributes are span
/// conditions.
pub fn query(
    attributes: &[String],
    since_text: Option<&str>,
    errors: bool,
) -> Result<Query, CliError> {
    let mut query = Query::new();
    for (key, value) in filter(attributes)?.attributes.iter() {
        query = match value.as_str() {
            Some(id) if key == "ai.conversation.id" => query.conversation(id),
            _ => query.attribute(Predicate::equals(key.to_owned(), value.clone())),
        };
    }
    if let Some(text) = since_text {
        query = query.since(since(text)?);
    }
    if errors {
        query = query.errors_only();
    }
    Ok(query)
}

pub fn show(store: &StoreSpec, id: &str, format: Format, width: usize) -> Result<(), CliError> {
    let tracer = store.open()?;
    let spans = resolve(&tracer, id)?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Tree => write!(out, "{}", render::tree(&spans))?,
        Format::Timeline => write!(
            out,
            "{}",
            render::timeline_colored(&spans, width, ColorChoice::Auto)
        )?,
        Format::Human => {
            for span in &spans {
                writeln!(out, "{}", span.as_human_readable())?;
            }
        }
        Format::Summary => {
            let s = analysis::summary(&spans);
            let path = analysis::critical_path(&spans);
            writeln!(
                out,
                "traces {}, spans {}, errors {}",
                s.traces, s.spans, s.errors
            )?;
            writeln!(
                out,
                "LLM calls {}: {} tokens in, {} out ({} cached, {} reasoning), ${:.4}{}",
                s.llm_calls,
                s.tokens.input,
                s.tokens.output,
                s.tokens.cache_read,
                s.tokens.reasoning,
                s.cost_usd,
                if s.unpriced_calls > 0 {
                    format!(" + {} unpriced calls", s.unpriced_calls)
                } else {
                    String::new()
                }
            )?;
            for (model, m) in &s.models {
                writeln!(
                    out,
                    "  {model}: {} calls, {} tokens, ${:.4}",
                    m.calls,
                    m.tokens.total(),
                    m.cost_usd
                )?;
            }
            writeln!(out, "tool calls {}", s.tool_calls)?;
            writeln!(
                out,
                "time {:?}: LLM {:?}, tools {:?}, own code {:?}",
                s.wall_time, s.llm_time, s.tool_time, s.own_time
            )?;
            writeln!(out, "critical path:")?;
            for step in &path.steps {
                writeln!(
                    out,
                    "  {}{} ({:?} own)",
                    "  ".repeat(step.depth),
                    step.name,
                    step.self_time
                )?;
            }
        }
        Format::Json => writeln!(out, "{}", render::to_json(&spans))?,
        Format::Jaeger => writeln!(out, "{}", render::to_jaeger_json(&spans))?,
    }
    Ok(())
}

pub fn tail(
    store: &StoreSpec,
    as_json: bool,
    interval: f64,
    from_start: bool,
    count: Option<usize>,
) -> Result<(), CliError> {
    if !(interval.is_finite() && interval > 0.0) {
        return Err(CliError::Usage(format!(
            "--interval {interval}: expected a positive number of seconds"
        )));
    }
    let tracer = store.open()?;
    // Only what was written since the last look; a SQLite store answers a look at an
    // unchanged file without reading a row.
    let mut mark = if from_start {
        Watermark::start()
    } else {
        Watermark::now()
    };
    let mut printed = 0;
    loop {
        let spans = tracer.new_spans(&mut mark)?;
        let mut out = std::io::stdout().lock();
        for span in spans {
            if as_json {
                writeln!(out, "{}", serde_json::to_string(&span).unwrap_or_default())?;
            } else {
                writeln!(out, "{}", span.as_human_readable())?;
            }
            printed += 1;
            if count.is_some_and(|n| printed >= n) {
                return Ok(());
            }
        }
        out.flush()?;
        drop(out);
        std::thread::sleep(Duration::from_secs_f64(interval));
    }
}

/// Hands `each` the spans of every trace the stream yields, one trace at a time.
fn trace_by_trace(
    stream: impl Iterator<Item = Result<Trace, tracekit::Error>>,
    each: &mut dyn FnMut(&[Trace]) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut trace: Vec<Trace> = Vec::new();
    for span in stream {
        let span = span?;
        if trace.first().is_some_and(|t| t.trace_id != span.trace_id) {
            each(&trace)?;
            trace.clear();
        }
        trace.push(span);
    }
    if !trace.is_empty() {
        each(&trace)?;
    }
    Ok(())
}

pub fn export(
    store: &StoreSpec,
    format: ExportFormat,
    id: Option<&str>,
    output: Option<&Path>,
    to: Option<&str>,
) -> Result<(), CliError> {
    let tracer = store.open()?;
    if format == ExportFormat::Cassette {
        return export_cassette(&tracer, id, output, to);
    }
    // Read in pieces, so memory holds a piece and not the store: the whole store in the order
    // it was written (a file's rows in sequence, the quickest read), or for Jaeger's
    // document, which groups spans by trace, a trace at a time.
    let by_trace = format == ExportFormat::Jaeger;
    let pieces = |each: &mut dyn FnMut(&[Trace]) -> Result<(), CliError>| -> Result<(), CliError> {
        match id {
            Some(id) => each(&resolve(&tracer, id)?),
            None if by_trace => trace_by_trace(
                tracer.query_spans(Query::new().oldest_first().limit(500)),
                each,
            ),
            None => {
                let mut mark = Watermark::start();
                loop {
                    let piece = tracer.new_spans(&mut mark)?;
                    if piece.is_empty() {
                        return Ok(());
                    }
                    each(&piece)?;
                }
            }
        }
    };
    let (mut spans, mut errors) = (0usize, 0usize);
    let mut count = |trace: &[Trace]| {
        spans += trace.len();
        errors += trace
            .iter()
            .filter(|s| s.span_status == SpanStatus::Error)
            .count();
        if spans / 100_000 != (spans - trace.len()) / 100_000 {
            progress(&format!("{spans} spans…"));
        }
    };
    if let Some(url) = to {
        let exporter = Tracer::otlp(tracekit::OtlpConfig::new(url))?;
        pieces(&mut |trace| {
            count(trace);
            for span in trace {
                if let Some(finished) = FinishedSpan::from_trace(span) {
                    exporter.forward(&finished);
                }
            }
            Ok(())
        })?;
        exporter.shutdown_within(Duration::from_secs(60))?;
        progress(&format!("sent {spans} spans to {url}"));
        return Ok(());
    }
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match format {
        ExportFormat::Jsonl => pieces(&mut |trace| {
            count(trace);
            for span in trace {
                serde_json::to_writer(&mut out, span).map_err(|e| CliError::Io(e.to_string()))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        })?,
        // One document, `{"data": [trace, ...]}`, written a trace at a time.
        ExportFormat::Jaeger => {
            out.write_all(b"{\"data\":[")?;
            let mut first = true;
            pieces(&mut |trace| {
                count(trace);
                for data in render::to_jaeger_json(trace)["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if !std::mem::take(&mut first) {
                        out.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut out, data)
                        .map_err(|e| CliError::Io(e.to_string()))?;
                }
                Ok(())
            })?;
            out.write_all(b"]}\n")?;
        }
        ExportFormat::Cassette => unreachable!("written above"),
        // One OTLP request body, grouped by resource and scope: built whole.
        ExportFormat::OtlpJson => {
            let mut all: Vec<Trace> = Vec::new();
            pieces(&mut |piece| {
                all.extend_from_slice(piece);
                Ok(())
            })?;
            count(&all);
            out.write_all(tracekit::exporters::to_otlp_json(&all).as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    progress(&format!("exported {spans} spans ({errors} failed)"));
    Ok(())
}

/// `export --format cassette`: one conversation's recordings as a cassette file.
fn export_cassette(
    tracer: &Tracer,
    id: Option<&str>,
    output: Option<&Path>,
    to: Option<&str>,
) -> Result<(), CliError> {
    if to.is_some() {
        return Err(CliError::Usage(
            "a cassette is a file: use -o FILE (or standard output), not --to".into(),
        ));
    }
    let Some(id) = id else {
        return Err(CliError::Usage(
            "a cassette holds one conversation: tracekit export STORE CONVERSATION --format cassette".into(),
        ));
    };
    let cassette = tracekit::replay::Cassette::from_store(tracer, id).map_err(|e| match e {
        tracekit::replay::ReplayError::UnknownId(id) => CliError::UnknownId(id),
        other => CliError::Usage(other.to_string()),
    })?;
    let text = cassette.to_json();
    match output {
        Some(path) => std::fs::write(path, &text)
            .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    progress(&format!(
        "exported a cassette: {} exchanges{}, {} calls",
        cassette.exchanges().len(),
        if cassette.is_rebuilt() {
            " (rebuilt from the model calls' spans)"
        } else {
            ""
        },
        cassette.calls().len()
    ));
    Ok(())
}

/// `tracekit diff`: prints the report; `Ok(true)` when the two differ (or grew beyond the
/// tolerances).
pub fn diff(
    store: &StoreSpec,
    a: &str,
    b: &str,
    against: Option<&StoreSpec>,
    ignore: &[String],
    tolerances: &analysis::Tolerances,
    as_json: bool,
) -> Result<bool, CliError> {
    let first = store.open()?;
    let before = resolve(&first, a)?;
    let after = match against {
        Some(other) => resolve(&other.open()?, b)?,
        None => resolve(&first, b)?,
    };
    let options = ignore
        .iter()
        .fold(analysis::DiffOptions::new(), |o, key| o.ignore(key.clone()));
    let report = analysis::diff_with(&before, &after, &options);
    let beyond = report.beyond(tolerances);
    let differs = !report.is_same() || !beyond.is_empty();
    let mut out = std::io::stdout().lock();
    if as_json {
        let mut value = serde_json::to_value(&report).map_err(|e| CliError::Io(e.to_string()))?;
        value["same"] = (!differs).into();
        value["beyond"] = beyond.into();
        value["first_divergence"] = report
            .first_divergence()
            .map_or(serde_json::Value::Null, |c| c.path.clone().into());
        writeln!(out, "{value}")?;
        return Ok(differs);
    }
    // Added green, removed red, changed yellow, on a terminal.
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for line in report.to_string().lines() {
        let code = match line.chars().next() {
            Some('+') => "32",
            Some('-') => "31",
            Some('~') => "33",
            _ => "",
        };
        if colour && !code.is_empty() {
            writeln!(out, "\x1b[{code}m{line}\x1b[0m")?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    for reason in &beyond {
        writeln!(out, "over the limit: {reason}")?;
    }
    Ok(differs)
}
