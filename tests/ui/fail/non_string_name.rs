use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

const NAME: &str = "step";

impl Agent {
    #[traced(name = 42)]
    fn step(&self) {}

    #[traced(name = NAME)]
    fn other(&self) {}
}

fn main() {
    Agent { tracer: Tracer::noop() }.step();
}
