#![deny(unused_must_use)]

use tracekit::{traced, Tracer};

#[traced(tracer = tracer)]
#[must_use = "the answer matters"]
fn answer(tracer: &Tracer) -> u8 {
    42
}

fn main() {
    answer(&Tracer::noop());
}
