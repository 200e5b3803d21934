//! Testing agents with their traces: a stable text form for snapshot tests, and assertions
//! whose failures print the tree.
//!
//! An agent's behaviour is its trace: which tools it called, in which order, with which
//! arguments, how many LLM calls and tokens it took, where it failed. Run the agent against
//! [`Tracer::in_memory`](crate::Tracer::in_memory) in a test, then:
//!
//! ```
//! use tracekit::testing::{expect, snapshot};
//! use tracekit::genai::GenAi;
//!
//! let tracer = tracekit::Tracer::in_memory(100);
//! let genai = GenAi::new();
//! {
//!     let _turn = genai.agent_turn(&tracer, "weather", "conv-1").start();
//!     drop(genai.chat(&tracer, "openai", "gpt-4o").start());
//!     drop(genai.execute_tool(&tracer, "get_weather", None).start());
//! }
//! let spans = tracer.get_traces(&Default::default()).unwrap();
//!
//! expect(&spans)
//!     .no_failed_spans()
//!     .all_carry("ai.conversation.id")
//!     .tool_sequence(&["get_weather"])
//!     .llm_call_count(1)
//!     .child_of("execute_tool get_weather", "invoke_agent weather");
//!
//! // With insta (a dev-dependency): insta::assert_snapshot!(snapshot(&spans));
//! let text = snapshot(&spans);
//! assert!(text.starts_with("invoke_agent weather (SERVER)"));
//! assert!(text.contains("ai.conversation.id: <id-1>"), "{text}"); // ids are numbered, not printed
//! ```
//!
//! [`snapshot`] writes no ids, timestamps or durations (ids that attributes carry become
//! `<id-1>`, `<id-2>`, … in order of appearance), so two runs of the same agent give the same
//! text; [`Snapshot`] chooses which attributes appear and which are redacted. It is plain
//! text, so `insta::assert_snapshot!` (or any golden-file check) works with it. To compare
//! two runs span by span, see [`analysis::diff`](crate::analysis::diff) and `tracekit diff`.

mod expect;
mod snapshot;

pub use expect::{expect, Expect};
pub use snapshot::{snapshot, Snapshot};
