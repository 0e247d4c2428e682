//! Acting from the recruiter board, on both engines, over loopback with the
//! real daemon: a person's session opens on their own postings in their
//! language and time zone; its forms move an application (stage email and
//! delayed rejection as `atsd application move`), hold a candidate, send a
//! dead email again and edit a posting's team, each recorded with the
//! person as the actor. Every way a POST can be forged — no form token,
//! another session's, another site, a `read` token, no session, an
//! oversized or malformed form, a stale version, a move the pipeline
//! forbids — is refused in words and changes nothing.

use crate::api::Api;
use crate::common::{Answer, Env, dump_tables, http, scalar};
use crate::daemon::rows;
use crate::smtp::free_port;
use serde_json::Value;

const ADA: &str = "ada@example.org";
const BEN: &str = "ben@example.org";

fn setup() -> (Env, u16) {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n\
         [recruiters]\nemails = [\"fallback@example.org\"]\n"
    ));
    env.ok(&[
        "person",
        "add",
        ADA,
        "--name",
        "Ada Lovelace",
        "--timezone",
        "Asia/Tokyo",
        "--locale",
        "de",
    ]);
    env.ok(&["person", "add", BEN, "--name", "Ben Okafor"]);
    env.add_posting(1, "Koch");
    env.add_posting(2, "Dishwasher");
    env.ok(&["posting", "assign", "1", "--recruiter", ADA]);
    for (posting, n) in [("1", 1), ("1", 2), ("2", 3)] {
        env.ok(&[
            "apply",
            posting,
            "--name",
            &format!("Cand {n}"),
            "--email",
            &format!("c{n}@example.net"),
        ]);
    }
    (env, port)
}

fn person_token(env: &Env, name: &str, scope: &str, person: &str) -> String {
    env.ok(&[
        "token", "create", name, "--scope", scope, "--person", person,
    ])
    .trim()
    .to_string()
}

