use std::collections::HashMap;

use tracekit::{traced, Tracer};

struct Service {
    tracer: Tracer,
}

impl Service {
    // The headers themselves, not the context read from them.
    #[traced(kind = Server, parent = headers)]
    fn handle(&self, headers: HashMap<String, String>) {
        let _ = headers;
    }
}

fn main() {
    Service { tracer: Tracer::noop() }.handle(HashMap::new());
}
