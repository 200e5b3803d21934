//! The reference's human-readable rules, in one place: which attributes the format reads,
//! when it shows them, and in what colour. Everything else in `human_readable` is layout.
//!
//! | Part      | Rule                                                                         |
//! |-----------|------------------------------------------------------------------------------|
//! | header    | agent: the first truthy of [`AGENT_NAME`] (span attribute, then resource), else [`MISSING_AGENT`] |
//! | header    | the kind is red when any of [`FAILURE_KEYS`] is present                      |
//! | summary   | [`SUMMARY_KEYS`], in order, when present, as `key=value`                     |
//! | summary   | [`AUTH_CONTEXT`] shows only its [`PRINCIPAL_ID`], else [`UNKNOWN_PRINCIPAL`] |
//! | summary   | strings and JSON are cut to one line of [`SUMMARY_WIDTH`] characters         |
//! | details   | an `llm-invocation` first shows the last of [`LLM_MESSAGES`]' `content`      |
//! | details   | then the lines of [`DETAILS`] for the span's [`TRACE_TYPE`]                  |

/// The attribute that picks the detail lines, and is the first summary key.
pub(super) const TRACE_TYPE: &str = "ai.trace.type";

/// Where the agent's name is looked up: the span's attribute, then the resource's.
pub(super) const AGENT_NAME: (&str, &str) = ("ai.agent.name", "service.name");

/// Shown when neither [`AGENT_NAME`] key holds a truthy value.
pub(super) const MISSING_AGENT: &str = "<missing service.name>";

/// Any of these present marks the span as failed (its kind is drawn red).
pub(super) const FAILURE_KEYS: [&str; 3] = [
    "ai.tool.error",
    "ai.llm.response.error",
    "exception.message",
];

/// Attributes shown on the second line, in this order, when present.
pub(super) const SUMMARY_KEYS: [&str; 5] = [
    TRACE_TYPE,
    "peer.service",
    "ai.conversation.id",
    "ai.subcontext.id",
    AUTH_CONTEXT,
];

/// The summary key shown by its principal only (the rest may be secret).
pub(super) const AUTH_CONTEXT: &str = "ai.auth.context";
/// The field of [`AUTH_CONTEXT`] that is shown.
pub(super) const PRINCIPAL_ID: &str = "principal_id";
/// Shown when [`AUTH_CONTEXT`] has no [`PRINCIPAL_ID`] or is not a map.
pub(super) const UNKNOWN_PRINCIPAL: &str = "unknown-principal";

/// Characters of a string or JSON value on the summary line.
pub(super) const SUMMARY_WIDTH: usize = 80;

/// Width of the right-aligned `Title: ` column of detail lines.
pub(super) const TITLE_WIDTH: usize = 16;

/// An `llm-invocation`'s request messages; the last one's `content` is the "Last message".
pub(super) const LLM_MESSAGES: &str = "ai.llm.request.messages";
/// The trace type that shows [`LLM_MESSAGES`].
pub(super) const LLM_TYPE: &str = "llm-invocation";

/// When a detail line is printed.
#[derive(Clone, Copy)]
pub(super) enum When {
    /// The attribute is present and not null.
    NotNone,
    /// The attribute is truthy in Python's sense.
    Truthy,
}

/// The colour of a detail line.
#[derive(Clone, Copy)]
pub(super) enum Colour {
    Gray,
    Red,
}

/// One detail line: `title: value of key`, shown `when`, in `colour`.
pub(super) struct Detail {
    pub(super) title: &'static str,
    pub(super) key: &'static str,
    pub(super) when: When,
    pub(super) colour: Colour,
}

const fn detail(title: &'static str, key: &'static str, when: When, colour: Colour) -> Detail {
    Detail {
        title,
        key,
        when,
        colour,
    }
}

use Colour::{Gray, Red};
use When::{NotNone, Truthy};

/// Detail lines per `ai.trace.type` (after the "Last message" of an [`LLM_TYPE`]).
const DETAILS: &[(&[&str], &[Detail])] = &[
    (
        &[LLM_TYPE],
        &[
            detail("Response", "ai.llm.response.output", Truthy, Gray),
            detail("Stop reason", "ai.llm.response.stop.reason", Truthy, Gray),
            detail("Error", "ai.llm.response.error", Truthy, Red),
        ],
    ),
    (
        &["tool-invocation"],
        &[
            detail("Input", "ai.tool.input", NotNone, Gray),
            detail("Output", "ai.tool.output", NotNone, Gray),
            detail("Error", "ai.tool.error", Truthy, Red),
        ],
    ),
    // The reference prints a conversation's error in gray, unlike every other error line.
    (
        &["converse", "converse-stream"],
        &[
            detail("Input", "ai.user.input", NotNone, Gray),
            detail("Response", "ai.agent.response", NotNone, Gray),
            detail("Error", "exception.message", Truthy, Gray),
        ],
    ),
    (
        &["cycle"],
        &[
            detail("Response", "ai.agent.cycle.response", NotNone, Gray),
            detail("Error", "exception.message", Truthy, Red),
        ],
    ),
    (
        &["conversation-history-list"],
        &[detail(
            "Messages",
            "ai.conversation.history.messages",
            NotNone,
            Gray,
        )],
    ),
    (
        &["conversation-history-add"],
        &[detail(
            "Message",
            "ai.conversation.history.message",
            NotNone,
            Gray,
        )],
    ),
];

/// The detail lines of `trace_type` (none for a type the reference does not know).
pub(super) fn details(trace_type: &str) -> &'static [Detail] {
    DETAILS
        .iter()
        .find(|(types, _)| types.contains(&trace_type))
        .map_or(&[], |&(_, lines)| lines)
}
