//! The read-only queries behind the recruiter board (`/board`): counts come
//! from grouped queries, never from rows loaded to be counted; a column's
//! cards are read newest first through `idx_applications_posting_stage_id`,
//! at most a page at a time.

use super::{id_list, sql};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::{application, candidate, job_run, outbox, posting, transition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, Value,
};
use std::collections::HashMap;

/// How many applications a posting has in one stage, how many of them are
/// stale (in the stage longer than its threshold), and how many applied
/// since the given instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageCount {
    pub posting_id: i64,
    pub stage: String,
    pub count: i64,
    pub stale: i64,
    pub new: i64,
}

/// The stale cut-off of each active stage: an application that entered the
/// stage before it is stale (the report's `now - entered > threshold`).
pub type Cutoffs = [(String, DateTime<Utc>)];

/// The condition "stale" over `applications a`, its values pushed to
/// `values`; `None` when no stage has a cut-off (nothing is stale).
fn stale_condition(cutoffs: &Cutoffs, values: &mut Vec<Value>) -> Option<String> {
    if cutoffs.is_empty() {
        return None;
    }
    let parts: Vec<&str> = cutoffs
        .iter()
        .map(|(stage, at)| {
            values.push(stage.clone().into());
            values.push((*at).into());
            "(a.stage = ? AND a.entered_stage_at < ?)"
        })
        .collect();
    Some(format!("({})", parts.join(" OR ")))
}

/// Per posting (or one posting) and stage: count, stale, new since `since`,
/// in one statement (one snapshot on PostgreSQL). The counts come from
/// `stage_totals`, which triggers keep in the writing transactions; those
/// that entered their stage after its cut-off (the rest are stale) from
/// `stage_days`, kept the same way per day: the days after the cut-off's
/// day summed, the rest of its own day an index range; those that applied
/// since `since` an index range over recent rows.
pub async fn stage_counts<C: ConnectionTrait + TransactionTrait>(
    c: &C,
    posting: Option<i64>,
    cutoffs: &Cutoffs,
    since: DateTime<Utc>,
) -> Result<Vec<StageCount>> {
    let b = c.get_database_backend();
    let mut values = Vec::new();
    let one = if posting.is_some() {
        " WHERE posting_id = ?"
    } else {
        ""
    };
    values.extend(posting.map(Value::from));
    let mut q = format!(
        "SELECT t.posting_id AS posting_id, t.stage AS stage, t.n AS n, \
         {fresh} AS fresh, COALESCE(w.n, 0) AS new \
         FROM (SELECT posting_id, stage, SUM(n) AS n FROM stage_totals{one} \
         GROUP BY posting_id, stage) t",
        fresh = if cutoffs.is_empty() {
            "0"
        } else {
            "COALESCE(f.n, 0)"
        }
    );
    if !cutoffs.is_empty() {
        q.push_str(&format!(
            " LEFT JOIN ({}) f ON f.posting_id = t.posting_id AND f.stage = t.stage",
            fresh_counts(cutoffs, posting, &mut values)
        ));
    }
    // new since `since`, through `(applied_at, posting_id)` with the posting
    // checked in that index (`+` keeps SQLite from reading the posting's
    // whole `(posting_id, …)` range instead)
    values.push(since.into());
    values.extend(posting.map(Value::from));
    let new_one = if posting.is_some() {
        " AND +a.posting_id = ?"
    } else {
        ""
    };
    q.push_str(&format!(
        " LEFT JOIN (SELECT a.posting_id, a.stage, COUNT(*) AS n FROM applications a \
         WHERE a.applied_at >= ?{new_one} GROUP BY a.posting_id, a.stage) w \
         ON w.posting_id = t.posting_id AND w.stage = t.stage \
         WHERE t.n <> 0 ORDER BY t.posting_id, t.stage"
    ));
    let staged: std::collections::HashSet<&str> = cutoffs.iter().map(|(s, _)| s.as_str()).collect();
    let mut st = sql(b, &q, values);
    if b == DbBackend::Postgres {
        // the values written into the statement (by sea-query's quoting):
        // with parameters, PostgreSQL's generic plan after five runs reads
        // the posting's whole range (75–97 ms instead of 8 ms, measured)
        st = sea_orm::Statement::from_string(b, st.to_string());
    }
    // without parallel workers: on two cores their start costs more than
    // the scans they share (9.0 → 4.9 ms under the bench's load)
    let rows = read_with(c, st, "SET LOCAL max_parallel_workers_per_gather = 0").await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let stage: String = r.try_get("", "stage")?;
        let count = sum(&r, "n")?;
        let stale = if staged.contains(stage.as_str()) {
            (count - sum(&r, "fresh")?).max(0)
        } else {
            0
        };
        out.push(StageCount {
            posting_id: r.try_get("", "posting_id")?,
            stage,
            count,
            stale,
            new: sum(&r, "new")?,
        });
    }
    Ok(out)
}

