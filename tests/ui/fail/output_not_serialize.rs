use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

struct Opaque;

impl Agent {
    #[traced(output = "ai.tool.output")]
    fn step(&self) -> Result<Opaque, std::io::Error> {
        Ok(Opaque)
    }
}

fn main() {
    let _ = Agent { tracer: Tracer::noop() }.step();
}
