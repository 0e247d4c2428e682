//! Persistence of mail that comes back: inbound messages (stored once per
//! Message-ID and content), the addresses marked undeliverable, and the
//! outbox rows held for them.

use crate::error::Result;
use chrono::{DateTime, Utc};
use entity::outbox::Status;
use entity::{inbound_message, outbox, undeliverable_address};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// The filter of the dispatcher's claim: no email to an undeliverable
/// address leaves, even one queued after its address bounced.
pub const DELIVERABLE: &str = "NOT EXISTS (SELECT 1 FROM undeliverable_addresses u WHERE u.address = LOWER(outbox.recipient))";

/// Stores an inbound message unless one with its key is stored already;
/// `None` when it was (the same message delivered twice).
pub async fn insert<C: ConnectionTrait>(
    c: &C,
    row: inbound_message::ActiveModel,
) -> Result<Option<i64>> {
    let done = inbound_message::Entity::insert(row)
        .on_conflict_do_nothing_on([inbound_message::Column::DedupeKey])
        .exec(c)
        .await?;
    Ok(match done {
        sea_orm::TryInsertResult::Inserted(r) => Some(r.last_insert_id),
        _ => None,
    })
}

/// Drops the oldest quarantined messages past `max_messages` or past
/// `max_bytes` of them added up; how many.
pub async fn trim_quarantine<C: ConnectionTrait>(
    c: &C,
    max_messages: u64,
    max_bytes: u64,
) -> Result<u64> {
    use sea_orm::QuerySelect;
    let newest_first: Vec<(i64, i64)> = inbound_message::Entity::find()
        .select_only()
        .column(inbound_message::Column::Id)
        .column(inbound_message::Column::Size)
        .filter(inbound_message::Column::Kind.eq("quarantined"))
        .order_by_desc(inbound_message::Column::Id)
        .into_tuple()
        .all(c)
        .await?;
    let (mut n, mut bytes) = (0u64, 0u64);
    let Some(first_dropped) = newest_first.into_iter().find_map(|(id, size)| {
        n += 1;
        bytes += u64::try_from(size).unwrap_or(0);
        (n > max_messages || bytes > max_bytes).then_some(id)
    }) else {
        return Ok(0);
    };
    Ok(inbound_message::Entity::delete_many()
        .filter(inbound_message::Column::Kind.eq("quarantined"))
        .filter(inbound_message::Column::Id.lte(first_dropped))
        .exec(c)
        .await?
        .rows_affected)
}

/// Counts one more quarantined message of `sender` in its hour: whether
/// it may be kept (fewer than `per_hour` kept this hour), else it counts
/// as refused. The sender's row is locked for the rest of the transaction
/// (PostgreSQL), so that daemons receiving at once agree.
pub async fn count_quarantined_from<C: ConnectionTrait>(
    c: &C,
    sender: &str,
    per_hour: u64,
    now: DateTime<Utc>,
) -> Result<bool> {
    use entity::quarantine_sender as qs;
    use sea_orm::{ActiveModelTrait, QuerySelect};
    qs::Entity::insert(qs::ActiveModel {
        sender: Set(sender.to_string()),
        window_start: Set(now),
        kept: Set(0),
        refused: Set(0),
        last_at: Set(now),
    })
    .on_conflict_do_nothing_on([qs::Column::Sender])
    .exec(c)
    .await?;
    let mut q = qs::Entity::find_by_id(sender.to_string());
    if c.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    let row = q.one(c).await?.ok_or_else(|| {
        crate::error::Error::Conflict("a quarantine sender's row vanished".into())
    })?;
    let (mut start, mut kept) = (row.window_start, row.kept);
    if now - start >= chrono::Duration::hours(1) || now < start {
        (start, kept) = (now, 0);
    }
    let admit = u64::try_from(kept).unwrap_or(0) < per_hour;
    let refused = row.refused + i64::from(!admit);
    let mut am: qs::ActiveModel = row.into();
    am.window_start = Set(start);
    am.kept = Set(kept + i64::from(admit));
    am.refused = Set(refused);
    am.last_at = Set(now);
    am.update(c).await?;
    Ok(admit)
}

/// Deletes one quarantined message; whether it was there.
pub async fn delete_quarantined<C: ConnectionTrait>(c: &C, id: i64) -> Result<bool> {
    Ok(inbound_message::Entity::delete_many()
        .filter(inbound_message::Column::Kind.eq("quarantined"))
        .filter(inbound_message::Column::Id.eq(id))
        .exec(c)
        .await?
        .rows_affected
        == 1)
}

