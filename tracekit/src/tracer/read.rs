//! Reading back: spans by filter, pages of traces, spans streamed trace by trace, and what
//! was written since a mark.

use std::collections::VecDeque;

use super::Tracer;
use crate::query::{Cursor, Page, Query, TraceHead, Watermark};
use crate::{Error, Trace, TraceFilter};

impl Tracer {
    /// The sink to read from; a no-op tracer keeps nothing to read.
    fn reader(&self, operation: &'static str) -> Result<&dyn crate::Sink, Error> {
        match &self.inner {
            Some(inner) => Ok(&*inner.sink),
            None => Err(Error::Unsupported {
                sink: "noop",
                operation,
            }),
        }
    }

    /// Reads stored spans back, ordered by start time; see [`TraceFilter`] for the rules.
    /// Spans still open are never returned.
    pub fn get_traces(&self, filter: &TraceFilter) -> Result<Vec<Trace>, Error> {
        self.reader("get_traces")?.get_traces(filter)
    }

    /// Lists stored traces, a page at a time: which ones, in which order and from where,
    /// as `query` says (see [`Query`](crate::query::Query)). Spans still open are not
    /// counted.
    ///
    /// ```
    /// use tracekit::query::Query;
    /// let tracer = tracekit::Tracer::in_memory(100);
    /// for i in 0..3 {
    ///     drop(tracer.trace(format!("turn-{i}")));
    /// }
    /// let page = tracer.list_traces(&Query::new().limit(2))?;
    /// assert_eq!(page.items[0].root_name.as_deref(), Some("turn-2")); // newest first
    /// let rest = tracer.list_traces(&Query::new().limit(2).after(page.next.unwrap()))?;
    /// assert_eq!(rest.items.len(), 1);
    /// assert!(rest.next.is_none());
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn list_traces(&self, query: &Query) -> Result<Page<TraceHead>, Error> {
        self.reader("list_traces")?.list_traces(query)
    }

    /// The spans of every trace `query` selects, streamed trace by trace in the query's order
    /// (each trace's spans by start time): a page of `query.limit` traces is listed at a
    /// time, and one trace's spans are held at a time, so memory stays bounded however large
    /// the store. An error ends the stream after it is yielded.
    ///
    /// ```
    /// use tracekit::query::Query;
    /// let tracer = tracekit::Tracer::in_memory(100);
    /// for i in 0..3 {
    ///     let turn = tracer.trace(format!("turn-{i}"));
    ///     drop(tracer.trace("tool"));
    ///     drop(turn);
    /// }
    /// let names: Vec<String> = tracer
    ///     .query_spans(Query::new().oldest_first().limit(2))
    ///     .map(|span| span.map(|s| s.span_name.to_string()))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(names, ["turn-0", "tool", "turn-1", "tool", "turn-2", "tool"]);
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn query_spans(&self, query: Query) -> SpanStream<'_> {
        SpanStream {
            tracer: self,
            query,
            heads: VecDeque::new(),
            spans: VecDeque::new(),
            next: Next::First,
        }
    }

    /// The spans stored since `mark` (oldest first), moving the mark past them: for following a
    /// store as agents write to it (`tracekit tail`). See [`Watermark`].
    pub fn new_spans(&self, mark: &mut Watermark) -> Result<Vec<Trace>, Error> {
        self.reader("new_spans")?.new_spans(mark)
    }
}

/// Where a [`SpanStream`] stream goes next.
enum Next {
    First,
    After(Cursor),
    Done,
}

/// The spans of the traces a query selects, trace by trace ([`Tracer::query_spans`]).
#[must_use = "a stream reads nothing until it is iterated"]
pub struct SpanStream<'a> {
    tracer: &'a Tracer,
    query: Query,
    heads: VecDeque<TraceHead>,
    spans: VecDeque<Trace>,
    next: Next,
}

impl std::fmt::Debug for SpanStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanStream")
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl SpanStream<'_> {
    /// The next page of traces, into `heads`; false at the end.
    fn page(&mut self) -> Result<bool, Error> {
        let query = match self.next {
            Next::First => self.query.clone(),
            Next::After(cursor) => self.query.clone().after(cursor),
            Next::Done => return Ok(false),
        };
        let Page { items, next } = self.tracer.list_traces(&query)?;
        self.next = next.map_or(Next::Done, Next::After);
        self.heads.extend(items);
        Ok(!self.heads.is_empty())
    }
}

impl Iterator for SpanStream<'_> {
    type Item = Result<Trace, Error>;

    fn next(&mut self) -> Option<Result<Trace, Error>> {
        loop {
            if let Some(span) = self.spans.pop_front() {
                return Some(Ok(span));
            }
            if self.heads.is_empty() {
                match self.page() {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => {
                        self.next = Next::Done;
                        return Some(Err(e));
                    }
                }
            }
            let head = self.heads.pop_front()?;
            match self
                .tracer
                .get_traces(&TraceFilter::new().trace_id(head.trace_id))
            {
                Ok(spans) => self.spans.extend(spans),
                Err(e) => {
                    self.next = Next::Done;
                    self.heads.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}
