//! Board benchmark: the recruiter board's posting page and overview with
//! 100,000 applications on one posting (and 20 small postings beside it),
//! loaded over loopback with `wrk` (Debian's package), beside a static
//! answer of the same size served by the same server (the same routes, the
//! same hyper loop and limits) in the same run. Also times the posting page
//! on its first view (a new server on a database with no chart figures
//! kept: counted while the page waits; and right after a restart: those its
//! predecessor kept), on its first view 3 s after a new server started (the
//! biggest postings' figures counted ahead), and right after a move (the
//! kept figures shown while new ones are counted in the background).
//!
//!     cargo bench --bench board                          # SQLite
//!     ATSD_BENCH_DATABASE_URL=postgres://... cargo bench --bench board
//!     ATSD_BENCH_APPLICATIONS=10000 DURATION=5s cargo bench --bench board
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

#[path = "support/seed.rs"]
mod seed;
#[path = "support/mod.rs"]
mod support;

use atsd::config::Config;
use atsd::jobs::Runner;
use atsd::service::{Health, http, metrics::Metrics};
use atsd::store::Store;
use axum::routing::get;
use chrono::{Duration, Utc};
use sea_orm::ConnectionTrait;
use std::io::{Read, Write};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// One request over loopback: (status, head, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).expect("send");
    s.write_all(body.as_bytes()).expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (h, b) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, h.to_string(), b.to_string())
}

/// What wrk said: requests a second and the latency percentiles (ms).
struct Load {
    rps: f64,
    p50: f64,
    p99: f64,
}

fn ms(s: &str) -> f64 {
    let (n, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "ms"));
    let v: f64 = n.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v / 1000.0,
        "s" => v * 1000.0,
        _ => v,
    }
}

fn wrk(url: &str, cookie: &str, conns: u32, duration: &str) -> Load {
    let out = std::process::Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{duration}"),
            "--latency",
        ])
        .args(["-H", &format!("Cookie: {cookie}"), url])
        .output()
        .expect("run wrk (apt install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        panic!("wrk saw errors on {url}:\n{text}");
    }
    let field = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("nan")
            .to_string()
    };
    Load {
        rps: field("Requests/sec:").parse().unwrap_or(f64::NAN),
        p50: ms(&field("50%")),
        p99: ms(&field("99%")),
    }
}

