//! The board's stage counts are kept by the database (issue 36): triggers
//! on `applications` bring `stage_totals` up to date in every writing
//! transaction, whoever writes. After random moves, applications, a
//! person's SQL (multi-row updates, a move to another posting, a delete)
//! and folds, the kept counts equal a fresh count, and the board's pages
//! show the report's numbers (the report counts afresh), on both engines.

use crate::api::Api;
use crate::common::{Env, Rng, block_on, seed_applications};
use crate::daemon::rows;
use crate::recruiter_board::{get, linked_number, session};
use crate::smtp::free_port;
use chrono::{Duration, SecondsFormat};
use sea_orm::ConnectionTrait;

const STAGES: [&str; 7] = [
    "applied",
    "screening",
    "interview",
    "offer",
    "hired",
    "rejected",
    "withdrawn",
];

fn sql(env: &Env, q: &str) {
    block_on(async {
        let s = env.store().await;
        s.conn()
            .execute_unprepared(q)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        s.close().await.ok();
    })
}

fn fold(env: &Env) {
    block_on(async {
        let s = env.store().await;
        atsd::store::board::fold_totals(s.conn())
            .await
            .expect("fold");
        s.close().await.ok();
    })
}

/// (posting, stage, count), kept and counted afresh; then (posting, stage,
/// day entered, count), kept and counted afresh (the day computed here
/// another way than the triggers do).
fn kept_and_fresh(env: &Env) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let mut kept = rows(
        env,
        "SELECT posting_id, stage, CAST(SUM(n) AS BIGINT) FROM stage_totals \
         GROUP BY posting_id, stage HAVING SUM(n) <> 0 ORDER BY posting_id, stage",
    );
    let mut fresh = rows(
        env,
        "SELECT posting_id, stage, COUNT(*) FROM applications \
         GROUP BY posting_id, stage ORDER BY posting_id, stage",
    );
    kept.extend(rows(
        env,
        "SELECT posting_id, stage, day, CAST(SUM(n) AS BIGINT) FROM stage_days \
         GROUP BY posting_id, stage, day HAVING SUM(n) <> 0 ORDER BY posting_id, stage, day",
    ));
    let day = if env.db.is_postgres() {
        "CAST((entered_stage_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' AS BIGINT)"
    } else {
        "CAST(julianday(entered_stage_at) - 2440587.5 AS INTEGER)"
    };
    fresh.extend(rows(
        env,
        &format!(
            "SELECT posting_id, stage, {day} AS day, COUNT(*) FROM applications \
             GROUP BY posting_id, stage, day ORDER BY posting_id, stage, day"
        ),
    ));
    (kept, fresh)
}

/// The days in stage of postings 1 to 3, as the board reads them (on
/// SQLite from every transition for a big posting, from its applications
/// for a small one), equal a count that finds each posting's transitions
/// another way; returns posting 3's.
fn stays_read_either_way(env: &Env) -> Vec<Vec<String>> {
    let days = if env.db.is_postgres() {
        "CAST(FLOOR(EXTRACT(EPOCH FROM (at - stage_entered_at)) / 86400) AS BIGINT)"
    } else {
        "CAST(julianday(at) - julianday(stage_entered_at) AS INTEGER)"
    };
    let mut last = Vec::new();
    for posting in 1..=3 {
        let mut expected = rows(
            env,
            &format!(
                "SELECT from_stage, {days}, COUNT(*) FROM transitions WHERE stage_entered_at IS NOT NULL \
                 AND application_id IN (SELECT id FROM applications WHERE posting_id = {posting}) \
                 GROUP BY 1, 2"
            ),
        );
        let mut read: Vec<Vec<String>> = block_on(async {
            let s = env.store().await;
            let d = atsd::store::board::stay_days(s.conn(), posting)
                .await
                .expect("days in stage");
            s.close().await.ok();
            d
        })
        .into_iter()
        .map(|(stage, days, n)| vec![stage, days.to_string(), n.to_string()])
        .collect();
        read.sort();
        expected.sort();
        assert_eq!(read, expected, "days in stage of posting {posting}");
        last = read;
    }
    last
}