/// Forgets the quarantine's senders quiet since before `cutoff`.
pub async fn forget_quarantine_senders<C: ConnectionTrait>(
    c: &C,
    cutoff: DateTime<Utc>,
) -> Result<u64> {
    use entity::quarantine_sender as qs;
    Ok(qs::Entity::delete_many()
        .filter(qs::Column::LastAt.lt(cutoff))
        .exec(c)
        .await?
        .rows_affected)
}

/// The quarantine as `/metrics` shows it: per reason, its messages and
/// their bytes (`(unknown)` for rows stored before reasons were).
pub async fn quarantine_by_reason<C: ConnectionTrait>(c: &C) -> Result<Vec<(String, i64, i64)>> {
    let rows = c
        .query_all_raw(crate::store::sql(
            c.get_database_backend(),
            "SELECT COALESCE(reason, '(unknown)') AS reason, COUNT(*) AS n, \
             CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM inbound_messages \
             WHERE kind = 'quarantined' GROUP BY COALESCE(reason, '(unknown)') ORDER BY 1",
            vec![],
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.try_get("", "reason")?,
            r.try_get("", "n")?,
            r.try_get("", "bytes")?,
        ));
    }
    Ok(out)
}

/// The senders refused past the per-sender rate, heard from since `since`:
/// `(sender, refused, last heard)`, most refused first.
pub async fn refused_senders<C: ConnectionTrait>(
    c: &C,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64, DateTime<Utc>)>> {
    use entity::quarantine_sender as qs;
    use sea_orm::QuerySelect;
    Ok(qs::Entity::find()
        .select_only()
        .column(qs::Column::Sender)
        .column(qs::Column::Refused)
        .column(qs::Column::LastAt)
        .filter(qs::Column::Refused.gt(0))
        .filter(qs::Column::LastAt.gt(since))
        .order_by_desc(qs::Column::Refused)
        .order_by_asc(qs::Column::Sender)
        .into_tuple()
        .all(c)
        .await?)
}

/// When each message quarantined in `(since, until]` came, and why (its
/// reason's code): at most the quarantine's cap of rows.
pub async fn quarantined_between<C: ConnectionTrait>(
    c: &C,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, Option<String>)>> {
    use sea_orm::QuerySelect;
    Ok(inbound_message::Entity::find()
        .select_only()
        .column(inbound_message::Column::ReceivedAt)
        .column(inbound_message::Column::Reason)
        .filter(inbound_message::Column::Kind.eq("quarantined"))
        .filter(inbound_message::Column::ReceivedAt.gt(since))
        .filter(inbound_message::Column::ReceivedAt.lte(until))
        .into_tuple()
        .all(c)
        .await?)
}

/// Deletes the quarantined messages received before `cutoff`; how many.
pub async fn expire_quarantine<C: ConnectionTrait>(c: &C, cutoff: DateTime<Utc>) -> Result<u64> {
    Ok(inbound_message::Entity::delete_many()
        .filter(inbound_message::Column::Kind.eq("quarantined"))
        .filter(inbound_message::Column::ReceivedAt.lt(cutoff))
        .exec(c)
        .await?
        .rows_affected)
}

/// The message stored under `key`, if any.
pub async fn by_key<C: ConnectionTrait>(
    c: &C,
    key: &str,
) -> Result<Option<inbound_message::Model>> {
    Ok(inbound_message::Entity::find()
        .filter(inbound_message::Column::DedupeKey.eq(key))
        .one(c)
        .await?)
}

/// One message.
pub async fn find<C: ConnectionTrait>(c: &C, id: i64) -> Result<inbound_message::Model> {
    inbound_message::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| crate::error::Error::NotFound(format!("no inbound message {id}")))
}

/// Messages of `kind` (all when `None`), newest first.
pub async fn list<C: ConnectionTrait>(
    c: &C,
    kind: Option<&str>,
    application: Option<i64>,
    limit: u64,
) -> Result<Vec<inbound_message::Model>> {
    let mut q = inbound_message::Entity::find();
    if let Some(k) = kind {
        q = q.filter(inbound_message::Column::Kind.eq(k));
    }
    if let Some(a) = application {
        q = q.filter(inbound_message::Column::ApplicationId.eq(a));
    }
    Ok(
        sea_orm::QuerySelect::limit(q.order_by_desc(inbound_message::Column::Id), limit)
            .all(c)
            .await?,
    )
}

