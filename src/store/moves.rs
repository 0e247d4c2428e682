//! Set-based writes for the rules: many moves in one transaction with a few
//! statements each (the compare-and-swap `UPDATE` of all the applications,
//! one multi-row `INSERT` of their transitions, one of their outbox rows, one
//! of the rendered bodies), with the same meaning as a single move
//! (`crate::workflow`) row by row: an application whose version changed
//! since it was read is skipped (a recruiter moved it first), and the
//! delayed emails of the stage left are cancelled. The decisions and the
//! rendering are the caller's ([`crate::workflow::batch`]); this writes.

use super::outbox::Draft;
use super::rows::{Cell, insert, insert_with_ids, rows_per_statement};
use super::{id_list, sql};
use crate::error::Result;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One move decided on rows read earlier.
#[derive(Clone, Debug)]
pub struct BulkMove {
    pub application_id: i64,
    pub posting_id: i64,
    /// The version read: the move happens only if it is still this.
    pub version: i32,
    pub from: String,
    /// When the application entered `from` (the stay this move ends began).
    pub entered: DateTime<Utc>,
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

/// Moves per [`apply_moves`] call on this engine (its widest statement, the
/// outbox rows, sets the limit).
pub fn moves_per_call(b: DbBackend) -> usize {
    // (and the id, where [`insert_with_ids`] numbers the rows)
    rows_per_statement(b, OUTBOX_COLUMNS.len() + 1)
}

/// The outbox columns an email is written with.
const OUTBOX_COLUMNS: [(&str, &str); 15] = [
    ("application_id", "bigint"),
    ("transition_id", "bigint"),
    ("stage", "text"),
    ("recipient", "text"),
    ("recipient_name", "text"),
    ("template", "text"),
    ("locale", "text"),
    ("message_id", "text"),
    ("status", "text"),
    ("attempts", "integer"),
    ("next_attempt_at", "timestamptz"),
    ("send_after", "timestamptz"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("auto_submitted", "boolean"),
];

/// The transition columns a move is written with.
const TRANSITION_COLUMNS: [(&str, &str); 7] = [
    ("application_id", "bigint"),
    ("from_stage", "text"),
    ("to_stage", "text"),
    ("reason", "text"),
    ("actor", "text"),
    ("at", "timestamptz"),
    ("stage_entered_at", "timestamptz"),
];

/// Applies `moves` inside `txn` (at most [`moves_per_call`] of them).
/// `message_id(transition_id)` names each email.
// Stays whole: the set-based batch's statements in their transaction's order (applications, transitions, emails, events).
pub async fn apply_moves(
    txn: &DatabaseTransaction,
    moves: Vec<BulkMove>,
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
    for m in &moves {
        by_target.entry(m.to.as_str()).or_default().push(m);
    }
    let mut moved: HashSet<i64> = HashSet::new();
    for (to, ms) in &by_target {
        moved.extend(compare_and_swap(txn, to, ms, now).await?);
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
    let rows: Vec<Vec<Cell>> = done
        .iter()
        .map(|m| {
            vec![
                Cell::I(Some(m.application_id)),
                Cell::S(Some(m.from.clone())),
                Cell::S(Some(m.to.clone())),
                Cell::S(m.reason.clone()),
                Cell::S(Some(m.actor.clone())),
                Cell::T(Some(now)),
                Cell::T(Some(m.entered)),
            ]
        })
        .collect();
    let ids = insert_with_ids(
        txn,
        "transitions",
        &TRANSITION_COLUMNS,
        rows,
        "",
        "application_id",
    )
    .await?;
    let transition_of: HashMap<i64, i64> = done
        .iter()
        .zip(ids)
        .filter_map(|(m, id)| Some((m.application_id, id?)))
        .collect();
    let events: Vec<Vec<Cell>> = done
        .iter()
        .filter_map(|m| {
            let t = *transition_of.get(&m.application_id)?;
            Some(vec![
                Cell::I(Some(t)),
                Cell::I(Some(m.application_id)),
                Cell::I(Some(m.posting_id)),
                Cell::S(Some(m.from.clone())),
                Cell::S(Some(m.to.clone())),
                Cell::S(m.reason.clone()),
                Cell::S(Some(m.actor.clone())),
                Cell::T(Some(now)),
            ])
        })
        .collect();
    super::events::record_moves(txn, events).await?;
    // 3. the delayed emails of the stage left, cancelled
    let mut leaving: BTreeMap<(&str, &str, &str), Vec<i64>> = BTreeMap::new();
    for m in &done {
        leaving
            .entry((m.from.as_str(), m.to.as_str(), m.actor.as_str()))
            .or_default()
            .push(m.application_id);
    }
    for ((from, to, actor), ids) in leaving {
        // the emails found by application, not by the status index: the
        // pending emails not yet due may be many (a delayed rejection each).
        // PostgreSQL scans the index for the array; on SQLite the list
        // drives the join
        let (find, ids) = if b == DbBackend::Postgres {
            (
                "application_id = ANY(CAST(? AS bigint[])) AND stage = ? AND status = 'pending' AND send_after > ?"
                    .to_string(),
                Value::from(format!("{{{}}}", id_list(&ids))),
            )
        } else {
            (
                "id IN (SELECT o.id FROM (SELECT value AS id FROM json_each(?)) AS x CROSS JOIN outbox AS o \
                 WHERE o.application_id = x.id AND o.stage = ? AND o.status = 'pending' AND o.send_after > ?)"
                    .to_string(),
                Value::from(format!("[{}]", id_list(&ids))),
            )
        };
        let values: Vec<Value> = vec![
            super::outbox::cancel_note(now, from, to, actor).into(),
            now.into(),
            ids,
            Value::from(from),
            now.into(),
        ];
        let res = txn
            .execute_raw(sql(
                b,
                &format!("UPDATE outbox SET status = 'cancelled', last_error = ?, updated_at = ? WHERE {find}"),
                values,
            ))
            .await?;
        out.cancelled_emails += res.rows_affected();
    }
    drop(by_target);
    // 4. the emails, then their bodies (moved, not copied: they are most of
    // the bytes)
    let emails: Vec<BulkEmail> = moves
        .into_iter()
        .filter_map(|m| {
            let t = *transition_of.get(&m.application_id)?;
            Some(BulkEmail {
                application_id: Some(m.application_id),
                message_id: message_id(t),
                draft: m.email?,
            })
        })
        .collect();
    out.emails = insert_emails(txn, b, emails, now, Some(&transition_of)).await?;
    Ok(out)
}

/// Moves `ms` to `to` where each still has the version read; returns the
/// ids moved (the others were moved by someone else first).
async fn compare_and_swap(
    txn: &DatabaseTransaction,
    to: &str,
    ms: &[&BulkMove],
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let b = txn.get_database_backend();
    if b == DbBackend::Postgres {
        let ids: Vec<i64> = ms.iter().map(|m| m.application_id).collect();
        let versions: Vec<String> = ms.iter().map(|m| m.version.to_string()).collect();
        let rows = txn
            .query_all_raw(sql(
                b,
                "UPDATE applications AS a SET stage = ?, entered_stage_at = ?, updated_at = ?, version = a.version + 1 \
                 FROM unnest(CAST(? AS bigint[]), CAST(? AS integer[])) AS v(id, version) \
                 WHERE a.id = v.id AND a.version = v.version RETURNING a.id",
                vec![
                    to.into(),
                    now.into(),
                    now.into(),
                    format!("{{{}}}", id_list(&ids)).into(),
                    format!("{{{}}}", versions.join(",")).into(),
                ],
            ))
            .await?;
        return rows
            .into_iter()
            .map(|r| r.try_get::<i64>("", "id").map_err(Into::into))
            .collect();
    }
    // SQLite: the pairs go as one JSON array, so that the statement's text
    // is the same for every batch (compiled once, not once per batch)
    let pairs: Vec<String> = ms
        .iter()
        .map(|m| format!("[{},{}]", m.application_id, m.version))
        .collect();
    let rows = txn
        .query_all_raw(sql(
            b,
            "UPDATE applications SET stage = ?, entered_stage_at = ?, updated_at = ?, \
             version = applications.version + 1 \
             FROM (SELECT value ->> 0 AS cas_id, value ->> 1 AS cas_version FROM json_each(?)) AS v \
             WHERE applications.id = v.cas_id AND applications.version = v.cas_version RETURNING id",
            vec![
                to.into(),
                now.into(),
                now.into(),
                format!("[{}]", pairs.join(",")).into(),
            ],
        ))
        .await?;
    rows.into_iter()
        .map(|r| r.try_get::<i64>("", "id").map_err(Into::into))
        .collect()
}

/// Queues emails not caused by a move (reminders, digests); one whose
/// Message-ID exists already is skipped, which makes queuing idempotent.
/// Returns how many were queued.
pub async fn queue_emails(
    txn: &DatabaseTransaction,
    emails: Vec<BulkEmail>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let b = txn.get_database_backend();
    let mut n = 0;
    let mut rest = emails.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<BulkEmail> = rest.by_ref().take(moves_per_call(b)).collect();
        n += insert_emails(txn, b, chunk, now, None).await?;
    }
    Ok(n)
}

async fn insert_emails(
    txn: &DatabaseTransaction,
    b: DbBackend,
    emails: Vec<BulkEmail>,
    now: DateTime<Utc>,
    transitions: Option<&HashMap<i64, i64>>,
) -> Result<u64> {
    if emails.is_empty() {
        return Ok(0);
    }
    let cells: Vec<Vec<Cell>> = emails
        .iter()
        .map(|e| {
            let d = &e.draft;
            let transition = e
                .application_id
                .and_then(|a| transitions.and_then(|t| t.get(&a).copied()));
            vec![
                Cell::I(e.application_id),
                Cell::I(transition),
                Cell::S(d.stage.clone()),
                Cell::S(Some(d.recipient.clone())),
                Cell::S(d.recipient_name.clone()),
                Cell::S(Some(d.template.clone())),
                Cell::S(Some(d.locale.clone())),
                Cell::S(Some(e.message_id.clone())),
                Cell::S(Some(entity::outbox::Status::Pending.as_str().into())),
                Cell::I(Some(0)),
                Cell::T(Some(d.send_after.unwrap_or(now))),
                Cell::T(d.send_after),
                Cell::T(Some(now)),
                Cell::T(Some(now)),
                Cell::B(Some(d.auto_submitted)),
            ]
        })
        .collect();
    // None where the Message-ID was queued before
    let ids = insert_with_ids(
        txn,
        "outbox",
        &OUTBOX_COLUMNS,
        cells,
        "ON CONFLICT (message_id) DO NOTHING",
        "message_id",
    )
    .await?;
    let mut bodies = Vec::with_capacity(ids.len());
    for (e, id) in emails.into_iter().zip(ids) {
        if let Some(id) = id {
            let d = e.draft;
            bodies.push(vec![
                Cell::I(Some(id)),
                Cell::S(Some(d.subject.unwrap_or_default())),
                Cell::S(Some(d.body_text.unwrap_or_default())),
                Cell::S(Some(d.body_html.unwrap_or_default())),
            ]);
        }
    }
    let n = bodies.len();
    if n > 0 {
        txn.execute_raw(insert(
            b,
            "outbox_bodies",
            &[
                ("outbox_id", "bigint"),
                ("subject", "text"),
                ("body_text", "text"),
                ("body_html", "text"),
            ],
            bodies,
            "",
        ))
        .await?;
    }
    Ok(n as u64)
}
