use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

struct Opaque;

impl Agent {
    #[traced(args)]
    fn step(&self, input: Opaque) {
        let _ = input;
    }
}

fn main() {
    Agent { tracer: Tracer::noop() }.step(Opaque);
}