/// Per posting (or one posting) and stage, how many entered their stage
/// after its cut-off (the others are stale): the kept days after the
/// cut-off's day, through `(stage, day, posting_id)`, and the rest of that
/// day through `(stage, entered_stage_at, posting_id)`. Its values join
/// `values`.
fn fresh_counts(cutoffs: &Cutoffs, posting: Option<i64>, values: &mut Vec<Value>) -> String {
    let (one_d, one_a) = match posting {
        Some(_) => (" AND posting_id = ?", " AND a.posting_id = ?"),
        None => ("", ""),
    };
    let parts: Vec<String> = cutoffs
        .iter()
        .map(|(stage, at)| {
            let (day, next) = day_after(*at);
            values.push(stage.clone().into());
            values.push(day.into());
            values.extend(posting.map(Value::from));
            values.push(stage.clone().into());
            values.push((*at).into());
            values.push(next.into());
            values.extend(posting.map(Value::from));
            format!(
                "SELECT posting_id, stage, n FROM stage_days WHERE stage = ? AND day > ?{one_d} \
                 UNION ALL SELECT a.posting_id, a.stage, COUNT(*) AS n FROM applications a \
                 WHERE a.stage = ? AND a.entered_stage_at >= ? AND a.entered_stage_at < ?{one_a} \
                 GROUP BY a.posting_id, a.stage"
            )
        })
        .collect();
    format!(
        "SELECT posting_id, stage, SUM(n) AS n FROM ({}) u GROUP BY posting_id, stage",
        parts.join(" UNION ALL ")
    )
}

/// The day of `at` as `stage_days` keeps it (days since 1970-01-01, UTC)
/// and the start of the next one.
fn day_after(at: DateTime<Utc>) -> (i64, DateTime<Utc>) {
    let day = at.timestamp().div_euclid(86_400);
    let next = DateTime::from_timestamp((day + 1) * 86_400, 0).unwrap_or(at);
    (day, next)
}

/// `st` read, on PostgreSQL in a transaction of its own after `setting`
/// (a `SET LOCAL` for this one read).
async fn read_with<C: ConnectionTrait + TransactionTrait>(
    c: &C,
    st: sea_orm::Statement,
    setting: &str,
) -> Result<Vec<sea_orm::QueryResult>> {
    if c.get_database_backend() != DbBackend::Postgres {
        return Ok(c.query_all_raw(st).await?);
    }
    let txn = c.begin().await?;
    txn.execute_unprepared(setting).await?;
    let rows = txn.query_all_raw(st).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(rows)
}

/// Folds `stage_totals` and `stage_days` together: on PostgreSQL each
/// writing statement appends rows of its own, and the counts are their
/// sums; this replaces them with one row per posting and stage (and day)
/// (in one statement per table, so rows appended meanwhile stay as they
/// are), and drops the zeros. On SQLite the rows are one per key already:
/// only the zeros go.
/// Returns how many rows were folded away.
pub async fn fold_totals<C: ConnectionTrait>(c: &C) -> Result<u64> {
    let b = c.get_database_backend();
    let mut folded = 0;
    for (table, key) in [
        ("stage_totals", "posting_id, stage"),
        ("stage_days", "posting_id, stage, day"),
    ] {
        let q = match b {
            DbBackend::Postgres => format!(
                "WITH gone AS (DELETE FROM {table} RETURNING {key}, n), \
                 back AS (INSERT INTO {table} ({key}, n) \
                 SELECT {key}, SUM(n) FROM gone GROUP BY {key} \
                 HAVING SUM(n) <> 0 RETURNING 1) \
                 SELECT (SELECT COUNT(*) FROM gone) - (SELECT COUNT(*) FROM back) AS n"
            ),
            _ => format!("DELETE FROM {table} WHERE n = 0 RETURNING 1 AS n"),
        };
        let rows = c.query_all_raw(sql(b, &q, vec![])).await?;
        folded += match b {
            DbBackend::Postgres => rows
                .first()
                .map(|r| r.try_get::<i64>("", "n"))
                .transpose()?
                .unwrap_or(0)
                .max(0) as u64,
            _ => rows.len() as u64,
        };
    }
    Ok(folded)
}

