use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

#[traced]
impl Agent {
    fn step(&self) {}
}

fn main() {
    Agent { tracer: Tracer::noop() }.step();
}
