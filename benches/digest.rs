//! Digest benchmark: one occurrence of the digest job for 200 people (each
//! the recruiter of 24 postings), 5,000 postings (200 without a recruiter,
//! for the fallback list) and 100,000 applications (half new since the
//! previous occurrence, half past the stale threshold) — every person's
//! digest rendered and queued, through the library call `atsd tick digest`
//! makes; beside the floor, in the same run on the same database: the same
//! reads (people, teams, new applications, stale counts per posting and
//! stage, closed postings) as plain SQL, rows fetched and nothing else.
//!
//!     cargo bench --bench digest                          # SQLite
//!     ATSD_BENCH_DATABASE_URL=postgres://... cargo bench --bench digest
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

#[path = "support/mod.rs"]
mod support;

use atsd::config::Config;
use atsd::jobs::digest::Digest;
use atsd::store::Store;
use atsd::templates::Renderer;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::time::Instant;

const PEOPLE: i64 = 200;
const POSTINGS: i64 = 5_000;
const OWNED: i64 = 4_800;
const APPLICATIONS: i64 = 100_000;
const CONFIG: &str = "[schedule]\ntimezone = \"UTC\"\ndigest = \"0 9 * * *\"\n\
    [recruiters]\nemails = [\"fallback@example.org\"]\n\
    [[rules]]\nname = \"nudge\"\nstage = \"applied\"\nafter = \"1d\"\nremind = true\n";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

async fn exec(store: &Store, sql: &str, now: DateTime<Utc>) {
    let b = store.backend();
    let sql = if b == DbBackend::Sqlite {
        sql.replace("$1", "?1")
    } else {
        sql.to_string()
    };
    store
        .conn()
        .execute_raw(Statement::from_sql_and_values(b, sql, [now.into()]))
        .await
        .expect("seed");
}

async fn seed(store: &Store, now: DateTime<Utc>) {
    let seq = |n: i64| {
        format!("WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})")
    };
    // applications spread over the last 48 hours: half since the previous
    // occurrence (a day ago), half older than the stale rule's day
    let spread = if store.backend() == DbBackend::Sqlite {
        "datetime($1, '-' || (i % 48) || ' hours', '-1 minutes')"
    } else {
        "$1 - ((i % 48) * INTERVAL '1 hour') - INTERVAL '1 minute'"
    };
    for sql in [
        format!(
            "{} INSERT INTO postings (url, source, board, external_id, title, company, status, board_missing, \
             consecutive_not_found, consecutive_errors, created_at, updated_at) \
             SELECT 'https://boards.greenhouse.io/acme/jobs/' || i, 'greenhouse', 'acme', '' || i, \
             'Posting number ' || i, 'Example Corp', 'open', FALSE, 0, 0, $1, $1 FROM seq",
            seq(POSTINGS)
        ),
        format!(
            "{} INSERT INTO people (email, email_key, name, timezone, locale, active, created_at, updated_at) \
             SELECT 'r' || i || '@example.org', 'r' || i || '@example.org', 'Recruiter ' || i, NULL, \
             CASE WHEN i % 3 = 0 THEN 'de' WHEN i % 3 = 1 THEN 'es' ELSE NULL END, TRUE, $1, $1 FROM seq",
            seq(PEOPLE)
        ),
        format!(
            "{} INSERT INTO posting_team (posting_id, person_id, role, created_at) \
             SELECT i, ((i - 1) % {PEOPLE}) + 1, 'recruiter', $1 FROM seq",
            seq(OWNED)
        ),
        format!(
            "{} INSERT INTO candidates (name, email, email_key, on_hold, created_at, updated_at) \
             SELECT 'Candidate ' || i, 'c' || i || '@example.net', 'c' || i || '@example.net', FALSE, $1, $1 FROM seq",
            seq(APPLICATIONS)
        ),
        format!(
            "{} INSERT INTO applications (candidate_id, posting_id, stage, entered_stage_at, applied_at, version, created_at, updated_at) \
             SELECT i, (i % {POSTINGS}) + 1, 'applied', {spread}, {spread}, 1, {spread}, {spread} FROM seq",
            seq(APPLICATIONS)
        ),
    ] {
        exec(store, &sql, now).await;
    }
}

