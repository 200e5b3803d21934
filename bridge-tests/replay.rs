//! Replay with a client nobody here wrote: the rig agent of the bridge tests, recorded
//! through tracekit's recording endpoint in front of the scripted OpenAI-compatible
//! endpoint, then replayed with that endpoint stopped. The same answer, the same tool calls
//! and arguments, and `analysis::diff` (what `tracekit diff` prints) finds nothing between
//! the two conversations; a changed prompt fails naming the diverging request. And a
//! streamed completion, recorded and replayed, arrives in the same chunks.

#[path = "endpoint.rs"]
mod endpoint;
#[path = "weather_agent.rs"]
mod weather_agent;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use tracekit::bridge::TracingLayer;
use tracekit::genai::GenAi;
use tracekit::replay::{Body, Cassette, Endpoint, Replay};
use tracekit::{analysis, Trace, TraceFilter, Tracer};
use tracing_subscriber::layer::SubscriberExt;
use weather_agent::WeatherAgent;

/// One turn of the rig agent against `base_url`, traced into `store` (rig's spans through
/// the bridge, content captured).
fn turn(
    store: &Tracer,
    base_url: String,
    conversation: &str,
    input: &str,
) -> Result<String, String> {
    let weather = WeatherAgent::new(store.clone(), base_url);
    let layer = TracingLayer::new(Tracer::noop()).genai(GenAi::new().capture_content(true));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(weather.turn(conversation, input))
            .map_err(|e| e.to_string())
    })
}

fn conversation(store: &Tracer, id: &str) -> Vec<Trace> {
    store.flush().unwrap();
    store
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", id))
        .unwrap()
}

/// Records one turn through the recording endpoint; returns the answer and the address the
/// recorder listened on (replay listens there too, as a user's fixed base URL would).
fn record(store: &Tracer, id: &str) -> (String, std::net::SocketAddr) {
    let upstream = endpoint::Endpoint::start();
    let origin = upstream.url().trim_end_matches("/v1").to_owned();
    let recorder = Endpoint::record(store, &origin)
        .unwrap()
        .conversation(id)
        .start()
        .unwrap();
    let answer = turn(
        store,
        format!("{}/v1", recorder.url()),
        id,
        "Weather in Amsterdam?",
    )
    .expect("the agent answers through the recorder");
    assert_eq!(
        upstream.requests.lock().unwrap().len(),
        2,
        "two chat calls went upstream"
    );
    assert_eq!(recorder.stats().recorded, 2);
    (answer, recorder.addr())
    // The scripted endpoint and the recorder stop here.
}

#[test]
fn a_recorded_rig_conversation_replays_offline_with_the_same_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let store = Tracer::sqlite(dir.path().join("traces.db")).unwrap();
    let (recorded_answer, addr) = record(&store, "conv-recorded");
    let recorded = conversation(&store, "conv-recorded");
    let tree = tracekit::render::tree(&recorded);

    // The exchanges are spans of the conversation, bodies whole.
    let cassette = Cassette::from_store(&store, "conv-recorded").unwrap();
    assert_eq!(cassette.exchanges().len(), 2, "{tree}");
    assert!(!cassette.is_rebuilt());
    let first = &cassette.exchanges()[0];
    assert_eq!(first.title(), "POST /v1/chat/completions");
    assert!(
        first.request_body.contains("Weather in Amsterdam?"),
        "{}",
        first.request_body
    );
    assert!(matches!(&first.response, Body::Whole(b) if b.contains("get_weather")));

    // Replayed with the scripted endpoint gone, at the same base URL.
    let replay = Replay::new(cassette);
    let server = Endpoint::replay(replay.clone())
        .addr(addr.to_string())
        .start()
        .unwrap();
    let answer = turn(
        &store,
        format!("{}/v1", server.url()),
        "conv-replayed",
        "Weather in Amsterdam?",
    )
    .expect("the replayed agent answers");
    assert_eq!(answer, recorded_answer);
    replay.check().unwrap();
    assert_eq!(
        replay.unused(),
        (0, 0),
        "every recorded exchange was asked for"
    );
    assert_eq!(server.stats().replayed, 2);

    // The same tool calls with the same arguments, and no difference at all.
    let replayed = conversation(&store, "conv-replayed");
    let calls = analysis::tool_calls(&recorded);
    assert_eq!(calls.len(), 1, "{tree}");
    assert_eq!(calls, analysis::tool_calls(&replayed));
    let report = analysis::diff(&recorded, &replayed);
    assert!(
        report.is_same(),
        "{report}\nrecorded:\n{tree}\nreplayed:\n{}",
        tracekit::render::tree(&replayed)
    );
}

