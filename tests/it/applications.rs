//! `apply`, `application import|list|show|move`.

use crate::common::{Env, NOW, count_sync, seed_file};

fn with_posting() -> Env {
    let env = Env::new();
    env.add_posting(100, "Welder");
    env
}

#[test]
fn apply_creates_candidate_application_transition_and_email() {
    let env = with_posting();
    let v = env.json(&[
        "--now",
        NOW,
        "apply",
        "1",
        "--name",
        "Zoë Müller",
        "--email",
        "Zoe@Example.org",
        "--locale",
        "de-ch",
        "--timezone",
        "Europe/Zurich",
    ]);
    assert_eq!(v["application"]["stage"], "applied");
    assert_eq!(v["application"]["version"], 1);
    assert_eq!(v["candidate"]["locale"], "de-CH");
    assert_eq!(v["transition"]["actor"], "cli:tester");
    assert!(v["transition"]["from_stage"].is_null());
    assert_eq!(v["emails"][0]["template"], "application_received");
    assert_eq!(v["emails"][0]["recipient"], "Zoe@Example.org");
    // rendered in the move's transaction, in German (de-CH falls back to de)
    assert_eq!(v["emails"][0]["locale"], "de");
    assert_eq!(v["emails"][0]["status"], "pending");
    assert_eq!(
        v["emails"][0]["subject"],
        "Ihre Bewerbung als Welder ist eingegangen"
    );
    let text = v["emails"][0]["body_text"].as_str().unwrap();
    assert!(text.starts_with("Guten Tag Zoë Müller,"), "{text}");
    assert!(
        text.contains("am 25. November 2026 bei uns eingegangen"),
        "{text}"
    );

    // the same person (email differs in case) cannot apply twice to one posting
    let err = env.fails(
        2,
        &[
            "apply",
            "1",
            "--name",
            "Zoe M",
            "--email",
            "zoe@example.ORG",
        ],
    );
    assert!(err.contains("already applied"), "{err}");
    assert_eq!(count_sync(&env, "applications"), 1);
    assert_eq!(count_sync(&env, "candidates"), 1);
    assert_eq!(count_sync(&env, "outbox"), 1);

    // but they may apply to another posting, reusing the candidate
    env.add_posting(200, "Painter");
    env.ok(&[
        "apply",
        "https://boards.greenhouse.io/acme/jobs/200",
        "--name",
        "Zoë",
        "--email",
        "zoe@example.org",
        "--no-email",
    ]);
    assert_eq!(count_sync(&env, "candidates"), 1);
    assert_eq!(count_sync(&env, "applications"), 2);
    assert_eq!(count_sync(&env, "outbox"), 1);
}

#[test]
fn header_injection_in_candidate_data_is_refused_and_changes_nothing() {
    let env = with_posting();
    for (name, email, what) in [
        (
            "Eve\r\nBcc: x@evil.example",
            "eve@example.org",
            "carriage return",
        ),
        ("Eve\nSubject: hi", "eve@example.org", "line feed"),
        ("Eve", "a@b.org\r\nRCPT TO:<x@y>", "carriage return"),
        ("Eve", "a@b.org>", "contains `>`"),
        (&"x".repeat(10_000), "eve@example.org", "at most 200"),
        ("\u{202E}evE", "eve@example.org", "invisible"),
    ] {
        let err = env.fails(2, &["apply", "1", "--name", name, "--email", email]);
        assert!(err.contains(what), "{name:?} {email:?}: {err}");
    }
    assert_eq!(count_sync(&env, "candidates"), 0);
    assert_eq!(count_sync(&env, "applications"), 0);
    // HTML in a name is data, not markup: accepted as is
    env.ok(&[
        "apply",
        "1",
        "--name",
        "<script>alert(1)</script>",
        "--email",
        "s@example.org",
    ]);
}

