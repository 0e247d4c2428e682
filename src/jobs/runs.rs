//! Job runs, exactly once. Each scheduled occurrence of a job is claimed by
//! inserting its `job_runs` row — `(job, scheduled_for)` is unique, so any
//! number of `atsd run` and `atsd tick` processes on one database run each
//! occurrence once. A job never overlaps itself: whoever runs a job holds
//! that job's lock for as long as it runs — a PostgreSQL session advisory
//! lock, or an OS file lock beside the SQLite file. A crashed process holds
//! nothing, so a run left unfinished is told from a live one at once, with no
//! timer (which `--now` would freeze): whoever next takes the job's lock
//! marks every unfinished run of that job `interrupted`, and a run of the
//! same occurrence takes the interrupted row over and does its work again
//! (every job is idempotent).

use super::Job;
use crate::error::{Error, Result};
use crate::store::{Store, events, sql};
use chrono::{DateTime, Utc};
use entity::job_run;
use sea_orm::sqlx::{self, Postgres, pool::PoolConnection};
use sea_orm::{DbBackend, EntityTrait};
use std::path::PathBuf;

/// The first key of atsd's PostgreSQL advisory locks for jobs ("atsj").
const PG_LOCK_CLASS: i32 = 0x6174_736a;

/// This process, as written in `job_runs.instance`: `host:pid`.
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Held while a job runs; dropping it releases the lock (and a crash does too).
pub struct JobLock {
    inner: LockInner,
}

enum LockInner {
    Pg(Option<PoolConnection<Postgres>>, i32),
    File(#[allow(dead_code)] std::fs::File),
    /// A SQLite database without a folder (in memory): nothing to share with.
    Nothing,
}

impl Drop for JobLock {
    fn drop(&mut self) {
        // a PostgreSQL connection still holding the lock is closed, not
        // pooled, so the lock cannot outlive this holder
        if let LockInner::Pg(conn, _) = &mut self.inner
            && let Some(c) = conn.take()
        {
            drop(c.detach());
        }
    }
}

impl JobLock {
    /// The lock of `job` if nobody holds it, else `None`.
    pub async fn try_acquire(store: &Store, job: Job) -> Result<Option<JobLock>> {
        match store.backend() {
            DbBackend::Postgres => {
                let pool = store.conn().get_postgres_connection_pool();
                let mut conn = pool
                    .acquire()
                    .await
                    .map_err(|e| Error::Other(format!("cannot lock job {}: {e}", job.name())))?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(PG_LOCK_CLASS)
                    .bind(job.lock_key())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| Error::Other(format!("cannot lock job {}: {e}", job.name())))?;
                Ok(got.then(|| JobLock {
                    inner: LockInner::Pg(Some(conn), job.lock_key()),
                }))
            }
            _ => match lock_path(store, job) {
                None => Ok(Some(JobLock {
                    inner: LockInner::Nothing,
                })),
                Some(path) => {
                    let f = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&path)
                        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
                    match f.try_lock() {
                        Ok(()) => Ok(Some(JobLock {
                            inner: LockInner::File(f),
                        })),
                        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                        Err(std::fs::TryLockError::Error(e)) => {
                            Err(Error::io(format!("cannot lock {}", path.display()), e))
                        }
                    }
                }
            },
        }
    }

    /// Releases the lock (dropping does too; this returns a PostgreSQL
    /// connection to the pool instead of closing it).
    pub async fn release(mut self) {
        if let LockInner::Pg(conn, key) = &mut self.inner
            && let Some(mut c) = conn.take()
        {
            let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1, $2)")
                .bind(PG_LOCK_CLASS)
                .bind(*key)
                .fetch_one(&mut *c)
                .await;
            if !matches!(unlocked, Ok(true)) {
                // not sure it is free: close the session, which frees it
                drop(c.detach());
            }
        }
    }
}

/// `atsd.db-job-advance.lock` beside the SQLite file.
fn lock_path(store: &Store, job: Job) -> Option<PathBuf> {
    let file = crate::store::sqlite_file(store.url())?;
    Some(PathBuf::from(format!(
        "{}-job-{}.lock",
        file.display(),
        job.name()
    )))
}

/// A claimed occurrence: run its work, then [`finish`] it.
pub struct Claimed {
    pub run: job_run::Model,
    /// An earlier attempt at this occurrence was interrupted; this one redoes it.
    pub resumed: bool,
    lock: JobLock,
}

pub enum Claim {
    /// Ours to run.
    Run(Claimed),
    /// This occurrence already ran (or failed): nothing to do.
    AlreadyRan(job_run::Model),
    /// The job is running elsewhere right now (another process holds its lock).
    Busy,
}

