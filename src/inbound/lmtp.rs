//! LMTP (RFC 2033) on loopback, for an MTA that delivers to atsd
//! (Postfix: `virtual_transport = lmtp:inet:127.0.0.1:2424`). Each message
//! goes through [`super::receive`] once, and every recipient gets the
//! answer: `250` when it is stored, `451 4.3.0` when it cannot be now (the
//! MTA tries again), `552 5.3.4` over `max_size`. No authentication: the
//! listener must be on loopback (the configuration refuses anything else).
//!
//! Limits, each answered as RFC 5321 says: command lines of 1,000 bytes
//! (`500 5.5.2`), DATA kept only up to `max_size` while it is read
//! (`552 5.3.4`), 16 connections in all and 8 per client address (`421`),
//! 5 minutes of silence (10 s while most slots are taken) and 30 minutes
//! a connection.

use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Connections served at once.
const MAX_CONNECTIONS: usize = 16;
/// Connections served at once for one client address (the loopback range
/// has many: an MTA on 127.0.0.1 keeps its slots whoever else connects).
const MAX_PER_CLIENT: usize = 8;
/// A command line's longest (RFC 5321 §4.5.3.1.4: 512 octets; a text line
/// 1000, the CRLF included).
const MAX_LINE: usize = 1000;
/// How long a client may stay silent (RFC 5321 §4.5.3.2: 5 minutes).
const IDLE: Duration = Duration::from_secs(300);
/// How long it may stay silent while most slots are taken: as Postfix's
/// stress mode, idle clients make room quickly when others wait.
const IDLE_UNDER_STRESS: Duration = Duration::from_secs(10);
/// The longest a connection lasts, whatever it does.
const SESSION: Duration = Duration::from_secs(30 * 60);
/// DATA is read in pieces of at most this many bytes: a line without end
/// never sits whole in memory.
const DATA_CHUNK: usize = 64 * 1024;

/// What the listener needs: the store, and the daemon's configuration of
/// the moment.
#[derive(Clone)]
pub struct Lmtp {
    pub store: Store,
    pub current: Arc<crate::jobs::Current>,
}

/// Binds the listener; the error names the address.
pub async fn bind(listen: &str) -> crate::error::Result<TcpListener> {
    TcpListener::bind(listen).await.map_err(|e| {
        crate::error::Error::io(
            format!("cannot listen on mail.inbound.lmtp_listen `{listen}`"),
            e,
        )
    })
}

/// The connections of the moment: in all, and for each client address.
#[derive(Default)]
struct Slots {
    per_client: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    total: std::sync::atomic::AtomicUsize,
}

/// One connection's place in [`Slots`], given back when dropped.
struct Slot {
    slots: Arc<Slots>,
    ip: std::net::IpAddr,
}

impl Slots {
    /// A slot for a connection from `ip`, or the reply that refuses it.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr) -> Result<Slot, &'static [u8]> {
        let mut per = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
        let total = self.total.load(std::sync::atomic::Ordering::SeqCst);
        if total >= MAX_CONNECTIONS {
            return Err(b"421 4.3.2 too many connections, try again later\r\n");
        }
        let mine = per.entry(ip).or_insert(0);
        if *mine >= MAX_PER_CLIENT {
            return Err(b"421 4.7.0 too many connections from your address, try again later\r\n");
        }
        *mine += 1;
        self.total.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Slot {
            slots: self.clone(),
            ip,
        })
    }

    /// How long a client may stay silent now.
    fn idle(&self) -> Duration {
        if self.total.load(std::sync::atomic::Ordering::SeqCst) * 4 > MAX_CONNECTIONS * 3 {
            IDLE_UNDER_STRESS
        } else {
            IDLE
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per = self
            .slots
            .per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
        self.slots
            .total
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Serves until `stop`.
pub async fn serve(listener: TcpListener, lmtp: Lmtp, stop: CancellationToken) {
    let slots = Arc::new(Slots::default());
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                tracing::info!(peer = %peer, "LMTP connection refused: {}",
                    String::from_utf8_lossy(refusal).trim_end());
                let mut s = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), s.write_all(refusal)).await;
                continue;
            }
        };
        let (lmtp, stop, slots) = (lmtp.clone(), stop.clone(), slots.clone());
        tokio::spawn(async move {
            let _slot = slot;
            tokio::select! {
                _ = stop.cancelled() => {}
                r = tokio::time::timeout(SESSION, session(stream, &lmtp, &slots)) => {
                    match r {
                        Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "LMTP session ended"),
                        Err(_) => tracing::info!(peer = %peer, "LMTP session closed after {} minutes", SESSION.as_secs() / 60),
                        Ok(Ok(())) => {}
                    }
                }
            }
        });
    }
}

