use tracekit::Tracer;

async fn fetch() -> u8 {
    1
}

fn main() {
    let tracer = Tracer::in_memory(10);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        tokio::spawn(async move {
            let span = tracer.trace("held");
            let n = fetch().await;
            drop(span);
            n
        })
        .await
        .unwrap();
    });
}
