//! Tokens and what they cost.

use std::collections::HashMap;

/// An LLM call's token counts. `input` includes cached input (read and written) and
/// `output` includes reasoning tokens, as the GenAI conventions count them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub input: u64,
    /// Output tokens, reasoning ones included.
    pub output: u64,
    /// Input tokens served from the provider's cache.
    pub cache_read: u64,
    /// Input tokens written to the provider's cache.
    pub cache_write: u64,
    /// Output tokens spent on reasoning.
    pub reasoning: u64,
}

impl Usage {
    /// `input` and `output` tokens, nothing cached, no reasoning.
    pub fn new(input: u64, output: u64) -> Usage {
        Usage {
            input,
            output,
            ..Usage::default()
        }
    }

    /// Of the input, this many were read from the cache.
    pub fn cache_read(mut self, tokens: u64) -> Self {
        self.cache_read = tokens;
        self
    }

    /// Of the input, this many were written to the cache.
    pub fn cache_write(mut self, tokens: u64) -> Self {
        self.cache_write = tokens;
        self
    }

    /// Of the output, this many were reasoning.
    pub fn reasoning(mut self, tokens: u64) -> Self {
        self.reasoning = tokens;
        self
    }
}

/// A model's prices in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// Uncached input.
    pub input: f64,
    /// Output (reasoning included unless [`reasoning`](Self::reasoning) says otherwise).
    pub output: f64,
    /// Input read from the cache.
    pub cache_read: f64,
    /// Input written to the cache.
    pub cache_write: f64,
    /// Reasoning output, where it is priced apart from other output.
    pub reasoning: f64,
}

impl Price {
    /// Input and output prices; cached input at the input price and reasoning at the output
    /// price until said otherwise.
    pub fn new(input: f64, output: f64) -> Price {
        Price {
            input,
            output,
            cache_read: input,
            cache_write: input,
            reasoning: output,
        }
    }

    /// The price of cached input (read, written).
    pub fn cached(mut self, read: f64, write: f64) -> Self {
        self.cache_read = read;
        self.cache_write = write;
        self
    }

    /// The price of reasoning output.
    pub fn reasoning(mut self, price: f64) -> Self {
        self.reasoning = price;
        self
    }

    /// What `usage` costs, in US dollars.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cache_read + usage.cache_write;
        let plain_input = usage.input.saturating_sub(cached);
        let plain_output = usage.output.saturating_sub(usage.reasoning);
        (plain_input as f64 * self.input
            + usage.cache_read as f64 * self.cache_read
            + usage.cache_write as f64 * self.cache_write
            + plain_output as f64 * self.output
            + usage.reasoning as f64 * self.reasoning)
            / 1e6
    }
}

/// Prices per model, with the version and date they were taken, so every cost says which
/// prices made it.
///
/// The bundled table ([`PriceTable::bundled`]) holds list prices of common models on its
/// date; prices change, so override and extend it with [`with`](Self::with). Lookups match a
/// model id exactly, then the longest known prefix (`claude-sonnet-4-20250514` finds
/// `claude-sonnet-4`, `anthropic.claude-sonnet-4-v1:0` finds it after the provider prefix).
///
/// ```
/// use tracekit::genai::{Price, PriceTable, Usage};
///
/// let table = PriceTable::bundled().with("my-finetune", Price::new(1.0, 2.0).cached(0.1, 1.25));
/// let usage = Usage::new(1_000_000, 1_000_000).cache_read(500_000);
/// // 0.5 M plain input at $1, 0.5 M cached at $0.10, 1 M output at $2.
/// assert_eq!(table.cost("my-finetune", &usage), Some(2.55));
/// assert_eq!(table.cost("unknown-model", &usage), None); // unpriced, never free
/// ```
#[derive(Clone, Debug)]
pub struct PriceTable {
    /// `{version} ({date})`, made once: every priced span records it.
    label: crate::Text,
    models: HashMap<String, Price>,
}

impl PriceTable {
    /// An empty table with a version and date of your own.
    pub fn new(version: impl Into<String>, date: impl Into<String>) -> PriceTable {
        PriceTable {
            label: format!("{} ({})", version.into(), date.into()).into(),
            models: HashMap::new(),
        }
    }