#[test]
fn a_changed_prompt_fails_naming_the_diverging_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = Tracer::sqlite(dir.path().join("traces.db")).unwrap();
    record(&store, "conv-recorded");
    let replay = Replay::new(Cassette::from_store(&store, "conv-recorded").unwrap());
    let server = Endpoint::replay(replay.clone()).start().unwrap();
    let error = turn(
        &store,
        format!("{}/v1", server.url()),
        "conv-changed",
        "Weather in Paris?",
    )
    .expect_err("nothing was recorded for Paris");
    let divergence = replay.check().expect_err("a divergence");
    assert_eq!(divergence.what, "POST /v1/chat/completions");
    assert_eq!(divergence.position, 1);
    let text = divergence.to_string();
    assert!(text.contains("nearest recorded request is #1"), "{text}");
    assert!(
        text.contains("-") && text.contains("Amsterdam") && text.contains("+"),
        "{text}"
    );
    assert!(text.contains("Paris"), "{text}");
    // The agent saw the 404 (rig shows the status, tracekit's body names the request).
    assert!(error.contains("404") || error.contains("replay"), "{error}");
    assert_eq!(server.stats().diverged, 1);
    // And the diff against the recorded run says where they part.
    let report = analysis::diff(
        &conversation(&store, "conv-recorded"),
        &conversation(&store, "conv-changed"),
    );
    assert!(!report.is_same());
}

/// A raw HTTP/1.1 POST; the response's status, content type and body chunks as sent (the
/// chunked encoding read by hand, so the boundaries are the server's).
fn post_raw(addr: &str, path: &str, body: &str) -> (u16, String, Vec<String>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-test-0123456789abcdefghijkl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (mut content_type, mut chunked, mut length) = (String::new(), false, None);
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.trim().to_owned(),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            "content-length" => length = value.trim().parse::<usize>().ok(),
            _ => {}
        }
    }
    let mut chunks = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            let mut data = vec![0; size + 2];
            reader.read_exact(&mut data).unwrap();
            data.truncate(size);
            chunks.push(String::from_utf8(data).unwrap());
        }
    } else {
        let mut data = vec![0; length.unwrap_or(0)];
        reader.read_exact(&mut data).unwrap();
        chunks.push(String::from_utf8(data).unwrap());
    }
    (status, content_type, chunks)
}

#[test]
fn a_streamed_completion_replays_in_the_same_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Tracer::sqlite(dir.path().join("traces.db")).unwrap();
    let request =
        r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hello?"}]}"#;
    let expected = endpoint::events(&endpoint::answer(&serde_json::from_str(request).unwrap()));
    {
        let upstream = endpoint::Endpoint::start();
        let origin = upstream.url().trim_end_matches("/v1").to_owned();
        let recorder = Endpoint::record(&store, &origin)
            .unwrap()
            .conversation("conv-stream")
            .start()
            .unwrap();
        let (status, content_type, chunks) = post_raw(
            &recorder.addr().to_string(),
            "/v1/chat/completions",
            request,
        );
        assert_eq!((status, content_type.as_str()), (200, "text/event-stream"));
        // Passed on event by event as they came.
        assert_eq!(chunks, expected);
    }
    let cassette = Cassette::from_store(&store, "conv-stream").unwrap();
    assert_eq!(
        cassette.exchanges()[0].response,
        Body::Chunks(expected.clone())
    );
    // No API key was stored, anywhere in the span.
    let spans = conversation(&store, "conv-stream");
    let stored = serde_json::to_string(&tracekit::render::to_json(&spans)).unwrap();
    assert!(!stored.contains("0123456789abcdefghijkl"), "{stored}");

    // Through a cassette file, as a test would commit it.
    let file = dir.path().join("stream.cassette.json");
    cassette.save(&file).unwrap();
    let replay = Replay::new(Cassette::load(&file).unwrap());
    let server = Endpoint::replay(replay.clone()).start().unwrap();
    let (status, content_type, chunks) =
        post_raw(&server.addr().to_string(), "/v1/chat/completions", request);
    assert_eq!((status, content_type.as_str()), (200, "text/event-stream"));
    assert_eq!(chunks, expected, "one HTTP chunk per recorded event");
    replay.check().unwrap();

    // A request nothing recorded matches: 404 with a JSON body naming it.
    let (status, _, body) = post_raw(
        &server.addr().to_string(),
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Bye?"}]}"#,
    );
    assert_eq!(status, 404);
    let body: serde_json::Value = serde_json::from_str(&body.concat()).unwrap();
    assert_eq!(body["error"]["type"], "replay_divergence");
    assert_eq!(body["error"]["request"], "POST /v1/chat/completions");
    assert!(
        body["error"]["diff"]
            .as_str()
            .unwrap()
            .contains("+      \"content\": \"Bye?\""),
        "{body}"
    );
}

