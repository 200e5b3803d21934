use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced(output = "ai.tool.output")]
    fn step(&self) {}
}

fn main() {
    Agent { tracer: Tracer::noop() }.step();
}