/// `?, ?, …` for `items`, whose values join `values`.
fn marks(items: &[String], values: &mut Vec<Value>) -> String {
    values.extend(items.iter().map(|s| Value::from(s.clone())));
    vec!["?"; items.len()].join(", ")
}

/// A `SUM(...)`: an integer on SQLite, a numeric on PostgreSQL.
fn sum(r: &sea_orm::QueryResult, col: &str) -> Result<i64> {
    if let Ok(v) = r.try_get::<Option<i64>>("", col) {
        return Ok(v.unwrap_or(0));
    }
    let d: Option<sea_orm::prelude::Decimal> = r.try_get("", col)?;
    Ok(d.and_then(|d| i64::try_from(d).ok()).unwrap_or(0))
}

/// Dead emails per posting (through their application).
pub async fn dead_emails<C: ConnectionTrait>(
    c: &C,
    posting: Option<i64>,
) -> Result<HashMap<i64, i64>> {
    let b = c.get_database_backend();
    let mut values = Vec::new();
    let mut q = "SELECT a.posting_id AS posting_id, COUNT(*) AS n FROM outbox o \
                 JOIN applications a ON a.id = o.application_id WHERE o.status = 'dead'"
        .to_string();
    if let Some(p) = posting {
        q.push_str(" AND a.posting_id = ?");
        values.push(p.into());
    }
    q.push_str(" GROUP BY a.posting_id");
    let rows = c.query_all_raw(sql(b, &q, values)).await?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(r.try_get("", "posting_id")?, r.try_get("", "n")?);
    }
    Ok(out)
}

/// `(status, count)` of the outbox, or of one posting's emails.
pub async fn outbox_counts<C: ConnectionTrait>(
    c: &C,
    posting: Option<i64>,
) -> Result<Vec<(String, i64)>> {
    let b = c.get_database_backend();
    let (q, values): (&str, Vec<Value>) = match posting {
        None => (
            "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status",
            vec![],
        ),
        Some(p) => (
            "SELECT o.status AS status, COUNT(*) AS n FROM outbox o \
             JOIN applications a ON a.id = o.application_id WHERE a.posting_id = ? GROUP BY o.status",
            vec![p.into()],
        ),
    };
    let rows = c.query_all_raw(sql(b, q, values)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((r.try_get("", "status")?, r.try_get("", "n")?));
    }
    Ok(out)
}

/// One card: an application as a column shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Card {
    pub id: i64,
    pub stage: String,
    pub name: String,
    pub email: String,
    pub entered_stage_at: DateTime<Utc>,
    pub applied_at: DateTime<Utc>,
}

/// Which applications of a posting a list shows.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub stage: Option<String>,
    /// Only those that entered their stage before this (stale ones).
    pub entered_before: Option<Vec<(String, DateTime<Utc>)>>,
    /// Only those that applied at or after this.
    pub applied_since: Option<DateTime<Utc>>,
    /// Keyset: only ids below this one.
    pub before_id: Option<i64>,
}

