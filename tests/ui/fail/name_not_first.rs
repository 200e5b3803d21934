use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced(kind = Client, "step")]
    fn step(&self) {}
}

fn main() {
    Agent { tracer: Tracer::noop() }.step();
}
