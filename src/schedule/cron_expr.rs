//! Cron expressions: the 5-field crontab form operators know
//! (`min hour day-of-month month day-of-week`, Sunday = 0 or 7) and the forms
//! with seconds (6 or 7 fields) that the `cron` crate reads. A 5-field
//! expression is converted: a `0` seconds field is prepended and numeric days
//! of the week are shifted to the crate's numbering (Sunday = 1). Pure.

use chrono::{DateTime, TimeZone};
use std::str::FromStr;

#[derive(Clone, Debug)]
pub struct CronExpr {
    /// As written in the configuration.
    pub source: String,
    schedule: cron::Schedule,
}

impl CronExpr {
    /// The first occurrence strictly after `after`, in `after`'s time zone.
    pub fn next_after<Z: TimeZone>(&self, after: &DateTime<Z>) -> Option<DateTime<Z>> {
        self.schedule.after(after).next()
    }
}

/// Parses `expr`; the error says what is wrong with it.
pub fn parse(expr: &str) -> Result<CronExpr, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let converted = match fields.len() {
        0 => return Err("empty cron expression".into()),
        1 if fields[0].starts_with('@') => fields[0].to_string(),
        5 => {
            let dow = convert_dow(fields[4])?;
            format!(
                "0 {} {} {} {} {dow}",
                fields[0], fields[1], fields[2], fields[3]
            )
        }
        6 | 7 => fields.join(" "),
        n => {
            return Err(format!(
                "cron expression `{expr}` has {n} fields: write 5 (min hour day month weekday) or 6-7 with seconds"
            ));
        }
    };
    let schedule = cron::Schedule::from_str(&converted)
        .map_err(|e| format!("invalid cron expression `{expr}`: {e}"))?;
    Ok(CronExpr {
        source: expr.to_string(),
        schedule,
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
    use chrono::{Datelike, Timelike, Utc, Weekday};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_field_every_fifteen_minutes() {
        let c = parse("*/15 * * * *").unwrap();
        let n = c.next_after(&at("2026-11-25T10:07:00Z")).unwrap();
        assert_eq!(n, at("2026-11-25T10:15:00Z"));
    }

    #[test]
    fn crontab_weekday_numbers_mean_what_crontab_means() {
        // 1-5 is Monday to Friday in crontab. 2026-11-28 is a Saturday.
        let c = parse("0 9 * * 1-5").unwrap();
        let n = c.next_after(&at("2026-11-28T00:00:00Z")).unwrap();
        assert_eq!(n.weekday(), Weekday::Mon);
        assert_eq!(n.hour(), 9);
        // 0 and 7 are Sunday.
        for e in ["0 9 * * 0", "0 9 * * 7"] {
            let n = parse(e)
                .unwrap()
                .next_after(&at("2026-11-25T00:00:00Z"))
                .unwrap();
            assert_eq!(n.weekday(), Weekday::Sun, "{e}");
        }
        // 5-7 is Friday, Saturday, Sunday.
        let c = parse("0 9 * * 5-7").unwrap();
        let days: Vec<Weekday> = c
            .schedule
            .after(&at("2026-11-23T00:00:00Z"))
            .take(3)
            .map(|d| d.weekday())
            .collect();
        assert_eq!(days, vec![Weekday::Fri, Weekday::Sat, Weekday::Sun]);
    }

    #[test]
    fn names_pass_through() {
        let c = parse("0 9 * * MON-FRI").unwrap();
        let n = c.next_after(&at("2026-11-28T00:00:00Z")).unwrap();
        assert_eq!(n.weekday(), Weekday::Mon);
    }

    #[test]
    fn seconds_forms_are_accepted() {
        parse("*/10 * * * * *").unwrap();
        parse("0 0 3 * * * 2027").unwrap();
    }

    #[test]
    fn bad_expressions_are_explained() {
        let e = parse("61 * * * *").unwrap_err();
        assert!(e.contains("`61 * * * *`"), "{e}");
        let e = parse("* * *").unwrap_err();
        assert!(e.contains("3 fields"), "{e}");
        assert!(parse("0 9 * * 8").is_err());
        assert!(parse("").is_err());
    }
}
