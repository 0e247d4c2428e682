//! The dispatcher (`atsd tick dispatch`, and the daemon's dispatch runs):
//! claims due outbox rows with a lease ([`crate::store::lease`]), composes
//! each ([`super::compose`]), sends it through one transport
//! ([`super::transport`]) and records what became of it. A permanent SMTP
//! error (5xx) makes a row `dead` at once with the server's reply; anything
//! else is retried with exponential backoff and jitter until
//! `max_attempts`.
//!
//! **Exactly once, but for what is on the wire** (`[mail] record = "each"`,
//! the default). Before an email's body is written, the row is marked as
//! going out (`data_at`), durably; its outcome is recorded as soon as the
//! server's reply arrives. Both go through one recorder that commits
//! whatever every connection has asked for since its last commit (group
//! commit), and a connection's next body waits for a commit that holds its
//! previous outcome. So a crash leaves at most one email per connection
//! sent but not recorded — marked, and taken over with a "may get this email
//! twice" warning — while rows claimed but never marked go again silently.
//! The mark's commit overlaps the envelope's round trip (the body waits for
//! both, [`super::smtp::Gate`]). Unpaced, a connection's next mark is
//! committed while its current email is on the wire: two per connection.
//! `record = "batched"` gathers outcomes for up to 100 ms per commit
//! instead, and marks rows [`MARK_AHEAD`] at a time as they are queued to
//! the workers: up to [`UNRECORDED_PER_CONNECTION`] emails per connection may
//! go out twice after a crash.
//!
//! A run holds its rows' leases only as long as it lives: it renews them
//! every [`LEASE`] / 3, so a dead dispatcher's rows are taken over within a
//! lease. `rate_per_second` is shared by every daemon of the database
//! ([`crate::store::rate`]).
//!
//! Three stages overlap: one task claims batches of rows (`feed`),
//! `pool_size` workers compose and send, one SMTP connection each
//! (`spawn_workers`), and one task records (`spawn_recorder`), so neither the
//! database nor the SMTP server waits for the other.

use super::compose::compose;
use super::smtp::{Failure, Gate, open_gate};
use super::transport::Sender;
use crate::config::{Config, Record};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::lease::{AfterFailure, Backoff};
use crate::store::outbox::QUEUE as OUTBOX;
use crate::store::rate::{self, Taken};
use chrono::{DateTime, Duration, Utc};
use entity::outbox::Status;
use entity::{outbox, outbox_body};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, OnceLock};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

mod pace;
mod record;

use pace::*;
use record::*;

/// How long a claimed row is ours before another dispatcher may take it:
/// renewed every third of it while the run works, so after a crash the
/// others (or the restarted daemon) send the dead run's rows within it.
pub const LEASE: Duration = Duration::seconds(30);
/// With `record = "batched"`, how many emails one connection may have sent
/// before their outcome is durably recorded: the most a crash can resend
/// per connection.
pub const UNRECORDED_PER_CONNECTION: usize = 128;

/// With `record = "batched"`, how many rows are marked as going out at once,
/// ahead of the workers: a crash warns of these too, sent or not.
const MARK_AHEAD: usize = 512;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    /// Emails that may have gone out twice: rows taken over from a dead
    /// dispatcher after their message began to go out, and sends retried
    /// because no reply came after the whole message was written (each
    /// logged with a warning).
    pub possible_duplicates: usize,
    /// Rows taken over from a dead dispatcher before their message began to
    /// go out: sent now as if for the first time, nothing to warn of.
    pub recovered: usize,
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

/// What the workers ask of the recorder, in the order they ask it.
enum Ask {
    /// Mark this row as going out; the answer says whether it is marked.
    Mark(i64, oneshot::Sender<bool>),
    /// Record this row's outcome (batched: with the connection's slot,
    /// given back once committed).
    Done(Box<outbox::Model>, Outcome, Option<OwnedSemaphorePermit>),
}

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

