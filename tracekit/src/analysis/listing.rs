//! [`list`]: a page of traces with what each one used and cost, for lists and dashboards.

use super::summary::{summary, Summary};
use crate::query::{Page, Query, TraceHead};
use crate::{Error, TraceFilter, Tracer};

/// One trace of a [`list`]: its [`TraceHead`] (id, start, end, spans, errors, root,
/// conversation) and the [`Summary`] of its spans (LLM calls, tokens, cost, tool calls, time).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TraceSummary {
    /// What the store's listing says of the trace.
    pub head: TraceHead,
    /// What its spans did, used and cost.
    pub summary: Summary,
}

/// The page of traces `query` selects, each with the summary of its spans: one listing from
/// the store's indexes, then one read of each listed trace by id, so the work is the page's,
/// not the store's.
///
/// ```
/// use tracekit::query::Query;
/// let tracer = tracekit::Tracer::in_memory(100);
/// let genai = tracekit::genai::GenAi::new();
/// {
///     let _turn = tracer.trace("turn");
///     let call = genai.chat(&tracer, "openai", "gpt-4o").start();
///     genai.record_usage(&call, "gpt-4o", &tracekit::genai::Usage::new(1_000, 100));
/// }
/// let page = tracekit::analysis::list(&tracer, &Query::new())?;
/// let row = &page.items[0];
/// assert_eq!(row.head.root_name.as_deref(), Some("turn"));
/// assert_eq!((row.summary.llm_calls, row.summary.tokens.total()), (1, 1_100));
/// # Ok::<(), tracekit::Error>(())
/// ```
pub fn list(tracer: &Tracer, query: &Query) -> Result<Page<TraceSummary>, Error> {
    let page = tracer.list_traces(query)?;
    let items = page
        .items
        .into_iter()
        .map(|head| {
            let spans = tracer.get_traces(&TraceFilter::new().trace_id(head.trace_id))?;
            Ok(TraceSummary {
                summary: summary(&spans),
                head,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Page {
        items,
        next: page.next,
    })
}
