//! When interviewers can meet: weekly windows read in each person's time
//! zone, minus what their private busy feed says (iCalendar: `RRULE`,
//! `EXDATE`, `RECURRENCE-ID`, `TZID`, all-day events) and the interviews
//! atsd already booked them for; and the slots in which a whole panel is
//! free.
//!
//! Everything here is computed on UTC instants, so that a slot is never
//! one a daylight-saving change skips or repeats: a window's local start
//! that the clocks skip begins when the clocks resume, and a local time
//! that happens twice is taken at its first occurrence for a start and its
//! second for an end. A slot is a start on the quarter-hour grid of UTC
//! such that, for every interviewer, `[start, start + duration]` lies in
//! one of their (merged) windows and `[start - buffer, start + duration +
//! buffer)` meets none of their busy times; it starts no earlier than the
//! notice allows and ends within the range offered.

use crate::error::{Error, Result};
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// A span of time, `[start, end)`.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// The grid slots start on.
pub const STEP_MINUTES: i64 = 15;
/// The most busy times one feed may give over the horizon read.
pub const MAX_BUSY: usize = 20_000;
/// The most occurrences one recurring event gives.
const MAX_OCCURRENCES: u16 = 5_000;

/// One weekly window: on these days, from..to, local time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    /// `None`: midnight at the end of the day (`24:00`).
    pub to: Option<NaiveTime>,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

fn day(s: &str) -> Option<Weekday> {
    let s = s.trim().to_ascii_lowercase();
    DAYS.iter()
        .find(|(n, _)| s.len() >= 3 && n.starts_with(&s[..3]) && (s.len() == 3 || n.len() >= 3))
        .map(|(_, d)| *d)
}

impl Window {
    /// `Mon-Fri 09:00-17:00`, `Sat 10:00-12:00`, `Mon,Wed-Thu 13:00-24:00`.
    pub fn parse(spec: &str) -> Result<Window> {
        let bad = |why: &str| {
            Error::input(format!(
                "--weekly `{spec}`: {why} (write e.g. \"Mon-Fri 09:00-17:00\")"
            ))
        };
        let (days_part, times) = spec
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad("days, then a time range"))?;
        let mut days = Vec::new();
        for part in days_part.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        day(a).ok_or_else(|| bad(&format!("`{a}` is not a day")))?,
                        day(b).ok_or_else(|| bad(&format!("`{b}` is not a day")))?,
                    );
                    let mut d = a;
                    loop {
                        days.push(d);
                        if d == b {
                            break;
                        }
                        d = d.succ();
                    }
                }
                None => days.push(day(part).ok_or_else(|| bad(&format!("`{part}` is not a day")))?),
            }
        }
        days.sort_by_key(|d| d.num_days_from_monday());
        days.dedup();
        let (from, to) = times
            .trim()
            .split_once('-')
            .ok_or_else(|| bad("a time range HH:MM-HH:MM"))?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
        let from = time(from).ok_or_else(|| bad(&format!("`{from}` is not HH:MM")))?;
        let to = match to.trim() {
            "24:00" => None,
            t => Some(time(t).ok_or_else(|| bad(&format!("`{t}` is not HH:MM")))?),
        };
        if to.is_some_and(|t| t <= from) {
            return Err(bad("the end is not after the start"));
        }
        Ok(Window { days, from, to })
    }

    /// The window as it is written back.
    pub fn spec(&self) -> String {
        let names: Vec<&str> = self
            .days
            .iter()
            .map(|d| {
                DAYS.iter()
                    .find(|(_, x)| x == d)
                    .map(|(n, _)| *n)
                    .unwrap_or("mon")
            })
            .map(|n| match n {
                "mon" => "Mon",
                "tue" => "Tue",
                "wed" => "Wed",
                "thu" => "Thu",
                "fri" => "Fri",
                "sat" => "Sat",
                _ => "Sun",
            })
            .collect();
        format!(
            "{} {}-{}",
            names.join(","),
            self.from.format("%H:%M"),
            self.to
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_else(|| "24:00".into())
        )
    }
}

