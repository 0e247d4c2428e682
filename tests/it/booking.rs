//! Panels that book themselves (issue 35, parts 1 to 3): weekly windows,
//! busy feeds fetched through the SSRF guard, the slots in which every
//! interviewer is free — checked against an independent computation
//! (tests/slots_oracle.py: zoneinfo, icalendar, recurring-ical-events)
//! across both 2030 daylight-saving weeks of Europe and North America — and
//! the booking link: book, move, cancel, never two interviews in one
//! person's time however many book at once, and every forged, reused,
//! expired or cross-site post refused with nothing changed.

use crate::api::Api;
use crate::common::{Env, dump_tables, http};
use crate::daemon::rows;
use crate::job_board::{Board, Reply};
use crate::smtp::free_port;
use crate::tools::{Tool, needs};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An environment with signed links served on `port`, feeds allowed from
/// `feeds` (a loopback address), the jobs never due, and `n` candidates
/// applied to posting 1.
fn env_with(port: u16, feeds: Option<&str>, n: usize) -> Env {
    env_mailing(port, feeds, n, free_port())
}

/// The same, its mail sent over SMTP to `smtp` on loopback.
fn env_mailing(port: u16, feeds: Option<&str>, n: usize, smtp: u16) -> Env {
    let env = Env::with_config(&format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"Jobs <jobs@example.org>\"\nrate_per_second = 0\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"none\"\ntimeout = \"5s\"\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\"\n\
         link_key_file = \"link.key\"\n\
         [poll]\ntimeout = \"2s\"\nallow_addresses = [{}]\n\
         [schedule]\ntimezone = \"Europe/Berlin\"\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n\
         advance = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\n[interviews]\nstage = \"interview\"\n",
        feeds.map(|f| format!("\"{f}\"")).unwrap_or_default()
    ));
    env.write("link.key", "a-test-key-of-more-than-32-bytes-0123456789\n");
    env.add_posting(1, "Line Cook");
    for (email, name, tz) in [
        ("sam@example.org", "Sam Sous", "Europe/Berlin"),
        ("lena@example.org", "Lena Line", "America/New_York"),
        ("kai@example.org", "Kai Pastry", "America/Los_Angeles"),
    ] {
        env.ok(&["person", "add", email, "--name", name, "--timezone", tz]);
    }
    for i in 0..n {
        env.ok(&[
            "--now",
            "2030-01-01T09:00:00Z",
            "apply",
            "1",
            "--name",
            &format!("Candidate {i}"),
            "--email",
            &format!("c{i}@example.net"),
            "--timezone",
            "America/Chicago",
            "--no-email",
        ]);
    }
    env
}

/// Sam's calendar: a weekly meeting in Berlin time with an exception and a
/// moved occurrence, a daily UTC one that ends, an all-day holiday, a
/// transparent event and a cancelled one (neither busy).
const SAM: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:weekly@test\r\nDTSTAMP:20300101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20300304T150000\r\n\
DTEND;TZID=Europe/Berlin:20300304T160000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n\
EXDATE;TZID=Europe/Berlin:20300311T150000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly@test\r\nDTSTAMP:20300101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20300318T150000\r\n\
DTSTART;TZID=Europe/Berlin:20300318T090000\r\nDTEND;TZID=Europe/Berlin:20300318T100000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:daily@test\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300325T140000Z\r\nDURATION:PT30M\r\n\
RRULE:FREQ=DAILY;COUNT=6\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:holiday@test\r\nDTSTAMP:20300101T000000Z\r\nDTSTART;VALUE=DATE:20300401\r\nDTEND;VALUE=DATE:20300402\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly-oct@test\r\nDTSTAMP:20300101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20301021T140000\r\n\
DTEND;TZID=Europe/Berlin:20301021T153000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU;UNTIL=20301106T000000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:free@test\r\nDTSTAMP:20300101T000000Z\r\nTRANSP:TRANSPARENT\r\nDTSTART:20300305T140000Z\r\nDTEND:20300305T160000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:off@test\r\nDTSTAMP:20300101T000000Z\r\nSTATUS:CANCELLED\r\nDTSTART:20300306T140000Z\r\nDTEND:20300306T160000Z\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