/// Signs in with `token`: the session cookie's value.
fn session(port: u16, token: &str) -> String {
    let a = http(
        port,
        "POST",
        "/board/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("token={token}").as_bytes(),
    )
    .expect("the board listens");
    assert_eq!(a.status, 303, "{}", a.body);
    let line = a
        .headers
        .lines()
        .find(|l| l.starts_with("set-cookie: atsd_board="))
        .unwrap_or_else(|| panic!("no session cookie: {}", a.headers));
    line["set-cookie: atsd_board=".len()..]
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn get(port: u16, path: &str, cookie: &str) -> Answer {
    let c = format!("atsd_board={cookie}");
    http(port, "GET", path, &[("Cookie", &c)], b"").expect("the board listens")
}

fn post(port: u16, path: &str, cookie: Option<&str>, extra: &[(&str, &str)], body: &str) -> Answer {
    let c = cookie.map(|c| format!("atsd_board={c}"));
    let mut headers: Vec<(&str, &str)> =
        vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = &c {
        headers.push(("Cookie", c));
    }
    headers.extend_from_slice(extra);
    http(port, "POST", path, &headers, body.as_bytes()).expect("the board listens")
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The form token a page's forms carry.
fn form_token(page: &str) -> String {
    let at = page
        .find("name=\"form_token\" value=\"")
        .unwrap_or_else(|| panic!("no form on the page: {page}"));
    page[at + 25..at + 25 + 64].to_string()
}

fn show(env: &Env, id: &str) -> Value {
    env.json(&["application", "show", id, "--json"])
}

#[test]
fn a_persons_board_session_acts_as_the_cli_does_with_them_as_the_actor() {
    let (env, port) = setup();
    let token = person_token(&env, "ada-board", "recruiter", ADA);
    let api = Api::start(&env, port);
    let ada = session(port, &token);

    // her session opens on her own postings, in German, with a switch to all
    let home = get(port, "/board", &ada);
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("lang=\"de\""), "{}", home.body);
    assert!(home.body.contains("Meine Stellen"), "{}", home.body);
    assert!(home.body.contains(">Koch<"), "{}", home.body);
    assert!(!home.body.contains(">Dishwasher<"), "{}", home.body);
    let all = get(port, "/board?owner=all", &ada);
    assert!(all.body.contains(">Dishwasher<"), "{}", all.body);
    // times in her zone (Tokyo), the team on the posting page
    let app = get(port, "/board/applications/1", &ada);
    assert!(app.body.contains(" JST"), "{}", app.body);
    let posting = get(port, "/board/postings/1", &ada);
    assert!(
        posting
            .body
            .contains("Ada Lovelace &lt;ada@example.org&gt; (Recruiter)"),
        "{}",
        posting.body
    );

    // a move to screening, then a rejection: delayed as the CLI's
    let ft = form_token(&app.body);
    let moved = post(
        port,
        "/board/applications/1/move",
        Some(&ada),
        &[("Origin", &format!("http://127.0.0.1:{port}"))],
        &form(&[
            ("form_token", &ft),
            ("version", "1"),
            ("to", "screening"),
            ("reason", "strong CV"),
        ]),
    );
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert!(
        moved
            .headers
            .contains("location: /board/applications/1?done=moved"),
        "{}",
        moved.headers
    );
    let done = get(port, "/board/applications/1?done=moved", &ada);
    assert!(done.body.contains("role=\"status\""), "{}", done.body);
    let rejected = post(
        port,
        "/board/applications/1/move",
        Some(&ada),
        &[("Sec-Fetch-Site", "same-origin")],
        &form(&[("form_token", &ft), ("to", "rejected")]),
    );
    assert_eq!(rejected.status, 303, "{}", rejected.body);
    let a = show(&env, "1");
    assert_eq!(a["application"]["stage"], "rejected");
    let ts = a["transitions"].as_array().expect("transitions");
    let last_two: Vec<(&str, &str)> = ts[ts.len() - 2..]
        .iter()
        .map(|t| {
            (
                t["to_stage"].as_str().unwrap_or_default(),
                t["actor"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        last_two,
        [
            ("screening", "person:ada@example.org"),
            ("rejected", "person:ada@example.org")
        ]
    );
    assert_eq!(ts[ts.len() - 2]["reason"], "strong CV");
    // the rejection is queued for two days later, as `application move` does
    let rejection = rows(
        &env,
        "SELECT template, CASE WHEN send_after IS NULL THEN 'now' ELSE 'later' END FROM outbox WHERE application_id = 1 AND template = 'rejection'",
    );
    assert_eq!(rejection, [["rejection", "later"]]);
    // the feed names her too
    let events = rows(
        &env,
        "SELECT COUNT(*) FROM events WHERE type = 'application.moved' AND data LIKE '%person:ada@example.org%'",
    );
    assert_eq!(events, [["2"]]);

    // a retention hold, then its release
    let held = post(
        port,
        "/board/applications/2/hold",
        Some(&ada),
        &[],
        &form(&[
            ("form_token", &ft),
            ("hold", "on"),
            ("reason", "litigation"),
        ]),
    );
    assert_eq!(held.status, 303, "{}", held.body);
    let c = env.json(&["candidate", "show", "c2@example.net", "--json"]);
    assert_eq!(c["candidate"]["on_hold"], true, "{c}");
    assert_eq!(c["candidate"]["hold_reason"], "litigation", "{c}");
    let page = get(port, "/board/applications/2", &ada);
    assert!(page.body.contains("value=\"off\""), "{}", page.body);

    // a dead email goes out again
    rows(
        &env,
        "UPDATE outbox SET status = 'dead', attempts = 8 WHERE application_id = 2 AND template = 'application_received'",
    );
    let dead_id = scalar(
        &env,
        "SELECT id FROM outbox WHERE application_id = 2 AND status = 'dead'",
    );
    let page = get(port, "/board/applications/2", &ada);
    let action = format!("/board/applications/2/emails/{dead_id}/retry");
    assert!(page.body.contains(&action), "{}", page.body);
    let resent = post(
        port,
        &action,
        Some(&ada),
        &[],
        &form(&[("form_token", &ft)]),
    );
    assert_eq!(resent.status, 303, "{}", resent.body);
    assert_eq!(
        rows(
            &env,
            &format!("SELECT status FROM outbox WHERE id = {dead_id} AND attempts = 0")
        ),
        [["pending"]]
    );

    // the posting's team, edited on its page
    let team = post(
        port,
        "/board/postings/2/team",
        Some(&ada),
        &[],
        &form(&[
            ("form_token", &ft),
            ("recruiter", BEN),
            ("hiring_managers", "ada@example.org"),
            ("coordinators", ""),
        ]),
    );
    assert_eq!(team.status, 303, "{}", team.body);
    let p = env.json(&["posting", "show", "2", "--json"]);
    let members: Vec<(String, String)> = p["team"]
        .as_array()
        .unwrap_or_else(|| panic!("no team: {p}"))
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap_or_default().to_string(),
                m["email"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            ("recruiter".to_string(), BEN.to_string()),
            ("hiring_manager".to_string(), ADA.to_string())
        ]
    );
    // now hers (as hiring manager): her own list shows it
    assert!(get(port, "/board", &ada).body.contains(">Dishwasher<"));
    // every action left its event, naming her, as a move does (the
    // command line's team edit of the set-up names its user)
    crate::common::settle(&env);
    let out = env.ok(&["events", "--json"]);
    let acted: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            matches!(
                e["type"].as_str(),
                Some(
                    "candidate.held" | "candidate.unheld" | "email.resent" | "posting.team_changed"
                )
            ) && !e["data"]["actor"]
                .as_str()
                .is_some_and(|a| a.starts_with("cli:"))
        })
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                e["data"]["actor"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let by_ada = |t: &str| (t.to_string(), format!("person:{ADA}"));
    assert_eq!(
        acted,
        [
            by_ada("candidate.held"),
            by_ada("email.resent"),
            by_ada("posting.team_changed")
        ],
        "{out}"
    );
    api.stop();
}

#[test]
fn forged_cross_site_read_only_and_malformed_board_posts_change_nothing_and_say_why() {
    let (env, port) = setup();
    let token = person_token(&env, "ada-board", "recruiter", ADA);
    let read = env.token("wall", "read");
    let api = Api::start(&env, port);
    let ada = session(port, &token);
    let other = session(port, &token);
    let viewer = session(port, &read);
    let page = get(port, "/board/applications/1", &ada);
    let ft = form_token(&page.body);
    let other_ft = form_token(&get(port, "/board/applications/1", &other).body);
    assert_ne!(ft, other_ft, "each session has its own form token");
    // a read token's pages offer no form that acts
    let read_page = get(port, "/board/applications/1", &viewer);
    assert_eq!(read_page.status, 200);
    // (the one form token on its pages is the sign-out form's)
    let forms = |body: &str| body.matches("name=\"form_token\"").count();
    assert_eq!(forms(&read_page.body), 1, "{}", read_page.body);
    assert!(read_page.body.contains("action=\"/board/logout\""));
    assert_eq!(forms(&get(port, "/board/postings/1", &viewer).body), 1);

    let others = |env: &Env| {
        rows(
            env,
            "SELECT (SELECT COUNT(*) FROM events) * 1000 + (SELECT COUNT(*) FROM posting_team)",
        )
    };
    let before = (dump_tables(&env), others(&env));
    let move_to = |t: &str| form(&[("form_token", t), ("to", "screening")]);
    let evil = [("Origin", "https://evil.example")];
    let cross = [("Sec-Fetch-Site", "cross-site")];
    let null_origin = [("Origin", "null")];
    let big = format!("{}&reason={}", move_to(&ft), "x".repeat(20 * 1024));
    // what, whose session, extra headers, the form, the answer, what it says
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        &'a [(&'a str, &'a str)],
        String,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "no form token",
            Some(&ada),
            &[],
            form(&[("to", "screening")]),
            403,
            "fehlt das Formular-Token",
        ),
        (
            "another session's form token",
            Some(&ada),
            &[],
            move_to(&other_ft),
            403,
            "gehört nicht zu dieser Sitzung",
        ),
        (
            "a made-up form token",
            Some(&ada),
            &[],
            move_to(&"0".repeat(64)),
            403,
            "gehört nicht zu dieser Sitzung",
        ),
        (
            "another site (Origin)",
            Some(&ada),
            &evil,
            move_to(&ft),
            403,
            "anderen Website",
        ),
        (
            "another site (Sec-Fetch-Site)",
            Some(&ada),
            &cross,
            move_to(&ft),
            403,
            "anderen Website",
        ),
        (
            "an opaque origin",
            Some(&ada),
            &null_origin,
            move_to(&ft),
            403,
            "anderen Website",
        ),
        (
            "a read token's session",
            Some(&viewer),
            &[],
            move_to(&form_token_of_read(&viewer)),
            403,
            "may only read",
        ),
        ("no session", None, &[], move_to(&ft), 401, "sign in"),
        ("a form over 16 KiB", Some(&ada), &[], big, 413, "16 KiB"),
        (
            "a version that is not a number",
            Some(&ada),
            &[],
            form(&[("form_token", &ft), ("to", "screening"), ("version", "one")]),
            422,
            "version: `one` is not a number",
        ),
        (
            "a stale version",
            Some(&ada),
            &[],
            form(&[("form_token", &ft), ("to", "screening"), ("version", "7")]),
            409,
            "version",
        ),
        (
            "a move the pipeline forbids",
            Some(&ada),
            &[],
            form(&[("form_token", &ft), ("to", "hired")]),
            422,
            "hired",
        ),
        (
            "a control character in the reason",
            Some(&ada),
            &[],
            form(&[
                ("form_token", &ft),
                ("to", "screening"),
                ("reason", "a\u{1b}[2J"),
            ]),
            422,
            "control characters",
        ),
    ];
    for (what, cookie, extra, body, status, says) in cases {
        let a = post(port, "/board/applications/1/move", cookie, extra, &body);
        assert_eq!(a.status, status, "{what}: {}", a.body);
        assert!(a.body.contains(says), "{what}: {}", a.body);
        if status != 401 {
            assert!(a.body.contains("role=\"alert\""), "{what}: {}", a.body);
        }
    }
    // the other forms refuse the same way
    let held = post(
        port,
        "/board/applications/1/hold",
        Some(&ada),
        &evil,
        &form(&[("form_token", &ft), ("hold", "on")]),
    );
    assert_eq!(held.status, 403, "{}", held.body);
    let sent_id = scalar(&env, "SELECT MIN(id) FROM outbox WHERE application_id = 1");
    let not_dead = post(
        port,
        &format!("/board/applications/1/emails/{sent_id}/retry"),
        Some(&ada),
        &[],
        &form(&[("form_token", &ft)]),
    );
    assert_eq!(not_dead.status, 422, "{}", not_dead.body);
    assert!(
        not_dead
            .body
            .contains("only a dead email can be sent again"),
        "{}",
        not_dead.body
    );
    let elsewhere = post(
        port,
        &format!("/board/applications/3/emails/{sent_id}/retry"),
        Some(&ada),
        &[],
        &form(&[("form_token", &ft)]),
    );
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);
    let unknown = post(
        port,
        "/board/postings/1/team",
        Some(&ada),
        &[],
        &form(&[("form_token", &ft), ("recruiter", "nobody@example.org")]),
    );
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(
        unknown.body.contains("nobody@example.org"),
        "{}",
        unknown.body
    );
    assert!(unknown.body.contains("atsd person add"), "{}", unknown.body);
    let no_team_token = post(
        port,
        "/board/postings/1/team",
        Some(&ada),
        &[],
        &form(&[("recruiter", BEN)]),
    );
    assert_eq!(no_team_token.status, 403, "{}", no_team_token.body);
    let bad_hold = post(
        port,
        "/board/applications/1/hold",
        Some(&ada),
        &[],
        &form(&[("form_token", &ft), ("hold", "maybe")]),
    );
    assert_eq!(bad_hold.status, 422, "{}", bad_hold.body);
    // nothing changed anywhere
    assert_eq!((dump_tables(&env), others(&env)), before);
    api.stop();
}

