use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced(attributes("a" = 1, "a" = 2))]
    fn step(&self) {}
}

fn main() {
    Agent { tracer: Tracer::noop() }.step();
}
