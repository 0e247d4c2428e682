//! People's availability (weekly windows, a busy feed and what it last
//! said) and the slots offered to candidates: reading and writing the rows.
//! What they mean is [`crate::interviews::availability`]'s and
//! [`crate::workflow::offers`]'s.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::{availability, interview_offer, person};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub const OPEN: &str = "open";
pub const BOOKED: &str = "booked";
pub const CANCELLED: &str = "cancelled";

/// A person's availability row, if they have one.
pub async fn get<C: ConnectionTrait>(c: &C, person_id: i64) -> Result<Option<availability::Model>> {
    Ok(availability::Entity::find_by_id(person_id).one(c).await?)
}

/// The availability rows of these people.
pub async fn of_people<C: ConnectionTrait>(c: &C, ids: &[i64]) -> Result<Vec<availability::Model>> {
    Ok(availability::Entity::find()
        .filter(availability::Column::PersonId.is_in(ids.iter().copied()))
        .all(c)
        .await?)
}

/// What `atsd person availability` changes: the weekly windows (JSON
/// text), the busy feed (`Some(None)`: none any more).
pub struct Change {
    pub weekly: Option<String>,
    pub busy_feed: Option<Option<String>>,
}

/// Sets a person's availability; a new feed forgets what the old one said.
pub async fn set<C: ConnectionTrait>(
    c: &C,
    person_id: i64,
    change: Change,
    now: DateTime<Utc>,
) -> Result<availability::Model> {
    let existing = get(c, person_id).await?;
    let is_new = existing.is_none();
    let mut am: availability::ActiveModel = match existing {
        Some(row) => row.into(),
        None => availability::ActiveModel {
            person_id: Set(person_id),
            weekly: Set("[]".into()),
            busy_feed: Set(None),
            busy_times: Set(None),
            busy_fetched_at: Set(None),
            busy_error: Set(None),
            updated_at: Set(now),
        },
    };
    if let Some(w) = change.weekly {
        am.weekly = Set(w);
    }
    if let Some(feed) = change.busy_feed {
        am.busy_feed = Set(feed);
        am.busy_times = Set(None);
        am.busy_fetched_at = Set(None);
        am.busy_error = Set(None);
    }
    am.updated_at = Set(now);
    Ok(if is_new {
        am.insert(c).await?
    } else {
        am.update(c).await?
    })
}

/// Keeps what a feed said (`Ok`: the busy times as JSON text) or why it
/// could not be read (the times read before are kept).
pub async fn record_fetch<C: ConnectionTrait>(
    c: &C,
    person_id: i64,
    outcome: std::result::Result<String, String>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut q = availability::Entity::update_many()
        .col_expr(availability::Column::BusyFetchedAt, Expr::value(now))
        .filter(availability::Column::PersonId.eq(person_id));
    q = match outcome {
        Ok(times) => q
            .col_expr(availability::Column::BusyTimes, Expr::value(times))
            .col_expr(availability::Column::BusyError, Expr::value(None::<String>)),
        Err(e) => q.col_expr(availability::Column::BusyError, Expr::value(e)),
    };
    q.exec(c).await?;
    Ok(())
}

/// The rows with a busy feed not fetched since `before`.
pub async fn feeds_due<C: ConnectionTrait>(
    c: &C,
    before: DateTime<Utc>,
) -> Result<Vec<availability::Model>> {
    Ok(availability::Entity::find()
        .filter(availability::Column::BusyFeed.is_not_null())
        .filter(
            sea_orm::Condition::any()
                .add(availability::Column::BusyFetchedAt.is_null())
                .add(availability::Column::BusyFetchedAt.lt(before)),
        )
        .order_by_asc(availability::Column::PersonId)
        .all(c)
        .await?)
}

/// Locks these people's rows until the transaction ends (PostgreSQL;
/// SQLite's write transaction holds the whole database already): two
/// bookings of the same interviewer wait for each other, so that the second
/// sees the first's interview. In id order, so that two panels never wait
/// for each other in a circle.
pub async fn lock_people<C: ConnectionTrait>(c: &C, ids: &[i64]) -> Result<()> {
    if c.get_database_backend() != sea_orm::DbBackend::Postgres || ids.is_empty() {
        return Ok(());
    }
    person::Entity::find()
        .filter(person::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(person::Column::Id)
        .lock_exclusive()
        .all(c)
        .await?;
    Ok(())
}

/// An offer as it is to be stored.
pub struct NewOffer<'a> {
    pub application_id: i64,
    pub interviewers: &'a [i64],
    pub minutes: i32,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub buffer_minutes: i32,
    pub notice_minutes: i32,
    pub title: Option<&'a str>,
    pub location: Option<&'a str>,
    pub video_url: Option<&'a str>,
    pub focus: &'a [String],
    pub created_by: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_offer<C: ConnectionTrait>(
    c: &C,
    n: &NewOffer<'_>,
) -> Result<interview_offer::Model> {
    Ok(interview_offer::ActiveModel {
        application_id: Set(n.application_id),
        interviewers: Set(json_text(n.interviewers)),
        minutes: Set(n.minutes),
        from_at: Set(n.from),
        until_at: Set(n.until),
        buffer_minutes: Set(n.buffer_minutes),
        notice_minutes: Set(n.notice_minutes),
        title: Set(n.title.map(String::from)),
        location: Set(n.location.map(String::from)),
        video_url: Set(n.video_url.map(String::from)),
        focus: Set((!n.focus.is_empty()).then(|| json_text(n.focus))),
        status: Set(OPEN.into()),
        interview_id: Set(None),
        created_by: Set(n.created_by.to_string()),
        created_at: Set(n.now),
        expires_at: Set(n.expires_at),
        ..Default::default()
    }
    .insert(c)
    .await?)
}

/// A list kept as JSON text.
fn json_text<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// An offer by id.
pub async fn offer<C: ConnectionTrait>(c: &C, id: i64) -> Result<Option<interview_offer::Model>> {
    Ok(interview_offer::Entity::find_by_id(id).one(c).await?)
}

/// The offers of an application, newest first.
pub async fn offers_of<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
) -> Result<Vec<interview_offer::Model>> {
    Ok(interview_offer::Entity::find()
        .filter(interview_offer::Column::ApplicationId.eq(application_id))
        .order_by_desc(interview_offer::Column::Id)
        .all(c)
        .await?)
}

/// Marks an open offer booked with its interview — one conditional update,
/// so that of two bookings through the same link exactly one does it.
/// Whether it did.
pub async fn mark_booked<C: ConnectionTrait>(c: &C, id: i64, interview_id: i64) -> Result<bool> {
    let r = interview_offer::Entity::update_many()
        .col_expr(interview_offer::Column::Status, Expr::value(BOOKED))
        .col_expr(
            interview_offer::Column::InterviewId,
            Expr::value(interview_id),
        )
        .filter(interview_offer::Column::Id.eq(id))
        .filter(interview_offer::Column::Status.eq(OPEN))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Sets an offer's status (`cancelled`).
pub async fn set_status<C: ConnectionTrait>(c: &C, id: i64, status: &str) -> Result<()> {
    let r = interview_offer::Entity::update_many()
        .col_expr(interview_offer::Column::Status, Expr::value(status))
        .filter(interview_offer::Column::Id.eq(id))
        .exec(c)
        .await?;
    if r.rows_affected == 0 {
        return Err(Error::NotFound(format!("no offer with id {id}")));
    }
    Ok(())
}
