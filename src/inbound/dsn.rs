//! Delivery reports: the standard one (RFC 3464, `multipart/report;
//! report-type=delivery-status`: per-recipient `Final-Recipient`, `Action`,
//! `Status`, `Diagnostic-Code`, and the returned message or its headers),
//! and what can be read from the non-standard ones (qmail, Exchange, Yahoo
//! and the like): the Message-IDs atsd wrote and the enhanced status codes
//! (RFC 3463) in their text.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// What a delivery report says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `Original-Envelope-Id` (per-message fields).
    pub envelope_id: Option<String>,
    /// One per recipient block.
    pub recipients: Vec<Delivery>,
    /// The Message-ID of the returned message, when it came back (whole or
    /// its headers).
    pub returned_message_id: Option<String>,
}

/// One recipient's fate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// `Final-Recipient` (else `Original-Recipient`), the address only.
    pub recipient: Option<String>,
    pub action: Option<String>,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
}

impl Delivery {
    /// A permanent failure: `Action: failed`, or a 5.x.x status.
    pub fn permanent(&self) -> bool {
        // `failure` and (opensmtpd's) `error` are seen for `failed`
        let failed = self.action.as_deref().is_some_and(|a| {
            let a = a.to_ascii_lowercase();
            a.starts_with("fail") || a.starts_with("error")
        });
        let five = self.status.as_deref().is_some_and(|s| s.starts_with('5'));
        let delayed = self.action.as_deref().is_some_and(|a| {
            a.eq_ignore_ascii_case("delayed") || a.eq_ignore_ascii_case("delivered")
        });
        (failed || five) && !delayed && !self.status.as_deref().is_some_and(|s| s.starts_with('4'))
    }
}

/// The standard report of `msg`, if it carries a `message/delivery-status`
/// part (or a `message/global-delivery-status` one).
pub fn read(msg: &Message<'_>) -> Option<Report> {
    read_here(msg).or_else(|| {
        // a report forwarded whole inside the message (some gateways wrap it)
        msg.parts.iter().find_map(|p| match &p.body {
            PartType::Message(inner) => read_here(inner),
            _ => None,
        })
    })
}

fn read_here(msg: &Message<'_>) -> Option<Report> {
    let status = msg.parts.iter().find(|p| {
        p.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("message")
                && c.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("delivery-status")
                        || s.eq_ignore_ascii_case("global-delivery-status")
                })
        })
    })?;
    let text = String::from_utf8_lossy(status.contents());
    let blocks = fields(&text);
    let mut report = Report::default();
    let mut first = true;
    for block in blocks {
        let get = |name: &str| {
            block
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if first {
            first = false;
            report.envelope_id = get("Original-Envelope-Id");
            // a per-message block names no recipient
            if get("Final-Recipient").is_none() && get("Original-Recipient").is_none() {
                continue;
            }
        }
        // the address as it was sent (Original-Recipient, when the MTA
        // kept it) before the one it was rewritten to; only Internet
        // addresses (`rfc822;`), not X.400 and the like
        let recipient = get("Original-Recipient")
            .and_then(|v| address_of(&v))
            .or_else(|| get("Final-Recipient").and_then(|v| address_of(&v)));
        if recipient.is_none() && get("Action").is_none() && get("Status").is_none() {
            continue;
        }
        report.recipients.push(Delivery {
            recipient,
            action: get("Action").map(|a| a.trim().to_ascii_lowercase()),
            status: get("Status").and_then(|s| status_code(&s)),
            diagnostic: get("Diagnostic-Code").map(|d| {
                d.split_once(';')
                    .map(|(_, t)| t.trim().to_string())
                    .unwrap_or(d)
            }),
        });
    }
    report.returned_message_id = returned_message_id(msg);
    Some(report)
}

/// The Message-ID of the message a report returns: a `message/rfc822`
/// part, or `text/rfc822-headers`.
pub fn returned_message_id(msg: &Message<'_>) -> Option<String> {
    for p in &msg.parts {
        if let PartType::Message(inner) = &p.body
            && let Some(id) = inner.message_id()
        {
            return Some(format!("<{id}>"));
        }
        let headers = p.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("text")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
        });
        if headers
            && let Some(h) = MessageParser::default().parse_headers(p.contents())
            && let Some(id) = h.message_id()
        {
            return Some(format!("<{id}>"));
        }
    }
    None
}

