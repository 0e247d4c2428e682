//! The dispatcher (`atsd tick dispatch`): claims due outbox rows with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; `BEGIN IMMEDIATE` on SQLite),
//! sends them through one transport built from the configuration, and records
//! the outcome in batches. A permanent SMTP error (5xx) makes a row `dead` at
//! once with the server's reply; anything else is retried with exponential
//! backoff and jitter until `max_attempts`. A row left `sending` by a crash is
//! claimed again once its lease expires, with a log line saying a duplicate is
//! possible: the one duplicate window.

use super::smtp::SmtpPool;
pub use super::smtp::{Failure, SendError};
use crate::config::{Config, Transport};
use crate::error::{Error, Result};
use crate::store::{Store, id_list as ids_list, sql};
use chrono::{DateTime, Duration, Utc};
use entity::{outbox, outbox_body};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart, header};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Value};
use serde::Serialize;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
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
const BACKOFF_BASE: Duration = Duration::minutes(1);
const BACKOFF_MAX: Duration = Duration::hours(6);

/// Normalises line ends (CRLF, lone CR, lone LF all become one line break), so
/// that a lone CR in candidate text never reaches the wire raw.
pub fn normalize_lines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Builds the message of an outbox row: multipart/alternative (text + HTML),
/// both quoted-printable, with our Message-ID, Date, From and Reply-To.
pub fn compose(
    config: &Config,
    row: &outbox::Model,
    body: &outbox_body::Model,
    date: DateTime<Utc>,
) -> std::result::Result<Message, String> {
    let from = Mailbox::from_str(&config.mail.from).map_err(|e| format!("mail.from: {e}"))?;
    let address = row
        .recipient
        .parse()
        .map_err(|e| format!("recipient `{}`: {e}", row.recipient))?;
    let to = Mailbox::new(
        row.recipient_name.clone().filter(|n| !n.is_empty()),
        address,
    );
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .raw_header(subject_header(&body.subject))
        .date(date.into())
        .message_id(Some(row.message_id.clone()));
    if let Some(r) = &config.mail.reply_to {
        b = b.reply_to(Mailbox::from_str(r).map_err(|e| format!("mail.reply_to: {e}"))?);
    }
    let text = SinglePart::builder()
        .header(header::ContentType::TEXT_PLAIN)
        .header(header::ContentTransferEncoding::QuotedPrintable)
        .body(normalize_lines(&body.body_text));
    let html = SinglePart::builder()
        .header(header::ContentType::TEXT_HTML)
        .header(header::ContentTransferEncoding::QuotedPrintable)
        .body(normalize_lines(&body.body_html));
    b.multipart(
        MultiPart::alternative()
            .boundary(boundary(&row.message_id))
            .singlepart(text)
            .singlepart(html),
    )
    .map_err(|e| format!("cannot build the message: {e}"))
}

/// The Subject header. lettre leaves an ASCII word as it is, so a subject
/// holding text that looks like an RFC 2047 encoded word (`=?utf-8?q?…?=`,
/// from a candidate's name or a job board's title) would reach the reader
/// decoded — as anything, line breaks included. Such a subject is sent
/// encoded whole instead, which decodes to exactly the text written.
pub fn subject_header(subject: &str) -> header::HeaderValue {
    let name = header::HeaderName::new_from_ascii_str("Subject");
    if !subject.contains("=?") {
        return header::HeaderValue::new(name, subject.to_string());
    }
    let mut encoded = String::new();
    let written = {
        let mut w = email_encoding::headers::writer::EmailWriter::new(
            &mut encoded,
            "Subject: ".len(),
            0,
            false,
        );
        email_encoding::headers::rfc2047::encode(subject, &mut w)
    };
    if written.is_err() {
        return header::HeaderValue::new(name, subject.to_string());
    }
    header::HeaderValue::dangerous_new_pre_encoded(name, subject.to_string(), encoded)
}

