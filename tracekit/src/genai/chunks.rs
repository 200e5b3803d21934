//! Streamed LLM calls: time to the first chunk, and how many came.

use std::time::Instant;

use super::{GenAi, CHUNKS, TIME_TO_FIRST_CHUNK_MS};
use crate::{Instrumented, Span, SpanBuilder};

pin_project_lite::pin_project! {
    /// The chunks of a streamed LLM call, counted: the first records
    /// [`TIME_TO_FIRST_CHUNK_MS`] on the call's span, the end (or a drop before it) records
    /// [`CHUNKS`]. From [`GenAi::chunks`] (an `Iterator`) and, with the `stream` feature,
    /// [`GenAi::chunk_stream`] (a `Stream`), inside the [`Instrumented`] that ends the span.
    #[must_use = "chunks do nothing unless iterated or polled"]
    pub struct Chunks<S> {
        #[pin]
        inner: S,
        span: Span,
        started: Instant,
        count: u64,
        done: bool,
    }

    impl<S> PinnedDrop for Chunks<S> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.done {
                this.span.add_attribute(CHUNKS, *this.count);
            }
        }
    }
}

impl<S> Chunks<S> {
    /// Counts one step's outcome.
    fn saw<T>(span: &Span, started: Instant, count: &mut u64, done: &mut bool, item: &Option<T>) {
        match item {
            Some(_) => {
                *count += 1;
                if *count == 1 {
                    span.add_attribute(
                        TIME_TO_FIRST_CHUNK_MS,
                        started.elapsed().as_secs_f64() * 1e3,
                    );
                }
            }
            None if !*done => {
                *done = true;
                span.add_attribute(CHUNKS, *count);
            }
            None => {}
        }
    }
}

impl<I: Iterator> Iterator for Chunks<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.inner.next();
        Self::saw(
            &self.span,
            self.started,
            &mut self.count,
            &mut self.done,
            &item,
        );
        item
    }
}

#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
impl<S: futures_core::Stream> futures_core::Stream for Chunks<S> {
    type Item = S::Item;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        let this = self.project();
        let polled = this.inner.poll_next(cx);
        if let std::task::Poll::Ready(item) = &polled {
            Self::saw(this.span, *this.started, this.count, this.done, item);
        }
        polled
    }
}

impl<S> std::fmt::Debug for Chunks<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunks")
            .field("count", &self.count)
            .finish()
    }
}

impl GenAi {
    /// Runs a streamed call's chunks (an iterator) inside the span `builder` starts (from
    /// [`chat_stream`](Self::chat_stream)): the span records the time to the first chunk and
    /// the number of chunks, and ends when the iterator does or is dropped.
    ///
    /// ```
    /// use tracekit::genai::{GenAi, CHUNKS};
    /// let tracer = tracekit::Tracer::in_memory(1);
    /// let genai = GenAi::new();
    /// let text: String = genai
    ///     .chunks(genai.chat_stream(&tracer, "openai", "gpt-4o"), ["Hel", "lo"].into_iter())
    ///     .collect();
    /// assert_eq!(text, "Hello");
    /// let span = &tracer.get_traces(&Default::default()).unwrap()[0];
    /// assert_eq!(span.attributes.get(CHUNKS), Some(&2u64.into()));
    /// ```
    pub fn chunks<I: Iterator>(
        &self,
        builder: SpanBuilder<'_>,
        chunks: I,
    ) -> Instrumented<Chunks<I>> {
        counted(builder, chunks)
    }

    /// [`chunks`](Self::chunks) for an async `Stream` of chunks.
    #[cfg(feature = "stream")]
    #[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
    pub fn chunk_stream<S: futures_core::Stream>(
        &self,
        builder: SpanBuilder<'_>,
        chunks: S,
    ) -> Instrumented<Chunks<S>> {
        counted(builder, chunks)
    }
}

/// `chunks` counted, inside the span `builder` starts.
fn counted<S>(builder: SpanBuilder<'_>, chunks: S) -> Instrumented<Chunks<S>> {
    let span = builder.start_shared();
    let counted = Chunks {
        inner: chunks,
        span: Span {
            inner: span.clone(),
        },
        started: Instant::now(),
        count: 0,
        done: false,
    };
    Instrumented::new(span, counted, ())
}
