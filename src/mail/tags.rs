//! The addresses that say where a message belongs (VERP): the envelope
//! sender of outbox row 42 is `bounces+42-<tag>@<domain>`, the Reply-To of
//! application 7's emails `reply+7-<tag>@<domain>`. The tag is the first 12
//! hex digits of an HMAC-SHA256 of `bounce:42` (or `reply:7`) under the
//! inbound key, so that nobody can make an address that names another row;
//! lower-case hex, because mail systems may fold the local part's case.
//!
//! An interview invitation names, as its ORGANIZER, an address of the
//! attendee it goes to: `reply+7.c-<tag>` for application 7's candidate,
//! `reply+7.p3-<tag>` for person 3 (the tag of `answer:7.c`, `answer:7.p3`).
//! A calendar answers there; the tag then says who may answer through it,
//! so that a candidate cannot answer for her interviewer.

use crate::config::Config;

/// Hex digits of a tag.
pub const TAG_LEN: usize = 12;

/// What an address of the inbound domain names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addressed {
    /// The bounce address of an outbox row.
    Bounce(i64),
    /// The reply address of an application.
    Reply(i64),
    /// The calendar address of one attendee of an application's interview:
    /// the candidate (`person: None`) or an interviewer.
    Answer {
        application: i64,
        person: Option<i64>,
    },
    /// A `bounces+` or `reply+` address of the domain whose tag is wrong.
    Forged(String),
}

/// The inbound domain and its key.
#[derive(Clone, Copy)]
pub struct Tags<'a> {
    domain: &'a str,
    key: &'a [u8],
}

