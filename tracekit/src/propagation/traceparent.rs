//! The W3C Trace Context headers: `traceparent` and `tracestate`
//! (<https://www.w3.org/TR/trace-context/>).

use crate::{SpanId, TraceId};

/// Bit 0 of the trace flags: the caller may have recorded the trace.
pub(super) const SAMPLED: u8 = 0x01;

/// `tracestate` holds at most this many list members; the spec lets a vendor drop the rest.
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// A parsed `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TraceParent {
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    pub(super) flags: u8,
}

/// Writes `00-{trace id}-{span id}-{flags}`.
pub(super) fn format(trace_id: TraceId, span_id: SpanId, flags: u8) -> String {
    format!("00-{trace_id}-{span_id}-{flags:02x}")
}

/// Parses one `traceparent` value; `None` when it is invalid in any way the spec names: a
/// version of `ff` or not two lowercase hex digits, a wrong length or separator, uppercase
/// or non-hex digits, an all-zero trace or span id. A version above `00` may carry more
/// fields after a `-`; they are ignored, as the spec asks.
pub(super) fn parse(value: &str) -> Option<TraceParent> {
    // HTTP strips optional whitespace around field values; other carriers may not.
    let value = value.trim_matches([' ', '\t']).as_bytes();
    if value.len() < 55 {
        return None;
    }
    let version = lower_hex(&value[0..2])? as u8;
    match version {
        0xff => return None,
        0x00 if value.len() != 55 => return None,
        _ if value.len() > 55 && value[55] != b'-' => return None,
        _ => {}
    }
    if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    Some(TraceParent {
        trace_id: TraceId::from_int(lower_hex(&value[3..35])?)?,
        span_id: SpanId::from_int(lower_hex(&value[36..52])? as u64)?,
        flags: lower_hex(&value[53..55])? as u8,
    })
}

/// The value of lowercase hex digits (at most 32 of them); `None` for anything else.
fn lower_hex(digits: &[u8]) -> Option<u128> {
    debug_assert!(digits.len() <= 32);
    digits.iter().try_fold(0u128, |acc, &d| {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u128::from(nibble))
    })
}

/// The `tracestate` to pass on: the valid list members of every header value in order, the
/// first of each key, at most 32; `None` when none is valid. Malformed members are dropped
/// without dropping the good ones.
pub(super) fn trace_state<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    let members = values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(|m| m.trim_matches([' ', '\t']));
    for member in members {
        if kept.len() == MAX_TRACESTATE_MEMBERS {
            break;
        }
        let Some((key, value)) = member.split_once('=') else {
            continue;
        };
        let duplicate = kept
            .iter()
            .any(|k| k.split_once('=').map(|(k, _)| k) == Some(key));
        if valid_key(key) && valid_value(value) && !duplicate {
            kept.push(member);
        }
    }
    (!kept.is_empty()).then(|| kept.join(","))
}

/// `simple-key` or `tenant-id@system-id`.
fn valid_key(key: &str) -> bool {
    fn part(s: &str, max: usize, first: fn(u8) -> bool) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= max
            && first(b[0])
            && b[1..].iter().all(|&c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'_' | b'-' | b'*' | b'/')
            })
    }
    let alpha = |c: u8| c.is_ascii_lowercase();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match key.split_once('@') {
        None => part(key, 256, alpha),
        Some((tenant, system)) => part(tenant, 241, alnum) && part(system, 14, alpha),
    }
}

/// Up to 256 printable ASCII characters but `,` and `=`, not ending in a space.
fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    let chr = |c: &u8| (0x20..=0x7e).contains(c) && *c != b',' && *c != b'=';
    !b.is_empty() && b.len() <= 256 && b.iter().all(chr) && b[b.len() - 1] != b' '
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn parses_the_spec_example() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.trace_id.to_string(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(p.span_id.to_string(), "b7ad6b7169203331");
        assert_eq!(p.flags, 1);
        assert_eq!(format(p.trace_id, p.span_id, p.flags), GOOD);
        assert_eq!(parse(&format!(" \t{GOOD} ")), Some(p));
    }

    #[test]
    fn rejects_what_the_spec_rejects() {
        for bad in [
            "",
            "00",
            &GOOD[..54],
            &format!("{GOOD}-"),               // version 00 is exact
            &GOOD.replace("00-", "ff-"),       // forbidden version
            &GOOD.replace("0af7", "0AF7"),     // uppercase
            &GOOD.replace("00-0af", "0g-0af"), // version not hex
            "00-00000000000000000000000000000000-b7ad6b7169203331-01", // zero trace id
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", // zero span id
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333ü-01",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn later_versions_may_carry_more() {
        let newer = GOOD.replacen("00", "cc", 1);
        assert!(parse(&newer).is_some());
        assert!(parse(&format!("{newer}-what-the-future-holds")).is_some());
        assert_eq!(parse(&format!("{newer}x")), None);
    }

    #[test]
    fn flags_other_than_sampled_are_read() {
        let p = parse(&GOOD.replace("-01", "-02")).unwrap();
        assert_eq!(p.flags & SAMPLED, 0);
    }

    #[test]
    fn trace_state_keeps_the_good_members() {
        assert_eq!(
            trace_state(["rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"]).as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(
            trace_state(["a=1,BAD=2,,c=3 ", "t@sys=x,a=dup,d=has=eq,e="]).as_deref(),
            Some("a=1,c=3,t@sys=x")
        );
        assert_eq!(trace_state(["nonsense"]), None);
        let many: Vec<String> = (0..40).map(|i| format!("k{i}=v")).collect();
        let kept = trace_state([many.join(",").as_str()]).unwrap();
        assert_eq!(kept.split(',').count(), MAX_TRACESTATE_MEMBERS);
    }
}
