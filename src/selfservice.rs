//! Candidate self-service: a signed, expiring link in the candidate's emails
//! to withdraw the application. With `[http] public_url` set and a key
//! (`[http] link_key_file`, else the systemd credential `link-key`), emails
//! of an application in an active stage carry
//! `{public_url}/self-service/withdraw/{token}`; the token is
//! `{application}.{expires}.{nonce}.{signature}`, the signature an
//! HMAC-SHA256 of the rest with the key, checked in constant time. `GET`
//! shows a confirmation page in the candidate's locale, `POST` moves the
//! application to `withdrawn` (reason `candidate_withdrew`, with its email)
//! and records the nonce in the same transaction, so a link works once (that
//! move is [`crate::workflow::withdraw`]'s). The links are made from the
//! configuration and its key file when the configuration is loaded
//! ([`Links::from_config`]), and handed to whatever renders emails.

use crate::config::Config;
use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// The path under `public_url` that the links use.
pub const PATH: &str = "/self-service/withdraw";
/// The path of the interviewers' feedback links.
pub const FEEDBACK_PATH: &str = "/self-service/feedback";
/// The path of the candidates' privacy links ("see what we hold about
/// you", "delete my data"; [`privacy`]).
pub const PRIVACY_PATH: &str = "/self-service/privacy";
/// The path of the download links an access request sends.
pub const EXPORT_PATH: &str = "/self-service/export";
/// Where a candidate books, moves or cancels an interview from the slots
/// offered.
pub const BOOK_PATH: &str = "/self-service/book";
/// How long a download link works.
pub const EXPORT_TTL_DAYS: i64 = 7;
/// The reason written on the transition.
pub const REASON: &str = "candidate_withdrew";

pub mod booking;
pub mod feedback;
pub mod privacy;

pub use feedback::{FeedbackForm, FeedbackWords, Shared, feedback_page, feedback_words};

/// What signs and checks the links.
pub struct Links {
    base: String,
    key: ring::hmac::Key,
    ttl: chrono::Duration,
}

/// Why a link is refused (the page says no more than "not valid" or
/// "expired" or "used").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Invalid,
    Expired,
    Used,
    Closed,
}

/// A feedback link that checked out: whose feedback on which interview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedbackClaim {
    pub interview_id: i64,
    pub person_id: i64,
    pub nonce: String,
    pub expires: DateTime<Utc>,
}

/// A privacy or download link that checked out: the candidate (privacy)
/// or the data request (download) it names, its nonce and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdClaim {
    pub id: i64,
    pub nonce: String,
    pub expires: DateTime<Utc>,
}

/// A link that checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub application_id: i64,
    pub nonce: String,
    pub expires: DateTime<Utc>,
}

impl Links {
    pub fn new(public_url: &str, key: &[u8], ttl: chrono::Duration) -> Links {
        Links {
            base: public_url.trim_end_matches('/').to_string(),
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
            ttl,
        }
    }

    /// The key file: `[http] link_key_file`, else `$CREDENTIALS_DIRECTORY/link-key`.
    pub fn key_file(config: &Config) -> Option<PathBuf> {
        let h = config.http.as_ref()?;
        h.link_key_file.clone().or_else(|| {
            std::env::var_os("CREDENTIALS_DIRECTORY")
                .map(|d| PathBuf::from(d).join("link-key"))
                .filter(|p| p.is_file())
        })
    }

    /// Reads the key: at least 32 bytes of text (whitespace around it ignored).
    pub fn read_key(path: &std::path::Path) -> Result<Vec<u8>> {
        let text = crate::secret_file::read(path, "http.link_key_file").map_err(Error::input)?;
        let key = text.trim().as_bytes().to_vec();
        if key.len() < 32 {
            return Err(Error::input(format!(
                "{}: the link key is {} bytes; use at least 32 (e.g. head -c 48 /dev/urandom | base64)",
                path.display(),
                key.len()
            )));
        }
        Ok(key)
    }

