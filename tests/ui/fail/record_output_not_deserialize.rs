use tracekit::traced;

#[derive(serde::Serialize)]
struct Page {
    text: String,
}

#[traced(tracer = current, record)]
fn fetch(url: &str) -> Page {
    Page { text: url.to_owned() }
}

fn main() {
    let _ = fetch("https://example.com");
}
