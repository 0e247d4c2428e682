//! Interviews: when (an instant, and the time zone it was scheduled in), how
//! long, where, with whom; and their calendar invitations ([`ical`]).
//!
//! A local time is read in its zone exactly once: a time that does not
//! exist there (the hour skipped in spring) is refused naming the gap, an
//! ambiguous one (the hour repeated in autumn) naming both instants, unless
//! the time carries its own offset.

pub mod availability;
pub mod ical;
pub mod scorecard;

use crate::error::{Error, Result};
use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The longest interview (a whole working day).
pub const MAX_MINUTES: i64 = 8 * 60;

/// The instant of `at` (`2030-01-08T10:00`, or with an offset:
/// `2030-10-27T02:30+01:00`) read in `tz`.
pub fn start_instant(at: &str, tz: Tz) -> Result<DateTime<Utc>> {
    let at = at.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(at) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(at, "%Y-%m-%dT%H:%M%:z") {
        return Ok(t.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(at, f).ok())
        .ok_or_else(|| {
            Error::input(format!(
                "--at: `{at}` is not a time: write e.g. 2030-01-08T10:00 (read in --timezone), or with an offset"
            ))
        })?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(Error::input(format!(
            "--at: {local} does not exist in {tz}: the clocks skip it (daylight saving time begins); choose another time"
        ))),
        LocalResult::Ambiguous(a, b) => Err(Error::input(format!(
            "--at: {local} happens twice in {tz} (daylight saving time ends): at {} and at {}; write the one you mean with its offset, e.g. {}",
            a.to_rfc3339(),
            b.to_rfc3339(),
            a.format("%Y-%m-%dT%H:%M%:z")
        ))),
    }
}

/// A duration as `--duration` gives it (`45m`, `1h 30m`): whole minutes,
/// at least 5 and at most [`MAX_MINUTES`].
pub fn minutes(s: &str) -> Result<i64> {
    let d: crate::config::Dur = s
        .parse()
        .map_err(|e: String| Error::input(format!("--duration: {e}")))?;
    let secs = d.std().as_secs();
    let m = i64::try_from(secs / 60).unwrap_or(i64::MAX);
    if !secs.is_multiple_of(60) || !(5..=MAX_MINUTES).contains(&m) {
        return Err(Error::input(format!(
            "--duration: `{s}` is not a whole number of minutes from 5m to {}h",
            MAX_MINUTES / 60
        )));
    }
    Ok(m)
}

/// A span as `--buffer` or `--notice` gives it (`15m`, `24h`, `0m`): whole
/// minutes, at most 30 days; `field` names it in the error.
pub fn span_minutes(field: &str, s: &str) -> Result<i32> {
    let d: crate::config::Dur = s
        .parse()
        .map_err(|e: String| Error::input(format!("{field}: {e}")))?;
    i32::try_from(d.std().as_secs() / 60)
        .ok()
        .filter(|m| *m <= 60 * 24 * 30)
        .ok_or_else(|| Error::input(format!("{field}: `{s}` is more than 30 days")))
}

/// An IANA time zone as `--timezone` gives it.
pub fn zone(s: &str) -> Result<Tz> {
    s.trim().parse().map_err(|_| {
        Error::input(format!(
            "--timezone: `{s}` is not an IANA time zone (e.g. Europe/Berlin)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Tz {
        "Europe/Berlin".parse().unwrap()
    }

    #[test]
    fn ten_in_berlin_is_nine_or_eight_utc_either_side_of_the_spring_change() {
        assert_eq!(
            start_instant("2030-03-30T10:00", berlin())
                .unwrap()
                .to_rfc3339(),
            "2030-03-30T09:00:00+00:00"
        );
        assert_eq!(
            start_instant("2030-03-31T10:00", berlin())
                .unwrap()
                .to_rfc3339(),
            "2030-03-31T08:00:00+00:00"
        );
    }

    #[test]
    fn a_skipped_time_names_the_gap_and_a_repeated_one_both_instants() {
        let gap = start_instant("2030-03-31T02:30", berlin())
            .unwrap_err()
            .to_string();
        assert!(gap.contains("does not exist in Europe/Berlin"), "{gap}");
        let twice = start_instant("2030-10-27T02:30", berlin())
            .unwrap_err()
            .to_string();
        assert!(twice.contains("2030-10-27T02:30:00+02:00"), "{twice}");
        assert!(twice.contains("2030-10-27T02:30:00+01:00"), "{twice}");
        // with its offset it is one instant
        assert_eq!(
            start_instant("2030-10-27T02:30+01:00", berlin())
                .unwrap()
                .to_rfc3339(),
            "2030-10-27T01:30:00+00:00"
        );
    }

    #[test]
    fn durations_are_whole_minutes_within_a_day() {
        assert_eq!(minutes("45m").unwrap(), 45);
        assert_eq!(minutes("1h 30m").unwrap(), 90);
        for bad in ["0m", "2m", "30s", "9h", "soon", ""] {
            assert!(minutes(bad).is_err(), "{bad}");
        }
    }
}
