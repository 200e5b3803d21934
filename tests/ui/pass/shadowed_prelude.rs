//! Glob imports that shadow `Result`, `Option`, `Ok`, `Box`, `Tracer`, `Value` and friends do
//! not confuse the generated code.
#![allow(dead_code, non_upper_case_globals)]

mod shadows {
    pub type Result<T> = ::std::result::Result<T, ::std::string::String>;
    pub struct Tracer;
    pub struct Value;
    pub struct Span;
    pub struct Option;
    pub struct Box;
    pub struct Vec;
    pub struct String;
    pub const Ok: u8 = 0;
    pub const Err: u8 = 1;
    pub const Some: u8 = 2;
    pub fn drop() {}
    pub mod std {}
    pub mod core {}
}

use shadows::*;

struct Agent {
    tracer: tracekit::Tracer,
}

impl Agent {
    #[tracekit::traced(attributes("k" = 1), output = "out")]
    fn step(&self) -> Result<u8> {
        ::std::result::Result::Ok(7)
    }

    #[tracekit::traced]
    async fn later(&self) -> Result<u8> {
        ::std::result::Result::Err("no".into())
    }
}

fn main() {
    let agent = Agent { tracer: tracekit::Tracer::in_memory(10) };
    let _ = agent.step();
    let _ = agent.later();
}
