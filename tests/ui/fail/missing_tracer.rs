use tracekit::traced;

#[traced]
fn search(query: &str) -> usize {
    query.len()
}

fn main() {
    search("x");
}
