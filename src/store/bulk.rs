//! Set-based writes for the rules: many moves in one transaction with a few
//! statements each (the compare-and-swap `UPDATE` of all the applications,
//! one multi-row `INSERT` of their transitions, one of their outbox rows, one
//! of the rendered bodies), with the same meaning as [`super::applications::move_in`]
//! row by row: an application whose version changed since it was read is
//! skipped (a recruiter moved it first), and the delayed emails of the stage
//! left are cancelled.

use super::{id_list, sql};
use crate::error::Result;
use crate::mail::Draft;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One move decided on rows read earlier.
#[derive(Clone, Debug)]
pub struct BulkMove {
    pub application_id: i64,
    /// The version read: the move happens only if it is still this.
    pub version: i32,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
    pub actor: String,
    /// The email the move sends, rendered.
    pub email: Option<Draft>,
}

/// An email not caused by a move (a reminder), with its own stable Message-ID.
#[derive(Clone, Debug)]
pub struct BulkEmail {
    pub application_id: Option<i64>,
    pub message_id: String,
    pub draft: Draft,
}

#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Applications moved.
    pub moved: Vec<i64>,
    /// Applications skipped because their version changed first.
    pub conflicts: Vec<i64>,
    pub emails: u64,
    pub cancelled_emails: u64,
}

/// At most this many moves per call: the bound values of one statement stay
/// under SQLite's limit (32,766).
pub const MAX_BATCH: usize = 1000;

/// Applies `moves` inside `txn`. `message_id(transition_id)` names each email.
pub async fn apply_moves(
    txn: &DatabaseTransaction,
    moves: &[BulkMove],
    now: DateTime<Utc>,
    message_id: &(dyn Fn(i64) -> String + Sync),
) -> Result<Applied> {
    let b = txn.get_database_backend();
    let mut out = Applied::default();
    if moves.is_empty() {
        return Ok(out);
    }
    // 1. compare-and-swap, one UPDATE per target stage
    let mut by_target: BTreeMap<&str, Vec<&BulkMove>> = BTreeMap::new();
    for m in moves {
        by_target.entry(m.to.as_str()).or_default().push(m);
    }
    let mut moved: HashSet<i64> = HashSet::new();
    for (to, ms) in &by_target {
        let pairs: Vec<String> = ms
            .iter()
            .map(|m| format!("({},{})", m.application_id, m.version))
            .collect();
        let rows = txn
            .query_all_raw(sql(
                b,
                &format!(
                    "UPDATE applications SET stage = ?, entered_stage_at = ?, updated_at = ?, version = version + 1 \
                     WHERE (id, version) IN (VALUES {}) RETURNING id",
                    pairs.join(",")
                ),
                vec![(*to).into(), now.into(), now.into()],
            ))
            .await?;
        for r in rows {
            moved.insert(r.try_get::<i64>("", "id")?);
        }
    }
    let done: Vec<&BulkMove> = moves
        .iter()
        .filter(|m| moved.contains(&m.application_id))
        .collect();
    out.conflicts = moves
        .iter()
        .filter(|m| !moved.contains(&m.application_id))
        .map(|m| m.application_id)
        .collect();
    out.moved = done.iter().map(|m| m.application_id).collect();
    if done.is_empty() {
        return Ok(out);
    }
    // 2. the transitions
    let mut values = Vec::with_capacity(done.len() * 6);
    for m in &done {
        values.extend([
            Value::from(m.application_id),
            m.from.clone().into(),
            m.to.clone().into(),
            m.reason.clone().into(),
            m.actor.clone().into(),
            now.into(),
        ]);
    }
    let rows = txn
        .query_all_raw(sql(
            b,
            &format!(
                "INSERT INTO transitions (application_id, from_stage, to_stage, reason, actor, at) VALUES {} \
                 RETURNING id, application_id",
                placeholders(done.len(), 6)
            ),
            values,
        ))
        .await?;
    let mut transition_of: HashMap<i64, i64> = HashMap::with_capacity(rows.len());
    for r in rows {
        transition_of.insert(
            r.try_get::<i64>("", "application_id")?,
            r.try_get::<i64>("", "id")?,
        );
    }
    // 3. the delayed emails of the stage left, cancelled
    let mut leaving: BTreeMap<(&str, &str, &str), Vec<i64>> = BTreeMap::new();
    for m in &done {
        leaving
            .entry((m.from.as_str(), m.to.as_str(), m.actor.as_str()))
            .or_default()
            .push(m.application_id);
    }
    for ((from, to, actor), ids) in leaving {
        let res = txn
            .execute_raw(sql(
                b,
                &format!(
                    "UPDATE outbox SET status = 'cancelled', last_error = ?, updated_at = ? \
                     WHERE application_id IN ({}) AND stage = ? AND status = 'pending' AND send_after > ?",
                    id_list(&ids)
                ),
                vec![
                    format!(
                        "cancelled at {}: the application left `{from}` for `{to}` ({actor}) before the email was due",
                        now.to_rfc3339()
                    )
                    .into(),
                    now.into(),
                    from.into(),
                    now.into(),
                ],
            ))
            .await?;
        out.cancelled_emails += res.rows_affected();
    }
    // 4. the emails, then their bodies
    let emails: Vec<BulkEmail> = done
        .iter()
        .filter_map(|m| {
            let d = m.email.clone()?;
            let t = *transition_of.get(&m.application_id)?;
            Some(BulkEmail {
                application_id: Some(m.application_id),
                message_id: message_id(t),
                draft: d,
            })
        })
        .collect();
    let with_transition: HashMap<i64, i64> = transition_of;
    out.emails = insert_emails(txn, b, &emails, now, Some(&with_transition)).await?;
    Ok(out)
}

