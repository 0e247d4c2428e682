//! Interviews on both engines, with a real SMTP server on loopback: every
//! invitation, update and cancellation atsd sends is read by two independent
//! iCalendar parsers (Python's `icalendar` and `vobject`, tests/ics_check.py)
//! and must say the same thing to both; times across Berlin's spring change;
//! the candidate's own time zone in their text; rejecting the candidate
//! cancels the interview for everyone, once each; reminders once at their
//! time and never after a cancel; bad times, overlaps and terminal
//! applications refused naming why, with nothing changed.

use crate::common::{Env, scalar};
use crate::daemon::rows;
use crate::smtp::{Sink, free_port, message_id};
use crate::tools::{Tool, needs, python};
use serde_json::Value;
use std::collections::BTreeMap;

/// A hostile location: one TEXT value with a semicolon, a comma, quotes, a
/// backslash and a line break that tries to add a property.
const HOSTILE: &str = "Room 4; 2nd floor, \"Blue\" \\ east\nBCC:evil@example.net";

fn iv_env(port: u16) -> Env {
    iv_env_with(port, "")
}

fn iv_env_with(port: u16, extra: &str) -> Env {
    let env = Env::with_config(&format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"Jobs <jobs@example.org>\"\nrate_per_second = 0\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout = \"5s\"\n\
         [schedule]\ntimezone = \"Europe/Berlin\"\n\
         [interviews]\nstage = \"interview\"\n{extra}"
    ));
    env.ok(&[
        "person",
        "add",
        "ada@example.org",
        "--name",
        "Ada Lovelace",
        "--timezone",
        "Europe/Berlin",
        "--locale",
        "de",
    ]);
    env.ok(&[
        "person",
        "add",
        "grace@example.org",
        "--name",
        "Grace Hopper",
        "--timezone",
        "America/Los_Angeles",
    ]);
    env.add_posting(1, "Platform Engineer");
    env.ok(&[
        "--now",
        "2030-03-01T09:00:00Z",
        "apply",
        "1",
        "--name",
        "Dev O'Brien",
        "--email",
        "dev@example.net",
        "--timezone",
        "America/New_York",
        "--no-email",
    ]);
    env
}

fn at(now: &str, env: &Env, args: &[&str]) -> String {
    let mut a = vec!["--now", now];
    a.extend_from_slice(args);
    env.ok(&a)
}

/// The sink's messages written as .eml files, read by tests/ics_check.py:
/// its JSON line per message, by Message-ID.
fn parsed(env: &Env, sink: &Sink) -> BTreeMap<String, Value> {
    let dir = env.path("eml");
    std::fs::create_dir_all(&dir).expect("a folder for the messages");
    let mut files = Vec::new();
    for (i, m) in sink.messages().iter().enumerate() {
        let f = dir.join(format!("{i:03}.eml"));
        std::fs::write(&f, m["data"].as_str().unwrap_or_default()).expect("write .eml");
        files.push(f);
    }
    let out = std::process::Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ics_check.py"))
        .args(&files)
        .output()
        .expect("run tests/ics_check.py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "a parser refused an object:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("ics_check JSON");
            (v["message_id"].as_str().unwrap_or_default().to_string(), v)
        })
        .collect()
}

/// Python's zoneinfo, the time-zone oracle: `local` read in `zone`, as UTC
/// and as the `HH:MM ABBR` someone in `to` reads.
fn zoneinfo(local: &str, zone: &str, to: &str) -> (String, String) {
    let out = std::process::Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ics_check.py"))
        .args(["--zoneinfo", local, zone, to])
        .output()
        .expect("run tests/ics_check.py --zoneinfo");
    let v: Value = serde_json::from_slice(&out.stdout).expect("zoneinfo JSON");
    (
        v["utc"].as_str().unwrap_or_default().to_string(),
        v["local"].as_str().unwrap_or_default().to_string(),
    )
}