fn ids(env: &Env) -> Vec<String> {
    rows(env, "SELECT id FROM applications ORDER BY id")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

#[test]
fn kept_stage_counts_equal_a_fresh_count_after_random_writes() {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n\n\
         [[rules]]\nname = \"stale-screening\"\nstage = \"screening\"\nafter = \"5d\"\nremind = true\n"
    ));
    env.add_posting(1, "Cook");
    env.add_posting(2, "Waiter");
    let now = crate::clock::now();
    let t = |d: Duration| (now - d).to_rfc3339_opts(SecondsFormat::Secs, true);
    seed_applications(&env, 1, 30, "applied", &t(Duration::days(20)));
    seed_applications(&env, 1, 6, "screening", &t(Duration::days(6)));
    seed_applications(&env, 1, 3, "screening", &t(Duration::days(1)));
    // on both sides of the screening cut-off (5 days), in its day when the
    // clock allows: the kept days before it, an index range after it
    seed_applications(
        &env,
        1,
        2,
        "screening",
        &t(Duration::days(5) + Duration::minutes(1)),
    );
    seed_applications(
        &env,
        1,
        4,
        "screening",
        &t(Duration::days(5) - Duration::minutes(1)),
    );
    seed_applications(&env, 2, 12, "applied", &t(Duration::hours(3)));
    // a small posting (its days in stage read from its applications, where
    // the big ones' are read from every transition, on SQLite)
    env.add_posting(3, "Baker");
    seed_applications(&env, 3, 2, "applied", &t(Duration::days(9)));
    let small = rows(
        &env,
        "SELECT MIN(id) FROM applications WHERE posting_id = 3",
    )[0][0]
        .clone();
    env.ok(&["application", "move", &small, "screening"]);
    let (kept, fresh) = kept_and_fresh(&env);
    assert_eq!(kept, fresh, "after the seeding");
    assert!(
        !stays_read_either_way(&env).is_empty(),
        "posting 3 has a stay"
    );
    let read = env.token("board", "read");
    let api = Api::start(&env, port);
    let cookie = session(port, &read);

    let mut rng = Rng::from_env();
    let seed = rng.0;
    let mut applied = 0;
    for round in 0..40 {
        let all = ids(&env);
        let any = |rng: &mut Rng| all[rng.below(all.len() as u64) as usize].clone();
        match rng.below(7) {
            // a recruiter's move (refused ones change nothing)
            0 | 1 => {
                let stage = STAGES[rng.below(STAGES.len() as u64) as usize];
                env.run(&["application", "move", &any(&mut rng), stage]);
            }
            // a candidate applies
            2 => {
                applied += 1;
                env.ok(&[
                    "apply",
                    &(1 + rng.below(2)).to_string(),
                    "--name",
                    "New Person",
                    "--email",
                    &format!("new{applied}@example.org"),
                ]);
            }
            // a person's SQL: many rows in one statement
            3 => sql(
                &env,
                &format!(
                    "UPDATE applications SET stage = 'rejected' WHERE stage = 'applied' AND id % 5 = {}",
                    rng.below(5)
                ),
            ),
            // one to the other posting
            4 => sql(
                &env,
                &format!(
                    "UPDATE applications SET posting_id = 3 - posting_id WHERE id = {} AND posting_id IN (1, 2)",
                    any(&mut rng)
                ),
            ),
            // one's stage entered at another time (its day moves)
            5 => sql(
                &env,
                &format!(
                    "UPDATE applications SET entered_stage_at = '{}' WHERE id = {}",
                    t(Duration::hours(rng.below(24 * 30) as i64)),
                    any(&mut rng)
                ),
            ),
            // one deleted, with what names it
            _ => {
                let id = any(&mut rng);
                for table in ["outbox", "transitions"] {
                    sql(
                        &env,
                        &format!("DELETE FROM {table} WHERE application_id = {id}"),
                    );
                }
                sql(&env, &format!("DELETE FROM applications WHERE id = {id}"));
            }
        }
        if round % 7 == 6 {
            fold(&env);
        }
        let (kept, fresh) = kept_and_fresh(&env);
        assert_eq!(kept, fresh, "after round {round} (ATSD_TEST_SEED={seed})");
    }
    fold(&env);
    let (kept, fresh) = kept_and_fresh(&env);
    assert_eq!(kept, fresh, "after the last fold");
    let folded = rows(
        &env,
        "SELECT (SELECT COUNT(*) FROM stage_totals) + (SELECT COUNT(*) FROM stage_days)",
    )[0][0]
        .clone();
    assert_eq!(
        folded,
        fresh.len().to_string(),
        "one row per posting and stage, and per posting, stage and day"
    );

    stays_read_either_way(&env);

    // the pages show what the report counts afresh
    let overview = get(port, "/board", Some(&cookie)).body;
    for posting in ["1", "2"] {
        let report = env.json(&["report", "--posting", posting]);
        let page = get(port, &format!("/board/postings/{posting}"), Some(&cookie)).body;
        let stale: i64 = report["postings"][0]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stale"].as_i64().unwrap())
            .sum();
        let href = format!("/board/postings/{posting}/applications?stale=1");
        assert_eq!(
            linked_number(&overview, &href),
            stale,
            "overview: stale of {posting}"
        );
        for s in report["postings"][0]["stages"].as_array().unwrap() {
            let stage = s["stage"].as_str().unwrap();
            let count = s["count"].as_i64().unwrap();
            let href = format!("/board/postings/{posting}/applications?stage={stage}");
            if count > 0 {
                assert_eq!(linked_number(&overview, &href), count, "overview: {href}");
                assert_eq!(linked_number(&page, &href), count, "posting page: {href}");
            }
        }
    }
    api.stop();
}

