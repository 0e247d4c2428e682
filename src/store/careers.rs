//! The careers site's rows: which postings are published, and what an
//! application through the site or the Job Board API brought (its form and
//! its files).

use super::sql;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::{application_file, application_form, posting};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

/// The published postings that are not closed, by id.
pub async fn live<C: ConnectionTrait>(c: &C) -> Result<Vec<posting::Model>> {
    Ok(posting::Entity::find()
        .filter(posting::Column::PublishedAt.is_not_null())
        .filter(posting::Column::Status.ne("closed"))
        .order_by_asc(posting::Column::Id)
        .all(c)
        .await?)
}

/// A posting by id, whatever its state.
pub async fn posting<C: ConnectionTrait>(c: &C, id: i64) -> Result<Option<posting::Model>> {
    Ok(posting::Entity::find_by_id(id).one(c).await?)
}

/// What changes whenever the board's answers may: how many postings are
/// live and the latest change to any of them (a publish, a withdrawal, a
/// close, an edit). Cheap: one aggregate.
pub async fn version<C: ConnectionTrait>(c: &C) -> Result<String> {
    let row = c
        .query_one_raw(sql(
            c.get_database_backend(),
            "SELECT COUNT(*) AS n, MAX(updated_at) AS u FROM postings WHERE published_at IS NOT NULL",
            vec![],
        ))
        .await?;
    let (n, u): (i64, Option<DateTime<Utc>>) = match row {
        Some(r) => (r.try_get("", "n")?, r.try_get("", "u")?),
        None => (0, None),
    };
    Ok(format!(
        "{n}-{}",
        u.map(|t| t.timestamp_micros()).unwrap_or_default()
    ))
}

/// Publishes a posting (now, and first now unless it was before), or
/// withdraws it; its `updated_at` moves, so the board's answers change.
pub async fn set_published<C: ConnectionTrait>(
    c: &C,
    id: i64,
    on: bool,
    now: DateTime<Utc>,
) -> Result<posting::Model> {
    let p = posting(c, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no posting with id {id}")))?;
    let first = p.first_published_at;
    let mut am: posting::ActiveModel = p.into();
    am.published_at = Set(on.then_some(now));
    if on && first.is_none() {
        am.first_published_at = Set(Some(now));
    }
    am.updated_at = Set(now);
    Ok(am.update(c).await?)
}

/// A file an application brought, stored already.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub field: String,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
}

/// What an application brought beside the candidate.
#[derive(Clone, Debug, Default)]
pub struct NewForm {
    pub phone: Option<String>,
    /// `{label: answer}` as JSON text.
    pub answers: String,
    pub source: Option<String>,
    pub consent: Option<String>,
    pub files: Vec<NewFile>,
}

/// Writes an application's form and files, in the caller's transaction.
pub async fn insert_form<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
    f: &NewForm,
    now: DateTime<Utc>,
) -> Result<()> {
    application_form::ActiveModel {
        application_id: Set(application_id),
        phone: Set(f.phone.clone()),
        answers: Set(f.answers.clone()),
        source: Set(f.source.clone()),
        consent: Set(f.consent.clone()),
        created_at: Set(now),
    }
    .insert(c)
    .await?;
    if f.files.is_empty() {
        return Ok(());
    }
    application_file::Entity::insert_many(f.files.iter().map(|x| application_file::ActiveModel {
        application_id: Set(application_id),
        field: Set(x.field.clone()),
        name: Set(x.name.clone()),
        media_type: Set(x.media_type.clone()),
        size: Set(x.size),
        sha256: Set(x.sha256.clone()),
        created_at: Set(now),
        ..Default::default()
    }))
    .exec(c)
    .await?;
    Ok(())
}

/// The form an application brought, if any.
pub async fn form_of<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
) -> Result<Option<application_form::Model>> {
    Ok(application_form::Entity::find_by_id(application_id)
        .one(c)
        .await?)
}

/// The files of an application, in the order they came.
pub async fn files_of<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
) -> Result<Vec<application_file::Model>> {
    Ok(application_file::Entity::find()
        .filter(application_file::Column::ApplicationId.eq(application_id))
        .order_by_asc(application_file::Column::Id)
        .all(c)
        .await?)
}

/// One file row by id.
pub async fn file<C: ConnectionTrait>(c: &C, id: i64) -> Result<Option<application_file::Model>> {
    Ok(application_file::Entity::find_by_id(id).one(c).await?)
}

/// Whether any application still holds the file with this digest.
pub async fn digest_held<C: ConnectionTrait>(c: &C, sha256: &str) -> Result<bool> {
    Ok(application_file::Entity::find()
        .filter(application_file::Column::Sha256.eq(sha256))
        .one(c)
        .await?
        .is_some())
}
