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
use crate::store::runs::{self as rows, JobLock};
use crate::store::{Store, events};
use chrono::{DateTime, Utc};
use entity::job_run;

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
    let txn = store.begin_write().await?;
    let rows = rows::mark_interrupted(&txn, job.name(), now, me).await?;
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
    let Some(lock) = JobLock::try_acquire(store, job.name(), job.lock_key()).await? else {
        return Ok((Claim::Busy, Vec::new()));
    };
    let interrupted = mark_interrupted(store, job, now, me).await?;
    let inserted = rows::insert(store, job.name(), scheduled_for, now, me).await?;
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
    let taken = rows::take_over_interrupted(store, job.name(), scheduled_for, now, me).await?;
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
    let existing = rows::find(store, job.name(), scheduled_for)
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
    let row = async {
        let txn = store.begin_write().await?;
        let row = rows::finish(&txn, claimed.run.id, name, counts, error, now).await?;
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
