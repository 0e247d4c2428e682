//! Advance benchmark: N applications (default 100,000) in `applied` past a
//! stale rule move to `rejected`, each with its rendered rejection email,
//! through the library call `atsd tick advance` makes — beside the floor, in
//! the same run on the same engine: the same rows and bytes written by plain
//! set-based SQL in one transaction (one `UPDATE` of the applications, one
//! `INSERT … SELECT` of the transitions, one of the outbox rows, one of bodies
//! of the same size, one of the moves' events). Each side gets a fresh database seeded identically.
//!
//!     cargo bench --bench advance                          # SQLite
//!     ATSD_BENCH_DATABASE_URL=postgres://... cargo bench --bench advance
//!     ATSD_BENCH_APPLICATIONS=1000000 cargo bench --bench advance   # peak RSS
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

#[path = "support/seed.rs"]
mod seed;
#[path = "support/mod.rs"]
mod support;

use atsd::config::Config;
use atsd::jobs::advance::Advance;
use atsd::store::Store;
use atsd::templates::Renderer;
use atsd::workflow::Ctx;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::time::Instant;

const RULE: &str = "[[rules]]\nname = \"stale-applied\"\nstage = \"applied\"\nafter = \"30d\"\nmove_to = \"rejected\"\nreason = \"no_response\"\n";

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

async fn fresh(dir: &std::path::Path, n: usize) -> (support::BenchDb, Store) {
    std::fs::create_dir_all(dir).expect("bench folder");
    let db = support::BenchDb::new(dir).await;
    let store = Store::open(&db.url).await.expect("open");
    let b = store.backend();
    store
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            b,
            if b == DbBackend::Sqlite {
                "INSERT INTO postings (url, source, board, external_id, title, company, status, board_missing, \
                 consecutive_not_found, consecutive_errors, created_at, updated_at) \
                 VALUES ('https://boards.greenhouse.io/acme/jobs/1', 'greenhouse', 'acme', '1', 'Senior Platform Engineer', \
                 'Example Corp', 'open', FALSE, 0, 0, ?1, ?1)"
            } else {
                "INSERT INTO postings (url, source, board, external_id, title, company, status, board_missing, \
                 consecutive_not_found, consecutive_errors, created_at, updated_at) \
                 VALUES ('https://boards.greenhouse.io/acme/jobs/1', 'greenhouse', 'acme', '1', 'Senior Platform Engineer', \
                 'Example Corp', 'open', FALSE, 0, 0, $1, $1)"
            },
            [at("2027-01-01T00:00:00Z").into()],
        ))
        .await
        .expect("posting");
    let t = Instant::now();
    seed::seed_applications(store.conn(), 1, n, "applied", at("2027-01-01T00:00:00Z")).await;
    eprintln!(
        "  seeded {n} applications in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    (db, store)
}

async fn scalar(store: &Store, q: &str) -> i64 {
    store
        .conn()
        .query_one_raw(Statement::from_string(store.backend(), q.to_string()))
        .await
        .expect("query")
        .expect("row")
        .try_get("", "n")
        .expect("n")
}

