//! The dispatcher (`atsd tick dispatch`, and the daemon's dispatch runs):
//! claims due outbox rows with a lease ([`crate::store::lease`]), composes
//! each ([`super::compose`]), sends it through one transport
//! ([`super::transport`]), and records the outcomes in batches. A permanent
//! SMTP error (5xx) makes a row `dead` at once with the server's reply;
//! anything else is retried with exponential backoff and jitter until
//! `max_attempts`. A row left `sending` by a crash is claimed again once its
//! lease expires, with a log line saying a duplicate is possible: the one
//! duplicate window.
//!
//! Three stages overlap: one task claims batches of rows (`feed`),
//! `pool_size` workers compose and send, one SMTP connection each
//! (`spawn_workers`), and one task records the outcomes in batched
//! transactions (`spawn_recorder`), so neither the database nor the SMTP
//! server waits for the other.

use super::compose::compose;
use super::smtp::Failure;
use super::transport::Sender;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::lease::{AfterFailure, Backoff, Queue};
use chrono::{DateTime, Duration, Utc};
use entity::outbox::Status;
use entity::{outbox, outbox_body};
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// How long a claimed row is ours before another dispatcher may take it.
pub const LEASE: Duration = Duration::minutes(5);
/// How many emails one connection may have sent before their outcome is
/// durably recorded. Outcomes are committed in batches (one fsync per email
/// would cap dispatch at a few hundred per second), so a crash can leave up to
/// `pool_size` × this many emails sent but still `sending`: they go out again
/// after their lease, each with a "may get this email twice" warning. This
/// bounds that window.
pub const UNRECORDED_PER_CONNECTION: usize = 128;

/// The email outbox as a leased queue.
const OUTBOX: Queue = Queue { table: "outbox" };

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    /// Emails that may have gone out twice: rows taken over from an expired
    /// lease, and sends retried because no reply came after the whole
    /// message was written (each logged with a warning).
    pub possible_duplicates: usize,
    /// Rows handed back unsent, no attempt counted: their lease was half over
    /// before their turn came, or the transport became unavailable.
    pub released: usize,
    /// Why sending stopped early: the SMTP server could not be reached,
    /// greeted or logged into (or the outbox folder could not be written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// Stopped early because the daemon is shutting down.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
}

/// The dispatcher's clock: the time the run was asked to start at (the real
/// time, or `--now`) plus the real time elapsed since. Leases, send times and
/// retry times follow it, so a long run never writes a lease that is already
/// over for the other dispatchers.
#[derive(Clone, Copy)]
struct Clock {
    start: DateTime<Utc>,
    at: tokio::time::Instant,
}

