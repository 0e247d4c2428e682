//! The dispatcher (`atsd tick dispatch`): claims due outbox rows with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; `BEGIN IMMEDIATE` on SQLite),
//! sends them through one transport built from the configuration, and records
//! the outcome in batches. A permanent SMTP error (5xx) makes a row `dead` at
//! once with the server's reply; anything else is retried with exponential
//! backoff and jitter until `max_attempts`. A row left `sending` by a crash is
//! claimed again once its lease expires, with a log line saying a duplicate is
//! possible: the one duplicate window.

use crate::config::{Config, Tls, Transport};
use crate::error::{Error, Result};
use crate::store::Store;
use chrono::{DateTime, Duration, Utc};
use entity::{outbox, outbox_body};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart, header};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement, Value};
use serde::Serialize;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

/// How long a claimed row is ours before another dispatcher may take it.
pub const LEASE: Duration = Duration::minutes(5);
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
        .subject(body.subject.clone())
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
    b.multipart(MultiPart::alternative().singlepart(text).singlepart(html))
        .map_err(|e| format!("cannot build the message: {e}"))
}

/// Why a send failed, and whether trying again can help.
#[derive(Clone, Debug)]
pub struct SendError {
    pub permanent: bool,
    pub text: String,
}

/// A small pool of SMTP connections, each opened once and reused. atsd opens
/// the TCP connection itself so that it can set `TCP_NODELAY`: lettre writes
/// the final `.` of a message as a separate small packet, which Nagle's
/// algorithm would otherwise hold back until the server's delayed ACK (40 ms
/// per message on Linux).
pub struct SmtpPool {
    host: String,
    port: u16,
    tls: Tls,
    timeout: std::time::Duration,
    credentials: Option<Credentials>,
    idle: tokio::sync::Mutex<Vec<(AsyncSmtpConnection, tokio::time::Instant)>>,
    slots: tokio::sync::Semaphore,
}

fn smtp_err(e: lettre::transport::smtp::Error) -> SendError {
    SendError {
        permanent: e.is_permanent(),
        text: describe_smtp(&e),
    }
}

fn transient(text: String) -> SendError {
    SendError {
        permanent: false,
        text,
    }
}

impl SmtpPool {
    async fn connect(&self) -> std::result::Result<AsyncSmtpConnection, SendError> {
        let hello = ClientId::default();
        let tls_params = || {
            TlsParameters::new(self.host.clone())
                .map_err(|e| transient(format!("TLS setup for {}: {e}", self.host)))
        };
        let mut conn = if self.tls == Tls::Tls {
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &hello,
                Some(tls_params()?),
                None,
            )
            .await
            .map_err(smtp_err)?
        } else {
            let addr = format!("{}:{}", self.host, self.port);
            let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&addr))
                .await
                .map_err(|_| transient(format!("connection to {addr} timed out")))?
                .map_err(|e| transient(format!("connection to {addr} failed: {e}")))?;
            let _ = tcp.set_nodelay(true);
            let mut conn = tokio::time::timeout(
                self.timeout,
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello),
            )
            .await
            .map_err(|_| transient(format!("{addr}: timed out waiting for the greeting")))?
            .map_err(smtp_err)?;
            if self.tls == Tls::Starttls {
                if !conn.can_starttls() {
                    return Err(transient(format!(
                        "{addr} does not offer STARTTLS (tls = \"starttls\" requires it)"
                    )));
                }
                conn.starttls(tls_params()?, &hello)
                    .await
                    .map_err(smtp_err)?;
            }
            conn
        };
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(smtp_err)?;
        }
        Ok(conn)
    }

    async fn send(&self, msg: &Message) -> std::result::Result<(), SendError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| transient(e.to_string()))?;
        let reused = self.idle.lock().await.pop();
        let mut conn = match reused {
            // a connection idle for a while may have been closed by the server: check it
            Some((mut c, since)) if since.elapsed() > std::time::Duration::from_secs(5) => {
                if c.test_connected().await {
                    c
                } else {
                    self.connect().await?
                }
            }
            Some((c, _)) => c,
            None => self.connect().await?,
        };
        let bytes = msg.formatted();
        let res = tokio::time::timeout(self.timeout, conn.send(msg.envelope(), &bytes)).await;
        match res {
            Ok(Ok(_)) => {
                self.idle
                    .lock()
                    .await
                    .push((conn, tokio::time::Instant::now()));
                Ok(())
            }
            Ok(Err(e)) => {
                // a refused recipient leaves the connection usable; anything else may not
                if e.is_permanent() || e.is_transient() {
                    self.idle
                        .lock()
                        .await
                        .push((conn, tokio::time::Instant::now()));
                }
                Err(smtp_err(e))
            }
            Err(_) => Err(transient(format!(
                "timed out after {:?} sending the message",
                self.timeout
            ))),
        }
    }
}