/// Marks `address` undeliverable (again: the newest bounce is kept) and
/// holds the emails to it that are still waiting; how many were held.
pub async fn mark_undeliverable<C: ConnectionTrait>(
    c: &C,
    address: &str,
    outbox_id: Option<i64>,
    inbound_id: Option<i64>,
    status: Option<&str>,
    diagnostic: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let address = address.trim().to_lowercase();
    undeliverable_address::Entity::insert(undeliverable_address::ActiveModel {
        address: Set(address.clone()),
        outbox_id: Set(outbox_id),
        inbound_id: Set(inbound_id),
        dsn_status: Set(status.map(String::from)),
        diagnostic: Set(diagnostic.map(String::from)),
        since: Set(now),
    })
    .on_conflict(
        OnConflict::column(undeliverable_address::Column::Address)
            .update_columns([
                undeliverable_address::Column::OutboxId,
                undeliverable_address::Column::InboundId,
                undeliverable_address::Column::DsnStatus,
                undeliverable_address::Column::Diagnostic,
                undeliverable_address::Column::Since,
            ])
            .to_owned(),
    )
    .exec(c)
    .await?;
    hold(c, Some(&address), now).await
}

/// Holds the waiting emails to undeliverable addresses (to `address` only,
/// when given); how many.
pub async fn hold<C: ConnectionTrait>(
    c: &C,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut q = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(Status::Held.as_str()))
        .col_expr(
            outbox::Column::LastError,
            Expr::value(
                "held: the address is undeliverable (it bounced for good); \
                 atsd candidate set-email or atsd mail undeliverable clear releases it"
                    .to_string(),
            ),
        )
        .col_expr(outbox::Column::UpdatedAt, Expr::value(now))
        .filter(outbox::Column::Status.eq(Status::Pending.as_str()));
    q = match address {
        Some(a) => q.filter(ExprTrait::eq(lower_recipient(), a.to_lowercase())),
        None => q.filter(Expr::cust(DELIVERABLE.replace("NOT EXISTS", "EXISTS"))),
    };
    Ok(q.exec(c).await?.rows_affected)
}

fn lower_recipient() -> Expr {
    Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
        outbox::Column::Recipient,
    )))
}

/// Clears the mark of `address` and sends its held emails again (to
/// `new_address` when the address was corrected); how many were released.
pub async fn release<C: ConnectionTrait>(
    c: &C,
    address: &str,
    new_address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let address = address.trim().to_lowercase();
    undeliverable_address::Entity::delete_by_id(address.clone())
        .exec(c)
        .await?;
    let mut q = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(Status::Pending.as_str()),
        )
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(outbox::Column::UpdatedAt, Expr::value(now));
    if let Some(n) = new_address {
        q = q.col_expr(outbox::Column::Recipient, Expr::value(n.trim().to_string()));
    }
    Ok(q.filter(outbox::Column::Status.eq(Status::Held.as_str()))
        .filter(ExprTrait::eq(lower_recipient(), address))
        .exec(c)
        .await?
        .rows_affected)
}

/// Is `address` marked undeliverable? The mark, if so.
pub async fn undeliverable<C: ConnectionTrait>(
    c: &C,
    address: &str,
) -> Result<Option<undeliverable_address::Model>> {
    Ok(
        undeliverable_address::Entity::find_by_id(address.trim().to_lowercase())
            .one(c)
            .await?,
    )
}

/// Every mark, newest first.
pub async fn undeliverables<C: ConnectionTrait>(
    c: &C,
) -> Result<Vec<undeliverable_address::Model>> {
    Ok(undeliverable_address::Entity::find()
        .order_by_desc(undeliverable_address::Column::Since)
        .all(c)
        .await?)
}

/// How many replies of each application nobody has read on the board.
pub async fn unread_replies<C: ConnectionTrait>(
    c: &C,
    applications: &[i64],
) -> Result<std::collections::HashMap<i64, i64>> {
    let mut out = std::collections::HashMap::new();
    if applications.is_empty() {
        return Ok(out);
    }
    let q = format!(
        "SELECT application_id, COUNT(*) AS n FROM inbound_messages \
         WHERE kind = 'reply' AND read_at IS NULL AND application_id IN ({}) GROUP BY application_id",
        super::id_list(applications)
    );
    for r in c
        .query_all_raw(super::sql(c.get_database_backend(), &q, vec![]))
        .await?
    {
        out.insert(
            r.try_get::<i64>("", "application_id")?,
            r.try_get::<i64>("", "n")?,
        );
    }
    Ok(out)
}

/// Marks an application's replies read (its page was shown).
pub async fn mark_read<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(inbound_message::Entity::update_many()
        .col_expr(inbound_message::Column::ReadAt, Expr::value(now))
        .filter(inbound_message::Column::ApplicationId.eq(application_id))
        .filter(inbound_message::Column::Kind.eq("reply"))
        .filter(inbound_message::Column::ReadAt.is_null())
        .exec(c)
        .await?
        .rows_affected)
}
