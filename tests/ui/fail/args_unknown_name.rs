use tracekit::{traced, Tracer};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    // `query` is not an argument: the name is misspelt.
    #[traced(args(qeury))]
    fn search(&self, query: &str) -> usize {
        query.len()
    }
}

fn main() {
    Agent { tracer: Tracer::noop() }.search("x");
}
