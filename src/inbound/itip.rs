//! iTIP replies (RFC 5546 §3.2.3) in mail (RFC 6047): an attendee's
//! calendar answering an invitation with `METHOD:REPLY`, one VEVENT whose
//! `ATTENDEE` carries their `PARTSTAT`. Only what atsd needs is read: the
//! UID, the SEQUENCE, the attendee's address and answer.

use mail_parser::{Message, MimeHeaders};

/// One attendee's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub uid: String,
    pub sequence: i64,
    /// The attendee's address, lower-cased, without `mailto:`.
    pub attendee: String,
    /// `accepted`, `declined` or `tentative`.
    pub partstat: String,
}

/// The iTIP REPLY a message carries, if any.
pub fn read(msg: &Message<'_>) -> Option<Reply> {
    msg.parts.iter().find_map(|p| {
        let calendar = p.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("text")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
        });
        if !calendar {
            return None;
        }
        parse(&String::from_utf8_lossy(p.contents()))
    })
}

/// Reads a calendar object's text.
pub fn parse(text: &str) -> Option<Reply> {
    // unfold (RFC 5545 §3.1): a line break followed by a space or tab
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    let mut method = None;
    let (mut uid, mut sequence, mut attendee, mut partstat) = (None, 0, None, None);
    let mut in_event = false;
    for line in unfolded.lines() {
        let line = line.trim_end_matches('\r');
        let (name, params, value) = split(line)?;
        match (name.as_str(), in_event) {
            ("METHOD", false) => method = Some(value.trim().to_ascii_uppercase()),
            ("BEGIN", _) if value.eq_ignore_ascii_case("VEVENT") => in_event = true,
            ("END", true) if value.eq_ignore_ascii_case("VEVENT") => break,
            ("UID", true) => uid = Some(value.trim().to_string()),
            ("SEQUENCE", true) => sequence = value.trim().parse().unwrap_or(0),
            ("ATTENDEE", true) if attendee.is_none() => {
                let address = value.trim();
                let address = address
                    .get(..7)
                    .filter(|p| p.eq_ignore_ascii_case("mailto:"))
                    .map(|_| &address[7..])
                    .unwrap_or(address);
                attendee = Some(address.trim().to_ascii_lowercase());
                partstat = params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("PARTSTAT"))
                    .map(|(_, v)| v.trim_matches('"').to_ascii_lowercase());
            }
            _ => {}
        }
    }
    if method.as_deref() != Some("REPLY") {
        return None;
    }
    let partstat =
        partstat.filter(|p| matches!(p.as_str(), "accepted" | "declined" | "tentative"))?;
    Some(Reply {
        uid: uid.filter(|u| !u.is_empty())?,
        sequence,
        attendee: attendee.filter(|a| a.contains('@'))?,
        partstat,
    })
}

/// A content line: its name, parameters and value.
type Line = (String, Vec<(String, String)>, String);

/// `NAME;P=V;Q="a:b":value` → (NAME, [(P, V), (Q, "a:b")], value), the
/// colon inside quotes not taken for the value's.
fn split(line: &str) -> Option<Line> {
    if line.is_empty() {
        return Some((String::new(), Vec::new(), String::new()));
    }
    let mut quoted = false;
    let mut colon = None;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(colon) = colon else {
        // not a property line: ignored
        return Some((String::new(), Vec::new(), String::new()));
    };
    let (head, value) = (&line[..colon], &line[colon + 1..]);
    let mut parts = head.split(';');
    let name = parts.next()?.trim().to_ascii_uppercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some((name, params, value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Adversarial calendars — folds after every character, quoted
        /// parameters that never close, colons and semicolons without end —
        /// repeated many times: a reply or none, never a panic; and a
        /// reply's folds do not change what it says.
        #[test]
        fn adversarial_calendars_are_read_or_ignored(
            units in proptest::collection::vec(
                proptest::sample::select(vec!["\r\n ", "\r\n\t", "\n ", ";", ":", "\"", "=", "ATTENDEE", "x", "\r\n"]),
                0..300,
            ),
            times in 1usize..60,
        ) {
            let noise: String = units.concat().repeat(times);
            let _ = parse(&noise);
            let text = format!(
                "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u@x\r\nCOMMENT:{noise}\r\n\
                 ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@b\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            );
            let _ = parse(&text);
        }
    }

    #[test]
    fn a_reply_names_its_event_its_attendee_and_the_answer() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n\
UID:atsd-interview-3@example.org\r\nSEQUENCE:1\r\n\
ATTENDEE;CN=\"O'Brien; Jr.: Dev\";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mail\r\n to:Dev@Example.net\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(
            parse(text),
            Some(Reply {
                uid: "atsd-interview-3@example.org".into(),
                sequence: 1,
                attendee: "dev@example.net".into(),
                partstat: "accepted".into(),
            })
        );
        // a REQUEST, or an answer that is no answer, is not a reply
        assert_eq!(parse(&text.replace("METHOD:REPLY", "METHOD:REQUEST")), None);
        assert_eq!(
            parse(&text.replace("PARTSTAT=ACCEPTED", "PARTSTAT=NEEDS-ACTION")),
            None
        );
        assert_eq!(parse("garbage\u{0}"), None);
    }
}
