//! The email outbox: queuing a rendered email, cancelling delayed ones,
//! listing and retrying (claiming and recording sends live in
//! `mail::dispatch`).

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::outbox::Status;
use entity::{outbox, outbox_body};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::Serialize;
use std::collections::HashMap;

/// The outbox as a leased queue: `data_at` marks an email whose message
/// began to go out in the current attempt (`mail::dispatch`).
pub const QUEUE: super::lease::Queue = super::lease::Queue {
    table: "outbox",
    mark: Some("data_at"),
};

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

/// An outbox row before it is stored: an email rendered (by `mail::draft`),
/// to whom, and when it may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub template: String,
    pub locale: String,
    /// The stage whose entry caused the email.
    pub stage: Option<String>,
    pub send_after: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    /// The iCalendar object of an iMIP email ([`crate::interviews::ical`]).
    pub calendar: Option<String>,
    /// Sent by a rule, a timer or the digest (`Auto-Submitted:
    /// auto-generated`), not by a person's action.
    pub auto_submitted: bool,
    /// A Reply-To of its own, instead of `[mail] reply_to`: an address,
    /// and the name shown with it.
    pub reply_to: Option<String>,
    pub reply_to_name: Option<String>,
}

/// Queues one rendered email (its row and its body) inside the caller's
/// transaction, named `message_id`.
pub async fn queue<C: ConnectionTrait>(
    c: &C,
    application_id: Option<i64>,
    transition_id: Option<i64>,
    message_id: String,
    d: Draft,
    now: DateTime<Utc>,
) -> Result<Email> {
    let row = outbox::ActiveModel {
        application_id: Set(application_id),
        transition_id: Set(transition_id),
        stage: Set(d.stage),
        recipient: Set(d.recipient),
        recipient_name: Set(d.recipient_name),
        template: Set(d.template),
        locale: Set(d.locale),
        message_id: Set(message_id),
        status: Set(Status::Pending),
        attempts: Set(0),
        next_attempt_at: Set(d.send_after.unwrap_or(now)),
        send_after: Set(d.send_after),
        created_at: Set(now),
        updated_at: Set(now),
        auto_submitted: Set(d.auto_submitted),
        reply_to: Set(d.reply_to),
        reply_to_name: Set(d.reply_to_name),
        ..Default::default()
    }
    .insert(c)
    .await?;
    let body = outbox_body::ActiveModel {
        outbox_id: Set(row.id),
        subject: Set(d.subject.unwrap_or_default()),
        body_text: Set(d.body_text.unwrap_or_default()),
        body_html: Set(d.body_html.unwrap_or_default()),
        calendar: Set(d.calendar),
    }
    .insert(c)
    .await?;
    Ok(Email {
        row,
        subject: Some(body.subject),
        body_text: Some(body.body_text),
        body_html: Some(body.body_html),
    })
}

/// Why a delayed email was cancelled, as its row keeps it (`last_error`):
/// the application left the stage that queued it before it was due.
pub(crate) fn cancel_note(now: DateTime<Utc>, from: &str, to: &str, actor: &str) -> String {
    format!(
        "cancelled at {}: the application left `{from}` for `{to}` ({actor}) before the email was due",
        now.to_rfc3339()
    )
}

/// Cancels the application's emails queued on entering `from` that are still
/// waiting for their send-after time, because it moved to `to` first (by
/// `actor`). Returns how many.
pub async fn cancel_delayed<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
    from: &str,
    to: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    let res = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(Status::Cancelled.as_str()),
        )
        .col_expr(
            outbox::Column::LastError,
            Expr::value(cancel_note(now, from, to, actor)),
        )
        .col_expr(outbox::Column::UpdatedAt, Expr::value(now))
        .filter(outbox::Column::ApplicationId.eq(application_id))
        .filter(outbox::Column::Stage.eq(from))
        .filter(outbox::Column::Status.eq(Status::Pending))
        .filter(outbox::Column::SendAfter.gt(now))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
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

/// Cancels the rows `ids` that are still pending, saying why (`last_error`).
pub async fn cancel_pending<C: ConnectionTrait>(
    c: &C,
    ids: &[i64],
    why: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let res = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(Status::Cancelled.as_str()),
        )
        .col_expr(outbox::Column::LastError, Expr::value(why))
        .col_expr(outbox::Column::UpdatedAt, Expr::value(now))
        .filter(outbox::Column::Id.is_in(ids.iter().copied()))
        .filter(outbox::Column::Status.eq(Status::Pending.as_str()))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}

/// The outbox row whose email carried this `Message-ID`.
pub async fn by_message_id<C: ConnectionTrait>(c: &C, mid: &str) -> Result<Option<outbox::Model>> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::MessageId.eq(mid))
        .one(c)
        .await?)
}

/// A sent (or sending, or given-up) email bounced: its row becomes
/// `bounced` with `why`. A row in any other status is left as it is.
pub async fn mark_bounced<C: ConnectionTrait>(
    c: &C,
    id: i64,
    why: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(Status::Bounced.as_str()),
        )
        .col_expr(outbox::Column::LastError, Expr::value(why))
        .col_expr(outbox::Column::UpdatedAt, Expr::value(now))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.is_in([
            Status::Sent.as_str(),
            Status::Sending.as_str(),
            Status::Dead.as_str(),
        ]))
        .exec(c)
        .await?;
    Ok(())
}

/// Outbox rows (with their subjects), oldest first.
pub async fn list<C: ConnectionTrait>(c: &C, status: Option<Status>) -> Result<Vec<Email>> {
    let mut q = outbox::Entity::find().order_by_asc(outbox::Column::Id);
    if let Some(s) = status {
        q = q.filter(outbox::Column::Status.eq(s));
    }
    with_bodies(c, q.all(c).await?, false).await
}

