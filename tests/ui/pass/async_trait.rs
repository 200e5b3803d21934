//! `#[async_trait]` methods and `async fn` in traits.
use tracekit::{traced, Tracer};

#[async_trait::async_trait]
trait Store {
    async fn load(&self, key: &str) -> Result<String, std::io::Error>;
    async fn count(&self) -> usize;
}

struct Memory {
    tracer: Tracer,
}

#[async_trait::async_trait]
impl Store for Memory {
    #[traced(kind = Client, attributes("key" = key), output = "value")]
    async fn load(&self, key: &str) -> Result<String, std::io::Error> {
        Ok(key.to_string())
    }

    #[traced]
    async fn count(&self) -> usize {
        0
    }
}

trait Native {
    fn tracer(&self) -> &Tracer;

    #[traced(tracer = self.tracer())]
    async fn default_method(&self) -> u8 {
        1
    }
}

impl Native for Memory {
    fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

fn main() {
    let m = Memory { tracer: Tracer::noop() };
    let _ = m.load("k");
    let _ = m.count();
    let _ = m.default_method();
}
