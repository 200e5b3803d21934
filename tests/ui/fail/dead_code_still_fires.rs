#![deny(dead_code)]

use tracekit::{traced, Tracer};

#[traced(tracer = tracer)]
fn never_called(tracer: &Tracer) {}

fn main() {}