/// Where emails go.
pub enum Sender {
    Smtp(SmtpPool),
    /// One `.eml` file per message in this folder.
    File(PathBuf),
    /// Only logged.
    Log,
}

fn smtp_password(config: &Config) -> Result<Option<String>> {
    let s = &config.mail.smtp;
    if let Some(var) = &s.password_env
        && let Ok(p) = std::env::var(var)
    {
        return Ok(Some(p));
    }
    let file = s.password_file.clone().or_else(|| {
        std::env::var_os("CREDENTIALS_DIRECTORY")
            .map(|d| PathBuf::from(d).join("smtp-password"))
            .filter(|p| p.is_file())
    });
    match file {
        Some(f) => std::fs::read_to_string(&f)
            .map(|p| Some(p.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|e| {
                Error::io(
                    format!("cannot read the SMTP password from {}", f.display()),
                    e,
                )
            }),
        None => Ok(None),
    }
}

impl Sender {
    /// Built once from the configuration and reused.
    pub fn from_config(config: &Config, outbox_dir: Option<PathBuf>) -> Result<Sender> {
        let m = &config.mail;
        Ok(match m.transport {
            Transport::Log => Sender::Log,
            Transport::File => {
                let dir = if m.file.dir.is_absolute() {
                    m.file.dir.clone()
                } else {
                    outbox_dir.unwrap_or_default().join(&m.file.dir)
                };
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
                Sender::File(dir)
            }
            Transport::Smtp => {
                let s = &m.smtp;
                let credentials = match &s.username {
                    Some(user) => Some(Credentials::new(
                        user.clone(),
                        smtp_password(config)?.unwrap_or_default(),
                    )),
                    None => None,
                };
                crate::poll::http::install_crypto();
                Sender::Smtp(SmtpPool {
                    host: s.host.clone(),
                    port: s.port,
                    tls: s.tls,
                    timeout: s.timeout.std(),
                    credentials,
                    idle: tokio::sync::Mutex::new(Vec::new()),
                    slots: tokio::sync::Semaphore::new(s.pool_size.max(1) as usize),
                })
            }
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
                let name: String = row
                    .message_id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '@' || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                tokio::fs::write(&path, msg.formatted())
                    .await
                    .map_err(|e| SendError {
                        permanent: false,
                        text: format!("cannot write {}: {e}", path.display()),
                    })
            }
            Sender::Log => {
                tracing::info!(to = %row.recipient, template = %row.template, message_id = %row.message_id, "email (log transport)");
                Ok(())
            }
        }
    }
}

fn describe_smtp(e: &lettre::transport::smtp::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg = format!("{msg}: {t}");
        }
        src = s.source();
    }
    if let Some(code) = e.status() {
        let c = code.to_string();
        if !msg.contains(&c) {
            msg = format!("{c} {msg}");
        }
    }
    if e.is_timeout() && !msg.contains("timed out") {
        msg = format!("timed out: {msg}");
    }
    msg
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    /// Rows taken over from an expired lease: their email may have gone out already.
    pub possible_duplicates: usize,
}

fn sql(backend: DbBackend, text: &str, values: Vec<Value>) -> Statement {
    // write `?` placeholders; PostgreSQL wants `$1, $2, ...`
    let text = if backend == DbBackend::Postgres {
        let mut out = String::new();
        let mut n = 0;
        for ch in text.chars() {
            if ch == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(ch);
            }
        }
        out
    } else {
        text.to_string()
    };
    Statement::from_sql_and_values(backend, text, values)
}

fn ids_list(ids: &[i64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Claims up to `limit` due rows for this dispatcher.
pub async fn claim(
    store: &Store,
    now: DateTime<Utc>,
    limit: usize,
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
            vec![(now + LEASE).into(), now.into()],
        ))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok((claimed, expired))
}

fn backoff(attempts: i32, seed: u64) -> Duration {
    crate::poll::decide::exp_backoff(BACKOFF_BASE, BACKOFF_MAX, attempts, seed)
}

