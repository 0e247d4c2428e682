//! The `advance` job and job runs through the real binary, with `--now`
//! rather than sleeps: stale moves and reminders over simulated days, closed
//! postings, rule emails, delayed emails cancelled, claims shared by
//! processes, interrupted runs redone, dry runs that change nothing.

use crate::common::{Env, block_on, count_sync};
use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use serde_json::Value;

const RULES: &str = r#"
[[rules]]
name = "stale-applied"
stage = "applied"
after = "30d"
move_to = "rejected"
reason = "no_response"

[[rules]]
name = "nudge-screening"
stage = "screening"
after = "5d"
remind = true

[[rules]]
name = "posting-closed"
on = "posting_closed"
move_to = "rejected"
reason = "posting_closed"
email = "posting_closed"
grace = "1d"

[recruiters]
emails = ["recruiting@example.org", "lead@example.org"]

[pipeline]
extra_moves = ["rejected -> screening", "screening -> applied"]
"#;

fn day(d: i64) -> String {
    (DateTime::parse_from_rfc3339("2027-01-04T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::days(d))
    .to_rfc3339()
}

fn setup(config: &str, n: usize) -> Env {
    let env = Env::with_config(config);
    env.ok(&[
        "--now",
        &day(0),
        "posting",
        "add",
        "https://boards.greenhouse.io/acme/jobs/1",
        "--title",
        "Cook",
    ]);
    if n > 0 {
        let mut csv = String::from("posting,name,email\n");
        for i in 0..n {
            csv.push_str(&format!("1,Person {i},p{i}@example.net\n"));
        }
        env.write("apps.csv", &csv);
        env.ok(&["--now", &day(0), "application", "import", "apps.csv"]);
    }
    env
}

fn advance(env: &Env, d: i64) -> Value {
    env.json(&["--now", &day(d), "tick", "advance"])["advance"].clone()
}

/// `SELECT` one number.
fn scalar(env: &Env, q: &str) -> i64 {
    block_on(async {
        let s = env.store().await;
        let row = s
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(s.backend(), q.to_string()))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        s.close().await.ok();
        n
    })
}

#[test]
fn thirty_days_later_stale_applications_are_rejected_once_with_one_email() {
    let env = setup(RULES, 5);
    // move one on, so only four stay in `applied`
    env.ok(&["--now", &day(1), "application", "move", "1", "screening"]);
    for d in [10, 20, 29] {
        let r = advance(&env, d);
        assert_eq!(r["moved"], 0, "day {d}: {r}");
    }
    let r = advance(&env, 31);
    assert_eq!(r["moved"], 4, "{r}");
    assert_eq!(r["by_rule"]["stale-applied"], 4, "{r}");
    // the same occurrence again, and later occurrences: nothing more
    let again = env.json(&["--now", &day(31), "tick", "advance"]);
    assert_eq!(again["advance"]["skipped"], "already ran", "{again}");
    for d in [32, 40] {
        assert_eq!(advance(&env, d)["moved"], 0);
    }
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) AS n FROM transitions WHERE reason = 'no_response' AND actor = 'rule:stale-applied'"
        ),
        4
    );
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) AS n FROM (SELECT application_id FROM transitions WHERE reason = 'no_response' \
             GROUP BY application_id HAVING COUNT(*) <> 1) x"
        ),
        0
    );
    // one rejection email per move, delayed by the stage's 2 days
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) AS n FROM outbox WHERE template = 'rejection' AND send_after IS NOT NULL"
        ),
        4
    );
    let app = env.json(&["application", "show", "2"]);
    assert_eq!(app["application"]["stage"], "rejected");
    assert_eq!(app["application"]["version"], 2);
    // a recruiter reconsiders before the rule's rejection went out: cancelled
    env.ok(&["--now", &day(32), "application", "move", "2", "screening"]);
    let app = env.json(&["application", "show", "2"]);
    let rejection = app["emails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["template"] == "rejection")
        .cloned()
        .unwrap();
    assert_eq!(rejection["status"], "cancelled", "{rejection}");
}

#[test]
fn reminders_go_once_per_stage_visit_to_every_recruiter() {
    let env = setup(RULES, 1);
    env.ok(&["--now", &day(1), "application", "move", "1", "screening"]);
    assert_eq!(advance(&env, 5)["reminders"], 0);
    let r = advance(&env, 7);
    assert_eq!(r["reminders"], 1, "{r}");
    assert_eq!(r["emails"], 2, "one per recruiter: {r}");
    for d in [8, 12, 20] {
        assert_eq!(advance(&env, d)["reminders"], 0, "day {d}");
    }
    // back and forth: a new visit, reminded again once it is stale
    env.ok(&["--now", &day(21), "application", "move", "1", "applied"]);
    env.ok(&["--now", &day(22), "application", "move", "1", "screening"]);
    assert_eq!(advance(&env, 23)["reminders"], 0);
    assert_eq!(advance(&env, 28)["reminders"], 1);
    assert_eq!(advance(&env, 29)["reminders"], 0);
    let mails = env.json(&["mail", "list"]);
    let reminders: Vec<&Value> = mails
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["template"] == "recruiter_reminder")
        .collect();
    assert_eq!(reminders.len(), 4);
    assert!(
        reminders
            .iter()
            .all(|m| m["subject"] == "Waiting on you: Person 0 for Cook"),
        "{reminders:?}"
    );
}

