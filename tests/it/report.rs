//! `atsd report` and `atsd status` over real data.

use crate::common::Env;

fn scenario() -> Env {
    let env = Env::with_config(
        "[[rules]]\nname = \"nudge\"\nstage = \"screening\"\nafter = \"2d\"\nremind = true\n",
    );
    env.add_posting(1, "Welder");
    env.add_posting(2, "Painter");
    for (i, day) in [(1, "01"), (2, "01"), (3, "02"), (4, "03")] {
        env.ok(&[
            "--now",
            &format!("2026-11-{day}T09:00:00Z"),
            "apply",
            "1",
            "--name",
            &format!("C{i}"),
            "--email",
            &format!("c{i}@example.org"),
        ]);
    }
    env.ok(&[
        "--now",
        "2026-11-03T09:00:00Z",
        "application",
        "move",
        "1",
        "screening",
    ]);
    env.ok(&[
        "--now",
        "2026-11-05T09:00:00Z",
        "application",
        "move",
        "2",
        "screening",
    ]);
    env.ok(&[
        "--now",
        "2026-11-06T09:00:00Z",
        "application",
        "move",
        "2",
        "interview",
    ]);
    env.ok(&[
        "--now",
        "2026-11-06T09:00:00Z",
        "application",
        "move",
        "3",
        "rejected",
    ]);
    env
}

#[test]
fn report_counts_conversion_median_and_stale() {
    let env = scenario();
    let v = env.json(&["--now", "2026-11-10T09:00:00Z", "report"]);
    let p = &v["postings"][0];
    assert_eq!(p["title"], "Welder");
    assert_eq!(p["applications"], 4);
    let stage = |s: &str| {
        p["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stage"] == s)
            .unwrap()
            .clone()
    };
    assert_eq!(stage("applied")["count"], 1);
    assert_eq!(stage("applied")["reached"], 4);
    assert_eq!(stage("applied")["conversion"], 0.5);
    // stays in applied: 2d, 4d, 4d (C3 rejected after 4 days) -> median 4d
    assert_eq!(stage("applied")["median_seconds"], 4 * 86_400);
    assert_eq!(stage("screening")["count"], 1);
    assert_eq!(stage("screening")["conversion"], 0.5);
    // C1 in screening since the 3rd: past the 2d rule threshold on the 10th
    assert_eq!(stage("screening")["stale"], 1);
    assert_eq!(stage("screening")["stale_after_seconds"], 2 * 86_400);
    // C4 applied on the 3rd: 7 days, under the 14d default
    assert_eq!(stage("applied")["stale"], 0);
    assert_eq!(stage("rejected")["count"], 1);
    assert_eq!(v["postings"][1]["applications"], 0);

    let only = env.json(&["report", "--posting", "2"]);
    assert_eq!(only["postings"].as_array().unwrap().len(), 1);

    let csv = env.ok(&[
        "--now",
        "2026-11-10T09:00:00Z",
        "report",
        "--format",
        "csv",
        "--posting",
        "1",
    ]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "posting_id,title,status,stage,count,reached,conversion,median_seconds,stale"
    );
    assert_eq!(
        lines.next().unwrap(),
        "1,Welder,unknown,applied,1,4,0.5000,345600,0"
    );

    let table = env.ok(&[
        "--now",
        "2026-11-10T09:00:00Z",
        "report",
        "--stale-after",
        "5d",
    ]);
    assert!(
        table.contains("posting 1 Welder [unknown] — 4 application(s)"),
        "{table}"
    );
    let applied = table.lines().find(|l| l.starts_with("applied")).unwrap();
    let cols: Vec<&str> = applied.split_whitespace().collect();
    assert_eq!(
        cols,
        ["applied", "1", "4", "50%", "4d", "0h", "1"],
        "{table}"
    );
}

#[test]
fn status_shows_outbox_postings_and_next_runs() {
    let env = scenario();
    let v = env.json(&["--now", "2026-11-10T09:07:00Z", "status"]);
    assert_eq!(v["outbox"]["pending"], 6, "{v}");
    assert_eq!(v["postings"]["unknown"], 2);
    assert_eq!(v["applications"]["applied"], 1);
    assert_eq!(v["jobs"][0]["job"], "poll");
    assert!(
        v["jobs"][0]["next_run"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-10T09:15:00")
    );
    assert!(v["jobs"][0]["last_run"].is_null());
}
