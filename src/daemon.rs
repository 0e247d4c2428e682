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
//! With outgoing webhooks, a new event wakes a dispatch pass (which delivers
//! them) as promptly: on PostgreSQL by `NOTIFY atsd_events`, and on either
//! engine by looking at the event log every [`EVENTS_POLL`].
//!
//! SIGTERM or SIGINT: stop claiming, let the running jobs finish their
//! current batch (dispatch hands back what it has not sent; advance stops
//! between transactions), and return. Service-manager integration (systemd
//! notify, watchdog, reload) plugs in through [`Lifecycle`].

use crate::error::Result;
use crate::jobs::{Job, JobReport, Ran, Runner};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// How long shutdown waits for running jobs (the service manager allows 10 s).
pub const DRAIN: Duration = Duration::from_secs(8);

/// How often the outbox is checked for email that fell due.
pub const OUTBOX_POLL: Duration = Duration::from_secs(2);
/// With outgoing webhooks, how often the loop looks for new events (any
/// process may write them; on PostgreSQL a notification comes sooner).
pub const EVENTS_POLL: Duration = Duration::from_secs(1);

/// How often the loop reads the people's time zones again (the digest runs
/// at its hour in each).
const ZONES_POLL: Duration = Duration::from_secs(30);

/// What the daemon tells whoever supervises it: systemd's notify protocol,
/// the watchdog, health and metrics ([`crate::service`]) implement it. Every
/// method has a default that does nothing.
pub trait Lifecycle: Send + Sync {
    /// Migrated, configured (and any listener bound): about to schedule.
    /// Called again after each reload, whether it was taken or refused.
    fn ready(&self) {}
    /// Once per turn of the scheduler loop, from the loop itself (a watchdog
    /// ping belongs here: a wedged loop stops calling it).
    fn tick(&self, _now: DateTime<Utc>) {}
    /// The longest the loop may go between two [`Lifecycle::tick`]s.
    fn tick_every(&self) -> Option<Duration> {
        None
    }
    /// The configuration in force: at start, and after each reload taken.
    fn configured(&self, _runner: &Arc<Runner>) {}
    /// A job run (or an extra dispatch pass) ended.
    fn job_done(&self, _end: &JobEnd<'_>) {}
    /// One line on what the daemon is doing, for `systemctl status`.
    fn status(&self, _line: &str) {}
    /// A reload began (SIGHUP).
    fn reloading(&self) {}
    /// Shutdown began.
    fn stopping(&self) {}
}

/// How a job run or dispatch pass ended, for [`Lifecycle::job_done`].
pub struct JobEnd<'a> {
    pub job: Job,
    /// `ok` or `failed`.
    pub outcome: &'a str,
    /// What the run did (as in `atsd tick --json`); None when it failed.
    pub counts: Option<&'a JobReport>,
    pub elapsed: Duration,
    /// Whether this was a scheduled occurrence (else an extra dispatch pass).
    pub scheduled: bool,
}

