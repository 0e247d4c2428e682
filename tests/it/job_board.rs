//! A local HTTP server that plays a job board (Greenhouse, Lever, Ashby, or a
//! careers page), scripted per path, logging every request. Raw HTTP/1.1 over
//! a loopback socket, so that it can also misbehave: stall, reset, trickle,
//! send more than it should.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, headers and body (Content-Length set).
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// 200 with this ETag, or 304 when the request sends it back.
    Etag { etag: String, body: String },
    /// Wait, then answer.
    Delay(Duration, Box<Reply>),
    /// Read the request, then close the connection without a word.
    Reset,
    /// Claim a length, send part of it, close.
    Truncated { claimed: usize, body: Vec<u8> },
    /// A body of this many bytes with no Content-Length, until the client hangs up.
    Endless(usize),
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn html(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn with(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Full {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Reply::Full {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }

    pub fn redirect(to: &str) -> Reply {
        Reply::html(302, "moved").with("Location", to)
    }
}

#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    /// path (without query) -> replies to play in order; the last one repeats
    routes: HashMap<String, VecDeque<Reply>>,
    log: Vec<Request>,
}

pub struct Board {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _thread: std::thread::JoinHandle<()>,
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

async fn read_request(sock: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 64 * 1024 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let first = lines.next()?;
    let target = first.split_whitespace().nth(1)?.to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Some(Request {
        path: target,
        headers,
    })
}

async fn write_full(sock: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body).await;
    let _ = sock.flush().await;
}

async fn play(sock: &mut TcpStream, reply: Reply, req: &Request) {
    let mut reply = reply;
    loop {
        match reply {
            Reply::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                reply = *inner;
            }
            Reply::Full {
                status,
                headers,
                body,
            } => return write_full(sock, status, &headers, &body).await,
            Reply::Etag { etag, body } => {
                if req.header("If-None-Match") == Some(etag.as_str()) {
                    return write_full(sock, 304, &[("ETag".into(), etag)], b"").await;
                }
                let headers = vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("ETag".into(), etag),
                    (
                        "Last-Modified".into(),
                        "Wed, 25 Nov 2026 08:00:00 GMT".into(),
                    ),
                    (
                        "Cache-Control".into(),
                        "max-age=0, private, must-revalidate".into(),
                    ),
                ];
                return write_full(sock, 200, &headers, body.as_bytes()).await;
            }
            Reply::Reset => return,
            Reply::Truncated { claimed, body } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {claimed}\r\n\r\n"
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                return;
            }
            Reply::Endless(n) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < n {
                    if sock.write_all(&chunk).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
                return;
            }
        }
    }
}

impl Board {
    pub fn start() -> Board {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("board runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind board");
                tx.send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                loop {
                    let Ok((mut sock, _)) = listener.accept().await else {
                        continue;
                    };
                    let st = st.clone();
                    tokio::spawn(async move {
                        let Some(req) = read_request(&mut sock).await else {
                            return;
                        };
                        let path = req.path.split('?').next().unwrap_or("").to_string();
                        let reply = {
                            let mut s = st.lock().expect("board state");
                            s.log.push(req.clone());
                            match s.routes.get_mut(&path) {
                                Some(q) if q.len() > 1 => q.pop_front(),
                                Some(q) => q.front().cloned(),
                                None => None,
                            }
                        };
                        let reply = reply.unwrap_or_else(|| {
                            Reply::json(404, r#"{"status":404,"error":"Not found"}"#)
                        });
                        play(&mut sock, reply, &req).await;
                    });
                }
            });
        });
        let addr = rx.recv().expect("board address");
        Board {
            addr,
            state,
            _thread: thread,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replies for `path`, played in order; the last one repeats.
    pub fn route(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .expect("board state")
            .routes
            .insert(path.to_string(), replies.into());
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("board state").log.clone()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .count()
    }
}

/// A Greenhouse job object.
pub fn gh_job(id: u64, title: &str) -> String {
    format!(
        r#"{{"id":{id},"internal_job_id":null,"title":"{title}","updated_at":"2026-11-20T10:00:00-05:00","first_published":"2026-10-01T09:00:00-04:00","requisition_id":null,"location":{{"name":"Remote"}},"absolute_url":"https://boards.greenhouse.io/acme/jobs/{id}","metadata":null,"content":"&lt;p&gt;Hi&lt;/p&gt;"}}"#
    )
}

pub fn gh_list(ids: &[u64]) -> String {
    let jobs: Vec<String> = ids
        .iter()
        .map(|i| gh_job(*i, &format!("Job {i}")))
        .collect();
    format!(
        r#"{{"jobs":[{}],"meta":{{"total":{}}}}}"#,
        jobs.join(","),
        ids.len()
    )
}

pub const GH_404: &str = r#"{"status":404,"error":"Job not found"}"#;
