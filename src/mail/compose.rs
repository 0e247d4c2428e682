//! An outbox row as an email message: multipart/alternative (text and
//! HTML, both quoted-printable) with atsd's Message-ID, Date, From and
//! Reply-To, and the same bytes after its headers every time it is composed
//! (a resend is the same message).

use crate::config::Config;
use chrono::{DateTime, Utc};
use entity::{outbox, outbox_body};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart, header};
use std::str::FromStr;

/// Normalises line ends (CRLF, lone CR, lone LF all become one line break), so
/// that a lone CR in candidate text never reaches the wire raw.
pub fn normalize_lines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Whether a row is an email to the candidate of its application: one a
/// move caused (stage emails), or an interview's email to its candidate.
pub fn to_candidate(row: &outbox::Model) -> bool {
    row.application_id.is_some()
        && (row.transition_id.is_some()
            || (row.message_id.starts_with("<atsd.i") && row.message_id.contains(".c@")))
}

/// Builds the message of an outbox row: multipart/alternative (text + HTML),
/// both quoted-printable, with our Message-ID, Date, From and Reply-To.
// Stays whole: the MIME message in the order of its headers and parts.
pub fn compose(
    config: &Config,
    row: &outbox::Model,
    body: &outbox_body::Model,
    date: DateTime<Utc>,
) -> std::result::Result<Message, String> {
    let from = Mailbox::from_str(&config.mail.from).map_err(|e| format!("mail.from: {e}"))?;
    let address = row
        .recipient
        .parse()
        .map_err(|e| format!("recipient `{}`: {e}", row.recipient))?;
    let to = Mailbox::new(
        row.recipient_name.clone().filter(|n| !n.is_empty()),
        address,
    );
    let tags = crate::mail::tags::Tags::of(config);
    let envelope = match tags {
        // VERP: a bounce names the row it is about
        Some(t) => Some(
            lettre::address::Envelope::new(
                Some(
                    t.bounce(row.id)
                        .parse()
                        .map_err(|e| format!("bounce address of row {}: {e}", row.id))?,
                ),
                vec![to.email.clone()],
            )
            .map_err(|e| format!("envelope: {e}"))?,
        ),
        None => None,
    };
    let reply_to = match (&row.reply_to, tags, row.application_id) {
        // a row's own: an address and a name kept apart, made into one
        // mailbox here (a name is never parsed out of a string)
        (Some(r), _, _) => Some(match r.parse::<lettre::Address>() {
            Ok(a) => Mailbox::new(row.reply_to_name.clone().filter(|n| !n.is_empty()), a),
            // rows written before the name had its own column
            Err(_) => Mailbox::from_str(r).map_err(|e| format!("reply-to `{r}`: {e}"))?,
        }),
        // the candidate's reply joins their application
        (None, Some(t), Some(app)) if to_candidate(row) => Some(
            t.reply(app)
                .parse()
                .map_err(|e| format!("reply address of application {app}: {e}"))?,
        ),
        _ => match &config.mail.reply_to {
            Some(r) => Some(Mailbox::from_str(r).map_err(|e| format!("mail.reply_to `{r}`: {e}"))?),
            None => None,
        },
    };
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .raw_header(subject_header(&body.subject))
        .date(date.into())
        .message_id(Some(row.message_id.clone()));
    if let Some(r) = reply_to {
        b = b.reply_to(r);
    }
    if row.auto_submitted {
        b = b.raw_header(header::HeaderValue::new(
            header::HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    }
    if let Some(e) = envelope {
        b = b.envelope(e);
    }
    let text = SinglePart::builder()
        .header(header::ContentType::TEXT_PLAIN)
        .header(header::ContentTransferEncoding::QuotedPrintable)
        .body(normalize_lines(&body.body_text));
    let html = SinglePart::builder()
        .header(header::ContentType::TEXT_HTML)
        .header(header::ContentTransferEncoding::QuotedPrintable)
        .body(normalize_lines(&body.body_html));
    let alternative = MultiPart::alternative()
        .boundary(boundary(&row.message_id))
        .singlepart(text)
        .singlepart(html);
    let Some(ics) = &body.calendar else {
        return b
            .multipart(alternative)
            .map_err(|e| format!("cannot build the message: {e}"));
    };
    // iMIP (RFC 6047): the calendar object as the third alternative, its
    // METHOD also the part's `method`, and once more as `invite.ics`
    let method = ics
        .lines()
        .find_map(|l| l.strip_prefix("METHOD:"))
        .map(str::trim)
        .unwrap_or("PUBLISH");
    let calendar_type = |m: Option<&str>| {
        let t = match m {
            Some(m) => format!("text/calendar; method={m}; charset=UTF-8"),
            None => "application/ics; name=\"invite.ics\"".to_string(),
        };
        header::ContentType::parse(&t).map_err(|e| format!("calendar content type: {e}"))
    };
    let calendar = SinglePart::builder()
        .header(calendar_type(Some(method))?)
        .header(header::ContentTransferEncoding::Base64)
        .body(ics.clone());
    let attachment = SinglePart::builder()
        .header(calendar_type(None)?)
        .header(header::ContentDisposition::attachment("invite.ics"))
        .header(header::ContentTransferEncoding::Base64)
        .body(ics.clone());
    b.multipart(
        MultiPart::mixed()
            .boundary(format!("{}-m", boundary(&row.message_id)))
            .multipart(alternative.singlepart(calendar))
            .singlepart(attachment),
    )
    .map_err(|e| format!("cannot build the message: {e}"))
}

/// The Subject header. lettre leaves an ASCII word as it is, so a subject
/// holding text that looks like an RFC 2047 encoded word (`=?utf-8?q?…?=`,
/// from a candidate's name or a job board's title) would reach the reader
/// decoded — as anything, line breaks included. Such a subject is sent
/// encoded whole instead, which decodes to exactly the text written.
pub fn subject_header(subject: &str) -> header::HeaderValue {
    let name = header::HeaderName::new_from_ascii_str("Subject");
    if !subject.contains("=?") {
        return header::HeaderValue::new(name, subject.to_string());
    }
    let mut encoded = String::new();
    let written = {
        let mut w = email_encoding::headers::writer::EmailWriter::new(
            &mut encoded,
            "Subject: ".len(),
            0,
            false,
        );
        email_encoding::headers::rfc2047::encode(subject, &mut w)
    };
    if written.is_err() {
        return header::HeaderValue::new(name, subject.to_string());
    }
    header::HeaderValue::dangerous_new_pre_encoded(name, subject.to_string(), encoded)
}

/// The MIME boundary of a message, made from its Message-ID so that a resent
/// email is the same bytes after its headers. It starts with `=_`, which a
/// quoted-printable body can never contain (`=` is always `=3D` or a soft
/// line break there).
pub fn boundary(message_id: &str) -> String {
    let id: String = message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "'()+_,-./:?".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!("=_{id}")
}

/// The file the `file` transport writes a message to, by its Message-ID.
pub fn eml_file_name(message_id: &str) -> String {
    let name: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '@' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.eml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row() -> outbox::Model {
        let now = Utc::now();
        outbox::Model {
            id: 1,
            application_id: None,
            transition_id: None,
            stage: None,
            recipient: "zoe@example.org".into(),
            recipient_name: Some("Zoë Müller".into()),
            template: "offer".into(),
            locale: "de".into(),
            message_id: "<atsd.t1.0@example.org>".into(),
            auto_submitted: false,
            reply_to: None,
            reply_to_name: None,
            status: outbox::Status::Sending,
            attempts: 1,
            next_attempt_at: now,
            send_after: None,
            lease_until: None,
            last_error: None,
            data_at: None,
            sent_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn composed_messages_are_multipart_quoted_printable_with_our_ids() {
        let body = outbox_body::Model {
            outbox_id: 1,
            subject: "Gute Nachrichten zu Ihrer Bewerbung".into(),
            body_text: "Zeile 1\rMAIL FROM:<a@b>\r\n.\r\nEnde".into(),
            body_html: "<p>&lt;script&gt;</p>".into(),
            calendar: None,
        };
        let m = compose(&Config::default(), &row(), &body, Utc::now()).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <atsd.t1.0@example.org>"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("Content-Transfer-Encoding: quoted-printable"));
        assert!(!raw.contains("Content-Transfer-Encoding: 7bit"));
        assert!(raw.contains("Reply-To: recruiting@example.org"));
        assert!(
            raw.contains("To: =?utf-8?"),
            "non-ASCII name encoded: {raw}"
        );
        // no lone CR anywhere: every CR is followed by LF
        let b = raw.as_bytes();
        assert!(
            b.iter()
                .enumerate()
                .all(|(i, c)| *c != b'\r' || b.get(i + 1) == Some(&b'\n'))
        );
    }

    /// A forwarded reply names the candidate as Reply-To whatever their
    /// name holds: the name and the address are never one string parsed.
    #[test]
    fn a_reply_to_name_with_commas_parentheses_quotes_or_accents_is_written_whole() {
        let body = outbox_body::Model {
            outbox_id: 1,
            subject: "Re: Your application".into(),
            body_text: "Hello".into(),
            body_html: String::new(),
            calendar: None,
        };
        for name in [
            "Lovelace, Ada",
            "Ada (Work)",
            "Ada \"The Countess\" Lovelace",
            "Zoë Müller, PhD",
            "=?utf-8?q?not_an_encoded_word?=",
            "<ada@evil.example>",
        ] {
            let mut r = row();
            r.reply_to = Some("ada@example.org".into());
            r.reply_to_name = Some(name.into());
            let m = compose(&Config::default(), &r, &body, Utc::now())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let raw = m.formatted();
            let parsed = mail_parser::MessageParser::default()
                .parse(&raw)
                .expect("a message");
            let to = parsed
                .reply_to()
                .and_then(|a| a.first())
                .unwrap_or_else(|| panic!("{name}: no Reply-To"));
            assert_eq!(to.address(), Some("ada@example.org"), "{name}");
            assert_eq!(to.name(), Some(name), "{name}");
        }
    }

    /// A resent email is the same bytes after its headers: only Date differs.
    #[test]
    fn a_message_composed_twice_differs_only_in_its_date() {
        let body = outbox_body::Model {
            outbox_id: 1,
            subject: "Subject".into(),
            body_text: "text = x".into(),
            body_html: "<p>html</p>".into(),
            calendar: None,
        };
        let config = Config::default();
        let a = compose(&config, &row(), &body, Utc::now())
            .unwrap()
            .formatted();
        let later = Utc::now() + Duration::hours(1);
        let b = compose(&config, &row(), &body, later).unwrap().formatted();
        let without_date = |m: &[u8]| {
            String::from_utf8_lossy(m)
                .split("\r\n")
                .filter(|l| !l.starts_with("Date:"))
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        assert_ne!(a, b);
        assert_eq!(without_date(&a), without_date(&b));
        assert!(without_date(&a).contains("boundary=\"=_atsd.t1.0_example.org\""));
    }
}
