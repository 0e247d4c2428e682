//! Reading one inbound message: everything atsd needs to know of it, taken
//! from its bytes without the database, off the async workers and under a
//! deadline.
//!
//! Anyone on the internet can send atsd mail, so every reader here runs in
//! time linear in the message (the benchmark `inbound_read` feeds it
//! adversarial messages from 64 KiB to the 10 MiB cap), and
//! [`read_off_workers`] runs it on tokio's blocking pool: a message that
//! still takes longer than [`READ_DEADLINE`] is quarantined with that
//! reason, while the daemon goes on answering.

use super::bounce_text;
use super::dsn::{self, Report};
use super::itip::{self, Reply};
use chrono::{DateTime, Utc};
use mail_parser::{Message, MessageParser, MimeHeaders};
use serde_json::json;
use std::time::Duration;

/// The most text of a reply kept (bytes).
pub const TEXT_LIMIT: usize = 64 * 1024;

/// How long reading one message may take before it is quarantined.
pub const READ_DEADLINE: Duration = Duration::from_secs(10);

/// How many of atsd's Message-IDs quoted in a non-standard report are
/// looked up (a report returns one message; a text quoting thousands is
/// an attack on the lookups).
pub const MAX_QUOTED_IDS: usize = 8;

/// The dedupe key of a message: its Message-ID and the SHA-256 of its body
/// (a retrying MTA may add a header line, never change the body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub message_id: Option<String>,
    pub key: String,
}

impl Key {
    pub fn of(raw: &[u8]) -> Key {
        let message_id = MessageParser::default()
            .parse_headers(raw)
            .and_then(|m| m.message_id().map(|id| format!("<{id}>")));
        let key = format!(
            "{} {}",
            message_id.as_deref().unwrap_or("-"),
            crate::store::tokens::sha256(body_of(raw))
        );
        Key { message_id, key }
    }
}

/// The bytes after the header section: what a retrying mail system
/// delivers unchanged, though it may add a `Received` or `Delivered-To`
/// line each time (the whole message when it has no body).
fn body_of(raw: &[u8]) -> &[u8] {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => &raw[a.min(b)..],
        (Some(a), None) | (None, Some(a)) => &raw[a..],
        (None, None) => raw,
    }
}

/// The sender of a message: its `From` address, and how it is shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sender {
    /// The address, lower-cased.
    pub address: String,
    /// The display name, if any.
    pub name: Option<String>,
}

impl Sender {
    /// `Name <address>`, or the address alone (for the row and the board).
    pub fn shown(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} <{}>", self.address),
            None => self.address.clone(),
        }
    }
}

/// What a message says, read once.
#[derive(Clone, Debug, Default)]
pub struct Reading {
    pub sender: Option<Sender>,
    pub subject: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Every address the message was for: the envelope's first, then
    /// `Delivered-To`, `X-Original-To`, `Envelope-To`, `To`, `Cc`.
    pub addresses: Vec<String>,
    /// The standard delivery report (RFC 3464), if it carries one.
    pub report: Option<Report>,
    /// An iTIP REPLY, if it carries one (and no report).
    pub calendar: Option<Reply>,
    /// RFC 3834 and the autoresponders' own signs.
    pub auto_reply: bool,
    /// Looks like a delivery report by its sender, subject or type.
    pub looks_like_bounce: bool,
    /// atsd's Message-IDs quoted in the message (at most
    /// [`MAX_QUOTED_IDS`]), with the message's text lower-cased, to check
    /// that it names the address each went to.
    pub quoted_ids: Vec<String>,
    pub lower_text: String,
    /// The failure its free text states (status, the line saying it).
    pub text_failure: Option<(String, Option<String>)>,
    /// The readable text (HTML turned into text), at most [`TEXT_LIMIT`].
    pub text: String,
    /// The attachments: name, type, size (not kept).
    pub attachments: Vec<serde_json::Value>,
}

/// Reads `raw`; `None` when no header could be read. `domain` is that of
/// atsd's Message-IDs.
pub fn read(raw: &[u8], envelope_to: &[String], domain: &str) -> Option<Reading> {
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())?;
    let report = dsn::read(&msg);
    let calendar = if report.is_none() {
        itip::read(&msg)
    } else {
        None
    };
    let looks_like_bounce = dsn::looks_like_bounce(&msg);
    let (quoted_ids, lower_text) = if report.is_none() && looks_like_bounce {
        let text = String::from_utf8_lossy(raw);
        let mut ids = dsn::atsd_message_ids(&text, domain);
        ids.truncate(MAX_QUOTED_IDS);
        (ids, text.to_lowercase())
    } else {
        (Vec::new(), String::new())
    };
    let body = msg.body_text(0).map(|t| t.into_owned());
    // what its words say of a failure: read on any message that is not a
    // standard report (or one whose report names no recipient), since what
    // comes back to a VERP address need not look like a report to be one
    // (the classifier decides what counts)
    let text_failure = if report.as_ref().is_none_or(|r| r.recipients.is_empty()) {
        let text = body
            .clone()
            .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
        bounce_text::text_failure(msg.subject().unwrap_or(""), &text).map(|status| {
            let line = text
                .lines()
                .find(|l| l.contains(&status) || l.contains(&status.replace('.', "")))
                .map(|l| clip(l.trim(), 500));
            (status, line)
        })
    } else {
        None
    };
    let text = clip(body.as_deref().unwrap_or("").trim(), TEXT_LIMIT);
    Some(Reading {
        sender: sender_of(&msg),
        subject: msg.subject().map(|s| clip(s, 1000)),
        sent_at: msg
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        addresses: addresses(&msg, envelope_to),
        report,
        calendar,
        auto_reply: auto_reply(&msg),
        looks_like_bounce,
        quoted_ids,
        lower_text,
        text_failure,
        text,
        attachments: attachments(&msg),
    })
}

