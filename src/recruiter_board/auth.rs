//! Who may see the board. With `[http] board_auth = "token"` (the default) a
//! recruiter gives a `recruiter` or `read` API token once at `/board/login`;
//! the board answers with a session cookie (`Secure`, `HttpOnly`,
//! `SameSite=Strict`, 12 hours) whose SHA-256 is kept in `board_sessions`. A
//! session ends when it expires, at sign-out, or when its token is revoked.
//! With `board_auth = "proxy"` the operator's reverse proxy decides, and the
//! listener must be on loopback (`check-config` refuses otherwise).

use crate::error::Result;
use crate::store::tokens::{self, Scope};
use crate::store::{Store, people, sessions};
use chrono::{DateTime, Duration, Utc};
use entity::{api_token, person};

pub const COOKIE: &str = "atsd_board";
pub const SESSION_HOURS: i64 = 12;

/// Why a token given at sign-in was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    BadToken,
    WrongScope,
}

/// Opens a session for `token` if it is live and may read; returns the
/// cookie's value.
pub async fn sign_in(
    store: &Store,
    token: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<String, Refusal>> {
    let Some(t) = tokens::authenticate(store, token.trim(), now).await? else {
        return Ok(Err(Refusal::BadToken));
    };
    let readable = Scope::parse(&t.scope).is_ok_and(|s| s.allows(Scope::Read));
    if !readable {
        return Ok(Err(Refusal::WrongScope));
    }
    let secret = tokens::random_hex()?;
    // sessions that ended are removed as new ones start
    sessions::open(
        store,
        &secret,
        t.id,
        now,
        now + Duration::hours(SESSION_HOURS),
    )
    .await?;
    Ok(Ok(secret))
}

/// A live session: its token, whether that token may act (scope
/// `recruiter`) and the person it belongs to, if any.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: api_token::Model,
    pub may_act: bool,
    pub person: Option<person::Model>,
    /// The token every form of this session carries ([`form_token`]).
    pub form_token: String,
}

/// The cookie's session if it is live: not expired, its token not revoked,
/// still allowed to read, and its person (if any) not removed.
pub async fn session(store: &Store, secret: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(token) = sessions::live(store, secret, now).await? else {
        return Ok(None);
    };
    let Ok(scope) = Scope::parse(&token.scope) else {
        return Ok(None);
    };
    if !scope.allows(Scope::Read) {
        return Ok(None);
    }
    let person = match token.person_id {
        Some(id) => match people::by_id(store.conn(), id).await? {
            Some(p) if p.active => Some(p),
            // a removed person's sessions end with their tokens
            _ => return Ok(None),
        },
        None => None,
    };
    Ok(Some(Session {
        may_act: scope.allows(Scope::Recruiter),
        person,
        form_token: form_token(secret),
        token,
    }))
}

/// The form token of the session whose cookie is `secret`: an HMAC of a
/// fixed label under the session's own secret. A page of the session
/// carries it in every form; a request from another site has the cookie
/// withheld (`SameSite=Strict`) and could not know this value if it had.
pub fn form_token(secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    tokens::hex(ring::hmac::sign(&key, FORM_LABEL).as_ref())
}

const FORM_LABEL: &[u8] = b"atsd board form token v1";

/// Whether `given` is the form token of the session whose cookie is
/// `secret` (compared in constant time).
pub fn form_token_ok(secret: &str, given: &str) -> bool {
    if given.len() != 64 || !given.is_ascii() {
        return false;
    }
    let tag: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(&given[2 * i..2 * i + 2], 16).ok())
        .collect();
    let Some(tag) = tag else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, FORM_LABEL, &tag).is_ok()
}

/// Ends the cookie's session.
pub async fn sign_out(store: &Store, secret: &str) -> Result<()> {
    sessions::close(store, secret).await
}

/// The session cookie of a `Cookie` header, if any.
pub fn cookie(header: Option<&str>) -> Option<&str> {
    header?
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
}

/// The `Set-Cookie` of a new session, or of its end (`secret` None).
pub fn set_cookie(secret: Option<&str>) -> String {
    match secret {
        Some(s) => format!(
            "{COOKIE}={s}; Path=/board; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
            SESSION_HOURS * 3600
        ),
        None => format!("{COOKIE}=; Path=/board; Max-Age=0; Secure; HttpOnly; SameSite=Strict"),
    }
}

/// Where to go after signing in: a board page, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/board")
                && !n.contains("//")
                && !n.contains('\\')
                && !n.starts_with("/board/login") =>
        {
            n.to_string()
        }
        _ => "/board".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        assert_eq!(cookie(Some("a=1; atsd_board=abc ; b=2")), Some("abc"));
        assert_eq!(cookie(Some("a=1")), None);
        assert_eq!(cookie(None), None);
    }

    #[test]
    fn the_cookie_is_secure_httponly_strict_and_scoped_to_the_board() {
        let c = set_cookie(Some("x"));
        for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/board"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(set_cookie(None).contains("Max-Age=0"));
    }

    #[test]
    fn a_form_token_belongs_to_its_session_only() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let t = form_token(&a);
        assert!(form_token_ok(&a, &t));
        assert!(!form_token_ok(&b, &t));
        assert!(!form_token_ok(&a, ""));
        assert!(!form_token_ok(&a, "not hex"));
        assert!(!form_token_ok(&a, &t[..62]));
    }

    #[test]
    fn sign_in_sends_you_back_to_the_board_only() {
        assert_eq!(
            safe_next(Some("/board/postings/3?stale=1")),
            "/board/postings/3?stale=1"
        );
        for bad in [
            "https://evil.example",
            "//evil.example/board",
            "/board//evil",
            "/v1/report",
            "/board/login",
        ] {
            assert_eq!(safe_next(Some(bad)), "/board", "{bad}");
        }
    }
}
