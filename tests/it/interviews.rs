//! Interviews on both engines, with a real SMTP server on loopback: every
//! invitation, update and cancellation atsd sends is read by two independent
//! iCalendar parsers (Python's `icalendar` and `vobject`, tests/ics_check.py)
//! and must say the same thing to both; times across Berlin's spring change;
//! the candidate's own time zone in their text; rejecting the candidate
//! cancels the interview for everyone, once each; reminders once at their
//! time and never after a cancel; bad times, overlaps and terminal
//! applications refused naming why, with nothing changed.

use crate::api::Api;
use crate::common::{Env, http, scalar};
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
    iv_env_schedule(port, "", extra)
}

/// The interviews' config with `schedule` lines in `[schedule]`; two
/// interviewers and one application.
fn iv_env_schedule(port: u16, schedule: &str, extra: &str) -> Env {
    let env = Env::with_config(&format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"Jobs <jobs@example.org>\"\nrate_per_second = 0\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout = \"5s\"\n\
         [schedule]\ntimezone = \"Europe/Berlin\"\n{schedule}\
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

pub(crate) fn at(now: &str, env: &Env, args: &[&str]) -> String {
    let mut a = vec!["--now", now];
    a.extend_from_slice(args);
    env.ok(&a)
}

/// The sink's messages written as .eml files, read by tests/ics_check.py:
/// its JSON line per message, by Message-ID.
pub(crate) fn parsed(env: &Env, sink: &Sink) -> BTreeMap<String, Value> {
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
    // (its feedback requests to Ada go on: the interview took place)
    let not_feedback = |sink: &Sink| {
        sink.messages()
            .iter()
            .filter(|m| !message_id(m).contains(".fb"))
            .count()
    };
    let sent = not_feedback(&sink);
    at(
        "2030-01-09T09:00:00Z",
        &env,
        &["application", "move", "1", "rejected", "--no-email"],
    );
    at("2030-01-09T09:01:00Z", &env, &["tick", "dispatch"]);
    assert_eq!(
        not_feedback(&sink),
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
    let before = not_feedback(&sink);
    at(
        "2030-02-01T09:01:00Z",
        &env,
        &["interview", "cancel", "2", "--reason", "slot taken"],
    );
    at("2030-02-01T09:02:00Z", &env, &["tick", "dispatch"]);
    assert_eq!(
        not_feedback(&sink),
        before,
        "nothing of interview 2 was sent"
    );
    assert!(
        sink.messages()
            .iter()
            .all(|m| !message_id(m).starts_with("<atsd.i2.")),
        "nothing of interview 2 was sent"
    );
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

/// When each feedback request went: (Message-ID, Date header), in order.
fn feedback_sent(sink: &Sink) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = sink
        .messages()
        .iter()
        .filter(|m| message_id(m).contains(".fb"))
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
    // by time, then by Message-ID (one dispatch sends in any order)
    out.sort_by_key(|(id, date)| (chrono::DateTime::parse_from_rfc2822(date).ok(), id.clone()));
    out
}

#[test]
fn feedback_requests_go_an_hour_after_then_on_working_days_at_nine_until_feedback_stops_them() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = iv_env(sink.port);
    // Friday 4 January 2030, 10:00 Berlin (09:00 UTC), 45 minutes: Ada is
    // in Berlin, Grace in Los Angeles (09:00 there is 17:00 UTC)
    at(
        "2030-01-01T09:00:00Z",
        &env,
        &[
            "interview",
            "schedule",
            "1",
            "--at",
            "2030-01-04T10:00",
            "--duration",
            "45m",
            "--interviewer",
            "ada@example.org",
            "--interviewer",
            "grace@example.org",
        ],
    );
    let tick = |t: &str| at(t, &env, &["tick", "dispatch"]);
    tick("2030-01-04T10:44:00Z");
    assert!(feedback_sent(&sink).is_empty(), "none before the hour");
    for t in [
        "2030-01-04T10:45:00Z",
        "2030-01-04T16:59:00Z",
        "2030-01-04T17:00:00Z",
        // the weekend: nothing
        "2030-01-05T08:00:00Z",
        "2030-01-05T17:00:00Z",
        "2030-01-06T17:00:00Z",
        "2030-01-07T08:00:00Z",
    ] {
        tick(t);
    }
    // Ada gives her feedback on Monday at noon: her requests stop
    at(
        "2030-01-07T12:00:00Z",
        &env,
        &[
            "interview",
            "feedback",
            "1",
            "--by",
            "ada@example.org",
            "--recommendation",
            "yes",
        ],
    );
    for day in 7..=15 {
        for hour in ["08", "17"] {
            tick(&format!("2030-01-{day:02}T{hour}:00:00Z"));
        }
    }
    assert_eq!(
        feedback_sent(&sink),
        [
            (
                "<atsd.i1.s0.fb1.p1@example.org>",
                "Fri, 04 Jan 2030 10:45:00 +0000"
            ),
            (
                "<atsd.i1.s0.fb1.p2@example.org>",
                "Fri, 04 Jan 2030 10:45:00 +0000"
            ),
            (
                "<atsd.i1.s0.fb2.p2@example.org>",
                "Fri, 04 Jan 2030 17:00:00 +0000"
            ),
            (
                "<atsd.i1.s0.fb2.p1@example.org>",
                "Mon, 07 Jan 2030 08:00:00 +0000"
            ),
            (
                "<atsd.i1.s0.fb3.p2@example.org>",
                "Mon, 07 Jan 2030 17:00:00 +0000"
            ),
            (
                "<atsd.i1.s0.fb4.p2@example.org>",
                "Tue, 08 Jan 2030 17:00:00 +0000"
            ),
            (
                "<atsd.i1.s0.fb5.p2@example.org>",
                "Wed, 09 Jan 2030 17:00:00 +0000"
            ),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // Ada's request is in German and names the command (no public_url here)
    let ada = body_of(&sink, "<atsd.i1.s0.fb1.p1@example.org>");
    assert!(
        ada.contains("Subject: =?utf-8?") || ada.contains("Ihre R"),
        "{ada}"
    );
    assert!(ada.contains("atsd interview feedback 1 --by"), "{ada}");
    // her three later ones were cancelled when her feedback came in
    assert_eq!(
        rows(
            &env,
            "SELECT message_id, status FROM outbox WHERE template = 'interview_feedback_request' \
             AND message_id LIKE '%.p1@%' ORDER BY message_id"
        ),
        [
            ["<atsd.i1.s0.fb1.p1@example.org>", "sent"],
            ["<atsd.i1.s0.fb2.p1@example.org>", "sent"],
            ["<atsd.i1.s0.fb3.p1@example.org>", "cancelled"],
            ["<atsd.i1.s0.fb4.p1@example.org>", "cancelled"],
            ["<atsd.i1.s0.fb5.p1@example.org>", "cancelled"],
        ]
    );
    // a cancelled interview asks nobody
    at(
        "2030-02-01T09:00:00Z",
        &env,
        &[
            "interview",
            "schedule",
            "1",
            "--at",
            "2030-02-05T10:00",
            "--interviewer",
            "ada@example.org",
        ],
    );
    at("2030-02-01T09:01:00Z", &env, &["interview", "cancel", "2"]);
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE message_id LIKE '<atsd.i2.%.fb%' AND status <> 'cancelled'"
        ),
        0
    );
}

#[test]
fn a_reschedule_that_drops_an_interviewer_cancels_for_them_alone_and_invites_the_new_one() {
    needs!(Tool::Smtp);
    needs!(Tool::Calendar);
    let sink = Sink::start(free_port());
    let env = iv_env(sink.port);
    env.ok(&[
        "person",
        "add",
        "carol@example.org",
        "--name",
        "Carol Shaw",
        "--timezone",
        "Europe/London",
    ]);
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
            "--interviewer",
            "grace@example.org",
        ],
    );
    at("2030-01-01T09:00:00Z", &env, &["tick", "dispatch"]);
    // Grace out, Carol in; the time stays
    let out = at(
        "2030-01-02T09:00:00Z",
        &env,
        &[
            "interview",
            "reschedule",
            "1",
            "--interviewer",
            "ada@example.org",
            "--interviewer",
            "carol@example.org",
        ],
    );
    assert!(out.contains("rescheduled"), "{out}");
    at("2030-01-02T09:00:00Z", &env, &["tick", "dispatch"]);
    let all = parsed(&env, &sink);
    let got = |id: &str| {
        all.get(id)
            .unwrap_or_else(|| panic!("no {id} among {:?}", all.keys()))
    };
    // Grace: a CANCEL, SEQUENCE 1, naming her alone
    let grace = got("<atsd.i1.s1.cancel.p2@example.org>");
    for parser in ["icalendar", "vobject"] {
        assert_eq!(grace[parser]["method"], "CANCEL", "{parser}");
        assert_eq!(grace[parser]["sequence"], 1, "{parser}");
        assert_eq!(grace[parser]["uid"], "atsd-interview-1@example.org");
    }
    let attendees: Vec<String> = grace["icalendar"]["attendees"]
        .as_array()
        .expect("attendees")
        .iter()
        .filter_map(|a| a["address"].as_str())
        .map(str::to_lowercase)
        .collect();
    assert_eq!(attendees, ["mailto:grace@example.org"], "{grace}");
    assert_eq!(
        grace["vobject"]["attendees"].as_array().map(Vec::len),
        Some(1)
    );
    // the candidate, Ada and Carol: a REQUEST with SEQUENCE 1 naming the
    // new list
    for who in ["c", "p1", "p3"] {
        let v = got(&format!("<atsd.i1.s1.req.{who}@example.org>"));
        assert_eq!(v["icalendar"]["method"], "REQUEST", "{who}");
        assert_eq!(v["vobject"]["sequence"], 1, "{who}");
        let names: Vec<String> = v["icalendar"]["attendees"]
            .as_array()
            .expect("attendees")
            .iter()
            .filter_map(|a| a["address"].as_str())
            .map(str::to_lowercase)
            .collect();
        assert!(
            !names.contains(&"mailto:grace@example.org".to_string()),
            "{who}: {names:?}"
        );
        assert!(
            names.contains(&"mailto:carol@example.org".to_string()),
            "{who}: {names:?}"
        );
    }
    // nothing more for Grace: no request, reminder or feedback request left
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE recipient = 'grace@example.org' AND status = 'pending'"
        ),
        0
    );
    let shown = env.json(&["interview", "show", "1", "--json"]);
    let emails: Vec<&str> = shown["interviewers"]
        .as_array()
        .expect("interviewers")
        .iter()
        .filter_map(|x| x["person"]["email"].as_str())
        .collect();
    assert_eq!(emails, ["ada@example.org", "carol@example.org"]);
    // nothing to change is said so
    let same = env.fails(2, &["interview", "reschedule", "1"]);
    assert!(same.contains("nothing to change"), "{same}");
}