#[test]
fn moves_follow_the_pipeline_and_record_everything() {
    let env = with_posting();
    env.ok(&[
        "--now",
        NOW,
        "apply",
        "1",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
    ]);
    let out = env.ok(&[
        "--now",
        "2026-11-26T10:00:00Z",
        "application",
        "move",
        "1",
        "screening",
        "--reason",
        "good CV",
    ]);
    assert!(out.contains("applied -> screening (version 2)"), "{out}");

    let err = env.fails(2, &["application", "move", "1", "hired"]);
    assert!(
        err.contains("cannot move from `screening` to `hired`: allowed moves from here: interview, offer, rejected, withdrawn"),
        "{err}"
    );
    let err = env.fails(2, &["application", "move", "1", "phone"]);
    assert!(err.contains("unknown stage `phone`"), "{err}");
    let err = env.fails(2, &["application", "move", "42", "screening"]);
    assert!(err.contains("no application with id 42"), "{err}");

    let v = env.json(&[
        "--now",
        "2026-11-27T10:00:00Z",
        "application",
        "move",
        "1",
        "rejected",
    ]);
    assert_eq!(v["application"]["version"], 3);
    // the stage email is delayed by the configured 2 days
    assert_eq!(v["emails"][0]["template"], "rejection");
    assert!(
        v["emails"][0]["send_after"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-29T10:00:00"),
        "{v}"
    );
    // terminal stages absorb
    let err = env.fails(2, &["application", "move", "1", "screening"]);
    assert!(err.contains("terminal stage"), "{err}");

    let d = env.json(&["application", "show", "1"]);
    let t = d["transitions"].as_array().unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t[1]["from_stage"], "applied");
    assert_eq!(t[1]["to_stage"], "screening");
    assert_eq!(t[1]["reason"], "good CV");
    assert_eq!(t[1]["actor"], "cli:tester");
    assert_eq!(d["emails"].as_array().unwrap().len(), 2);
    assert_eq!(d["application"]["stage"], "rejected");
}

#[test]
fn no_email_and_stale_version_are_honoured() {
    let env = with_posting();
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    env.ok(&["application", "move", "1", "screening"]);
    env.ok(&["application", "move", "1", "interview", "--no-email"]);
    assert_eq!(count_sync(&env, "outbox"), 1);
    let err = env.fails(
        1,
        &["application", "move", "1", "offer", "--expect-version", "2"],
    );
    assert!(err.contains("changed since it was read"), "{err}");
    env.ok(&["application", "move", "1", "offer", "--expect-version", "3"]);
}

#[test]
fn extra_moves_from_config_are_allowed() {
    let env = Env::with_config(
        "[pipeline]\nstages = [\"applied\", \"screening\", \"interview\", \"offer\"]\nextra_moves = [\"rejected -> screening\"]\n",
    );
    env.ok(&[
        "posting",
        "add",
        "https://example.org/jobs/1",
        "--title",
        "Cook",
    ]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    env.ok(&["application", "move", "1", "rejected"]);
    env.ok(&[
        "application",
        "move",
        "1",
        "screening",
        "--reason",
        "reconsidered",
    ]);
    // screening -> offer is the default extra move, replaced by this table's list
    let err = env.fails(2, &["application", "move", "1", "offer"]);
    assert!(
        err.contains("allowed moves from here: interview, rejected, withdrawn"),
        "{err}"
    );
}

#[test]
fn csv_import_validates_every_row_first() {
    let env = with_posting();
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Existing",
        "--email",
        "existing@example.org",
    ]);
    let bad = env.write(
        "bad.csv",
        "posting,name,email,locale,timezone,stage,applied_at\n\
         1,Ada,ada@example.org,en,Europe/London,,2026-11-01\n\
         1,Eve,not-an-email,,,,\n\
         7,Bob,bob@example.org,,,,\n\
         1,Cy,cy@example.org,klingon-language,,,\n\
         1,Di,di@example.org,,Mars/Base,phone,\n\
         1,Ed,ed@example.org,,,,last tuesday\n\
         1,Ada Again,ADA@example.org,,,,\n\
         1,Ex,existing@example.org,,,,\n",
    );
    let err = env.fails(2, &["application", "import", &bad.display().to_string()]);
    for needle in [
        "line 3: email",
        "line 4: posting: no posting with id 7",
        "line 5: locale",
        "line 6: timezone",
        "line 6: stage: unknown stage `phone`",
        "line 7: applied_at",
        "line 8: email: ADA@example.org applies to posting 1 twice (also line 2)",
        "line 9: email: existing@example.org has already applied",
        "nothing was imported",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!err.contains("line 2:"), "line 2 is good: {err}");
    assert_eq!(count_sync(&env, "applications"), 1);
    assert_eq!(count_sync(&env, "candidates"), 1);

    let good = env.write(
        "good.csv",
        "posting,name,email,stage,applied_at\n\
         1,Ada,ada@example.org,,2026-11-01\n\
         https://boards.greenhouse.io/acme/jobs/100,\"Hopper, Grace\",grace@example.org,interview,2026-10-01T08:00:00Z\n",
    );
    let v = env.json(&["application", "import", &good.display().to_string()]);
    assert_eq!(v["rows"], 2);
    assert_eq!(v["emails_queued"], 0);
    let list = env.json(&["application", "list", "--stage", "interview"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["candidate_name"], "Hopper, Grace");
    assert!(
        list[0]["applied_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-10-01T08:00:00")
    );
    assert_eq!(
        count_sync(&env, "outbox"),
        1,
        "import queues no email by default"
    );
}