/// The MIME boundary of a message, made from its Message-ID so that a resent
/// email is the same bytes after its headers. It starts with `=_`, which a
/// quoted-printable body can never contain (`=` is always `=3D` or a soft
/// line break there).
pub fn boundary(message_id: &str) -> String {
    let id: String = message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "'()+_,-./:?".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!("=_{id}")
}

/// The file the `file` transport writes a message to, by its Message-ID.
pub fn eml_file_name(message_id: &str) -> String {
    let name: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '@' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.eml")
}

/// The `file` transport's folder: `[mail.file] dir`, relative to `base` (the
/// SQLite database's folder; the working directory otherwise).
pub fn file_dir(config: &Config, base: Option<PathBuf>) -> PathBuf {
    let dir = &config.mail.file.dir;
    if dir.is_absolute() {
        dir.clone()
    } else {
        base.unwrap_or_default().join(dir)
    }
}

/// Where emails go.
pub enum Sender {
    Smtp(Box<SmtpPool>),
    /// One `.eml` file per message in this folder.
    File(PathBuf),
    /// Only logged.
    Log,
}

impl Sender {
    /// Built once from the configuration and reused.
    pub fn from_config(config: &Config, outbox_dir: Option<PathBuf>) -> Result<Sender> {
        let m = &config.mail;
        Ok(match m.transport {
            Transport::Log => Sender::Log,
            Transport::File => {
                let dir = file_dir(config, outbox_dir);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
                Sender::File(dir)
            }
            Transport::Smtp => Sender::Smtp(Box::new(SmtpPool::from_config(config)?)),
        })
    }

    pub async fn send(
        &self,
        msg: Message,
        row: &outbox::Model,
    ) -> std::result::Result<(), SendError> {
        match self {
            Sender::Smtp(pool) => pool.send(&msg).await,
            Sender::File(dir) => {
                let path = dir.join(eml_file_name(&row.message_id));
                tokio::fs::write(&path, msg.formatted()).await.map_err(|e| {
                    SendError::new(
                        Failure::Unavailable,
                        format!("cannot write {}: {e}", path.display()),
                    )
                })
            }
            Sender::Log => {
                tracing::info!(outbox = row.id, template = %row.template, message_id = %row.message_id, "email (log transport)");
                tracing::debug!(outbox = row.id, to = %row.recipient, "email (log transport)");
                Ok(())
            }
        }
    }
}

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

/// Claims up to `limit` due rows for this dispatcher, each leased until
/// `now + lease`.
pub async fn claim(
    store: &Store,
    now: DateTime<Utc>,
    limit: usize,
    lease: Duration,
) -> Result<(Vec<outbox::Model>, Vec<i64>)> {
    let backend = store.backend();
    let txn = store.begin_write().await?;
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let rows = txn
        .query_all_raw(sql(
            backend,
            &format!(
                "SELECT id, status FROM outbox WHERE (status = 'pending' AND next_attempt_at <= ?) \
                 OR (status = 'sending' AND lease_until <= ?) ORDER BY next_attempt_at, id LIMIT {limit}{lock}"
            ),
            vec![now.into(), now.into()],
        ))
        .await?;
    let mut ids = Vec::new();
    let mut expired = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("", "id")?;
        let status: String = r.try_get("", "status")?;
        if status == "sending" {
            expired.push(id);
        }
        ids.push(id);
    }
    if ids.is_empty() {
        txn.commit().await?;
        return Ok((Vec::new(), Vec::new()));
    }
    let claimed = outbox::Entity::find()
        .from_raw_sql(sql(
            backend,
            &format!(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ? \
                 WHERE id IN ({}) RETURNING *",
                ids_list(&ids)
            ),
            vec![(now + lease).into(), now.into()],
        ))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok((claimed, expired))
}

/// A failed attempt: tried again later, or dead once `max_attempts` are used.
fn retry_or_dead(error: String, row: &outbox::Model, config: &Config) -> Result1 {
    if row.attempts >= config.mail.max_attempts as i32 {
        Result1::Dead(format!("{error} (gave up after {} attempts)", row.attempts))
    } else {
        Result1::Retry(error)
    }
}

