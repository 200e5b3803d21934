use tracekit::traced;

#[traced(tracer = current, record)]
fn numbers(n: u8) -> impl Iterator<Item = u8> {
    0..n
}

fn main() {
    let _ = numbers(3);
}