/// Header-like fields in blocks separated by blank lines, continuation
/// lines unfolded.
fn fields(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = block.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            block.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

/// `rfc822; Ada@Example.org` → `ada@example.org`; `None` for an address
/// of another type (`x400; /C=WW/…`) or one with no `@`.
fn address_of(v: &str) -> Option<String> {
    let a = match v.split_once(';') {
        Some((kind, a)) if kind.trim().eq_ignore_ascii_case("rfc822") => a,
        Some(_) => return None,
        None => v,
    };
    let a = a
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_ascii_lowercase();
    (a.contains('@') && !a.contains(char::is_whitespace)).then_some(a)
}

/// The first enhanced status code (RFC 3463: `5.1.1`) in `text`: a class
/// digit, then one to three digits twice, each after a dot, neither glued
/// to a word or a longer number. Each place is looked at through at most
/// ten bytes, so the whole text is read in time linear in its length.
pub fn status_code(text: &str) -> Option<String> {
    code_of_class(text, b"245")
}

/// The first enhanced status code of a failure (class 4 or 5) in `text`:
/// a `2.0.13` before it (a version number, a success) is passed over.
pub fn failure_code(text: &str) -> Option<String> {
    code_of_class(text, b"45")
}

fn code_of_class(text: &str, classes: &[u8]) -> Option<String> {
    let b = text.as_bytes();
    // how many digits start at `at` (counted up to 4: more is too many)
    let digits = |at: usize| {
        b.get(at..)
            .unwrap_or_default()
            .iter()
            .take(4)
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    for i in 0..b.len() {
        if !classes.contains(&b[i])
            || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
            || b.get(i + 1) != Some(&b'.')
        {
            continue;
        }
        let subject = digits(i + 2);
        if !(1..=3).contains(&subject) || b.get(i + 2 + subject) != Some(&b'.') {
            continue;
        }
        let detail_at = i + 3 + subject;
        let detail = digits(detail_at);
        let end = detail_at + detail;
        if (1..=3).contains(&detail)
            && !b.get(end).is_some_and(|c| c.is_ascii_digit() || *c == b'.')
        {
            return Some(text[i..end].to_string());
        }
    }
    None
}

/// The Message-IDs atsd writes (`<atsd.…@domain>`) found anywhere in
/// `text`, in order, each once.
pub fn atsd_message_ids(text: &str, domain: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let suffix = format!("@{}>", domain.to_ascii_lowercase());
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("<atsd.") {
        let start = from + i;
        // an id is short: its `>` is looked for in the next 200 bytes only
        // (a text of unclosed `<atsd.` is read once, not once for each)
        let window = &lower.as_bytes()[start..lower.len().min(start + 200)];
        let Some(end) = window.iter().position(|&c| c == b'>') else {
            from = start + 1;
            continue;
        };
        let id = &text[start..start + end + 1];
        let ok = id.len() < 200
            && lower[start..start + end + 1].ends_with(&suffix)
            && !id.contains(char::is_whitespace);
        if ok && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
        from = start + 1;
    }
    out
}

/// Does a message look like a delivery report of some kind, by its
/// sender, subject or content type (for quarantining what names nothing)?
pub fn looks_like_bounce(msg: &Message<'_>) -> bool {
    let from = msg
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    let subject = msg.subject().unwrap_or("").to_ascii_lowercase();
    let report = msg.content_type().is_some_and(|c| {
        c.subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    report
        || from.starts_with("mailer-daemon@")
        || from.starts_with("postmaster@")
        || [
            "undeliver",
            "delivery status",
            "delivery failure",
            "returned mail",
            "failure notice",
            "delivery has failed",
            "nondeliverable",
            "non-delivery",
        ]
        .iter()
        .any(|w| subject.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first version of [`status_code`]: right, and quadratic (each
    /// place split the whole rest of the text). The oracle of the linear one.
    fn status_code_reference(text: &str) -> Option<String> {
        let b = text.as_bytes();
        for i in 0..b.len() {
            if !matches!(b[i], b'2' | b'4' | b'5')
                || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
            {
                continue;
            }
            let rest = &text[i..];
            let mut parts = rest.splitn(3, '.');
            let (Some(a), Some(bb), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let c: String = c.chars().take_while(char::is_ascii_digit).collect();
            let after = rest
                .get(a.len() + bb.len() + c.len() + 2..)
                .and_then(|s| s.chars().next());
            if a.len() == 1
                && (1..=3).contains(&bb.len())
                && bb.chars().all(|x| x.is_ascii_digit())
                && (1..=3).contains(&c.len())
                && !after.is_some_and(|x| x.is_ascii_digit() || x == '.')
            {
                return Some(format!("{a}.{bb}.{c}"));
            }
        }
        None
    }

    /// The first version of [`atsd_message_ids`], which looked for each
    /// `<atsd.`'s `>` to the end of the text.
    fn message_ids_reference(text: &str, domain: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let suffix = format!("@{}>", domain.to_ascii_lowercase());
        let lower = text.to_ascii_lowercase();
        let mut from = 0;
        while let Some(i) = lower[from..].find("<atsd.") {
            let start = from + i;
            let Some(end) = lower[start..].find('>') else {
                break;
            };
            let id = &text[start..start + end + 1];
            let ok = id.len() < 200
                && lower[start..start + end + 1].ends_with(&suffix)
                && !id.contains(char::is_whitespace);
            if ok && !out.iter().any(|o| o == id) {
                out.push(id.to_string());
            }
            from = start + 1;
        }
        out
    }

    /// Texts made of the pieces that matter to the readers: digits, dots,
    /// atsd's ids whole and cut, brackets, spaces, non-ASCII.
    fn hostile_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("5".to_string()),
            Just("4.".to_string()),
            Just("2.".to_string()),
            Just(".".to_string()),
            Just("1".to_string()),
            Just("123".to_string()),
            Just("1234".to_string()),
            Just(" ".to_string()),
            Just("x".to_string()),
            Just("é".to_string()),
            Just("\r\n".to_string()),
            Just("<atsd.".to_string()),
            Just("<ATSD.t1.0@Example.org>".to_string()),
            Just("@example.org>".to_string()),
            Just(">".to_string()),
            Just("<".to_string()),
            "[a-z0-9.]{0,8}",
        ];
        proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn the_linear_readers_agree_with_the_first_ones(text in hostile_text()) {
            prop_assert_eq!(status_code(&text), status_code_reference(&text));
            prop_assert_eq!(
                atsd_message_ids(&text, "example.org"),
                message_ids_reference(&text, "example.org")
            );
        }
    }

    /// What made one email freeze the daemon: a report's text of repeated
    /// digits, or of unclosed ids, read once per place. Not timed: the
    /// quadratic readers would not finish these in hours (about 10^12 steps
    /// for the first), the linear ones do at once (the benchmark
    /// `inbound_read` times them).
    #[test]
    fn repeated_digits_and_unclosed_ids_are_read_in_one_pass() {
        let digits = "5 ".repeat(512 * 1024);
        assert_eq!(status_code(&digits), None);
        let ids = "<atsd.".repeat(200_000) + ">";
        assert!(atsd_message_ids(&ids, "example.org").is_empty());
        let nearly = "5.1".repeat(300_000);
        assert_eq!(status_code(&nearly), None);
    }

    const REPORT: &str = "From: MAILER-DAEMON@mx.example.net\r\n\
To: bounces+1-abc@jobs.example.org\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <r1@mx.example.net>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain\r\n\
\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
--B\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.net\r\n\
Original-Envelope-Id: env-1\r\n\
\r\n\
Final-Recipient: rfc822; Ada@Example.net\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <ada@example.net>: Recipient address\r\n\
\x20rejected: User unknown\r\n\
\r\n\
--B\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: Jobs <jobs@example.org>\r\n\
Message-ID: <atsd.t1.0@example.org>\r\n\
Subject: Your application\r\n\
\r\n\
--B--\r\n";

    #[test]
    fn a_standard_report_names_the_recipient_its_fate_and_the_returned_message() {
        let msg = MessageParser::default().parse(REPORT.as_bytes()).unwrap();
        let r = read(&msg).expect("a report");
        assert_eq!(r.envelope_id.as_deref(), Some("env-1"));
        assert_eq!(
            r.returned_message_id.as_deref(),
            Some("<atsd.t1.0@example.org>")
        );
        assert_eq!(r.recipients.len(), 1);
        let d = &r.recipients[0];
        assert_eq!(d.recipient.as_deref(), Some("ada@example.net"));
        assert_eq!(d.status.as_deref(), Some("5.1.1"));
        assert!(d.permanent());
        assert!(
            d.diagnostic
                .as_deref()
                .unwrap()
                .ends_with("rejected: User unknown"),
            "{d:?}"
        );
        assert!(looks_like_bounce(&msg));
    }

    #[test]
    fn delayed_and_four_hundred_are_not_permanent() {
        let mut d = Delivery {
            action: Some("delayed".into()),
            status: Some("4.4.7".into()),
            ..Default::default()
        };
        assert!(!d.permanent());
        d.action = Some("failed".into());
        assert!(
            !d.permanent(),
            "a 4.x.x status is temporary whatever the action"
        );
        d.status = Some("5.2.2".into());
        assert!(d.permanent());
    }

    #[test]
    fn codes_and_ids_are_found_in_free_text() {
        assert_eq!(
            status_code("Remote said: 550 5.7.1 blocked").as_deref(),
            Some("5.7.1")
        );
        assert_eq!(status_code("version 10.5.1.2 and 1.2.3"), None);
        assert_eq!(status_code("#5.1.1 x").as_deref(), Some("5.1.1"));
        assert_eq!(
            atsd_message_ids(
                "Message-ID: <atsd.t4.0@example.org>\nagain <atsd.t4.0@example.org> <atsd.x@evil.net>",
                "example.org"
            ),
            ["<atsd.t4.0@example.org>"]
        );
    }
}