enum Result1 {
    Sent,
    Retry(String),
    Dead(String),
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
    let pool = config.mail.smtp.pool_size.max(1) as usize;
    let batch = (pool * 250).max(250);
    let rate = config.mail.rate_per_second;
    let interval = if rate == 0 {
        std::time::Duration::ZERO
    } else {
        std::time::Duration::from_secs_f64(1.0 / rate as f64)
    };
    let limiter = Arc::new(tokio::sync::Mutex::new(tokio::time::Instant::now()));
    let (row_tx, row_rx) =
        tokio::sync::mpsc::channel::<(outbox::Model, Option<outbox_body::Model>)>(batch * 4);
    let row_rx = Arc::new(tokio::sync::Mutex::new(row_rx));
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<(outbox::Model, Result1)>(batch * 2);

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..pool {
        let (rx, tx, sender, limiter, config) = (
            row_rx.clone(),
            out_tx.clone(),
            sender.clone(),
            limiter.clone(),
            config.clone(),
        );
        workers.spawn(async move {
            loop {
                let Some((row, body)) = rx.lock().await.recv().await else {
                    break;
                };
                if !interval.is_zero() {
                    let mut next = limiter.lock().await;
                    tokio::time::sleep_until(*next).await;
                    *next = tokio::time::Instant::now().max(*next) + interval;
                }
                let composed = match &body {
                    Some(b) => compose(&config, &row, b, now),
                    None => Err("the rendered message of this email is missing".to_string()),
                };
                let outcome = match composed {
                    Err(e) => Result1::Dead(e),
                    Ok(msg) => match sender.send(msg, &row).await {
                        Ok(()) => Result1::Sent,
                        Err(e) if e.permanent => Result1::Dead(e.text),
                        Err(e) if row.attempts >= config.mail.max_attempts as i32 => Result1::Dead(
                            format!("{} (gave up after {} attempts)", e.text, row.attempts),
                        ),
                        Err(e) => Result1::Retry(e.text),
                    },
                };
                if tx.send((row, outcome)).await.is_err() {
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
        let mut open = true;
        while open {
            // wait for one outcome, then take whatever else is ready, up to a batch
            match out_rx.recv().await {
                Some(o) => push(o, &mut sent, &mut others),
                None => open = false,
            }
            // gather for a moment: fewer, larger commits keep the write lock
            // (and the fsync) away from the claimer
            let until = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
            while open && sent.len() + others.len() < batch {
                match tokio::time::timeout_at(until, out_rx.recv()).await {
                    Ok(Some(o)) => push(o, &mut sent, &mut others),
                    Ok(None) => open = false,
                    Err(_) => break,
                }
            }
            if sent.is_empty() && others.is_empty() {
                continue;
            }
            record(&rec_store, now, &sent, &others).await?;
            report.sent += sent.len();
            for (row, o) in &others {
                match o {
                    Result1::Retry(e) => {
                        report.retried += 1;
                        tracing::warn!(outbox = row.id, to = %row.recipient, attempt = row.attempts, error = %e, "send failed; will retry");
                    }
                    Result1::Dead(e) => {
                        report.dead += 1;
                        tracing::error!(outbox = row.id, to = %row.recipient, attempt = row.attempts, error = %e, "send failed for good; the email is dead");
                    }
                    Result1::Sent => {}
                }
            }
            sent.clear();
            others.clear();
        }
        Ok::<Report, Error>(report)
    });

    // the claimer: feeds the workers until nothing is due
    let mut claimed = 0;
    let mut duplicates = 0;
    let claim_result: Result<()> = async {
        loop {
            let (rows, expired) = claim(store, now, batch).await?;
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
    report.possible_duplicates = duplicates;
    Ok(report)
}

fn push(
    o: (outbox::Model, Result1),
    sent: &mut Vec<i64>,
    others: &mut Vec<(outbox::Model, Result1)>,
) {
    match o {
        (row, Result1::Sent) => sent.push(row.id),
        other => others.push(other),
    }
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
    let txn = store.begin_write().await?;
    if !sent.is_empty() {
        txn.execute_raw(sql(
            backend,
            &format!(
                "UPDATE outbox SET status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL, updated_at = ? \
                 WHERE id IN ({}) AND status = 'sending'",
                ids_list(sent)
            ),
            vec![now.into(), now.into()],
        ))
        .await?;
    }
    for (row, o) in others {
        let (status, next, err) = match o {
            Result1::Retry(e) => ("pending", now + backoff(row.attempts, row.id as u64), e),
            Result1::Dead(e) => ("dead", now, e),
            Result1::Sent => continue,
        };
        txn.execute_raw(sql(
            backend,
            "UPDATE outbox SET status = ?, next_attempt_at = ?, last_error = ?, lease_until = NULL, updated_at = ? \
             WHERE id = ? AND status = 'sending'",
            vec![status.into(), next.into(), err.clone().into(), now.into(), row.id.into()],
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(())
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
}