#[test]
fn a_conversation_traced_without_recording_replays_from_its_model_call_spans() {
    let dir = tempfile::tempdir().unwrap();
    let store = Tracer::sqlite(dir.path().join("traces.db")).unwrap();
    // Traced as usual (content captured), straight to the provider: no recording endpoint.
    let answer = {
        let upstream = endpoint::Endpoint::start();
        turn(
            &store,
            upstream.url(),
            "conv-traced",
            "Weather in Amsterdam?",
        )
        .unwrap()
    };
    let cassette = Cassette::from_store(&store, "conv-traced").unwrap();
    assert!(cassette.is_rebuilt());
    assert_eq!(cassette.exchanges().len(), 2);
    let replay = Replay::new(cassette);
    let server = Endpoint::replay(replay.clone()).start().unwrap();
    let again = turn(
        &store,
        format!("{}/v1", server.url()),
        "conv-rebuilt",
        "Weather in Amsterdam?",
    )
    .expect("the rebuilt answers drive the agent");
    assert_eq!(again, answer);
    replay.check().unwrap();
    let (traced, rebuilt) = (
        conversation(&store, "conv-traced"),
        conversation(&store, "conv-rebuilt"),
    );
    assert_eq!(
        analysis::tool_calls(&traced),
        analysis::tool_calls(&rebuilt)
    );
    assert_eq!(
        analysis::summary(&traced).tokens.input,
        analysis::summary(&rebuilt).tokens.input
    );
}

#[test]
fn a_provider_that_does_not_answer_is_a_502_that_says_so_and_nothing_is_recorded() {
    let store = Tracer::in_memory(100);
    // Port 9 (discard): nothing listens there.
    let recorder = Endpoint::record(&store, "http://127.0.0.1:9")
        .unwrap()
        .conversation("conv-down")
        .start()
        .unwrap();
    let (status, _, body) = post_raw(&recorder.addr().to_string(), "/v1/chat/completions", "{}");
    assert_eq!(status, 502);
    let body: serde_json::Value = serde_json::from_str(&body.concat()).unwrap();
    assert_eq!(body["error"]["type"], "upstream_unreachable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("http://127.0.0.1:9"),
        "{body}"
    );
    let stats = recorder.stats();
    assert_eq!((stats.recorded, stats.upstream_failures), (0, 1));
    // The attempt is a failed span, with no recording on it.
    let spans = conversation(&store, "conv-down");
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span_status, tracekit::SpanStatus::Error);
    assert!(matches!(
        Cassette::from_store(&store, "conv-down"),
        Err(tracekit::replay::ReplayError::NothingRecorded { .. })
    ));
}

#[test]
fn re_recording_sends_what_is_missing_upstream_and_keeps_it() {
    let store = Tracer::in_memory(100);
    let upstream = endpoint::Endpoint::start();
    let origin = upstream.url().trim_end_matches("/v1").to_owned();
    let replay = Replay::new(Cassette::new()).record_missing(true);
    let server = Endpoint::replay(replay.clone())
        .tracer(&store)
        .conversation("conv-rerecorded")
        .upstream(&origin)
        .unwrap()
        .start()
        .unwrap();
    let request = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"New?"}]}"#;
    let (status, _, body) = post_raw(&server.addr().to_string(), "/v1/chat/completions", request);
    assert_eq!(status, 200);
    assert!(body.concat().contains("chat.completion"), "{body:?}");
    assert_eq!(upstream.requests.lock().unwrap().len(), 1);
    replay.check().unwrap();
    let grown = replay.recorded();
    assert_eq!(grown.exchanges().len(), 1);
    assert_eq!(grown.exchanges()[0].request_body, request);
    assert_eq!(
        conversation(&store, "conv-rerecorded").len(),
        1,
        "stored as a span too"
    );
    // Without record_missing, an upstream is refused at start.
    let refused = Endpoint::replay(Replay::new(Cassette::new()))
        .upstream(&origin)
        .unwrap()
        .start()
        .unwrap_err();
    assert!(
        refused.to_string().contains("record_missing(true)"),
        "{refused}"
    );
}