/// The rows this run holds (claimed, not yet recorded) and how long each
/// lease runs: renewed while the run works.
#[derive(Default)]
struct Held(SyncMutex<HashMap<i64, DateTime<Utc>>>);

impl Held {
    fn insert(&self, id: i64, until: Option<DateTime<Utc>>) {
        if let (Ok(mut m), Some(u)) = (self.0.lock(), until) {
            m.insert(id, u);
        }
    }

    fn remove(&self, id: i64) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&id);
        }
    }

    fn until(&self, id: i64) -> Option<DateTime<Utc>> {
        self.0.lock().ok()?.get(&id).copied()
    }

    fn ids(&self) -> Vec<i64> {
        self.0
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    fn renewed(&self, ids: &[i64], until: DateTime<Utc>) {
        if let Ok(mut m) = self.0.lock() {
            for id in ids {
                if let Some(u) = m.get_mut(id) {
                    *u = until;
                }
            }
        }
    }
}

/// Sends everything due at `now` until nothing is due, or until `stop` is
/// cancelled (the daemon shutting down: rows not yet sent are handed back
/// untried, `released`; what is in flight finishes and is recorded). Rows
/// are leased for `lease` ([`LEASE`] in the jobs), renewed while the run
/// works; a claimed row whose send has not started with half its lease left
/// is handed back unsent, so that no row is still queued here when another
/// dispatcher may take it over.
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
    // what waits for an address that bounced is held, visibly
    let held = crate::store::inbound::hold(store.conn(), None, now).await?;
    if held > 0 {
        tracing::info!(
            held,
            "emails held: their addresses are marked undeliverable"
        );
    }
    let r = send_all(store, config, sender, Clock::new(now), lease, halt).await;
    watcher.abort();
    r
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
    let held: Arc<Held> = Arc::default();
    // batched: the rows marked but not yet taken by a worker stay few
    let queued = match pace.record {
        Record::Each => pace.batch,
        Record::Batched => MARK_AHEAD,
    };
    let (row_tx, row_rx) = mpsc::channel::<(outbox::Model, Option<outbox_body::Model>)>(queued);
    let (ask_tx, ask_rx) = mpsc::unbounded_channel::<Ask>();
    let pacer = (pace.rate > 0).then(|| {
        Arc::new(Pacer {
            store: store.clone(),
            rate: pace.rate,
            local: Mutex::new(0),
        })
    });
    let mut workers = spawn_workers(
        config,
        sender,
        Ctx {
            clock,
            lease,
            pace,
            halt: halt.clone(),
            held: held.clone(),
            pacer,
        },
        row_rx,
        ask_tx,
    );
    let recorder = spawn_recorder(store.clone(), clock, pace, held.clone(), ask_rx);
    let renewer = tokio::spawn(renew_while_working(
        store.clone(),
        clock,
        lease,
        held.clone(),
    ));
    let fed = feed(store, clock, lease, pace, &halt, &held, row_tx).await;
    while workers.join_next().await.is_some() {}
    let recorded = recorder
        .await
        .map_err(|e| Error::Other(format!("the recorder failed: {e}")));
    renewer.abort();
    let mut report = recorded??;
    let fed = fed?;
    report.claimed = fed.claimed;
    report.recovered = fed.recovered;
    let reason = halt.reason.get();
    report.stopped = reason.is_some_and(|h| h == SHUTTING_DOWN);
    report.unavailable = reason.filter(|h| *h != SHUTTING_DOWN).cloned();
    report.possible_duplicates = fed.taken_over + halt.maybe_sent.load(Ordering::Relaxed);
    Ok(report)
}

/// What the claimer did.
struct Fed {
    claimed: usize,
    taken_over: usize,
    recovered: usize,
}