/// A local time in `tz` as an instant: a skipped time is when the clocks
/// resume; a repeated one its first occurrence (`late`: its second).
pub fn instant(tz: Tz, local: NaiveDateTime, late: bool) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => if late { b } else { a }.with_timezone(&Utc),
        LocalResult::None => {
            // read with the offset in force before the gap: the instant
            // the clocks jumped past it
            let before = tz
                .offset_from_utc_datetime(&(local - Duration::hours(6)))
                .fix();
            Utc.from_utc_datetime(&(local - before))
        }
    }
}

/// Sorted, merged spans (overlapping or touching ones joined).
pub fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|(a, b)| a < b);
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The weekly windows of a person in `tz` as instants over `[from, until)`.
pub fn windows(weekly: &[Window], tz: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Span> {
    let first = from.with_timezone(&tz).date_naive() - Duration::days(1);
    let last = until.with_timezone(&tz).date_naive() + Duration::days(1);
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        for w in weekly.iter().filter(|w| w.days.contains(&d.weekday())) {
            let start = instant(tz, d.and_time(w.from), false);
            let end = match w.to {
                Some(t) => instant(tz, d.and_time(t), true),
                None => instant(tz, (d + Duration::days(1)).and_time(NaiveTime::MIN), true),
            };
            if start < until && end > from {
                out.push((start, end));
            }
        }
        d += Duration::days(1);
    }
    merge(out)
}

