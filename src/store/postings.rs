//! Postings: idempotent upsert by URL (or by board and job id), lookup, listing
//! and the history of changes.

use crate::error::{Error, Result};
use crate::posting::Status;
use crate::posting::{ApiBases, recognize};
use chrono::{DateTime, Utc};
use entity::{posting, posting_history};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::Value as Json;

/// A posting as it should be after an import or `posting add`.
#[derive(Clone, Debug, Default)]
pub struct NewPosting {
    pub url: String,
    pub source: String,
    pub board: Option<String>,
    pub external_id: Option<String>,
    /// None keeps the stored title (a new posting gets an empty one).
    pub title: Option<String>,
    pub company: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub apply_url: Option<String>,
    pub posted_at: Option<DateTime<Utc>>,
    /// None keeps the stored status (a new posting is `unknown`).
    pub status: Option<Status>,
    pub raw: Option<Json>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "changed")]
pub enum Upserted {
    Created,
    Updated(Vec<String>),
    Unchanged,
}

async fn history<C: ConnectionTrait>(
    c: &C,
    posting_id: i64,
    field: &str,
    old: Option<String>,
    new: Option<String>,
    note: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if field == "status" {
        super::events::record(
            c,
            vec![status_event(
                posting_id,
                old.as_deref(),
                new.as_deref(),
                note,
                now,
            )],
        )
        .await?;
    }
    history_row(posting_id, field, old, new, note, now)
        .insert(c)
        .await?;
    Ok(())
}

fn status_event(
    posting_id: i64,
    from: Option<&str>,
    to: Option<&str>,
    note: &str,
    at: DateTime<Utc>,
) -> super::events::NewEvent {
    super::events::NewEvent::new(
        "posting.status_changed",
        at,
        serde_json::json!({"posting_id": posting_id, "from": from, "to": to, "why": note}),
    )
}

/// The stored posting with this URL, or with the same board and job id.
pub async fn find_existing<C: ConnectionTrait>(
    c: &C,
    p: &NewPosting,
) -> Result<Option<posting::Model>> {
    if let Some(m) = posting::Entity::find()
        .filter(posting::Column::Url.eq(&p.url))
        .one(c)
        .await?
    {
        return Ok(Some(m));
    }
    if p.source != "generic"
        && let Some(ext) = &p.external_id
    {
        let mut q = posting::Entity::find()
            .filter(posting::Column::Source.eq(&p.source))
            .filter(posting::Column::ExternalId.eq(ext));
        q = match &p.board {
            Some(b) => q.filter(posting::Column::Board.eq(b)),
            None => q.filter(posting::Column::Board.is_null()),
        };
        return Ok(q.one(c).await?);
    }
    Ok(None)
}

pub fn show_time(t: &Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339())
}

