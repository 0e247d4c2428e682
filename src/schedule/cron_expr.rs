//! Cron expressions: the 5-field crontab form operators know
//! (`min hour day-of-month month day-of-week`, Sunday = 0 or 7, `@daily` and
//! friends) and the forms with seconds (6 or 7 fields). The `cron` crate
//! parses the fields; the occurrences are computed here, because two rules of
//! crontab differ from that crate's:
//!
//! - **Day of month or day of week.** When both fields are restricted (neither
//!   starts with `*` or `?`), a day matches if *either* does, as in crontab:
//!   `0 9 1 * MON` runs on every 1st and every Monday.
//! - **Daylight saving.** Occurrences are local times in the schedule's time
//!   zone. A local time that a spring-forward jump skips runs once, at the jump
//!   (`30 2 * * *` in Europe/Berlin runs at 03:00 CEST on the last Sunday of
//!   March); a local time that a fall-back repeats runs once, the first time
//!   (`30 2 * * *` runs at 02:30 CEST, not again at 02:30 CET).
//!
//! Pure: no clock, no I/O.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use cron::TimeUnitSpec;
use std::str::FromStr;

/// How many years ahead (or back) an occurrence is looked for.
const SEARCH_YEARS: i64 = 8;

#[derive(Clone, Debug)]
pub struct CronExpr {
    /// As written in the configuration.
    pub source: String,
    seconds: Vec<u32>,
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days_of_month: Vec<u32>,
    months: Vec<u32>,
    /// The cron crate's numbering: 1 = Sunday … 7 = Saturday.
    days_of_week: Vec<u32>,
    years: Option<Vec<u32>>,
    /// Both day fields restricted: either matches (crontab's rule).
    day_or: bool,
}

impl CronExpr {
    fn day_matches(&self, d: NaiveDate) -> bool {
        if !self.months.contains(&d.month()) {
            return false;
        }
        if let Some(years) = &self.years
            && !years.contains(&(d.year() as u32))
        {
            return false;
        }
        let dom = self.days_of_month.contains(&d.day());
        let dow = self
            .days_of_week
            .contains(&(d.weekday().num_days_from_sunday() + 1));
        if self.day_or { dom || dow } else { dom && dow }
    }

