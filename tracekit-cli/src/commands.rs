//! What each command does.

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tracekit::query::{Predicate, Query};
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

/// A trace's spans, by id, or a conversation's, by `ai.conversation.id`.
pub fn resolve(tracer: &Tracer, id: &str) -> Result<Vec<Trace>, CliError> {
    let filter = match id.parse::<TraceId>() {
        Ok(trace) if id.len() == 32 => TraceFilter::new().trace_id(trace),
        _ => TraceFilter::new().attribute("ai.conversation.id", id),
    };
    let spans = tracer.get_traces(&filter)?;
    if spans.is_empty() {
        return Err(CliError::UnknownId(id.to_owned()));
    }
    Ok(spans)
}

pub fn ls(
    store: &StoreSpec,
    attributes: &[String],
    since_text: Option<&str>,
    errors: bool,
    limit: usize,
    as_json: bool,
) -> Result<(), CliError> {
    let tracer = store.open()?;
    let query = query(attributes, since_text, errors)?.limit(limit);
    // A page of traces from the store's indexes, then each listed trace's spans for its
    // tokens and cost: the work is the page's, not the store's.
    let mut rows = Vec::new();
    for head in tracer.list_traces(&query)?.items {
        let spans = tracer.get_traces(&TraceFilter::new().trace_id(head.trace_id))?;
        rows.extend(trace_row(head.trace_id, &spans));
    }
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

/// The row `ls` prints (and the viewer lists) for one trace, from its spans.
pub fn trace_row(trace_id: TraceId, spans: &[Trace]) -> Option<(Timestamp, serde_json::Value)> {
    let start = spans.iter().map(|s| s.started_at).min()?;
    let summary = analysis::summary(spans);
    let conversation = spans.iter().find_map(|s| {
        s.attributes
            .get("ai.conversation.id")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    });
    let root = spans
        .iter()
        .find(|s| s.parent_span_id.is_none())
        .map_or("?", |s| s.span_name.as_ref())
        .to_owned();
    Some((
        start,
        json!({
            "trace_id": trace_id,
            "conversation_id": conversation,
            "root": root,
            "start": start,
            "duration_ms": summary.wall_time.as_secs_f64() * 1e3,
            "spans": spans.len(),
            "tokens": summary.tokens.total(),
            "cost_usd": summary.cost_usd,
            "unpriced_calls": summary.unpriced_calls,
            "errors": summary.errors,
        }),
    ))
}

/// One row per trace among `spans`, newest first: the traces with a span matching `filter`,
/// started after `since`, with a failed span if `errors`.
pub fn trace_rows(
    spans: Vec<Trace>,
    filter: &TraceFilter,
    since: Option<Timestamp>,
    errors: bool,
) -> Vec<(Timestamp, serde_json::Value)> {
    let mut traces: BTreeMap<TraceId, Vec<Trace>> = BTreeMap::new();
    for span in spans {
        traces.entry(span.trace_id).or_default().push(span);
    }
    let mut rows: Vec<(Timestamp, serde_json::Value)> = traces
        .into_iter()
        .filter(|(_, spans)| {
            filter.attributes.is_empty() || spans.iter().any(|s| filter.matches(s))
        })
        .filter_map(|(trace_id, spans)| {
            let row = trace_row(trace_id, &spans)?;
            if since.is_some_and(|at| row.0 < at)
                || (errors && row.1["errors"].as_u64().unwrap_or(0) == 0)
            {
                return None;
            }
            Some(row)
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    rows
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
    let mut seen: HashSet<(TraceId, tracekit::SpanId)> = HashSet::new();
    let mut first = true;
    let mut printed = 0;
    loop {
        let spans = tracer.get_traces(&TraceFilter::new())?;
        let mut out = std::io::stdout().lock();
        for span in spans {
            if !seen.insert((span.trace_id, span.span_id)) || (first && !from_start) {
                continue;
            }
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
        first = false;
        std::thread::sleep(Duration::from_secs_f64(interval));
    }
}

pub fn export(
    store: &StoreSpec,
    format: ExportFormat,
    id: Option<&str>,
    output: Option<&Path>,
    to: Option<&str>,
) -> Result<(), CliError> {
    let tracer = store.open()?;
    progress("reading the store…");
    let spans = match id {
        Some(id) => resolve(&tracer, id)?,
        None => tracer.get_traces(&TraceFilter::new())?,
    };
    if let Some(url) = to {
        let exporter = Tracer::otlp(tracekit::OtlpConfig::new(url))?;
        for span in &spans {
            if let Some(finished) = FinishedSpan::from_trace(span) {
                exporter.forward(&finished);
            }
        }
        exporter.shutdown_within(Duration::from_secs(60))?;
        progress(&format!("sent {} spans to {url}", spans.len()));
        return Ok(());
    }
    let text = match format {
        ExportFormat::Jsonl => spans
            .iter()
            .map(|s| serde_json::to_string(s).unwrap_or_default() + "\n")
            .collect(),
        ExportFormat::Jaeger => render::to_jaeger_json(&spans).to_string() + "\n",
        ExportFormat::OtlpJson => tracekit::exporters::to_otlp_json(&spans) + "\n",
    };
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    let errors = spans
        .iter()
        .filter(|s| s.span_status == SpanStatus::Error)
        .count();
    progress(&format!("exported {} spans ({errors} failed)", spans.len()));
    Ok(())
}