/// Up to `limit` applications of `posting` matching `f`, newest first.
pub async fn cards<C: ConnectionTrait + TransactionTrait>(
    c: &C,
    posting: i64,
    f: &ListFilter,
    limit: u64,
) -> Result<Vec<Card>> {
    let b = c.get_database_backend();
    let mut values: Vec<Value> = vec![posting.into()];
    let mut q = "SELECT a.id AS id, a.stage AS stage, a.entered_stage_at AS entered_stage_at, \
                 a.applied_at AS applied_at, c.name AS name, c.email AS email \
                 FROM applications a JOIN candidates c ON c.id = a.candidate_id \
                 WHERE a.posting_id = ?"
        .to_string();
    if let Some(s) = &f.stage {
        q.push_str(" AND a.stage = ?");
        values.push(s.clone().into());
    }
    if let Some(cutoffs) = &f.entered_before {
        match stale_condition(cutoffs, &mut values) {
            Some(cond) => q.push_str(&format!(" AND {cond}")),
            None => return Ok(Vec::new()),
        }
    }
    if let Some(t) = f.applied_since {
        q.push_str(" AND a.applied_at >= ?");
        values.push(t.into());
    }
    if let Some(id) = f.before_id {
        q.push_str(" AND a.id < ?");
        values.push(id.into());
    }
    q.push_str(&format!(" ORDER BY a.id DESC LIMIT {limit}"));
    // PostgreSQL's generic plan reads `(posting_id, stage, id)` backwards;
    // planned for the values, it took the primary key backwards, skipping
    // every newer application of the other stages (5.4 ms instead of 0.1)
    let rows = read_with(
        c,
        sql(b, &q, values),
        "SET LOCAL plan_cache_mode = force_generic_plan",
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Card {
            id: r.try_get("", "id")?,
            stage: r.try_get("", "stage")?,
            name: r.try_get("", "name")?,
            email: r.try_get("", "email")?,
            entered_stage_at: r.try_get("", "entered_stage_at")?,
            applied_at: r.try_get("", "applied_at")?,
        });
    }
    Ok(out)
}

/// The email a card mentions: one still to send or one that died.
#[derive(Clone, Debug, PartialEq)]
pub struct CardEmail {
    pub id: i64,
    pub template: String,
    pub status: String,
}

/// The pending (or sending) and dead emails of these applications, by
/// application; the newest of each.
pub async fn card_emails<C: ConnectionTrait>(
    c: &C,
    applications: &[i64],
) -> Result<HashMap<i64, CardEmail>> {
    if applications.is_empty() {
        return Ok(HashMap::new());
    }
    let b = c.get_database_backend();
    let q = format!(
        "SELECT id, application_id, template, status FROM outbox \
         WHERE application_id IN ({}) AND status IN ('pending', 'sending', 'dead', 'held', 'bounced') ORDER BY id",
        id_list(applications)
    );
    let rows = c.query_all_raw(sql(b, &q, vec![])).await?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(
            r.try_get("", "application_id")?,
            CardEmail {
                id: r.try_get("", "id")?,
                template: r.try_get("", "template")?,
                status: r.try_get("", "status")?,
            },
        );
    }
    Ok(out)
}

/// How many finished applications of a posting ever reached each stage
/// (from the transition log), and how many finished applications there are.
pub async fn funnel<C: ConnectionTrait>(
    c: &C,
    posting: i64,
    terminal: &[String],
) -> Result<HashMap<String, i64>> {
    let b = c.get_database_backend();
    let mut values: Vec<Value> = vec![posting.into()];
    let q = format!(
        "SELECT t.to_stage AS stage, COUNT(DISTINCT t.application_id) AS n \
         FROM transitions t JOIN applications a ON a.id = t.application_id \
         WHERE a.posting_id = ? AND a.stage IN ({}) GROUP BY t.to_stage",
        marks(terminal, &mut values)
    );
    let rows = c.query_all_raw(sql(b, &q, values)).await?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(r.try_get("", "stage")?, r.try_get("", "n")?);
    }
    Ok(out)
}

/// How many applications of a posting are finished (in a terminal stage).
pub async fn finished<C: ConnectionTrait>(c: &C, posting: i64, terminal: &[String]) -> Result<i64> {
    let b = c.get_database_backend();
    let mut values: Vec<Value> = vec![posting.into()];
    let q = format!(
        "SELECT COUNT(*) AS n FROM applications WHERE posting_id = ? AND stage IN ({})",
        marks(terminal, &mut values)
    );
    Ok(match c.query_one_raw(sql(b, &q, values)).await? {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    })
}

