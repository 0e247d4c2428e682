//! The email outbox: listing and retrying (claiming and recording sends live
//! in `mail::dispatch`).

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::{outbox, outbox_body};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::Serialize;
use std::collections::HashMap;

/// An outbox row with its rendered message.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Email {
    #[serde(flatten)]
    pub row: outbox::Model,
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_html: Option<String>,
}

impl std::ops::Deref for Email {
    type Target = outbox::Model;
    fn deref(&self) -> &outbox::Model {
        &self.row
    }
}

/// The rendered messages of `ids`, by outbox id.
pub async fn bodies<C: ConnectionTrait>(
    c: &C,
    ids: &[i64],
) -> Result<HashMap<i64, outbox_body::Model>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(5000) {
        for b in outbox_body::Entity::find()
            .filter(outbox_body::Column::OutboxId.is_in(chunk.to_vec()))
            .all(c)
            .await?
        {
            out.insert(b.outbox_id, b);
        }
    }
    Ok(out)
}

/// Joins rows with their messages; `full` includes the bodies, else only the subject.
pub async fn with_bodies<C: ConnectionTrait>(
    c: &C,
    rows: Vec<outbox::Model>,
    full: bool,
) -> Result<Vec<Email>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut b = bodies(c, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let body = b.remove(&row.id);
            Email {
                subject: body.as_ref().map(|b| b.subject.clone()),
                body_text: body.as_ref().filter(|_| full).map(|b| b.body_text.clone()),
                body_html: body.filter(|_| full).map(|b| b.body_html),
                row,
            }
        })
        .collect())
}

/// Outbox rows (with their subjects), oldest first.
pub async fn list<C: ConnectionTrait>(c: &C, status: Option<&str>) -> Result<Vec<Email>> {
    let mut q = outbox::Entity::find().order_by_asc(outbox::Column::Id);
    if let Some(s) = status {
        q = q.filter(outbox::Column::Status.eq(s));
    }
    with_bodies(c, q.all(c).await?, false).await
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
