//! UTC timestamps with nanosecond precision, read from one fast clock.
//!
//! Each span edge reads the CPU's time-stamp counter once (through `quanta`, which falls back
//! to the OS monotonic clock where the TSC is not invariant) and converts it, with an integer
//! multiply and shift, from an anchor taken from the wall clock once per process. That is a
//! few nanoseconds and no system call;
//! durations never go negative when NTP steps the wall clock; start/end order is consistent
//! across threads. Over days a process's timestamps can drift from the wall clock by as much
//! as the monotonic clock drifts from NTP (typically milliseconds).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A point in time: nanoseconds since the Unix epoch, UTC.
///
/// Displays (and serialises) as ISO 8601 with a `+00:00` offset, microseconds when the
/// sub-microsecond part is zero and nanoseconds otherwise, so it is lossless and reads the same
/// as the Python reference (`2025-07-04T11:12:48.987140+00:00`).
///
/// ```
/// use tracekit::Timestamp;
/// let t: Timestamp = "2025-07-04T11:12:48.98714Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2025-07-04T11:12:48.987140+00:00");
/// assert_eq!(t.to_iso_millis(), "2025-07-04T11:12:48.987Z");
/// assert!("yesterday".parse::<Timestamp>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a string is not a valid timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: expected RFC 3339, e.g. 2025-07-04T11:12:48.987140+00:00 ({reason})")]
pub struct ParseTimestampError {
    input: String,
    reason: String,
}

/// The counter, and the wall-clock time at which it read zero.
struct Clock {
    counter: Counter,
    unix_nanos_at_anchor: i64,
}

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| Clock {
        counter: Counter::start(),
        unix_nanos_at_anchor: Timestamp::from_system_time(SystemTime::now()).0,
    })
}

/// Nanoseconds since the process's anchor, from the time-stamp counter.
#[cfg(not(miri))]
struct Counter {
    ticks: quanta::Clock,
    ticks_at_anchor: u64,
}

#[cfg(not(miri))]
impl Counter {
    fn start() -> Counter {
        let ticks = quanta::Clock::new();
        let ticks_at_anchor = ticks.raw();
        Counter {
            ticks,
            ticks_at_anchor,
        }
    }

    #[inline]
    fn nanos_since_anchor(&self) -> u64 {
        // Ticks to nanoseconds is an integer multiply and shift.
        self.ticks
            .delta_as_nanos(self.ticks_at_anchor, self.ticks.raw())
    }
}

/// Miri cannot run `quanta`'s `cpuid` and `rdtsc`; the OS monotonic clock gives readings with
/// the same meaning, only slower, so the code under test is otherwise the same.
#[cfg(miri)]
struct Counter(std::time::Instant);

#[cfg(miri)]
impl Counter {
    fn start() -> Counter {
        Counter(std::time::Instant::now())
    }

    fn nanos_since_anchor(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Timestamp {
    /// The current time.
    ///
    /// ```
    /// let a = tracekit::Timestamp::now();
    /// let b = tracekit::Timestamp::now();
    /// assert!(b >= a);
    /// ```
    #[inline]
    pub fn now() -> Timestamp {
        let clock = clock();
        let since = clock.counter.nanos_since_anchor();
        Timestamp(
            clock
                .unix_nanos_at_anchor
                .saturating_add(i64::try_from(since).unwrap_or(i64::MAX)),
        )
    }

    /// From nanoseconds since the Unix epoch.
    ///
    /// ```
    /// assert_eq!(tracekit::Timestamp::from_unix_nanos(0).to_string(), "1970-01-01T00:00:00+00:00");
    /// ```
    pub const fn from_unix_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Cut to whole microseconds (towards the past): what the stores keep, as the reference
    /// toolkit's clock has no finer digits.
    ///
    /// ```
    /// let t = tracekit::Timestamp::from_unix_nanos(1_999);
    /// assert_eq!(t.truncated_to_micros().unix_nanos(), 1_000);
    /// ```
    pub const fn truncated_to_micros(self) -> Timestamp {
        Timestamp(self.0 - self.0.rem_euclid(1_000))
    }

    /// From a `SystemTime` (saturating outside 1677..2262).
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        let nanos = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        };
        Timestamp(nanos)
    }

    /// As a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_nanos(self.0 as u64)
        } else {
            UNIX_EPOCH - Duration::from_nanos(self.0.unsigned_abs())
        }
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    ///
    /// ```
    /// use tracekit::Timestamp;
    /// let a = Timestamp::from_unix_nanos(1_000);
    /// let b = Timestamp::from_unix_nanos(3_500);
    /// assert_eq!(b.saturating_duration_since(a).as_nanos(), 2_500);
    /// assert_eq!(a.saturating_duration_since(b).as_nanos(), 0);
    /// ```
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// ISO 8601 truncated to milliseconds with a `Z` suffix, as the human-readable format shows.
    pub fn to_iso_millis(self) -> String {
        let mut out = String::with_capacity(24);
        let nanos = self.write_date_time(&mut out).unwrap_or(0);
        out.push_str(&format!(".{:03}Z", nanos / 1_000_000));
        out
    }

    /// Writes `YYYY-MM-DDTHH:MM:SS`; returns the sub-second nanoseconds.
    fn write_date_time(self, out: &mut impl fmt::Write) -> Result<u32, fmt::Error> {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128)
            .expect("every i64 nanosecond count is a valid date");
        write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month() as u8,
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        Ok(dt.nanosecond())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.write_date_time(f)?;
        if nanos % 1_000 != 0 {
            write!(f, ".{nanos:09}")?;
        } else if nanos != 0 {
            write!(f, ".{:06}", nanos / 1_000)?;
        }
        f.write_str("+00:00")
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Timestamp {
    type Err = ParseTimestampError;
    fn from_str(s: &str) -> Result<Timestamp, ParseTimestampError> {
        let err = |reason: String| ParseTimestampError {
            input: s.chars().take(64).collect(),
            reason,
        };
        let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| err(e.to_string()))?;
        i64::try_from(dt.unix_timestamp_nanos())
            .map(Timestamp)
            .map_err(|_| err("outside the years 1677..2262".into()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lossless_and_matches_python_isoformat() {
        let micros: Timestamp = "2025-07-04T11:12:48.882123+00:00".parse().unwrap();
        assert_eq!(micros.to_string(), "2025-07-04T11:12:48.882123+00:00");
        let nanos = Timestamp::from_unix_nanos(micros.unix_nanos() + 7);
        assert_eq!(nanos.to_string(), "2025-07-04T11:12:48.882123007+00:00");
        assert_eq!(nanos.to_string().parse::<Timestamp>().unwrap(), nanos);
        let offset: Timestamp = "2025-07-04T13:12:48+02:00".parse().unwrap();
        assert_eq!(offset.to_string(), "2025-07-04T11:12:48+00:00");
    }

    #[test]
    fn now_tracks_the_wall_clock() {
        let wall = Timestamp::from_system_time(SystemTime::now());
        let now = Timestamp::now();
        let skew = (now.unix_nanos() - wall.unix_nanos()).abs();
        assert!(skew < 1_000_000_000, "skew {skew} ns");
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        for bad in [
            "",
            "2025-07-04",
            "2025-13-04T00:00:00Z",
            "2025-07-04T11:12:48",
        ] {
            let e = bad.parse::<Timestamp>().unwrap_err();
            assert!(e.to_string().contains("expected RFC 3339"), "{e}");
        }
    }
}
