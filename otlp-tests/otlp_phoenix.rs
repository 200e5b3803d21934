use tracekit::{OtlpConfig, SpanKind, Tracer, Value};
#[test]
fn probe() {
    let tracer = Tracer::otlp(
        OtlpConfig::new("http://127.0.0.1:6006")
            .resource_attribute("openinference.project.name", "probe1")
            .service_name("svc"),
    )
    .unwrap();
    {
        let _p = tracer
            .span("parent")
            .kind(SpanKind::Server)
            .attribute(
                "nested",
                Value::from(serde_json::json!({"a": [1, 2], "b": {"c": true}})),
            )
            .start();
        let c = tracer.span("child").start();
        c.add_event("ev", [("x", 1)]);
        c.set_status(tracekit::SpanStatus::Error);
        c.add_attribute("exception.message", "boom");
    }
    tracer.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
}
