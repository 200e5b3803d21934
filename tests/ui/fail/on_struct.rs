use tracekit::{traced, Tracer};

#[traced]
struct Agent {
    tracer: Tracer,
}

fn main() {}
