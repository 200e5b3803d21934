//! A streamed LLM reply, watched live.
//!
//! A fake model streams its answer token by token. The `llm-invocation` span updates
//! `ai.llm.response.output` and emits a snapshot on every token; a consumer task reads the
//! iterable tracer's stream and renders the reply as it grows, then the finished span.
//!
//! Run it with `cargo run --example streaming`.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tracekit::{traced, SpanKind, Trace, Tracer};

/// The reply of the fake model, one token every 25 ms.
struct FakeTokens {
    tokens: std::vec::IntoIter<&'static str>,
    delay: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for FakeTokens {
    type Item = &'static str;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.delay.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let next = Duration::from_millis(25);
        self.delay
            .as_mut()
            .reset(tokio::time::Instant::now() + next);
        Poll::Ready(self.tokens.next())
    }
}

struct Agent {
    tracer: Tracer,
}

impl Agent {
    /// The model's token stream, traced: its span lasts until the last token is read.
    #[traced("llm-stream", stream, kind = Client)]
    fn stream_tokens(&self, _prompt: &str) -> impl Stream<Item = &'static str> {
        FakeTokens {
            tokens: "Amsterdam is 18 °C and sunny today, with a light breeze from the west."
                .split_inclusive(' ')
                .collect::<Vec<_>>()
                .into_iter(),
            delay: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    #[traced(
        "llm-invocation",
        kind = Client,
        attributes("ai.trace.type" = "llm-invocation", "ai.llm.request.messages" = [prompt])
    )]
    async fn call_llm(&self, prompt: &str) -> String {
        let span = self.tracer.current_trace();
        let mut tokens = pin!(self.stream_tokens(prompt));
        let mut reply = String::new();
        let mut events = 0;
        while let Some(token) = poll_fn(|cx| tokens.as_mut().poll_next(cx)).await {
            reply.push_str(token);
            events += 1;
            span.add_attribute("ai.llm.response.output", reply.as_str())
                .add_attribute("ai.llm.response.stream.events", events)
                .emit_snapshot();
        }
        reply
    }
}

fn render(item: &Trace) {
    let output = item
        .attributes
        .get("ai.llm.response.output")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    match item.ended_at {
        None => println!("[live] {} | {output}", item.span_name),
        Some(_) => println!(
            "[done] {} {} in {:.0} ms: {output}",
            item.span_kind,
            item.span_name,
            item.duration().unwrap_or_default().as_secs_f64() * 1000.0
        ),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), tracekit::Error> {
    let (tracer, mut stream) = Tracer::iterable();
    tracer.set_resource_attribute("service.name", "StreamingAgent");

    // The live view: a task that renders snapshots and finished spans as they arrive.
    let view = tokio::spawn(async move {
        let mut rendered = 0;
        while let Some(item) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            if item.span_name == "llm-invocation" || !item.is_snapshot() {
                render(&item);
            }
            rendered += 1;
        }
        rendered
    });

    let agent = Agent {
        tracer: tracer.clone(),
    };
    let reply = agent
        .tracer
        .span("converse")
        .kind(SpanKind::Server)
        .instrument(agent.call_llm("What's the weather in Amsterdam?"))
        .await;

    // Shutting down ends the stream once the view has seen everything.
    tracer.shutdown()?;
    let rendered = view.await.expect("the view task does not panic");
    println!(
        "\nreply: {reply}\n{rendered} items streamed, {} dropped",
        tracer.stats().snapshots_dropped
    );
    Ok(())
}