/// The busy times a calendar feed gives over `[from, until)`: every event
/// that is neither cancelled nor transparent, recurring ones expanded
/// (`RRULE`, `RDATE`, `EXDATE`, moved occurrences by `RECURRENCE-ID`);
/// floating and all-day times are read in `tz`. The error says what is
/// wrong with the feed.
pub fn busy_times(
    ics: &str,
    tz: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> std::result::Result<Vec<Span>, String> {
    let unfolded = icalendar::parser::unfold(ics);
    let cal = icalendar::parser::read_calendar(&unfolded).map_err(|e| {
        format!(
            "not an iCalendar feed: {}",
            e.lines().take(3).collect::<Vec<_>>().join(" ")
        )
    })?;
    let events: Vec<&icalendar::parser::Component<'_>> = cal
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .collect();
    if events.is_empty()
        && !cal.components.iter().any(|c| c.name == "VTIMEZONE")
        && cal.properties.is_empty()
    {
        return Err("not an iCalendar feed: no VCALENDAR".into());
    }
    // occurrences moved or cancelled one by one: (UID, original start)
    let mut overridden: std::collections::HashSet<(String, DateTime<Utc>)> = Default::default();
    for e in &events {
        if let (Some(uid), Some(rid)) = (prop(e, "UID"), e.find_prop("RECURRENCE-ID"))
            && let Some(t) = when(rid, tz)
        {
            overridden.insert((uid.to_string(), t.start));
        }
    }
    let mut out = Vec::new();
    for e in events {
        if prop(e, "STATUS").is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"))
            || prop(e, "TRANSP").is_some_and(|s| s.eq_ignore_ascii_case("TRANSPARENT"))
        {
            continue;
        }
        let Some(start_prop) = e.find_prop("DTSTART") else {
            continue;
        };
        let Some(start) = when(start_prop, tz) else {
            return Err(format!(
                "an event's DTSTART `{}` is not a date or time",
                start_prop.val.as_str()
            ));
        };
        let length = match (
            e.find_prop("DTEND").and_then(|p| when(p, tz)),
            prop(e, "DURATION"),
        ) {
            (Some(end), _) => end.start - start.start,
            (None, Some(d)) => {
                duration(d).ok_or_else(|| format!("DURATION `{d}` is not a duration"))?
            }
            (None, None) if start.all_day => Duration::days(1),
            (None, None) => Duration::zero(),
        };
        if length <= Duration::zero() {
            continue;
        }
        let uid = prop(e, "UID").unwrap_or("").to_string();
        let recurring = e.find_prop("RRULE").is_some() || e.find_prop("RDATE").is_some();
        if !recurring || e.find_prop("RECURRENCE-ID").is_some() {
            if start.start < until && start.start + length > from {
                out.push((start.start, start.start + length));
            }
        } else {
            for s in occurrences(e, &start, tz, from - length, until)? {
                if !overridden.contains(&(uid.clone(), s)) {
                    out.push((s, s + length));
                }
            }
        }
        if out.len() > MAX_BUSY {
            return Err(format!("more than {MAX_BUSY} busy times in the weeks read"));
        }
    }
    Ok(merge(out))
}

fn prop<'a>(c: &'a icalendar::parser::Component<'_>, name: &str) -> Option<&'a str> {
    c.find_prop(name).map(|p| p.val.as_str().trim())
}

fn param<'a>(p: &'a icalendar::parser::Property<'_>, key: &str) -> Option<&'a str> {
    p.params
        .iter()
        .find(|x| x.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|x| x.val.as_ref())
        .map(|v| v.as_str().trim_matches('"'))
}

/// A DTSTART-like time: its instant, its zone, and whether it is a date.
struct When {
    start: DateTime<Utc>,
    zone: Zone,
    all_day: bool,
    local: NaiveDateTime,
}

enum Zone {
    Utc,
    Tz(Tz),
}

fn when(p: &icalendar::parser::Property<'_>, tz: Tz) -> Option<When> {
    // a list (RDATE, EXDATE) gives its first here
    let v = p.val.as_str().split(',').next()?.trim();
    let date_only =
        param(p, "VALUE").is_some_and(|x| x.eq_ignore_ascii_case("DATE")) || v.len() == 8;
    if date_only {
        let d = NaiveDate::parse_from_str(v, "%Y%m%d").ok()?;
        let local = d.and_time(NaiveTime::MIN);
        return Some(When {
            start: instant(tz, local, false),
            zone: Zone::Tz(tz),
            all_day: true,
            local,
        });
    }
    if let Some(u) = v.strip_suffix('Z') {
        let local = NaiveDateTime::parse_from_str(u, "%Y%m%dT%H%M%S").ok()?;
        return Some(When {
            start: Utc.from_utc_datetime(&local),
            zone: Zone::Utc,
            all_day: false,
            local,
        });
    }
    let local = NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S").ok()?;
    // a zone atsd does not know (a Windows name, say) is read as the
    // person's own
    let zone = param(p, "TZID")
        .and_then(|z| z.trim_start_matches('/').parse::<Tz>().ok())
        .unwrap_or(tz);
    Some(When {
        start: instant(zone, local, false),
        zone: Zone::Tz(zone),
        all_day: false,
        local,
    })
}

/// `PT1H30M`, `P1D`, `-PT15M` (negative: none).
fn duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.starts_with('-') {
        return Some(Duration::zero());
    }
    let s = s.strip_prefix('+').unwrap_or(s).strip_prefix('P')?;
    let mut total = Duration::zero();
    let mut n = String::new();
    let mut in_time = false;
    for c in s.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' => n.push(c),
            unit => {
                let v: i64 = n.parse().ok()?;
                n.clear();
                total += match (unit, in_time) {
                    ('W', false) => Duration::weeks(v),
                    ('D', false) => Duration::days(v),
                    ('H', true) => Duration::hours(v),
                    ('M', true) => Duration::minutes(v),
                    ('S', true) => Duration::seconds(v),
                    _ => return None,
                };
            }
        }
    }
    n.is_empty().then_some(total)
}

