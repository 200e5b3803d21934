use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

const KEY: &str = "ai.tool.input";

impl Agent {
    #[traced(attributes(KEY = 1))]
    fn step(&self) {}
}

fn main() {
    Agent { tracer: Tracer::noop() }.step();
}
