//! W3C Trace Context and Baggage across a process boundary: inject on one tracer, extract
//! and continue on another, through both carriers, with hostile input.

mod common;

use std::collections::HashMap;

use proptest::prelude::*;
use tracekit::propagation::{self, extract, inject, Propagator, RemoteContext};
use tracekit::{traced, SpanKind, Tracer, Value};

use common::{all, named};

const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_conversation_crosses_into_another_tracer() {
    let agent = Tracer::in_memory(10);
    let turn = agent
        .span("turn")
        .inheritable_attribute("ai.conversation.id", "conv 1, ünïcode; \"quoted\"")
        .inheritable_attribute("ai.agent.name", "planner")
        .inheritable_attribute(
            "ai.auth.context",
            Value::from(serde_json::json!({"principal_id": "u1"})),
        )
        .inheritable_attribute("other", "stays home")
        .start();
    let call = agent.trace("call-tool");
    let mut carrier = HashMap::new();
    inject(&agent.current_trace(), &mut carrier);
    assert_eq!(
        carrier["traceparent"],
        format!(
            "00-{}-{}-01",
            call.trace_id().unwrap(),
            call.span_id().unwrap()
        )
    );
    assert!(!carrier.contains_key("tracestate"));
    assert!(
        !carrier["baggage"].contains("auth"),
        "{}",
        carrier["baggage"]
    );

    let service = Tracer::in_memory(10);
    {
        let remote = extract(&carrier).unwrap();
        assert_eq!(remote.trace_id(), turn.trace_id().unwrap());
        assert!(remote.is_sampled());
        let _handler = service
            .span("handle")
            .kind(SpanKind::Server)
            .remote(remote)
            .start();
        let _inner = service.trace("search");
    }
    for span in all(&service) {
        assert_eq!(span.trace_id, turn.trace_id().unwrap());
        assert_eq!(
            span.attributes.get("ai.conversation.id").unwrap(),
            "conv 1, ünïcode; \"quoted\""
        );
        assert_eq!(span.attributes.get("ai.agent.name").unwrap(), "planner");
        assert!(span.attributes.get("ai.auth.context").is_none());
        assert!(span.attributes.get("other").is_none());
    }
    assert_eq!(named(&service, "handle").parent_span_id, call.span_id());
    assert_eq!(
        named(&service, "search").parent_span_id,
        Some(named(&service, "handle").span_id)
    );
}

#[test]
fn auth_context_crosses_only_when_allowlisted_by_name() {
    let tracer = Tracer::in_memory(1);
    let span = tracer
        .span("s")
        .inheritable_attribute("ai.auth.context", "secret")
        .start();
    for propagator in [Propagator::default(), Propagator::default().allow("ai.*")] {
        let mut carrier = HashMap::new();
        propagator.inject(&span, &mut carrier);
        assert!(!carrier.contains_key("baggage"));
    }
    let named = Propagator::default().allow("ai.auth.context");
    let mut carrier = HashMap::new();
    named.inject(&span, &mut carrier);
    assert_eq!(carrier["baggage"], "ai.auth.context=secret");
    // And on the way in: dropped by default, restored when allowed.
    assert!(extract(&carrier).unwrap().baggage().is_empty());
    assert_eq!(
        named.extract(&carrier).unwrap().baggage()[0].value,
        "secret"
    );
}

#[test]
fn incoming_auth_context_cannot_be_spoofed() {
    let carrier = headers(&[
        ("traceparent", PARENT),
        (
            "baggage",
            "ai.auth.context=%7B%22principal_id%22%3A%22admin%22%7D,ai.conversation.id=c",
        ),
    ]);
    let service = Tracer::in_memory(1);
    drop(service.span("h").remote(extract(&carrier)).start());
    let span = named(&service, "h");
    assert!(span.attributes.get("ai.auth.context").is_none());
    assert_eq!(span.attributes.get("ai.conversation.id").unwrap(), "c");
}

