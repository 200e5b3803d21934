//! A local module called `tracekit` does not capture the generated `::tracekit::` paths.
#![allow(dead_code)]

mod tracekit {
    pub struct Tracer;
    pub mod __private {}
}

struct Agent {
    tracer: ::tracekit::Tracer,
}

impl Agent {
    #[::tracekit::traced(kind = Client, attributes("x" = 1))]
    fn step(&self) -> u8 {
        1
    }
}

fn main() {
    Agent { tracer: ::tracekit::Tracer::noop() }.step();
}