/// Completed stays (entered, then left) of a posting's applications, per
/// stage, as a histogram of whole days: `(stage, days, how many)`. Each move
/// records when the stay it ends began (`stage_entered_at`), so this is one
/// grouped pass over the posting's transitions.
pub async fn stay_days<C: ConnectionTrait>(c: &C, posting: i64) -> Result<Vec<(String, i64, i64)>> {
    let b = c.get_database_backend();
    let days = match b {
        DbBackend::Postgres => {
            "CAST(FLOOR(EXTRACT(EPOCH FROM (t.at - t.stage_entered_at)) / 86400) AS BIGINT)"
        }
        _ => "CAST(julianday(t.at) - julianday(t.stage_entered_at) AS INTEGER)",
    };
    // SQLite joins by nested loops: from the posting's applications, one
    // index search into transitions each (3 µs: 320 ms for 100,000), or
    // from every transition in order, one primary-key search each (38 ms
    // for 162,000). The second when the posting holds a tenth or more of
    // the applications; PostgreSQL chooses for itself (a hash join).
    let join = if b == DbBackend::Sqlite && big_share(c, posting).await? {
        "CROSS JOIN"
    } else {
        "JOIN"
    };
    let q = format!(
        "SELECT t.from_stage AS stage, {days} AS days, COUNT(*) AS n \
         FROM transitions t {join} applications a ON a.id = t.application_id \
         WHERE a.posting_id = ? AND t.stage_entered_at IS NOT NULL \
         GROUP BY t.from_stage, {days}"
    );
    let rows = c.query_all_raw(sql(b, &q, vec![posting.into()])).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.try_get("", "stage")?,
            r.try_get("", "days")?,
            r.try_get("", "n")?,
        ));
    }
    Ok(out)
}

/// Whether `posting` holds a tenth or more of all applications (from the
/// kept counts).
async fn big_share<C: ConnectionTrait>(c: &C, posting: i64) -> Result<bool> {
    let b = c.get_database_backend();
    let r = c
        .query_one_raw(sql(
            b,
            "SELECT COALESCE(SUM(CASE WHEN posting_id = ? THEN n ELSE 0 END), 0) AS mine, \
             COALESCE(SUM(n), 0) AS every FROM stage_totals",
            vec![posting.into()],
        ))
        .await?;
    Ok(match r {
        Some(r) => sum(&r, "mine")? * 10 >= sum(&r, "every")?,
        None => false,
    })
}

/// The postings with at least `min` applications, biggest first, at most `limit`.
pub async fn big_postings<C: ConnectionTrait>(c: &C, min: i64, limit: u64) -> Result<Vec<i64>> {
    let b = c.get_database_backend();
    // from the kept counts (a full pass over applications before)
    let q = format!(
        "SELECT posting_id, SUM(n) AS n FROM stage_totals GROUP BY posting_id \
         HAVING SUM(n) >= ? ORDER BY n DESC, posting_id LIMIT {limit}"
    );
    let rows = c.query_all_raw(sql(b, &q, vec![min.into()])).await?;
    rows.iter()
        .map(|r| r.try_get("", "posting_id").map_err(Into::into))
        .collect()
}

/// The chart figures kept for `posting`: (the newest transition id they
/// saw, when they were counted, the figures as JSON).
pub async fn kept_figures<C: ConnectionTrait>(
    c: &C,
    posting: i64,
) -> Result<Option<(i64, DateTime<Utc>, String)>> {
    let b = c.get_database_backend();
    let r = c
        .query_one_raw(sql(
            b,
            "SELECT last_transition, counted_at, figures FROM chart_figures WHERE posting_id = ?",
            vec![posting.into()],
        ))
        .await?;
    r.map(|r| {
        Ok((
            r.try_get("", "last_transition")?,
            r.try_get("", "counted_at")?,
            r.try_get("", "figures")?,
        ))
    })
    .transpose()
}