    /// The table shipped with tracekit (list prices per million tokens, USD).
    pub fn bundled() -> PriceTable {
        let mut t = PriceTable::new("tracekit-2026.12", "2026-12-01");
        for (model, price) in [
            ("claude-opus-4", Price::new(15.0, 75.0).cached(1.5, 18.75)),
            ("claude-sonnet-4", Price::new(3.0, 15.0).cached(0.3, 3.75)),
            ("claude-3-5-haiku", Price::new(0.8, 4.0).cached(0.08, 1.0)),
            ("claude-3-sonnet", Price::new(3.0, 15.0)),
            ("claude-3-haiku", Price::new(0.25, 1.25).cached(0.03, 0.3)),
            ("gpt-4o", Price::new(2.5, 10.0).cached(1.25, 2.5)),
            ("gpt-4o-mini", Price::new(0.15, 0.6).cached(0.075, 0.15)),
            ("gpt-4.1", Price::new(2.0, 8.0).cached(0.5, 2.0)),
            ("gpt-4.1-mini", Price::new(0.4, 1.6).cached(0.1, 0.4)),
            ("o3", Price::new(2.0, 8.0).cached(0.5, 2.0)),
            ("o4-mini", Price::new(1.1, 4.4).cached(0.275, 1.1)),
            ("amazon.nova-pro", Price::new(0.8, 3.2)),
            ("amazon.nova-lite", Price::new(0.06, 0.24)),
            ("gemini-2.5-pro", Price::new(1.25, 10.0).cached(0.31, 1.25)),
            ("gemini-2.5-flash", Price::new(0.3, 2.5).cached(0.075, 0.3)),
        ] {
            t = t.with(model, price);
        }
        t
    }

    /// Adds or replaces a model's prices.
    pub fn with(mut self, model: impl Into<String>, price: Price) -> Self {
        self.models.insert(model.into(), price);
        self
    }

    /// The model's prices: an exact match, else the longest known prefix of the id or of the
    /// id after a `provider.` prefix; `None` if unknown.
    pub fn get(&self, model: &str) -> Option<&Price> {
        if let Some(p) = self.models.get(model) {
            return Some(p);
        }
        let bare = model.split_once('.').map(|(_, rest)| rest);
        self.models
            .iter()
            .filter(|(known, _)| {
                [Some(model), bare].into_iter().flatten().any(|id| {
                    id.starts_with(known.as_str())
                        && id[known.len()..].starts_with(['-', ':', '@', '/'])
                })
            })
            .max_by_key(|(known, _)| known.len())
            .map(|(_, p)| p)
    }

    /// What `usage` of `model` costs in US dollars; `None` for a model the table does not
    /// know.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.get(model).map(|p| p.cost(usage))
    }

    /// `{version} ({date})`, recorded beside every cost.
    pub fn label(&self) -> &crate::Text {
        &self.label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_and_reasoning_tokens_are_priced_apart() {
        let price = Price::new(3.0, 15.0).cached(0.3, 3.75).reasoning(20.0);
        let usage = Usage::new(10_000, 2_000)
            .cache_read(6_000)
            .cache_write(1_000)
            .reasoning(500);
        // 3 000 plain input × 3 + 6 000 × 0.3 + 1 000 × 3.75 + 1 500 output × 15 + 500 × 20
        let expected =
            (3_000.0 * 3.0 + 6_000.0 * 0.3 + 1_000.0 * 3.75 + 1_500.0 * 15.0 + 500.0 * 20.0) / 1e6;
        assert!((price.cost(&usage) - expected).abs() < 1e-12);
    }

    #[test]
    fn inconsistent_counts_never_go_negative() {
        let usage = Usage::new(10, 5).cache_read(50).reasoning(9);
        assert!(Price::new(1.0, 1.0).cost(&usage) >= 0.0);
    }

    #[test]
    fn lookups_by_exact_id_dated_id_and_provider_prefix() {
        let t = PriceTable::bundled();
        assert_eq!(
            t.get("gpt-4o"),
            Some(&Price::new(2.5, 10.0).cached(1.25, 2.5))
        );
        assert_eq!(
            t.get("gpt-4o-mini-2024-07-18"),
            t.get("gpt-4o-mini"),
            "longest prefix wins"
        );
        assert_eq!(t.get("claude-sonnet-4-20250514"), t.get("claude-sonnet-4"));
        assert_eq!(
            t.get("anthropic.claude-sonnet-4-20250514-v1:0"),
            t.get("claude-sonnet-4")
        );
        assert_eq!(t.get("gpt-4oops"), None, "a prefix must end at a separator");
        assert_eq!(t.get("llama-3"), None);
        assert_eq!(t.label().as_str(), "tracekit-2026.12 (2026-12-01)");
    }
}
