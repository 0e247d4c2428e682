//! The webhooks' tables: Greenhouse's deliveries seen (`webhooks_in`), the
//! outgoing endpoints' cursors (`webhook_endpoints`) and their deliveries
//! (`webhook_deliveries`). `webhooks` sends; `api::webhooks` receives.

use super::events::{self, Position};
use super::rows::{Cell, insert};
use super::{Store, sql};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::{posting, webhook_delivery, webhook_in};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Set,
};
use serde::Serialize;

/// Records an incoming delivery of `source`; false when `event_id` was seen
/// before.
pub async fn record_incoming(
    store: &Store,
    source: &str,
    event_id: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let recorded = webhook_in::ActiveModel {
        source: Set(source.into()),
        event_id: Set(event_id.into()),
        action: Set(action.into()),
        received_at: Set(now),
        ..Default::default()
    }
    .insert(store.conn())
    .await;
    match recorded {
        Ok(_) => Ok(true),
        Err(e) if e.sql_err().is_some() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The ids of the postings of `source` whose job ids are `external_ids`.
pub async fn postings_of(
    store: &Store,
    source: &str,
    external_ids: Vec<String>,
) -> Result<Vec<i64>> {
    Ok(posting::Entity::find()
        .filter(posting::Column::Source.eq(source))
        .filter(posting::Column::ExternalId.is_in(external_ids))
        .all(store.conn())
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

/// Makes delivery rows for the events endpoint `name` wants (`wanted`,
/// read `page` at a time) that it has not seen,
/// moving its cursor in the same transaction (a compare-and-swap: two
/// daemons fanning out at once make each row once). A new endpoint starts
/// at the end of the log: it gets the events from its first run on.
pub async fn fan_out(
    store: &Store,
    name: &str,
    url: &str,
    wanted: &[String],
    page: u64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let b = store.backend();
    let c = store.conn();
    let start = events::end(c).await?;
    c.execute_raw(sql(
        b,
        "INSERT INTO webhook_endpoints (name, url, cursor_tx, cursor_id, created_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET url = excluded.url",
        vec![
            name.to_string().into(),
            url.to_string().into(),
            start.tx.into(),
            start.id.into(),
            now.into(),
        ],
    ))
    .await?;
    let mut queued = 0;
    loop {
        let row = c
            .query_one_raw(sql(
                b,
                "SELECT cursor_tx, cursor_id FROM webhook_endpoints WHERE name = ?",
                vec![name.to_string().into()],
            ))
            .await?
            .ok_or_else(|| Error::Integrity(format!("webhook endpoint {} vanished", name)))?;
        let from = Position {
            tx: row.try_get("", "cursor_tx")?,
            id: row.try_get("", "cursor_id")?,
        };
        let (evs, to) = events::after(c, from, wanted, page).await?;
        if to == from {
            return Ok(queued);
        }
        let txn = store.begin_write().await?;
        let moved = txn
            .execute_raw(sql(
                b,
                "UPDATE webhook_endpoints SET cursor_tx = ?, cursor_id = ? \
                 WHERE name = ? AND cursor_tx = ? AND cursor_id = ?",
                vec![
                    to.tx.into(),
                    to.id.into(),
                    name.to_string().into(),
                    from.tx.into(),
                    from.id.into(),
                ],
            ))
            .await?;
        if moved.rows_affected() != 1 {
            // another dispatcher moved it first: read again
            txn.rollback().await?;
            continue;
        }
        if !evs.is_empty() {
            let rows = evs
                .iter()
                .map(|e| {
                    vec![
                        Cell::S(Some(name.to_string())),
                        Cell::I(Some(e.id)),
                        Cell::S(Some("pending".into())),
                        Cell::I(Some(0)),
                        Cell::T(Some(now)),
                        Cell::T(Some(now)),
                        Cell::T(Some(now)),
                    ]
                })
                .collect();
            let res = txn
                .execute_raw(insert(
                    b,
                    "webhook_deliveries",
                    &[
                        ("endpoint", "text"),
                        ("event_id", "bigint"),
                        ("status", "text"),
                        ("attempts", "integer"),
                        ("next_attempt_at", "timestamptz"),
                        ("created_at", "timestamptz"),
                        ("updated_at", "timestamptz"),
                    ],
                    rows,
                    "ON CONFLICT (endpoint, event_id) DO NOTHING",
                ))
                .await?;
            queued += res.rows_affected();
        }
        txn.commit().await?;
    }
}

/// One delivery as `atsd webhook list` shows it.
#[derive(Clone, Debug, Serialize, sea_orm::FromQueryResult)]
pub struct Listed {
    pub id: i64,
    pub endpoint: String,
    pub event_id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

/// The deliveries, newest first, optionally of one status or endpoint.
pub async fn list(
    store: &Store,
    status: Option<&str>,
    endpoint: Option<&str>,
    limit: u64,
) -> Result<Vec<Listed>> {
    let mut filters = Vec::new();
    let mut values: Vec<sea_orm::Value> = Vec::new();
    if let Some(s) = status {
        filters.push("d.status = ?");
        values.push(s.into());
    }
    if let Some(e) = endpoint {
        filters.push("d.endpoint = ?");
        values.push(e.into());
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    Ok(Listed::find_by_statement(sql(
        store.backend(),
        &format!(
            "SELECT d.id, d.endpoint, d.event_id, e.type AS kind, d.status, d.attempts, d.next_attempt_at, \
             d.delivered_at, d.last_status, d.last_error FROM webhook_deliveries d \
             JOIN events e ON e.id = d.event_id {filter} ORDER BY d.id DESC LIMIT {limit}"
        ),
        values,
    ))
    .all(store.conn())
    .await?)
}

/// Sends dead deliveries again from now on, with their attempts reset: the
/// one named, or every dead one (of `endpoint`, if given). Returns how many.
pub async fn retry(
    store: &Store,
    id: Option<i64>,
    endpoint: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let b = store.backend();
    let mut q = String::from(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, \
         last_error = NULL, updated_at = ? WHERE status = 'dead'",
    );
    let mut values: Vec<sea_orm::Value> = vec![now.into(), now.into()];
    if let Some(id) = id {
        q.push_str(" AND id = ?");
        values.push(id.into());
    }
    if let Some(e) = endpoint {
        q.push_str(" AND endpoint = ?");
        values.push(e.into());
    }
    let txn = store.begin_write().await?;
    let n = txn.execute_raw(sql(b, &q, values)).await?.rows_affected();
    if n == 0
        && let Some(id) = id
    {
        let row = webhook_delivery::Entity::find_by_id(id).one(&txn).await?;
        txn.rollback().await?;
        return Err(match row {
            None => Error::NotFound(format!("no webhook delivery with id {id}")),
            Some(r) => Error::Refused(format!(
                "webhook delivery {id} is {}, not dead: nothing to retry",
                r.status
            )),
        });
    }
    txn.commit().await?;
    Ok(n)
}
