//! The `job_runs` table and the jobs' locks: a PostgreSQL session advisory
//! lock per job, or an OS file lock beside the SQLite file. `jobs::runs`
//! decides what a claim means; this module only reads and writes.

use super::{Store, sql};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::job_run;
use sea_orm::sqlx::{self, Postgres, pool::PoolConnection};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait};
use std::path::PathBuf;

/// The first key of atsd's PostgreSQL advisory locks for jobs ("atsj").
const PG_LOCK_CLASS: i32 = 0x6174_736a;

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
    /// The lock of the job `name` (advisory key `key`) if nobody holds it,
    /// else `None`.
    pub async fn try_acquire(store: &Store, name: &str, key: i32) -> Result<Option<JobLock>> {
        match store.backend() {
            DbBackend::Postgres => {
                let pool = store.conn().get_postgres_connection_pool();
                let mut conn = pool
                    .acquire()
                    .await
                    .map_err(|e| Error::Other(format!("cannot lock job {name}: {e}")))?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(PG_LOCK_CLASS)
                    .bind(key)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| Error::Other(format!("cannot lock job {name}: {e}")))?;
                Ok(got.then(|| JobLock {
                    inner: LockInner::Pg(Some(conn), key),
                }))
            }
            _ => match lock_path(store, name) {
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
fn lock_path(store: &Store, name: &str) -> Option<PathBuf> {
    let file = super::sqlite_file(store.url())?;
    Some(PathBuf::from(format!("{}-job-{name}.lock", file.display())))
}

/// Marks every unfinished run of `job` interrupted (found by `me`) and
/// returns those rows.
pub async fn mark_interrupted<C: ConnectionTrait>(
    c: &C,
    job: &str,
    now: DateTime<Utc>,
    me: &str,
) -> Result<Vec<job_run::Model>> {
    Ok(job_run::Entity::find()
        .from_raw_sql(sql(
            c.get_database_backend(),
            "UPDATE job_runs SET outcome = 'interrupted', finished_at = ?, \
             error = 'instance ' || instance || ' stopped before finishing (found by ' || ? || ')' \
             WHERE job = ? AND finished_at IS NULL RETURNING *",
            vec![now.into(), me.into(), job.into()],
        ))
        .all(c)
        .await?)
}

/// Inserts the run of the occurrence `scheduled_for`, or `None` when the
/// occurrence already has one.
pub async fn insert(
    store: &Store,
    job: &str,
    scheduled_for: DateTime<Utc>,
    now: DateTime<Utc>,
    me: &str,
) -> Result<Option<job_run::Model>> {
    one(
        store,
        "INSERT INTO job_runs (job, scheduled_for, started_at, instance, attempts) \
         VALUES (?, ?, ?, ?, 1) ON CONFLICT (job, scheduled_for) DO NOTHING RETURNING *",
        vec![job.into(), scheduled_for.into(), now.into(), me.into()],
    )
    .await
}

/// Takes over the occurrence's run if it was interrupted.
pub async fn take_over_interrupted(
    store: &Store,
    job: &str,
    scheduled_for: DateTime<Utc>,
    now: DateTime<Utc>,
    me: &str,
) -> Result<Option<job_run::Model>> {
    one(
        store,
        "UPDATE job_runs SET started_at = ?, finished_at = NULL, outcome = NULL, instance = ?, \
         attempts = attempts + 1, error = 'attempt ' || attempts || ' was interrupted' \
         WHERE job = ? AND scheduled_for = ? AND outcome = 'interrupted' RETURNING *",
        vec![now.into(), me.into(), job.into(), scheduled_for.into()],
    )
    .await
}

/// The run of an occurrence.
pub async fn find(
    store: &Store,
    job: &str,
    scheduled_for: DateTime<Utc>,
) -> Result<Option<job_run::Model>> {
    one(
        store,
        "SELECT * FROM job_runs WHERE job = ? AND scheduled_for = ?",
        vec![job.into(), scheduled_for.into()],
    )
    .await
}

/// Records how run `id` ended.
pub async fn finish<C: ConnectionTrait>(
    c: &C,
    id: i64,
    outcome: &str,
    counts: Option<serde_json::Value>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<job_run::Model> {
    job_run::Entity::find()
        .from_raw_sql(sql(
            c.get_database_backend(),
            "UPDATE job_runs SET finished_at = ?, outcome = ?, counts = ?, error = ? WHERE id = ? RETURNING *",
            vec![now.into(), outcome.into(), counts.into(), error.into(), id.into()],
        ))
        .one(c)
        .await?
        .ok_or_else(|| Error::Integrity(format!("job run {id} vanished")))
}

/// The one run a statement returns, if any.
async fn one(
    store: &Store,
    text: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Option<job_run::Model>> {
    Ok(job_run::Entity::find()
        .from_raw_sql(sql(store.backend(), text, values))
        .one(store.conn())
        .await?)
}
