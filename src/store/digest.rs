//! The recruiters' digest's reads: what happened between two instants.
//! `jobs::digest` decides who sees which line.

use super::sql;
use crate::error::Result;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};

/// An application made in the window, with its candidate's name and its
/// posting's title.
#[derive(Debug, FromQueryResult)]
pub struct NewApplication {
    pub posting_id: i64,
    pub created_at: DateTime<Utc>,
    pub name: String,
    pub title: String,
}

pub async fn new_applications<C: ConnectionTrait>(
    c: &C,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<NewApplication>> {
    Ok(NewApplication::find_by_statement(sql(
        c.get_database_backend(),
        "SELECT a.posting_id, a.created_at, c.name, p.title FROM applications a \
         JOIN candidates c ON c.id = a.candidate_id JOIN postings p ON p.id = a.posting_id \
         WHERE a.created_at > ? AND a.created_at <= ? ORDER BY a.id",
        vec![since.into(), until.into()],
    ))
    .all(c)
    .await?)
}

/// How many applications of a posting have been in one stage since before
/// a cutoff.
#[derive(Debug, FromQueryResult)]
pub struct Waiting {
    pub posting_id: i64,
    pub title: String,
    pub n: i64,
}

pub async fn waiting_since<C: ConnectionTrait>(
    c: &C,
    stage: &str,
    cutoff: DateTime<Utc>,
) -> Result<Vec<Waiting>> {
    Ok(Waiting::find_by_statement(sql(
        c.get_database_backend(),
        "SELECT a.posting_id, p.title, COUNT(*) AS n FROM applications a \
         JOIN postings p ON p.id = a.posting_id \
         WHERE a.stage = ? AND a.entered_stage_at <= ? GROUP BY a.posting_id, p.title",
        vec![stage.into(), cutoff.into()],
    ))
    .all(c)
    .await?)
}

/// A posting that closed in the window.
#[derive(Debug, FromQueryResult)]
pub struct Closed {
    pub id: i64,
    pub status_changed_at: DateTime<Utc>,
    pub title: String,
}

pub async fn closed_postings<C: ConnectionTrait>(
    c: &C,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Closed>> {
    Ok(Closed::find_by_statement(sql(
        c.get_database_backend(),
        "SELECT id, status_changed_at, title FROM postings WHERE status = 'closed' \
         AND status_changed_at > ? AND status_changed_at <= ? ORDER BY id",
        vec![since.into(), until.into()],
    ))
    .all(c)
    .await?)
}

/// An address marked undeliverable in the window by a bounce of an email
/// about an application, with the emails held for it.
#[derive(Debug, FromQueryResult)]
pub struct Bounced {
    pub address: String,
    pub dsn_status: Option<String>,
    pub since: DateTime<Utc>,
    pub posting_id: i64,
    pub name: String,
    pub title: String,
    pub held: i64,
}

pub async fn bounced<C: ConnectionTrait>(
    c: &C,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Bounced>> {
    Ok(Bounced::find_by_statement(sql(
        c.get_database_backend(),
        "SELECT u.address, u.dsn_status, u.since, a.posting_id, c.name, p.title, \
         (SELECT COUNT(*) FROM outbox h WHERE h.status = 'held' \
          AND LOWER(h.recipient) = u.address) AS held \
         FROM undeliverable_addresses u JOIN outbox o ON o.id = u.outbox_id \
         JOIN applications a ON a.id = o.application_id \
         JOIN candidates c ON c.id = a.candidate_id JOIN postings p ON p.id = a.posting_id \
         WHERE u.since > ? AND u.since <= ? ORDER BY u.since, u.address",
        vec![since.into(), until.into()],
    ))
    .all(c)
    .await?)
}
