//! The API's idempotency keys (`idempotency_keys`): per token, the key, the
//! request's hash and the answer given, kept for `[retention]
//! idempotency_after`.

use crate::error::Result;
use chrono::{DateTime, Utc};
use entity::idempotency_key;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// The answer kept for `key` of token `token_id`, if any.
pub async fn find<C: ConnectionTrait>(
    c: &C,
    token_id: i64,
    key: &str,
) -> Result<Option<idempotency_key::Model>> {
    Ok(idempotency_key::Entity::find()
        .filter(idempotency_key::Column::TokenId.eq(token_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .one(c)
        .await?)
}

/// Keeps the answer (`status`, `body`) given to the request `request_hash`
/// under `key`; fails when another request holds the key already.
pub async fn keep<C: ConnectionTrait>(
    c: &C,
    token_id: i64,
    key: &str,
    request_hash: &str,
    status: i32,
    body: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    idempotency_key::ActiveModel {
        token_id: Set(token_id),
        key: Set(key.to_string()),
        request_hash: Set(request_hash.to_string()),
        status: Set(status),
        body: Set(body.to_string()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Deletes the keys (and their stored answers) created before `cutoff`;
/// how many.
pub async fn expire<C: ConnectionTrait>(c: &C, cutoff: DateTime<Utc>) -> Result<u64> {
    Ok(idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(cutoff))
        .exec(c)
        .await?
        .rows_affected)
}