/// Queues emails not caused by a move (reminders, digests); one whose
/// Message-ID exists already is skipped, which makes queuing idempotent.
/// Returns how many were queued.
pub async fn queue_emails(
    txn: &DatabaseTransaction,
    emails: &[BulkEmail],
    now: DateTime<Utc>,
) -> Result<u64> {
    let b = txn.get_database_backend();
    let mut n = 0;
    for chunk in emails.chunks(MAX_BATCH) {
        n += insert_emails(txn, b, chunk, now, None).await?;
    }
    Ok(n)
}

async fn insert_emails(
    txn: &DatabaseTransaction,
    b: DbBackend,
    emails: &[BulkEmail],
    now: DateTime<Utc>,
    transitions: Option<&HashMap<i64, i64>>,
) -> Result<u64> {
    if emails.is_empty() {
        return Ok(0);
    }
    let mut values = Vec::with_capacity(emails.len() * 14);
    for e in emails {
        let d = &e.draft;
        let transition = e
            .application_id
            .and_then(|a| transitions.and_then(|t| t.get(&a).copied()));
        values.extend([
            Value::from(e.application_id),
            transition.into(),
            d.stage.clone().into(),
            d.recipient.clone().into(),
            d.recipient_name.clone().into(),
            d.template.clone().into(),
            d.locale.clone().into(),
            e.message_id.clone().into(),
            "pending".into(),
            0i32.into(),
            d.send_after.unwrap_or(now).into(),
            d.send_after.into(),
            now.into(),
            now.into(),
        ]);
    }
    let rows = txn
        .query_all_raw(sql(
            b,
            &format!(
                "INSERT INTO outbox (application_id, transition_id, stage, recipient, recipient_name, template, locale, \
                 message_id, status, attempts, next_attempt_at, send_after, created_at, updated_at) VALUES {} \
                 ON CONFLICT (message_id) DO NOTHING RETURNING id, message_id",
                placeholders(emails.len(), 14)
            ),
            values,
        ))
        .await?;
    let by_id: HashMap<&str, &Draft> = emails
        .iter()
        .map(|e| (e.message_id.as_str(), &e.draft))
        .collect();
    let mut values = Vec::with_capacity(rows.len() * 4);
    let mut n = 0;
    for r in rows {
        let id: i64 = r.try_get("", "id")?;
        let mid: String = r.try_get("", "message_id")?;
        if let Some(d) = by_id.get(mid.as_str()) {
            values.extend([
                Value::from(id),
                d.subject.clone().unwrap_or_default().into(),
                d.body_text.clone().unwrap_or_default().into(),
                d.body_html.clone().unwrap_or_default().into(),
            ]);
            n += 1;
        }
    }
    if n > 0 {
        txn.execute_raw(sql(
            b,
            &format!(
                "INSERT INTO outbox_bodies (outbox_id, subject, body_text, body_html) VALUES {}",
                placeholders(n, 4)
            ),
            values,
        ))
        .await?;
    }
    Ok(n as u64)
}

/// `(?,?,?),(?,?,?)`: `rows` groups of `cols` placeholders.
fn placeholders(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(","));
    vec![one; rows].join(",")
}