fn body_of(sink: &Sink, id: &str) -> String {
    let m = sink
        .messages()
        .into_iter()
        .find(|m| message_id(m) == id)
        .unwrap_or_else(|| panic!("no message {id}"));
    m["data"].as_str().unwrap_or_default().replace("=\r\n", "")
}

#[test]
fn invitations_updates_and_the_cancel_read_the_same_in_two_parsers_across_a_dst_change() {
    needs!(Tool::Smtp);
    needs!(Tool::Calendar);
    let sink = Sink::start(free_port());
    let env = iv_env(sink.port);
    // screening → interview is a move the pipeline allows (applied → interview is not)
    at(
        "2030-03-10T09:00:00Z",
        &env,
        &["application", "move", "1", "screening", "--no-email"],
    );
    // 10:00 Berlin on the Saturday before the spring change: 09:00 UTC
    let id = at(
        "2030-03-20T09:00:00Z",
        &env,
        &[
            "interview",
            "schedule",
            "1",
            "--at",
            "2030-03-30T10:00",
            "--timezone",
            "Europe/Berlin",
            "--duration",
            "45m",
            "--interviewer",
            "ada@example.org",
            "--interviewer",
            "grace@example.org",
            "--location",
            HOSTILE,
        ],
    );
    assert_eq!(id.trim(), "1");
    // scheduling moved the application on, with no stage email of its own
    let app = env.json(&["application", "show", "1", "--json"]);
    assert_eq!(app["application"]["stage"], "interview", "{app}");
    at("2030-03-20T09:00:00Z", &env, &["tick", "dispatch"]);
    // the day after the change: 10:00 Berlin is 08:00 UTC
    at(
        "2030-03-21T09:00:00Z",
        &env,
        &["interview", "reschedule", "1", "--at", "2030-03-31T10:00"],
    );
    at("2030-03-21T09:00:00Z", &env, &["tick", "dispatch"]);
    // rejecting the candidate cancels it for everyone
    at(
        "2030-03-22T09:00:00Z",
        &env,
        &["application", "move", "1", "rejected", "--no-email"],
    );
    at("2030-03-22T09:00:00Z", &env, &["tick", "dispatch"]);
    let shown = env.json(&["interview", "show", "1", "--json"]);
    assert_eq!(shown["interview"]["status"], "cancelled", "{shown}");

    let before = zoneinfo("2030-03-30T10:00", "Europe/Berlin", "America/New_York");
    let after = zoneinfo("2030-03-31T10:00", "Europe/Berlin", "America/New_York");
    assert_eq!(
        (before.0.as_str(), after.0.as_str()),
        ("2030-03-30T09:00:00Z", "2030-03-31T08:00:00Z")
    );
    let all = parsed(&env, &sink);
    // three recipients, each: REQUEST 0, REQUEST 1, CANCEL 2
    let mut by_rcpt: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for v in all.values() {
        let to = v["to"].as_str().unwrap_or_default().to_string();
        by_rcpt.entry(to).or_default().push(v);
    }
    assert_eq!(by_rcpt.len(), 3, "{:?}", by_rcpt.keys());
    let mut uids = std::collections::BTreeSet::new();
    for (to, msgs) in &by_rcpt {
        let seqs: Vec<(i64, String)> = msgs
            .iter()
            .map(|v| {
                (
                    v["icalendar"]["sequence"].as_i64().unwrap_or(-1),
                    v["icalendar"]["method"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        assert_eq!(
            seqs,
            [
                (0, "REQUEST".to_string()),
                (1, "REQUEST".to_string()),
                (2, "CANCEL".to_string())
            ],
            "{to}"
        );
        for v in msgs {
            for parser in ["icalendar", "vobject"] {
                let p = &v[parser];
                assert_eq!(
                    p["method"], v["mime_method"],
                    "{to} {parser}: MIME method = METHOD"
                );
                assert_eq!(p["events"], 1, "{to} {parser}");
                assert_eq!(p["dtstamp"]["utc"], true, "{to} {parser}: DTSTAMP in UTC");
                assert_eq!(
                    p["location"].as_str(),
                    Some(HOSTILE),
                    "{to} {parser}: the location round-trips"
                );
                uids.insert(p["uid"].as_str().unwrap_or_default().to_string());
            }
            assert_eq!(v["icalendar"]["version"], "2.0");
            assert_eq!(v["content_type"], "multipart/mixed");
            assert_eq!(
                v["attachment_same"], true,
                "{to}: invite.ics is the same object"
            );
            assert_eq!(v["crlf_only"], true, "{to}");
            assert!(
                v["max_octets"].as_u64().unwrap_or(99) <= 75,
                "{to}: {}",
                v["max_octets"]
            );
            assert_eq!(v["tzids_without_vtimezone"], serde_json::json!([]));
            // every attendee, with RSVP and NEEDS-ACTION
            let attendees = v["icalendar"]["attendees"].as_array().expect("attendees");
            assert_eq!(attendees.len(), 3, "{to}");
            assert!(
                attendees
                    .iter()
                    .all(|a| a["rsvp"] == "TRUE" && a["partstat"] == "NEEDS-ACTION")
            );
            assert_eq!(v["vobject"]["attendees"].as_array().map(Vec::len), Some(3));
        }
        // 09:00 UTC before the change, 08:00 UTC after it, in both parsers,
        // as Python's zoneinfo reads 10:00 Berlin on either day
        for parser in ["icalendar", "vobject"] {
            assert_eq!(msgs[0][parser]["dtstart"]["iso"], before.0.as_str());
            assert_eq!(msgs[0][parser]["dtend"]["iso"], "2030-03-30T09:45:00Z");
            assert_eq!(msgs[1][parser]["dtstart"]["iso"], after.0.as_str());
        }
        assert_eq!(msgs[2]["icalendar"]["status"], "CANCELLED");
    }
    assert_eq!(uids.len(), 1, "one UID throughout: {uids:?}");
    assert_eq!(
        uids.iter().next().map(String::as_str),
        Some("atsd-interview-1@example.org")
    );
    // the candidate reads New York's time; Ada reads Berlin's, in German
    let cand = body_of(&sink, "<atsd.i1.s0.req.c@example.org>");
    assert_eq!(before.1, "05:00 EDT");
    assert!(cand.contains(&before.1), "{cand}");
    let cand = body_of(&sink, "<atsd.i1.s1.req.c@example.org>");
    assert_eq!(after.1, "04:00 EDT");
    assert!(cand.contains(&after.1), "{cand}");
    let ada = body_of(&sink, "<atsd.i1.s1.req.p1@example.org>");
    // (quoted-printable: "März" is M=C3=A4rz on the wire)
    assert!(ada.contains("31. M=C3=A4rz 2030, 10:00 CEST"), "{ada}");
    // no reminder ever went out: the cancel took them back
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE template = 'interview_reminder' AND status <> 'cancelled'"
        ),
        0
    );
    assert!(
        sink.messages()
            .iter()
            .all(|m| !message_id(m).contains(".remind."))
    );
    // the events of the feed
    let kinds = rows(
        &env,
        "SELECT type FROM events WHERE type LIKE 'interview.%' ORDER BY id",
    );
    assert_eq!(
        kinds,
        [
            ["interview.scheduled"],
            ["interview.rescheduled"],
            ["interview.cancelled"]
        ]
    );
}

#[test]
fn a_rule_that_rejects_the_application_cancels_its_interview_for_everyone_once() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = iv_env_with(
        sink.port,
        "[[rules]]\nname = \"stale-interview\"\nstage = \"interview\"\nafter = \"3d\"\nmove_to = \"rejected\"\nreason = \"no_decision\"\n",
    );
    at(
        "2030-01-01T09:00:00Z",
        &env,
        &["application", "move", "1", "screening", "--no-email"],
    );
    at(
        "2030-01-02T09:00:00Z",
        &env,
        &[
            "interview",
            "schedule",
            "1",
            "--at",
            "2030-01-20T10:00",
            "--interviewer",
            "ada@example.org",
            "--interviewer",
            "grace@example.org",
        ],
    );
    at("2030-01-02T09:00:00Z", &env, &["tick", "dispatch"]);
    assert_eq!(sink.count(), 3, "three invitations");
    // four days later the rule rejects the application: the interview goes
    // with it, in the same transaction
    at(
        "2030-01-06T09:00:00Z",
        &env,
        &["tick", "advance", "dispatch"],
    );
    at(
        "2030-01-06T09:05:00Z",
        &env,
        &["tick", "advance", "dispatch"],
    );
    let app = env.json(&["application", "show", "1", "--json"]);
    assert_eq!(app["application"]["stage"], "rejected", "{app}");
    let mut cancels: Vec<String> = sink
        .messages()
        .iter()
        .map(message_id)
        .filter(|id| id.contains(".cancel."))
        .collect();
    cancels.sort();
    assert_eq!(
        cancels,
        [
            "<atsd.i1.s1.cancel.c@example.org>",
            "<atsd.i1.s1.cancel.p1@example.org>",
            "<atsd.i1.s1.cancel.p2@example.org>"
        ]
    );
    let shown = env.json(&["interview", "show", "1", "--json"]);
    assert_eq!(shown["interview"]["status"], "cancelled");
    assert_eq!(
        shown["interview"]["cancel_reason"],
        "the application moved to rejected"
    );
    assert_eq!(
        rows(
            &env,
            "SELECT COUNT(*) FROM events WHERE type = 'interview.cancelled' AND data LIKE '%rule:stale-interview%'"
        ),
        [["1"]]
    );
    // no reminder is left to go
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE template = 'interview_reminder' AND status = 'pending'"
        ),
        0
    );
}

