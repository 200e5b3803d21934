use tracekit::{traced, Tracer};

struct Llm {
    tracer: Tracer,
}

impl Llm {
    #[traced(stream)]
    fn tokens(&self) -> Vec<&'static str> {
        vec!["a"]
    }

    #[traced(stream)]
    async fn later(&self) -> u8 {
        1
    }
}

fn main() {
    let llm = Llm { tracer: Tracer::noop() };
    llm.tokens();
}
