//! The email outbox: listing and retrying (claiming and recording sends live
//! in `mail::dispatch`).

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::outbox;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

pub async fn list<C: ConnectionTrait>(c: &C, status: Option<&str>) -> Result<Vec<outbox::Model>> {
    let mut q = outbox::Entity::find().order_by_asc(outbox::Column::Id);
    if let Some(s) = status {
        q = q.filter(outbox::Column::Status.eq(s));
    }
    Ok(q.all(c).await?)
}

/// Puts a dead or pending email back in the queue, due now, with a fresh
/// attempt count. A sent email is never sent again; a cancelled one stays cancelled.
pub async fn retry<C: ConnectionTrait>(
    c: &C,
    id: i64,
    now: DateTime<Utc>,
) -> Result<outbox::Model> {
    let row = outbox::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no email with id {id}")))?;
    match row.status.as_str() {
        "dead" | "pending" => {}
        other => {
            return Err(Error::Refused(format!(
                "email {id} is {other}; only dead or pending emails can be retried"
            )));
        }
    }
    let mut am: outbox::ActiveModel = row.into();
    am.status = Set("pending".into());
    am.attempts = Set(0);
    am.next_attempt_at = Set(now);
    am.updated_at = Set(now);
    Ok(am.update(c).await?)
}