/// How the daemon reloads its configuration: each message on `requests`
/// (SIGHUP) re-reads it with `load`, validated as `check-config` does.
pub struct Reloads {
    pub requests: tokio::sync::mpsc::Receiver<()>,
    pub load: Box<dyn Fn() -> Result<crate::config::Config> + Send + Sync>,
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
/// every transaction that queues some, in any process) and for new events
/// (`NOTIFY atsd_events`, for the outgoing webhooks), and wakes the loop.
async fn listen_for_email(
    pool: sea_orm::sqlx::PgPool,
    wake: Arc<tokio::sync::Notify>,
    events: Arc<tokio::sync::Notify>,
    cancel: tokio_util::sync::CancellationToken,
    listening: tokio::sync::oneshot::Sender<()>,
) {
    use sea_orm::sqlx::postgres::PgListener;
    let mut listening = Some(listening);
    loop {
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen_all([crate::store::OUTBOX_CHANNEL, crate::store::EVENTS_CHANNEL])
                .await?;
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
        if let Some(tx) = listening.take() {
            let _ = tx.send(());
        }
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                n = l.recv() => match n {
                    Ok(n) if n.channel() == crate::store::EVENTS_CHANNEL => events.notify_one(),
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
    Scheduled(Job, DateTime<Utc>, Box<Result<Ran>>, Duration),
    ExtraDispatch(Result<JobReport>, Duration),
}

/// Bounds the loop's own database reads, so that a database that stops
/// answering leaves the loop turning (and `/healthz` saying why).
const LOOP_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

async fn outbox_due(runner: &Runner, now: DateTime<Utc>) -> bool {
    let due = crate::store::outbox::any_due(runner.store.conn(), now);
    matches!(
        tokio::time::timeout(LOOP_QUERY_TIMEOUT, due).await,
        Ok(Ok(true))
    )
}

/// The newest event's id, if newer than `seen`.
async fn new_events(runner: &Runner, seen: i64) -> Option<i64> {
    let last = crate::store::events::last_id(runner.store.conn());
    match tokio::time::timeout(LOOP_QUERY_TIMEOUT, last).await {
        Ok(Ok(n)) if n > seen => Some(n),
        _ => None,
    }
}

async fn pending_emails(runner: &Runner) -> Option<i64> {
    let n = crate::store::outbox::pending(runner.store.conn());
    let n = tokio::time::timeout(LOOP_QUERY_TIMEOUT, n)
        .await
        .ok()?
        .ok()?;
    i64::try_from(n).ok()
}

/// The `STATUS=` line: the next job to run, the pending emails, the last run.
fn status_line(
    runner: &Runner,
    now: DateTime<Utc>,
    pending: Option<i64>,
    last_runs: &HashMap<Job, (&'static str, DateTime<Utc>)>,
) -> String {
    // a failed job is what an operator needs to see; else the latest run
    let last = last_runs
        .iter()
        .filter(|(_, (o, _))| *o != "ok")
        .max_by_key(|(_, (_, t))| *t)
        .or_else(|| last_runs.iter().max_by_key(|(_, (_, t))| *t));
    let tz = runner.tz();
    let hm = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
    let mut parts = Vec::new();
    if let Some((job, at)) = Job::ALL
        .iter()
        .filter_map(|&j| runner.next_occurrence(j, now).map(|t| (j, t)))
        .min_by_key(|(_, t)| *t)
    {
        parts.push(format!("next {} {}", job.name(), hm(at)));
    }
    if let Some(n) = pending {
        parts.push(format!(
            "{n} email{} pending",
            if n == 1 { "" } else { "s" }
        ));
    }
    if let Some((job, (outcome, at))) = last {
        parts.push(format!("last {} {outcome} {}", job.name(), hm(*at)));
    }
    parts.join(" · ")
}

/// A test-only hook: while the file named by `ATSD_TEST_WEDGE_FILE` exists
/// the loop hangs, as a loop wedged by a bug would (the watchdog tests use it).
async fn wedge_if_asked() {
    if let Some(p) = std::env::var_os("ATSD_TEST_WEDGE_FILE")
        && std::path::Path::new(&p).exists()
    {
        tracing::warn!("ATSD_TEST_WEDGE_FILE exists: the scheduler loop hangs (a test hook)");
        std::future::pending::<()>().await;
    }
}

/// Runs every job on its schedule until `runner.cancel` is cancelled,
/// reloading the configuration on each request of `reloads`.
// Stays whole: the scheduler loop: one select! over signals, timers, reloads and job runs, whose arms share the loop's state.
pub async fn run(
    runner: Arc<Runner>,
    clock: Clock,
    life: Arc<dyn Lifecycle>,
    mut reloads: Option<Reloads>,
) -> Result<()> {
    let mut runner = runner;
    let cancel = runner.cancel.clone();
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
    let mut last_runs: HashMap<Job, (&'static str, DateTime<Utc>)> = HashMap::new();
    let mut status_due = true;
    let mut last_zones_check = tokio::time::Instant::now() - ZONES_POLL;
    let email_queued = Arc::new(tokio::sync::Notify::new());
    let events_written = Arc::new(tokio::sync::Notify::new());
    // the newest event the outgoing webhooks were woken for
    let mut last_event = 0i64;
    let mut last_events_check = tokio::time::Instant::now() - EVENTS_POLL;
    let mut wake_webhooks = false;
    if runner.store.backend() == sea_orm::DbBackend::Postgres {
        let (listening, listened) = tokio::sync::oneshot::channel();
        tokio::spawn(listen_for_email(
            runner.store.conn().get_postgres_connection_pool().clone(),
            email_queued.clone(),
            events_written.clone(),
            cancel.clone(),
            listening,
        ));
        // ready once queued email wakes the loop (a queue the listener
        // missed is still found by looking at the outbox every few seconds)
        if tokio::time::timeout(LOOP_QUERY_TIMEOUT, listened)
            .await
            .is_err()
        {
            tracing::warn!(
                "not yet listening for queued email; the outbox is looked at every few seconds"
            );
        }
    }
    life.configured(&runner);
    life.ready();
    tracing::info!(instance = %runner.instance, jobs = ?jobs.iter().map(|j| j.name()).collect::<Vec<_>>(), "scheduler started");
    loop {
        wedge_if_asked().await;
        let now = clock.now();
        life.tick(now);
        if cancel.is_cancelled() {
            break;
        }
        if status_due {
            status_due = false;
            let pending = pending_emails(&runner).await;
            life.status(&status_line(&runner, now, pending, &last_runs));
        }
        if last_zones_check.elapsed() >= ZONES_POLL {
            last_zones_check = tokio::time::Instant::now();
            if let Err(e) = runner.refresh_zones().await {
                tracing::warn!(error = %e, "cannot read the people's time zones; the digest keeps the ones it had");
            }
        }
        let mut next_wake = now + chrono::Duration::from_std(OUTBOX_POLL).unwrap_or_default();
        for &job in &jobs {
            if let Some(o) = runner.due_occurrence(job, now)
                && done.get(&job).is_none_or(|d| *d < o)
                && !running.contains(&job)
                && not_before
                    .get(&job)
                    .is_none_or(|t| *t <= tokio::time::Instant::now())
                && !(job == Job::Dispatch && extra_dispatch)
            {
                running.insert(job);
                let r = runner.clone();
                // the digest's earlier occurrences in other time zones that
                // this loop has not seen through (after downtime) run first
                let seen = done.get(&job).copied();
                let earlier: Vec<DateTime<Utc>> = runner
                    .due_occurrences(job, now)
                    .into_iter()
                    .filter(|e| *e < o && seen.is_none_or(|d| d < *e))
                    .collect();
                set.spawn(async move {
                    let started = tokio::time::Instant::now();
                    for e in earlier {
                        if let Err(err) = r.run_occurrence(job, e, clock.now()).await {
                            tracing::error!(job = job.name(), occurrence = %e, error = %err, "job run failed");
                        }
                    }
                    let res = r.run_occurrence(job, o, clock.now()).await;
                    Done::Scheduled(job, o, Box::new(res), started.elapsed())
                });
            }
            if let Some(n) = runner.next_occurrence(job, now) {
                next_wake = next_wake.min(n);
            }
        }
        // email that fell due between dispatch occurrences
        let webhooks = runner.config.webhooks.iter().any(|w| !w.out.is_empty());
        if !running.contains(&Job::Dispatch) && !extra_dispatch {
            // new events for the outgoing webhooks: told (PostgreSQL), or
            // seen by looking every EVENTS_POLL (any engine, any writer)
            if webhooks && (wake_webhooks || last_events_check.elapsed() >= EVENTS_POLL) {
                last_events_check = tokio::time::Instant::now();
                wake_webhooks = false;
                if let Some(newest) = new_events(&runner, last_event).await {
                    last_event = newest;
                    wake_dispatch = true;
                }
            }
            let look = wake_dispatch || last_outbox_check.elapsed() >= OUTBOX_POLL;
            if look {
                last_outbox_check = tokio::time::Instant::now();
                if wake_dispatch || outbox_due(&runner, now).await {
                    wake_dispatch = false;
                    extra_dispatch = true;
                    let r = runner.clone();
                    set.spawn(async move {
                        let started = tokio::time::Instant::now();
                        let now = clock.now();
                        Done::ExtraDispatch(
                            r.work(Job::Dispatch, now, now).await,
                            started.elapsed(),
                        )
                    });
                }
            }
        }
        let mut wait = (next_wake - clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(if webhooks { EVENTS_POLL } else { OUTBOX_POLL });
        if let Some(every) = life.tick_every() {
            wait = wait.min(every);
        }
        let reload_requested = async {
            match reloads.as_mut() {
                Some(r) => r.requests.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(()) = reload_requested => {
                life.reloading();
                if let Some(r) = &reloads {
                    match (r.load)().and_then(|c| runner.reconfigured(c)) {
                        Ok(new) => {
                            let new = Arc::new(new);
                            // the new schedule counts from now: what it would
                            // have run before the reload is not caught up on
                            let now = clock.now();
                            for &job in &jobs {
                                if let Some(o) = new.due_occurrence(job, now) {
                                    let d = done.entry(job).or_insert(o);
                                    *d = (*d).max(o);
                                }
                            }
                            runner = new;
                            last_zones_check = tokio::time::Instant::now() - ZONES_POLL;
                            life.configured(&runner);
                            tracing::info!("configuration reloaded: the new schedule, rules and templates apply from the next occurrence");
                        }
                        Err(e) => tracing::error!(error = %e, "reload refused; the running configuration stays"),
                    }
                }
                status_due = true;
                life.ready();
            }
            Some(joined) = set.join_next(), if !set.is_empty() => {
                status_due = true;
                match joined {
                    Ok(Done::Scheduled(job, o, res, elapsed)) => {
                        running.remove(&job);
                        match *res {
                            Ok(Ran::Ran { error, counts, .. }) => {
                                let d = done.entry(job).or_insert(o);
                                *d = (*d).max(o);
                                let outcome = if error.is_some() { "failed" } else { "ok" };
                                life.job_done(&JobEnd { job, outcome, counts: counts.as_ref(), elapsed, scheduled: true });
                                last_runs.insert(job, (outcome, clock.now()));
                                if job == Job::Advance && counts.as_ref().is_some_and(|c| c.emails() > 0) {
                                    wake_dispatch = true;
                                }
                                if let Some(e) = error {
                                    tracing::error!(job = job.name(), occurrence = %o, error = %e, "job run failed");
                                }
                            }
                            Ok(Ran::AlreadyRan { .. }) => {
                                let d = done.entry(job).or_insert(o);
                                *d = (*d).max(o);
                            }
                            // another process runs it; look again shortly
                            Ok(Ran::Busy) => {
                                not_before.insert(job, tokio::time::Instant::now() + Duration::from_secs(1));
                            }
                            Err(e) => {
                                tracing::error!(job = job.name(), occurrence = %o, error = %e, "cannot run the job (tried again shortly)");
                                life.job_done(&JobEnd { job, outcome: "failed", counts: None, elapsed, scheduled: true });
                                last_runs.insert(job, ("failed", clock.now()));
                                not_before.insert(job, tokio::time::Instant::now() + Duration::from_secs(5));
                            }
                        }
                    }
                    Ok(Done::ExtraDispatch(res, elapsed)) => {
                        extra_dispatch = false;
                        match res {
                            Ok(c) => {
                                life.job_done(&JobEnd { job: Job::Dispatch, outcome: "ok", counts: Some(&c), elapsed, scheduled: false });
                                if c.emails() > 0 {
                                    tracing::info!(counts = %c.to_json(), "dispatch pass");
                                }
                            }
                            Err(e) => {
                                life.job_done(&JobEnd { job: Job::Dispatch, outcome: "failed", counts: None, elapsed, scheduled: false });
                                tracing::error!(error = %e, "dispatch pass failed");
                            }
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "a job task failed"),
                }
            }
            _ = email_queued.notified() => {
                tracing::debug!("woken by a queued-email notification");
                wake_dispatch = true;
            }
            _ = events_written.notified() => {
                tracing::debug!("woken by a new-event notification");
                wake_webhooks = true;
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    life.stopping();
    tracing::info!(
        running = set.len(),
        "stopping: no new work is claimed; waiting for the running jobs to hand back or finish"
    );
    cancel.cancel();
    let drained = tokio::time::timeout(DRAIN, async {
        while let Some(joined) = set.join_next().await {
            if let Ok(Done::Scheduled(job, o, res, _)) = joined
                && let Err(e) = *res
            {
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