/// What [`read_off_workers`] found.
pub enum Outcome {
    Read(Box<Reading>),
    /// No header could be read.
    NotAMessage,
    /// Reading took longer than the deadline (the reason, for quarantine).
    TooSlow(String),
}

/// [`read`] on tokio's blocking pool, given up after `deadline` (the thread
/// finishes on its own; nothing it reads is used).
pub async fn read_off_workers(
    raw: std::sync::Arc<[u8]>,
    envelope_to: Vec<String>,
    domain: String,
    deadline: Duration,
) -> Outcome {
    let task = tokio::task::spawn_blocking(move || read(&raw, &envelope_to, &domain));
    match tokio::time::timeout(deadline, task).await {
        Ok(Ok(Some(r))) => Outcome::Read(Box::new(r)),
        Ok(Ok(None)) => Outcome::NotAMessage,
        Ok(Err(e)) => Outcome::TooSlow(format!("reading it failed: {e}")),
        Err(_) => Outcome::TooSlow(format!(
            "reading it took longer than {} s",
            deadline.as_secs()
        )),
    }
}

/// RFC 3834 §2 and the common headers of autoresponders.
pub fn auto_reply(msg: &Message<'_>) -> bool {
    let h = |name: &str| msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    let submitted =
        h("Auto-Submitted").is_some_and(|v| v.split(';').next().map(str::trim) != Some("no"));
    let precedence =
        h("Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list"));
    let empty_return = h("Return-Path").is_some_and(|v| v.trim_matches(['<', '>', ' ']).is_empty());
    submitted
        || h("X-Autoreply").is_some()
        || h("X-Autorespond").is_some()
        || h("X-Auto-Response-Suppress").is_some_and(|v| v.contains("all") || v.contains("oof"))
        || precedence
        || empty_return
}

/// Every address the message was for: the envelope's first.
fn addresses(msg: &Message<'_>, envelope_to: &[String]) -> Vec<String> {
    let mut out: Vec<String> = envelope_to.to_vec();
    for name in ["Delivered-To", "X-Original-To", "Envelope-To"] {
        for v in msg.header_values(name) {
            if let Some(t) = v.as_text() {
                out.push(t.to_string());
            }
        }
    }
    for a in [msg.to(), msg.cc()].into_iter().flatten() {
        out.extend(a.iter().filter_map(|x| x.address().map(String::from)));
    }
    out
}

fn sender_of(msg: &Message<'_>) -> Option<Sender> {
    let a = msg.from()?.first()?;
    let address = a.address()?.trim().to_ascii_lowercase();
    Some(Sender {
        address: clip(&address, 320),
        name: a
            .name()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| clip(n, 200)),
    })
}

fn attachments(msg: &Message<'_>) -> Vec<serde_json::Value> {
    msg.attachments()
        .map(|p| {
            json!({
                "name": p.attachment_name().unwrap_or("(unnamed)"),
                "type": p.content_type().map(|c| match c.subtype() {
                    Some(s) => format!("{}/{s}", c.ctype()),
                    None => c.ctype().to_string(),
                }),
                "size": p.contents().len(),
            })
        })
        .collect()
}

/// `s` cut at a character boundary to at most `max` bytes.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_message_id_and_the_body_whatever_headers_a_retry_adds() {
        let a = Key::of(b"Message-ID: <m1@x>\r\nSubject: s\r\n\r\nbody\r\n");
        let b = Key::of(b"Received: by mx\r\nMessage-ID: <m1@x>\r\nSubject: s\r\n\r\nbody\r\n");
        assert_eq!(a, b);
        assert_eq!(a.message_id.as_deref(), Some("<m1@x>"));
        assert_ne!(a, Key::of(b"Message-ID: <m1@x>\r\n\r\nother\r\n"));
    }

    #[test]
    fn a_sender_with_a_comma_or_parentheses_in_the_name_keeps_name_and_address_apart() {
        for from in [
            "\"Lovelace, Ada\" <Ada@Example.org>",
            "\"Ada (Work)\" <ada@example.org>",
            "=?utf-8?q?Lovelace=2C_Ada?= <ada@example.org>",
        ] {
            let raw = format!("From: {from}\r\nSubject: s\r\n\r\nhi\r\n");
            let r = read(raw.as_bytes(), &[], "example.org").expect("a message");
            let s = r.sender.expect("a sender");
            assert_eq!(s.address, "ada@example.org", "{from}");
            assert!(
                s.name.as_deref().is_some_and(|n| n.contains("Ada")),
                "{from}"
            );
        }
    }
}
