//! Message content: the structured form the GenAI conventions give it, truncated to the
//! content limit (the cutting itself is `value`'s).

use super::GenAi;
use crate::value::{truncate, truncate_value};
use crate::Value;

/// Who a message is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The system prompt.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
}

impl Role {
    /// The role's name in the conventions (`system`, `user`, `assistant`, `tool`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One chat message's text, as recorded by [`GenAi::record_input`] and
/// [`GenAi::record_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Who it is from.
    pub role: Role,
    /// Its text.
    pub content: String,
}

impl Message {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
        }
    }
}

impl GenAi {
    /// `[{"role": .., "parts": [{"type": "text", "content": ..}]}, ..]`, contents truncated.
    pub(super) fn messages(&self, messages: &[Message]) -> Value {
        let list = messages
            .iter()
            .map(|m| {
                serde_json::json!({
                    "role": m.role.as_str(),
                    "parts": [{"type": "text", "content": self.text(&m.content)}],
                })
            })
            .collect::<Vec<_>>();
        Value::from(serde_json::Value::Array(list))
    }

    /// `text`, cut to the content limit at a character boundary, with a marker saying how
    /// much was cut.
    pub(super) fn text(&self, text: &str) -> String {
        truncate(text, self.max_content_len)
    }

    /// `value` with every string in it truncated.
    pub(super) fn truncated(&self, value: Value) -> Value {
        truncate_value(value, self.max_content_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_at_a_character_boundary_and_says_how_much() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 3), "abc…[truncated 3 bytes]");
        // 'é' is two bytes: the cut moves back to before it.
        assert_eq!(truncate("aé", 2), "a…[truncated 2 bytes]");
        assert_eq!(truncate("ééé", 0), "…[truncated 6 bytes]");
    }

    #[test]
    fn nested_strings_are_truncated() {
        let genai = GenAi::new().max_content_len(4);
        let v = genai.truncated(Value::from(
            serde_json::json!({"a": ["123456", 7], "b": "ok"}),
        ));
        assert_eq!(
            v,
            Value::from(serde_json::json!({"a": ["1234…[truncated 2 bytes]", 7], "b": "ok"}))
        );
    }
}
