//! JSON from anyone as a filter, a value or a span (a viewer request, a JSON-lines file, a
//! config): a typed serde error or a value; a span that parses renders with no control
//! character reaching the terminal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracekit::render::{timeline, tree};
use tracekit::{Trace, TraceFilter, Value};

fn terminal_safe(text: &str, tabs: bool) {
    let mut rest = text;
    // The renderers' own colours are `ESC [ digits ; m`; nothing else may be a control.
    while let Some(c) = rest.chars().next() {
        if c == '\x1b' {
            let tail = &rest[1..];
            let end = tail
                .strip_prefix('[')
                .and_then(|t| t.find('m').map(|m| m + 2))
                .filter(|&m| {
                    tail[1..m - 1]
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b';')
                })
                .expect("a raw escape reached the output");
            rest = &tail[end..];
            continue;
        }
        assert!(
            !c.is_control() || c == '\n' || (tabs && c == '\t'),
            "{c:?} in {text:?}"
        );
        rest = &rest[c.len_utf8()..];
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = serde_json::from_str::<TraceFilter>(text);
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let again: Value = serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap();
        assert_eq!(again, value);
    }
    if let Ok(trace) = serde_json::from_str::<Trace>(text) {
        let spans = [trace];
        terminal_safe(&tree(&spans), false);
        terminal_safe(&timeline(&spans, 60), false);
        terminal_safe(&spans[0].as_human_readable(), true);
    }
});
