//! [`expect`]: questions about a set of spans, and assertions that print the tree when they
//! fail.

use crate::analysis::{self, Tokens, ToolCall};
use crate::{SpanKind, SpanStatus, Trace, Value};

use super::snapshot::snapshot;

/// Questions and assertions over `spans` (one trace, a conversation, a whole test run).
///
/// Each assertion returns `&Self`, so they chain; a failed one panics at the caller's line
/// (`#[track_caller]`) with what was expected, what was found, and the spans as
/// [`snapshot`] writes them.
pub fn expect(spans: &[Trace]) -> Expect<'_> {
    Expect { spans }
}

/// See [`expect`].
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    spans: &'a [Trace],
}

impl<'a> Expect<'a> {
    /// The spans named `name`, in start order.
    pub fn named(&self, name: &str) -> Vec<&'a Trace> {
        self.select(|s| s.span_name == name)
    }

    /// The spans of kind `kind`, in start order.
    pub fn of_kind(&self, kind: SpanKind) -> Vec<&'a Trace> {
        self.select(|s| s.span_kind == kind)
    }

    /// The spans whose attribute `key` is `value`, in start order.
    pub fn with_attribute(&self, key: &str, value: impl Into<Value>) -> Vec<&'a Trace> {
        let value = value.into();
        self.select(|s| s.attributes.get(key) == Some(&value))
    }

    /// The spans `keep` accepts, in start order.
    pub fn select(&self, keep: impl Fn(&Trace) -> bool) -> Vec<&'a Trace> {
        let mut found: Vec<&Trace> = self.spans.iter().filter(|s| keep(s)).collect();
        found.sort_by_key(|s| s.started_at);
        found
    }

    /// The one span named `name`; panics (printing the tree) if there is none or several.
    #[track_caller]
    pub fn span(&self, name: &str) -> &'a Trace {
        match self.named(name).as_slice() {
            [one] => one,
            found => self.fail(&format!(
                "expected one span named {name:?}, found {}",
                found.len()
            )),
        }
    }

    /// The tool calls, in start order, with their arguments.
    pub fn tool_calls(&self) -> Vec<ToolCall> {
        analysis::tool_calls(self.spans)
    }

    /// How many LLM calls.
    pub fn llm_calls(&self) -> u64 {
        analysis::summary(self.spans).llm_calls
    }

    /// Tokens over all LLM calls.
    pub fn tokens(&self) -> Tokens {
        analysis::summary(self.spans).tokens
    }

    /// Cost of the priced LLM calls, US dollars.
    pub fn cost_usd(&self) -> f64 {
        analysis::summary(self.spans).cost_usd
    }

    /// Asserts that no span failed (status `ERROR`).
    #[track_caller]
    pub fn no_failed_spans(&self) -> &Self {
        let failed: Vec<&str> = self
            .spans
            .iter()
            .filter(|s| s.span_status == SpanStatus::Error)
            .map(|s| s.span_name.as_ref())
            .collect();
        if !failed.is_empty() {
            self.fail(&format!(
                "expected no failed span; these failed: {failed:?}"
            ));
        }
        self
    }

    /// Asserts that every span carries the attribute `key` (the conversation id, say).
    #[track_caller]
    pub fn all_carry(&self, key: &str) -> &Self {
        let without: Vec<&str> = self
            .spans
            .iter()
            .filter(|s| s.attributes.get(key).is_none())
            .map(|s| s.span_name.as_ref())
            .collect();
        if !without.is_empty() {
            self.fail(&format!(
                "expected every span to carry `{key}`; these do not: {without:?}"
            ));
        }
        self
    }

    /// Asserts the tools called, by name, in order.
    #[track_caller]
    pub fn tool_sequence(&self, names: &[&str]) -> &Self {
        let called: Vec<String> = self.tool_calls().into_iter().map(|c| c.name).collect();
        if called != names {
            self.fail(&format!(
                "expected the tool calls {names:?}, found {called:?}"
            ));
        }
        self
    }

    /// Asserts the tool calls' arguments, in order (`None`: recorded without arguments).
    #[track_caller]
    pub fn tool_arguments(&self, arguments: &[Option<Value>]) -> &Self {
        let found: Vec<Option<Value>> =
            self.tool_calls().into_iter().map(|c| c.arguments).collect();
        if found != arguments {
            self.fail(&format!(
                "expected the tool arguments {arguments:?}, found {found:?}"
            ));
        }
        self
    }

    /// Asserts how many LLM calls there were.
    #[track_caller]
    pub fn llm_call_count(&self, calls: u64) -> &Self {
        let found = self.llm_calls();
        if found != calls {
            self.fail(&format!("expected {calls} LLM calls, found {found}"));
        }
        self
    }

    /// Asserts that the LLM calls took at most `tokens` tokens (input plus output).
    #[track_caller]
    pub fn tokens_at_most(&self, tokens: u64) -> &Self {
        let found = self.tokens().total();
        if found > tokens {
            self.fail(&format!("expected at most {tokens} tokens, found {found}"));
        }
        self
    }

    /// Asserts that the priced LLM calls cost at most `usd`.
    #[track_caller]
    pub fn cost_at_most(&self, usd: f64) -> &Self {
        let found = self.cost_usd();
        if found > usd {
            self.fail(&format!(
                "expected a cost of at most ${usd}, found ${found:.6}"
            ));
        }
        self
    }

    /// Asserts that every span named `child` is a child of a span named `parent`.
    #[track_caller]
    pub fn child_of(&self, child: &str, parent: &str) -> &Self {
        let children = self.named(child);
        if children.is_empty() {
            self.fail(&format!(
                "expected a span named {child:?} below {parent:?}; there is none"
            ));
        }
        for c in children {
            let found = c.parent_span_id.and_then(|p| {
                self.spans
                    .iter()
                    .find(|s| s.trace_id == c.trace_id && s.span_id == p)
            });
            if found.is_none_or(|p| p.span_name != parent) {
                self.fail(&format!(
                    "expected {child:?} to be a child of {parent:?}; its parent is {:?}",
                    found.map(|p| p.span_name.as_ref())
                ));
            }
        }
        self
    }

    #[track_caller]
    fn fail(&self, message: &str) -> ! {
        panic!(
            "{message}\n\nthe spans ({}):\n{}",
            self.spans.len(),
            snapshot(self.spans)
        )
    }
}