impl Clock {
    fn new(start: DateTime<Utc>) -> Clock {
        Clock {
            start,
            at: tokio::time::Instant::now(),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.start + Duration::from_std(self.at.elapsed()).unwrap_or(Duration::zero())
    }
}

/// What became of one claimed row.
enum Outcome {
    Sent,
    /// Failed; tried again at this time, with this error.
    Retry(String, DateTime<Utc>),
    /// Failed for good, with this error.
    Dead(String),
    /// Not sent: handed back before its lease ran out.
    Released,
}

/// A row's outcome, and the unrecorded-window slot it holds until committed.
type Done = (outbox::Model, Outcome, OwnedSemaphorePermit);

const SHUTTING_DOWN: &str = "shutting down";

/// Why the run stopped sending (the transport became unavailable, or the
/// daemon is shutting down), and how many sends may have arrived twice.
#[derive(Default)]
struct Halt {
    reason: OnceLock<String>,
    maybe_sent: AtomicUsize,
}

impl Halt {
    fn is_set(&self) -> bool {
        self.reason.get().is_some()
    }
}

/// Sends everything due at `now` until nothing is due, or until `stop` is
/// cancelled (the daemon shutting down: rows not yet sent are handed back
/// untried, `released`; what is in flight finishes and is recorded). Rows
/// are leased for `lease` ([`LEASE`] in the jobs); a claimed row whose send
/// has not started by half its lease is handed back unsent, so that no row
/// is still queued here when another dispatcher may take it over.
pub async fn run(
    store: &Store,
    config: &Config,
    sender: Arc<Sender>,
    now: DateTime<Utc>,
    lease: Duration,
    stop: &CancellationToken,
) -> Result<Report> {
    let halt: Arc<Halt> = Arc::default();
    let watcher = {
        let (halt, stop) = (halt.clone(), stop.clone());
        tokio::spawn(async move {
            stop.cancelled().await;
            let _ = halt.reason.set(SHUTTING_DOWN.into());
        })
    };
    let r = send_all(store, config, sender, Clock::new(now), lease, halt).await;
    watcher.abort();
    r
}

/// How the run paces itself.
#[derive(Clone, Copy)]
struct Pace {
    /// Rows claimed at once.
    batch: usize,
    /// Between two sends under a rate cap (zero: none).
    interval: std::time::Duration,
    /// Outcomes gathered before a commit.
    flush_at: usize,
}

impl Pace {
    fn new(config: &Config) -> Pace {
        let pool = config.mail.smtp.pool_size.max(1) as usize;
        let rate = config.mail.rate_per_second;
        // claim ahead only what can be sent soon (250 per connection, or two
        // seconds' worth under a rate cap), and queue at most one more claim: a
        // crash leaves every claimed row to be taken over after its lease with a
        // "may get this email twice" warning, sent or not
        let batch = match rate {
            0 => pool * 250,
            r => (r as usize * 2).clamp(pool, pool * 250),
        };
        let interval = if rate == 0 {
            std::time::Duration::ZERO
        } else {
            std::time::Duration::from_secs_f64(1.0 / rate as f64)
        };
        // the recorder commits once half of what may be unrecorded has gathered,
        // so the workers go on sending the other half meanwhile
        let flush_at = (pool * UNRECORDED_PER_CONNECTION / 2).clamp(1, batch);
        Pace {
            batch,
            interval,
            flush_at,
        }
    }
}

async fn send_all(
    store: &Store,
    config: &Config,
    sender: Arc<Sender>,
    clock: Clock,
    lease: Duration,
    halt: Arc<Halt>,
) -> Result<Report> {
    let pace = Pace::new(config);
    let (row_tx, row_rx) = mpsc::channel::<(outbox::Model, Option<outbox_body::Model>)>(pace.batch);
    let (out_tx, out_rx) = mpsc::channel::<Done>(pace.batch * 2);
    let mut workers = spawn_workers(config, sender, clock, lease, pace, &halt, row_rx, out_tx);
    let recorder = spawn_recorder(store.clone(), clock, pace, out_rx);
    let fed = feed(store, clock, lease, pace, &halt, row_tx).await;
    while workers.join_next().await.is_some() {}
    let mut report = recorder
        .await
        .map_err(|e| Error::Other(format!("the recorder failed: {e}")))??;
    let (claimed, taken_over) = fed?;
    report.claimed = claimed;
    let reason = halt.reason.get();
    report.stopped = reason.is_some_and(|h| h == SHUTTING_DOWN);
    report.unavailable = reason.filter(|h| *h != SHUTTING_DOWN).cloned();
    report.possible_duplicates = taken_over + halt.maybe_sent.load(Ordering::Relaxed);
    Ok(report)
}

/// The claimer: feeds the workers until nothing is due (or the run halts).
/// Returns how many rows it claimed, and how many of them it took over from
/// an expired lease.
async fn feed(
    store: &Store,
    clock: Clock,
    lease: Duration,
    pace: Pace,
    halt: &Halt,
    rows: mpsc::Sender<(outbox::Model, Option<outbox_body::Model>)>,
) -> Result<(usize, usize)> {
    let mut claimed = 0;
    let mut taken_over = 0;
    loop {
        if halt.is_set() {
            return Ok((claimed, taken_over));
        }
        let c = OUTBOX
            .claim::<outbox::Entity>(
                store,
                ("", Vec::new()),
                "next_attempt_at, id",
                pace.batch,
                clock.now(),
                lease,
            )
            .await?;
        if c.rows.is_empty() {
            return Ok((claimed, taken_over));
        }
        claimed += c.rows.len();
        for id in &c.taken_over {
            tracing::warn!(
                outbox = id,
                "lease expired while sending: retrying; the recipient may get this email twice"
            );
        }
        taken_over += c.taken_over.len();
        let ids: Vec<i64> = c.rows.iter().map(|r| r.id).collect();
        let mut bodies = crate::store::outbox::bodies(store.conn(), &ids).await?;
        for row in c.rows {
            let body = bodies.remove(&row.id);
            if rows.send((row, body)).await.is_err() {
                return Err(Error::Other("the send workers stopped".into()));
            }
        }
    }
}

/// `pool_size` workers, each composing and sending one email at a time
/// over its own connection, within its window of unrecorded sends.
#[allow(clippy::too_many_arguments)]
fn spawn_workers(
    config: &Config,
    sender: Arc<Sender>,
    clock: Clock,
    lease: Duration,
    pace: Pace,
    halt: &Arc<Halt>,
    rows: mpsc::Receiver<(outbox::Model, Option<outbox_body::Model>)>,
    done: mpsc::Sender<Done>,
) -> tokio::task::JoinSet<()> {
    let rows = Arc::new(Mutex::new(rows));
    let limiter = Arc::new(Mutex::new(tokio::time::Instant::now()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..config.mail.smtp.pool_size.max(1) {
        let (rows, done, sender, limiter, config, halt) = (
            rows.clone(),
            done.clone(),
            sender.clone(),
            limiter.clone(),
            config.clone(),
            halt.clone(),
        );
        let unrecorded = Arc::new(Semaphore::new(UNRECORDED_PER_CONNECTION));
        workers.spawn(async move {
            loop {
                // a slot of this connection's unrecorded window, given back by
                // the recorder once the outcome is committed
                let Ok(slot) = unrecorded.clone().acquire_owned().await else {
                    break;
                };
                let Some((row, body)) = rows.lock().await.recv().await else {
                    break;
                };
                let outcome = match start_at(&row, clock, lease, pace, &limiter, &halt).await {
                    None => Outcome::Released,
                    Some(at) => send_one(&config, &sender, &row, body.as_ref(), at, &halt).await,
                };
                if done.send((row, outcome, slot)).await.is_err() {
                    break;
                }
            }
        });
    }
    workers
}

/// When to send `row`: now (after the rate cap's wait), or None to hand it
/// back — the run halted, or less than half its lease is left, so that the
/// send and its record are done long before another dispatcher may take the
/// row over. A row handed back takes no slot of the rate cap.
async fn start_at(
    row: &outbox::Model,
    clock: Clock,
    lease: Duration,
    pace: Pace,
    limiter: &Mutex<tokio::time::Instant>,
    halt: &Halt,
) -> Option<DateTime<Utc>> {
    let in_time = |at: DateTime<Utc>| row.lease_until.is_some_and(|u| at + lease / 2 <= u);
    if halt.is_set() {
        return None;
    }
    if pace.interval.is_zero() {
        return Some(clock.now()).filter(|at| in_time(*at));
    }
    let mut next = limiter.lock().await;
    tokio::time::sleep_until(*next).await;
    let at = Some(clock.now()).filter(|at| in_time(*at));
    if at.is_some() {
        *next = tokio::time::Instant::now().max(*next) + pace.interval;
    }
    at
}

/// Composes and sends one row at `at`.
async fn send_one(
    config: &Config,
    sender: &Sender,
    row: &outbox::Model,
    body: Option<&outbox_body::Model>,
    at: DateTime<Utc>,
    halt: &Halt,
) -> Outcome {
    let msg = match body {
        Some(b) => compose(config, row, b, at),
        None => Err("the rendered message of this email is missing".to_string()),
    };
    let msg = match msg {
        Ok(m) => m,
        Err(e) => return Outcome::Dead(e),
    };
    let e = match sender.send(msg, row).await {
        Ok(()) => return Outcome::Sent,
        Err(e) => e,
    };
    match e.kind {
        Failure::Permanent => return Outcome::Dead(e.text),
        Failure::Transient => {}
        Failure::MaybeDelivered => {
            halt.maybe_sent.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(outbox = row.id, to = %row.recipient, "the recipient of the email below");
            tracing::warn!(outbox = row.id, message_id = %row.message_id, error = %e.text,
                "no reply after the whole message was sent: retrying; the recipient may get this email twice");
        }
        Failure::Unavailable => {
            if halt.reason.set(e.text.clone()).is_ok() {
                tracing::warn!(error = %e.text, "mail transport unavailable: this run stops sending");
            }
        }
    }
    // a failed attempt: tried again later, or dead once `max_attempts` are used
    match Backoff::MAIL.after_failure(row.attempts, config.mail.max_attempts, row.id, at) {
        AfterFailure::Retry(next) => Outcome::Retry(e.text, next),
        AfterFailure::Dead => Outcome::Dead(format!(
            "{} (gave up after {} attempts)",
            e.text, row.attempts
        )),
    }
}

/// The recorder: writes outcomes in batches as they arrive, and gives each
/// one's slot back once it is committed.
fn spawn_recorder(
    store: Store,
    clock: Clock,
    pace: Pace,
    mut done: mpsc::Receiver<Done>,
) -> tokio::task::JoinHandle<Result<Report>> {
    tokio::spawn(async move {
        let mut report = Report::default();
        let mut batch: Vec<(outbox::Model, Outcome)> = Vec::new();
        let mut slots = Vec::new();
        let mut open = true;
        while open {
            // wait for one outcome, then take whatever else is ready, up to a batch
            match done.recv().await {
                Some((row, o, slot)) => {
                    batch.push((row, o));
                    slots.push(slot);
                }
                None => open = false,
            }
            // gather for a moment: fewer, larger commits keep the write lock
            // (and the fsync, and the CPU) away from the claimer and the senders
            let until = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
            while open && batch.len() < pace.flush_at {
                match tokio::time::timeout_at(until, done.recv()).await {
                    Ok(Some((row, o, slot))) => {
                        batch.push((row, o));
                        slots.push(slot);
                    }
                    Ok(None) => open = false,
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                continue;
            }
            record(&store, clock.now(), &batch).await?;
            report_outcomes(&batch, &mut report);
            batch.clear();
            // committed: the workers may send as many again
            slots.clear();
        }
        Ok(report)
    })
}

fn report_outcomes(batch: &[(outbox::Model, Outcome)], report: &mut Report) {
    for (row, o) in batch {
        match o {
            Outcome::Sent => report.sent += 1,
            Outcome::Retry(e, _) => {
                report.retried += 1;
                tracing::debug!(outbox = row.id, to = %row.recipient, "the recipient of the email below");
                tracing::warn!(outbox = row.id, attempt = row.attempts, error = %e, "send failed; will retry");
            }
            Outcome::Dead(e) => {
                report.dead += 1;
                tracing::debug!(outbox = row.id, to = %row.recipient, "the recipient of the email below");
                tracing::error!(outbox = row.id, attempt = row.attempts, error = %e, "send failed for good; the email is dead");
            }
            Outcome::Released => {
                report.released += 1;
                tracing::debug!(
                    outbox = row.id,
                    "lease half over before sending: handed back"
                );
            }
        }
    }
}

/// Writes a batch's outcomes in one transaction. If this fails the rows stay
/// `sending` and are retried after their lease: we stop rather than spam.
async fn record(
    store: &Store,
    now: DateTime<Utc>,
    batch: &[(outbox::Model, Outcome)],
) -> Result<()> {
    let ids_of = |want: fn(&Outcome) -> bool| -> Vec<i64> {
        batch
            .iter()
            .filter(|(_, o)| want(o))
            .map(|(row, _)| row.id)
            .collect()
    };
    let sent = ids_of(|o| matches!(o, Outcome::Sent));
    let released = ids_of(|o| matches!(o, Outcome::Released));
    let txn = store.begin_write().await?;
    let mut events = Vec::new();
    if !sent.is_empty() {
        OUTBOX
            .record_if_ours(
                &txn,
                &sent,
                "status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL, updated_at = ?",
                vec![now.into(), now.into()],
            )
            .await?;
        // their events, made by the database from the rows this update
        // turned `sent` (a row another dispatcher recorded has its own
        // `sent_at`)
        crate::store::events::record_sent(&txn, &sent, now).await?;
    }
    // handed back unsent: the claim's attempt did not happen
    OUTBOX.release(&txn, &released, now).await?;
    for (row, o) in batch {
        let (status, next, err) = match o {
            Outcome::Retry(e, at) => (Status::Pending, *at, e),
            Outcome::Dead(e) => (Status::Dead, now, e),
            Outcome::Released | Outcome::Sent => continue,
        };
        let changed = OUTBOX
            .record_if_ours(
                &txn,
                &[row.id],
                "status = ?, next_attempt_at = ?, last_error = ?, lease_until = NULL, updated_at = ?",
                vec![
                    status.as_str().into(),
                    next.into(),
                    err.clone().into(),
                    now.into(),
                ],
            )
            .await?;
        if status == Status::Dead && changed == 1 {
            events.push(email_event(row, Some(err), now));
        }
    }
    crate::store::events::record(&txn, events).await?;
    txn.commit().await?;
    Ok(())
}

/// `email.dead` (with the last error). No address or name: the application
/// id leads to them for those allowed to see them. (`email.sent` is made by
/// the database, [`crate::store::events::record_sent`], in the same shape.)
fn email_event(
    row: &outbox::Model,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> crate::store::events::NewEvent {
    let mut data = serde_json::json!({
        "email_id": row.id,
        "application_id": row.application_id,
        "template": row.template,
        "message_id": row.message_id,
    });
    if let Some(e) = error {
        data["error"] = e.into();
    }
    crate::store::events::NewEvent::new("email.dead", at, data)
}
