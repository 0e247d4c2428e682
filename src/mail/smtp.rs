//! The SMTP side of the dispatcher: a small pool of lettre connections, each
//! opened once and reused, and the mail transaction itself.
//!
//! Two things here go beyond `AsyncSmtpConnection::send`, both measured in
//! BENCHMARKS.md:
//! - atsd opens the TCP connection itself to set `TCP_NODELAY`: lettre writes
//!   the final `.` of a message as a separate small packet, which Nagle's
//!   algorithm would hold back until the server's delayed ACK (40 ms per
//!   message on Linux).
//! - When the server advertises PIPELINING (RFC 2920; Postfix, Exim, Exchange
//!   and the large providers all do), MAIL, RCPT and DATA go out in one write
//!   and their replies are read together: two round trips per message instead
//!   of four. lettre parses the replies and escapes the body as always; the
//!   connection stays usable after a refused recipient (RSET), where lettre's
//!   own `send` closes it on any error.
//!
//! And one for mail that comes back: when the server offers DSN (RFC 3461)
//! and the envelope sender is a VERP bounce address, MAIL carries
//! `RET=HDRS` (a report returns the headers, not the candidate's whole
//! email) and `ENVID=<row>-<tag>`, which a report gives back as
//! `Original-Envelope-Id` even when it reaches atsd by another address.

use crate::config::{Config, Tls};
use crate::error::{Error, Result};
use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, MailParameter};
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// Why a send failed, and whether trying again can help.
#[derive(Clone, Debug)]
pub struct SendError {
    pub kind: Failure,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server refused this message for good (5xx).
    Permanent,
    /// Worth trying again later (4xx, a timeout, a dropped connection).
    Transient,
    /// The transport itself failed (no connection, greeting, STARTTLS or
    /// login; an unwritable outbox folder): every other email would fail the
    /// same way, so the run stops sending.
    Unavailable,
    /// No reply came after the whole message was written: the server may
    /// have kept it (the RFC 1047 window).
    MaybeDelivered,
}

impl SendError {
    pub fn new(kind: Failure, text: String) -> SendError {
        SendError { kind, text }
    }
}

fn smtp_err(e: SmtpError) -> SendError {
    let kind = if e.is_permanent() {
        Failure::Permanent
    } else {
        Failure::Transient
    };
    SendError::new(kind, describe(&e))
}

fn transient(text: String) -> SendError {
    SendError::new(Failure::Transient, text)
}

/// A server's reply (as opposed to a broken or unreadable connection).
fn is_reply(e: &SmtpError) -> bool {
    e.is_permanent() || e.is_transient()
}

