//! A leased queue over a table of work items: the email outbox and the
//! outgoing webhook deliveries. A row is `pending` until it is due
//! (`next_attempt_at`), then claimed by one worker — `sending`, with its
//! attempt counted and a lease (`lease_until`) — and recorded when its
//! outcome is known: done, `pending` again after a backoff, or `dead` once
//! its attempts are used up. A claim takes due rows and rows whose lease ran
//! out (a worker that crashed: those are reported, since their work may have
//! been done once already), with `FOR UPDATE SKIP LOCKED` on PostgreSQL so
//! that workers on several daemons never take the same row; on SQLite the
//! claim's write transaction is the only one. An outcome is recorded only
//! where the row is still `sending`: a row that another worker took over and
//! already recorded is left as that worker recorded it. A worker renews the
//! leases of the rows it holds while it works, so a lease can be short: a
//! worker that dies leaves its rows to the others within one lease.
//!
//! A queue may have a mark column (the outbox's `data_at`): a worker sets it,
//! durably, just before the work can reach the outside (an email's body is
//! written). Then a row taken over from a dead worker is reported only if it
//! was marked; an unmarked one never left, and goes again silently, its
//! attempt not counted.

use super::{Store, id_list, sql};
use crate::error::Result;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Value};

/// A queue: its table (`outbox`, `webhook_deliveries`), whose rows have
/// `id`, `status`, `attempts`, `next_attempt_at`, `lease_until` and
/// `updated_at`.
#[derive(Clone, Copy, Debug)]
pub struct Queue {
    pub table: &'static str,
    /// The column that marks a row whose work may have reached the outside
    /// in the current attempt, if the queue has one.
    pub mark: Option<&'static str>,
}

/// Rows claimed by one worker.
#[derive(Debug)]
pub struct Claimed<M> {
    pub rows: Vec<M>,
    /// The rows among them taken over from a lease that ran out whose work
    /// may have been done once already (marked, or in a queue without marks).
    pub taken_over: Vec<i64>,
    /// The rows taken over from a lease that ran out before their work could
    /// reach the outside (unmarked): nothing to report.
    pub recovered: Vec<i64>,
}

/// What becomes of a row whose attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Tried again at this time.
    Retry(DateTime<Utc>),
    /// Its attempts are used up.
    Dead,
}

/// How long to wait before trying a row again.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The email outbox's and the webhooks': a minute, doubling to six hours.
    pub const MAIL: Backoff = Backoff {
        base: Duration::minutes(1),
        max: Duration::hours(6),
    };

    /// After the `attempts`th failed attempt of row `id` (jitter seeded by
    /// the row, so that rows failing together do not retry together).
    pub fn after_failure(
        &self,
        attempts: i32,
        max_attempts: u32,
        id: i64,
        now: DateTime<Utc>,
    ) -> AfterFailure {
        if attempts >= max_attempts as i32 {
            AfterFailure::Dead
        } else {
            AfterFailure::Retry(
                now + crate::backoff::exponential(self.base, self.max, attempts, id as u64),
            )
        }
    }
}

