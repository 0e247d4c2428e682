//! iCalendar objects for iMIP (RFC 6047): one VEVENT in a VCALENDAR whose
//! METHOD is REQUEST (an invitation or its update) or CANCEL, written as RFC
//! 5545 asks — CRLF line ends, content lines folded at 75 octets (never
//! inside a UTF-8 character), TEXT values escaped (`\\`, `\;`, `\,`, `\n`),
//! parameter values quoted with RFC 6868's `^` escapes — so that a hostile
//! name or location stays one value. Times are UTC (`…Z`): no TZID, so no
//! VTIMEZONE is needed.

use chrono::{DateTime, Utc};

/// What the calendar object asks of its recipients (RFC 5546).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// Someone the event names: the organizer, or an attendee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub email: String,
    /// `REQ-PARTICIPANT` for the candidate and the interviewers.
    pub role: &'static str,
}

/// One interview as a calendar event.
#[derive(Clone, Debug)]
pub struct Event {
    pub method: Method,
    pub uid: String,
    pub sequence: i32,
    pub stamp: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub location: Option<String>,
    /// A video call's address (a URI value: written as it is).
    pub url: Option<String>,
    pub description: Option<String>,
    pub organizer: Party,
    pub attendees: Vec<Party>,
}

/// The most octets of a content line before it is folded.
const LINE: usize = 75;

/// The calendar object, ready for a `text/calendar` part or an `.ics` file.
pub fn write(e: &Event) -> String {
    let mut out = String::new();
    let mut line = |s: String| fold_into(&mut out, &s);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line(format!(
        "PRODID:-//atsd//atsd {}//EN",
        env!("CARGO_PKG_VERSION")
    ));
    line("CALSCALE:GREGORIAN".into());
    line(format!("METHOD:{}", e.method.as_str()));
    line("BEGIN:VEVENT".into());
    line(format!("UID:{}", text(&e.uid)));
    line(format!("SEQUENCE:{}", e.sequence));
    line(format!("DTSTAMP:{}", utc(e.stamp)));
    line(format!("DTSTART:{}", utc(e.start)));
    line(format!("DTEND:{}", utc(e.end)));
    line(format!("SUMMARY:{}", text(&e.summary)));
    if let Some(l) = &e.location {
        line(format!("LOCATION:{}", text(l)));
    }
    if let Some(u) = &e.url {
        line(format!("URL:{}", uri(u)));
    }
    if let Some(d) = &e.description {
        line(format!("DESCRIPTION:{}", text(d)));
    }
    line(format!(
        "ORGANIZER;CN={}:mailto:{}",
        param(&e.organizer.name),
        uri(&e.organizer.email)
    ));
    for a in &e.attendees {
        line(format!(
            "ATTENDEE;CN={};ROLE={};PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{}",
            param(&a.name),
            a.role,
            uri(&a.email)
        ));
    }
    line(format!(
        "STATUS:{}",
        match e.method {
            Method::Request => "CONFIRMED",
            Method::Cancel => "CANCELLED",
        }
    ));
    line("TRANSP:OPAQUE".into());
    line("END:VEVENT".into());
    line("END:VCALENDAR".into());
    out
}

/// A UTC DATE-TIME (`20300108T090000Z`).
fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and line
/// breaks escaped; other control characters dropped.
pub fn text(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value, always quoted (RFC 5545 §3.2), with RFC 6868's
/// escapes: `^` → `^^`, `"` → `^'`, a line break → `^n`; other control
/// characters dropped.
pub fn param(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '^' => out.push_str("^^"),
            '"' => out.push_str("^'"),
            '\n' => out.push_str("^n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A URI value as written: control characters and spaces cannot be part of
/// one, so they are dropped (addresses and URLs are checked before).
fn uri(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .collect()
}

/// Appends `line` folded (RFC 5545 §3.1): no physical line over 75 octets,
/// a continuation starting with one space, never splitting a character.
fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > LINE {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(method: Method) -> Event {
        Event {
            method,
            uid: "atsd-interview-7@example.org".into(),
            sequence: 2,
            stamp: Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap(),
            start: Utc.with_ymd_and_hms(2030, 1, 8, 9, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2030, 1, 8, 9, 45, 0).unwrap(),
            summary: "Interview: Senior Platform Engineer".into(),
            location: Some("Room 4; 2nd floor, \"Blue\"".into()),
            url: None,
            description: None,
            organizer: Party {
                name: "Jobs".into(),
                email: "jobs@example.org".into(),
                role: "CHAIR",
            },
            attendees: vec![Party {
                name: "O'Brien; Jr., \"Dev\"\nBCC: x".into(),
                email: "dev@example.net".into(),
                role: "REQ-PARTICIPANT",
            }],
        }
    }

    #[test]
    fn text_values_escape_what_would_end_or_split_them() {
        assert_eq!(text("a\\b;c,d\ne\r\nf"), "a\\\\b\\;c\\,d\\ne\\nf");
        assert_eq!(text("bell\u{7}"), "bell");
        assert_eq!(param("say \"hi\"\n^"), "\"say ^'hi^'^n^^\"");
    }

    #[test]
    fn lines_are_crlf_and_folded_at_75_octets_between_characters() {
        let mut e = event(Method::Request);
        e.summary = "Entrevista: ".to_string() + &"ñandú ".repeat(40);
        let ics = write(&e);
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
            assert!(!l.contains('\n') && !l.contains('\r'));
        }
        // unfolding gives back the one line, characters whole
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{}", text(&e.summary))));
    }

    #[test]
    fn a_hostile_name_stays_one_parameter_and_adds_no_property() {
        let ics = write(&event(Method::Request));
        let unfolded = ics.replace("\r\n ", "");
        let attendee: Vec<&str> = unfolded
            .split("\r\n")
            .filter(|l| l.starts_with("ATTENDEE"))
            .collect();
        assert_eq!(
            attendee,
            [
                "ATTENDEE;CN=\"O'Brien; Jr., ^'Dev^'^nBCC: x\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dev@example.net"
            ]
        );
        assert!(!unfolded.split("\r\n").any(|l| l.starts_with("BCC")));
        assert!(unfolded.contains("LOCATION:Room 4\\; 2nd floor\\, \"Blue\"\r\n"));
    }

    #[test]
    fn a_cancel_says_so_twice() {
        let ics = write(&event(Method::Cancel));
        assert!(ics.contains("\r\nMETHOD:CANCEL\r\n"));
        assert!(ics.contains("\r\nSTATUS:CANCELLED\r\n"));
        assert!(ics.contains("\r\nSEQUENCE:2\r\n"));
        assert!(ics.contains("\r\nDTSTART:20300108T090000Z\r\n"));
    }
}