/// Lena's: a daily stand-up in New York time on weekdays, and a floating
/// (zoneless) lunch read in her zone; both through the autumn change too.
const LENA: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:standup@test\r\nDTSTAMP:20300101T000000Z\r\nDTSTART;TZID=America/New_York:20300304T093000\r\n\
DTEND;TZID=America/New_York:20300304T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\r\n\
EXDATE;TZID=America/New_York:20300312T093000,20301029T093000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:lunch@test\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300305T110000\r\nDTEND:20300305T113000\r\n\
RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

fn slots_of(v: &Value) -> Vec<String> {
    v["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("no slots: {v}"))
        .iter()
        .map(|s| {
            let t = DateTime::parse_from_rfc3339(s.as_str().unwrap_or_default())
                .expect("an RFC 3339 slot")
                .with_timezone(&Utc);
            iso(t)
        })
        .collect()
}

fn oracle(env: &Env, query: &Value) -> Vec<String> {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::tools::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/slots_oracle.py"
        ))
        .current_dir(env.path("."))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tests/slots_oracle.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(query.to_string().as_bytes())
        .expect("write the query");
    let out = child.wait_with_output().expect("the oracle ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn offered_slots_match_an_independent_computation_across_daylight_saving_weeks() {
    needs!(Tool::Calendar);
    let board = Board::start();
    board.route(
        "/feeds/sam.ics",
        vec![Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/calendar".into())],
            body: SAM.as_bytes().to_vec(),
        }],
    );
    board.route(
        "/feeds/lena.ics",
        vec![Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/calendar".into())],
            body: LENA.as_bytes().to_vec(),
        }],
    );
    let env = env_with(free_port(), Some(&board.addr.to_string()), 2);
    env.write("sam.ics", SAM);
    env.write("lena.ics", LENA);
    let weekly = [
        ("sam@example.org", vec!["Mon-Fri 09:00-17:00"], Some("sam")),
        (
            "lena@example.org",
            vec!["Mon-Thu 08:00-12:00", "Fri 08:00-11:00"],
            Some("lena"),
        ),
        (
            "kai@example.org",
            vec!["Mon-Fri 06:00-14:00", "Sat 08:00-10:00"],
            None,
        ),
    ];
    for (who, windows, feed) in &weekly {
        let mut a = vec![
            "--now",
            "2030-03-01T00:00:00Z",
            "person",
            "availability",
            who,
        ];
        for w in windows {
            a.extend(["--weekly", w]);
        }
        let url = feed.map(|f| format!("{}/feeds/{f}.ics", board.base()));
        if let Some(u) = &url {
            a.extend(["--busy-feed", u]);
        }
        let shown = env.ok(&a);
        assert!(
            !shown.contains("/feeds/"),
            "the feed's address is shown back: {shown}"
        );
    }
    // an interview atsd booked Kai for is busy too
    env.ok(&[
        "--now",
        "2030-03-01T00:00:00Z",
        "interview",
        "schedule",
        "2",
        "--at",
        "2030-03-13T15:00:00Z",
        "--duration",
        "1h",
        "--interviewer",
        "kai@example.org",
    ]);
    let tz_of = |who: &str| match who {
        "sam@example.org" => "Europe/Berlin",
        "lena@example.org" => "America/New_York",
        _ => "America/Los_Angeles",
    };
    let mut checked = 0;
    for (now, between, panel, minutes, buffer) in [
        (
            "2030-03-01T00:00:00Z",
            "2030-03-04..2030-04-05",
            2,
            "45m",
            15,
        ),
        (
            "2030-03-01T00:00:00Z",
            "2030-03-04..2030-04-05",
            3,
            "30m",
            0,
        ),
        (
            "2030-10-15T00:00:00Z",
            "2030-10-21..2030-11-08",
            2,
            "1h",
            10,
        ),
        (
            "2030-10-15T00:00:00Z",
            "2030-10-21..2030-11-08",
            3,
            "45m",
            15,
        ),
    ] {
        let people: Vec<&str> = weekly.iter().take(panel).map(|w| w.0).collect();
        let mut a = vec![
            "--now",
            now,
            "--json",
            "interview",
            "offer",
            "1",
            "--duration",
            minutes,
            "--between",
            between,
            "--timezone",
            "UTC",
            "--notice",
            "24h",
        ];
        let buffer_arg = format!("{buffer}m");
        a.extend(["--buffer", &buffer_arg]);
        for p in &people {
            a.extend(["--interviewer", p]);
        }
        let out: Value = serde_json::from_str(&env.ok(&a)).expect("JSON");
        let ours = slots_of(&out);
        let (from, until) = between.split_once("..").unwrap();
        let until = (chrono::NaiveDate::parse_from_str(until, "%Y-%m-%d").unwrap()
            + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
        let query = serde_json::json!({
            "from": format!("{from}T00:00:00+00:00"),
            "until": format!("{until}T00:00:00+00:00"),
            "minutes": out["offer"]["minutes"],
            "buffer": buffer,
            "people": people.iter().map(|p| {
                let w = weekly.iter().find(|w| w.0 == *p).unwrap();
                serde_json::json!({
                    "tz": tz_of(p),
                    "weekly": w.1,
                    "feed": w.2.map(|f| format!("{f}.ics")),
                    "booked": if *p == "kai@example.org" {
                        vec![["2030-03-13T15:00:00+00:00", "2030-03-13T16:00:00+00:00"]]
                    } else { vec![] },
                })
            }).collect::<Vec<_>>(),
        });
        let theirs = oracle(&env, &query);
        assert!(
            !ours.is_empty(),
            "{between}, {panel} people: no slot at all"
        );
        assert_eq!(
            ours, theirs,
            "{between}, a panel of {panel}: atsd's slots differ from the oracle's"
        );
        checked += ours.len();
    }
    assert!(checked > 100, "{checked} slots checked");
    // both feeds were read through the guard, once per offer of theirs
    assert!(board.hits("/feeds/sam.ics") >= 4);
}

