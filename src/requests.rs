//! Data-subject requests and their legal clocks, in `[schedule] timezone`:
//!
//! - **GDPR** (Art. 12(3)): one month from receipt, read as the EDPB reads
//!   Regulation 1182/71 — the same date of the next month (received 5 March,
//!   due 5 April; received 31 January, due on February's last day) —, moved
//!   to the Monday when it falls on a Saturday or Sunday; one extension by
//!   two further months (due three months after receipt, by the same rule),
//!   only before the due date and with a reason.
//! - **CCPA** (Cal. Code Regs. tit. 11 § 7021): acknowledge within 10
//!   business days (Monday to Friday), answer within 45 calendar days; one
//!   extension by 45 more.
//!
//! A request is due at the end of its due date, local time.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// The kinds of request.
pub const KINDS: [&str; 5] = [
    "access",
    "erasure",
    "rectification",
    "restriction",
    "objection",
];

/// The laws whose clocks atsd keeps.
pub const LAWS: [&str; 2] = ["gdpr", "ccpa"];

/// How close a due date makes a request "due soon".
pub const DUE_SOON_DAYS: i64 = 7;

/// The same date `months` later, or that month's last day when it has no
/// such date.
fn same_date_months_later(d: NaiveDate, months: u32) -> NaiveDate {
    // chrono clamps to the month's last day
    d.checked_add_months(Months::new(months)).unwrap_or(d)
}

/// Saturday and Sunday move to the Monday after.
fn weekday_or_monday(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d + Days::new(2),
        Weekday::Sun => d + Days::new(1),
        _ => d,
    }
}

