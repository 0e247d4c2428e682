//! LMTP (RFC 2033) on loopback, for an MTA that delivers to atsd
//! (Postfix: `virtual_transport = lmtp:inet:127.0.0.1:2424`). Each message
//! goes through [`super::receive`] once, and every recipient gets the
//! answer: `250` when it is stored, `451 4.3.0` when it cannot be now (the
//! MTA tries again), `552 5.3.4` over `max_size`. No authentication: the
//! listener must be on loopback (the configuration refuses anything else).

use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Connections served at once.
const MAX_CONNECTIONS: usize = 16;
/// A command line's longest (RFC 5321: 512 octets; a text line 1000).
const MAX_LINE: usize = 1000;
/// How long a client may stay silent.
const IDLE: Duration = Duration::from_secs(300);

/// What the listener needs: the store, and the daemon's configuration of
/// the moment.
#[derive(Clone)]
pub struct Lmtp {
    pub store: Store,
    pub current: Arc<crate::api::Current>,
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

/// Serves until `stop`.
pub async fn serve(listener: TcpListener, lmtp: Lmtp, stop: CancellationToken) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let mut s = stream;
            let _ = s
                .write_all(b"421 4.3.2 too many connections, try again later\r\n")
                .await;
            continue;
        };
        let (lmtp, stop) = (lmtp.clone(), stop.clone());
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                _ = stop.cancelled() => {}
                r = session(stream, &lmtp) => {
                    if let Err(e) = r {
                        tracing::debug!(peer = %peer, error = %e, "LMTP session ended");
                    }
                }
            }
        });
    }
}

async fn session(stream: TcpStream, lmtp: &Lmtp) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 atsd LMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let Some(line) = read_line(&mut read).await? else {
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
                    let data = read_data(&mut read, max).await?;
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

/// One line without its CRLF; `Ok(None)` at the end of the stream,
/// `Ok(Some(None))` for a line too long (read to its end and dropped).
async fn read_line<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<Option<String>>> {
    let mut buf = Vec::new();
    let n = tokio::time::timeout(
        IDLE,
        (&mut *r)
            .take(MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut buf),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        // too long: skip to the end of the line
        let mut rest = Vec::new();
        loop {
            rest.clear();
            let m = (&mut *r)
                .take(64 * 1024)
                .read_until(b'\n', &mut rest)
                .await?;
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
/// when it grew over `max` (read to its end all the same).
async fn read_data<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    max: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut over = false;
    loop {
        let mut line = Vec::new();
        let n = tokio::time::timeout(IDLE, r.read_until(b'\n', &mut line))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the client left in DATA",
            ));
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let body = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
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