#[test]
fn reminders_go_once_at_their_time_and_an_unsent_invitation_is_simply_withdrawn() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = iv_env(sink.port);
    at(
        "2030-01-01T09:00:00Z",
        &env,
        &[
            "interview",
            "schedule",
            "1",
            "--at",
            "2030-01-08T10:00",
            "--interviewer",
            "ada@example.org",
            "--video-url",
            "https://meet.example.org/abc",
        ],
    );
    // ticks every hour from the day before: the candidate's reminder at
    // 09:00 UTC on the 7th (24 h before), Ada's at 08:00 UTC on the 8th
    for h in 0..30 {
        let now = (chrono::DateTime::parse_from_rfc3339("2030-01-07T05:00:00Z").unwrap()
            + chrono::Duration::hours(h))
        .to_rfc3339();
        at(&now, &env, &["tick", "dispatch"]);
    }
    let reminders: Vec<(String, String)> = sink
        .messages()
        .iter()
        .filter(|m| message_id(m).contains(".remind."))
        .map(|m| {
            let data = m["data"].as_str().unwrap_or_default();
            let date = data
                .split("\r\n")
                .find_map(|l| l.strip_prefix("Date: "))
                .unwrap_or_default()
                .to_string();
            (message_id(m), date)
        })
        .collect();
    assert_eq!(
        reminders,
        [
            (
                "<atsd.i1.s0.remind.c@example.org>".to_string(),
                "Mon, 07 Jan 2030 09:00:00 +0000".to_string()
            ),
            (
                "<atsd.i1.s0.remind.p1@example.org>".to_string(),
                "Tue, 08 Jan 2030 08:00:00 +0000".to_string()
            )
        ]
    );
    // the interview is over: rejecting the candidate afterwards cancels
    // nothing (it is history, shown as completed) and sends no CANCEL
    let sent = sink.count();
    at(
        "2030-01-09T09:00:00Z",
        &env,
        &["application", "move", "1", "rejected", "--no-email"],
    );
    at("2030-01-09T09:01:00Z", &env, &["tick", "dispatch"]);
    assert_eq!(
        sink.count(),
        sent,
        "no CANCEL for an interview that took place"
    );
    let shown = at(
        "2030-01-09T09:02:00Z",
        &env,
        &["interview", "show", "1", "--json"],
    );
    let shown: Value = serde_json::from_str(&shown).expect("JSON");
    assert_eq!(shown["status"], "completed", "{shown}");
    // another candidate for the next part
    at(
        "2030-01-10T09:00:00Z",
        &env,
        &[
            "apply",
            "1",
            "--name",
            "Eve Second",
            "--email",
            "eve@example.net",
            "--no-email",
        ],
    );
    // a second interview, cancelled before anything went out: nobody hears
    // of it, its invitation and reminders are simply cancelled
    at(
        "2030-02-01T09:00:00Z",
        &env,
        &[
            "interview",
            "schedule",
            "2",
            "--at",
            "2030-02-08T10:00",
            "--interviewer",
            "ada@example.org",
        ],
    );
    let before = sink.count();
    at(
        "2030-02-01T09:01:00Z",
        &env,
        &["interview", "cancel", "2", "--reason", "slot taken"],
    );
    at("2030-02-01T09:02:00Z", &env, &["tick", "dispatch"]);
    assert_eq!(sink.count(), before, "nothing of interview 2 was sent");
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE message_id LIKE '<atsd.i2.%' AND status <> 'cancelled'"
        ),
        0
    );
}