/// The claimer: feeds the workers until nothing is due (or the run halts).
async fn feed(
    store: &Store,
    clock: Clock,
    lease: Duration,
    pace: Pace,
    halt: &Halt,
    held: &Held,
    rows: mpsc::Sender<(outbox::Model, Option<outbox_body::Model>)>,
) -> Result<Fed> {
    let mut fed = Fed {
        claimed: 0,
        taken_over: 0,
        recovered: 0,
    };
    loop {
        if halt.is_set() {
            return Ok(fed);
        }
        let c = OUTBOX
            .claim::<outbox::Entity>(
                store,
                (crate::store::inbound::DELIVERABLE, Vec::new()),
                "next_attempt_at, id",
                pace.batch,
                clock.now(),
                lease,
            )
            .await?;
        if c.rows.is_empty() {
            return Ok(fed);
        }
        fed.claimed += c.rows.len();
        for id in &c.taken_over {
            tracing::warn!(
                outbox = id,
                "lease expired after the email began to go out: sending again; the recipient may get this email twice"
            );
        }
        if !c.recovered.is_empty() {
            tracing::info!(
                emails = c.recovered.len(),
                "taken over from a dispatcher that stopped before sending them"
            );
        }
        fed.taken_over += c.taken_over.len();
        fed.recovered += c.recovered.len();
        let ids: Vec<i64> = c.rows.iter().map(|r| r.id).collect();
        for r in &c.rows {
            held.insert(r.id, r.lease_until);
        }
        let mut bodies = crate::store::outbox::bodies(store.conn(), &ids).await?;
        for (i, row) in c.rows.into_iter().enumerate() {
            if pace.record == Record::Batched && i % MARK_AHEAD == 0 {
                // no mark per email: the next MARK_AHEAD rows may go out
                // from here on (the queue to the workers holds as many)
                let next: Vec<i64> = ids.iter().skip(i).take(MARK_AHEAD).copied().collect();
                let txn = store.begin_write().await?;
                OUTBOX.mark(&txn, &next, clock.now()).await?;
                txn.commit().await?;
            }
            let body = bodies.remove(&row.id);
            if rows.send((row, body)).await.is_err() {
                return Err(Error::Other("the send workers stopped".into()));
            }
        }
    }
}

/// Renews the leases of the rows the run holds, every third of a lease.
async fn renew_while_working(store: Store, clock: Clock, lease: Duration, held: Arc<Held>) {
    let every = (lease / 3)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(10));
    loop {
        tokio::time::sleep(every).await;
        let ids = held.ids();
        if ids.is_empty() {
            continue;
        }
        let until = clock.now() + lease;
        match OUTBOX.renew(store.conn(), &ids, until).await {
            Ok(_) => held.renewed(&ids, until),
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew the leases of the emails being sent")
            }
        }
    }
}

/// What every worker shares.
#[derive(Clone)]
struct Ctx {
    clock: Clock,
    lease: Duration,
    pace: Pace,
    halt: Arc<Halt>,
    held: Arc<Held>,
    pacer: Option<Arc<Pacer>>,
}