fn backoff(attempts: i32, seed: u64) -> Duration {
    crate::backoff::exponential(BACKOFF_BASE, BACKOFF_MAX, attempts, seed)
}

enum Result1 {
    Sent,
    Retry(String),
    Dead(String),
    /// Not sent: handed back before its lease ran out.
    Released,
}

/// Sends everything due at `now` until nothing is due. Three stages overlap:
/// one task claims batches of rows, `pool_size` workers compose and send
/// (one SMTP connection each), and one task records the outcomes in batched
/// transactions, so neither the database nor the SMTP server waits for the other.
pub async fn run(
    store: &Store,
    config: &Config,
    sender: Arc<Sender>,
    now: DateTime<Utc>,
) -> Result<Report> {
    run_until(store, config, sender, now, LEASE, &CancellationToken::new()).await
}

/// [`run`] that stops early when `stop` is cancelled (the daemon shutting
/// down): rows not yet sent are handed back untried (`released`), what is in
/// flight finishes and is recorded.
pub async fn run_until(
    store: &Store,
    config: &Config,
    sender: Arc<Sender>,
    now: DateTime<Utc>,
    lease: Duration,
    stop: &CancellationToken,
) -> Result<Report> {
    let halt: Arc<std::sync::OnceLock<String>> = Arc::default();
    let watcher = {
        let (halt, stop) = (halt.clone(), stop.clone());
        tokio::spawn(async move {
            stop.cancelled().await;
            let _ = halt.set(SHUTTING_DOWN.into());
        })
    };
    let r = run_halting(store, config, sender, now, lease, halt).await;
    watcher.abort();
    r
}

const SHUTTING_DOWN: &str = "shutting down";