#[test]
fn bad_times_unknown_people_overlaps_and_finished_applications_are_refused_naming_why() {
    let env = iv_env(9);
    fn schedule<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec![
            "--now",
            "2030-01-01T09:00:00Z",
            "interview",
            "schedule",
            "1",
            "--timezone",
            "Europe/Berlin",
            "--interviewer",
            "ada@example.org",
        ];
        a.extend_from_slice(extra);
        a
    }
    let gap = env.fails(2, &schedule(&["--at", "2030-03-31T02:30"]));
    assert!(gap.contains("does not exist in Europe/Berlin"), "{gap}");
    let twice = env.fails(2, &schedule(&["--at", "2030-10-27T02:30"]));
    assert!(
        twice.contains("2030-10-27T02:30:00+02:00") && twice.contains("2030-10-27T02:30:00+01:00"),
        "{twice}"
    );
    let nobody = env.fails(
        2,
        &schedule(&[
            "--at",
            "2030-05-02T10:00",
            "--interviewer",
            "nobody@example.org",
        ]),
    );
    assert!(
        nobody.contains("nobody@example.org") && nobody.contains("atsd person add"),
        "{nobody}"
    );
    let short = env.fails(
        2,
        &schedule(&["--at", "2030-05-02T10:00", "--duration", "2m"]),
    );
    assert!(short.contains("--duration"), "{short}");
    let url = env.fails(
        2,
        &schedule(&[
            "--at",
            "2030-05-02T10:00",
            "--video-url",
            "javascript:alert(1)",
        ]),
    );
    assert!(url.contains("not an http(s) URL"), "{url}");
    assert_eq!(scalar(&env, "SELECT COUNT(*) FROM interviews"), 0);
    // one booked; a second overlapping for Ada is refused naming the first
    env.ok(&schedule(&["--at", "2030-05-02T10:00", "--duration", "1h"]));
    let clash = env.run(&schedule(&["--at", "2030-05-02T10:30"]));
    assert_ne!(clash.0, 0, "{clash:?}");
    assert!(
        clash.2.contains("already booked in interview 1"),
        "{}",
        clash.2
    );
    // back to back is no overlap; --allow-overlap books anyway
    env.ok(&schedule(&["--at", "2030-05-02T11:00"]));
    env.ok(&schedule(&["--at", "2030-05-02T10:30", "--allow-overlap"]));
    assert_eq!(scalar(&env, "SELECT COUNT(*) FROM interviews"), 3);
    // feedback: an interviewer only, a known recommendation
    env.ok(&[
        "interview",
        "feedback",
        "1",
        "--by",
        "ada@example.org",
        "--recommendation",
        "strong_yes",
        "--note",
        "clear thinker",
    ]);
    let not_theirs = env.run(&[
        "interview",
        "feedback",
        "1",
        "--by",
        "grace@example.org",
        "--recommendation",
        "no",
    ]);
    assert_eq!(not_theirs.0, 2, "{not_theirs:?}");
    assert!(
        not_theirs.2.contains("not an interviewer"),
        "{}",
        not_theirs.2
    );
    let shown = env.json(&["interview", "show", "1", "--json"]);
    assert_eq!(shown["interviewers"][0]["recommendation"], "strong_yes");
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM events WHERE type = 'interview.feedback'"
        ),
        1
    );
    // a finished application gets none; its interviews were cancelled
    env.ok(&["application", "move", "1", "rejected", "--no-email"]);
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM interviews WHERE status = 'scheduled'"
        ),
        0
    );
    let done = env.run(&schedule(&["--at", "2030-06-02T10:00"]));
    assert_ne!(done.0, 0);
    assert!(done.2.contains("terminal stage"), "{}", done.2);
}

