//! `atsd run`: the daemon. Every job runs on its schedule, each occurrence
//! claimed as a job run ([`crate::jobs::runs`]) so that any number of daemons
//! and `atsd tick` invocations share one database. A job never overlaps
//! itself: one task per job at a time here, the job's lock across processes.
//! After downtime the latest missed occurrence runs once. Email is sent
//! promptly: a move made by the rules wakes dispatch at once; on PostgreSQL
//! every transaction that queues email (in any process: another daemon, a
//! recruiter's CLI) sends a `NOTIFY` that wakes every daemon; and the outbox
//! is looked at every [`OUTBOX_POLL`] for email that fell due (a delayed
//! email, a retry, and on SQLite everything), between dispatch occurrences.
//!
//! SIGTERM or SIGINT: stop claiming, let the running jobs finish their
//! current batch (dispatch hands back what it has not sent; advance stops
//! between transactions), and return. Service-manager integration (systemd
//! notify, watchdog, reload) plugs in through [`Lifecycle`].

use crate::error::Result;
use crate::jobs::{Job, Ran, Runner};
use crate::store::sql;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// How long shutdown waits for running jobs (the service manager allows 10 s).
pub const DRAIN: Duration = Duration::from_secs(8);

/// How often the outbox is checked for email that fell due.
pub const OUTBOX_POLL: Duration = Duration::from_secs(2);

/// What the daemon tells whoever supervises it. Every method has a default
/// that does nothing; systemd's notify protocol, a watchdog or health
/// endpoints implement the ones they need.
pub trait Lifecycle: Send + Sync {
    /// Migrated, configured, about to schedule.
    fn ready(&self) {}
    /// Once per turn of the scheduler loop (a watchdog ping belongs here:
    /// a wedged loop stops calling it).
    fn tick(&self, _now: DateTime<Utc>) {}
    /// A job run (or an extra dispatch pass) ended.
    fn job_done(&self, _job: Job, _outcome: &str) {}
    /// Shutdown began.
    fn stopping(&self) {}
}

/// A [`Lifecycle`] that does nothing.
pub struct Quiet;
impl Lifecycle for Quiet {}

/// The daemon's clock: the start time (the real time, or `--now`) plus the
/// real time elapsed, so tests can run it in a simulated present.
#[derive(Clone, Copy)]
pub struct Clock {
    start: DateTime<Utc>,
    at: tokio::time::Instant,
}

impl Clock {
    pub fn starting_at(start: DateTime<Utc>) -> Clock {
        Clock {
            start,
            at: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.at.elapsed()).unwrap_or_default()
    }
}

/// Listens on PostgreSQL for queued email (`NOTIFY atsd_outbox`, sent by
/// every transaction that queues some, in any process) and wakes the loop.
async fn listen_for_email(
    pool: sea_orm::sqlx::PgPool,
    wake: Arc<tokio::sync::Notify>,
    cancel: tokio_util::sync::CancellationToken,
) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(crate::store::OUTBOX_CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(l)
        };
        let mut l = tokio::select! {
            _ = cancel.cancelled() => return,
            l = listener => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for queued email (the outbox is still looked at every few seconds); trying again in 5 s");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                    }
                }
            },
        };
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                n = l.recv() => match n {
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the queued-email notifications; listening again");
                        break;
                    }
                },
            }
        }
    }
}

enum Done {
    Scheduled(Job, DateTime<Utc>, Result<Ran>),
    ExtraDispatch(Result<serde_json::Value>),
}

async fn outbox_due(runner: &Runner, now: DateTime<Utc>) -> bool {
    let st = sql(
        runner.store.backend(),
        "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
        vec![now.into()],
    );
    matches!(runner.store.conn().query_one_raw(st).await, Ok(Some(_)))
}