/// Creates the posting, or updates the stored one; never duplicates.
/// Changes of status, title, location and posting date are recorded in the
/// history with `note`.
// Stays whole: one posting's insert or update with its history row, in the order of its statements.
pub async fn upsert<C: ConnectionTrait>(
    c: &C,
    p: &NewPosting,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(posting::Model, Upserted)> {
    let Some(old) = find_existing(c, p).await? else {
        let status = p.status.unwrap_or(Status::Unknown);
        let m = posting::ActiveModel {
            url: Set(p.url.clone()),
            source: Set(p.source.clone()),
            board: Set(p.board.clone()),
            external_id: Set(p.external_id.clone()),
            title: Set(p.title.clone().unwrap_or_default()),
            company: Set(p.company.clone()),
            location: Set(p.location.clone()),
            description: Set(p.description.clone()),
            apply_url: Set(p.apply_url.clone()),
            posted_at: Set(p.posted_at),
            status: Set(status.as_str().into()),
            status_changed_at: Set(Some(now)),
            board_missing: Set(false),
            consecutive_not_found: Set(0),
            consecutive_errors: Set(0),
            next_poll_at: Set(Some(now)),
            raw: Set(p.raw.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(c)
        .await?;
        history(c, m.id, "status", None, Some(status.to_string()), note, now).await?;
        return Ok((m, Upserted::Created));
    };

    let mut am: posting::ActiveModel = old.clone().into();
    let mut changed = Vec::new();
    if let Some(t) = &p.title
        && !t.is_empty()
        && old.title != *t
    {
        history(
            c,
            old.id,
            "title",
            Some(old.title.clone()),
            Some(t.clone()),
            note,
            now,
        )
        .await?;
        am.title = Set(t.clone());
        changed.push("title".to_string());
    }
    if let Some(l) = &p.location
        && old.location.as_ref() != Some(l)
    {
        history(
            c,
            old.id,
            "location",
            old.location.clone(),
            Some(l.clone()),
            note,
            now,
        )
        .await?;
        am.location = Set(Some(l.clone()));
        changed.push("location".to_string());
    }
    for (name, new, cur, slot) in [
        ("company", &p.company, &old.company, &mut am.company),
        (
            "description",
            &p.description,
            &old.description,
            &mut am.description,
        ),
        ("apply_url", &p.apply_url, &old.apply_url, &mut am.apply_url),
    ] {
        if let Some(v) = new
            && cur.as_ref() != Some(v)
        {
            *slot = Set(Some(v.clone()));
            changed.push(name.to_string());
        }
    }
    if let Some(t) = p.posted_at
        && old.posted_at != Some(t)
    {
        history(
            c,
            old.id,
            "posted_at",
            show_time(&old.posted_at),
            show_time(&Some(t)),
            note,
            now,
        )
        .await?;
        am.posted_at = Set(Some(t));
        changed.push("posted_at".into());
    }
    if p.board.is_some() && old.board.is_none() {
        am.board = Set(p.board.clone());
        changed.push("board".into());
    }
    if let Some(raw) = &p.raw
        && old.raw.as_ref() != Some(raw)
    {
        am.raw = Set(Some(raw.clone()));
        changed.push("raw".into());
    }
    if let Some(s) = p.status
        && old.status != s.as_str()
    {
        history(
            c,
            old.id,
            "status",
            Some(old.status.clone()),
            Some(s.to_string()),
            note,
            now,
        )
        .await?;
        am.status = Set(s.as_str().into());
        am.status_changed_at = Set(Some(now));
        changed.push("status".into());
    }
    if changed.is_empty() {
        return Ok((old, Upserted::Unchanged));
    }
    am.updated_at = Set(now);
    let m = am.update(c).await?;
    Ok((m, Upserted::Updated(changed)))
}

/// The postings with these ids, in id order (one query).
pub async fn by_ids<C: ConnectionTrait>(c: &C, ids: &[i64]) -> Result<Vec<posting::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(posting::Entity::find()
        .filter(posting::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(posting::Column::Id)
        .all(c)
        .await?)
}

/// A posting named by id or by URL (any form that recognises to the same posting).
pub async fn find<C: ConnectionTrait>(c: &C, reference: &str) -> Result<posting::Model> {
    let r = reference.trim();
    if !r.is_empty() && r.chars().all(|ch| ch.is_ascii_digit()) {
        let id: i64 = r
            .parse()
            .map_err(|_| Error::input(format!("posting id `{r}` is out of range")))?;
        return posting::Entity::find_by_id(id)
            .one(c)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no posting with id {id}")));
    }
    let rec = recognize(r, &ApiBases::default())
        .map_err(|e| Error::input(format!("posting `{r}`: not an id, and {e}")))?;
    let probe = NewPosting {
        url: rec.url,
        source: rec.source.to_string(),
        board: rec.board,
        external_id: rec.external_id,
        ..Default::default()
    };
    find_existing(c, &probe)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no posting with URL {r}")))
}

/// Postings whose next poll is due at `now`, oldest first.
pub async fn due<C: ConnectionTrait>(c: &C, now: DateTime<Utc>) -> Result<Vec<posting::Model>> {
    Ok(posting::Entity::find()
        .filter(
            posting::Column::NextPollAt
                .lte(now)
                .or(posting::Column::NextPollAt.is_null()),
        )
        .order_by_asc(posting::Column::NextPollAt)
        .order_by_asc(posting::Column::Id)
        .all(c)
        .await?)
}

pub fn history_row(
    posting_id: i64,
    field: &str,
    old: Option<String>,
    new: Option<String>,
    note: &str,
    now: DateTime<Utc>,
) -> posting_history::ActiveModel {
    posting_history::ActiveModel {
        posting_id: Set(posting_id),
        at: Set(now),
        field: Set(field.into()),
        old_value: Set(old),
        new_value: Set(new),
        note: Set(Some(note.into())),
        ..Default::default()
    }
}

/// Writes history rows (gathered by `poll::record::poll_update`) in one
/// statement.
pub async fn insert_history<C: ConnectionTrait>(
    c: &C,
    rows: Vec<posting_history::ActiveModel>,
) -> Result<()> {
    use crate::store::rows::Cell;
    if rows.is_empty() {
        return Ok(());
    }
    let events: Vec<super::events::NewEvent> = rows
        .iter()
        .filter(|r| r.field.as_ref() == "status")
        .map(|r| {
            status_event(
                *r.posting_id.as_ref(),
                r.old_value.as_ref().as_deref(),
                r.new_value.as_ref().as_deref(),
                r.note.as_ref().as_deref().unwrap_or(""),
                *r.at.as_ref(),
            )
        })
        .collect();
    super::events::record(c, events).await?;
    let take_s = |mut v: sea_orm::ActiveValue<Option<String>>| v.take().flatten();
    let cells: Vec<Vec<Cell>> = rows
        .into_iter()
        .map(|mut r| {
            vec![
                Cell::I(r.posting_id.take()),
                Cell::T(r.at.take()),
                Cell::S(r.field.take()),
                Cell::S(take_s(r.old_value)),
                Cell::S(take_s(r.new_value)),
                Cell::S(take_s(r.note)),
            ]
        })
        .collect();
    const COLUMNS: [(&str, &str); 6] = [
        ("posting_id", "bigint"),
        ("at", "timestamptz"),
        ("field", "text"),
        ("old_value", "text"),
        ("new_value", "text"),
        ("note", "text"),
    ];
    crate::store::rows::insert_all(c, "posting_history", &COLUMNS, cells).await
}

/// What one poll changes in a posting row. `None` in the optional fields
/// means "keep what is stored".
#[derive(Clone, Debug)]
pub struct PollUpdate {
    pub id: i64,
    pub status: String,
    pub status_changed_at: Option<DateTime<Utc>>,
    pub board_missing: bool,
    pub title: Option<String>,
    pub location: Option<String>,
    pub posted_at: Option<DateTime<Utc>>,
    pub company: Option<String>,
    pub description: Option<String>,
    /// New validators for the next conditional request, when the answer had some.
    pub validators: Option<(Option<String>, Option<String>)>,
    pub consecutive_not_found: i32,
    pub last_not_found_at: Option<DateTime<Utc>>,
    pub consecutive_errors: i32,
    pub next_poll_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// Writes many polls' updates with one statement (`UPDATE … FROM` a list of
/// rows), instead of one `UPDATE` per posting.
pub async fn record_polls<C: ConnectionTrait>(
    c: &C,
    updates: Vec<PollUpdate>,
    now: DateTime<Utc>,
) -> Result<()> {
    use crate::store::rows::{Cell, rows_cte};
    if updates.is_empty() {
        return Ok(());
    }
    let b = c.get_database_backend();
    let rows: Vec<Vec<Cell>> = updates
        .into_iter()
        .map(|u| {
            let (set_validators, etag, last_modified) = match u.validators {
                Some((e, l)) => (true, e, l),
                None => (false, None, None),
            };
            vec![
                Cell::I(Some(u.id)),
                Cell::S(Some(u.status)),
                Cell::T(u.status_changed_at),
                Cell::B(Some(u.board_missing)),
                Cell::S(u.title),
                Cell::S(u.location),
                Cell::T(u.posted_at),
                Cell::S(u.company),
                Cell::S(u.description),
                Cell::B(Some(set_validators)),
                Cell::S(etag),
                Cell::S(last_modified),
                Cell::I(Some(u.consecutive_not_found as i64)),
                Cell::T(u.last_not_found_at),
                Cell::I(Some(u.consecutive_errors as i64)),
                Cell::T(Some(u.next_poll_at)),
                Cell::S(u.last_error),
            ]
        })
        .collect();
    let (cte, mut values) = rows_cte(
        b,
        "v",
        &[
            ("id", "bigint"),
            ("status", "text"),
            ("status_changed_at", "timestamptz"),
            ("board_missing", "boolean"),
            ("title", "text"),
            ("location", "text"),
            ("posted_at", "timestamptz"),
            ("company", "text"),
            ("description", "text"),
            ("set_validators", "boolean"),
            ("etag", "text"),
            ("last_modified", "text"),
            ("consecutive_not_found", "integer"),
            ("last_not_found_at", "timestamptz"),
            ("consecutive_errors", "integer"),
            ("next_poll_at", "timestamptz"),
            ("last_error", "text"),
        ],
        rows,
    );
    values.extend([now.into(), now.into()]);
    c.execute_raw(crate::store::sql(
        b,
        &format!(
            "{cte} UPDATE postings SET status = v.status, \
             status_changed_at = COALESCE(v.status_changed_at, postings.status_changed_at), \
             board_missing = v.board_missing, \
             title = COALESCE(v.title, postings.title), \
             location = COALESCE(v.location, postings.location), \
             posted_at = COALESCE(v.posted_at, postings.posted_at), \
             company = COALESCE(v.company, postings.company), \
             description = COALESCE(v.description, postings.description), \
             etag = CASE WHEN v.set_validators THEN v.etag ELSE postings.etag END, \
             last_modified = CASE WHEN v.set_validators THEN v.last_modified ELSE postings.last_modified END, \
             consecutive_not_found = v.consecutive_not_found, last_not_found_at = v.last_not_found_at, \
             consecutive_errors = v.consecutive_errors, next_poll_at = v.next_poll_at, \
             last_polled_at = ?, last_error = v.last_error, updated_at = ? \
             FROM v WHERE postings.id = v.id"
        ),
        values,
    ))
    .await?;
    Ok(())
}

pub async fn list<C: ConnectionTrait>(
    c: &C,
    status: Option<Status>,
) -> Result<Vec<posting::Model>> {
    let mut q = posting::Entity::find().order_by_asc(posting::Column::Id);
    if let Some(s) = status {
        q = q.filter(posting::Column::Status.eq(s.as_str()));
    }
    Ok(q.all(c).await?)
}

pub async fn history_of<C: ConnectionTrait>(
    c: &C,
    posting_id: i64,
) -> Result<Vec<posting_history::Model>> {
    Ok(posting_history::Entity::find()
        .filter(posting_history::Column::PostingId.eq(posting_id))
        .order_by_asc(posting_history::Column::At)
        .order_by_asc(posting_history::Column::Id)
        .all(c)
        .await?)
}

/// Sets a posting's scorecard (JSON text; none: back to its front
/// matter's).
pub async fn set_scorecard<C: ConnectionTrait>(
    c: &C,
    p: posting::Model,
    scorecard: Option<String>,
    now: DateTime<Utc>,
) -> Result<posting::Model> {
    let mut am: posting::ActiveModel = p.into();
    am.scorecard = Set(scorecard);
    am.updated_at = Set(now);
    Ok(am.update(c).await?)
}
