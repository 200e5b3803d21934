//! The generated code adds no warnings, even under `deny(warnings, missing_docs)`.
#![deny(warnings, missing_docs, unused, rust_2018_idioms, unreachable_pub)]

use tracekit::{traced, Tracer};

/// An agent.
pub struct Agent {
    /// Its tracer.
    pub tracer: Tracer,
}

impl Agent {
    /// One turn.
    #[traced(kind = Server, inheritable("ai.conversation.id" = id), output = "ai.agent.response")]
    pub fn converse(&self, id: &str) -> Result<String, std::io::Error> {
        Ok(id.to_string())
    }

    /// An async call.
    #[traced("llm-invocation", kind = Client, attributes("ai.llm.request.model.id" = "m"))]
    pub async fn call(&self, prompt: String) -> Option<String> {
        Some(prompt)
    }

    /// Diverges.
    #[traced]
    pub async fn never_returns(&self) -> u8 {
        panic!("always")
    }

    /// Unit return.
    #[traced]
    pub fn unit(&self) {}
}

/// A free function.
#[traced(tracer = current)]
pub fn helper() -> u8 {
    1
}

fn main() {
    let agent = Agent { tracer: Tracer::noop() };
    let _ = agent.converse("c");
    let _ = agent.call(String::new());
    let _ = agent.never_returns();
    agent.unit();
    helper();
}