#[test]
fn a_busy_feed_at_a_private_address_is_refused_and_nothing_is_kept() {
    let env = env_with(free_port(), None, 1);
    env.ok(&[
        "person",
        "availability",
        "sam@example.org",
        "--weekly",
        "Mon-Fri 09:00-17:00",
    ]);
    let before = dump_tables(&env);
    for url in [
        "http://10.1.2.3/cal.ics",
        "http://127.0.0.1:9/cal.ics",
        "http://[::1]/cal.ics",
        "http://localhost/cal.ics",
        "file:///etc/passwd",
        "webcal://192.168.1.5/x.ics",
    ] {
        let e = env.fails(
            2,
            &[
                "person",
                "availability",
                "sam@example.org",
                "--busy-feed",
                url,
            ],
        );
        assert!(e.contains("--busy-feed"), "{url}: {e}");
    }
    let bad = env.fails(
        2,
        &[
            "person",
            "availability",
            "sam@example.org",
            "--weekly",
            "Funday 9-5",
        ],
    );
    assert!(bad.contains("`Funday` is not a day"), "{bad}");
    assert_eq!(dump_tables(&env), before);
    // an offer to someone without windows names them
    let e = env.fails(
        2,
        &[
            "interview",
            "offer",
            "1",
            "--interviewer",
            "sam@example.org",
            "--interviewer",
            "kai@example.org",
        ],
    );
    assert!(e.contains("kai@example.org has no weekly windows"), "{e}");
}

