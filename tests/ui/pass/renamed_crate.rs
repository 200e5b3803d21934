//! `crate = path` for a renamed dependency.
extern crate tracekit as tk;

struct Agent {
    tracer: tk::Tracer,
}

impl Agent {
    #[tk::traced(crate = tk, kind = Client, attributes("a" = 1), output = "o")]
    fn step(&self) -> u8 {
        1
    }

    #[tk::traced(crate = ::tk)]
    async fn later(&self) {}
}

fn main() {
    let a = Agent { tracer: tk::Tracer::noop() };
    a.step();
    let _ = a.later();
}
