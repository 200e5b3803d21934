//! Answers from traces: what the agent did, where the time went, what it cost.
//!
//! [`summary`] counts LLM calls, tokens by kind, cost (per model), tool calls and errors, and
//! splits the wall time into LLM, tool and own time; [`critical_path`] finds the chain of
//! spans that determined the end-to-end time, with each span's self time. Both take any set
//! of spans (many traces, a conversation, spans from several processes), read the
//! conventions the [`genai`](crate::genai) helpers write (any one of them), and never
//! panic: orphans count as roots, unended snapshots end when taken, clock skew is clamped.
//! [`list`] pages through a store's traces with each one's summary; [`tool_calls`] lists the
//! tools an agent called; [`diff`] says what changed between two runs.

mod critical_path;
mod diff;
pub(crate) mod forest;
mod listing;
mod summary;
mod tool_calls;

pub use critical_path::{critical_path, CriticalPath, Step};
pub use diff::{
    diff, diff_with, Change, DiffOptions, KindTotals, SpanChange, Tolerances, TraceDiff,
};
pub use listing::{list, TraceSummary};
pub(crate) use summary::{cost, role, tokens, Role};
pub use summary::{summary, ModelSummary, Summary, Tokens};
pub use tool_calls::{tool_calls, ToolCall};