/// The posting page's first view on a new server (its board's cache empty),
/// `after` its start: milliseconds.
/// Where a posting page's time goes: each of its reads timed on its own
/// (median of 20), in the order the page makes them.
async fn breakdown(store: &Store, now: chrono::DateTime<Utc>) {
    use atsd::store::board as q;
    let conn = store.conn();
    // the page's cut-offs: the rule's 5 days on screening, the board's
    // default 14 days on the other active stages
    let cutoffs = vec![
        ("applied".to_string(), now - Duration::days(14)),
        ("screening".to_string(), now - Duration::days(5)),
        ("interview".to_string(), now - Duration::days(14)),
        ("offer".to_string(), now - Duration::days(14)),
    ];
    let stages = ["applied", "screening", "interview", "offer"];
    async fn median<F, Fut>(f: F) -> f64
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut t = Vec::new();
        for _ in 0..20 {
            let t0 = Instant::now();
            f().await;
            t.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    }
    let counts = median(|| async {
        q::stage_counts(conn, Some(1), &cutoffs, now - Duration::days(1))
            .await
            .expect("counts");
    })
    .await;
    let all_counts = median(|| async {
        q::stage_counts(conn, None, &cutoffs, now - Duration::days(1))
            .await
            .expect("counts");
    })
    .await;
    let cards = median(|| async {
        for s in stages {
            let f = q::ListFilter {
                stage: Some(s.into()),
                ..Default::default()
            };
            q::cards(conn, 1, &f, 50).await.expect("cards");
        }
    })
    .await;
    let mut ids = Vec::new();
    for s in stages {
        let f = q::ListFilter {
            stage: Some(s.into()),
            ..Default::default()
        };
        ids.extend(
            q::cards(conn, 1, &f, 50)
                .await
                .expect("cards")
                .iter()
                .map(|c| c.id),
        );
    }
    let around = median(|| async {
        q::card_emails(conn, &ids).await.expect("emails");
        atsd::store::interviews::next_of(conn, &ids, now)
            .await
            .expect("next");
        atsd::store::inbound::unread_replies(conn, &ids)
            .await
            .expect("unread");
        atsd::store::people::team(conn, 1).await.expect("team");
        q::posting(conn, 1).await.expect("posting");
    })
    .await;
    eprintln!(
        "breakdown (median of 20, ms): stage counts of posting 1 {counts:.2}, of every posting (the overview) {all_counts:.2}; \
         the four columns' cards {cards:.2}; their emails, interviews, replies, the team and the posting {around:.2}"
    );
    // the chart figures' three passes over the transition log, one at a time
    // (the board runs them side by side on a new server's first view)
    let terminal: Vec<String> = ["hired", "rejected", "withdrawn"].map(String::from).into();
    let finished = median(|| async {
        q::finished(conn, 1, &terminal).await.expect("finished");
    })
    .await;
    let funnel = median(|| async {
        q::funnel(conn, 1, &terminal).await.expect("funnel");
    })
    .await;
    let stays = median(|| async {
        q::stay_days(conn, 1).await.expect("stays");
    })
    .await;
    eprintln!(
        "chart figures (median of 20, ms, one at a time): finished {finished:.2}, funnel {funnel:.2}, days in stage {stays:.2}"
    );
}

