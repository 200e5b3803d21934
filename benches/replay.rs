//! Replay's costs: the weather agent's conversation replayed end to end (in process, from
//! its committed cassette; the live, recording run beside it), a two-call chat conversation
//! and a 50-call one answered by the replay endpoint over HTTP, and one model call through
//! the recording endpoint against the same call straight to the provider.
//!
//! `cargo bench -p tracekit-benches --bench replay --features replay`

#[path = "../examples/agent.rs"]
#[allow(dead_code)]
mod agent;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tracekit::replay::{Body, Cassette, Endpoint, Exchange, Replay};
use tracekit::Tracer;

const QUESTION: &str = "What's the weather in Amsterdam, in Fahrenheit?";

fn weather_cassette() -> Cassette {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/tests/cassettes/weather.cassette.json"
    );
    Cassette::load(path).expect("the committed cassette")
}

/// A scripted provider on 127.0.0.1 answering every POST with a small completion.
fn provider() -> (Arc<tiny_http::Server>, std::thread::JoinHandle<()>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let thread = std::thread::spawn({
        let server = server.clone();
        move || {
            for mut request in server.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let header =
                    tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                        .unwrap();
                let _ = request.respond(
                    tiny_http::Response::from_string(completion(&body)).with_header(header),
                );
            }
        }
    });
    (server, thread)
}

fn completion(request: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("answer to {} bytes", request.len())}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    })
    .to_string()
}

/// The request body of call `i` of a conversation: the history grows by two messages a call.
fn request(i: usize) -> String {
    let mut messages =
        vec![serde_json::json!({"role": "system", "content": "Answer with the weather."})];
    for k in 0..=i {
        messages.push(serde_json::json!({"role": "user", "content": format!("question {k}")}));
        if k < i {
            messages
                .push(serde_json::json!({"role": "assistant", "content": format!("answer {k}")}));
        }
    }
    serde_json::json!({"model": "gpt-4o", "messages": messages}).to_string()
}

/// A recorded conversation of `calls` chat calls.
fn conversation(calls: usize) -> Cassette {
    let mut cassette = Cassette::new();
    for i in 0..calls {
        let body = request(i);
        cassette.push_exchange(Exchange::new(
            "POST",
            "/v1/chat/completions",
            body.clone(),
            200,
            Some("application/json".into()),
            Body::Whole(completion(&body)),
        ));
    }
    cassette
}

fn post(agent: &ureq::Agent, url: &str, body: &str) -> String {
    agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    group.measurement_time(Duration::from_secs(5));

    // The weather agent: three model calls and two tools, answered from the cassette.
    let cassette = weather_cassette();
    group.bench_function("weather agent, replayed from its cassette", |b| {
        b.iter(|| {
            let replay = Replay::new(cassette.clone());
            let agent = agent::WeatherAgent::with_plan(Tracer::in_memory(100), Vec::new());
            let answer = replay.run(|| agent.converse("conv-bench", "user123", QUESTION));
            assert!(replay.check().is_ok());
            black_box(answer)
        })
    });
    group.bench_function("weather agent, live and recording", |b| {
        b.iter(|| {
            let tracer = Tracer::in_memory(100);
            tracer.set_recording(true);
            let agent = agent::WeatherAgent::new(tracer);
            black_box(agent.converse("conv-bench", "user123", QUESTION))
        })
    });

    // Over HTTP: each call a POST answered by the replay endpoint (keep-alive client).
    let client: ureq::Agent = ureq::Agent::config_builder().build().into();
    for calls in [2, 50] {
        let cassette = conversation(calls);
        let bodies: Vec<String> = (0..calls).map(request).collect();
        group.bench_function(
            format!("{calls}-call conversation through the replay endpoint"),
            |b| {
                b.iter(|| {
                    let replay = Replay::new(cassette.clone());
                    let endpoint = Endpoint::replay(replay.clone()).start().unwrap();
                    let url = format!("{}/v1/chat/completions", endpoint.url());
                    for body in &bodies {
                        black_box(post(&client, &url, body));
                    }
                    assert!(replay.check().is_ok());
                })
            },
        );
    }

    // One model call: straight to the provider, and through the recorder.
    let (server, _thread) = provider();
    let origin = format!("http://{}", server.server_addr().to_ip().unwrap());
    let body = request(3);
    group.bench_function("model call, straight to the provider", |b| {
        let url = format!("{origin}/v1/chat/completions");
        b.iter(|| black_box(post(&client, &url, &body)))
    });
    let store = Tracer::in_memory(1_000);
    let recorder = Endpoint::record(&store, &origin).unwrap().start().unwrap();
    group.bench_function("model call, through the recorder", |b| {
        let url = format!("{}/v1/chat/completions", recorder.url());
        b.iter(|| black_box(post(&client, &url, &body)))
    });
    group.finish();
    drop(recorder);
    server.unblock();
}

criterion_group!(benches, bench);
criterion_main!(benches);
