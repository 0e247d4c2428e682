//! What the retention job reads and deletes (the forgetting itself is
//! [`super::personal::forget`], driven by the map of personal data).

use super::{id_list, sql};
use crate::error::Result;
use chrono::{DateTime, Utc};
use entity::{candidate, outbox};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use serde::Serialize;

/// A candidate due to be anonymized.
#[derive(Clone, Debug, Serialize)]
pub struct Due {
    pub candidate_id: i64,
    pub name: String,
    pub email: String,
    /// When the last of their applications became terminal.
    pub terminal_since: DateTime<Utc>,
    /// When their first application was recorded: no digest before it names them.
    #[serde(skip)]
    pub first_seen: DateTime<Utc>,
}

/// Every candidate not on hold, not yet anonymized, none of whose
/// applications is in one of the `active` stages, the last of them terminal
/// since before `cutoff`.
pub async fn due<C: ConnectionTrait>(
    c: &C,
    active: &[String],
    cutoff: DateTime<Utc>,
) -> Result<Vec<Due>> {
    let active: Vec<String> = active
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect();
    let rows = c
        .query_all_raw(sql(
            c.get_database_backend(),
            &format!(
                "SELECT c.id, c.name, c.email, MAX(a.entered_stage_at) AS since, MIN(a.created_at) AS first_seen FROM candidates c \
                 JOIN applications a ON a.candidate_id = c.id \
                 WHERE c.on_hold = FALSE AND c.anonymized_at IS NULL \
                 GROUP BY c.id, c.name, c.email \
                 HAVING SUM(CASE WHEN a.stage IN ({}) THEN 1 ELSE 0 END) = 0 AND MAX(a.entered_stage_at) <= ? \
                 ORDER BY c.id",
                active.join(",")
            ),
            vec![cutoff.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Due {
                candidate_id: r.try_get("", "id")?,
                name: r.try_get("", "name")?,
                email: r.try_get("", "email")?,
                terminal_since: r.try_get("", "since")?,
                first_seen: r.try_get("", "first_seen")?,
            })
        })
        .collect::<std::result::Result<_, sea_orm::DbErr>>()
        .map_err(Into::into)
}

/// How many candidates retention leaves alone because they are on hold.
pub async fn held<C: ConnectionTrait>(c: &C) -> Result<u64> {
    Ok(candidate::Entity::find()
        .filter(candidate::Column::OnHold.eq(true))
        .filter(candidate::Column::AnonymizedAt.is_null())
        .count(c)
        .await?)
}

/// Deletes, in the caller's transaction, the finished webhook deliveries
/// last changed before `cutoff` and the events older than it that no
/// delivery waits for: (deliveries, events) removed.
pub async fn prune_events<C: ConnectionTrait>(c: &C, cutoff: DateTime<Utc>) -> Result<(u64, u64)> {
    let b = c.get_database_backend();
    let deliveries = c
        .execute_raw(sql(
            b,
            "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'dead') AND updated_at < ?",
            vec![cutoff.into()],
        ))
        .await?
        .rows_affected();
    let events = c
        .execute_raw(sql(
            b,
            "DELETE FROM events WHERE at < ? AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
            vec![cutoff.into()],
        ))
        .await?
        .rows_affected();
    Ok((deliveries, events))
}

/// The ids of the applications of these candidates.
pub async fn applications_of<C: ConnectionTrait>(c: &C, candidates: &[i64]) -> Result<Vec<i64>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let rows = c
        .query_all_raw(sql(
            c.get_database_backend(),
            &format!(
                "SELECT id FROM applications WHERE candidate_id IN ({})",
                id_list(candidates)
            ),
            vec![],
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<std::result::Result<_, _>>()?)
}

/// The outbox rows of these applications, and the digests queued since
/// `since` (which may name their candidates): read before forgetting
/// changes them, to clean the file transport's copies afterwards.
pub async fn emails_naming<C: ConnectionTrait>(
    c: &C,
    applications: &[i64],
    since: DateTime<Utc>,
) -> Result<(Vec<outbox::Model>, Vec<outbox::Model>)> {
    let rows = outbox::Entity::find()
        .filter(outbox::Column::ApplicationId.is_in(applications.iter().copied()))
        .all(c)
        .await?;
    let digests = outbox::Entity::find()
        .filter(outbox::Column::Template.eq("recruiter_digest"))
        .filter(outbox::Column::CreatedAt.gte(since))
        .all(c)
        .await?;
    Ok((rows, digests))
}

/// Puts a candidate on hold (exempt from retention) or takes them off it.
pub async fn set_hold<C: ConnectionTrait>(
    c: &C,
    candidate: candidate::Model,
    on: bool,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<candidate::Model> {
    let mut am: candidate::ActiveModel = candidate.into();
    am.on_hold = Set(on);
    am.hold_reason = Set(if on { reason } else { None });
    am.updated_at = Set(now);
    Ok(am.update(c).await?)
}

/// The address of an erasure's notice (`data_erased`, queued after the
/// candidate was forgotten) once the notice is sent or given up: forgotten
/// like theirs. The Message-IDs of the rows changed (their file
/// transport's copies are the caller's to delete).
pub async fn forget_sent_notices<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let rows = outbox::Entity::find()
        .filter(outbox::Column::Template.eq("data_erased"))
        .filter(outbox::Column::Status.is_not_in([
            outbox::Status::Pending.as_str(),
            outbox::Status::Sending.as_str(),
        ]))
        .filter(outbox::Column::Recipient.ne(ANONYMIZED))
        .all(c)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    c.execute_raw(sql(
        c.get_database_backend(),
        &format!(
            "UPDATE outbox SET recipient = '{ANONYMIZED}', recipient_name = NULL, \
             last_error = CASE WHEN last_error IS NULL THEN NULL ELSE '[anonymized]' END, \
             updated_at = ? WHERE id IN ({})",
            id_list(&ids)
        ),
        vec![now.into()],
    ))
    .await?;
    Ok(rows.into_iter().map(|r| r.message_id).collect())
}

/// What an address that was forgotten becomes in the outbox.
const ANONYMIZED: &str = "anonymized@anonymized.invalid";