/// The chart figures a daemon counted are kept in the database: the next
/// daemon (just started) shows them at once with when they were counted,
/// and catches up behind them; figures over ten minutes old, or that do not
/// read, are never shown (counted while the page waits, as before).
#[test]
fn a_new_daemon_shows_the_chart_figures_kept_before_it_then_catches_up() {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n"
    ));
    env.add_posting(1, "Cook");
    env.add_posting(2, "Waiter");
    env.add_posting(3, "Baker");
    let now = crate::clock::now();
    let t = |d: Duration| (now - d).to_rfc3339_opts(SecondsFormat::Secs, true);
    for posting in 1..=3 {
        seed_applications(&env, posting, 4, "rejected", &t(Duration::days(3)));
    }
    let last = rows(&env, "SELECT MAX(id) FROM transitions")[0][0].clone();
    // kept by a daemon before: 41 finished (the log says 4), counted two
    // minutes ago (posting 1), eleven minutes ago (posting 2), unreadable (3)
    let kept = |posting: i64, ago: Duration, figures: &str| {
        let at = t(ago);
        sql(
            &env,
            &format!(
                "INSERT INTO chart_figures (posting_id, last_transition, counted_at, figures) \
                 VALUES ({posting}, {last}, '{at}', '{}')",
                figures.replace("{at}", &at)
            ),
        );
    };
    let claimed = r#"{"finished":41,"funnel":{"rejected":41},"stays":[],"counted_at":"{at}"}"#;
    kept(1, Duration::minutes(2), claimed);
    kept(2, Duration::minutes(11), claimed);
    kept(3, Duration::minutes(2), "{\"finished\": \"many\"}");

    let read = env.token("board", "read");
    let api = Api::start(&env, port);
    let cookie = session(port, &read);
    let page = |posting: u32| get(port, &format!("/board/postings/{posting}"), Some(&cookie)).body;

    // at once, with when they were counted; then caught up (in the background)
    let first = page(1);
    assert!(first.contains("Of the 41 finished applications"), "{first}");
    assert!(
        first.contains("were counted from the transition log at"),
        "{first}"
    );
    let started = std::time::Instant::now();
    while !page(1).contains("Of the 4 finished applications") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "the kept figures were never brought up to date"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // too old, or unreadable: counted while the page waits
    for posting in [2, 3] {
        let p = page(posting);
        assert!(
            p.contains("Of the 4 finished applications"),
            "{posting}: {p}"
        );
    }
    api.stop();
}