/// The starts of a recurring event in `[from, until)`, by the rrule crate.
fn occurrences(
    e: &icalendar::parser::Component<'_>,
    start: &When,
    tz: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> std::result::Result<Vec<DateTime<Utc>>, String> {
    let stamp = |w: &When| match w.zone {
        Zone::Utc => format!("{}Z", w.local.format("%Y%m%dT%H%M%S")),
        Zone::Tz(z) => format!("TZID={}:{}", z.name(), w.local.format("%Y%m%dT%H%M%S")),
    };
    let dtstart = match start.zone {
        Zone::Utc => format!("DTSTART:{}", stamp(start)),
        Zone::Tz(_) => format!("DTSTART;{}", stamp(start)),
    };
    let mut lines = vec![dtstart];
    for p in e.properties.iter() {
        let name = p.name.as_str().to_ascii_uppercase();
        match name.as_str() {
            "RRULE" => lines.push(format!("RRULE:{}", p.val.as_str().trim())),
            "EXDATE" | "RDATE" => {
                for v in p.val.as_str().split(',') {
                    let one = icalendar::parser::Property {
                        name: p.name.clone(),
                        val: icalendar::parser::ParseString::from(v.trim().to_string()),
                        params: p.params.clone(),
                    };
                    let Some(w) = when(&one, tz) else { continue };
                    // a date in a timed series means that day's occurrence
                    let w = if w.all_day && !start.all_day {
                        When {
                            local: w.local.date().and_time(start.local.time()),
                            start: w.start,
                            zone: match start.zone {
                                Zone::Utc => Zone::Utc,
                                Zone::Tz(z) => Zone::Tz(z),
                            },
                            all_day: false,
                        }
                    } else {
                        w
                    };
                    lines.push(match w.zone {
                        Zone::Utc => format!("{name}:{}", stamp(&w)),
                        Zone::Tz(_) => format!("{name};{}", stamp(&w)),
                    });
                }
            }
            _ => {}
        }
    }
    let set: rrule::RRuleSet = lines
        .join("\n")
        .parse()
        .map_err(|e| format!("a recurring event cannot be read: {e}"))?;
    let rtz = rrule::Tz::UTC;
    let set = set
        .after(from.with_timezone(&rtz))
        .before(until.with_timezone(&rtz));
    Ok(set
        .all(MAX_OCCURRENCES)
        .dates
        .into_iter()
        .map(|d| d.with_timezone(&Utc))
        .filter(|d| *d >= from && *d < until)
        .collect())
}

/// One interviewer as the slots see them: their windows and busy times
/// over the range (busy ones already widened by nothing: the buffer is the
/// offer's).
pub struct Free {
    pub windows: Vec<Span>,
    pub busy: Vec<Span>,
}

/// What is offered: how long, between when, with what buffer.
#[derive(Clone, Copy, Debug)]
pub struct Ask {
    pub minutes: i64,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub buffer_minutes: i64,
}

/// The slots in which every one of `panel` is free (see the module's
/// words), at most `max`.
pub fn slots(panel: &[Free], ask: Ask, max: usize) -> Vec<DateTime<Utc>> {
    let d = Duration::minutes(ask.minutes);
    let buffer = Duration::minutes(ask.buffer_minutes);
    let step = STEP_MINUTES * 60;
    let mut t = ask.from.timestamp();
    t = (t + step - 1).div_euclid(step) * step;
    let mut out = Vec::new();
    let Some(mut s) = DateTime::from_timestamp(t, 0) else {
        return out;
    };
    while s + d <= ask.until && out.len() < max {
        let fits = panel.iter().all(|p| {
            p.windows.iter().any(|(a, b)| *a <= s && s + d <= *b)
                && !p
                    .busy
                    .iter()
                    .any(|(a, b)| *a < s + d + buffer && s - buffer < *b)
        });
        if fits {
            out.push(s);
        }
        s += Duration::minutes(STEP_MINUTES);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekly_windows_are_read_and_bad_ones_named() {
        let w = Window::parse("Mon-Wed,Fri 09:00-17:30").unwrap();
        assert_eq!(
            w.days,
            [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Fri]
        );
        assert_eq!(w.spec(), "Mon,Tue,Wed,Fri 09:00-17:30");
        assert_eq!(Window::parse("sat 22:00-24:00").unwrap().to, None);
        for (bad, says) in [
            ("Funday 09:00-10:00", "`Funday` is not a day"),
            ("Mon 9-10", "is not HH:MM"),
            ("Mon 10:00-09:00", "not after the start"),
            ("Mon", "days, then a time range"),
        ] {
            let e = Window::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_window_across_a_daylight_saving_change_keeps_its_local_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let w = [Window::parse("Fri-Mon 09:00-10:00").unwrap()];
        let got = windows(
            &w,
            tz,
            utc("2030-03-29T00:00:00Z"),
            utc("2030-04-02T00:00:00Z"),
        );
        let starts: Vec<String> = got.iter().map(|(a, _)| a.to_rfc3339()).collect();
        // 09:00 CET is 08:00 UTC until Sunday 31 March, then 07:00 UTC
        assert_eq!(
            starts,
            [
                "2030-03-29T08:00:00+00:00",
                "2030-03-30T08:00:00+00:00",
                "2030-03-31T07:00:00+00:00",
                "2030-04-01T07:00:00+00:00"
            ]
        );
        // a window starting in the skipped hour begins when the clocks resume
        let skipped = windows(
            &[Window::parse("Sun 02:30-04:00").unwrap()],
            tz,
            utc("2030-03-30T00:00:00Z"),
            utc("2030-04-01T00:00:00Z"),
        );
        assert_eq!(
            skipped,
            [(utc("2030-03-31T01:30:00Z"), utc("2030-03-31T02:00:00Z"))]
        );
    }

    #[test]
    fn busy_feeds_expand_rules_exceptions_zones_and_all_day_events() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
            BEGIN:VEVENT\r\nUID:weekly\r\nDTSTART;TZID=Europe/Berlin:20300304T100000\r\nDTEND;TZID=Europe/Berlin:20300304T110000\r\n\
            RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/Berlin:20300311T100000\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:weekly\r\nRECURRENCE-ID;TZID=Europe/Berlin:20300318T100000\r\n\
            DTSTART;TZID=Europe/Berlin:20300318T150000\r\nDTEND;TZID=Europe/Berlin:20300318T160000\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:holiday\r\nDTSTART;VALUE=DATE:20300320\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:free\r\nTRANSP:TRANSPARENT\r\nDTSTART:20300305T120000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
            END:VCALENDAR\r\n";
        let got = busy_times(
            ics,
            tz,
            utc("2030-03-01T00:00:00Z"),
            utc("2030-04-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            got,
            [
                (utc("2030-03-04T09:00:00Z"), utc("2030-03-04T10:00:00Z")),
                // the 11th is excepted, the 18th moved to the afternoon
                (utc("2030-03-18T14:00:00Z"), utc("2030-03-18T15:00:00Z")),
                // New York's day, in daylight saving time since 10 March
                (utc("2030-03-20T04:00:00Z"), utc("2030-03-21T04:00:00Z")),
                (utc("2030-03-25T09:00:00Z"), utc("2030-03-25T10:00:00Z")),
            ]
        );
        assert!(
            busy_times(
                "hello",
                tz,
                utc("2030-03-01T00:00:00Z"),
                utc("2030-04-01T00:00:00Z")
            )
            .is_err()
        );
    }

    #[test]
    fn a_slot_needs_every_interviewer_free_with_the_buffer() {
        let a = Free {
            windows: vec![(utc("2030-01-07T09:00:00Z"), utc("2030-01-07T12:00:00Z"))],
            busy: vec![(utc("2030-01-07T10:00:00Z"), utc("2030-01-07T10:30:00Z"))],
        };
        let b = Free {
            windows: vec![(utc("2030-01-07T08:00:00Z"), utc("2030-01-07T11:00:00Z"))],
            busy: vec![],
        };
        let got = slots(
            &[a, b],
            Ask {
                minutes: 30,
                from: utc("2030-01-07T00:00:00Z"),
                until: utc("2030-01-08T00:00:00Z"),
                buffer_minutes: 15,
            },
            100,
        );
        let got: Vec<String> = got.iter().map(|t| t.format("%H:%M").to_string()).collect();
        // 09:30 meets the busy half hour with its buffer; from 10:30 on the
        // buffer after it, and then the second interviewer's end at 11:00
        assert_eq!(got, ["09:00", "09:15"]);
    }
}
