//! `atsd run`, the real binary as a daemon: SIGTERM in the middle of work,
//! and two daemons sharing one database over many occurrences.

use crate::common::{Env, block_on, count_sync};
use crate::smtp::{Sink, free_port};
use crate::tools::{Tool, needs};
use sea_orm::ConnectionTrait;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub fn term(child: &Child) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM");
}

/// Waits for the child to exit; returns its exit code and how long it took.
pub fn wait_exit(child: &mut Child, limit: Duration) -> (Option<i32>, Duration) {
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return (s.code(), t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().ok();
    (None, t.elapsed())
}

pub fn rows(env: &Env, q: &str) -> Vec<Vec<String>> {
    block_on(async {
        let s = env.store().await;
        let rows = s
            .conn()
            .query_all_raw(sea_orm::Statement::from_string(s.backend(), q.to_string()))
            .await
            .unwrap();
        s.close().await.ok();
        rows.iter()
            .map(|r| {
                (0..r.column_names().len())
                    .map(|i| {
                        r.try_get_by_index::<String>(i)
                            .or_else(|_| r.try_get_by_index::<i64>(i).map(|n| n.to_string()))
                            .or_else(|_| {
                                r.try_get_by_index::<chrono::DateTime<chrono::Utc>>(i)
                                    .map(|t| t.to_rfc3339())
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    })
}

fn stale_applications(env: &Env, n: usize) {
    env.add_posting(1, "Cook");
    crate::common::seed_applications(env, 1, n, "applied", "2026-01-05T00:00:00Z");
}

const STALE: &str = "[[rules]]\nname = \"stale\"\nstage = \"applied\"\nafter = \"30d\"\nmove_to = \"rejected\"\nreason = \"no_response\"\nemail = \"rejection\"\n";

#[test]
fn sigterm_in_the_middle_of_advance_exits_0_with_nothing_half_applied() {
    let n = 20_000;
    let env = Env::with_config(&format!(
        "{STALE}\n[mail]\ntransport = \"log\"\n[schedule]\nadvance = \"*/5 * * * *\"\npoll = \"0 0 1 1 *\"\n"
    ));
    stale_applications(&env, n);
    let mut child = env
        .std_cmd()
        .args(["--now", "2027-03-01T10:00:00Z", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wait for the first batches, then stop it
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60)
        && rows(
            &env,
            "SELECT COUNT(*) AS n FROM transitions WHERE actor = 'rule:stale'",
        )[0][0]
            == "0"
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    term(&child);
    let (code, took) = wait_exit(&mut child, Duration::from_secs(15));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).ok();
    assert_eq!(code, Some(0), "exit after {took:?}: {err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(err.contains("SIGTERM"), "{err}");
    // every move is whole: stage, version, transition and email together
    let moved = rows(
        &env,
        "SELECT COUNT(*) AS n FROM applications WHERE stage = 'rejected' AND version = 2",
    )[0][0]
        .parse::<usize>()
        .unwrap();
    let transitions = count(
        &env,
        "SELECT COUNT(*) AS n FROM transitions WHERE actor = 'rule:stale'",
    );
    let emails = count(
        &env,
        "SELECT COUNT(*) AS n FROM outbox WHERE template = 'rejection'",
    );
    assert_eq!((transitions, emails), (moved, moved));
    assert!(moved >= 1 && moved <= n, "{moved}");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) AS n FROM job_runs WHERE finished_at IS NULL"
        ),
        0,
        "runs left unfinished after a clean stop"
    );
    // the next run finishes the rest
    env.ok(&["--now", "2027-03-01T10:10:00Z", "tick", "advance"]);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) AS n FROM applications WHERE stage = 'rejected' AND version = 2"
        ),
        n
    );
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) AS n FROM transitions WHERE actor = 'rule:stale'"
        ),
        n
    );
}

fn count(env: &Env, q: &str) -> usize {
    rows(env, q)[0][0].parse().unwrap()
}

