//! Retention and the digest through the real binary: who is anonymized and
//! who is not, every copy of a person's data reached, the report unchanged;
//! digests once per recruiter, nothing sent when there is nothing to say.

use crate::common::Env;
use serde_json::Value;

const CONFIG: &str = r#"
[retention]
anonymize_after = "365d"

[recruiters]
emails = ["recruiting@example.org"]

[[rules]]
name = "nudge"
stage = "applied"
after = "5d"
remind = true

[pipeline]
extra_moves = ["rejected -> screening"]
"#;

fn outbox_files(env: &Env) -> String {
    let mut all = String::new();
    if let Ok(rd) = std::fs::read_dir(env.path("outbox")) {
        for e in rd.flatten() {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
        }
    }
    all
}

fn apply(env: &Env, at: &str, name: &str, email: &str) -> i64 {
    env.json(&["--now", at, "apply", "1", "--name", name, "--email", email])["application"]["id"]
        .as_i64()
        .unwrap()
}

#[test]
fn retention_reaches_every_copy_and_leaves_the_report_alone() {
    let env = Env::with_config(CONFIG);
    env.ok(&[
        "--now",
        "2026-01-01T09:00:00Z",
        "posting",
        "add",
        "https://boards.greenhouse.io/acme/jobs/1",
        "--title",
        "Cook",
    ]);
    // Ada: applied, reminded about, in a digest, rejected with a reason that quotes her
    let ada = apply(
        &env,
        "2026-01-01T10:00:00Z",
        "Ada Zyxwerth",
        "ada.zyxwerth@example.net",
    );
    env.ok(&["--now", "2026-01-07T10:00:00Z", "tick", "advance", "digest"]);
    env.ok(&[
        "--now",
        "2026-01-08T10:00:00Z",
        "application",
        "move",
        &ada.to_string(),
        "rejected",
        "--reason",
        "Ada Zyxwerth asked to wait a year",
    ]);
    // Grace: rejected recently; Lin: still active; Hal: rejected long ago but held
    let grace = apply(
        &env,
        "2026-01-02T10:00:00Z",
        "Grace Qwvut",
        "grace.qwvut@example.net",
    );
    env.ok(&[
        "--now",
        "2026-12-01T10:00:00Z",
        "application",
        "move",
        &grace.to_string(),
        "rejected",
    ]);
    apply(
        &env,
        "2026-01-03T10:00:00Z",
        "Lin Active",
        "lin@example.net",
    );
    let hal = apply(&env, "2026-01-04T10:00:00Z", "Hal Held", "hal@example.net");
    env.ok(&[
        "--now",
        "2026-01-05T10:00:00Z",
        "application",
        "move",
        &hal.to_string(),
        "rejected",
    ]);
    env.ok(&[
        "candidate",
        "hold",
        "hal@example.net",
        "--reason",
        "legal hold",
    ]);
    // every email goes out through the file transport
    env.ok(&["--now", "2026-01-20T10:00:00Z", "tick", "dispatch"]);
    assert!(
        outbox_files(&env).contains("Zyxwerth"),
        "the .eml files hold her name"
    );
    let report_before = env.json(&["report"]);

    let now = "2027-01-10T12:00:00Z";
    let before = crate::common::dump_tables(&env);
    assert!(before.contains("Zyxwerth") && before.contains("ada.zyxwerth@example.net"));
    let out = env.ok(&["--now", now, "tick", "retention", "--dry-run"]);
    assert!(
        out.contains("would anonymize 1 candidate(s) (1 on hold)"),
        "{out}"
    );
    assert!(
        out.contains("Ada Zyxwerth <ada.zyxwerth@example.net>"),
        "{out}"
    );
    assert!(
        !out.contains("Grace") && !out.contains("Lin") && !out.contains("Hal"),
        "{out}"
    );
    assert_eq!(
        crate::common::dump_tables(&env),
        before,
        "a dry run changes nothing"
    );

    // the run's own log, at debug level, names nobody either
    let (code, out, log) = env.run(&["--json", "-vv", "--now", now, "tick", "retention"]);
    assert_eq!(code, 0, "{log}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["retention"]["anonymized"], 1, "{v}");
    assert!(log.contains("candidate anonymized"), "{log}");
    assert!(
        !log.contains("Zyxwerth") && !log.contains("ada.zyxwerth"),
        "{log}"
    );
    let after = crate::common::dump_tables(&env);
    for needle in ["Zyxwerth", "ada.zyxwerth", "Ada "] {
        assert!(
            !after.contains(needle),
            "`{needle}` is still in the database"
        );
        assert!(
            !outbox_files(&env).contains(needle),
            "`{needle}` is still in the outbox folder"
        );
    }
    assert!(
        after.contains("Grace Qwvut") && after.contains("Hal Held") && after.contains("Lin Active")
    );
    assert_eq!(env.json(&["report"])["postings"], report_before["postings"]);
    // a second run finds nobody; the address matches nobody now
    assert_eq!(
        env.json(&["--now", "2027-01-11T12:00:00Z", "tick", "retention"])["retention"]["anonymized"],
        0
    );
    let (code, _, _) = env.run(&["candidate", "show", "ada.zyxwerth@example.net"]);
    assert_eq!(code, 2);
    let again = apply(
        &env,
        "2027-01-12T10:00:00Z",
        "Ada Zyxwerth",
        "ada.zyxwerth@example.net",
    );
    let shown: Value = env.json(&["candidate", "show", "ada.zyxwerth@example.net"]);
    assert_eq!(shown["applications"][0]["id"], again);
    assert_ne!(shown["candidate"]["id"], 1);
}

#[test]
fn reconsidering_restarts_the_retention_clock_and_holds_can_be_lifted() {
    let env = Env::with_config(CONFIG);
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    let id = apply(&env, "2026-01-01T10:00:00Z", "Bo Back", "bo@example.net");
    env.ok(&[
        "--now",
        "2026-01-02T10:00:00Z",
        "application",
        "move",
        &id.to_string(),
        "rejected",
    ]);
    env.ok(&[
        "--now",
        "2026-06-01T10:00:00Z",
        "application",
        "move",
        &id.to_string(),
        "screening",
    ]);
    env.ok(&[
        "--now",
        "2026-06-02T10:00:00Z",
        "application",
        "move",
        &id.to_string(),
        "rejected",
    ]);
    let due = |now: &str| {
        env.json(&["--now", now, "tick", "retention", "--dry-run"])["retention"]["would_anonymize"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
    };
    assert_eq!(
        due("2027-01-03T00:00:00Z"),
        0,
        "a year from the first rejection is too early"
    );
    assert_eq!(due("2027-06-03T00:00:00Z"), 1);
    env.ok(&["candidate", "hold", "bo@example.net"]);
    assert_eq!(due("2027-06-03T00:00:00Z"), 0);
    let shown = env.json(&["candidate", "show", "bo@example.net"]);
    assert_eq!(shown["retention"], "on hold");
    env.ok(&["candidate", "unhold", "bo@example.net"]);
    assert_eq!(due("2027-06-03T00:00:00Z"), 1);
}

#[test]
fn a_digest_goes_once_per_recruiter_and_not_at_all_when_there_is_nothing_to_say() {
    let env = Env::with_config(
        "[recruiters]\nemails = [\"a@example.org\", \"b@example.org\"]\n[schedule]\ndigest = \"0 9 * * *\"\n",
    );
    env.add_posting(1, "Cook");
    let v = env.json(&["--now", "2027-01-04T09:30:00Z", "tick", "digest"]);
    assert_eq!(v["digest"]["nothing_to_say"], true, "{v}");
    apply(&env, "2027-01-04T12:00:00Z", "Nia New", "nia@example.net");
    let v = env.json(&["--now", "2027-01-05T09:30:00Z", "tick", "digest"]);
    assert_eq!(v["digest"]["queued"], 2, "{v}");
    assert_eq!(v["digest"]["new_applications"], 1, "{v}");
    let digests: Vec<Value> = env
        .json(&["mail", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["template"] == "recruiter_digest")
        .cloned()
        .collect();
    assert_eq!(digests.len(), 2);
    assert_eq!(
        digests[0]["subject"],
        "Recruiting digest for Example Org: 1 new, 0 waiting"
    );
    // the next day: only what is new since this digest
    let v = env.json(&["--now", "2027-01-06T09:30:00Z", "tick", "digest"]);
    assert_eq!(v["digest"]["nothing_to_say"], true, "{v}");
}

/// A job that fails is recorded `failed` with its error, the other jobs
/// still run, and `tick` exits 1 after printing every job's result.
#[test]
fn a_failing_job_is_recorded_and_the_others_still_run() {
    let env = Env::with_config(
        "[recruiters]\nemails = [\"a@example.org\"]\n[templates]\ndir = \"tpl\"\n\
         [[rules]]\nname = \"stale\"\nstage = \"applied\"\nafter = \"1d\"\nmove_to = \"rejected\"\nemail = \"\"\n",
    );
    // a digest template that only breaks on a long list: check-config's
    // sample data passes, the real run with five new applications does not
    env.write(
        "tpl/en/recruiter_digest.txt",
        "{% if digest.new_applications | length > 3 %}{{ digest.new_applications[10].candidate }}{% endif %}\n",
    );
    env.ok(&["check-config"]);
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    for i in 0..5 {
        apply(
            &env,
            "2027-01-04T10:00:00Z",
            &format!("P{i}"),
            &format!("p{i}@example.net"),
        );
    }
    let (code, out, err) = env.run(&[
        "--json",
        "--now",
        "2027-01-05T10:00:00Z",
        "tick",
        "digest",
        "advance",
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("job digest") && err.contains("failed"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["digest"]["run"]["outcome"], "failed", "{v}");
    assert!(
        v["digest"]["run"]["error"]
            .as_str()
            .unwrap()
            .contains("recruiter_digest"),
        "{v}"
    );
    assert_eq!(v["advance"]["moved"], 5, "the next job still ran: {v}");
}
