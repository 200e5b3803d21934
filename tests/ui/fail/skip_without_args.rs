use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    #[traced(skip(api_key))]
    fn call(&self, api_key: &str) -> usize {
        api_key.len()
    }
}

fn main() {
    Agent { tracer: Tracer::noop() }.call("x");
}
