//! A redaction hook for the common secrets: e-mail addresses and API keys.

use crate::{Attributes, Trace, Value};

/// Masks e-mail addresses (`[email]`) and API keys (`[secret]`) in every string of a span:
/// attribute values, nested values and event attributes. Use it with
/// [`Tracer::redacted`](crate::Tracer::redacted), alone or inside a hook of your own.
///
/// A key is a token of letters, digits, `-` and `_`, at least 20 long, that starts as
/// OpenAI and Anthropic (`sk-`), Stripe (`sk_`, `pk_`, `rk_`), GitHub (`ghp_`, `gho_`,
/// `github_pat_`), Slack (`xox`), AWS (`AKIA`, `ASIA`) or Google (`AIza`) keys do, and any
/// token after `Bearer `.
///
/// ```
/// let memory = tracekit::Tracer::in_memory(1);
/// let mut trace = memory.span("call").start().snapshot().unwrap();
/// trace.attributes.insert("ai.llm.request.system", "key sk-ant-api03-abcdefghijklmnopqrstu, ops@corp.example");
/// tracekit::genai::mask_secrets(&mut trace);
/// assert_eq!(trace.attributes.get("ai.llm.request.system"), Some(&"key [secret], [email]".into()));
/// ```
pub fn mask_secrets(trace: &mut Trace) {
    mask_attributes(&mut trace.attributes);
    for event in &mut trace.events {
        mask_attributes(&mut event.attributes);
    }
}

fn mask_attributes(attributes: &mut Attributes) {
    let keys: Vec<String> = attributes.keys().map(str::to_owned).collect();
    for key in keys {
        if let Some(value) = attributes.get_mut(&key) {
            mask_value(value);
        }
    }
}

fn mask_value(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(masked) = mask_text(s.as_str()) {
                *value = Value::from(masked);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        Value::Map(map) => {
            let masked: crate::Map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    mask_value(&mut v);
                    (k, v)
                })
                .collect();
            *map = masked;
        }
        _ => {}
    }
}

const KEY_PREFIXES: &[&str] = &[
    "sk-",
    "sk_",
    "pk_",
    "rk_",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "xox",
    "AKIA",
    "ASIA",
    "AIza",
];

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `text` with its API keys and bearer tokens masked (`[secret]`), e-mail addresses left as
/// they are: for recordings (`replay`), whose prompts must still match when replayed.
pub(crate) fn mask_keys(text: &str) -> Option<String> {
    mask(text, false)
}

/// `text` with its secrets masked; `None` if it has none (nothing to copy).
fn mask_text(text: &str) -> Option<String> {
    mask(text, true)
}

fn mask(text: &str, emails: bool) -> Option<String> {
    let suspect = (emails && text.contains('@'))
        || KEY_PREFIXES.iter().any(|p| text.contains(p))
        || text.contains("Bearer ");
    if !suspect {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while !rest.is_empty() {
        // The next word: a run of characters that may make up an address or a key.
        let start =
            rest.find(|c: char| is_token_char(c) || c == '.' || c == '@' || c == '+' || c == '%');
        let Some(start) = start else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(is_token_char(c) || c == '.' || c == '@' || c == '+' || c == '%'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        let after_bearer = out.ends_with("Bearer ");
        if let Some(masked) = mask_word(word, after_bearer, emails) {
            out.push_str(&masked);
            changed = true;
        } else {
            out.push_str(word);
        }
        rest = &rest[end..];
    }
    changed.then_some(out)
}

/// The masked form of one word, if it is (or ends in) a secret.
fn mask_word(word: &str, after_bearer: bool, emails: bool) -> Option<String> {
    // Trailing sentence punctuation is not part of an address.
    let trimmed = word.trim_end_matches('.');
    let tail = &word[trimmed.len()..];
    if let Some((local, domain)) = trimmed.split_once('@').filter(|_| emails) {
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && domain
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !local.is_empty() && domain_ok {
            return Some(format!("[email]{tail}"));
        }
    }
    let is_key = trimmed.len() >= 20
        && trimmed.chars().all(is_token_char)
        && (after_bearer || KEY_PREFIXES.iter().any(|p| trimmed.starts_with(p)));
    is_key.then(|| format!("[secret]{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses_and_keys_and_leaves_the_rest() {
        for (text, expected) in [
            ("write to jo.doe+x@mail.example.com.", "write to [email]."),
            (
                "AKIAIOSFODNN7EXAMPLE1 and ghp_0123456789abcdefghijABCDEF",
                "[secret] and [secret]",
            ),
            (
                "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
                "Authorization: Bearer [secret]",
            ),
            ("sk-short", "sk-short"),
            (
                "an @mention, a@b (no dot), 2 + 2 = 4",
                "an @mention, a@b (no dot), 2 + 2 = 4",
            ),
            ("ünïcode around x@y.io ✓", "ünïcode around [email] ✓"),
        ] {
            assert_eq!(
                mask_text(text).unwrap_or_else(|| text.to_owned()),
                expected,
                "{text}"
            );
        }
        assert_eq!(mask_text("nothing to see"), None);
    }

    #[test]
    fn masks_nested_values_and_events() {
        let tracer = crate::Tracer::in_memory(1);
        let mut trace = tracer.trace("t").snapshot().unwrap();
        trace.attributes.insert(
            "m",
            Value::from(serde_json::json!({"to": ["a@b.co"], "n": 1})),
        );
        trace.events.push(crate::Event {
            name: "e".into(),
            timestamp: trace.started_at,
            attributes: [("key", "sk-proj-0123456789abcdefghij")]
                .into_iter()
                .collect(),
        });
        mask_secrets(&mut trace);
        assert_eq!(
            trace.attributes.get("m"),
            Some(&Value::from(serde_json::json!({"to": ["[email]"], "n": 1})))
        );
        assert_eq!(
            trace.events[0].attributes.get("key"),
            Some(&"[secret]".into())
        );
    }
}
