//! Hiring teams, on both engines: people in three time zones each get their
//! own digest at 09:00 their time on every working day across a daylight-
//! saving change, listing only their postings, with a real SMTP server; the
//! fallback list gets the unowned posting; reminders go to the owner only; a
//! removed person's token stops at once and their postings fall back; teams
//! in posting files; the audit actor of a person's token.

use crate::api::Api;
use crate::common::{Env, http};
use crate::smtp::{Sink, free_port};
use crate::tools::{Tool, needs};
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const PEOPLE: [(&str, &str, &str, &str, u32, &str); 3] = [
    (
        "berlin@example.org",
        "Birte Berlin",
        "Europe/Berlin",
        "de",
        1,
        "Kochstelle Berlin",
    ),
    (
        "newyork@example.org",
        "Nate York",
        "America/New_York",
        "en",
        2,
        "Line Cook Manhattan",
    ),
    (
        "tokyo@example.org",
        "Tomo Tokyo",
        "Asia/Tokyo",
        "es",
        3,
        "Sushi Chef Shibuya",
    ),
];
const FALLBACK: &str = "fallback@example.org";
const UNOWNED: &str = "Dishwasher Nowhere";

fn team_env(port: u16) -> Env {
    let env = Env::with_config(&format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"Jobs <jobs@example.org>\"\nrate_per_second = 0\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout = \"5s\"\n\
         [schedule]\ntimezone = \"UTC\"\ndigest = \"0 9 * * MON-FRI\"\n\
         [recruiters]\nemails = [\"{FALLBACK}\"]\n\
         [[rules]]\nname = \"nudge\"\nstage = \"applied\"\nafter = \"5d\"\nremind = true\n"
    ));
    // the team exists before the test's first date, whatever today is
    let at = ["--now", "2027-02-01T09:00:00Z"];
    for (email, name, tz, locale, job, title) in PEOPLE {
        env.ok(&[
            at[0],
            at[1],
            "person",
            "add",
            email,
            "--name",
            name,
            "--timezone",
            tz,
            "--locale",
            locale,
        ]);
        let url = format!("https://boards.greenhouse.io/acme/jobs/{job}");
        env.ok(&[at[0], at[1], "posting", "add", &url, "--title", title]);
        let job = job.to_string();
        env.ok(&[
            at[0],
            at[1],
            "posting",
            "assign",
            &job,
            "--recruiter",
            email,
        ]);
    }
    let url = "https://boards.greenhouse.io/acme/jobs/4";
    env.ok(&[at[0], at[1], "posting", "add", url, "--title", UNOWNED]);
    env
}

fn apply(env: &Env, at: &str, posting: u32, n: u32) {
    env.ok(&[
        "--now",
        at,
        "apply",
        &posting.to_string(),
        "--name",
        &format!("Cand {posting}-{n}"),
        "--email",
        &format!("c{posting}-{n}@example.net"),
        "--no-email",
    ]);
}

/// The message's headers, unfolded, and its body with quoted-printable
/// soft line breaks removed.
fn parts(m: &Value) -> (BTreeMap<String, String>, String) {
    let data = m["data"].as_str().expect("message data");
    let (head, body) = data.split_once("\r\n\r\n").unwrap_or((data, ""));
    let mut h = BTreeMap::new();
    let mut last = String::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = h.get_mut(&last) {
                *v = format!("{v} {}", line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            last = k.to_ascii_lowercase();
            h.insert(last.clone(), v.trim().to_string());
        }
    }
    (h, body.replace("=\r\n", ""))
}

/// Who got what, from the sink: (recipient, "digest"/"reminder", Date, body).
fn received(sink: &Sink) -> Vec<(String, &'static str, DateTime<Utc>, String)> {
    sink.messages()
        .iter()
        .map(|m| {
            let (h, body) = parts(m);
            let id = &h["message-id"];
            let kind = if id.contains("atsd.digest.") {
                "digest"
            } else if id.contains(".remind") {
                "reminder"
            } else {
                "other"
            };
            let date = DateTime::parse_from_rfc2822(&h["date"])
                .expect("an RFC 5322 Date")
                .with_timezone(&Utc);
            (
                m["rcpt_tos"][0].as_str().unwrap_or_default().to_string(),
                kind,
                date,
                body,
            )
        })
        .collect()
}

/// The working days whose 09:00 in `tz` falls in [from, to).
fn nine_oclocks(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut day = from.with_timezone(&tz).date_naive() - Duration::days(1);
    while day <= to.with_timezone(&tz).date_naive() + Duration::days(1) {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let nine = tz
                .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
                .single()
                .unwrap()
                .with_timezone(&Utc);
            if nine >= from && nine < to {
                out.push(nine);
            }
        }
        day += Duration::days(1);
    }
    out
}

