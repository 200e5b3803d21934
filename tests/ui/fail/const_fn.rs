use tracekit::{traced, Tracer};

#[traced(tracer = current)]
const fn answer() -> u8 {
    42
}

fn main() {
    let _ = Tracer::noop();
    answer();
}
