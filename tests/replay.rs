//! `#[traced(record)]`: tools that call a network service, recorded once against a real
//! service on 127.0.0.1, then replayed with that service stopped — sync and async, with the
//! store, a cassette file, divergences and re-recording.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tracekit::replay::{attributes, Cassette, Replay};
use tracekit::{traced, SpanStatus, Trace, TraceFilter, Tracer};

/// A weather service: `GET /CITY` answers `sunny in CITY`; counts what it served.
struct Service {
    addr: String,
    served: Arc<AtomicUsize>,
}

impl Service {
    fn start() -> Service {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let city = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/');
                let body = format!("sunny in {city}");
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Service { addr, served }
    }
}

/// A plain HTTP GET (the network call a replay must not make).
fn get(addr: &str, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    write!(stream, "GET /{path} HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stream, &mut text).map_err(|e| e.to_string())?;
    Ok(text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}

struct Agent {
    tracer: Tracer,
    service: String,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Forecast {
    city: String,
    days: Vec<String>,
}

impl Agent {
    #[traced(kind = Client, record, attributes("ai.trace.type" = "tool-invocation"))]
    fn get_weather(&self, city: &str) -> Result<String, String> {
        get(&self.service, city)
    }

    #[traced(kind = Client, record, skip(verbose))]
    async fn get_forecast(
        &self,
        city: String,
        days: u32,
        verbose: bool,
    ) -> Result<Forecast, String> {
        let _ = verbose;
        let mut out = Vec::new();
        for day in 0..days {
            out.push(get(&self.service, &format!("{city}-{day}"))?);
        }
        Ok(Forecast { city, days: out })
    }

    #[traced(kind = Server, inheritable("ai.conversation.id" = conversation))]
    async fn turn(&self, conversation: &str, city: &str) -> String {
        let now = self.get_weather(city).unwrap_or_else(|e| e);
        let forecast = self.get_forecast(city.to_owned(), 2, true).await;
        format!("{now}; then {:?}", forecast.map(|f| f.days))
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// One recorded turn in `conv-rec`; the store, and the turn's answer.
fn recorded(service: &Service) -> (Tracer, String) {
    let store = Tracer::in_memory(1_000);
    store.set_recording(true);
    let agent = Agent {
        tracer: store.clone(),
        service: service.addr.clone(),
    };
    let answer = block_on(agent.turn("conv-rec", "Oslo"));
    assert_eq!(
        service.served.load(Ordering::SeqCst),
        3,
        "one weather, two forecast days"
    );
    (store, answer)
}

fn conversation(tracer: &Tracer, id: &str) -> Vec<Trace> {
    tracer
        .get_traces(&TraceFilter::new().attribute("ai.conversation.id", id))
        .unwrap()
}

#[test]
fn recorded_tools_replay_without_the_service() {
    let service = Service::start();
    let (store, answer) = recorded(&service);
    assert_eq!(
        answer,
        r#"sunny in Oslo; then Ok(["sunny in Oslo-0", "sunny in Oslo-1"])"#
    );
    let spans = conversation(&store, "conv-rec");
    let weather = spans.iter().find(|s| s.span_name == "get_weather").unwrap();
    assert_eq!(
        weather.attributes.get(attributes::CALL_ARGS),
        Some(&serde_json::json!({"city": "Oslo"}).into())
    );
    assert_eq!(
        weather.attributes.get(attributes::CALL_OUTPUT),
        Some(&serde_json::json!({"Ok": "sunny in Oslo"}).into())
    );

    // The cassette, through its file, as a test would commit it.
    let cassette = Cassette::from_store(&store, "conv-rec").unwrap();
    assert_eq!(cassette.calls().len(), 2);
    assert_eq!(
        cassette.calls()[1].args,
        serde_json::json!({"city": "Oslo", "days": 2}),
        "`skip` left `verbose` out"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("turn.cassette.json");
    cassette.save(&file).unwrap();

    // Replayed against an address where nothing listens: the bodies do not run.
    let replay = Replay::new(Cassette::load(&file).unwrap());
    let tracer = Tracer::in_memory(1_000);
    let agent = Agent {
        tracer: tracer.clone(),
        service: "127.0.0.1:9".into(),
    };
    let again = block_on(replay.scope(agent.turn("conv-replay", "Oslo")));
    assert_eq!(again, answer);
    replay.check().unwrap();
    assert_eq!(replay.unused(), (0, 0));
    assert_eq!(
        service.served.load(Ordering::SeqCst),
        3,
        "the service was not called again"
    );
    let replayed = conversation(&tracer, "conv-replay");
    for name in ["get_weather", "get_forecast"] {
        let span = replayed.iter().find(|s| s.span_name == name).unwrap();
        assert_eq!(
            span.attributes.get(attributes::REPLAYED),
            Some(&true.into()),
            "{name}"
        );
    }
    // The replayed run is the recorded one.
    let report = tracekit::analysis::diff(&spans, &replayed);
    assert!(report.is_same(), "{report}");
}

#[test]
fn without_recording_nothing_is_kept_and_without_a_replay_the_body_runs() {
    let service = Service::start();
    let tracer = Tracer::in_memory(100);
    assert!(!tracer.recording());
    let agent = Agent {
        tracer: tracer.clone(),
        service: service.addr.clone(),
    };
    assert_eq!(agent.get_weather("Rome"), Ok("sunny in Rome".into()));
    let spans = tracer.get_traces(&Default::default()).unwrap();
    assert!(spans[0]
        .attributes
        .keys()
        .all(|k| !k.starts_with("tracekit.replay.")));
    assert!(matches!(
        Cassette::from_store(&tracer, &spans[0].trace_id.to_string()),
        Err(tracekit::replay::ReplayError::NothingRecorded { .. })
    ));
    // A no-op tracer records nothing either, and replays all the same.
    let noop = Agent {
        tracer: Tracer::noop(),
        service: service.addr.clone(),
    };
    assert_eq!(noop.get_weather("Rome"), Ok("sunny in Rome".into()));
}

#[test]
fn a_call_nothing_recorded_matches_fails_naming_it_and_the_nearest_one() {
    let service = Service::start();
    let (store, _) = recorded(&service);
    let replay = Replay::new(Cassette::from_store(&store, "conv-rec").unwrap());
    let tracer = Tracer::in_memory(100);
    let agent = Agent {
        tracer: tracer.clone(),
        service: "127.0.0.1:9".into(),
    };
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        replay.run(|| agent.get_weather("Lima"))
    }))
    .expect_err("no recording for Lima");
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("replay diverged at call 1 (get_weather)"),
        "{message}"
    );
    assert!(
        message.contains("-  \"city\": \"Oslo\"\n+  \"city\": \"Lima\""),
        "{message}"
    );
    assert_eq!(replay.check().unwrap_err().what, "get_weather");
    // The span says so: a panic, recorded.
    let span = &tracer.get_traces(&Default::default()).unwrap()[0];
    assert_eq!(span.span_status, SpanStatus::Error);

    // Re-recording instead: the body runs and the new call joins the cassette.
    let rerecord =
        Replay::new(Cassette::from_store(&store, "conv-rec").unwrap()).record_missing(true);
    let live = Agent {
        tracer,
        service: service.addr.clone(),
    };
    assert_eq!(
        rerecord.run(|| live.get_weather("Lima")),
        Ok("sunny in Lima".into())
    );
    rerecord.check().unwrap();
    let grown = rerecord.recorded();
    assert_eq!(grown.calls().len(), 3);
    assert_eq!(grown.calls()[2].args, serde_json::json!({"city": "Lima"}));
}

#[traced(tracer = current, record)]
fn page(size: usize) -> String {
    "x".repeat(size)
}

#[test]
fn a_large_recording_is_kept_whole_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Tracer::sqlite(dir.path().join("traces.db")).unwrap();
    store.set_recording(true);
    {
        let _turn = store.trace("turn");
        page(300_000);
    }
    store.flush().unwrap();
    let cassette = Cassette::from_spans(&store.get_traces(&Default::default()).unwrap()).unwrap();
    let output = cassette.calls()[0].output.as_str().unwrap();
    assert_eq!(output.len(), 300_000, "no 16 KiB cut for recordings");
}