#[test]
fn trace_state_passes_through_to_outgoing_calls() {
    let carrier = headers(&[
        ("Traceparent", PARENT),
        (
            "tracestate",
            "congo=t61rcWkgMzE, BAD KEY=1,rojo=00f067aa0ba902b7",
        ),
    ]);
    let service = Tracer::in_memory(10);
    let remote = extract(&carrier).unwrap();
    assert_eq!(
        remote.trace_state(),
        Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    );
    let _handler = service.span("h").remote(remote).start();
    let _child = service.trace("outgoing");
    let mut out = HashMap::new();
    inject(&service.current_trace(), &mut out);
    assert_eq!(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    assert!(out["traceparent"].starts_with("00-0af7651916cd43dd8448eb211c80319c-"));
}

#[test]
fn an_invalid_traceparent_starts_a_new_trace() {
    for bad in [
        "",
        "garbage",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
    ] {
        let carrier = headers(&[("traceparent", bad), ("baggage", "ai.conversation.id=c")]);
        assert_eq!(extract(&carrier), None, "{bad:?}");
        let tracer = Tracer::in_memory(1);
        drop(tracer.span("h").remote(extract(&carrier)).start());
        let span = named(&tracer, "h");
        assert_eq!(span.parent_span_id, None);
        assert!(span.attributes.get("ai.conversation.id").is_none());
    }
    // Two traceparent headers are invalid too.
    let two = headers(&[("traceparent", PARENT), ("TRACEPARENT", PARENT)]);
    assert_eq!(extract(&two), None);
    assert_eq!(extract(&HashMap::<String, String>::new()), None);
}

#[test]
fn the_sampled_flag_is_read_and_sent() {
    let unsampled = headers(&[("traceparent", &PARENT.replace("-01", "-00"))]);
    let remote = extract(&unsampled).unwrap();
    assert!(!remote.is_sampled());
    assert_eq!(remote.traceparent(), PARENT.replace("-01", "-00"));
    // A tracer without head sampling records every span it starts, so its own calls say so.
    let tracer = Tracer::in_memory(1);
    let span = tracer.span("h").remote(remote).start();
    let mut out = HashMap::new();
    inject(&span, &mut out);
    assert!(out["traceparent"].ends_with("-01"));
}

#[test]
fn hostile_baggage_is_bounded_and_the_good_entries_survive() {
    let mut members = vec!["ai.conversation.id=good".to_string()];
    members.extend((0..10_000).map(|i| format!("k{i}=v")));
    let huge = members.join(",");
    let carrier = headers(&[("traceparent", PARENT), ("baggage", &huge)]);
    let remote = Propagator::default().allow("k*").extract(&carrier).unwrap();
    assert_eq!(remote.baggage().len(), propagation::MAX_BAGGAGE_ENTRIES);
    assert_eq!(remote.baggage()[0].value, "good");

    let carrier = headers(&[
        ("traceparent", PARENT),
        (
            "baggage",
            "=,;;,ai.conversation.id=\u{0}x, ai.agent.name = a%20b ;p=1;flag,,ai.subcontext.id=%G1",
        ),
    ]);
    let remote = extract(&carrier).unwrap();
    let kept: Vec<_> = remote
        .baggage()
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str()))
        .collect();
    assert_eq!(kept, [("ai.agent.name", "a b")]);
    assert_eq!(remote.baggage()[0].properties, ["p=1", "flag"]);
}

#[test]
fn outgoing_baggage_never_exceeds_the_limits() {
    let tracer = Tracer::in_memory(1);
    let mut builder = tracer.span("s");
    for i in 0..100 {
        builder = builder.inheritable_attribute(format!("app.k{i}"), "x".repeat(200));
    }
    let span = builder.start();
    let mut out = HashMap::new();
    Propagator::default().allow("app.*").inject(&span, &mut out);
    let baggage = &out["baggage"];
    assert!(baggage.len() <= propagation::MAX_BAGGAGE_BYTES);
    assert!(
        baggage.split(',').all(|m| m.ends_with(&"x".repeat(200))),
        "no partial member"
    );
}

#[test]
fn a_no_op_span_writes_nothing() {
    let mut out = HashMap::new();
    inject(&Tracer::noop().current_trace(), &mut out);
    assert!(out.is_empty());
}