#[test]
fn each_person_gets_one_digest_per_working_day_at_nine_their_time_across_a_dst_change() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = team_env(sink.port);
    // stale applications on every posting, and new ones during the run
    for p in 1..=4 {
        apply(&env, "2027-03-01T12:00:00Z", p, 0);
        apply(&env, "2027-03-12T12:00:00Z", p, 1);
    }
    // Wednesday 10 March to Thursday 18 March 2027: New York leaves winter
    // time on Sunday 14 March (Berlin only on the 28th)
    let from: DateTime<Utc> = "2027-03-10T00:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2027-03-18T00:00:00Z".parse().unwrap();
    // ticking starts a day earlier, so that the first ticks do not catch up
    // on occurrences before the run (a missed occurrence runs once, late)
    let mut t = from - Duration::days(1);
    while t < to {
        env.ok(&[
            "--now",
            &t.to_rfc3339(),
            "tick",
            "advance",
            "digest",
            "dispatch",
        ]);
        // every zone here is a whole number of hours from UTC: a tick on
        // each half hour lands on every 09:00 and once after it
        t += Duration::minutes(30);
    }
    let all = received(&sink);
    let got: Vec<_> = all.iter().filter(|m| m.2 >= from).cloned().collect();
    for (email, _, tz, _, _, title) in PEOPLE {
        let tz: Tz = tz.parse().unwrap();
        let want = nine_oclocks(tz, from, to);
        let digests: Vec<_> = got
            .iter()
            .filter(|(r, k, _, _)| r == email && *k == "digest")
            .collect();
        let dates: Vec<DateTime<Utc>> = digests.iter().map(|d| d.2).collect();
        assert_eq!(
            dates, want,
            "{email}: one digest at 09:00 {tz} per working day"
        );
        for (_, _, date, body) in &digests {
            let local = date.with_timezone(&tz);
            assert_eq!((local.hour(), local.minute()), (9, 0), "{email}: {local}");
            assert!(body.contains(title), "{email}'s digest lists their posting");
            for (other, _, _, _, _, other_title) in PEOPLE {
                if other != email {
                    assert!(
                        !body.contains(other_title),
                        "{email}'s digest lists {other}'s posting"
                    );
                }
            }
            assert!(
                !body.contains(UNOWNED),
                "{email}'s digest lists the unowned posting"
            );
        }
        // the stale application of their posting: reminded once, to them only
        let reminders: Vec<_> = all
            .iter()
            .filter(|(r, k, _, _)| r == email && *k == "reminder")
            .collect();
        assert_eq!(
            reminders.len(),
            2,
            "{email}: one reminder per stale application"
        );
        assert!(reminders.iter().all(|r| r.3.contains(title)));
    }
    // the daylight-saving change is in the run: New York's 09:00 is 14:00
    // UTC before it and 13:00 after
    let ny: Vec<u32> = got
        .iter()
        .filter(|(r, k, _, _)| r == "newyork@example.org" && *k == "digest")
        .map(|d| d.2.hour())
        .collect();
    assert!(ny.contains(&14) && ny.contains(&13), "{ny:?}");
    let fallback: Vec<_> = got
        .iter()
        .filter(|(r, k, _, _)| r == FALLBACK && *k == "digest")
        .collect();
    assert_eq!(
        fallback.iter().map(|d| d.2).collect::<Vec<_>>(),
        nine_oclocks(chrono_tz::UTC, from, to)
    );
    for (_, _, _, body) in &fallback {
        assert!(body.contains(UNOWNED));
        assert!(PEOPLE.iter().all(|p| !body.contains(p.5)), "{body}");
    }
    let fallback_reminders: Vec<_> = all
        .iter()
        .filter(|(r, k, _, _)| r == FALLBACK && *k == "reminder")
        .collect();
    assert_eq!(fallback_reminders.len(), 2);
    assert!(fallback_reminders.iter().all(|r| r.3.contains(UNOWNED)));
    // each person's digest is in their language
    let berlin = got
        .iter()
        .find(|(r, k, _, _)| r == "berlin@example.org" && *k == "digest")
        .unwrap();
    assert!(berlin.3.contains("Neue Bewerbungen"), "{}", berlin.3);
    // every email exactly once
    let copies = sink.copies_by_message_id();
    assert!(copies.values().all(|n| *n == 1), "{copies:?}");
}