    /// The links of this configuration, or `None` when `public_url` is not
    /// set. Errors name an unreadable or short key.
    pub fn from_config(config: &Config) -> Result<Option<Links>> {
        let Some(h) = config.http.as_ref() else {
            return Ok(None);
        };
        let Some(url) = &h.public_url else {
            return Ok(None);
        };
        let file = Links::key_file(config).ok_or_else(|| {
            Error::input(
                "http.public_url is set but there is no link key: set http.link_key_file \
                 (or give the service the credential link-key)",
            )
        })?;
        let key = Links::read_key(&file)?;
        Ok(Some(Links::new(url, &key, h.link_ttl.chrono())))
    }

    /// The links the emails carry, read when the configuration is loaded:
    /// `None` when `public_url` is not set, and also (with one warning) when
    /// the key cannot be read, so that emails still go, without the link.
    /// `check-config` and a reload report that error instead.
    pub fn for_emails(config: &Config) -> Option<Links> {
        Links::from_config(config).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "emails go without self-service links");
            None
        })
    }

    fn sign(&self, payload: &str) -> String {
        B64.encode(ring::hmac::sign(&self.key, payload.as_bytes()).as_ref())
    }

    /// A signed token for `subject`, valid until `expires`:
    /// `{subject}.{expires}.{nonce}.{signature}`. Each kind of link has its
    /// own subject syntax (an application id; `f<interview>-<person>`), so
    /// that a token of one kind never reads as the other. `None`, logged as
    /// an error, when the system's random source fails: no link is better
    /// than links that share a nonce (single use would then be one use for
    /// all of them).
    fn mint(&self, subject: &str, expires: DateTime<Utc>) -> Option<String> {
        let mut nonce = [0u8; 12];
        let random = ring::rand::SystemRandom::new();
        if ring::rand::SecureRandom::fill(&random, &mut nonce).is_err() {
            tracing::error!(
                subject,
                "the system's random source failed: the email goes without its self-service link"
            );
            return None;
        }
        let payload = format!("{subject}.{}.{}", expires.timestamp(), B64.encode(nonce));
        Some(format!("{payload}.{}", self.sign(&payload)))
    }

    /// Opens a token: its signature first, then its expiry; its subject,
    /// nonce and expiry.
    fn open<'t>(
        &self,
        token: &'t str,
        now: DateTime<Utc>,
    ) -> std::result::Result<(&'t str, String, DateTime<Utc>), Refusal> {
        let (payload, sig) = token.rsplit_once('.').ok_or(Refusal::Invalid)?;
        let sig = B64.decode(sig).map_err(|_| Refusal::Invalid)?;
        ring::hmac::verify(&self.key, payload.as_bytes(), &sig).map_err(|_| Refusal::Invalid)?;
        let mut parts = payload.splitn(3, '.');
        let subject = parts.next().ok_or(Refusal::Invalid)?;
        let expires = parts
            .next()
            .and_then(|p| p.parse().ok())
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or(Refusal::Invalid)?;
        let nonce = parts.next().ok_or(Refusal::Invalid)?.to_string();
        if now > expires {
            return Err(Refusal::Expired);
        }
        Ok((subject, nonce, expires))
    }

    /// A new link for `application_id`, valid until `now + ttl`.
    pub fn withdraw_url(&self, application_id: i64, now: DateTime<Utc>) -> Option<String> {
        let token = self.mint(&application_id.to_string(), now + self.ttl)?;
        Some(format!("{}{PATH}/{token}", self.base))
    }

    /// Checks a withdraw token.
    pub fn check(&self, token: &str, now: DateTime<Utc>) -> std::result::Result<Claim, Refusal> {
        let (subject, nonce, expires) = self.open(token, now)?;
        let app: i64 = subject.parse().map_err(|_| Refusal::Invalid)?;
        Ok(Claim {
            application_id: app,
            nonce,
            expires,
        })
    }

    /// A candidate's privacy link ("see what we hold", "delete my data"),
    /// valid until `now + ttl`: subject `p{candidate}`.
    pub fn privacy_url(&self, candidate_id: i64, now: DateTime<Utc>) -> Option<String> {
        let token = self.mint(&format!("p{candidate_id}"), now + self.ttl)?;
        Some(format!("{}{PRIVACY_PATH}/{token}", self.base))
    }

    /// Checks a privacy token.
    pub fn check_privacy(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<IdClaim, Refusal> {
        self.check_prefixed(token, 'p', now)
    }

    /// A download link for the export of access request `request_id`, valid
    /// for [`EXPORT_TTL_DAYS`]: its URL and its nonce (which the request
    /// keeps, so that only the latest link works). Subject `x{request}`.
    pub fn export_link(&self, request_id: i64, now: DateTime<Utc>) -> Option<(String, String)> {
        let expires = now + chrono::Duration::days(EXPORT_TTL_DAYS);
        let token = self.mint(&format!("x{request_id}"), expires)?;
        let nonce = token.split('.').nth(2)?.to_string();
        Some((format!("{}{EXPORT_PATH}/{token}", self.base), nonce))
    }

    /// Checks a download token.
    pub fn check_export(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<IdClaim, Refusal> {
        self.check_prefixed(token, 'x', now)
    }

    fn check_prefixed(
        &self,
        token: &str,
        prefix: char,
        now: DateTime<Utc>,
    ) -> std::result::Result<IdClaim, Refusal> {
        let (subject, nonce, expires) = self.open(token, now)?;
        let id = subject
            .strip_prefix(prefix)
            .and_then(|s| s.parse().ok())
            .ok_or(Refusal::Invalid)?;
        Ok(IdClaim { id, nonce, expires })
    }

    /// A booking link for offer `offer_id`, valid until `expires`: subject
    /// `b{offer}`.
    pub fn booking_url(&self, offer_id: i64, expires: DateTime<Utc>) -> Option<String> {
        let token = self.mint(&format!("b{offer_id}"), expires)?;
        Some(format!("{}{BOOK_PATH}/{token}", self.base))
    }

    /// Checks a booking token.
    pub fn check_booking(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<IdClaim, Refusal> {
        self.check_prefixed(token, 'b', now)
    }

    /// A feedback link for interviewer `person_id` of `interview_id`, valid
    /// until the interview's end plus the links' time to live.
    pub fn feedback_url(
        &self,
        interview_id: i64,
        person_id: i64,
        end: DateTime<Utc>,
    ) -> Option<String> {
        let token = self.mint(&format!("f{interview_id}-{person_id}"), end + self.ttl)?;
        Some(format!("{}{FEEDBACK_PATH}/{token}", self.base))
    }

    /// Checks a feedback token.
    pub fn check_feedback(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<FeedbackClaim, Refusal> {
        let (subject, nonce, expires) = self.open(token, now)?;
        let (iv, person) = subject
            .strip_prefix('f')
            .and_then(|s| s.split_once('-'))
            .ok_or(Refusal::Invalid)?;
        Ok(FeedbackClaim {
            interview_id: iv.parse().map_err(|_| Refusal::Invalid)?,
            person_id: person.parse().map_err(|_| Refusal::Invalid)?,
            nonce,
            expires,
        })
    }
}

/// The pages' words, in the locales atsd ships (else English).
pub struct Words {
    pub lang: &'static str,
    pub title: &'static str,
    pub confirm: &'static str,
    pub button: &'static str,
    pub done: &'static str,
    pub invalid: &'static str,
    pub expired: &'static str,
    pub expired_feedback: &'static str,
    pub used: &'static str,
    pub closed: &'static str,
}

pub fn words(locale: &str) -> &'static Words {
    match locale.split(['-', '_']).next().unwrap_or("en") {
        "de" => &DE,
        "es" => &ES,
        _ => &EN,
    }
}

static EN: Words = Words {
    lang: "en",
    title: "Withdraw your application",
    confirm: "Do you want to withdraw your application for {posting}? We will not consider it any further.",
    button: "Withdraw my application",
    done: "Your application for {posting} has been withdrawn. Thank you for your interest.",
    invalid: "This link is not valid.",
    expired: "This link has expired. Please reply to our email if you want to withdraw.",
    expired_feedback: "This link has expired. Please record your feedback on the recruiter board.",
    used: "This link has already been used.",
    closed: "This application is already closed.",
};

static DE: Words = Words {
    lang: "de",
    title: "Bewerbung zurückziehen",
    confirm: "Möchten Sie Ihre Bewerbung für {posting} zurückziehen? Wir werden sie dann nicht weiter berücksichtigen.",
    button: "Bewerbung zurückziehen",
    done: "Ihre Bewerbung für {posting} wurde zurückgezogen. Vielen Dank für Ihr Interesse.",
    invalid: "Dieser Link ist ungültig.",
    expired: "Dieser Link ist abgelaufen. Antworten Sie bitte auf unsere E-Mail, wenn Sie Ihre Bewerbung zurückziehen möchten.",
    expired_feedback: "Dieser Link ist abgelaufen. Bitte erfassen Sie Ihre Rückmeldung auf dem Recruiting-Board.",
    used: "Dieser Link wurde bereits verwendet.",
    closed: "Diese Bewerbung ist bereits abgeschlossen.",
};

static ES: Words = Words {
    lang: "es",
    title: "Retirar tu candidatura",
    confirm: "¿Quieres retirar tu candidatura para {posting}? Ya no la tendremos en cuenta.",
    button: "Retirar mi candidatura",
    done: "Tu candidatura para {posting} se ha retirado. Gracias por tu interés.",
    invalid: "Este enlace no es válido.",
    expired: "Este enlace ha caducado. Si quieres retirar tu candidatura, responde a nuestro correo.",
    expired_feedback: "Este enlace ha caducado. Registra tu valoración en el tablero de selección.",
    used: "Este enlace ya se ha utilizado.",
    closed: "Esta candidatura ya está cerrada.",
};

/// A plain page: a heading, a paragraph and maybe the confirmation form.
pub fn page(w: &Words, org: &str, text: &str, form: Option<&str>) -> String {
    let e = |s: &str| html_escape::encode_text(s).into_owned();
    let form = form
        .map(|action| {
            format!(
                "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
                html_escape::encode_double_quoted_attribute(action),
                e(w.button)
            )
        })
        .unwrap_or_default();
    shell(w.lang, w.title, org, &format!("<p>{}</p>{form}", e(text)))
}

/// A self-service page: `lang`, the title over `body` (HTML), never more
/// than the page needs (no script, no referrer).
pub(crate) fn shell(lang: &str, title: &str, org: &str, body: &str) -> String {
    let e = |s: &str| html_escape::encode_text(s).into_owned();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><meta name=\"description\" content=\"{} · {}\">\
         <link rel=\"icon\" href=\"{ICON}\"><title>{} · {}</title>\
         <style>a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible\
         {{outline:3px solid #0b4a8f;outline-offset:2px}}</style></head>\
         <body style=\"font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em;line-height:1.5\">\
         <main><h1>{}</h1>{body}</main></body></html>\n",
        e(title),
        e(org),
        e(title),
        e(org),
        e(title),
    )
}

/// The pages' icon, inline (no request to answer; the pages' security
/// policy allows `data:` images only).
const ICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23234'/%3E%3Cpath d='M4 8.5l2.5 2.5L12 5' stroke='%23fff' stroke-width='2' fill='none'/%3E%3C/svg%3E";

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000, 0).unwrap()
    }

    fn links() -> Links {
        Links::new(
            "https://atsd.example.org/",
            b"0123456789abcdef0123456789abcdef",
            chrono::Duration::days(30),
        )
    }

    fn token(url: &str) -> &str {
        url.rsplit('/').next().unwrap()
    }

    #[test]
    fn a_link_checks_for_its_application_until_it_expires() {
        let now = fixed_now();
        let l = links();
        let url = l.withdraw_url(42, now).expect("a link");
        assert!(
            url.starts_with("https://atsd.example.org/self-service/withdraw/42."),
            "{url}"
        );
        let c = l.check(token(&url), now).unwrap();
        assert_eq!(c.application_id, 42);
        assert_eq!(
            l.check(token(&url), now + chrono::Duration::days(31)),
            Err(Refusal::Expired)
        );
        // two links differ (their nonces)
        assert_ne!(Some(url), l.withdraw_url(42, now));
    }

    #[test]
    fn feedback_links_name_their_interviewer_and_never_pass_for_withdraw_links() {
        let now = fixed_now();
        let l = links();
        let url = l.feedback_url(7, 3, now).expect("a link");
        assert!(
            url.starts_with("https://atsd.example.org/self-service/feedback/f7-3."),
            "{url}"
        );
        let c = l.check_feedback(token(&url), now).unwrap();
        assert_eq!((c.interview_id, c.person_id), (7, 3));
        assert_eq!(
            l.check_feedback(token(&url), now + chrono::Duration::days(31)),
            Err(Refusal::Expired)
        );
        // one kind is never the other
        assert_eq!(l.check(token(&url), now), Err(Refusal::Invalid));
        let w = l.withdraw_url(7, now).expect("a link");
        assert_eq!(l.check_feedback(token(&w), now), Err(Refusal::Invalid));
        // another interviewer, same signature
        let other = token(&url).replacen("f7-3.", "f7-4.", 1);
        assert_eq!(l.check_feedback(&other, now), Err(Refusal::Invalid));
    }

    #[test]
    fn privacy_and_download_links_are_kinds_of_their_own() {
        let now = fixed_now();
        let l = links();
        let p = l.privacy_url(9, now).expect("a link");
        assert!(
            p.starts_with("https://atsd.example.org/self-service/privacy/p9."),
            "{p}"
        );
        assert_eq!(l.check_privacy(token(&p), now).unwrap().id, 9);
        let (x, nonce) = l.export_link(4, now).expect("a link");
        assert!(
            x.starts_with("https://atsd.example.org/self-service/export/x4."),
            "{x}"
        );
        let c = l.check_export(token(&x), now).unwrap();
        assert_eq!((c.id, c.nonce.as_str()), (4, nonce.as_str()));
        // a download link lives 7 days, whatever the links' time to live
        assert_eq!(
            l.check_export(token(&x), now + chrono::Duration::days(8)),
            Err(Refusal::Expired)
        );
        assert!(
            l.check_privacy(token(&p), now + chrono::Duration::days(8))
                .is_ok()
        );
        // no kind passes for another
        assert_eq!(l.check_export(token(&p), now), Err(Refusal::Invalid));
        assert_eq!(l.check_privacy(token(&x), now), Err(Refusal::Invalid));
        assert_eq!(l.check(token(&p), now), Err(Refusal::Invalid));
        let w = l.withdraw_url(9, now).expect("a link");
        assert_eq!(l.check_privacy(token(&w), now), Err(Refusal::Invalid));
        // another candidate, same signature
        let other = token(&p).replacen("p9.", "p8.", 1);
        assert_eq!(l.check_privacy(&other, now), Err(Refusal::Invalid));
    }

    #[test]
    fn forged_and_altered_links_are_invalid() {
        let now = fixed_now();
        let l = links();
        let t = token(&l.withdraw_url(42, now).expect("a link")).to_string();
        // another application, same signature
        let other = t.replacen("42.", "43.", 1);
        assert_eq!(l.check(&other, now), Err(Refusal::Invalid));
        // a later expiry
        let (app, rest) = t.split_once('.').unwrap();
        let (exp, rest) = rest.split_once('.').unwrap();
        let later = format!("{app}.{}.{rest}", exp.parse::<i64>().unwrap() + 1);
        assert_eq!(l.check(&later, now), Err(Refusal::Invalid));
        // another key
        let k = Links::new(
            "https://x",
            b"another key, another key, 32 bytes!",
            chrono::Duration::days(1),
        );
        assert_eq!(k.check(&t, now), Err(Refusal::Invalid));
        for junk in ["", ".", "a.b.c.d", "42.1.n.!!!", "🙂"] {
            assert_eq!(l.check(junk, now), Err(Refusal::Invalid), "{junk}");
        }
    }
}