#[test]
fn a_remote_context_made_by_hand() {
    let ctx = RemoteContext::new(
        "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap(),
        "00f067aa0ba902b7".parse().unwrap(),
    )
    .with_baggage("ai.subcontext.id", "sub");
    let tracer = Tracer::in_memory(1);
    drop(tracer.span("h").remote(ctx).start());
    let span = named(&tracer, "h");
    assert_eq!(
        span.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.attributes.get("ai.subcontext.id").unwrap(), "sub");
}

#[test]
fn http_header_maps_carry_it_too() {
    let tracer = Tracer::in_memory(1);
    let span = tracer
        .span("s")
        .inheritable_attribute("ai.conversation.id", "c-9")
        .start();
    let mut map = http::HeaderMap::new();
    inject(&span, &mut map);
    assert_eq!(map["baggage"], "ai.conversation.id=c-9");
    map.append("baggage", "ai.agent.name=second-header".parse().unwrap());
    map.append(
        "baggage",
        http::HeaderValue::from_bytes(b"ai.subcontext.id=\xff").unwrap(),
    );
    let remote = extract(&map).unwrap();
    assert_eq!(remote.span_id(), span.span_id().unwrap());
    let keys: Vec<_> = remote.baggage().iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["ai.conversation.id", "ai.agent.name"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_headers_never_panic(parent in ".{0,80}", state in ".{0,200}", bag in ".{0,400}") {
        let carrier = headers(&[("traceparent", &parent), ("tracestate", &state), ("baggage", &bag)]);
        let _ = Propagator::default().allow("*").extract(&carrier);
    }

    #[test]
    fn baggage_values_round_trip(values in proptest::collection::vec(".{0,40}", 1..8)) {
        let tracer = Tracer::in_memory(1);
        let mut builder = tracer.span("s");
        for (i, v) in values.iter().enumerate() {
            builder = builder.inheritable_attribute(format!("k{i}"), v.as_str());
        }
        let span = builder.start();
        let propagator = Propagator::none().allow("k*");
        let mut carrier = HashMap::new();
        propagator.inject(&span, &mut carrier);
        let remote = propagator.extract(&carrier).unwrap();
        let back: Vec<&str> = remote.baggage().iter().map(|e| e.value.as_str()).collect();
        prop_assert_eq!(back, values.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

struct Service {
    tracer: Tracer,
}

impl Service {
    #[traced(kind = Server, parent = extract(headers), inheritable("ai.agent.name" = "tool-service"))]
    fn handle(&self, headers: &HashMap<String, String>) -> usize {
        let _step = self.tracer.trace("step");
        headers.len()
    }

    #[traced(kind = Server, parent = remote)]
    async fn handle_async(&self, remote: &Option<RemoteContext>) {
        tokio::task::yield_now().await;
        drop(self.tracer.trace("async-step"));
    }
}

#[test]
fn traced_handlers_continue_the_callers_trace() {
    let carrier = headers(&[
        ("traceparent", PARENT),
        ("baggage", "ai.conversation.id=c-5,ai.agent.name=caller"),
    ]);
    let service = Service {
        tracer: Tracer::in_memory(10),
    };
    service.handle(&carrier);
    let handle = named(&service.tracer, "handle");
    assert_eq!(handle.span_kind, SpanKind::Server);
    assert_eq!(
        handle.trace_id.to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(
        handle.parent_span_id.unwrap().to_string(),
        "b7ad6b7169203331"
    );
    let step = named(&service.tracer, "step");
    assert_eq!(step.attributes.get("ai.conversation.id").unwrap(), "c-5");
    assert_eq!(
        step.attributes.get("ai.agent.name").unwrap(),
        "tool-service",
        "the handler's own wins"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(service.handle_async(&extract(&carrier)));
    let step = named(&service.tracer, "async-step");
    assert_eq!(step.trace_id, handle.trace_id);
    assert_eq!(
        step.parent_span_id,
        Some(named(&service.tracer, "handle_async").span_id)
    );
    // No context: a trace of its own.
    runtime.block_on(service.handle_async(&None));
    assert_eq!(
        all(&service.tracer)
            .iter()
            .filter(|t| t.parent_span_id.is_none())
            .count(),
        1
    );
}
