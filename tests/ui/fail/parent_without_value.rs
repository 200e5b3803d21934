use tracekit::{traced, Tracer};

struct Service {
    tracer: Tracer,
}

impl Service {
    #[traced(parent)]
    fn handle(&self) {}
}

fn main() {
    Service { tracer: Tracer::noop() }.handle();
}
