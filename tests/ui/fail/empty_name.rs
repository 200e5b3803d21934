use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced("")]
    fn step(&self) {}
}

fn main() {
    Agent { tracer: Tracer::noop() }.step();
}