/// A read session's pages carry no form token; a forger would send the one
/// such a session would have if it could act: its own HMAC is as good a
/// guess as any, and must be refused for the scope, not the token.
fn form_token_of_read(cookie: &str) -> String {
    atsd::recruiter_board::auth::form_token(cookie)
}

#[test]
fn the_command_lines_team_edits_and_resends_name_their_user_as_the_boards_do() {
    let (env, _) = setup();
    // setup assigned posting 1's team from the command line
    let team = rows(
        &env,
        "SELECT data FROM events WHERE type = 'posting.team_changed'",
    );
    assert_eq!(team.len(), 1, "{team:?}");
    assert!(
        team[0][0].contains("\"actor\":\"cli:")
            && team[0][0].contains(ADA)
            && team[0][0].contains("\"posting_id\":1"),
        "{}",
        team[0][0]
    );
    // an email sent again from the command line
    let email = scalar(&env, "SELECT MIN(id) FROM outbox");
    assert!(email > 0, "apply queued its emails");
    env.ok(&["mail", "retry", &email.to_string()]);
    let resent = rows(&env, "SELECT data FROM events WHERE type = 'email.resent'");
    assert_eq!(resent.len(), 1, "{resent:?}");
    assert!(
        resent[0][0].contains(&format!("\"outbox_id\":{email}"))
            && resent[0][0].contains("\"actor\":\"cli:"),
        "{}",
        resent[0][0]
    );
    // refused: nothing recorded
    env.fails(2, &["mail", "retry", "999999"]);
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM events WHERE type = 'email.resent'"
        ),
        1
    );
}