impl<'a> Tags<'a> {
    pub fn new(domain: &'a str, key: &'a [u8]) -> Tags<'a> {
        Tags { domain, key }
    }

    /// The tags of this configuration, when `[mail.inbound]` is set (its key
    /// was read when the configuration was loaded).
    pub fn of(config: &'a Config) -> Option<Tags<'a>> {
        let inbound = config.mail.inbound.as_ref()?;
        let key = inbound.key.as_ref()?;
        Some(Tags::new(&inbound.domain, key.bytes()))
    }

    fn tag(&self, kind: &str, id: impl std::fmt::Display) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.key);
        let sig = ring::hmac::sign(&key, format!("{kind}:{id}").as_bytes());
        sig.as_ref()
            .iter()
            .take(TAG_LEN / 2)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The envelope sender of outbox row `id`.
    pub fn bounce(&self, id: i64) -> String {
        format!("bounces+{id}-{}@{}", self.tag("bounce", id), self.domain)
    }

    /// The Reply-To of application `id`'s emails to the candidate.
    pub fn reply(&self, id: i64) -> String {
        format!("reply+{id}-{}@{}", self.tag("reply", id), self.domain)
    }

    /// The ORGANIZER of the invitation to one attendee of application
    /// `id`'s interview: `who` is `c` (the candidate) or `p<person id>`.
    pub fn answer(&self, id: i64, who: &str) -> String {
        let named = format!("{id}.{who}");
        format!(
            "reply+{named}-{}@{}",
            self.tag("answer", &named),
            self.domain
        )
    }

    /// What `address` names, if it is a `bounces+` or `reply+` address of
    /// the inbound domain (angle brackets and case ignored).
    pub fn read(&self, address: &str) -> Option<Addressed> {
        let a = address
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_ascii_lowercase();
        let (local, domain) = a.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(self.domain) {
            return None;
        }
        let (kind, rest) = local.split_once('+')?;
        let kind = match kind {
            "bounces" => "bounce",
            "reply" => "reply",
            _ => return None,
        };
        let forged = || Some(Addressed::Forged(a.clone()));
        let Some((id, tag)) = rest.split_once('-') else {
            return forged();
        };
        if kind == "reply"
            && let Some((app, who)) = id.split_once('.')
        {
            let person = match who {
                "c" => None,
                p => match p.strip_prefix('p').map(str::parse::<i64>) {
                    Some(Ok(n)) => Some(n),
                    _ => return forged(),
                },
            };
            let Ok(application) = app.parse::<i64>() else {
                return forged();
            };
            if !same(tag.as_bytes(), self.tag("answer", id).as_bytes()) {
                return forged();
            }
            return Some(Addressed::Answer {
                application,
                person,
            });
        }
        let Ok(id) = id.parse::<i64>() else {
            return forged();
        };
        if !same(tag.as_bytes(), self.tag(kind, id).as_bytes()) {
            return forged();
        }
        Some(match kind {
            "bounce" => Addressed::Bounce(id),
            _ => Addressed::Reply(id),
        })
    }

    /// What a report's `Original-Envelope-Id` names, if it has the form atsd
    /// sends as ENVID (`<row>-<tag>`, the bounce address's own); another
    /// sender's id is none of atsd's business.
    pub fn read_envelope_id(&self, envid: &str) -> Option<Addressed> {
        let e = envid.trim();
        let (id, tag) = e.split_once('-')?;
        let ours = !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && tag.len() == TAG_LEN
            && tag.bytes().all(|b| b.is_ascii_hexdigit());
        if !ours {
            return None;
        }
        match self.read(&format!("bounces+{e}@{}", self.domain))? {
            Addressed::Forged(_) => Some(Addressed::Forged(format!("Original-Envelope-Id {e}"))),
            named => Some(named),
        }
    }
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn an_envelope_id_names_its_row_when_it_is_atsds_own() {
        let t = Tags::new("jobs.example.org", KEY);
        let envid = t
            .bounce(42)
            .trim_start_matches("bounces+")
            .replace("@jobs.example.org", "");
        assert_eq!(t.read_envelope_id(&envid), Some(Addressed::Bounce(42)));
        // the same form with another row's number: forged
        let other = envid.replacen("42-", "43-", 1);
        assert!(matches!(
            t.read_envelope_id(&other),
            Some(Addressed::Forged(_))
        ));
        // another sender's envelope id names nothing
        assert_eq!(t.read_envelope_id("env-1"), None);
        assert_eq!(t.read_envelope_id("42"), None);
    }

    #[test]
    fn an_address_names_its_row_and_no_other() {
        let t = Tags::new("jobs.example.org", KEY);
        let b = t.bounce(42);
        assert!(
            b.starts_with("bounces+42-") && b.ends_with("@jobs.example.org"),
            "{b}"
        );
        assert_eq!(t.read(&b), Some(Addressed::Bounce(42)));
        assert_eq!(
            t.read(&format!("<{}>", b.to_uppercase())),
            Some(Addressed::Bounce(42))
        );
        let r = t.reply(7);
        assert_eq!(t.read(&r), Some(Addressed::Reply(7)));
        // the tag of one is not the tag of another, nor of the other kind
        let moved = b.replacen("+42-", "+43-", 1);
        assert!(matches!(t.read(&moved), Some(Addressed::Forged(_))));
        let swapped = r.replacen("reply+", "bounces+", 1);
        assert!(matches!(t.read(&swapped), Some(Addressed::Forged(_))));
        for junk in [
            "bounces+@jobs.example.org",
            "reply+x-y@jobs.example.org",
            "reply+7@jobs.example.org",
        ] {
            assert!(matches!(t.read(junk), Some(Addressed::Forged(_))), "{junk}");
        }
        // other addresses are not ours at all
        assert_eq!(t.read("jobs@jobs.example.org"), None);
        assert_eq!(t.read(&b.replace("jobs.example.org", "example.net")), None);
        // an attendee's calendar address names the attendee, and no other
        let c = t.answer(7, "c");
        let p = t.answer(7, "p3");
        assert!(c.starts_with("reply+7.c-"), "{c}");
        assert_eq!(
            t.read(&c),
            Some(Addressed::Answer {
                application: 7,
                person: None
            })
        );
        assert_eq!(
            t.read(&p),
            Some(Addressed::Answer {
                application: 7,
                person: Some(3)
            })
        );
        for forged in [
            c.replacen("7.c-", "7.p3-", 1),
            p.replacen("7.p3-", "7.p4-", 1),
            p.replacen("7.p3-", "8.p3-", 1),
            c.replacen("7.c-", "7-", 1),
            c.replacen("7.c-", "7.x-", 1),
        ] {
            assert!(
                matches!(t.read(&forged), Some(Addressed::Forged(_))),
                "{forged}"
            );
        }
        // another key, another tag
        let other = Tags::new("jobs.example.org", b"another key, another key, 32 bytes!");
        assert!(matches!(other.read(&b), Some(Addressed::Forged(_))));
    }
}