#[test]
fn a_posting_closed_by_reimport_rejects_its_active_applications_once_after_the_grace() {
    let env = setup(RULES, 3);
    env.ok(&["--now", &day(1), "application", "move", "3", "withdrawn"]);
    let posting = "---\ntitle: Cook\nurl: https://boards.greenhouse.io/acme/jobs/1\narchived: \"true\"\n---\nGone.\n";
    env.write("closed.md", posting);
    env.ok(&["--now", &day(2), "posting", "import", "closed.md"]);
    assert_eq!(advance(&env, 2)["moved"], 0, "grace of 1d");
    let r = advance(&env, 3);
    assert_eq!(r["moved"], 2, "{r}");
    assert_eq!(r["by_rule"]["posting-closed"], 2, "{r}");
    assert_eq!(advance(&env, 4)["moved"], 0);
    // the rule's email replaced the stage's rejection, and is not delayed
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) AS n FROM outbox WHERE template = 'posting_closed' AND send_after IS NULL"
        ),
        2
    );
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) AS n FROM outbox WHERE template = 'rejection'"
        ),
        0
    );
    // the withdrawn one is untouched
    let app = env.json(&["application", "show", "3"]);
    assert_eq!(app["application"]["stage"], "withdrawn");
    assert_eq!(app["transitions"].as_array().unwrap().len(), 2);
    // reconsidered after the close: left to the recruiter
    env.ok(&["--now", &day(5), "application", "move", "1", "screening"]);
    assert_eq!(advance(&env, 6)["moved"], 0);
}

#[test]
fn a_rule_email_of_nothing_sends_none() {
    let env = setup(
        "[[rules]]\nname = \"quiet\"\nstage = \"applied\"\nafter = \"1d\"\nmove_to = \"rejected\"\nemail = \"\"\n",
        2,
    );
    assert_eq!(advance(&env, 2)["moved"], 2);
    assert_eq!(count_sync(&env, "outbox"), 0);
}