/// `n` business days (Monday to Friday) after `d`.
fn business_days_after(d: NaiveDate, n: u32) -> NaiveDate {
    let mut day = d;
    let mut left = n;
    while left > 0 {
        day = day + Days::new(1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    day
}

/// The local due date of a request received on `received` (local date):
/// `(due, acknowledge by)`; `extended` with its one extension.
pub fn due_dates(law: &str, received: NaiveDate, extended: bool) -> (NaiveDate, Option<NaiveDate>) {
    match law {
        "ccpa" => (
            received + Days::new(if extended { 90 } else { 45 }),
            Some(business_days_after(received, 10)),
        ),
        _ => (
            weekday_or_monday(same_date_months_later(
                received,
                if extended { 3 } else { 1 },
            )),
            None,
        ),
    }
}

/// The end of local date `d` in `tz`, as UTC (the last second of the day).
pub fn end_of(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let next = d + Days::new(1);
    let midnight = next.and_hms_opt(0, 0, 0).unwrap_or_default();
    let local = tz
        .from_local_datetime(&midnight)
        .earliest()
        // a midnight that a time change skips: the hour after
        .or_else(|| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight));
    local - chrono::Duration::seconds(1)
}

/// A request's deadlines as UTC instants: `(due_at, acknowledge_by)`.
pub fn deadlines(
    law: &str,
    received_at: DateTime<Utc>,
    extended: bool,
    tz: Tz,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let received = received_at.with_timezone(&tz).date_naive();
    let (due, ack) = due_dates(law, received, extended);
    (end_of(due, tz), ack.map(|a| end_of(a, tz)))
}

/// `open`, `due_soon` (within [`DUE_SOON_DAYS`]) or `overdue`, of an open
/// request at `now`.
pub fn urgency(due_at: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
    if due_at < now {
        "overdue"
    } else if due_at - now <= chrono::Duration::days(DUE_SOON_DAYS) {
        "due_soon"
    } else {
        "open"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a date")
    }

    #[test]
    fn gdpr_is_the_same_date_next_month_moved_off_weekends() {
        // 5 March 2026 (Thursday) → 5 April 2026 is a Sunday → Monday 6 April
        assert_eq!(due_dates("gdpr", d(2026, 3, 5), false).0, d(2026, 4, 6));
        // 31 January 2026 → 28 February 2026 is a Saturday → Monday 2 March
        assert_eq!(due_dates("gdpr", d(2026, 1, 31), false).0, d(2026, 3, 2));
        // 31 January 2028 (leap year) → Tuesday 29 February
        assert_eq!(due_dates("gdpr", d(2028, 1, 31), false).0, d(2028, 2, 29));
        // 10 June 2026 → Friday 10 July
        assert_eq!(due_dates("gdpr", d(2026, 6, 10), false).0, d(2026, 7, 10));
        // extended: three months after receipt
        assert_eq!(due_dates("gdpr", d(2026, 6, 10), true).0, d(2026, 9, 10));
        assert_eq!(due_dates("gdpr", d(2026, 6, 10), false).1, None);
    }

    #[test]
    fn ccpa_is_45_days_and_10_business_days_to_acknowledge() {
        // Friday 4 December 2026: +45 → 18 January 2027; 10 business days → Friday 18 December
        assert_eq!(
            due_dates("ccpa", d(2026, 12, 4), false),
            (d(2027, 1, 18), Some(d(2026, 12, 18)))
        );
        assert_eq!(due_dates("ccpa", d(2026, 12, 4), true).0, d(2027, 3, 4));
    }

    #[test]
    fn a_due_date_ends_at_local_midnight() {
        let tz: Tz = "Europe/Berlin".parse().expect("a zone");
        // winter: UTC+1
        assert_eq!(
            end_of(d(2026, 12, 7), tz).to_rfc3339(),
            "2026-12-07T22:59:59+00:00"
        );
        // received at 23:30 UTC on 4 March = 00:30 on 5 March in Berlin
        let at = Utc
            .with_ymd_and_hms(2026, 3, 4, 23, 30, 0)
            .single()
            .expect("a time");
        assert_eq!(
            deadlines("gdpr", at, false, tz).0.to_rfc3339(),
            "2026-04-06T21:59:59+00:00"
        );
    }

    /// An independent reckoning: months counted by hand with a table of
    /// month lengths, weekdays by Zeller's congruence, days added one by
    /// one.
    fn month_len(y: i32, m: u32) -> u32 {
        match m {
            4 | 6 | 9 | 11 => 30,
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            _ => 31,
        }
    }

    /// 0 = Saturday … 6 = Friday.
    fn zeller(y: i32, m: u32, day: u32) -> u32 {
        let (y, m) = if m < 3 { (y - 1, m + 12) } else { (y, m) };
        let (k, j) = (y.rem_euclid(100), y.div_euclid(100));
        ((day as i32 + (13 * (m as i32 + 1)) / 5 + k + k / 4 + j / 4 + 5 * j).rem_euclid(7)) as u32
    }

    fn add_days(mut y: i32, mut m: u32, mut day: u32, n: u32) -> (i32, u32, u32) {
        for _ in 0..n {
            day += 1;
            if day > month_len(y, m) {
                day = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        (y, m, day)
    }

    fn reference(law: &str, y: i32, m: u32, day: u32, extended: bool) -> (i32, u32, u32) {
        if law == "ccpa" {
            return add_days(y, m, day, if extended { 90 } else { 45 });
        }
        let months = if extended { 3 } else { 1 };
        let (mut ty, mut tm) = (y, m + months);
        if tm > 12 {
            tm -= 12;
            ty += 1;
        }
        let td = day.min(month_len(ty, tm));
        match zeller(ty, tm, td) {
            0 => add_days(ty, tm, td, 2),
            1 => add_days(ty, tm, td, 1),
            _ => (ty, tm, td),
        }
    }

    fn reference_ack(y: i32, m: u32, day: u32) -> (i32, u32, u32) {
        let (mut at, mut left) = ((y, m, day), 10);
        while left > 0 {
            at = add_days(at.0, at.1, at.2, 1);
            if !matches!(zeller(at.0, at.1, at.2), 0 | 1) {
                left -= 1;
            }
        }
        at
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Thousands of receipt dates over 2026–2032 (month ends, leap
        /// years, weekends): both laws, with and without the extension,
        /// agree with the independent reckoning.
        #[test]
        fn due_dates_agree_with_an_independent_reckoning(
            y in 2026i32..=2032,
            m in 1u32..=12,
            day_seed in 0u32..31,
            extended in proptest::bool::ANY,
        ) {
            let day = 1 + day_seed % month_len(y, m);
            let received = d(y, m, day);
            for law in LAWS {
                let (due, ack) = due_dates(law, received, extended);
                let (ry, rm, rd) = reference(law, y, m, day, extended);
                proptest::prop_assert_eq!(due, d(ry, rm, rd), "{} {}", law, received);
                if law == "ccpa" {
                    let (ay, am, ad) = reference_ack(y, m, day);
                    proptest::prop_assert_eq!(ack, Some(d(ay, am, ad)));
                } else {
                    proptest::prop_assert!(!matches!(due.weekday(), Weekday::Sat | Weekday::Sun));
                }
            }
        }
    }
}