impl Queue {
    /// Claims up to `limit` rows that `filter` (a condition on the table's
    /// columns, with its values) allows and that are due at `now` or whose
    /// lease ran out, in `order`: each `sending`, its attempt counted, leased
    /// until `now + lease`.
    pub async fn claim<E>(
        &self,
        store: &Store,
        filter: (&str, Vec<Value>),
        order: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claimed<E::Model>>
    where
        E: EntityTrait,
        E::Model: FromQueryResult,
    {
        let b = store.backend();
        let txn = store.begin_write().await?;
        let lock = if b == DbBackend::Postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let (condition, mut values) = filter;
        let condition = if condition.is_empty() {
            String::new()
        } else {
            format!("{condition} AND ")
        };
        values.extend([now.into(), now.into()]);
        let marked = match self.mark {
            Some(m) => format!("CASE WHEN {m} IS NULL THEN 0 ELSE 1 END"),
            None => "1".into(),
        };
        let found = txn
            .query_all_raw(sql(
                b,
                &format!(
                    "SELECT id, status, {marked} AS marked FROM {} WHERE {condition}((status = 'pending' AND next_attempt_at <= ?) \
                     OR (status = 'sending' AND lease_until <= ?)) ORDER BY {order} LIMIT {limit}{lock}",
                    self.table
                ),
                values,
            ))
            .await?;
        let mut ids = Vec::with_capacity(found.len());
        let mut taken_over = Vec::new();
        let mut recovered = Vec::new();
        for r in found {
            let id: i64 = r.try_get("", "id")?;
            if r.try_get::<String>("", "status")? == "sending" {
                if r.try_get::<i32>("", "marked")? == 1 {
                    taken_over.push(id);
                } else {
                    recovered.push(id);
                }
            }
            ids.push(id);
        }
        if ids.is_empty() {
            txn.commit().await?;
            return Ok(Claimed {
                rows: Vec::new(),
                taken_over,
                recovered,
            });
        }
        // a row a dead worker held but never marked was never tried: its
        // attempt is not counted twice
        let (attempt, unmark) = match self.mark {
            Some(m) => (
                format!("CASE WHEN status = 'sending' AND {m} IS NULL THEN 0 ELSE 1 END"),
                format!(", {m} = NULL"),
            ),
            None => ("1".into(), String::new()),
        };
        let rows = E::find()
            .from_raw_sql(sql(
                b,
                &format!(
                    "UPDATE {} SET status = 'sending', attempts = attempts + {attempt}, lease_until = ?, \
                     updated_at = ?{unmark} WHERE id IN ({}) RETURNING *",
                    self.table,
                    id_list(&ids)
                ),
                vec![(now + lease).into(), now.into()],
            ))
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(Claimed {
            rows,
            taken_over,
            recovered,
        })
    }

    /// Extends to `until` the leases of the rows among `ids` still
    /// `sending` (a worker's rows, while it works on them).
    pub async fn renew<C: ConnectionTrait>(
        &self,
        c: &C,
        ids: &[i64],
        until: DateTime<Utc>,
    ) -> Result<u64> {
        self.record_if_ours(c, ids, "lease_until = ?", vec![until.into()])
            .await
    }

    /// Marks the rows among `ids` still `sending` as going out now: their
    /// work may reach the outside from here on (see the module's comment).
    pub async fn mark<C: ConnectionTrait>(
        &self,
        c: &C,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let Some(m) = self.mark else { return Ok(0) };
        self.record_if_ours(c, ids, &format!("{m} = ?"), vec![now.into()])
            .await
    }

    /// `UPDATE {table} SET {set}` of the rows among `ids` that are still
    /// `sending`: a row already recorded (by a worker that took it over) is
    /// left alone. Returns how many changed.
    pub async fn record_if_ours<C: ConnectionTrait>(
        &self,
        c: &C,
        ids: &[i64],
        set: &str,
        values: Vec<Value>,
    ) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let res = c
            .execute_raw(sql(
                c.get_database_backend(),
                &format!(
                    "UPDATE {} SET {set} WHERE id IN ({}) AND status = 'sending'",
                    self.table,
                    id_list(ids)
                ),
                values,
            ))
            .await?;
        Ok(res.rows_affected())
    }

    /// Hands rows back unworked: `pending` again, their claim's attempt not
    /// counted.
    pub async fn release<C: ConnectionTrait>(
        &self,
        c: &C,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        self.record_if_ours(
            c,
            ids,
            &format!(
                "status = 'pending', attempts = attempts - 1, lease_until = NULL, updated_at = ?{}",
                self.mark
                    .map(|m| format!(", {m} = NULL"))
                    .unwrap_or_default()
            ),
            vec![now.into()],
        )
        .await
    }
}