fn main() {
    let n: usize = std::env::var("ATSD_BENCH_APPLICATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = at("2027-03-01T09:00:00Z");
        let config = Config::parse(RULE, "bench.toml").expect("config");
        let pipeline = config.pipeline().expect("pipeline");
        let renderer = Renderer::new(None);

        // atsd
        let (db, store) = fresh(&dir.path().join("atsd"), n).await;
        let engine = if db.is_postgres() { "PostgreSQL" } else { "SQLite" };
        let rss_before = peak_rss_mib();
        let t = Instant::now();
        let r = Advance {
            store: &store,
            ctx: Ctx::new(&config, &pipeline, &renderer, None, now),
            dry_run: false,
        }
        .run(&tokio_util::sync::CancellationToken::new())
        .await
        .expect("advance");
        let atsd_s = t.elapsed().as_secs_f64();
        let rss_after = peak_rss_mib();
        assert_eq!(r.moved as usize, n, "every application moved");
        let bytes = scalar(
            &store,
            "SELECT CAST(SUM(LENGTH(subject) + LENGTH(body_text) + LENGTH(body_html)) AS BIGINT) AS n FROM outbox_bodies",
        )
        .await;
        let avg = (bytes as usize / n.max(1)).max(1);
        let text_len = scalar(&store, "SELECT CAST(MAX(LENGTH(body_text)) AS BIGINT) AS n FROM outbox_bodies").await as usize;
        let html_len = scalar(&store, "SELECT CAST(MAX(LENGTH(body_html)) AS BIGINT) AS n FROM outbox_bodies").await as usize;
        let subject_len = avg.saturating_sub(text_len + html_len).max(10);
        store.close().await.ok();
        db.drop_database().await;

        // the same run without the board's kept counts (the triggers on
        // applications that keep stage_totals and stage_days dropped): what they cost a move
        let (db, store) = fresh(&dir.path().join("uncounted"), n).await;
        for table in ["stage_totals", "stage_days"] {
            for t in ["insert", "update", "delete"] {
                let on = if db.is_postgres() { " ON applications" } else { "" };
                store
                    .conn()
                    .execute_unprepared(&format!("DROP TRIGGER {table}_{t}{on}"))
                    .await
                    .expect("drop a trigger");
            }
        }
        let t = Instant::now();
        Advance {
            store: &store,
            ctx: Ctx::new(&config, &pipeline, &renderer, None, now),
            dry_run: false,
        }
        .run(&tokio_util::sync::CancellationToken::new())
        .await
        .expect("advance");
        let uncounted_s = t.elapsed().as_secs_f64();
        store.close().await.ok();
        db.drop_database().await;

        // the floor: the same rows and bytes by plain SQL in one transaction
        let (db, store) = fresh(&dir.path().join("floor"), n).await;
        let b = store.backend();
        let p = |i: usize| if b == DbBackend::Sqlite { format!("?{i}") } else { format!("${i}") };
        let t = Instant::now();
        let txn = store.begin_write().await.expect("begin");
        let stmts = [
            format!("UPDATE applications SET stage = 'rejected', entered_stage_at = {0}, updated_at = {0}, version = version + 1 WHERE stage = 'applied'", p(1)),
            // (the stay began when they applied: the seed's entered_stage_at, overwritten above)
            format!("INSERT INTO transitions (application_id, from_stage, to_stage, reason, actor, at, stage_entered_at) \
                     SELECT id, 'applied', 'rejected', 'no_response', 'rule:stale-applied', {0}, applied_at FROM applications WHERE stage = 'rejected'", p(1)),
            format!("INSERT INTO outbox (application_id, transition_id, stage, recipient, recipient_name, template, locale, message_id, \
                     status, attempts, next_attempt_at, send_after, created_at, updated_at) \
                     SELECT t.application_id, t.id, 'rejected', c.email, c.name, 'rejection', 'en', '<atsd.t' || t.id || '.0@example.org>', \
                     'pending', 0, {0}, {0}, {0}, {0} FROM transitions t JOIN applications a ON a.id = t.application_id \
                     JOIN candidates c ON c.id = a.candidate_id WHERE t.to_stage = 'rejected'", p(1)),
            format!("INSERT INTO outbox_bodies (outbox_id, subject, body_text, body_html) SELECT id, {}, {}, {} FROM outbox", p(2), p(3), p(4)),
            // the event of each move, of the same JSON
            format!("INSERT INTO events (type, at, data, application_id) SELECT 'application.moved', {0}, \
                     '{{\"actor\":\"rule:stale-applied\",\"application_id\":' || t.application_id || \
                     ',\"from\":\"applied\",\"posting_id\":' || a.posting_id || \
                     ',\"reason\":\"no_response\",\"to\":\"rejected\",\"transition_id\":' || t.id || '}}', t.application_id \
                     FROM transitions t JOIN applications a ON a.id = t.application_id WHERE t.to_stage = 'rejected'", p(1)),
        ];
        for st in stmts {
            txn.execute_raw(Statement::from_sql_and_values(
                b,
                st,
                [
                    now.into(),
                    "s".repeat(subject_len).into(),
                    "t".repeat(text_len).into(),
                    "h".repeat(html_len).into(),
                ],
            ))
            .await
            .expect("floor statement");
        }
        txn.commit().await.expect("commit");
        let floor_s = t.elapsed().as_secs_f64();
        assert_eq!(scalar(&store, "SELECT COUNT(*) AS n FROM outbox").await as usize, n);
        assert_eq!(scalar(&store, "SELECT COUNT(*) AS n FROM events WHERE type = 'application.moved'").await as usize, n);
        store.close().await.ok();
        db.drop_database().await;

        // the path before the batch design: one move_in (an ORM round trip per
        // statement) per application, 1,000 per transaction, on fewer rows
        let m = (n / 10).max(1);
        let (db, store) = fresh(&dir.path().join("rows"), m).await;
        let ctx = Ctx::new(&config, &pipeline, &renderer, None, now);
        let t = Instant::now();
        for chunk in (1..=m as i64).collect::<Vec<_>>().chunks(1000) {
            let txn = store.begin_write().await.expect("begin");
            for id in chunk {
                atsd::workflow::move_in(
                    &txn,
                    &ctx,
                    &atsd::workflow::MoveRequest {
                        application_id: *id,
                        to: "rejected".into(),
                        reason: Some("no_response".into()),
                        actor: "rule:stale-applied".into(),
                        email: atsd::config::EmailChoice::StageDefault,
                        expected_version: Some(1),
                    },
                )
                .await
                .expect("move");
            }
            txn.commit().await.expect("commit");
        }
        let rows_s = t.elapsed().as_secs_f64();
        store.close().await.ok();
        db.drop_database().await;

        println!(
            "advance on {engine}: {n} moves with a ~{avg}-byte email each\n  \
             atsd (rules, batches of {}): {atsd_s:.2} s, {:.0} moves/s, peak RSS {rss_before:.0} -> {rss_after:.0} MiB\n  \
             atsd without the board's kept counts (their triggers dropped): {uncounted_s:.2} s, {:.0} moves/s\n  \
             floor (plain SQL, one transaction): {floor_s:.2} s, {:.0} moves/s\n  \
             atsd at {:.2}x the floor's rate\n  \
             one move at a time (move_in per application, 1,000 per transaction; {m} applications): {rows_s:.2} s, {:.0} moves/s",
            atsd::jobs::advance::BATCH,
            n as f64 / atsd_s,
            n as f64 / uncounted_s,
            n as f64 / floor_s,
            floor_s / atsd_s,
            m as f64 / rows_s
        );
    });
}