/// An environment whose emails carry signed links, served by `atsd run`
/// on `port` (its jobs never due).
pub(crate) fn link_env(port: u16) -> Env {
    let env = iv_env_schedule(
        free_port(),
        "poll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\n",
        &format!(
            "[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\"\n\
             link_key_file = \"link.key\"\n"
        ),
    );
    env.write("link.key", "a-test-key-of-more-than-32-bytes-0123456789\n");
    env
}

/// The path of the feedback link in the newest feedback request to `to`.
pub(crate) fn feedback_link(env: &Env, to: &str) -> String {
    let body = rows(
        env,
        &format!(
            "SELECT b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
             WHERE o.template = 'interview_feedback_request' AND o.recipient = '{to}' \
             ORDER BY o.id DESC LIMIT 1"
        ),
    );
    let text = &body[0][0];
    let start = text
        .find("/self-service/feedback/")
        .unwrap_or_else(|| panic!("no feedback link:\n{text}"));
    text[start..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// What a feedback link may change: the interviewers' rows, the events,
/// the links used, the outbox's statuses.
fn link_state(env: &Env) -> Vec<Vec<String>> {
    let mut all = rows(
        env,
        "SELECT interview_id, person_id, COALESCE(recommendation, '-'), COALESCE(note, '-') \
         FROM interview_people ORDER BY interview_id, person_id",
    );
    all.extend(rows(env, "SELECT COUNT(*) FROM events"));
    all.extend(rows(env, "SELECT COUNT(*) FROM self_service_uses"));
    all.extend(rows(
        env,
        "SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status",
    ));
    all
}

pub(crate) fn form(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> crate::common::Answer {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(headers);
    http(port, "POST", path, &h, body.as_bytes()).expect("the daemon listens")
}

#[test]
fn a_feedback_link_records_once_and_forged_reused_expired_or_cross_site_posts_change_nothing() {
    let port = free_port();
    let env = link_env(port);
    // an interview that ended long ago, with the default 30 days: its
    // links have expired
    at(
        "2025-12-01T09:00:00Z",
        &env,
        &[
            "interview",
            "schedule",
            "1",
            "--at",
            "2025-12-10T10:00",
            "--interviewer",
            "grace@example.org",
        ],
    );
    let expired = feedback_link(&env, "grace@example.org");
    at(
        "2025-12-11T09:00:00Z",
        &env,
        &["interview", "cancel", "1", "--reason", "for the next one"],
    );
    // one to come: Ada (German) and Grace
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
            "--interviewer",
            "grace@example.org",
        ],
    );
    let ada = feedback_link(&env, "ada@example.org");
    let grace = feedback_link(&env, "grace@example.org");
    assert!(ada.starts_with("/self-service/feedback/f2-1."), "{ada}");
    assert!(grace.starts_with("/self-service/feedback/f2-2."), "{grace}");
    let api = Api::start(&env, port);
    let get = |p: &str| http(port, "GET", p, &[], b"").expect("the daemon listens");

    // the form, in Ada's language, asks about the candidate
    let page = get(&ada);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<html lang=\"de\""), "{}", page.body);
    assert!(
        page.body.contains("Rückmeldung zum Gespräch"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Dev O&#x27;Brien") || page.body.contains("Dev O'Brien"));
    assert!(page.body.contains("value=\"strong_yes\""), "{}", page.body);
    assert!(
        page.headers.contains("cache-control: no-store"),
        "{}",
        page.headers
    );
    let before = link_state(&env);

    // forged, altered, another interviewer's, a withdraw path: refused
    let mut altered = ada.clone();
    let last = altered.pop().unwrap_or('A');
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let as_grace = ada.replacen("/f2-1.", "/f2-2.", 1);
    let as_withdraw = ada.replacen("/self-service/feedback/", "/self-service/withdraw/", 1);
    for bad in [
        &altered,
        &as_grace,
        &"/self-service/feedback/f2-1.9999999999.x.y".to_string(),
    ] {
        assert_eq!(get(bad).status, 403, "{bad}");
        let a = form(port, bad, &[], "recommendation=definitely_not");
        assert_eq!(a.status, 403, "{bad}: {}", a.body);
        assert!(
            a.body.contains("not valid") || a.body.contains("ungültig"),
            "{}",
            a.body
        );
    }
    assert_eq!(form(port, &as_withdraw, &[], "").status, 403);
    // expired
    let a = form(port, &expired, &[], "recommendation=yes");
    assert_eq!(a.status, 410, "{}", a.body);
    assert!(a.body.contains("expired"), "{}", a.body);
    // from another site, too large, malformed, no choice, an unknown one,
    // a note over 4000 characters
    let cross = form(
        port,
        &ada,
        &[("Sec-Fetch-Site", "cross-site")],
        "recommendation=definitely_not",
    );
    assert_eq!(cross.status, 403, "{}", cross.body);
    assert!(cross.body.contains("anderen Website"), "{}", cross.body);
    let foreign = form(
        port,
        &ada,
        &[("Origin", "https://evil.example.net")],
        "recommendation=definitely_not",
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let big = format!("recommendation=yes&note={}", "a".repeat(200 * 1024));
    assert_eq!(form(port, &ada, &[], &big).status, 413);
    for body in [
        "recommendation=%ZZ".to_string(),
        "note=hello".to_string(),
        "recommendation=maybe".to_string(),
        format!("recommendation=yes&note={}", "b".repeat(4001)),
    ] {
        let a = form(port, &ada, &[], &body);
        assert_eq!(a.status, 422, "{body}: {}", a.body);
        assert!(a.body.contains("Nichts wurde erfasst"), "{}", a.body);
    }
    assert_eq!(link_state(&env), before, "nothing changed");

    // the real one records, once, with a hostile note kept as text
    let done = form(
        port,
        &ada,
        &[("Sec-Fetch-Site", "same-origin")],
        "recommendation=strong_yes&note=%3Cscript%3Ealert(1)%3C%2Fscript%3E+clear+thinker",
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Vielen Dank"), "{}", done.body);
    let shown = env.json(&["interview", "show", "2", "--json"]);
    let me = &shown["interviewers"][0];
    assert_eq!(me["person"]["email"], "ada@example.org", "{shown}");
    assert_eq!(me["recommendation"], "strong_yes");
    assert_eq!(me["note"], "<script>alert(1)</script> clear thinker");
    assert_eq!(shown["interviewers"][1]["recommendation"], Value::Null);
    // reused: the same link, or another of Ada's, finds it used
    let again = form(port, &ada, &[], "recommendation=no");
    assert_eq!(again.status, 410, "{}", again.body);
    assert_eq!(get(&ada).status, 410);
    assert_eq!(
        env.json(&["interview", "show", "2", "--json"])["interviewers"][0]["recommendation"],
        "strong_yes"
    );
    // the feed and the audit of it
    assert_eq!(
        rows(
            &env,
            "SELECT COUNT(*) FROM events WHERE type = 'interview.feedback' \
             AND data LIKE '%person:ada@example.org%' AND data LIKE '%\"via\":\"link\"%'"
        ),
        [["1"]]
    );
    // Ada's requests stop, Grace's go on; Grace's link still works for her
    assert_eq!(
        rows(
            &env,
            "SELECT recipient, status, COUNT(*) FROM outbox WHERE template = 'interview_feedback_request' \
             AND message_id LIKE '<atsd.i2.%' GROUP BY recipient, status ORDER BY recipient, status"
        ),
        [
            ["ada@example.org", "cancelled", "5"],
            ["grace@example.org", "pending", "5"]
        ]
    );
    assert_eq!(get(&grace).status, 200);
    // the board shows it
    api.stop();
}

#[test]
fn the_board_shows_interviews_with_feedback_on_the_application_the_next_on_its_card_and_the_week() {
    use chrono::{Duration, SecondsFormat, Utc};
    let port = free_port();
    let env = link_env(port);
    // the board reads its own clock (the suite's): times around today
    let now = crate::clock::now();
    let iso = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let hour = |t: chrono::DateTime<Utc>| {
        chrono::DurationRound::duration_trunc(t, Duration::hours(1)).unwrap_or(t)
    };
    let past = hour(now - Duration::days(3));
    let soon = hour(now + Duration::days(2));
    let later = hour(now + Duration::days(4));
    at(
        &iso(now - Duration::days(5)),
        &env,
        &[
            "interview",
            "schedule",
            "1",
            "--at",
            &iso(past),
            "--interviewer",
            "ada@example.org",
            "--interviewer",
            "grace@example.org",
            "--location",
            "<b>Room 4</b>",
        ],
    );
    env.ok(&[
        "interview",
        "feedback",
        "1",
        "--by",
        "ada@example.org",
        "--recommendation",
        "strong_yes",
        "--note",
        "knows the <i>whole</i> stack",
    ]);
    for (t, who) in [(soon, "ada@example.org"), (later, "grace@example.org")] {
        at(
            &iso(now),
            &env,
            &[
                "interview",
                "schedule",
                "1",
                "--at",
                &iso(t),
                "--interviewer",
                who,
                "--video-url",
                "https://meet.example.org/abc",
            ],
        );
    }
    env.ok(&["interview", "cancel", "3", "--reason", "double booked"]);
    let token = env.token("board", "read");
    let api = Api::start(&env, port);
    let cookie = crate::recruiter_board::session(port, &token);
    let page = |p: &str| {
        let a = crate::recruiter_board::get(port, p, Some(&cookie));
        assert_eq!(a.status, 200, "{p}: {}", a.body);
        a.body
    };
    let berlin = |t: chrono::DateTime<Utc>| {
        t.with_timezone(&chrono_tz::Europe::Berlin)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    };

    // the application page: every interview, its status, each
    // interviewer's feedback, all of it escaped
    let app = page("/board/applications/1");
    let section = &app[app
        .find("<h2>Interviews</h2>")
        .expect("an Interviews section")..];
    let section = &section[..section[4..].find("<h2>").map_or(section.len(), |i| i + 4)];
    for want in [
        berlin(past).as_str(),
        berlin(soon).as_str(),
        berlin(later).as_str(),
        "completed",
        "scheduled",
        "cancelled",
        "Ada Lovelace: <strong>strong yes</strong> – knows the &lt;i&gt;whole&lt;/i&gt; stack",
        "Grace Hopper: no feedback yet",
        "&lt;b&gt;Room 4&lt;/b&gt;",
        "video call",
    ] {
        assert!(section.contains(want), "{want} in\n{section}");
    }
    assert!(!app.contains("<b>Room 4</b>"), "{app}");
    assert!(!app.contains("<i>whole</i>"), "{app}");

    // the posting's card names the next interview (not the cancelled one)
    let posting = page("/board/postings/1");
    assert!(
        posting.contains(&format!("Interview: {}", berlin(soon))),
        "{posting}"
    );
    assert!(!posting.contains(&format!("Interview: {}", berlin(later))));

    // the week: the two to come (one cancelled), not the past one
    let week = page("/board/interviews");
    assert!(week.contains("aria-current=\"page\">Interviews"), "{week}");
    assert!(week.contains(&berlin(soon)), "{week}");
    assert!(week.contains(&berlin(later)), "{week}");
    assert!(!week.contains(&berlin(past)), "{week}");
    assert!(week.contains("href=\"/board/applications/1\""), "{week}");
    assert!(week.contains("Dev O&#39;Brien"), "{week}");
    assert_eq!(
        week.matches("<tr>").count(),
        3,
        "a header and two rows: {week}"
    );
    api.stop();
}

/// Every feedback link to `to`, oldest first (one per feedback request).
fn feedback_links(env: &Env, to: &str) -> Vec<String> {
    rows(
        env,
        &format!(
            "SELECT b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
             WHERE o.template = 'interview_feedback_request' AND o.recipient = '{to}' \
             ORDER BY o.id"
        ),
    )
    .iter()
    .filter_map(|r| {
        let text = &r[0];
        let start = text.find("/self-service/feedback/")?;
        text[start..].split_whitespace().next().map(String::from)
    })
    .collect()
}

#[test]
fn two_feedback_links_of_one_interviewer_posted_at_once_record_one_feedback() {
    let port = free_port();
    let env = link_env(port);
    let mut who = vec!["ada@example.org", "grace@example.org"];
    for p in ["carol@example.org", "dan@example.org", "eve@example.org"] {
        env.ok(&["person", "add", p, "--name", p]);
        who.push(p);
    }
    let mut args = vec!["interview", "schedule", "1", "--at", "2030-01-08T10:00"];
    for p in &who {
        args.extend(["--interviewer", p]);
    }
    at("2030-01-01T09:00:00Z", &env, &args);
    let before: Vec<Vec<String>> = who.iter().map(|p| feedback_links(&env, p)).collect();
    // moved: each interviewer's new requests carry a new link, and the
    // first one, in the emails already sent, still works
    at(
        "2030-01-02T09:00:00Z",
        &env,
        &["interview", "reschedule", "1", "--at", "2030-01-09T10:00"],
    );
    let mut posts = Vec::new();
    for (p, old) in who.iter().zip(&before) {
        let new = feedback_links(&env, p);
        let (first, last) = (
            old.first().cloned().unwrap_or_default(),
            new.last().cloned().unwrap_or_default(),
        );
        assert!(first.starts_with("/self-service/feedback/"), "{p}: {old:?}");
        assert_ne!(first, last, "{p}: two different links");
        posts.push((p.to_string(), first, "strong_yes"));
        posts.push((p.to_string(), last, "definitely_not"));
    }
    let api = Api::start(&env, port);
    // all ten at the same instant
    let gate = std::sync::Arc::new(std::sync::Barrier::new(posts.len()));
    let answers: Vec<(String, u16, &str)> = std::thread::scope(|s| {
        let handles: Vec<_> = posts
            .iter()
            .map(|(p, link, rec)| {
                let gate = gate.clone();
                s.spawn(move || {
                    gate.wait();
                    let a = form(port, link, &[], &format!("recommendation={rec}"));
                    (p.clone(), a.status, *rec)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a poster"))
            .collect()
    });
    api.stop();
    for p in &who {
        let mut statuses: Vec<u16> = answers
            .iter()
            .filter(|(q, ..)| q == p)
            .map(|(_, s, _)| *s)
            .collect();
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 410],
            "{p}: one link records, the other finds it used"
        );
        // what is recorded is what the winning post said
        let won = answers
            .iter()
            .find(|(q, s, _)| q == p && *s == 200)
            .map(|(_, _, r)| *r);
        assert_eq!(
            rows(
                &env,
                &format!(
                    "SELECT ip.recommendation FROM interview_people ip JOIN people pe ON pe.id = ip.person_id \
                     WHERE pe.email = '{p}'"
                )
            ),
            [[won.unwrap_or_default().to_string()]],
            "{p}"
        );
    }
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM events WHERE type = 'interview.feedback'"
        ),
        5,
        "one feedback event per interviewer"
    );
    assert_eq!(
        scalar(&env, "SELECT COUNT(*) FROM self_service_uses"),
        5,
        "the losing links are not spent either"
    );
}