/// Two daemons with schedules in seconds, for several seconds: every
/// occurrence runs once, no job overlaps itself, every application moves once
/// and every email is sent once.
#[test]
fn two_daemons_share_the_work_each_occurrence_once() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let n = 400;
    let env = Env::with_config(&format!(
        "{STALE}\n[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout = \"5s\"\npool_size = 2\n\
         [schedule]\npoll = \"*/3 * * * * *\"\nadvance = \"*/2 * * * * *\"\ndispatch = \"* * * * * *\"\n",
        sink.port
    ));
    stale_applications(&env, n);
    let spawn = || {
        env.std_cmd()
            .args(["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut a = spawn();
    let mut b = spawn();
    // many occurrences, and until the daemons have sent everything (each
    // sends at most `rate_per_second`, 20 by default)
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(7)
        || (count(
            &env,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'",
        ) < n
            && t.elapsed() < Duration::from_secs(90))
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    term(&a);
    term(&b);
    for c in [&mut a, &mut b] {
        let (code, took) = wait_exit(c, Duration::from_secs(15));
        let mut err = String::new();
        std::io::Read::read_to_string(c.stderr.as_mut().unwrap(), &mut err).ok();
        assert_eq!(code, Some(0), "exit after {took:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) AS n FROM transitions WHERE actor = 'rule:stale'"
        ),
        n
    );
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), n, "every email arrived");
    assert!(copies.values().all(|c| *c == 1), "an email arrived twice");
    // each occurrence once (the unique index), and no job overlapped itself
    let runs = rows(
        &env,
        "SELECT job, started_at, finished_at, instance FROM job_runs ORDER BY job, started_at",
    );
    assert!(runs.len() >= 8, "{runs:?}");
    for w in runs.windows(2) {
        if w[0][0] == w[1][0] {
            assert!(
                w[0][2] <= w[1][1],
                "{} overlapped itself: {:?} and {:?}",
                w[0][0],
                w[0],
                w[1]
            );
        }
    }
    let instances: std::collections::BTreeSet<&String> = runs.iter().map(|r| &r[3]).collect();
    assert_eq!(count_sync(&env, "job_runs") as usize, runs.len());
    assert!(!instances.is_empty());
}

/// On PostgreSQL a recruiter's `apply` in another process wakes the daemon
/// through `NOTIFY`: the email goes out although no dispatch occurrence is
/// due for a year. (SQLite has no notifications; its daemons look at the
/// outbox every two seconds, which the test above relies on.)
#[test]
fn on_postgres_queued_email_wakes_the_daemon() {
    let env = Env::with_config(
        "[mail]\ntransport = \"log\"\n[schedule]\npoll = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n\
         dispatch = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\nretention = \"0 0 1 1 *\"\n",
    );
    if !env.db.is_postgres() {
        return;
    }
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    let log = env.path("daemon.log");
    let mut child = env
        .std_cmd()
        .env("ATSD_LOG", "info,atsd::daemon=debug")
        .args(["run"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait_for = |what: &str| {
        let t = Instant::now();
        while !read().contains(what) && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        read().contains(what)
    };
    assert!(wait_for("scheduler started"), "{}", read());
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.net"]);
    assert!(
        wait_for("woken by a queued-email notification"),
        "{}",
        read()
    );
    assert!(wait_for("email (log transport)"), "{}", read());
    term(&child);
    let (code, _) = wait_exit(&mut child, Duration::from_secs(15));
    assert_eq!(code, Some(0), "{}", read());
    let mails = env.json(&["mail", "list"]);
    assert_eq!(mails[0]["status"], "sent", "{mails}");
}

/// SIGTERM while the daemon sends through a slow SMTP server: it stops
/// claiming, hands back what it has not sent, exits 0 within 10 s, and no
/// row is left `sending`; the next run sends the rest, each email once.
#[test]
fn sigterm_while_sending_hands_back_the_rest() {
    needs!(Tool::Smtp);
    let sink = Sink::start_with(free_port(), &["--slow", "0.1"]);
    let n = 200;
    let env = Env::with_config(&format!(
        "{STALE}\n[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout = \"5s\"\npool_size = 2\n\
         [schedule]\npoll = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\nretention = \"0 0 1 1 *\"\n",
        sink.port
    ));
    stale_applications(&env, n);
    env.ok(&["--now", "2027-03-01T10:00:00Z", "tick", "advance"]);
    // every recipient answers the final dot after 100 ms
    block_on(async {
        let s = env.store().await;
        s.conn()
            .execute_unprepared(
                "UPDATE outbox SET recipient = 'slowdata-' || CAST(id AS TEXT) || '@example.net'",
            )
            .await
            .unwrap();
        s.close().await.ok();
    });
    let mut child = env
        .std_cmd()
        .args(["--now", "2027-03-01T10:00:30Z", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while sink.messages().len() < 10 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    term(&child);
    let (code, took) = wait_exit(&mut child, Duration::from_secs(15));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).ok();
    assert_eq!(code, Some(0), "exit after {took:?}: {err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sending'"
        ),
        0,
        "rows left leased after a clean stop"
    );
    let sent = count(
        &env,
        "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'",
    );
    assert!(sent < n, "it stopped before the end ({sent} of {n} sent)");
    // a later run sends the rest, and nothing twice
    env.ok(&["--now", "2027-03-01T11:00:00Z", "tick", "dispatch"]);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'"
        ),
        n
    );
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), n);
    assert!(copies.values().all(|c| *c == 1), "an email arrived twice");
}