#[test]
fn the_api_schedules_once_per_idempotency_key_and_names_the_persons_token_as_actor() {
    let port = free_port();
    let env = iv_env_with(9, &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    env.ok(&["application", "move", "1", "screening", "--no-email"]);
    let token = env
        .ok(&[
            "token",
            "create",
            "ada-api",
            "--scope",
            "recruiter",
            "--person",
            "ada@example.org",
        ])
        .trim()
        .to_string();
    let read = env.token("wall", "read");
    let api = crate::api::Api::start(&env, port);
    let auth = format!("Bearer {token}");
    let body = serde_json::json!({
        "application_id": 1, "at": "2030-05-02T10:00", "timezone": "Europe/Berlin",
        "duration": "1h", "interviewers": ["ada@example.org"], "location": "Room 4"
    })
    .to_string();
    let post = |auth: &str, key: &str, body: &str| {
        crate::common::http(
            port,
            "POST",
            "/v1/interviews",
            &[
                ("Authorization", auth),
                ("Content-Type", "application/json"),
                ("Idempotency-Key", key),
            ],
            body.as_bytes(),
        )
        .expect("the API answers")
    };
    let first = post(&auth, "k1", &body);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = post(&auth, "k1", &body);
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["interview"], first.json()["interview"]);
    assert_eq!(scalar(&env, "SELECT COUNT(*) FROM interviews"), 1);
    let other = post(&auth, "k1", &body.replace("10:00", "11:00"));
    assert_eq!(other.status, 422, "{}", other.body);
    let reader = post(&format!("Bearer {read}"), "k2", &body);
    assert_eq!(reader.status, 403, "{}", reader.body);
    // scheduling moved the application and named her
    assert_eq!(
        rows(
            &env,
            "SELECT to_stage, actor FROM transitions WHERE application_id = 1 ORDER BY id DESC LIMIT 1"
        ),
        [["interview", "person:ada@example.org"]]
    );
    let got = crate::common::http(
        port,
        "GET",
        "/v1/interviews/1",
        &[("Authorization", &format!("Bearer {read}"))],
        b"",
    )
    .expect("the API answers");
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json()["interview"]["starts_at"], "2030-05-02T08:00:00Z");
    let cancelled = crate::common::http(
        port,
        "POST",
        "/v1/interviews/1/cancel",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"reason": "slot taken"}"#,
    )
    .expect("the API answers");
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["interview"]["status"], "cancelled");
    assert_eq!(
        rows(
            &env,
            "SELECT COUNT(*) FROM events WHERE type = 'interview.cancelled' AND data LIKE '%person:ada@example.org%'"
        ),
        [["1"]]
    );
    api.stop();
}