/// The booking link in the newest `interview_slots` email to `to`.
fn booking_link(env: &Env, to: &str) -> String {
    let body = rows(
        env,
        &format!(
            "SELECT b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
             WHERE o.template = 'interview_slots' AND o.recipient = '{to}' ORDER BY o.id DESC LIMIT 1"
        ),
    );
    let text = &body[0][0];
    let start = text
        .find("/self-service/book/")
        .unwrap_or_else(|| panic!("no link:\n{text}"));
    text[start..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> crate::common::Answer {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(headers);
    http(port, "POST", path, &h, body.as_bytes()).expect("the daemon listens")
}

/// An offer of Sam, any day, all day, from the suite's now for 3 days.
fn offer_sam(env: &Env, app: usize) -> Vec<String> {
    let now = crate::clock::now();
    let out = env.json(&[
        "--now",
        &iso(now),
        "interview",
        "offer",
        &app.to_string(),
        "--interviewer",
        "sam@example.org",
        "--duration",
        "30m",
        "--notice",
        "1h",
        "--between",
        &format!("{}..{}", iso(now), iso(now + Duration::days(3))),
    ]);
    slots_of(&out)
}

#[test]
fn the_link_books_moves_and_cancels_and_refuses_what_it_must_with_nothing_changed() {
    needs!(Tool::Smtp, Tool::Calendar);
    let port = free_port();
    let sink = crate::smtp::Sink::start(free_port());
    let env = env_mailing(port, None, 1, sink.port);
    env.ok(&[
        "person",
        "availability",
        "sam@example.org",
        "--weekly",
        "Mon-Sun 00:00-24:00",
    ]);
    let slots = offer_sam(&env, 1);
    assert!(slots.len() > 100, "{slots:?}");
    let link = booking_link(&env, "c0@example.net");
    let api = Api::start(&env, port);
    let ts = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp()
            .to_string()
    };

    // the page: the candidate's zone, its name and offset beside each time,
    // a picker that shows another
    let page = http(port, "GET", &link, &[], b"").unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("(America/Chicago, UTC-0"),
        "{}",
        page.body
    );
    let kolkata = http(port, "GET", &format!("{link}?tz=Asia/Kolkata"), &[], b"").unwrap();
    assert!(kolkata.body.contains("(Asia/Kolkata, UTC+05:30)"));
    assert!(
        kolkata
            .body
            .contains("<option selected>Asia/Kolkata</option>")
    );

    // refused, nothing changed: forged, another kind of link, cross-site,
    // a slot not offered, no action, too big
    let before = dump_tables(&env);
    let forged = format!("{}x", &link[..link.len() - 1]);
    let other_offer = link.replacen("/book/b1.", "/book/b2.", 1);
    let as_feedback = link.replacen("/self-service/book/b", "/self-service/feedback/f", 1);
    let first = ts(&slots[0]);
    for (path, headers, body, status) in [
        (
            forged.as_str(),
            vec![],
            format!("action=book&slot={first}"),
            403,
        ),
        (
            other_offer.as_str(),
            vec![],
            format!("action=book&slot={first}"),
            403,
        ),
        (
            as_feedback.as_str(),
            vec![],
            "recommendation=yes".to_string(),
            403,
        ),
        (
            link.as_str(),
            vec![("Origin", "https://evil.example.net")],
            format!("action=book&slot={first}"),
            403,
        ),
        (
            link.as_str(),
            vec![("Sec-Fetch-Site", "cross-site")],
            format!("action=book&slot={first}"),
            403,
        ),
        (
            link.as_str(),
            vec![],
            "action=book&slot=12345".to_string(),
            409,
        ),
        (
            link.as_str(),
            vec![],
            format!(
                "action=book&slot={}",
                ts(&slots[0]).parse::<i64>().unwrap() + 60
            ),
            409,
        ),
        (link.as_str(), vec![], format!("slot={first}"), 422),
        (
            link.as_str(),
            vec![],
            "action=book&slot=%ZZ".to_string(),
            422,
        ),
        (
            link.as_str(),
            vec![],
            format!("action=book&slot={first}&pad={}", "x".repeat(8000)),
            413,
        ),
    ] {
        let a = post(port, path, &headers, &body);
        assert_eq!(a.status, status, "{path} {body:.60}: {}", a.body);
    }
    assert_eq!(
        dump_tables(&env),
        before,
        "a refused post changed something"
    );

    // book: the interview through the schedule's path (invitations to all)
    let booked = post(
        port,
        &link,
        &[],
        &format!("action=book&slot={}&tz=America/Chicago", ts(&slots[2])),
    );
    assert_eq!(booked.status, 200, "{}", booked.body);
    assert!(
        booked.body.contains("Your interview is booked for"),
        "{}",
        booked.body
    );
    let iv = rows(
        &env,
        "SELECT uid, CAST(sequence AS TEXT), status FROM interviews",
    );
    assert_eq!(iv.len(), 1);
    let uid = iv[0][0].clone();
    assert_eq!(
        rows(
            &env,
            "SELECT recipient FROM outbox WHERE template = 'interview_request' ORDER BY recipient"
        ),
        [["c0@example.net"], ["sam@example.org"]]
    );
    env.ok(&["tick", "dispatch"]);
    // the same booking again is refused, nothing changed
    let before = dump_tables(&env);
    let again = post(
        port,
        &link,
        &[],
        &format!("action=book&slot={}", ts(&slots[5])),
    );
    assert_eq!(again.status, 410, "{}", again.body);
    assert_eq!(dump_tables(&env), before);

    // move: the same UID, SEQUENCE + 1
    let moved = post(
        port,
        &link,
        &[],
        &format!("action=move&slot={}", ts(&slots[8])),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    env.ok(&["tick", "dispatch"]);
    let iv = rows(
        &env,
        "SELECT uid, CAST(sequence AS TEXT), status FROM interviews",
    );
    assert_eq!(iv, [[uid.clone(), "1".into(), "scheduled".into()]]);
    // cancel: SEQUENCE + 1 again, a CANCEL to everyone invited
    let cancelled = post(port, &link, &[], "action=cancel");
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert!(cancelled.body.contains("Your interview is cancelled"));
    env.ok(&["tick", "dispatch"]);
    assert_eq!(
        rows(
            &env,
            "SELECT uid, CAST(sequence AS TEXT), status FROM interviews"
        ),
        [[uid.clone(), "2".into(), "cancelled".into()]]
    );
    // what the candidate and Sam received, read by both calendar parsers:
    // one UID, REQUEST 0, REQUEST 1, CANCEL 2
    let got = crate::interviews::parsed(&env, &sink);
    for who in ["c0@example.net", "sam@example.org"] {
        for parser in ["icalendar", "vobject"] {
            let mut seen: Vec<(i64, String)> = got
                .values()
                .filter(|v| v["to"].as_str().unwrap_or_default().contains(who))
                .filter(|v| v[parser]["uid"] == uid.as_str())
                .map(|v| {
                    (
                        v[parser]["sequence"].as_i64().unwrap_or(-1),
                        v[parser]["method"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            seen.sort();
            assert_eq!(
                seen,
                [
                    (0, "REQUEST".into()),
                    (1, "REQUEST".into()),
                    (2, "CANCEL".into())
                ],
                "{who}, {parser}: {got:?}"
            );
        }
    }
    // nothing more through this link
    let before = dump_tables(&env);
    for body in [
        format!("action=book&slot={}", ts(&slots[3])),
        format!("action=move&slot={}", ts(&slots[3])),
        "action=cancel".into(),
    ] {
        let a = post(port, &link, &[], &body);
        assert_eq!(a.status, 410, "{body}: {}", a.body);
    }
    assert_eq!(dump_tables(&env), before);

    // an expired link: the offer's range is over
    let past = crate::clock::now() - Duration::days(30);
    env.ok(&[
        "--now",
        &iso(past),
        "interview",
        "offer",
        "1",
        "--interviewer",
        "sam@example.org",
        "--notice",
        "0m",
        "--between",
        &format!("{}..{}", iso(past), iso(past + Duration::days(2))),
    ]);
    let expired = booking_link(&env, "c0@example.net");
    assert_ne!(expired, link);
    let before = dump_tables(&env);
    let a = post(
        port,
        &expired,
        &[],
        &format!("action=book&slot={}", ts(&iso(past + Duration::days(1)))),
    );
    assert_eq!(a.status, 410, "{}", a.body);
    assert_eq!(dump_tables(&env), before);
    api.stop();
}

/// Fifty candidates book the same slot of Sam's at once, through `ports`
/// (one daemon each): exactly one interview, the 49 others answered with
/// the slots left (the taken one not among them).
fn fifty_at_once(env: &Env, ports: &[u16]) {
    let mut links = Vec::new();
    let mut slot = String::new();
    for app in 1..=50 {
        let slots = offer_sam(env, app);
        slot = slots[4].clone();
        links.push(booking_link(env, &format!("c{}@example.net", app - 1)));
    }
    let ts = DateTime::parse_from_rfc3339(&slot)
        .unwrap()
        .timestamp()
        .to_string();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(links.len()));
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = links
            .iter()
            .enumerate()
            .map(|(i, link)| {
                let barrier = barrier.clone();
                let port = ports[i % ports.len()];
                let body = format!("action=book&slot={ts}");
                s.spawn(move || {
                    barrier.wait();
                    let a = post(port, link, &[], &body);
                    (a.status, a.body)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a booking thread"))
            .collect()
    });
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    let taken: Vec<&String> = answers
        .iter()
        .filter(|(s, _)| *s == 409)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        won,
        1,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert_eq!(taken.len(), 49);
    for b in taken {
        assert!(b.contains("That time has just been taken"), "{b}");
        assert!(
            !b.contains(&format!("value=\"{ts}\"")),
            "the taken slot is offered again"
        );
        assert!(b.contains("name=\"slot\""), "no other slot offered");
    }
    assert_eq!(
        rows(
            env,
            "SELECT COUNT(*) FROM interviews WHERE status = 'scheduled'"
        ),
        [["1"]]
    );
    assert_eq!(
        rows(
            env,
            "SELECT COUNT(*) FROM interview_offers WHERE status = 'booked'"
        ),
        [["1"]]
    );
}

#[test]
fn fifty_simultaneous_bookings_of_one_slot_make_exactly_one_interview() {
    let port = free_port();
    let env = env_with(port, None, 50);
    env.ok(&[
        "person",
        "availability",
        "sam@example.org",
        "--weekly",
        "Mon-Sun 00:00-24:00",
    ]);
    let api = Api::start(&env, port);
    fifty_at_once(&env, &[port]);
    api.stop();
}

#[test]
fn three_daemons_on_postgresql_book_one_slot_once() {
    if crate::common::pg_admin_url().is_none() {
        eprintln!("PostgreSQL only: several daemons share one database there");
        return;
    }
    let port = free_port();
    let env = env_with(port, None, 50);
    env.ok(&[
        "person",
        "availability",
        "sam@example.org",
        "--weekly",
        "Mon-Sun 00:00-24:00",
    ]);
    let (p2, p3) = (free_port(), free_port());
    let a1 = Api::start(&env, port);
    let a2 = Api::start_with(
        &env,
        p2,
        &[("ATSD_HTTP_LISTEN", &format!("127.0.0.1:{p2}"))],
    );
    let a3 = Api::start_with(
        &env,
        p3,
        &[("ATSD_HTTP_LISTEN", &format!("127.0.0.1:{p3}"))],
    );
    fifty_at_once(&env, &[port, p2, p3]);
    a1.stop();
    a2.stop();
    a3.stop();
}