async fn session(stream: TcpStream, lmtp: &Lmtp, slots: &Slots) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 atsd LMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let line = match read_line(&mut read, slots).await {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                let _ = write
                    .write_all(b"421 4.4.2 atsd closing the connection: idle too long\r\n")
                    .await;
                return Ok(());
            }
            r => r?,
        };
        let Some(line) = line else {
            return Ok(());
        };
        let Some(line) = line else {
            write.write_all(b"500 5.5.2 line too long\r\n").await?;
            continue;
        };
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        let max = max_size(lmtp);
        let reply: String = match verb {
            "LHLO" => format!(
                "250-atsd\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE {max}\r\n"
            ),
            "MAIL" if upper.starts_with("MAIL FROM:") => {
                let size = upper
                    .split_whitespace()
                    .find_map(|p| p.strip_prefix("SIZE="))
                    .and_then(|s| s.parse::<u64>().ok());
                if size.is_some_and(|s| s > max) {
                    "552 5.3.4 message too big for atsd (mail.inbound.max_size)\r\n".into()
                } else {
                    from = Some(path_of(&line["MAIL FROM:".len()..]));
                    rcpts.clear();
                    "250 2.1.0 sender ok\r\n".into()
                }
            }
            "RCPT" if upper.starts_with("RCPT TO:") => {
                if from.is_none() {
                    "503 5.5.1 MAIL first\r\n".into()
                } else if rcpts.len() >= 100 {
                    "452 4.5.3 too many recipients\r\n".into()
                } else {
                    rcpts.push(path_of(&line["RCPT TO:".len()..]));
                    "250 2.1.5 recipient ok\r\n".into()
                }
            }
            "DATA" => {
                if rcpts.is_empty() {
                    "503 5.5.1 RCPT first\r\n".into()
                } else {
                    write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                    let data = match read_data(&mut read, max, slots).await {
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                            let _ = write
                                .write_all(
                                    b"421 4.4.2 atsd closing the connection: idle too long\r\n",
                                )
                                .await;
                            return Ok(());
                        }
                        r => r?,
                    };
                    let answer = match data {
                        None => "552 5.3.4 message too big for atsd (mail.inbound.max_size)\r\n"
                            .to_string(),
                        Some(raw) => deliver(lmtp, &raw, &rcpts).await,
                    };
                    let all = answer.repeat(rcpts.len());
                    from = None;
                    rcpts.clear();
                    all
                }
            }
            "RSET" => {
                from = None;
                rcpts.clear();
                "250 2.0.0 ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 ok\r\n".into(),
            "VRFY" => "252 2.5.0 cannot verify\r\n".into(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "500 5.5.1 unknown command\r\n".into(),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

fn max_size(lmtp: &Lmtp) -> u64 {
    lmtp.current
        .get()
        .and_then(|r| r.config.mail.inbound.as_ref().map(|i| i.max_size.0))
        .unwrap_or(10 * 1024 * 1024)
}

/// `<a@b> SIZE=1` → `a@b`.
fn path_of(rest: &str) -> String {
    let rest = rest.trim();
    match (rest.find('<'), rest.find('>')) {
        (Some(a), Some(b)) if a < b => rest[a + 1..b].to_string(),
        _ => rest.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// Reads up to and including `\n` into `buf`, at most `limit` bytes; the
/// bytes read (0 at the end of the stream). Gives up with `TimedOut` once
/// the client has been silent longer than the slots allow, looked at each
/// second: when most slots fill up, clients already waiting are let go
/// after the shorter time too. (`read_until` leaves what it read in `buf`
/// when its future is dropped, so nothing is lost between the looks.)
async fn read_until_idle<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
    slots: &Slots,
) -> std::io::Result<usize> {
    let start = buf.len();
    let mut heard = tokio::time::Instant::now();
    loop {
        let before = buf.len();
        let room = (limit - (buf.len() - start)) as u64;
        let mut limited = (&mut *r).take(room);
        let read = limited.read_until(b'\n', buf);
        match tokio::time::timeout(Duration::from_secs(1), read).await {
            Ok(done) => {
                done?;
                return Ok(buf.len() - start);
            }
            Err(_) => {
                if buf.len() > before {
                    heard = tokio::time::Instant::now();
                }
                if heard.elapsed() >= slots.idle() {
                    return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"));
                }
            }
        }
    }
}

/// One line without its CRLF; `Ok(None)` at the end of the stream,
/// `Ok(Some(None))` for a line too long (read to its end and dropped).
async fn read_line<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    slots: &Slots,
) -> std::io::Result<Option<Option<String>>> {
    let mut buf = Vec::new();
    let n = read_until_idle(r, &mut buf, MAX_LINE + 2, slots).await?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        // too long: skip to the end of the line
        let mut rest = Vec::new();
        loop {
            rest.clear();
            let m = read_until_idle(r, &mut rest, 64 * 1024, slots).await?;
            if m == 0 || rest.ends_with(b"\n") {
                break;
            }
        }
        return Ok(Some(None));
    }
    let s = String::from_utf8_lossy(&buf)
        .trim_end_matches(['\r', '\n'])
        .to_string();
    Ok(Some(Some(s)))
}

/// The message up to `.` on a line of its own, dot-stuffing undone; `None`
/// when it grew over `max`. It is read in pieces of at most
/// [`DATA_CHUNK`] bytes, so a line without end never sits whole in memory,
/// and nothing is kept past `max` (the rest is read and dropped, to answer
/// 552 in step with the client).
async fn read_data<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    max: u64,
    slots: &Slots,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut over = false;
    // the next piece starts a line (where `.` ends the data and `..` is
    // a stuffed dot)
    let mut line_start = true;
    let mut piece = Vec::new();
    loop {
        piece.clear();
        let n = read_until_idle(r, &mut piece, DATA_CHUNK, slots).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the client left in DATA",
            ));
        }
        if line_start && (piece == b".\r\n" || piece == b".\n") {
            break;
        }
        let body = if line_start && piece.starts_with(b"..") {
            &piece[1..]
        } else {
            &piece[..]
        };
        line_start = piece.ends_with(b"\n");
        if !over {
            out.extend_from_slice(body);
            if out.len() as u64 > max {
                over = true;
                out = Vec::new();
            }
        }
    }
    Ok(if over { None } else { Some(out) })
}

/// Takes the message for its recipients: the one answer each gets.
async fn deliver(lmtp: &Lmtp, raw: &[u8], rcpts: &[String]) -> String {
    let Some(runner) = lmtp.current.get() else {
        return "451 4.3.0 atsd is starting, try again later\r\n".into();
    };
    let ctx = runner.ctx(chrono::Utc::now());
    match super::receive::receive(&lmtp.store, &ctx, raw, rcpts).await {
        Ok(r) => {
            tracing::info!(id = r.id, kind = %r.kind, status = %r.status, duplicate = r.duplicate,
                "inbound message (LMTP): {}", r.note);
            format!("250 2.0.0 taken: {}\r\n", r.kind)
        }
        Err(e) => {
            tracing::warn!(error = %e, "an inbound message could not be stored: the MTA will try again");
            "451 4.3.0 cannot store the message now, try again later\r\n".into()
        }
    }
}