#[test]
fn a_removed_persons_token_stops_at_once_and_their_postings_fall_back() {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n\
         [recruiters]\nemails = [\"{FALLBACK}\"]\n\
         [[rules]]\nname = \"nudge\"\nstage = \"applied\"\nafter = \"5d\"\nremind = true\n"
    ));
    env.ok(&["person", "add", "ada@example.org", "--name", "Ada"]);
    env.add_posting(1, "Cook");
    env.ok(&["posting", "assign", "1", "--recruiter", "ada@example.org"]);
    let token = env
        .ok(&[
            "token",
            "create",
            "ada-laptop",
            "--scope",
            "recruiter",
            "--person",
            "ada@example.org",
        ])
        .trim()
        .to_string();
    // the API moves and the removal happen now, on the suite's clock: the
    // applications are 4 days old (not stale yet for the daemon's own
    // runs), the reminders' tick two days later (stale after 5 days)
    let iso = |d: chrono::Duration| (crate::clock::now() + d).to_rfc3339();
    let applied = iso(-chrono::Duration::days(4));
    apply(&env, &applied, 1, 0);
    apply(&env, &applied, 1, 1);
    let api = Api::start(&env, port);
    let auth = format!("Bearer {token}");
    let get = || {
        http(port, "GET", "/v1/people", &[("Authorization", &auth)], b"").expect("the API answers")
    };
    let people = get();
    assert_eq!(people.status, 200, "{}", people.body);
    assert_eq!(people.json()["items"][0]["email"], "ada@example.org");
    // a move with her token names her
    let body = json!({"to": "screening"}).to_string();
    let moved = http(
        port,
        "POST",
        "/v1/applications/1/moves",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(moved.status, 201, "{}", moved.body);
    let shown = env.json(&["application", "show", "1"]);
    let actors: Vec<&str> = shown["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["actor"].as_str())
        .collect();
    assert!(actors.contains(&"person:ada@example.org"), "{actors:?}");
    env.ok(&["person", "remove", "ada@example.org"]);
    assert_eq!(get().status, 401, "her token is refused at once");
    // the remaining stale application's reminder goes to the fallback list
    env.ok(&["--now", &iso(chrono::Duration::days(2)), "tick", "advance"]);
    let mail = env.json(&["mail", "list"]);
    let reminders: Vec<&str> = mail
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["template"] == "recruiter_reminder")
        .filter_map(|m| m["recipient"].as_str())
        .collect();
    assert_eq!(reminders, vec![FALLBACK], "{mail}");
    // the posting still shows her, marked removed
    let p = env.json(&["posting", "show", "1"]);
    assert_eq!(p["team"][0]["active"], false, "{p}");
    api.stop();
}

#[test]
fn posting_files_carry_teams_and_an_unknown_person_is_refused_with_file_and_line() {
    let env = Env::new();
    env.ok(&["person", "add", "rae@example.org", "--name", "Rae"]);
    env.ok(&["person", "add", "hm@example.org", "--name", "Hal"]);
    env.write(
        "jobs/a.md",
        "---\ntitle: Baker\nurl: https://boards.greenhouse.io/acme/jobs/11\nrecruiter: rae@example.org\nhiringManagers:\n  - hm@example.org\n---\nBread.\n",
    );
    env.write(
        "jobs/b.md",
        "---\ntitle: Barista\nurl: https://boards.greenhouse.io/acme/jobs/12\nrecruiter: rae@example.org\ncoordinators:\n  - hm@example.org\n  - nobody@example.org\n---\nCoffee.\n",
    );
    let err = env.fails(
        2,
        &["posting", "import", env.path("jobs").to_str().unwrap()],
    );
    assert!(
        err.contains("b.md:7: field `coordinators`") && err.contains("nobody@example.org"),
        "{err}"
    );
    assert!(err.contains("atsd person add"), "{err}");
    assert_eq!(
        env.json(&["posting", "list"]).as_array().unwrap().len(),
        0,
        "nothing half-imported"
    );
    env.ok(&["person", "add", "nobody@example.org", "--name", "No Body"]);
    env.ok(&["posting", "import", env.path("jobs").to_str().unwrap()]);
    let a = env.json(&[
        "posting",
        "show",
        "https://boards.greenhouse.io/acme/jobs/11",
    ]);
    let team: Vec<(String, String)> = a["team"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["email"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        team,
        vec![
            ("recruiter".into(), "rae@example.org".into()),
            ("hiring_manager".into(), "hm@example.org".into())
        ]
    );
    let owned = env.json(&["posting", "list", "--owner", "hm@example.org"]);
    assert_eq!(owned.as_array().unwrap().len(), 2);
    let report = env.json(&["report", "--owner", "nobody@example.org"]);
    let titles: Vec<&str> = report["postings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(titles, vec!["Barista"]);
}

#[test]
fn bad_people_are_refused_naming_the_value_and_nothing_changes() {
    let env = Env::new();
    let e = env.fails(2, &["person", "add", "not-an-address", "--name", "X"]);
    assert!(e.contains("not-an-address"), "{e}");
    let e = env.fails(
        2,
        &[
            "person",
            "add",
            "x@example.org",
            "--name",
            "X",
            "--timezone",
            "Mars/Olympus",
        ],
    );
    assert!(e.contains("Mars/Olympus"), "{e}");
    let (code, out, err) = env.run(&[
        "person",
        "add",
        "f@example.org",
        "--name",
        "F",
        "--locale",
        "fr",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("no templates in locale `fr`"), "{err}");
    let e = env.fails(2, &["person", "add", "F@example.org", "--name", "F2"]);
    assert!(e.contains("exists already"), "{e}");
    assert_eq!(env.json(&["person", "list"]).as_array().unwrap().len(), 1);
    env.add_posting(1, "Cook");
    let e = env.fails(
        2,
        &["posting", "assign", "1", "--recruiter", "ghost@example.org"],
    );
    assert!(
        e.contains("ghost@example.org") && e.contains("atsd person add"),
        "{e}"
    );
}