/// Whether an email is due to be sent at `now`.
pub async fn any_due<C: ConnectionTrait>(c: &C, now: DateTime<Utc>) -> Result<bool> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.eq(Status::Pending))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .one(c)
        .await?
        .is_some())
}

/// How many emails wait to be sent.
pub async fn pending<C: ConnectionTrait>(c: &C) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.eq(Status::Pending))
        .count(c)
        .await?)
}

/// One email, if there is one by that id.
pub async fn find<C: ConnectionTrait>(c: &C, id: i64) -> Result<Option<outbox::Model>> {
    Ok(outbox::Entity::find_by_id(id).one(c).await?)
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
    match row.status {
        Status::Dead | Status::Pending => {}
        other => {
            return Err(Error::Refused(format!(
                "email {id} is {other}; only dead or pending emails can be retried"
            )));
        }
    }
    let mut am: outbox::ActiveModel = row.into();
    am.status = Set(Status::Pending);
    am.attempts = Set(0);
    am.next_attempt_at = Set(now);
    am.updated_at = Set(now);
    Ok(am.update(c).await?)
}

/// The dispatcher's common commit, in as few round trips as the engine
/// allows: the rows among `sent` still `sending` become `sent` (each with
/// its `email.sent` event), and the rows among `marks` still `sending` are
/// marked as going out (`data_at`). One statement on PostgreSQL (it commits
/// by itself); one transaction of two on SQLite. Statements of fixed text,
/// so each connection prepares them once.
pub async fn record_sent_and_marks(
    store: &super::Store,
    sent: &[i64],
    marks: &[i64],
    now: DateTime<Utc>,
) -> Result<()> {
    use sea_orm::{DbBackend, Statement};
    if sent.is_empty() && marks.is_empty() {
        return Ok(());
    }
    let list = super::id_list;
    if store.backend() == DbBackend::Postgres {
        let text = format!(
            "WITH u AS (UPDATE outbox SET \
               status = CASE WHEN id = ANY(CAST($1 AS bigint[])) THEN 'sent' ELSE status END, \
               sent_at = CASE WHEN id = ANY(CAST($1 AS bigint[])) THEN $3 ELSE sent_at END, \
               lease_until = CASE WHEN id = ANY(CAST($1 AS bigint[])) THEN NULL ELSE lease_until END, \
               last_error = CASE WHEN id = ANY(CAST($1 AS bigint[])) THEN NULL ELSE last_error END, \
               updated_at = CASE WHEN id = ANY(CAST($1 AS bigint[])) THEN $3 ELSE updated_at END, \
               data_at = CASE WHEN id = ANY(CAST($2 AS bigint[])) THEN $3 ELSE data_at END \
             WHERE id = ANY(CAST($1 AS bigint[]) || CAST($2 AS bigint[])) AND status = 'sending' \
             RETURNING id, status, application_id, message_id, template), \
           e AS (INSERT INTO events (type, at, data, application_id) \
             SELECT 'email.sent', $3, CAST(json_build_object('application_id', application_id, \
             'email_id', id, 'message_id', message_id, 'template', template) AS text), application_id \
             FROM u WHERE status = 'sent' ORDER BY id RETURNING 1) \
           SELECT pg_notify('{}', '') FROM (SELECT COUNT(*) AS n FROM e) AS c WHERE n > 0",
            super::EVENTS_CHANNEL
        );
        store
            .conn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                text,
                vec![
                    format!("{{{}}}", list(sent)).into(),
                    format!("{{{}}}", list(marks)).into(),
                    now.into(),
                ],
            ))
            .await?;
        return Ok(());
    }
    // SQLite: the whole transaction in one call to the connection's
    // thread (its ids and time written in: our own integers and an
    // RFC 3339 time, as sqlx writes it), rolled back if any of it fails
    let (sent_list, mark_list) = (list(sent), list(marks));
    let at = format!(
        "'{}'",
        now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
    );
    let mut text = format!(
        "BEGIN IMMEDIATE; UPDATE outbox SET \
           status = CASE WHEN id IN ({sent_list}) THEN 'sent' ELSE status END, \
           sent_at = CASE WHEN id IN ({sent_list}) THEN {at} ELSE sent_at END, \
           lease_until = CASE WHEN id IN ({sent_list}) THEN NULL ELSE lease_until END, \
           last_error = CASE WHEN id IN ({sent_list}) THEN NULL ELSE last_error END, \
           updated_at = CASE WHEN id IN ({sent_list}) THEN {at} ELSE updated_at END, \
           data_at = CASE WHEN id IN ({mark_list}) THEN {at} ELSE data_at END \
         WHERE id IN ({sent_list}{comma}{mark_list}) AND status = 'sending';",
        comma = if sent.is_empty() || marks.is_empty() {
            ""
        } else {
            ","
        }
    );
    if !sent.is_empty() {
        text.push_str(&format!(
            " INSERT INTO events (type, at, data, application_id) \
             SELECT 'email.sent', {at}, CAST(json_object('application_id', application_id, 'email_id', id, \
             'message_id', message_id, 'template', template) AS text), application_id \
             FROM outbox WHERE id IN ({sent_list}) AND status = 'sent' AND sent_at = {at} ORDER BY id;"
        ));
    }
    text.push_str(" COMMIT;");
    let failed =
        |e: sea_orm::sqlx::Error| Error::Other(format!("cannot record the emails sent: {e}"));
    let mut conn = store
        .conn()
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(failed)?;
    if let Err(e) = // audited: only our own integers and an RFC 3339 time are written in
        sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(text))
            .execute(&mut *conn)
            .await
    {
        // nothing of it stays: the connection goes back to the pool clean
        let _ = sea_orm::sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
        return Err(failed(e));
    }
    Ok(())
}