#[test]
fn the_recruiter_walkthrough_on_the_seed_posting() {
    let env = Env::new();
    let seed = seed_file().display().to_string();
    env.ok(&["--now", NOW, "posting", "import", &seed]);
    let url = "https://boards.greenhouse.io/wikimedia/jobs/2976623";
    let (code, out, err) = env.run(&[
        "--now",
        NOW,
        "apply",
        url,
        "--name",
        "Ada Lovelace",
        "--email",
        "ada@example.org",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1");
    assert!(
        err.contains("warning: posting 1") && err.contains("closed"),
        "{err}"
    );
    env.ok(&[
        "--now",
        NOW,
        "apply",
        url,
        "--name",
        "Grace Hopper",
        "--email",
        "grace@example.org",
        "--locale",
        "en-US",
    ]);
    env.ok(&[
        "--now",
        "2026-11-26T09:00:00Z",
        "application",
        "move",
        "1",
        "screening",
    ]);
    env.ok(&[
        "--now",
        "2026-11-27T09:00:00Z",
        "application",
        "move",
        "1",
        "interview",
    ]);
    env.ok(&[
        "--now",
        "2026-11-27T09:30:00Z",
        "application",
        "move",
        "2",
        "rejected",
        "--reason",
        "not a fit",
    ]);
    let list = env.json(&["application", "list", "--posting", url]);
    assert_eq!(list[0]["stage"], "interview");
    assert_eq!(list[1]["stage"], "rejected");
    let table = env.ok(&["application", "list"]);
    assert!(
        table.contains("interview") && table.contains("Grace Hopper"),
        "{table}"
    );
}

#[test]
fn a_delayed_rejection_is_cancelled_when_the_recruiter_reconsiders() {
    let env = Env::with_config("[pipeline]\nextra_moves = [\"rejected -> screening\"]\n");
    env.ok(&[
        "posting",
        "add",
        "https://example.org/jobs/1",
        "--title",
        "Cook",
    ]);
    env.ok(&[
        "--now",
        NOW,
        "apply",
        "1",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
    ]);
    let v = env.json(&[
        "--now",
        "2026-11-25T10:00:00Z",
        "application",
        "move",
        "1",
        "rejected",
    ]);
    let rejection = v["emails"][0]["id"].as_i64().unwrap();
    let v = env.json(&[
        "--now",
        "2026-11-26T10:00:00Z",
        "application",
        "move",
        "1",
        "screening",
        "--reason",
        "reconsidered",
    ]);
    assert_eq!(v["cancelled_emails"], 1);
    let d = env.json(&["application", "show", "1"]);
    let row = d["emails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == rejection)
        .unwrap()
        .clone();
    assert_eq!(row["status"], "cancelled");
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("left `rejected` for `screening`"),
        "{row}"
    );
    // the confirmation of receipt, not delayed, is untouched
    assert_eq!(d["emails"][0]["status"], "pending");
}

#[test]
fn a_template_that_cannot_render_fails_the_whole_move() {
    let env = Env::with_config("[templates]\ndir = \"tpl\"\n");
    env.write(
        "tpl/en/interview_invitation.txt",
        "Hello {{ candidate.nmae }}\n",
    );
    let err = env.fails(2, &["check-config"]);
    assert!(
        err.contains("interview_invitation (en)") && err.contains("`candidate.nmae`"),
        "{err}"
    );
    env.ok(&[
        "posting",
        "add",
        "https://example.org/jobs/1",
        "--title",
        "Cook",
    ]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    env.ok(&["application", "move", "1", "screening"]);
    let err = env.fails(1, &["application", "move", "1", "interview"]);
    assert!(err.contains("interview_invitation"), "{err}");
    let d = env.json(&["application", "show", "1"]);
    assert_eq!(d["application"]["stage"], "screening");
    assert_eq!(d["application"]["version"], 2);
    assert_eq!(d["transitions"].as_array().unwrap().len(), 2);
}