/// The same reads the digest makes, as plain SQL: rows fetched, nothing built.
async fn floor(store: &Store, since: DateTime<Utc>, now: DateTime<Utc>) -> usize {
    let c = store.conn();
    let b = store.backend();
    let p = |i: usize| {
        if b == DbBackend::Sqlite {
            format!("?{i}")
        } else {
            format!("${i}")
        }
    };
    let mut rows = 0;
    let q = |sql: String, v: Vec<sea_orm::Value>| Statement::from_sql_and_values(b, sql, v);
    rows += c
        .query_all_raw(q(
            format!("SELECT * FROM people WHERE active = {}", p(1)),
            vec![true.into()],
        ))
        .await
        .expect("people")
        .len();
    rows += c
        .query_all_raw(q(
            "SELECT p.id AS posting_id, t.person_id, t.role FROM postings p \
             LEFT JOIN posting_team t ON t.posting_id = p.id ORDER BY p.id"
                .into(),
            vec![],
        ))
        .await
        .expect("teams")
        .len();
    rows += c
        .query_all_raw(q(
            format!(
                "SELECT a.posting_id, a.created_at, c.name, p.title FROM applications a \
                 JOIN candidates c ON c.id = a.candidate_id JOIN postings p ON p.id = a.posting_id \
                 WHERE a.created_at > {} AND a.created_at <= {} ORDER BY a.id",
                p(1),
                p(2)
            ),
            vec![since.into(), now.into()],
        ))
        .await
        .expect("new")
        .len();
    for (stage, cutoff) in [
        ("applied", now - chrono::Duration::days(1)),
        ("screening", now - chrono::Duration::days(14)),
        ("interview", now - chrono::Duration::days(14)),
        ("offer", now - chrono::Duration::days(14)),
    ] {
        rows += c
            .query_all_raw(q(
                format!(
                    "SELECT a.posting_id, p.title, COUNT(*) AS n FROM applications a \
                     JOIN postings p ON p.id = a.posting_id \
                     WHERE a.stage = {} AND a.entered_stage_at <= {} GROUP BY a.posting_id, p.title",
                    p(1),
                    p(2)
                ),
                vec![stage.into(), cutoff.into()],
            ))
            .await
            .expect("stale")
            .len();
    }
    rows += c
        .query_all_raw(q(
            format!(
                "SELECT id, status_changed_at, title FROM postings WHERE status = 'closed' \
                 AND status_changed_at > {} AND status_changed_at <= {} ORDER BY id",
                p(1),
                p(2)
            ),
            vec![since.into(), now.into()],
        ))
        .await
        .expect("closed")
        .len();
    rows
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = at("2027-03-01T09:00:00Z");
        let config = Config::parse(CONFIG, "bench.toml").expect("config");
        let pipeline = config.pipeline().expect("pipeline");
        let renderer = Renderer::new(None);
        let cron = atsd::schedule::parse_cron(&config.schedule.digest).expect("cron");
        let db = support::BenchDb::new(dir.path()).await;
        let store = Store::open(&db.url).await.expect("open");
        let engine = if db.is_postgres() { "PostgreSQL" } else { "SQLite" };
        let t = Instant::now();
        seed(&store, now).await;
        eprintln!(
            "{engine}: seeded {PEOPLE} people, {POSTINGS} postings, {APPLICATIONS} applications in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        for round in 1..=3 {
            let t = Instant::now();
            let rows = floor(&store, now - chrono::Duration::days(1), now).await;
            let floor_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let r = Digest {
                store: &store,
                config: &config,
                pipeline: &pipeline,
                renderer: &renderer,
                cron: &cron,
                tz: chrono_tz::UTC,
                occurrence: now,
                now,
                dry_run: false,
            }
            .run()
            .await
            .expect("digest");
            let atsd_s = t.elapsed().as_secs_f64();
            assert_eq!(r.queued as i64, PEOPLE + 1, "every person's digest and the fallback's");
            println!(
                "{engine} round {round}: digest {atsd_s:.3} s for {} digests ({} new applications, {} stale); \
                 floor (the same reads, {rows} rows) {floor_s:.3} s; ratio {:.2}",
                r.queued,
                r.new_applications,
                r.stale,
                atsd_s / floor_s
            );
            // the next round queues them again
            for t in ["outbox_bodies", "outbox"] {
                store
                    .conn()
                    .execute_unprepared(&format!("DELETE FROM {t}"))
                    .await
                    .expect("clear outbox");
            }
        }
        store.close().await.ok();
        db.drop_database().await;
    });
}