async fn first_view(state: &http::AppState, cookie: &str, after: std::time::Duration) -> f64 {
    let l = http::bind("127.0.0.1:0").await.expect("bind");
    let p = l.local_addr().expect("addr").port();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(http::serve_router(
        l,
        http::router(state.clone()),
        stop.clone(),
    ));
    tokio::time::sleep(after).await;
    let c = cookie.to_string();
    let took = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let (s, _, _) = request(p, "GET", "/board/postings/1", &[("Cookie", &c)], "");
        assert_eq!(s, 200);
        t.elapsed().as_secs_f64() * 1000.0
    })
    .await
    .expect("first view");
    stop.cancel();
    took
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("ATSD_BENCH_APPLICATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let duration = std::env::var("DURATION").unwrap_or_else(|_| "10s".into());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-board");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench folder");
    let db = support::BenchDb::new(&dir).await;
    let engine = if db.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let store = Store::open(&db.url).await.expect("open");
    let conn = store.conn();
    for i in 1..=21 {
        conn.execute_unprepared(&format!(
            "INSERT INTO postings (url, source, board, external_id, title, company, status, board_missing, \
             consecutive_not_found, consecutive_errors, created_at, updated_at) VALUES \
             ('https://boards.greenhouse.io/acme/jobs/{i}', 'greenhouse', 'acme', '{i}', 'Job {i}', 'Example Corp', \
             'open', FALSE, 0, 0, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
        ))
        .await
        .expect("posting");
    }
    // posting 1: n applications over the pipeline, of every age
    let now = Utc::now();
    let t0 = Instant::now();
    let share = |f: f64| ((n as f64) * f) as usize;
    let spread: [(&str, f64, i64); 10] = [
        ("applied", 0.20, 1),
        ("applied", 0.20, 30),
        ("screening", 0.10, 3),
        ("screening", 0.10, 12),
        ("interview", 0.10, 9),
        ("offer", 0.05, 4),
        ("hired", 0.05, 40),
        ("rejected", 0.15, 20),
        ("withdrawn", 0.03, 25),
        ("rejected", 0.02, 60),
    ];
    for (stage, f, days) in spread {
        seed::seed_applications(conn, 1, share(f), stage, now - Duration::days(days)).await;
    }
    // a history: everyone past `applied` applied 6 days before entering
    // their stage (the move out of `applied` records when that stay began)
    let b = store.backend();
    let earlier = match b {
        sea_orm::DbBackend::Postgres => "at - INTERVAL '6 days'",
        _ => "strftime('%Y-%m-%dT%H:%M:%S+00:00', at, '-6 days')",
    };
    conn.execute_unprepared(&format!(
        "UPDATE transitions SET from_stage = 'applied', stage_entered_at = {earlier} WHERE to_stage <> 'applied'"
    ))
    .await
    .expect("histories");
    conn.execute_unprepared(
        "INSERT INTO transitions (application_id, from_stage, to_stage, actor, at) \
         SELECT application_id, NULL, 'applied', 'cli:seed', stage_entered_at FROM transitions \
         WHERE stage_entered_at IS NOT NULL",
    )
    .await
    .expect("histories");
    for p in 2..=21 {
        seed::seed_applications(conn, p, 100, "applied", now - Duration::days(2)).await;
    }
    conn.execute_unprepared("ANALYZE").await.expect("analyze");
    let total = n + 2000;
    eprintln!(
        "seeded {total} applications in {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    let listener = http::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = Config::parse(
        &format!(
            "[http]\nlisten = \"127.0.0.1:{port}\"\n\n[[rules]]\nname = \"nudge\"\nstage = \"screening\"\nafter = \"5d\"\nremind = true\n"
        ),
        "bench.toml",
    )
    .expect("config");
    let runner = Arc::new(Runner::new(store.clone(), config, "bench".into()).expect("runner"));
    let current = Arc::new(atsd::jobs::Current::default());
    current.set(runner.clone());
    let state = http::AppState {
        health: Arc::new(Health::new(store.clone(), "bench".into())),
        metrics: Arc::new(Metrics::new()),
        current,
        cors_origins: vec![],
    };
    // the static references: the pages' own bytes, once rendered
    let statics: Arc<RwLock<[String; 2]>> = Arc::default();
    let s0 = statics.clone();
    let s1 = statics.clone();
    let app = http::router(state.clone())
        .route(
            "/bench/static/posting.html",
            get(move || async move {
                axum::response::Html(s0.read().map(|s| s[0].clone()).unwrap_or_default())
            }),
        )
        .route(
            "/bench/static/overview.html",
            get(move || async move {
                axum::response::Html(s1.read().map(|s| s[1].clone()).unwrap_or_default())
            }),
        );
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(http::serve_router(listener, app, cancel.clone()));

    let (token, _) =
        atsd::store::tokens::create(&store, "bench", atsd::store::tokens::Scope::Read, now)
            .await
            .expect("token");
    let (status, head, _) = tokio::task::spawn_blocking(move || {
        request(
            port,
            "POST",
            "/board/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &format!("token={token}"),
        )
    })
    .await
    .expect("sign in");
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session")
        .to_string();

    let c = cookie.clone();
    let (posting, overview) = tokio::task::spawn_blocking(move || {
        let p = request(port, "GET", "/board/postings/1", &[("Cookie", &c)], "");
        let o = request(port, "GET", "/board", &[("Cookie", &c)], "");
        assert_eq!((p.0, o.0), (200, 200), "{}{}", p.2, o.2);
        (p.2, o.2)
    })
    .await
    .expect("pages");
    if let Ok(mut s) = statics.write() {
        *s = [posting.clone(), overview.clone()];
    }
    // at the instant the pages read (the seeding's `now` is seconds before:
    // at it, the 20,000 applied a day ago would count as new)
    breakdown(&store, Utc::now()).await;

    // first view: a new server for each request, on a database where no
    // chart figures were ever kept (what the first recruiter to open the
    // posting of a new database waits for)
    let mut cold = Vec::new();
    for _ in 0..10 {
        conn.execute_unprepared("DELETE FROM chart_figures")
            .await
            .expect("forget the kept figures");
        cold.push(first_view(&state, &cookie, std::time::Duration::ZERO).await);
    }
    cold.sort_by(f64::total_cmp);
    // first view a few seconds after the server started: the biggest
    // postings' figures were counted ahead (recruiter_board::figures::keep_warm)
    let mut ahead = Vec::new();
    for _ in 0..5 {
        ahead.push(first_view(&state, &cookie, std::time::Duration::from_secs(3)).await);
    }
    ahead.sort_by(f64::total_cmp);
    // first view right after a restart: a new server, the figures its
    // predecessors kept in the database (chart_figures) shown at once
    let mut restarted = Vec::new();
    for _ in 0..10 {
        restarted.push(first_view(&state, &cookie, std::time::Duration::ZERO).await);
    }
    restarted.sort_by(f64::total_cmp);
    // after a move: the kept figures are shown, new ones counted behind
    let mut moved = Vec::new();
    for i in 0..10 {
        conn.execute_unprepared(&format!(
            "INSERT INTO transitions (application_id, from_stage, to_stage, actor, at) \
             SELECT id, stage, stage, 'bench:{i}', entered_stage_at FROM applications \
             WHERE posting_id = 2 ORDER BY id LIMIT 1"
        ))
        .await
        .expect("a transition");
        let c = cookie.clone();
        let took = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let (s, _, _) = request(port, "GET", "/board/postings/1", &[("Cookie", &c)], "");
            assert_eq!(s, 200);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            // let the background count finish before the next move
            std::thread::sleep(std::time::Duration::from_millis(600));
            ms
        })
        .await
        .expect("after a move");
        moved.push(took);
    }
    moved.sort_by(f64::total_cmp);

    let base = format!("http://127.0.0.1:{port}");
    let runs: [(&str, &str, usize); 4] = [
        ("posting page", "/board/postings/1", posting.len()),
        (
            "static, same size",
            "/bench/static/posting.html",
            posting.len(),
        ),
        ("overview", "/board", overview.len()),
        (
            "static, same size",
            "/bench/static/overview.html",
            overview.len(),
        ),
    ];
    println!(
        "\n== {engine}: {total} applications ({n} on posting 1), wrk over loopback, {duration} each"
    );
    println!(
        "posting page, first view, no figures ever kept (counted while it waits), 10 requests: median {:.1} ms, max {:.1} ms",
        cold[cold.len() / 2],
        cold[cold.len() - 1]
    );
    println!(
        "posting page, first view right after a restart (the figures kept before it), 10 requests: median {:.1} ms, max {:.1} ms",
        restarted[restarted.len() / 2],
        restarted[restarted.len() - 1]
    );
    println!(
        "posting page, first view 3 s after the server started (figures counted ahead), 5 requests: median {:.1} ms, max {:.1} ms",
        ahead[ahead.len() / 2],
        ahead[ahead.len() - 1]
    );
    println!(
        "posting page right after a move (kept figures shown, new ones counted behind), 10 requests: median {:.1} ms, max {:.1} ms",
        moved[moved.len() / 2],
        moved[moved.len() - 1]
    );
    println!(
        "| page | bytes | 1 connection: req/s | p50 ms | p99 ms | 8 connections: req/s | p50 ms | p99 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, path, bytes) in runs {
        let url = format!("{base}{path}");
        let c2 = cookie.clone();
        let d = duration.clone();
        let (one, eight) =
            tokio::task::spawn_blocking(move || (wrk(&url, &c2, 1, &d), wrk(&url, &c2, 8, &d)))
                .await
                .expect("wrk");
        println!(
            "| {name} (`{path}`) | {bytes} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} |",
            one.rps, one.p50, one.p99, eight.rps, eight.p50, eight.p99
        );
    }
    cancel.cancel();
    store.close().await.ok();
    db.drop_database().await;
}