/// Keeps the chart figures of `posting` (see [`kept_figures`]), unless
/// newer ones are kept already (another daemon's).
pub async fn keep_figures<C: ConnectionTrait>(
    c: &C,
    posting: i64,
    last: i64,
    counted_at: DateTime<Utc>,
    figures: &str,
) -> Result<()> {
    let b = c.get_database_backend();
    c.execute_raw(sql(
        b,
        "INSERT INTO chart_figures (posting_id, last_transition, counted_at, figures) \
         VALUES (?, ?, ?, ?) ON CONFLICT (posting_id) DO UPDATE SET \
         last_transition = excluded.last_transition, counted_at = excluded.counted_at, \
         figures = excluded.figures WHERE chart_figures.counted_at < excluded.counted_at",
        vec![
            posting.into(),
            last.into(),
            counted_at.into(),
            figures.to_string().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The newest transition id: the board's charts are computed again only
/// when it changes.
pub async fn last_transition<C: ConnectionTrait>(c: &C) -> Result<i64> {
    let b = c.get_database_backend();
    let r = c
        .query_one_raw(sql(
            b,
            "SELECT COALESCE(MAX(id), 0) AS n FROM transitions",
            vec![],
        ))
        .await?;
    Ok(match r {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    })
}

/// The postings the overview shows, by id: all, those of one status, or
/// (`board_missing`) those whose job board is gone.
pub async fn postings<C: ConnectionTrait>(
    c: &C,
    status: Option<&str>,
) -> Result<Vec<posting::Model>> {
    let mut q = posting::Entity::find().order_by_asc(posting::Column::Id);
    match status {
        Some("board_missing") => q = q.filter(posting::Column::BoardMissing.eq(true)),
        Some(s) => q = q.filter(posting::Column::Status.eq(s)),
        None => {}
    }
    Ok(q.all(c).await?)
}

/// One posting.
pub async fn posting<C: ConnectionTrait>(c: &C, id: i64) -> Result<posting::Model> {
    posting::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no posting {id}")))
}

/// An application as its page shows it: the row, its candidate, its
/// transitions and its emails, oldest first.
pub struct ApplicationHistory {
    pub application: application::Model,
    pub candidate: Option<candidate::Model>,
    pub transitions: Vec<transition::Model>,
    pub emails: Vec<outbox::Model>,
}

pub async fn application_history<C: ConnectionTrait>(c: &C, id: i64) -> Result<ApplicationHistory> {
    let application = application::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application {id}")))?;
    let candidate = candidate::Entity::find_by_id(application.candidate_id)
        .one(c)
        .await?;
    let transitions = transition::Entity::find()
        .filter(transition::Column::ApplicationId.eq(id))
        .order_by_asc(transition::Column::At)
        .order_by_asc(transition::Column::Id)
        .all(c)
        .await?;
    let emails = outbox::Entity::find()
        .filter(outbox::Column::ApplicationId.eq(id))
        .order_by_asc(outbox::Column::Id)
        .all(c)
        .await?;
    Ok(ApplicationHistory {
        application,
        candidate,
        transitions,
        emails,
    })
}

/// Up to `limit` emails, newest first: of one status, of one posting's
/// applications, below an id (keyset), as asked.
pub async fn emails<C: ConnectionTrait>(
    c: &C,
    status: Option<outbox::Status>,
    posting: Option<i64>,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<outbox::Model>> {
    let mut q = outbox::Entity::find().order_by_desc(outbox::Column::Id);
    if let Some(s) = status {
        q = q.filter(outbox::Column::Status.eq(s));
    }
    if let Some(p) = posting {
        q = q
            .inner_join(application::Entity)
            .filter(application::Column::PostingId.eq(p));
    }
    if let Some(b) = before {
        q = q.filter(outbox::Column::Id.lt(b));
    }
    Ok(q.limit(limit).all(c).await?)
}

/// The last `limit` job runs that failed or were interrupted, newest first.
pub async fn job_failures<C: ConnectionTrait>(c: &C, limit: u64) -> Result<Vec<job_run::Model>> {
    Ok(job_run::Entity::find()
        .filter(job_run::Column::Outcome.is_in(["failed", "interrupted"]))
        .order_by_desc(job_run::Column::StartedAt)
        .limit(limit)
        .all(c)
        .await?)
}
