//! Who may see the board. With `[http] board_auth = "token"` (the default) a
//! recruiter gives a `recruiter` or `read` API token once at `/board/login`;
//! the board answers with a session cookie (`Secure`, `HttpOnly`,
//! `SameSite=Strict`, 12 hours) whose SHA-256 is kept in `board_sessions`. A
//! session ends when it expires, at sign-out, or when its token is revoked.
//! With `board_auth = "proxy"` the operator's reverse proxy decides, and the
//! listener must be on loopback (`check-config` refuses otherwise).

use crate::error::Result;
use crate::store::Store;
use crate::store::tokens::{self, Scope, sha256};
use chrono::{DateTime, Duration, Utc};
use entity::{api_token, board_session};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

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
    board_session::ActiveModel {
        hash: Set(sha256(secret.as_bytes())),
        token_id: Set(t.id),
        created_at: Set(now),
        expires_at: Set(now + Duration::hours(SESSION_HOURS)),
    }
    .insert(store.conn())
    .await?;
    // sessions that ended are removed as new ones start
    board_session::Entity::delete_many()
        .filter(board_session::Column::ExpiresAt.lte(now))
        .exec(store.conn())
        .await?;
    Ok(Ok(secret))
}

/// Whether the cookie's session is live: not expired, its token not revoked
/// and still allowed to read.
pub async fn check(store: &Store, secret: &str, now: DateTime<Utc>) -> Result<bool> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let Some(s) = board_session::Entity::find_by_id(sha256(secret.as_bytes()))
        .one(store.conn())
        .await?
    else {
        return Ok(false);
    };
    if s.expires_at <= now {
        return Ok(false);
    }
    let token = api_token::Entity::find_by_id(s.token_id)
        .filter(api_token::Column::RevokedAt.is_null())
        .one(store.conn())
        .await?;
    Ok(token.is_some_and(|t| Scope::parse(&t.scope).is_ok_and(|s| s.allows(Scope::Read))))
}

/// Ends the cookie's session.
pub async fn sign_out(store: &Store, secret: &str) -> Result<()> {
    board_session::Entity::delete_by_id(sha256(secret.as_bytes()))
        .exec(store.conn())
        .await?;
    Ok(())
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
