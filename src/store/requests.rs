//! Persistence of data-subject requests (`data_requests`).

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::data_request;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

/// A request to write.
pub struct NewRequest<'a> {
    pub candidate_id: Option<i64>,
    pub email: &'a str,
    pub kind: &'a str,
    pub law: &'a str,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub acknowledge_by: Option<DateTime<Utc>>,
    pub note: Option<&'a str>,
    /// The nonce of the candidate's privacy link that opened it.
    pub link_nonce: Option<&'a str>,
}

pub async fn insert<C: ConnectionTrait>(
    c: &C,
    r: NewRequest<'_>,
    now: DateTime<Utc>,
) -> Result<data_request::Model> {
    Ok(data_request::ActiveModel {
        candidate_id: Set(r.candidate_id),
        email: Set(r.email.to_string()),
        kind: Set(r.kind.to_string()),
        law: Set(r.law.to_string()),
        state: Set("open".into()),
        received_at: Set(r.received_at),
        due_at: Set(r.due_at),
        acknowledge_by: Set(r.acknowledge_by),
        note: Set(r.note.map(String::from)),
        link_nonce: Set(r.link_nonce.map(String::from)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(c)
    .await?)
}

pub async fn find<C: ConnectionTrait>(c: &C, id: i64) -> Result<data_request::Model> {
    data_request::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no data request {id}")))
}

/// The request a privacy link (by its nonce) opened, if it opened one.
pub async fn by_link_nonce<C: ConnectionTrait>(
    c: &C,
    nonce: &str,
) -> Result<Option<data_request::Model>> {
    Ok(data_request::Entity::find()
        .filter(data_request::Column::LinkNonce.eq(nonce))
        .one(c)
        .await?)
}

/// Remembers the nonce of the download link just sent: only that link works.
pub async fn set_export_nonce<C: ConnectionTrait>(c: &C, id: i64, nonce: &str) -> Result<()> {
    data_request::Entity::update_many()
        .col_expr(
            data_request::Column::ExportNonce,
            sea_orm::sea_query::Expr::value(nonce),
        )
        .filter(data_request::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Marks the export of request `id` downloaded through the link with
/// `nonce`: false when that link is not the request's latest or was used
/// already (then nothing changes).
pub async fn mark_downloaded<C: ConnectionTrait>(
    c: &C,
    id: i64,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = data_request::Entity::update_many()
        .col_expr(
            data_request::Column::DownloadedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(data_request::Column::Id.eq(id))
        .filter(data_request::Column::ExportNonce.eq(nonce))
        .filter(data_request::Column::DownloadedAt.is_null())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Requests, soonest due first: the open ones only unless `all`, and of
/// those, due before `due_before` if given.
pub async fn list<C: ConnectionTrait>(
    c: &C,
    all: bool,
    due_before: Option<DateTime<Utc>>,
) -> Result<Vec<data_request::Model>> {
    let mut q = data_request::Entity::find();
    if !all {
        q = q.filter(data_request::Column::State.eq("open"));
    }
    if let Some(t) = due_before {
        q = q.filter(data_request::Column::DueAt.lte(t));
    }
    Ok(q.order_by_asc(data_request::Column::DueAt)
        .order_by_asc(data_request::Column::Id)
        .all(c)
        .await?)
}

/// The one extension: the new due date and its reason.
pub async fn extend<C: ConnectionTrait>(
    c: &C,
    r: data_request::Model,
    due_at: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<data_request::Model> {
    let mut am: data_request::ActiveModel = r.into();
    am.due_at = Set(due_at);
    am.extended_at = Set(Some(now));
    am.extension_reason = Set(Some(reason.to_string()));
    Ok(am.update(c).await?)
}

/// Closes a request with its outcome (`done`, `refused`) and reason.
pub async fn close<C: ConnectionTrait>(
    c: &C,
    r: data_request::Model,
    outcome: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<data_request::Model> {
    let mut am: data_request::ActiveModel = r.into();
    am.state = Set("closed".into());
    am.outcome = Set(Some(outcome.to_string()));
    am.close_reason = Set(Some(reason.to_string()));
    am.closed_at = Set(Some(now));
    Ok(am.update(c).await?)
}

/// Open requests at `now`: `(open, due_soon, overdue)`, each counted once
/// (`open`: neither of the others).
pub async fn counts<C: ConnectionTrait>(c: &C, now: DateTime<Utc>) -> Result<(i64, i64, i64)> {
    use sea_orm::QuerySelect;
    let due: Vec<DateTime<Utc>> = data_request::Entity::find()
        .select_only()
        .column(data_request::Column::DueAt)
        .filter(data_request::Column::State.eq("open"))
        .into_tuple()
        .all(c)
        .await?;
    let (mut open, mut soon, mut overdue) = (0, 0, 0);
    for d in due {
        match crate::requests::urgency(d, now) {
            "overdue" => overdue += 1,
            "due_soon" => soon += 1,
            _ => open += 1,
        }
    }
    Ok((open, soon, overdue))
}
