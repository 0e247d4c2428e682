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
/// The reason written on the transition.
pub const REASON: &str = "candidate_withdrew";

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
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(
                format!("cannot read the self-service link key {}", path.display()),
                e,
            )
        })?;
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

    /// A new link for `application_id`, valid until `now + ttl`.
    pub fn withdraw_url(&self, application_id: i64, now: DateTime<Utc>) -> String {
        let mut nonce = [0u8; 12];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce);
        let payload = format!(
            "{application_id}.{}.{}",
            (now + self.ttl).timestamp(),
            B64.encode(nonce)
        );
        format!("{}{PATH}/{payload}.{}", self.base, self.sign(&payload))
    }

    /// Checks a token: its signature first, then its expiry.
    pub fn check(&self, token: &str, now: DateTime<Utc>) -> std::result::Result<Claim, Refusal> {
        let (payload, sig) = token.rsplit_once('.').ok_or(Refusal::Invalid)?;
        let sig = B64.decode(sig).map_err(|_| Refusal::Invalid)?;
        ring::hmac::verify(&self.key, payload.as_bytes(), &sig).map_err(|_| Refusal::Invalid)?;
        let mut parts = payload.splitn(3, '.');
        let app: i64 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or(Refusal::Invalid)?;
        let expires = parts
            .next()
            .and_then(|p| p.parse().ok())
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or(Refusal::Invalid)?;
        let nonce = parts.next().ok_or(Refusal::Invalid)?.to_string();
        if now > expires {
            return Err(Refusal::Expired);
        }
        Ok(Claim {
            application_id: app,
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
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{} · {}</title></head>\
         <body style=\"font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em;line-height:1.5\">\
         <h1>{}</h1><p>{}</p>{form}</body></html>\n",
        w.lang,
        e(w.title),
        e(org),
        e(w.title),
        e(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let now = Utc::now();
        let l = links();
        let url = l.withdraw_url(42, now);
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
        assert_ne!(url, l.withdraw_url(42, now));
    }

    #[test]
    fn forged_and_altered_links_are_invalid() {
        let now = Utc::now();
        let l = links();
        let t = token(&l.withdraw_url(42, now)).to_string();
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