/// The whole story of an SMTP error: lettre's message, its sources, the reply
/// code, and whether it was a timeout.
pub fn describe(e: &SmtpError) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if t.contains(&msg) {
            // the cause already says it all ("connection error: …")
            msg = t;
        } else if !msg.contains(&t) {
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

/// What must be true before a message's body goes out: a future that says
/// whether the sender may go on (the dispatcher's durable mark that the
/// message may reach the server; always true when nothing is to be marked).
/// Awaited after the server accepted MAIL, RCPT and DATA (the 354), so the
/// mark's commit and the envelope's round trip overlap.
pub type Gate = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// A gate that is always open.
pub fn open_gate() -> Gate {
    Box::pin(std::future::ready(true))
}

/// The gate stayed shut: nothing of the body was written, and the run stops.
fn gate_shut() -> SendError {
    SendError::new(
        Failure::Unavailable,
        "the email could not be marked as going out in the database; not sent".into(),
    )
}

/// One open SMTP connection and what its server offers.
struct Conn {
    smtp: AsyncSmtpConnection,
    pipelining: bool,
    /// The server offers DSN (RFC 3461): MAIL may carry RET and ENVID.
    dsn: bool,
    idle_since: Instant,
    /// Between writing the body and reading its reply.
    in_body: bool,
}

/// Does this EHLO reply advertise `keyword` (PIPELINING, DSN)? (lettre
/// keeps only the extensions it uses itself, so atsd reads the keyword from
/// the reply.)
fn advertises<'a>(mut lines: impl Iterator<Item = &'a str>, keyword: &str) -> bool {
    // the first line is the server's name, the others one keyword each
    lines.next();
    lines.any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

/// MAIL's DSN parameters for a VERP sender (`bounces+<row>-<tag>@…`):
/// headers only in a report, and the row and its tag as the envelope id.
fn dsn_parameters(from: Option<&Address>) -> Vec<MailParameter> {
    let Some(envid) = from.and_then(|a| a.user().strip_prefix("bounces+")) else {
        return Vec::new();
    };
    vec![
        MailParameter::Other {
            keyword: "RET".into(),
            value: Some("HDRS".into()),
        },
        MailParameter::Other {
            keyword: "ENVID".into(),
            value: Some(envid.to_string()),
        },
    ]
}

fn is_ascii_address(a: &Address) -> bool {
    let s: &str = a.as_ref();
    s.is_ascii()
}

/// How a transaction ended, and whether the connection can carry the next.
struct Outcome {
    result: std::result::Result<(), SendError>,
    reusable: bool,
}

impl Outcome {
    fn sent() -> Outcome {
        Outcome {
            result: Ok(()),
            reusable: true,
        }
    }

    fn failed(e: SendError, reusable: bool) -> Outcome {
        Outcome {
            result: Err(e),
            reusable,
        }
    }
}

/// The connection broke after the whole message and its final `.` were
/// written: the server may have accepted it (the RFC 1047 window).
fn lost_after_body(text: String) -> SendError {
    SendError::new(
        Failure::MaybeDelivered,
        format!("{text} (after the whole message was sent: the server may have accepted it)"),
    )
}

impl Conn {
    /// MAIL, RCPT and DATA: pipelined as one write when the server allows,
    /// else one at a time. Ok when DATA was answered 354.
    async fn envelope(&mut self, envelope: &Envelope) -> std::result::Result<(), Outcome> {
        let parameters = if self.dsn {
            dsn_parameters(envelope.from())
        } else {
            Vec::new()
        };
        let mut commands = vec![Mail::new(envelope.from().cloned(), parameters).to_string()];
        commands.extend(
            envelope
                .to()
                .iter()
                .map(|to| Rcpt::new(to.clone(), vec![]).to_string()),
        );
        commands.push(Data.to_string());
        let last = commands.len() - 1;
        if self.pipelining {
            // one write, then one reply per command, in order
            let mut refusal = None;
            for n in 0..=last {
                let reply = if n == 0 {
                    self.smtp.command(commands.concat()).await
                } else {
                    self.smtp.read_response().await
                };
                match reply {
                    Ok(_) if n == last => {
                        return match refusal {
                            None => Ok(()),
                            // DATA accepted although a command before it was
                            // refused: the server waits for a body we will not
                            // send; dropping the connection without the final
                            // `.` discards the transaction
                            Some(e) => Err(Outcome::failed(smtp_err(e), false)),
                        };
                    }
                    Ok(_) => {}
                    Err(e) if is_reply(&e) => {
                        refusal.get_or_insert(e);
                    }
                    // the connection broke: a refusal read before it is still
                    // the answer (say 550 to MAIL, then the server hung up)
                    Err(e) => {
                        return Err(Outcome::failed(smtp_err(refusal.unwrap_or(e)), false));
                    }
                }
            }
            // DATA refused too (as it should be after a refusal): the
            // connection is in step; reset and keep it
            Err(match refusal {
                Some(e) => self.refused(e).await,
                None => Outcome::failed(transient("no reply to DATA".into()), false),
            })
        } else {
            for command in commands {
                match self.smtp.command(command).await {
                    Ok(_) => {}
                    Err(e) if is_reply(&e) => {
                        return Err(self.refused(e).await);
                    }
                    Err(e) => return Err(Outcome::failed(smtp_err(e), false)),
                }
            }
            Ok(())
        }
    }

    /// Refused before DATA: reset the transaction and keep the connection.
    async fn refused(&mut self, e: SmtpError) -> Outcome {
        let reusable = self.smtp.command(Rset).await.is_ok();
        Outcome::failed(smtp_err(e), reusable)
    }

    async fn transact(&mut self, envelope: &Envelope, bytes: &[u8], gate: Gate) -> Outcome {
        let plain = bytes.is_ascii()
            && envelope.from().is_none_or(is_ascii_address)
            && envelope.to().iter().all(is_ascii_address);
        if !plain {
            // lettre's own transaction: it negotiates SMTPUTF8/8BITMIME, and
            // closes the connection on any error (atsd's messages are ASCII:
            // quoted-printable bodies, RFC 2047 headers; only an address with
            // non-ASCII characters comes here); the gate before all of it
            if !gate.await {
                return Outcome::failed(gate_shut(), true);
            }
            return match self.smtp.send(envelope, bytes).await {
                Ok(_) => Outcome::sent(),
                Err(e) => Outcome::failed(smtp_err(e), false),
            };
        }
        if let Err(outcome) = self.envelope(envelope).await {
            return outcome;
        }
        if !gate.await {
            // the server waits for a body that will not come: dropping the
            // connection without the final `.` discards the transaction
            return Outcome::failed(gate_shut(), false);
        }
        self.in_body = true;
        let reply = self.smtp.message(bytes).await;
        self.in_body = false;
        match reply {
            Ok(_) => Outcome::sent(),
            // the final reply ends the transaction either way
            Err(e) if is_reply(&e) => Outcome::failed(smtp_err(e), true),
            Err(e) => Outcome::failed(lost_after_body(describe(&e)), false),
        }
    }
}

/// A small pool of SMTP connections, each opened once and reused.
pub struct SmtpPool {
    host: String,
    port: u16,
    tls: Tls,
    timeout: Duration,
    credentials: Option<Credentials>,
    /// Built once: the public roots plus `ca_file`'s certificates.
    tls_params: Option<TlsParameters>,
    idle: tokio::sync::Mutex<Vec<Conn>>,
    slots: tokio::sync::Semaphore,
}

/// The SMTP password: `password_env`, else `password_file`, else the systemd
/// credential `smtp-password`.
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
        Some(f) => crate::secret_file::read(&f, "mail.smtp.password_file")
            .map(|p| Some(p.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(Error::input),
        None => Ok(None),
    }
}

impl SmtpPool {
    /// Built once from `[mail.smtp]`; connections open on first use.
    pub fn from_config(config: &Config) -> Result<SmtpPool> {
        let s = &config.mail.smtp;
        let credentials = match &s.username {
            Some(user) => Some(Credentials::new(
                user.clone(),
                smtp_password(config)?.unwrap_or_default(),
            )),
            None => None,
        };
        crate::tls::install_crypto();
        let tls_params = match s.tls {
            Tls::None => None,
            Tls::Starttls | Tls::Tls => {
                let mut b = TlsParameters::builder(s.host.clone());
                if let Some(ca) = &s.ca_file {
                    let cert = crate::tls::read_ca_file(ca)
                        .map_err(|e| Error::input(format!("mail.smtp.ca_file: {e}")))?;
                    b = b.add_root_certificate(cert);
                }
                Some(b.build_rustls().map_err(|e| {
                    Error::input(format!("mail.smtp: TLS setup for {}: {e}", s.host))
                })?)
            }
        };
        Ok(SmtpPool {
            host: s.host.clone(),
            port: s.port,
            tls: s.tls,
            timeout: s.timeout.std(),
            credentials,
            tls_params,
            idle: tokio::sync::Mutex::new(Vec::new()),
            slots: tokio::sync::Semaphore::new(s.pool_size.max(1) as usize),
        })
    }

    async fn connect(&self) -> std::result::Result<Conn, SendError> {
        let hello = ClientId::default();
        let tls_params = || {
            self.tls_params
                .clone()
                .ok_or_else(|| transient(format!("no TLS setup for {}", self.host)))
        };
        let mut smtp = if self.tls == Tls::Tls {
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &hello,
                Some(tls_params()?),
                None,
            )
            .await
            .map_err(|e| {
                transient(format!(
                    "TLS connection to {}:{} failed: {}",
                    self.host,
                    self.port,
                    describe(&e)
                ))
            })?
        } else {
            let addr = format!("{}:{}", self.host, self.port);
            let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&addr))
                .await
                .map_err(|_| transient(format!("connection to {addr} timed out")))?
                .map_err(|e| transient(format!("connection to {addr} failed: {e}")))?;
            let _ = tcp.set_nodelay(true);
            let mut smtp = tokio::time::timeout(
                self.timeout,
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello),
            )
            .await
            .map_err(|_| transient(format!("{addr}: timed out waiting for the greeting")))?
            .map_err(smtp_err)?;
            if self.tls == Tls::Starttls {
                if !smtp.can_starttls() {
                    return Err(transient(format!(
                        "{addr} does not offer STARTTLS (tls = \"starttls\" requires it)"
                    )));
                }
                smtp.starttls(tls_params()?, &hello).await.map_err(|e| {
                    transient(format!("STARTTLS with {addr} failed: {}", describe(&e)))
                })?;
            }
            smtp
        };
        // lettre read the EHLO reply but keeps only the extensions it uses;
        // ask again (before AUTH, which a new EHLO could reset) for PIPELINING
        // and DSN
        let ehlo = smtp.command(Ehlo::new(hello)).await.map_err(smtp_err)?;
        let pipelining = advertises(ehlo.message(), "PIPELINING");
        let dsn = advertises(ehlo.message(), "DSN");
        if let Some(c) = &self.credentials {
            smtp.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(smtp_err)?;
        }
        tracing::debug!(host = %self.host, pipelining, dsn, "SMTP connection open");
        Ok(Conn {
            smtp,
            pipelining,
            dsn,
            idle_since: Instant::now(),
            in_body: false,
        })
    }

    /// An idle connection that still works, or a new one.
    async fn checkout(&self) -> std::result::Result<Conn, SendError> {
        loop {
            let Some(mut c) = self.idle.lock().await.pop() else {
                return self.connect().await;
            };
            if c.smtp.has_broken() {
                continue;
            }
            // a connection idle for a while may have been closed by the server
            if c.idle_since.elapsed() > Duration::from_secs(5) && !c.smtp.test_connected().await {
                continue;
            }
            return Ok(c);
        }
    }

    /// Sends one message; its body goes out once `gate` opens.
    pub async fn send(
        &self,
        msg: &lettre::Message,
        gate: Gate,
    ) -> std::result::Result<(), SendError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| transient(e.to_string()))?;
        // a server that cannot be reached, greeted or logged into is not this
        // message's fault, even when it answers 5xx (a wrong password: 535)
        let mut conn = self
            .checkout()
            .await
            .map_err(|e| SendError::new(Failure::Unavailable, e.text))?;
        let bytes = msg.formatted();
        match tokio::time::timeout(self.timeout, conn.transact(msg.envelope(), &bytes, gate)).await
        {
            Ok(outcome) => {
                if outcome.reusable {
                    conn.idle_since = Instant::now();
                    self.idle.lock().await.push(conn);
                }
                outcome.result
            }
            Err(_) if conn.in_body => Err(lost_after_body(format!(
                "timed out after {:?} waiting for the reply to the message",
                self.timeout
            ))),
            Err(_) => Err(transient(format!(
                "timed out after {:?} sending the message",
                self.timeout
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelining_is_read_from_the_keyword_lines_only() {
        let reply = ["mx.example.org", "SIZE 10240000", "pipelining", "8BITMIME"];
        assert!(advertises(reply.iter().copied(), "PIPELINING"));
        let without = ["mx.example.org Hello", "SIZE 10240000", "8BITMIME"];
        assert!(!advertises(without.iter().copied(), "PIPELINING"));
        // a server named PIPELINING advertises nothing by its name
        assert!(!advertises(["PIPELINING"].iter().copied(), "PIPELINING"));
        assert!(advertises(["mx", "DSN"].iter().copied(), "DSN"));
    }

    #[test]
    fn a_verp_sender_asks_for_headers_only_and_names_its_row_as_the_envelope_id() {
        let verp: Address = "bounces+17-0123456789ab@jobs.example.org".parse().unwrap();
        let mail = Mail::new(Some(verp.clone()), dsn_parameters(Some(&verp)));
        assert_eq!(
            mail.to_string(),
            "MAIL FROM:<bounces+17-0123456789ab@jobs.example.org> RET=HDRS ENVID=17-0123456789ab\r\n"
        );
        // a plain sender asks nothing (no [mail.inbound]: no report to read)
        let plain: Address = "jobs@example.org".parse().unwrap();
        assert!(dsn_parameters(Some(&plain)).is_empty());
        assert!(dsn_parameters(None).is_empty());
    }
}