/// `pool_size` workers, each composing and sending one email at a time
/// over its own connection.
fn spawn_workers(
    config: &Config,
    sender: Arc<Sender>,
    ctx: Ctx,
    rows: mpsc::Receiver<(outbox::Model, Option<outbox_body::Model>)>,
    asks: mpsc::UnboundedSender<Ask>,
) -> tokio::task::JoinSet<()> {
    let rows = Arc::new(Mutex::new(rows));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..config.mail.smtp.pool_size.max(1) {
        let (rows, asks, sender, config, ctx) = (
            rows.clone(),
            asks.clone(),
            sender.clone(),
            config.clone(),
            ctx.clone(),
        );
        // batched: this connection's window of unrecorded sends
        let unrecorded = Arc::new(Semaphore::new(UNRECORDED_PER_CONNECTION));
        workers.spawn(async move {
            // each, unpaced: the next row, its mark asked while this one is
            // on the wire (so that commit overlaps this send)
            let mut ahead: Option<Turn> = None;
            loop {
                let slot = match ctx.pace.record {
                    Record::Each => None,
                    Record::Batched => match unrecorded.clone().acquire_owned().await {
                        Ok(s) => Some(s),
                        Err(_) => break,
                    },
                };
                let turn = match ahead.take() {
                    // halted meanwhile: the row marked ahead goes back
                    Some(Turn::Send(row, ..)) if ctx.halt.is_set() => Turn::Release(row),
                    Some(t) => t,
                    None => {
                        let Some((row, body)) = rows.lock().await.recv().await else {
                            break;
                        };
                        prepare(row, body, &ctx, &asks).await
                    }
                };
                let (row, outcome) = match turn {
                    Turn::Release(row) => (row, Outcome::Released),
                    Turn::Send(row, body, at, gate) => {
                        if ctx.pace.pipelined() {
                            let next = rows.lock().await.try_recv();
                            if let Ok((row, body)) = next {
                                ahead = Some(prepare(row, body, &ctx, &asks).await);
                            }
                        }
                        let o =
                            send_one(&config, &sender, &row, body.as_ref(), at, gate, &ctx.halt)
                                .await;
                        (row, o)
                    }
                };
                if asks.send(Ask::Done(Box::new(row), outcome, slot)).is_err() {
                    break;
                }
            }
            // a row whose mark was asked but whose turn never came
            if let Some(Turn::Send(row, ..) | Turn::Release(row)) = ahead {
                let _ = asks.send(Ask::Done(Box::new(row), Outcome::Released, None));
            }
        });
    }
    workers
}

/// A row's turn on a connection: sent at this time once its gate opens, or
/// handed back.
enum Turn {
    Send(
        outbox::Model,
        Option<outbox_body::Model>,
        DateTime<Utc>,
        Gate,
    ),
    Release(outbox::Model),
}

/// Prepares `row`'s turn: its time ([`start_at`]) and its gate ([`gate`],
/// which asks for its mark now).
async fn prepare(
    row: outbox::Model,
    body: Option<outbox_body::Model>,
    ctx: &Ctx,
    asks: &mpsc::UnboundedSender<Ask>,
) -> Turn {
    match start_at(&row, ctx).await {
        None => Turn::Release(row),
        Some(at) => {
            let gate = gate(ctx, asks, row.id);
            Turn::Send(row, body, at, gate)
        }
    }
}

/// When to send `row`: now (after the shared rate's wait), or None to hand
/// it back — the run halted, or less than half its lease is left, so that the
/// send and its record are done long before another dispatcher may take the
/// row over.
async fn start_at(row: &outbox::Model, ctx: &Ctx) -> Option<DateTime<Utc>> {
    if ctx.halt.is_set() {
        return None;
    }
    if let Some(p) = &ctx.pacer
        && let Err(e) = p.acquire().await
    {
        if ctx.halt.reason.set(e.to_string()).is_ok() {
            tracing::warn!(error = %e, "cannot take from the shared sending rate: this run stops sending");
        }
        return None;
    }
    let at = ctx.clock.now();
    let until = ctx.held.until(row.id).or(row.lease_until)?;
    (at + ctx.lease / 2 <= until).then_some(at)
}

/// The gate of a row's body: its mark committed (`record = "each"`), or
/// open (batched: marked when claimed).
fn gate(ctx: &Ctx, asks: &mpsc::UnboundedSender<Ask>, id: i64) -> Gate {
    if ctx.pace.record == Record::Batched {
        return open_gate();
    }
    let (tx, rx) = oneshot::channel();
    if asks.send(Ask::Mark(id, tx)).is_err() {
        return Box::pin(std::future::ready(false));
    }
    Box::pin(async move { rx.await.unwrap_or(false) })
}

/// Composes and sends one row at `at`.
async fn send_one(
    config: &Config,
    sender: &Sender,
    row: &outbox::Model,
    body: Option<&outbox_body::Model>,
    at: DateTime<Utc>,
    gate: Gate,
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
    let e = match sender.send(msg, row, gate).await {
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
