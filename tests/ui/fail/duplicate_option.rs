use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced(kind = Client, kind = Server)]
    fn step(&self) {}
}

fn main() {
    Agent { tracer: Tracer::noop() }.step();
}
