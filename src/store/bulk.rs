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

/// At most this many moves per call on SQLite: the bound values of one
/// statement stay under its limit (32,766). PostgreSQL gets one array per
/// column, so a call there takes any number.
pub const MAX_BATCH: usize = 1000;

/// Rows per statement on this engine.
pub fn chunk_size(b: DbBackend) -> usize {
    if b == DbBackend::Postgres {
        usize::MAX
    } else {
        MAX_BATCH
    }
}

/// Applies `moves` inside `txn`. `message_id(transition_id)` names each email.
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
        let ids: Vec<i64> = ms.iter().map(|m| m.application_id).collect();
        let stmt = if b == DbBackend::Postgres {
            let versions: Vec<String> = ms.iter().map(|m| m.version.to_string()).collect();
            sql(
                b,
                "UPDATE applications AS a SET stage = ?, entered_stage_at = ?, updated_at = ?, version = a.version + 1 \
                 FROM unnest(CAST(? AS bigint[]), CAST(? AS integer[])) AS v(id, version) \
                 WHERE a.id = v.id AND a.version = v.version RETURNING a.id",
                vec![
                    (*to).into(),
                    now.into(),
                    now.into(),
                    format!("{{{}}}", id_list(&ids)).into(),
                    format!("{{{}}}", versions.join(",")).into(),
                ],
            )
        } else {
            // `id IN (…)` first, so that SQLite finds the rows by key before
            // matching the (id, version) pairs
            let pairs: Vec<String> = ms
                .iter()
                .map(|m| format!("({},{})", m.application_id, m.version))
                .collect();
            sql(
                b,
                &format!(
                    "UPDATE applications SET stage = ?, entered_stage_at = ?, updated_at = ?, version = version + 1 \
                     WHERE id IN ({}) AND (id, version) IN (VALUES {}) RETURNING id",
                    id_list(&ids),
                    pairs.join(",")
                ),
                vec![(*to).into(), now.into(), now.into()],
            )
        };
        let rows = txn.query_all_raw(stmt).await?;
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
    let rows = txn
        .query_all_raw(insert(
            b,
            "transitions",
            &[
                ("application_id", "bigint"),
                ("from_stage", "text"),
                ("to_stage", "text"),
                ("reason", "text"),
                ("actor", "text"),
                ("at", "timestamptz"),
                ("stage_entered_at", "timestamptz"),
            ],
            rows,
            "RETURNING id, application_id",
        ))
        .await?;
    let mut transition_of: HashMap<i64, i64> = HashMap::with_capacity(rows.len());
    for r in rows {
        transition_of.insert(
            r.try_get::<i64>("", "application_id")?,
            r.try_get::<i64>("", "id")?,
        );
    }
    let transitions: Vec<i64> = transition_of.values().copied().collect();
    super::events::record_transitions(txn, &transitions).await?;
    // 3. the delayed emails of the stage left, cancelled
    let mut leaving: BTreeMap<(&str, &str, &str), Vec<i64>> = BTreeMap::new();
    for m in &done {
        leaving
            .entry((m.from.as_str(), m.to.as_str(), m.actor.as_str()))
            .or_default()
            .push(m.application_id);
    }
    for ((from, to, actor), ids) in leaving {
        let (apps, mut values): (String, Vec<Value>) = if b == DbBackend::Postgres {
            (
                "SELECT unnest(CAST(? AS bigint[]))".into(),
                vec![format!("{{{}}}", id_list(&ids)).into()],
            )
        } else {
            (id_list(&ids), vec![])
        };
        let mut all: Vec<Value> = vec![
            format!(
                "cancelled at {}: the application left `{from}` for `{to}` ({actor}) before the email was due",
                now.to_rfc3339()
            )
            .into(),
            now.into(),
        ];
        all.append(&mut values);
        all.extend([Value::from(from), now.into()]);
        let res = txn
            .execute_raw(sql(
                b,
                &format!(
                    // the subquery finds the rows by application, whatever
                    // the planner thinks of the status index
                    "UPDATE outbox SET status = 'cancelled', last_error = ?, updated_at = ? \
                     WHERE id IN (SELECT id FROM outbox WHERE application_id IN ({apps})) \
                     AND stage = ? AND status = 'pending' AND send_after > ?"
                ),
                all,
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
        let chunk: Vec<BulkEmail> = rest.by_ref().take(chunk_size(b)).collect();
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
                Cell::S(Some("pending".into())),
                Cell::I(Some(0)),
                Cell::T(Some(d.send_after.unwrap_or(now))),
                Cell::T(d.send_after),
                Cell::T(Some(now)),
                Cell::T(Some(now)),
            ]
        })
        .collect();
    let rows = txn
        .query_all_raw(insert(
            b,
            "outbox",
            &[
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
            ],
            cells,
            "ON CONFLICT (message_id) DO NOTHING RETURNING id, message_id",
        ))
        .await?;
    let mut inserted: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    for r in rows {
        inserted.insert(r.try_get("", "message_id")?, r.try_get("", "id")?);
    }
    let mut bodies = Vec::with_capacity(inserted.len());
    for e in emails {
        if let Some(id) = inserted.get(&e.message_id) {
            let d = e.draft;
            bodies.push(vec![
                Cell::I(Some(*id)),
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

/// Appends `v` to a PostgreSQL array literal as a quoted element.
fn push_quoted(a: &mut String, v: &str) {
    a.push('"');
    for ch in v.chars() {
        if ch == '"' || ch == '\\' {
            a.push('\\');
        }
        a.push(ch);
    }
    a.push('"');
}

/// One value of a row to write.
pub(crate) enum Cell {
    I(Option<i64>),
    S(Option<String>),
    T(Option<DateTime<Utc>>),
    B(Option<bool>),
}

/// The rows as a row source and its bound values: `SELECT * FROM
/// unnest(…)` with one array per column on PostgreSQL (planning a `VALUES`
/// list of thousands of bound values, or reading the rows from JSON, costs it
/// more than the write itself), `VALUES (…), (…)` on SQLite.
fn row_source(
    b: DbBackend,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Cell>>,
) -> (String, Vec<Value>) {
    if b == DbBackend::Postgres {
        let casts: Vec<String> = columns
            .iter()
            .map(|(_, t)| format!("CAST(? AS {t}[])"))
            .collect();
        return (
            format!("SELECT * FROM unnest({})", casts.join(", ")),
            pg_arrays(columns.len(), rows),
        );
    }
    let n = rows.len();
    let values = sqlite_values(columns.len(), rows);
    let one = format!("({})", vec!["?"; columns.len()].join(","));
    (format!("VALUES {}", vec![one; n].join(",")), values)
}

fn column_names(columns: &[(&str, &str)]) -> String {
    columns
        .iter()
        .map(|(c, _)| *c)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `WITH name (columns) AS (…rows…)`, to update many rows with one
/// statement (`UPDATE t SET … FROM name WHERE t.id = name.id`).
pub(crate) fn rows_cte(
    b: DbBackend,
    name: &str,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Cell>>,
) -> (String, Vec<Value>) {
    let (source, values) = row_source(b, columns, rows);
    (
        format!("WITH {name} ({}) AS ({source})", column_names(columns)),
        values,
    )
}

/// One PostgreSQL array literal per column.
fn pg_arrays(columns: usize, rows: Vec<Vec<Cell>>) -> Vec<Value> {
    let mut arrays: Vec<String> = vec![String::from("{"); columns];
    for (r, row) in rows.into_iter().enumerate() {
        for (c, cell) in row.into_iter().enumerate() {
            let a = &mut arrays[c];
            if r > 0 {
                a.push(',');
            }
            match cell {
                Cell::I(Some(i)) => a.push_str(&i.to_string()),
                Cell::S(Some(v)) => push_quoted(a, &v),
                Cell::T(Some(t)) => push_quoted(a, &t.to_rfc3339()),
                Cell::B(Some(v)) => a.push(if v { 't' } else { 'f' }),
                Cell::I(None) | Cell::S(None) | Cell::T(None) | Cell::B(None) => a.push_str("NULL"),
            }
        }
    }
    arrays
        .into_iter()
        .map(|mut a| {
            a.push('}');
            Value::from(a)
        })
        .collect()
}

fn sqlite_values(columns: usize, rows: Vec<Vec<Cell>>) -> Vec<Value> {
    let mut values = Vec::with_capacity(rows.len() * columns);
    for row in rows {
        for cell in row {
            values.push(match cell {
                Cell::I(i) => Value::from(i),
                Cell::S(s) => Value::from(s),
                Cell::T(t) => Value::from(t),
                Cell::B(v) => Value::from(v),
            });
        }
    }
    values
}

/// A multi-row `INSERT INTO table (columns) … suffix`.
pub(crate) fn insert(
    b: DbBackend,
    table: &str,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Cell>>,
    suffix: &str,
) -> sea_orm::Statement {
    let (source, values) = row_source(b, columns, rows);
    sql(
        b,
        &format!(
            "INSERT INTO {table} ({}) {source} {suffix}",
            column_names(columns)
        ),
        values,
    )
}