#[test]
fn a_rule_move_cancels_the_delayed_email_of_the_stage_it_leaves() {
    let env = setup(
        "[pipeline.emails]\nscreening = { template = \"stage_changed\", delay = \"3d\" }\n\n\
         [[rules]]\nname = \"fast-no\"\nstage = \"screening\"\nafter = \"1d\"\nmove_to = \"rejected\"\nemail = \"rejection\"\n",
        1,
    );
    env.ok(&["--now", &day(0), "application", "move", "1", "screening"]);
    let r = advance(&env, 1);
    assert_eq!(
        (r["moved"].as_u64(), r["cancelled_emails"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let mails = env.json(&["mail", "list"]);
    let by_template: Vec<(String, String)> = mails
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["template"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        by_template.contains(&("stage_changed".into(), "cancelled".into())),
        "{by_template:?}"
    );
    assert!(
        by_template.contains(&("rejection".into(), "pending".into())),
        "{by_template:?}"
    );
}

#[test]
fn a_dry_run_prints_what_it_would_do_and_changes_nothing() {
    let env = setup(RULES, 3);
    env.ok(&["--now", &day(1), "application", "move", "1", "screening"]);
    let before = crate::common::dump_tables(&env);
    let out = env.ok(&["--now", &day(40), "tick", "--dry-run"]);
    assert!(
        out.contains("advance: would move 2 application(s) and remind about 1"),
        "{out}"
    );
    assert!(
        out.contains(
            "application 2: applied -> rejected by rule stale-applied; rejection → p1@example.net"
        ),
        "{out}"
    );
    assert!(
        out.contains("recruiter_reminder → recruiting@example.org"),
        "{out}"
    );
    assert_eq!(crate::common::dump_tables(&env), before);
}

#[test]
fn after_a_three_hour_gap_each_job_runs_once_for_its_latest_occurrence() {
    let env = setup(RULES, 1);
    env.ok(&["--now", "2027-01-04T09:00:00Z", "tick"]);
    let v = env.json(&["--now", "2027-01-04T12:07:30Z", "tick"]);
    assert_eq!(
        v["advance"]["run"]["scheduled_for"], "2027-01-04T12:05:00Z",
        "{v}"
    );
    assert_eq!(
        v["poll"]["run"]["scheduled_for"], "2027-01-04T12:00:00Z",
        "{v}"
    );
    assert_eq!(
        v["dispatch"]["run"]["scheduled_for"], "2027-01-04T12:07:00Z",
        "{v}"
    );
    // the daily ones (digest 09:00, retention 03:00) already ran this morning
    assert_eq!(v["digest"]["skipped"], "already ran", "{v}");
    assert_eq!(v["retention"]["skipped"], "already ran", "{v}");
    assert_eq!(count_sync(&env, "job_runs"), 5 + 3);
}

#[test]
fn the_schedule_time_zone_decides_the_occurrence_through_daylight_saving() {
    for (tz, now, want) in [
        // Berlin skips 02:00-03:00 on 2027-03-28: the 02:30 run is at the jump
        (
            "Europe/Berlin",
            "2027-03-28T01:10:00Z",
            "2027-03-28T01:00:00Z",
        ),
        // New York repeats 01:00-02:00 on 2027-11-07: 01:30 ran the first time
        (
            "America/New_York",
            "2027-11-07T06:45:00Z",
            "2027-11-07T05:30:00Z",
        ),
    ] {
        let schedule = if tz == "Europe/Berlin" {
            "30 2 * * *"
        } else {
            "30 1 * * *"
        };
        let env = Env::with_config(&format!(
            "[schedule]\ntimezone = \"{tz}\"\nadvance = \"{schedule}\"\n"
        ));
        let v = env.json(&["--now", now, "tick", "advance"]);
        assert_eq!(v["advance"]["run"]["scheduled_for"], want, "{tz}: {v}");
    }
}

#[test]
fn processes_started_together_run_each_occurrence_once() {
    let env = setup(RULES, 300);
    let children: Vec<_> = (0..3)
        .map(|_| {
            env.std_cmd()
                .args(["--json", "--now", &day(31), "tick", "advance"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut moved = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        moved += v["advance"]["moved"].as_u64().unwrap_or(0);
    }
    assert_eq!(moved, 300);
    assert_eq!(count_sync(&env, "job_runs"), 1);
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) AS n FROM transitions WHERE actor = 'rule:stale-applied'"
        ),
        300
    );
    assert_eq!(scalar(&env, "SELECT COUNT(*) AS n FROM outbox"), 300);
}

#[test]
fn a_run_killed_midway_is_marked_interrupted_and_redone_at_the_same_time() {
    let n = 10_000;
    let env = setup(RULES, 0);
    crate::common::seed_applications(&env, 1, n, "applied", &day(0));
    let mut child = env
        .std_cmd()
        .args(["--now", &day(31), "tick", "advance"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // wait until the run is claimed and a first batch may be written
    let started = std::time::Instant::now();
    while count_sync(&env, "job_runs") == 0
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    let done_before = scalar(
        &env,
        "SELECT COUNT(*) AS n FROM transitions WHERE actor = 'rule:stale-applied'",
    );
    let (code, out, err) = env.run(&["--json", "--now", &day(31), "tick", "advance"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let run = &v["advance"]["run"];
    eprintln!("killed after {done_before} of {n} moves");
    if v["advance"].get("skipped").is_some() {
        // the first run had finished before the kill
        assert_eq!(done_before, n as i64);
    } else {
        assert_eq!(run["attempts"], 2, "{v}");
        assert_eq!(run["outcome"], "ok", "{v}");
        assert!(err.contains("interrupted"), "{err}");
        assert_eq!(
            v["advance"]["moved"].as_i64().unwrap() + done_before,
            n as i64,
            "{v}"
        );
    }
    // every application moved once, with one email, its version bumped once
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) AS n FROM transitions WHERE actor = 'rule:stale-applied'"
        ),
        n as i64
    );
    assert_eq!(scalar(&env, "SELECT COUNT(*) AS n FROM outbox"), n as i64);
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) AS n FROM applications WHERE stage = 'rejected' AND version = 2"
        ),
        n as i64
    );
    assert_eq!(count_sync(&env, "job_runs"), 1);
}

/// `atsd status` shows the run a daylight-saving jump would otherwise drop:
/// `30 2 * * *` in Europe/Berlin, asked on the night 02:00-03:00 is skipped.
#[test]
fn status_shows_the_next_run_at_the_jump() {
    let env =
        Env::with_config("[schedule]\ntimezone = \"Europe/Berlin\"\nadvance = \"30 2 * * *\"\n");
    let v = env.json(&["--now", "2027-03-28T00:00:00Z", "status"]);
    let advance = v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "advance")
        .cloned()
        .unwrap();
    assert_eq!(advance["next_run"], "2027-03-28T01:00:00Z", "{v}");
}
