//! Poll benchmark: 10,000 postings on 100 Greenhouse boards, served by a local
//! HTTP/1.1 server (keep-alive), polled twice in the same run:
//!
//! 1. grouped by board (one list request per board), as atsd does;
//! 2. one request per posting (the reference).
//!
//! Prints wall time, requests, polls/s and peak RSS for each, as a Markdown
//! table for BENCHMARKS.md. Run with `cargo bench --bench poll`; set
//! `ATSD_BENCH_DATABASE_URL` to use PostgreSQL instead of a SQLite file.
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

#[path = "support/mod.rs"]
mod support;

use atsd::config::Config;
use atsd::poll::poller::{self, Poller, Settings};
use atsd::store::Store;
use atsd::store::postings::{self, NewPosting};
use chrono::Utc;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BOARDS: usize = 100;
const PER_BOARD: usize = 100;

fn job(board: usize, id: usize) -> String {
    format!(
        r#"{{"id":{id},"internal_job_id":null,"title":"Job {id} at board {board}","updated_at":"2026-11-20T10:00:00-05:00","first_published":"2026-10-01T09:00:00-04:00","requisition_id":null,"location":{{"name":"Remote"}},"absolute_url":"https://boards.greenhouse.io/b{board}/jobs/{id}","metadata":null}}"#
    )
}

fn id_of(board: usize, i: usize) -> usize {
    1_000_000 + board * 1000 + i
}

/// Answers `/v1/boards/b{n}/jobs` and `/v1/boards/b{n}/jobs/{id}`, keeping connections alive.
async fn serve(listener: TcpListener) {
    let lists: Arc<Vec<String>> = Arc::new(
        (0..BOARDS)
            .map(|b| {
                let jobs: Vec<String> = (0..PER_BOARD).map(|i| job(b, id_of(b, i))).collect();
                format!(
                    r#"{{"jobs":[{}],"meta":{{"total":{PER_BOARD}}}}}"#,
                    jobs.join(",")
                )
            })
            .collect(),
    );
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let lists = lists.clone();
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut tmp = [0u8; 4096];
            loop {
                let end = loop {
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                buf.drain(..end);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                let body = match parts.as_slice() {
                    ["v1", "boards", b, "jobs"] => b
                        .trim_start_matches('b')
                        .parse::<usize>()
                        .ok()
                        .and_then(|b| lists.get(b).cloned()),
                    ["v1", "boards", b, "jobs", id] => {
                        match (
                            b.trim_start_matches('b').parse::<usize>(),
                            id.parse::<usize>(),
                        ) {
                            (Ok(b), Ok(id)) => Some(job(b, id)),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => (
                        "404 Not Found",
                        r#"{"status":404,"error":"Job not found"}"#.to_string(),
                    ),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if sock.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

struct Run {
    name: &'static str,
    secs: f64,
    fetch: f64,
    write: f64,
    requests: u64,
    polled: usize,
    open: usize,
    rss: f64,
}

async fn run(store: &Store, config: &Config, group: bool, name: &'static str) -> Run {
    // the same starting point for every run: unknown status, the imported title, no history
    store
        .execute_unprepared(
            "UPDATE postings SET next_poll_at = NULL, etag = NULL, last_modified = NULL, \
             status = 'unknown', title = 'Job ' || external_id, location = NULL, posted_at = NULL",
        )
        .await
        .expect("reset");
    store
        .execute_unprepared("DELETE FROM posting_history")
        .await
        .expect("reset");
    let mut settings = Settings::from_config(config).expect("settings");
    settings.group_by_board = group;
    let poller = Arc::new(Poller::new(settings).expect("poller"));
    let now = Utc::now();
    let start = Instant::now();
    let due = poller::due(store, &[], now).await.expect("due");
    // the postings have no team: a close queues no notice, as before teams
    let pipeline = atsd::pipeline::Pipeline::default_stages();
    let renderer = atsd::templates::Renderer::new(None);
    let ctx = atsd::workflow::Ctx::new(config, &pipeline, &renderer, None, now);
    let report = poller::poll(store, &poller, due, &ctx).await.expect("poll");
    let secs = start.elapsed().as_secs_f64();
    Run {
        name,
        secs,
        fetch: report.fetch_seconds,
        write: report.write_seconds,
        requests: report.requests,
        polled: report.outcomes.len(),
        open: report
            .outcomes
            .iter()
            .filter(|o| o.status == "open")
            .count(),
        rss: peak_rss_mib(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(serve(listener));

        let dir = tempfile::tempdir().expect("tempdir");
        let db = support::BenchDb::new(dir.path()).await;
        let url = db.url.clone();
        let store = Store::open(&url).await.expect("open store");

        let mut config = Config::default();
        config.poll.allow_private_addresses = true;
        config.poll.sources.greenhouse.api_base = format!("http://{addr}");

        let now = Utc::now();
        let txn = store.begin_write().await.expect("txn");
        for b in 0..BOARDS {
            for i in 0..PER_BOARD {
                let id = id_of(b, i);
                let np = NewPosting {
                    url: format!("https://boards.greenhouse.io/b{b}/jobs/{id}"),
                    source: "greenhouse".into(),
                    board: Some(format!("b{b}")),
                    external_id: Some(id.to_string()),
                    title: Some(format!("Job {id}")),
                    ..Default::default()
                };
                postings::upsert(&txn, &np, "bench", now).await.expect("insert");
            }
        }
        txn.commit().await.expect("commit");
        let backend = if db.is_postgres() { "PostgreSQL" } else { "SQLite" };

        let grouped = run(&store, &config, true, "grouped by board (atsd)").await;
        let single = run(&store, &config, false, "one request per posting (reference)").await;
        // again, so that neither mode has the cold start to itself
        let grouped2 = run(&store, &config, true, "grouped by board (atsd), second run").await;

        println!("poll benchmark: {} postings on {BOARDS} boards, {backend}, concurrency {} (per host {})",
            BOARDS * PER_BOARD, config.poll.concurrency, config.poll.per_host);
        println!();
        println!("| mode | postings | open | requests | wall time | asking the boards | recording | polls/s | peak RSS so far |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for r in [&grouped, &single, &grouped2] {
            println!(
                "| {} | {} | {} | {} | {:.2} s | {:.2} s | {:.2} s | {:.0} | {:.0} MiB |",
                r.name, r.polled, r.open, r.requests, r.secs, r.fetch, r.write, r.polled as f64 / r.secs, r.rss
            );
        }
        println!();
        println!(
            "grouping: {:.0}x fewer requests; asking the boards {:.1}x faster; wall time {:.1}x",
            single.requests as f64 / grouped.requests.max(1) as f64,
            single.fetch / grouped.fetch,
            single.secs / grouped.secs
        );
        store.close().await.expect("close");
        db.drop_database().await;
    });
}