/// Runs of `job` that a dead process left unfinished, marked `interrupted`.
/// Call with the job's lock held: then nobody is running the job.
async fn mark_interrupted(
    store: &Store,
    job: Job,
    now: DateTime<Utc>,
    me: &str,
) -> Result<Vec<job_run::Model>> {
    let b = store.backend();
    let txn = store.begin_write().await?;
    let rows = job_run::Entity::find()
        .from_raw_sql(sql(
            b,
            "UPDATE job_runs SET outcome = 'interrupted', finished_at = ?, \
             error = 'instance ' || instance || ' stopped before finishing (found by ' || ? || ')' \
             WHERE job = ? AND finished_at IS NULL RETURNING *",
            vec![now.into(), me.into(), job.name().into()],
        ))
        .all(&txn)
        .await?;
    events::record(&txn, rows.iter().map(failed_event).collect()).await?;
    txn.commit().await?;
    for r in &rows {
        tracing::warn!(job = job.name(), run = r.id, occurrence = %r.scheduled_for, instance = %r.instance,
            "a run of this job was interrupted (its process is gone); the work it left is done again");
    }
    Ok(rows)
}

/// Claims the occurrence `scheduled_for` of `job` for this process.
pub async fn claim(
    store: &Store,
    job: Job,
    scheduled_for: DateTime<Utc>,
    now: DateTime<Utc>,
    me: &str,
) -> Result<(Claim, Vec<job_run::Model>)> {
    let Some(lock) = JobLock::try_acquire(store, job).await? else {
        return Ok((Claim::Busy, Vec::new()));
    };
    let interrupted = mark_interrupted(store, job, now, me).await?;
    let b = store.backend();
    let inserted = job_run::Entity::find()
        .from_raw_sql(sql(
            b,
            "INSERT INTO job_runs (job, scheduled_for, started_at, instance, attempts) \
             VALUES (?, ?, ?, ?, 1) ON CONFLICT (job, scheduled_for) DO NOTHING RETURNING *",
            vec![
                job.name().into(),
                scheduled_for.into(),
                now.into(),
                me.into(),
            ],
        ))
        .one(store.conn())
        .await?;
    if let Some(run) = inserted {
        return Ok((
            Claim::Run(Claimed {
                run,
                resumed: false,
                lock,
            }),
            interrupted,
        ));
    }
    // the occurrence has a row: interrupted (take it over) or done
    let taken = job_run::Entity::find()
        .from_raw_sql(sql(
            b,
            "UPDATE job_runs SET started_at = ?, finished_at = NULL, outcome = NULL, instance = ?, \
             attempts = attempts + 1, error = 'attempt ' || attempts || ' was interrupted' \
             WHERE job = ? AND scheduled_for = ? AND outcome = 'interrupted' RETURNING *",
            vec![
                now.into(),
                me.into(),
                job.name().into(),
                scheduled_for.into(),
            ],
        ))
        .one(store.conn())
        .await?;
    if let Some(run) = taken {
        return Ok((
            Claim::Run(Claimed {
                run,
                resumed: true,
                lock,
            }),
            interrupted,
        ));
    }
    lock.release().await;
    let existing = job_run::Entity::find()
        .from_raw_sql(sql(
            b,
            "SELECT * FROM job_runs WHERE job = ? AND scheduled_for = ?",
            vec![job.name().into(), scheduled_for.into()],
        ))
        .one(store.conn())
        .await?
        .ok_or_else(|| {
            Error::Other(format!(
                "job run {} at {scheduled_for} vanished while being claimed",
                job.name()
            ))
        })?;
    Ok((Claim::AlreadyRan(existing), interrupted))
}

/// Records how a claimed run ended and releases the job.
pub async fn finish(
    store: &Store,
    claimed: Claimed,
    outcome: std::result::Result<&serde_json::Value, &str>,
    now: DateTime<Utc>,
) -> Result<job_run::Model> {
    let (name, counts, error) = match outcome {
        Ok(c) => ("ok", Some(c.clone()), claimed.run.error.clone()),
        Err(e) => ("failed", None, Some(e.to_string())),
    };
    let b = store.backend();
    let row = async {
        let txn = store.begin_write().await?;
        let row = job_run::Entity::find()
            .from_raw_sql(sql(
                b,
                "UPDATE job_runs SET finished_at = ?, outcome = ?, counts = ?, error = ? WHERE id = ? RETURNING *",
                vec![
                    now.into(),
                    name.into(),
                    counts.into(),
                    error.into(),
                    claimed.run.id.into(),
                ],
            ))
            .one(&txn)
            .await?
            .ok_or_else(|| Error::Integrity(format!("job run {} vanished", claimed.run.id)))?;
        if row.outcome.as_deref() == Some("failed") {
            events::record(&txn, vec![failed_event(&row)]).await?;
        }
        txn.commit().await?;
        Ok::<_, Error>(row)
    }
    .await;
    claimed.lock.release().await;
    row
}

/// `job.failed`: a run that failed, or that was interrupted by its
/// process's end.
fn failed_event(r: &job_run::Model) -> events::NewEvent {
    events::NewEvent::new(
        "job.failed",
        r.finished_at.unwrap_or(r.started_at),
        serde_json::json!({
            "run_id": r.id,
            "job": r.job,
            "scheduled_for": r.scheduled_for,
            "outcome": r.outcome,
            "error": r.error,
            "instance": r.instance,
        }),
    )
}