/// Runs every job on its schedule until `runner.cancel` is cancelled.
pub async fn run(runner: Arc<Runner>, clock: Clock, life: Arc<dyn Lifecycle>) -> Result<()> {
    let jobs = Job::ALL;
    // the last occurrence of each job seen through (run here, or already run)
    let mut done: HashMap<Job, DateTime<Utc>> = HashMap::new();
    let mut running: HashSet<Job> = HashSet::new();
    // a job running elsewhere, or failing to start, is looked at again after a pause
    let mut not_before: HashMap<Job, tokio::time::Instant> = HashMap::new();
    let mut extra_dispatch = false;
    let mut set: JoinSet<Done> = JoinSet::new();
    let mut wake_dispatch = false;
    let mut last_outbox_check = tokio::time::Instant::now() - OUTBOX_POLL;
    let email_queued = Arc::new(tokio::sync::Notify::new());
    if runner.store.backend() == sea_orm::DbBackend::Postgres {
        tokio::spawn(listen_for_email(
            runner.store.conn().get_postgres_connection_pool().clone(),
            email_queued.clone(),
            runner.cancel.clone(),
        ));
    }
    life.ready();
    tracing::info!(instance = %runner.instance, jobs = ?jobs.iter().map(|j| j.name()).collect::<Vec<_>>(), "scheduler started");
    loop {
        let now = clock.now();
        life.tick(now);
        if runner.cancel.is_cancelled() {
            break;
        }
        let mut next_wake = now + chrono::Duration::from_std(OUTBOX_POLL).unwrap_or_default();
        for &job in &jobs {
            if let Some(o) = runner.due_occurrence(job, now)
                && done.get(&job) != Some(&o)
                && !running.contains(&job)
                && not_before
                    .get(&job)
                    .is_none_or(|t| *t <= tokio::time::Instant::now())
                && !(job == Job::Dispatch && extra_dispatch)
            {
                running.insert(job);
                let r = runner.clone();
                set.spawn(async move {
                    let res = r.run_occurrence(job, o, clock.now()).await;
                    Done::Scheduled(job, o, res)
                });
            }
            if let Some(n) = runner.next_occurrence(job, now) {
                next_wake = next_wake.min(n);
            }
        }
        // email that fell due between dispatch occurrences
        if !running.contains(&Job::Dispatch) && !extra_dispatch {
            let look = wake_dispatch || last_outbox_check.elapsed() >= OUTBOX_POLL;
            if look {
                last_outbox_check = tokio::time::Instant::now();
                if wake_dispatch || outbox_due(&runner, now).await {
                    wake_dispatch = false;
                    extra_dispatch = true;
                    let r = runner.clone();
                    set.spawn(async move {
                        let now = clock.now();
                        Done::ExtraDispatch(r.work(Job::Dispatch, now, now).await)
                    });
                }
            }
        }
        let wait = (next_wake - clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(OUTBOX_POLL);
        tokio::select! {
            _ = runner.cancel.cancelled() => break,
            Some(joined) = set.join_next(), if !set.is_empty() => {
                match joined {
                    Ok(Done::Scheduled(job, o, res)) => {
                        running.remove(&job);
                        match res {
                            Ok(Ran::Ran { error, counts, .. }) => {
                                done.insert(job, o);
                                life.job_done(job, if error.is_some() { "failed" } else { "ok" });
                                if job == Job::Advance && counts.get("emails").and_then(|v| v.as_u64()).unwrap_or(0) > 0 {
                                    wake_dispatch = true;
                                }
                                if let Some(e) = error {
                                    tracing::error!(job = job.name(), occurrence = %o, error = %e, "job run failed");
                                }
                            }
                            Ok(Ran::AlreadyRan { .. }) => {
                                done.insert(job, o);
                            }
                            // another process runs it; look again shortly
                            Ok(Ran::Busy) => {
                                not_before.insert(job, tokio::time::Instant::now() + Duration::from_secs(1));
                            }
                            Err(e) => {
                                tracing::error!(job = job.name(), occurrence = %o, error = %e, "cannot run the job (tried again shortly)");
                                not_before.insert(job, tokio::time::Instant::now() + Duration::from_secs(5));
                            }
                        }
                    }
                    Ok(Done::ExtraDispatch(res)) => {
                        extra_dispatch = false;
                        match res {
                            Ok(c) => {
                                life.job_done(Job::Dispatch, "ok");
                                if c.get("sent").and_then(|v| v.as_u64()).unwrap_or(0) > 0 {
                                    tracing::info!(counts = %c, "dispatch pass");
                                }
                            }
                            Err(e) => tracing::error!(error = %e, "dispatch pass failed"),
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "a job task failed"),
                }
            }
            _ = email_queued.notified() => {
                tracing::debug!("woken by a queued-email notification");
                wake_dispatch = true;
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    life.stopping();
    tracing::info!(
        running = set.len(),
        "stopping: no new work is claimed; waiting for the running jobs to hand back or finish"
    );
    runner.cancel.cancel();
    let drained = tokio::time::timeout(DRAIN, async {
        while let Some(joined) = set.join_next().await {
            if let Ok(Done::Scheduled(job, o, Err(e))) = joined {
                tracing::error!(job = job.name(), occurrence = %o, error = %e, "job ended with an error during shutdown");
            }
        }
    })
    .await;
    if drained.is_err() {
        // what is left is abandoned: its job runs read as interrupted and its
        // leased emails are taken over after their lease, as after a crash
        tracing::warn!(
            running = set.len(),
            "jobs did not finish within {DRAIN:?}; leaving them to be taken over"
        );
        set.abort_all();
    }
    tracing::info!("stopped");
    Ok(())
}