/// [`run`] with another lease than [`LEASE`]. A claimed row whose send has
/// not started by half its lease is handed back unsent, so that no row is
/// still queued here when another dispatcher may take it over.
pub async fn run_with_lease(
    store: &Store,
    config: &Config,
    sender: Arc<Sender>,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Report> {
    run_halting(store, config, sender, now, lease, Arc::default()).await
}

async fn run_halting(
    store: &Store,
    config: &Config,
    sender: Arc<Sender>,
    now: DateTime<Utc>,
    lease: Duration,
    halt: Arc<std::sync::OnceLock<String>>,
) -> Result<Report> {
    let clock = Clock::new(now);
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
    let limiter = Arc::new(tokio::sync::Mutex::new(tokio::time::Instant::now()));
    // `halt` is set once the transport is unavailable (or on shutdown): the
    // rest of the run hands its rows back untried, and the claimer stops
    // sends whose reply never came after the whole message went out
    let maybe_sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (row_tx, row_rx) =
        tokio::sync::mpsc::channel::<(outbox::Model, Option<outbox_body::Model>)>(batch);
    let row_rx = Arc::new(tokio::sync::Mutex::new(row_rx));
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Outcome>(batch * 2);
    // the recorder commits once half of what may be unrecorded has gathered,
    // so the workers go on sending the other half meanwhile
    let flush_at = (pool * UNRECORDED_PER_CONNECTION / 2).clamp(1, batch);

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..pool {
        let (rx, tx, sender, limiter, config, halt, maybe_sent) = (
            row_rx.clone(),
            out_tx.clone(),
            sender.clone(),
            limiter.clone(),
            config.clone(),
            halt.clone(),
            maybe_sent.clone(),
        );
        let unrecorded = Arc::new(tokio::sync::Semaphore::new(UNRECORDED_PER_CONNECTION));
        workers.spawn(async move {
            loop {
                // a slot of this connection's unrecorded window, given back by
                // the recorder once the outcome is committed
                let Ok(slot) = unrecorded.clone().acquire_owned().await else {
                    break;
                };
                let Some((row, body)) = rx.lock().await.recv().await else {
                    break;
                };
                // send only with half the lease left, so that the send and its
                // record are done long before another dispatcher may take the
                // row over; a row handed back takes no slot of the rate cap
                let in_time =
                    |at: DateTime<Utc>| row.lease_until.is_some_and(|u| at + lease / 2 <= u);
                let sending_at = if halt.get().is_some() {
                    None
                } else if interval.is_zero() {
                    Some(clock.now()).filter(|at| in_time(*at))
                } else {
                    let mut next = limiter.lock().await;
                    tokio::time::sleep_until(*next).await;
                    let at = Some(clock.now()).filter(|at| in_time(*at));
                    if at.is_some() {
                        *next = tokio::time::Instant::now().max(*next) + interval;
                    }
                    at
                };
                let Some(sending_at) = sending_at else {
                    if tx.send((row, Result1::Released, slot)).await.is_err() {
                        break;
                    }
                    continue;
                };
                let composed = match &body {
                    Some(b) => compose(&config, &row, b, sending_at),
                    None => Err("the rendered message of this email is missing".to_string()),
                };
                let outcome = match composed {
                    Err(e) => Result1::Dead(e),
                    Ok(msg) => match sender.send(msg, &row).await {
                        Ok(()) => Result1::Sent,
                        Err(e) => match e.kind {
                            Failure::Permanent => Result1::Dead(e.text),
                            Failure::Transient => retry_or_dead(e.text, &row, &config),
                            Failure::MaybeDelivered => {
                                maybe_sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                tracing::debug!(outbox = row.id, to = %row.recipient, "the recipient of the email below");
                                tracing::warn!(outbox = row.id, message_id = %row.message_id, error = %e.text,
                                    "no reply after the whole message was sent: retrying; the recipient may get this email twice");
                                retry_or_dead(e.text, &row, &config)
                            }
                            Failure::Unavailable => {
                                if halt.set(e.text.clone()).is_ok() {
                                    tracing::warn!(error = %e.text, "mail transport unavailable: this run stops sending");
                                }
                                retry_or_dead(e.text, &row, &config)
                            }
                        },
                    },
                };
                if tx.send((row, outcome, slot)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(out_tx);

    // the recorder: writes outcomes in batches as they arrive
    let rec_store = store.clone();
    let recorder = tokio::spawn(async move {
        let mut report = Report::default();
        let mut sent = Vec::new();
        let mut others = Vec::new();
        let mut slots = Vec::new();
        let mut open = true;
        while open {
            // wait for one outcome, then take whatever else is ready, up to a batch
            match out_rx.recv().await {
                Some(o) => push(o, &mut sent, &mut others, &mut slots),
                None => open = false,
            }
            // gather for a moment: fewer, larger commits keep the write lock
            // (and the fsync, and the CPU) away from the claimer and the senders
            let until = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
            while open && sent.len() + others.len() < flush_at {
                match tokio::time::timeout_at(until, out_rx.recv()).await {
                    Ok(Some(o)) => push(o, &mut sent, &mut others, &mut slots),
                    Ok(None) => open = false,
                    Err(_) => break,
                }
            }
            if sent.is_empty() && others.is_empty() {
                continue;
            }
            record(&rec_store, clock.now(), &sent, &others).await?;
            report.sent += sent.len();
            for (row, o) in &others {
                match o {
                    Result1::Retry(e) => {
                        report.retried += 1;
                        tracing::debug!(outbox = row.id, to = %row.recipient, "the recipient of the email below");
                        tracing::warn!(outbox = row.id, attempt = row.attempts, error = %e, "send failed; will retry");
                    }
                    Result1::Dead(e) => {
                        report.dead += 1;
                        tracing::debug!(outbox = row.id, to = %row.recipient, "the recipient of the email below");
                        tracing::error!(outbox = row.id, attempt = row.attempts, error = %e, "send failed for good; the email is dead");
                    }
                    Result1::Released => {
                        report.released += 1;
                        tracing::debug!(
                            outbox = row.id,
                            "lease half over before sending: handed back"
                        );
                    }
                    Result1::Sent => {}
                }
            }
            sent.clear();
            others.clear();
            // committed: the workers may send as many again
            slots.clear();
        }
        Ok::<Report, Error>(report)
    });

    // the claimer: feeds the workers until nothing is due
    let mut claimed = 0;
    let mut duplicates = 0;
    let claim_result: Result<()> = async {
        loop {
            if halt.get().is_some() {
                return Ok(());
            }
            let (rows, expired) = claim(store, clock.now(), batch, lease).await?;
            if rows.is_empty() {
                return Ok(());
            }
            claimed += rows.len();
            for id in &expired {
                tracing::warn!(
                    outbox = id,
                    "lease expired while sending: retrying; the recipient may get this email twice"
                );
            }
            duplicates += expired.len();
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let mut bodies = crate::store::outbox::bodies(store.conn(), &ids).await?;
            for row in rows {
                let body = bodies.remove(&row.id);
                if row_tx.send((row, body)).await.is_err() {
                    return Err(Error::Other("the send workers stopped".into()));
                }
            }
        }
    }
    .await;
    drop(row_tx);
    while workers.join_next().await.is_some() {}
    let mut report = recorder
        .await
        .map_err(|e| Error::Other(format!("the recorder failed: {e}")))??;
    claim_result?;
    report.claimed = claimed;
    report.stopped = halt.get().is_some_and(|h| h == SHUTTING_DOWN);
    report.unavailable = halt.get().filter(|h| *h != SHUTTING_DOWN).cloned();
    report.possible_duplicates = duplicates + maybe_sent.load(std::sync::atomic::Ordering::Relaxed);
    Ok(report)
}

/// A row's outcome, and the unrecorded-window slot it holds until committed.
type Outcome = (outbox::Model, Result1, tokio::sync::OwnedSemaphorePermit);

fn push(
    (row, result, slot): Outcome,
    sent: &mut Vec<i64>,
    others: &mut Vec<(outbox::Model, Result1)>,
    slots: &mut Vec<tokio::sync::OwnedSemaphorePermit>,
) {
    slots.push(slot);
    match result {
        Result1::Sent => sent.push(row.id),
        other => others.push((row, other)),
    }
}

/// `UPDATE outbox SET {set}` for these rows, if we still hold them.
async fn update_ids(
    txn: &sea_orm::DatabaseTransaction,
    ids: &[i64],
    set: &str,
    values: Vec<Value>,
) -> Result<()> {
    if !ids.is_empty() {
        txn.execute_raw(sql(
            txn.get_database_backend(),
            &format!(
                "UPDATE outbox SET {set} WHERE id IN ({}) AND status = 'sending'",
                ids_list(ids)
            ),
            values,
        ))
        .await?;
    }
    Ok(())
}

/// Writes a batch's outcomes in one transaction. If this fails the rows stay
/// `sending` and are retried after their lease: we stop rather than spam.
async fn record(
    store: &Store,
    now: DateTime<Utc>,
    sent: &[i64],
    others: &[(outbox::Model, Result1)],
) -> Result<()> {
    let backend = store.backend();
    let released: Vec<i64> = others
        .iter()
        .filter(|(_, o)| matches!(o, Result1::Released))
        .map(|(row, _)| row.id)
        .collect();
    let txn = store.begin_write().await?;
    let mut events = Vec::new();
    if !sent.is_empty() {
        update_ids(
            &txn,
            sent,
            "status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL, updated_at = ?",
            vec![now.into(), now.into()],
        )
        .await?;
        // their events, made by the database from the rows this update
        // turned `sent` (a row another dispatcher recorded has its own
        // `sent_at`)
        crate::store::events::record_sent(&txn, sent, now).await?;
    }
    // handed back unsent: the claim's attempt did not happen
    update_ids(
        &txn,
        &released,
        "status = 'pending', attempts = attempts - 1, lease_until = NULL, updated_at = ?",
        vec![now.into()],
    )
    .await?;
    for (row, o) in others {
        let (status, next, err) = match o {
            Result1::Retry(e) => ("pending", now + backoff(row.attempts, row.id as u64), e),
            Result1::Dead(e) => ("dead", now, e),
            Result1::Released | Result1::Sent => continue,
        };
        let res = txn
            .execute_raw(sql(
                backend,
                "UPDATE outbox SET status = ?, next_attempt_at = ?, last_error = ?, lease_until = NULL, updated_at = ? \
                 WHERE id = ? AND status = 'sending'",
                vec![status.into(), next.into(), err.clone().into(), now.into(), row.id.into()],
            ))
            .await?;
        if status == "dead" && res.rows_affected() == 1 {
            events.push(email_event(
                "email.dead",
                row.id,
                row.application_id,
                &row.template,
                &row.message_id,
                Some(err),
                now,
            ));
        }
    }
    crate::store::events::record(&txn, events).await?;
    txn.commit().await?;
    Ok(())
}

/// `email.sent` or `email.dead` (with the last error). No address or name:
/// the application id leads to them for those allowed to see them.
fn email_event(
    kind: &'static str,
    id: i64,
    application_id: Option<i64>,
    template: &str,
    message_id: &str,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> crate::store::events::NewEvent {
    let mut data = serde_json::json!({
        "email_id": id,
        "application_id": application_id,
        "template": template,
        "message_id": message_id,
    });
    if let Some(e) = error {
        data["error"] = e.into();
    }
    crate::store::events::NewEvent::new(kind, at, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> outbox::Model {
        let now = Utc::now();
        outbox::Model {
            id: 1,
            application_id: None,
            transition_id: None,
            stage: None,
            recipient: "zoe@example.org".into(),
            recipient_name: Some("Zoë Müller".into()),
            template: "offer".into(),
            locale: "de".into(),
            message_id: "<atsd.t1.0@example.org>".into(),
            status: "sending".into(),
            attempts: 1,
            next_attempt_at: now,
            send_after: None,
            lease_until: None,
            last_error: None,
            sent_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn composed_messages_are_multipart_quoted_printable_with_our_ids() {
        let body = outbox_body::Model {
            outbox_id: 1,
            subject: "Gute Nachrichten zu Ihrer Bewerbung".into(),
            body_text: "Zeile 1\rMAIL FROM:<a@b>\r\n.\r\nEnde".into(),
            body_html: "<p>&lt;script&gt;</p>".into(),
        };
        let m = compose(&Config::default(), &row(), &body, Utc::now()).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <atsd.t1.0@example.org>"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("Content-Transfer-Encoding: quoted-printable"));
        assert!(!raw.contains("Content-Transfer-Encoding: 7bit"));
        assert!(raw.contains("Reply-To: recruiting@example.org"));
        assert!(
            raw.contains("To: =?utf-8?"),
            "non-ASCII name encoded: {raw}"
        );
        // no lone CR anywhere: every CR is followed by LF
        let b = raw.as_bytes();
        assert!(
            b.iter()
                .enumerate()
                .all(|(i, c)| *c != b'\r' || b.get(i + 1) == Some(&b'\n'))
        );
    }

    /// A resent email is the same bytes after its headers: only Date differs.
    #[test]
    fn a_message_composed_twice_differs_only_in_its_date() {
        let body = outbox_body::Model {
            outbox_id: 1,
            subject: "Subject".into(),
            body_text: "text = x".into(),
            body_html: "<p>html</p>".into(),
        };
        let config = Config::default();
        let a = compose(&config, &row(), &body, Utc::now())
            .unwrap()
            .formatted();
        let later = Utc::now() + Duration::hours(1);
        let b = compose(&config, &row(), &body, later).unwrap().formatted();
        let without_date = |m: &[u8]| {
            String::from_utf8_lossy(m)
                .split("\r\n")
                .filter(|l| !l.starts_with("Date:"))
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        assert_ne!(a, b);
        assert_eq!(without_date(&a), without_date(&b));
        assert!(without_date(&a).contains("boundary=\"=_atsd.t1.0_example.org\""));
    }
}