    /// The first occurrence strictly after `after`, in the time zone `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let start = after.with_timezone(&tz).naive_local();
        let start = start.with_nanosecond(0).unwrap_or(start);
        let last_day = start.date() + Duration::days(366 * SEARCH_YEARS);
        let mut day = start.date();
        while day <= last_day {
            if self.day_matches(day) {
                for &h in &self.hours {
                    for &m in &self.minutes {
                        for &s in &self.seconds {
                            let Some(naive) = day.and_hms_opt(h, m, s) else {
                                continue;
                            };
                            // an earlier local time never maps to a later
                            // instant (see `resolve`), so start at `after`
                            if naive < start {
                                continue;
                            }
                            let at = resolve(tz, naive);
                            if at > after {
                                return Some(at);
                            }
                        }
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// The latest occurrence at or before `at`: the one a scheduler that was
    /// down should run now (once, however many it missed).
    pub fn latest_at_or_before(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // a local time up to a few hours later can map to an instant before
        // `at` when clocks went back, so start a little later and go back
        let start = at.with_timezone(&tz).naive_local() + Duration::hours(4);
        let first_day = start.date() - Duration::days(366 * SEARCH_YEARS);
        let mut day = start.date();
        while day >= first_day {
            if self.day_matches(day) {
                for &h in self.hours.iter().rev() {
                    for &m in self.minutes.iter().rev() {
                        for &s in self.seconds.iter().rev() {
                            let Some(naive) = day.and_hms_opt(h, m, s) else {
                                continue;
                            };
                            if naive > start {
                                continue;
                            }
                            let t = resolve(tz, naive);
                            if t <= at {
                                return Some(t);
                            }
                        }
                    }
                }
            }
            day = day.pred_opt()?;
        }
        None
    }

    /// The occurrences in `(after, until]`, at most `limit` of them.
    pub fn between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        tz: Tz,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = after;
        while out.len() < limit {
            match self.next_after(t, tz) {
                Some(n) if n <= until => {
                    out.push(n);
                    t = n;
                }
                _ => break,
            }
        }
        out
    }
}

/// The instant a local time stands for: itself; the first of two when clocks
/// went back (so it runs once); the moment of the jump when clocks went
/// forward over it (so it still runs, once). Non-decreasing in `naive`.
pub fn resolve(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // the first instant whose local time is at or after `naive`
            let guess = naive.and_utc();
            let (mut lo, mut hi) = (guess - Duration::hours(15), guess + Duration::hours(15));
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if mid.with_timezone(&tz).naive_local() >= naive {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            hi.with_nanosecond(0).unwrap_or(hi)
        }
    }
}

fn expand_nickname(expr: &str) -> Option<&'static str> {
    Some(match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

fn restricted(field: &str) -> bool {
    !(field.starts_with('*') || field.starts_with('?'))
}

/// Parses `expr`; the error says what is wrong with it.
pub fn parse(expr: &str) -> Result<CronExpr, String> {
    let trimmed = expr.trim();
    let text = if trimmed.starts_with('@') {
        expand_nickname(trimmed).ok_or_else(|| {
            format!(
                "unknown cron nickname `{trimmed}` (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"
            )
        })?
    } else {
        trimmed
    };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (converted, dom, dow) = match fields.len() {
        0 => return Err("empty cron expression".into()),
        5 => {
            let dow = convert_dow(fields[4])?;
            (
                format!(
                    "0 {} {} {} {} {dow}",
                    fields[0], fields[1], fields[2], fields[3]
                ),
                fields[2],
                fields[4],
            )
        }
        6 | 7 => (fields.join(" "), fields[3], fields[5]),
        n => {
            return Err(format!(
                "cron expression `{expr}` has {n} fields: write 5 (min hour day month weekday) or 6-7 with seconds"
            ));
        }
    };
    let s = cron::Schedule::from_str(&converted)
        .map_err(|e| format!("invalid cron expression `{expr}`: {e}"))?;
    let years = (fields.len() == 7).then(|| s.years().iter().collect());
    Ok(CronExpr {
        source: expr.to_string(),
        seconds: s.seconds().iter().collect(),
        minutes: s.minutes().iter().collect(),
        hours: s.hours().iter().collect(),
        days_of_month: s.days_of_month().iter().collect(),
        months: s.months().iter().collect(),
        days_of_week: s.days_of_week().iter().collect(),
        years,
        day_or: restricted(dom) && restricted(dow),
    })
}

/// Crontab's day-of-week numbers (0-7, Sunday = 0 and 7) to the cron crate's
/// (1-7, Sunday = 1). Names (`MON-FRI`) pass through unchanged.
fn convert_dow(field: &str) -> Result<String, String> {
    let num = |s: &str| -> Result<Option<u32>, String> {
        if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
            let n: u32 = s.parse().map_err(|_| format!("bad day of week `{s}`"))?;
            if n > 7 {
                return Err(format!("day of week `{n}` is out of range 0-7"));
            }
            Ok(Some(n))
        } else {
            Ok(None)
        }
    };
    let shift = |n: u32| if n == 7 { 1 } else { n + 1 };
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step_sfx = step.map(|s| format!("/{s}")).unwrap_or_default();
        if let Some((a, b)) = range.split_once('-') {
            match (num(a)?, num(b)?) {
                (Some(a), Some(b)) => {
                    let a = if a == 7 { 0 } else { a };
                    if b == 7 && a > 0 {
                        // a..Saturday plus Sunday
                        out.push(format!("{}-7{step_sfx}", a + 1));
                        let includes_sunday = match step {
                            None => true,
                            Some(s) => s
                                .parse::<u32>()
                                .map(|s| s > 0 && (7 - a) % s == 0)
                                .unwrap_or(false),
                        };
                        if includes_sunday {
                            out.push("1".into());
                        }
                    } else {
                        let b = if b == 7 { 6 } else { b };
                        out.push(format!("{}-{}{step_sfx}", shift(a), shift(b)));
                    }
                }
                (None, None) => out.push(item.to_string()),
                _ => return Err(format!("mixed names and numbers in day of week `{item}`")),
            }
        } else {
            match num(range)? {
                Some(n) => out.push(format!("{}{step_sfx}", shift(n))),
                None => out.push(item.to_string()),
            }
        }
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(e: &str, tz: &str, after: &str) -> DateTime<Utc> {
        parse(e)
            .unwrap()
            .next_after(at(after), tz.parse().unwrap())
            .unwrap()
    }

    fn upcoming(e: &str, tz: &str, after: &str, n: usize) -> Vec<DateTime<Utc>> {
        let c = parse(e).unwrap();
        let tz: Tz = tz.parse().unwrap();
        let mut out = Vec::new();
        let mut t = at(after);
        for _ in 0..n {
            t = c.next_after(t, tz).unwrap();
            out.push(t);
        }
        out
    }

    #[test]
    fn five_field_every_fifteen_minutes() {
        assert_eq!(
            next("*/15 * * * *", "UTC", "2026-11-25T10:07:00Z"),
            at("2026-11-25T10:15:00Z")
        );
        // strictly after
        assert_eq!(
            next("*/15 * * * *", "UTC", "2026-11-25T10:15:00Z"),
            at("2026-11-25T10:30:00Z")
        );
    }

    #[test]
    fn crontab_weekday_numbers_mean_what_crontab_means() {
        // 1-5 is Monday to Friday in crontab. 2026-11-28 is a Saturday.
        let n = next("0 9 * * 1-5", "UTC", "2026-11-28T00:00:00Z");
        assert_eq!((n.weekday(), n.hour()), (Weekday::Mon, 9));
        // 0 and 7 are Sunday.
        for e in ["0 9 * * 0", "0 9 * * 7"] {
            assert_eq!(
                next(e, "UTC", "2026-11-25T00:00:00Z").weekday(),
                Weekday::Sun,
                "{e}"
            );
        }
        // 5-7 is Friday, Saturday, Sunday.
        let days: Vec<Weekday> = upcoming("0 9 * * 5-7", "UTC", "2026-11-23T00:00:00Z", 3)
            .iter()
            .map(|d| d.weekday())
            .collect();
        assert_eq!(days, vec![Weekday::Fri, Weekday::Sat, Weekday::Sun]);
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_restricted() {
        // crontab: every 1st and every Monday. 2027-01-01 is a Friday.
        let runs = upcoming("0 9 1 * MON", "UTC", "2026-12-28T10:00:00Z", 3);
        assert_eq!(
            runs,
            vec![
                at("2027-01-01T09:00:00Z"),
                at("2027-01-04T09:00:00Z"),
                at("2027-01-11T09:00:00Z")
            ]
        );
        // the first seven days, and every Monday
        let runs = upcoming("0 0 1-7 * 1", "UTC", "2026-11-08T00:00:00Z", 3);
        assert_eq!(
            runs,
            vec![
                at("2026-11-09T00:00:00Z"),
                at("2026-11-16T00:00:00Z"),
                at("2026-11-23T00:00:00Z")
            ]
        );
        // one field a star: both must match (here: only the weekday counts)
        let n = next("0 9 * * MON", "UTC", "2026-12-28T10:00:00Z");
        assert_eq!(n, at("2027-01-04T09:00:00Z"));
        // `*/2` starts with a star: both must match, as in crontab (an odd
        // day that is a Monday; 2027-01-04 is even)
        let n = next("0 9 */2 * MON", "UTC", "2026-12-28T10:00:00Z");
        assert_eq!(n, at("2027-01-11T09:00:00Z"));
    }

    #[test]
    fn skipped_local_time_runs_once_at_the_jump() {
        // Europe/Berlin jumps from 02:00 CET to 03:00 CEST on 2027-03-28 (01:00 UTC)
        let runs = upcoming("30 2 * * *", "Europe/Berlin", "2027-03-27T12:00:00Z", 3);
        assert_eq!(
            runs,
            vec![
                at("2027-03-28T01:00:00Z"), // 03:00 CEST, the jump
                at("2027-03-29T00:30:00Z"), // 02:30 CEST
                at("2027-03-30T00:30:00Z"),
            ]
        );
        // every 15 minutes through the jump: 01:45 CET, then 03:00 CEST once
        let runs = upcoming("*/15 * * * *", "Europe/Berlin", "2027-03-28T00:40:00Z", 3);
        assert_eq!(
            runs,
            vec![
                at("2027-03-28T00:45:00Z"),
                at("2027-03-28T01:00:00Z"),
                at("2027-03-28T01:15:00Z")
            ]
        );
        // America/New_York jumps from 02:00 EST to 03:00 EDT on 2027-03-14 (07:00 UTC)
        let runs = upcoming("30 2 * * *", "America/New_York", "2027-03-13T12:00:00Z", 2);
        assert_eq!(
            runs,
            vec![at("2027-03-14T07:00:00Z"), at("2027-03-15T06:30:00Z")]
        );
    }

    #[test]
    fn repeated_local_time_runs_once() {
        // Europe/Berlin goes back from 03:00 CEST to 02:00 CET on 2027-10-31 (01:00 UTC)
        let runs = upcoming("30 2 * * *", "Europe/Berlin", "2027-10-30T12:00:00Z", 2);
        assert_eq!(
            runs,
            vec![at("2027-10-31T00:30:00Z"), at("2027-11-01T01:30:00Z")]
        );
        // hourly: 02:00 CEST, then 03:00 CET; 02:00 CET is not run again
        let runs = upcoming("0 * * * *", "Europe/Berlin", "2027-10-30T23:30:00Z", 3);
        assert_eq!(
            runs,
            vec![
                at("2027-10-31T00:00:00Z"),
                at("2027-10-31T02:00:00Z"),
                at("2027-10-31T03:00:00Z")
            ]
        );
        // America/New_York goes back from 02:00 EDT to 01:00 EST on 2027-11-07 (06:00 UTC)
        let runs = upcoming("0 1 * * *", "America/New_York", "2027-11-06T12:00:00Z", 2);
        assert_eq!(
            runs,
            vec![at("2027-11-07T05:00:00Z"), at("2027-11-08T06:00:00Z")]
        );
        // asked during the second 01:xx, the day's run is already behind
        assert_eq!(
            next("30 1 * * *", "America/New_York", "2027-11-07T06:10:00Z"),
            at("2027-11-08T06:30:00Z")
        );
    }

    #[test]
    fn latest_occurrence_for_catch_up() {
        let c = parse("*/15 * * * *").unwrap();
        let tz: Tz = "UTC".parse().unwrap();
        assert_eq!(
            c.latest_at_or_before(at("2026-11-25T12:07:00Z"), tz),
            Some(at("2026-11-25T12:00:00Z"))
        );
        assert_eq!(
            c.latest_at_or_before(at("2026-11-25T12:15:00Z"), tz),
            Some(at("2026-11-25T12:15:00Z"))
        );
        // the skipped 02:30 ran at the jump
        let c = parse("30 2 * * *").unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            c.latest_at_or_before(at("2027-03-28T01:30:00Z"), berlin),
            Some(at("2027-03-28T01:00:00Z"))
        );
        // during the repeated hour, the latest is the first 02:30
        assert_eq!(
            c.latest_at_or_before(at("2027-10-31T01:45:00Z"), berlin),
            Some(at("2027-10-31T00:30:00Z"))
        );
    }

    #[test]
    fn names_nicknames_and_seconds() {
        let n = next("0 9 * * MON-FRI", "UTC", "2026-11-28T00:00:00Z");
        assert_eq!(n.weekday(), Weekday::Mon);
        assert_eq!(
            next("@daily", "UTC", "2026-11-25T10:00:00Z"),
            at("2026-11-26T00:00:00Z")
        );
        assert_eq!(
            next("*/10 * * * * *", "UTC", "2026-11-25T10:00:05Z"),
            at("2026-11-25T10:00:10Z")
        );
        assert_eq!(
            next("0 0 3 * * * 2027", "UTC", "2026-11-25T10:00:00Z"),
            at("2027-01-01T03:00:00Z")
        );
    }

    #[test]
    fn bad_expressions_are_explained() {
        let e = parse("61 * * * *").unwrap_err();
        assert!(e.contains("`61 * * * *`"), "{e}");
        let e = parse("* * *").unwrap_err();
        assert!(e.contains("3 fields"), "{e}");
        assert!(parse("0 9 * * 8").is_err());
        assert!(parse("").is_err());
        assert!(parse("@fortnightly").unwrap_err().contains("@fortnightly"));
    }

    #[test]
    fn an_impossible_date_has_no_occurrence() {
        let c = parse("0 0 31 2 *").unwrap();
        assert_eq!(c.next_after(at("2026-11-25T00:00:00Z"), Tz::UTC), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Every occurrence is after the instant asked about, matches the
        /// expression in local time, and nothing that matches lies between.
        #[test]
        fn next_is_the_first_match(
            min in 0u32..60, hour in 0u32..24, step in 1u32..30,
            offset in 0i64..(3 * 366 * 24 * 60),
            zone in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]),
        ) {
            let tz: Tz = zone.parse().unwrap();
            let start = at("2026-01-01T00:00:00Z") + Duration::minutes(offset);
            for e in [format!("{min} {hour} * * *"), format!("*/{step} * * * *"), format!("{min} */{} 1,15 * MON", step % 12 + 1)] {
                let c = parse(&e).unwrap();
                let n = c.next_after(start, tz).unwrap();
                prop_assert!(n > start);
                // no instant between matches a local time of the expression that is not skipped or repeated
                let mut t = start + Duration::minutes(1);
                let t0 = t.with_second(0).unwrap();
                t = if t0 <= start { t0 + Duration::minutes(1) } else { t0 };
                while t < n {
                    let local = t.with_timezone(&tz).naive_local();
                    let matches = c.day_matches(local.date())
                        && c.hours.contains(&local.hour())
                        && c.minutes.contains(&local.minute());
                    prop_assert!(!matches || resolve(tz, local) != t, "{e}: {t} matches before {n}");
                    t += Duration::minutes(1);
                }
            }
        }
    }
}
