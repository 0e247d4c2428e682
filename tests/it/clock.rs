//! The suite's clock: no test may depend on the real date or time of day.
//!
//! Every `atsd` the tests start runs under libfaketime on a clock moved away
//! from the real one, by default to 23:58 UTC on the last day of the month a
//! year and a day from today: a test that forgets `--now` (its rows stamped
//! "today" beside the test's fixed dates), or that counts on the date or the
//! hour, fails on every run instead of on the day the calendar reaches it,
//! and the first minutes of the suite cross a midnight, a month's end and,
//! once a year, a year's end. The shift is an offset: the moved clock ticks,
//! and the monotonic clock (timers, timeouts, systemd's `MONOTONIC_USEC`)
//! is left alone.
//!
//! - `ATSD_TEST_CLOCK=real`: the real clock, nothing preloaded.
//! - `ATSD_TEST_CLOCK=2030-02-28T23:59:00Z`: moved to that moment.
//!
//! A test that needs "now" (to put times around it, or to compare with what
//! a daemon did by its own clock) reads [`now`], never `Utc::now()`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use std::path::PathBuf;
use std::sync::OnceLock;

struct Clock {
    /// seconds from the real clock to the suite's
    shift: i64,
    /// libfaketime's library, when the clock is moved
    lib: Option<PathBuf>,
}

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| {
        let real = Utc::now();
        let target = match std::env::var("ATSD_TEST_CLOCK").ok().as_deref() {
            Some("real") => None,
            Some(at) if !at.is_empty() => Some(
                DateTime::parse_from_rfc3339(at)
                    .unwrap_or_else(|e| panic!("ATSD_TEST_CLOCK={at}: not RFC 3339 ({e})"))
                    .with_timezone(&Utc),
            ),
            _ => Some(month_end_a_year_ahead(real)),
        };
        let Some(target) = target else {
            return Clock {
                shift: 0,
                lib: None,
            };
        };
        match crate::tools::libfaketime() {
            Some(lib) => {
                let shift = (target - real).num_seconds();
                eprintln!("suite clock: {target} (the real one {shift:+} s)");
                Clock {
                    shift,
                    lib: Some(lib),
                }
            }
            None => {
                assert!(
                    !crate::tools::required(),
                    "no libfaketime to move the suite's clock: run `cargo xtask setup`"
                );
                // tools::every_outside_tool_is_installed names it
                Clock {
                    shift: 0,
                    lib: None,
                }
            }
        }
    })
}

/// 23:58 UTC on the last day of the month a year and a day after `real`.
fn month_end_a_year_ahead(real: DateTime<Utc>) -> DateTime<Utc> {
    let ahead = real + Duration::days(366);
    let (y, m) = if ahead.month() == 12 {
        (ahead.year() + 1, 1)
    } else {
        (ahead.year(), ahead.month() + 1)
    };
    let first_of_next = NaiveDate::from_ymd_opt(y, m, 1).expect("a first of the month");
    let last = first_of_next - Duration::days(1);
    Utc.from_utc_datetime(&last.and_hms_opt(23, 58, 0).expect("23:58"))
}

/// Now on the suite's clock: what an `atsd` started by the tests reads.
pub fn now() -> DateTime<Utc> {
    Utc::now() + Duration::seconds(clock().shift)
}

/// Seconds from the real clock to the suite's: for a helper that cannot
/// run under libfaketime (Python's `time.sleep` sleeps wrongly there) and
/// moves its own clock.
pub fn shift() -> i64 {
    clock().shift
}

/// Puts a command (an `atsd` the test starts) on the suite's clock.
pub fn apply(cmd: &mut std::process::Command) -> &mut std::process::Command {
    let c = clock();
    if let Some(lib) = &c.lib {
        cmd.env("LD_PRELOAD", lib)
            .env("FAKETIME", format!("{:+}", c.shift))
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    }
    cmd
}

/// The suite's clock really reaches `atsd`: what it stamps without `--now`
/// is the moved time, not the real one.
#[test]
fn atsd_runs_on_the_suites_clock() {
    let env = crate::common::Env::new();
    let before = now();
    env.add_posting(1, "Clock");
    let after = now();
    let at = crate::common::block_on(async {
        use sea_orm::EntityTrait;
        let s = env.store().await;
        let p = entity::posting::Entity::find_by_id(1)
            .one(s.conn())
            .await
            .expect("read the posting")
            .expect("posting 1");
        s.close().await.ok();
        p.created_at
    });
    assert!(
        at >= before - Duration::seconds(1) && at <= after + Duration::seconds(1),
        "the posting was stamped {at}, the suite's clock read {before} .. {after}"
    );
}

#[test]
fn the_default_moved_clock_is_a_months_last_minutes_a_year_ahead() {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    assert_eq!(
        month_end_a_year_ahead(t("2026-12-07T00:33:00Z")),
        t("2027-12-31T23:58:00Z")
    );
    assert_eq!(
        month_end_a_year_ahead(t("2027-01-31T12:00:00Z")),
        t("2028-02-29T23:58:00Z")
    );
}
