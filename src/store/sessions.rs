//! The recruiter board's sessions (`board_sessions`): the SHA-256 of each
//! cookie, its token and when it ends. `recruiter_board::auth` decides who
//! may have one.

use super::Store;
use super::tokens::sha256;
use crate::error::Result;
use chrono::{DateTime, Utc};
use entity::{api_token, board_session};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

/// Keeps a new session for `token_id` whose cookie is `secret`, and removes
/// the sessions that have ended.
pub async fn open(
    store: &Store,
    secret: &str,
    token_id: i64,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    board_session::ActiveModel {
        hash: Set(sha256(secret.as_bytes())),
        token_id: Set(token_id),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(store.conn())
    .await?;
    board_session::Entity::delete_many()
        .filter(board_session::Column::ExpiresAt.lte(now))
        .exec(store.conn())
        .await?;
    Ok(())
}

/// The session of cookie `secret` with its token, if the session has not
/// ended and the token is not revoked.
pub async fn live(
    store: &Store,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<api_token::Model>> {
    let Some(s) = board_session::Entity::find_by_id(sha256(secret.as_bytes()))
        .one(store.conn())
        .await?
    else {
        return Ok(None);
    };
    if s.expires_at <= now {
        return Ok(None);
    }
    Ok(api_token::Entity::find_by_id(s.token_id)
        .filter(api_token::Column::RevokedAt.is_null())
        .one(store.conn())
        .await?)
}

/// Ends the session of cookie `secret`.
pub async fn close(store: &Store, secret: &str) -> Result<()> {
    board_session::Entity::delete_by_id(sha256(secret.as_bytes()))
        .exec(store.conn())
        .await?;
    Ok(())
}
