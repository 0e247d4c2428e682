//! The recruiter board's pages (`/board`) over loopback with the real
//! daemon, on either engine: no page without a live session (or the proxy
//! mode), the counts equal to `atsd report --json`'s, the column caps and the
//! lists' paging, the filters, the stale badge at its threshold's edge, and
//! the HTML report.

use crate::api::Api;
use crate::common::{Answer, Env, http, scalar, seed_applications};
use crate::smtp::free_port;
use chrono::{Duration, SecondsFormat};
use serde_json::Value;

fn setup(extra: &str) -> (Env, u16) {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n\n\
         [[rules]]\nname = \"stale-screening\"\nstage = \"screening\"\nafter = \"5d\"\nremind = true\n"
    ));
    env.add_posting(1, "Cook");
    (env, port)
}

fn token(env: &Env, name: &str, scope: &str) -> String {
    env.token(name, scope)
}

pub(crate) fn get(port: u16, path: &str, cookie: Option<&str>) -> Answer {
    let c = cookie.map(|c| format!("atsd_board={c}"));
    let headers: Vec<(&str, &str)> = c.iter().map(|c| ("Cookie", c.as_str())).collect();
    http(port, "GET", path, &headers, b"").expect("the board listens")
}

/// Signs in with `token`; the session cookie's value.
fn sign_in(port: u16, token: &str) -> Answer {
    let body = format!("token={token}&next=%2Fboard");
    http(
        port,
        "POST",
        "/board/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .expect("the board listens")
}

pub(crate) fn session(port: u16, token: &str) -> String {
    let a = sign_in(port, token);
    assert_eq!(a.status, 303, "{}", a.body);
    let line = a
        .headers
        .lines()
        .find(|l| l.starts_with("set-cookie: atsd_board="))
        .unwrap_or_else(|| panic!("no session cookie: {}", a.headers));
    for part in ["secure", "httponly", "samesite=strict", "path=/board"] {
        assert!(line.contains(part), "{line}");
    }
    line["set-cookie: atsd_board=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

const PAGES: [&str; 7] = [
    "/board",
    "/board/postings/1",
    "/board/postings/1/applications?stage=applied",
    "/board/applications/1",
    "/board/outbox",
    "/board/jobs",
    "/board/postings/1?stale=1",
];

fn sent_to_sign_in(a: &Answer) {
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(
        a.headers.contains("location: /board/login?next="),
        "{}",
        a.headers
    );
    assert!(!a.body.contains("Person"), "{}", a.body);
}

#[test]
fn no_board_page_without_a_live_session_and_forged_expired_or_revoked_ones_are_refused() {
    let (env, port) = setup("");
    seed_applications(&env, 1, 3, "applied", "2026-01-01T00:00:00Z");
    let read = token(&env, "board", "read");
    let intake = token(&env, "careers", "intake");
    let api = Api::start(&env, port);
    for p in PAGES {
        sent_to_sign_in(&get(port, p, None));
        sent_to_sign_in(&get(port, p, Some(&"0".repeat(64))));
        sent_to_sign_in(&get(port, p, Some("not-hex")));
    }
    // a bad token, and an intake token, are refused at sign-in
    let bad = sign_in(port, "atsd_nothing");
    assert_eq!(bad.status, 401);
    assert!(bad.body.contains("not valid"), "{}", bad.body);
    assert!(!bad.headers.contains("set-cookie"));
    let wrong = sign_in(port, &intake);
    assert_eq!(wrong.status, 403);
    assert!(wrong.body.contains("recruiter or read"), "{}", wrong.body);
    // a read token opens every page
    let cookie = session(port, &read);
    for p in PAGES {
        let a = get(port, p, Some(&cookie));
        assert_eq!(a.status, 200, "{p}: {}", a.body);
        assert!(
            a.headers
                .contains("content-security-policy: default-src 'none'"),
            "{}",
            a.headers
        );
        assert!(a.headers.contains("x-frame-options: deny"));
        assert!(a.headers.contains("cache-control: no-store"));
        assert!(a.body.contains("<html lang=\"en\">"), "{p}");
        assert!(!a.body.contains("<script"), "{p}");
    }
    // an expired session is refused
    let expired = session(port, &read);
    let store = crate::common::block_on(env.store());
    crate::common::block_on(async {
        use sea_orm::ConnectionTrait;
        store
            .conn()
            .execute_unprepared(&format!(
                "UPDATE board_sessions SET expires_at = created_at WHERE hash = '{}'",
                atsd::store::tokens::sha256(expired.as_bytes())
            ))
            .await
            .unwrap();
    });
    sent_to_sign_in(&get(port, "/board", Some(&expired)));
    assert_eq!(get(port, "/board", Some(&cookie)).status, 200);
    // signing out carries the session's form token, from this site: a
    // bare POST, another site's, or another session's token are refused
    let page = get(port, "/board", Some(&cookie));
    let form_token = page
        .body
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the sign-out form's token")
        .to_string();
    let logout = |headers: &[(&str, &str)], body: &str| {
        let c = format!("atsd_board={cookie}");
        let mut h = vec![
            ("Cookie", c.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        h.extend_from_slice(headers);
        http(port, "POST", "/board/logout", &h, body.as_bytes()).unwrap()
    };
    for (headers, body) in [
        (vec![], String::new()),
        (vec![], "form_token=not-it".to_string()),
        (
            vec![("Origin", "https://evil.example")],
            format!("form_token={form_token}"),
        ),
        (
            vec![("Sec-Fetch-Site", "cross-site")],
            format!("form_token={form_token}"),
        ),
    ] {
        let refused = logout(&headers, &body);
        assert_eq!(refused.status, 403, "{headers:?} {body}");
        assert_eq!(
            get(port, "/board", Some(&cookie)).status,
            200,
            "still signed in"
        );
    }
    let out = logout(&[], &format!("form_token={form_token}"));
    assert_eq!(out.status, 303);
    assert!(out.headers.contains("max-age=0"), "{}", out.headers);
    sent_to_sign_in(&get(port, "/board", Some(&cookie)));
    // revoking the token ends its sessions
    let again = session(port, &read);
    assert_eq!(get(port, "/board", Some(&again)).status, 200);
    env.ok(&["token", "revoke", "board"]);
    sent_to_sign_in(&get(port, "/board", Some(&again)));
    // a sign-in from another site (login CSRF) is refused: no session
    for h in [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let a = http(
            port,
            "POST",
            "/board/login",
            &[("Content-Type", "application/x-www-form-urlencoded"), h],
            format!("token={read}").as_bytes(),
        )
        .unwrap();
        assert_eq!(a.status, 403, "{h:?}");
        assert!(
            !a.headers.contains("set-cookie: atsd_board="),
            "{}",
            a.headers
        );
    }
    // sign-in never sends anyone off the board
    let a = http(
        port,
        "POST",
        "/board/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!(
            "token={}&next=https%3A%2F%2Fevil.example",
            token(&env, "r2", "recruiter")
        )
        .as_bytes(),
    )
    .unwrap();
    assert!(
        a.headers.contains("location: /board\r") || a.headers.ends_with("location: /board"),
        "{}",
        a.headers
    );
    api.stop();
}

#[test]
fn proxy_mode_leaves_the_question_to_the_reverse_proxy() {
    let (env, port) = setup("board_auth = \"proxy\"\n[org]\ndefault_locale = \"de-CH\"");
    seed_applications(&env, 1, 2, "applied", "2026-01-01T00:00:00Z");
    let api = Api::start(&env, port);
    for p in PAGES {
        let a = get(port, p, None);
        assert_eq!(a.status, 200, "{p}: {}", a.body);
        assert!(
            !a.body.contains("/board/logout"),
            "no sign-out behind a proxy"
        );
        // in the recruiters' language (de-CH → de)
        assert!(a.body.contains("<html lang=\"de\">"), "{p}");
    }
    let p = get(port, "/board/postings/1", None).body;
    assert!(p.contains("Überfällig nach 14 Tagen"), "{p}");
    assert_eq!(get(port, "/board/login", None).status, 303);
    api.stop();
    // and only on loopback
    env.write(
        "atsd.toml",
        "[http]\nlisten = \"0.0.0.0:9187\"\nboard_auth = \"proxy\"\n",
    );
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("http.board_auth"), "{err}");
}

fn report(env: &Env) -> Value {
    env.json(&["report", "--posting", "1"])
}

fn stage_row<'a>(r: &'a Value, stage: &str) -> &'a Value {
    r["postings"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .unwrap()
}

/// The first link on the page whose target starts with `prefix`, decoded.
pub(crate) fn href_starting(body: &str, prefix: &str) -> String {
    let needle = format!("href=\"{}", prefix.replace('&', "&amp;"));
    let at = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no link to {prefix}…"));
    body[at + 6..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

/// The number inside the first link whose target starts with `prefix`.
pub(crate) fn linked_number(body: &str, prefix: &str) -> i64 {
    let href = href_starting(body, prefix);
    let at = body
        .find(&format!("href=\"{}\"", href.replace('&', "&amp;")))
        .unwrap();
    let rest = &body[at..];
    let text = &rest[rest.find('>').unwrap() + 1..rest.find("</a>").unwrap()];
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("`{text}` is not a number"))
}

fn cards_in(body: &str, stage: &str) -> usize {
    let start = body
        .find(&format!("<span>{stage}</span>"))
        .unwrap_or_else(|| panic!("no column {stage}"));
    let rest = &body[start..];
    let end = rest.find("</section>").unwrap();
    rest[..end].matches("<li class=\"card").count()
}

#[test]
fn the_pages_count_what_the_report_counts_with_caps_paging_filters_and_stale_edges() {
    let (env, port) = setup("");
    let now = crate::clock::now();
    let t = |d: Duration| (now - d).to_rfc3339_opts(SecondsFormat::Secs, true);
    // a candidate whose name is markup, applied a year ago (application 1)
    env.ok(&[
        "--now",
        &t(Duration::days(365)),
        "apply",
        "1",
        "--name",
        "<img src=x onerror=alert(1)> \"Bobby\" & Co",
        "--email",
        "bobby@example.org",
    ]);
    // applied: 60 for 20 days (stale: the default threshold is 14 days), 2 at
    // the edge of it, 3 new today; screening (stale after 5 days): 4 for 6 days
    seed_applications(&env, 1, 60, "applied", &t(Duration::days(20)));
    seed_applications(
        &env,
        1,
        1,
        "applied",
        &t(Duration::days(14) - Duration::hours(1)),
    );
    seed_applications(
        &env,
        1,
        1,
        "applied",
        &t(Duration::days(14) + Duration::hours(1)),
    );
    seed_applications(&env, 1, 3, "applied", &t(Duration::hours(2)));
    seed_applications(&env, 1, 4, "screening", &t(Duration::days(6)));
    seed_applications(
        &env,
        1,
        2,
        "rejected",
        &t(Duration::days(1) + Duration::hours(1)),
    );
    let read = token(&env, "board", "read");
    let api = Api::start(&env, port);
    let cookie = session(port, &read);
    let r = report(&env);

    // the overview: each number is the report's, and links to a list of as many
    let o = get(port, "/board", Some(&cookie)).body;
    for stage in ["applied", "screening", "interview", "rejected"] {
        let href = format!("/board/postings/1/applications?stage={stage}");
        assert_eq!(
            linked_number(&o, &href),
            stage_row(&r, stage)["count"].as_i64().unwrap(),
            "{stage}"
        );
        let list = get(port, &href, Some(&cookie)).body;
        assert!(
            list.contains(&format!("Count: {}", stage_row(&r, stage)["count"])),
            "{list}"
        );
    }
    let stale_total: i64 = ["applied", "screening", "interview", "offer"]
        .iter()
        .map(|s| stage_row(&r, s)["stale"].as_i64().unwrap())
        .sum();
    assert_eq!(stale_total, 1 + 61 + 4);
    // (the stale ones as of the page's instant, which the link carries)
    let stale_href = href_starting(&o, "/board/postings/1/applications?stale=1&at=");
    assert_eq!(linked_number(&o, &stale_href), stale_total);
    let stale_list = get(port, &stale_href, Some(&cookie)).body;
    assert!(stale_list.contains(&format!("Count: {stale_total}")));
    // new since yesterday: the 3 of today (the 2 rejected applied a day ago)
    let new_href = href_starting(&o, "/board/postings/1/applications?since=");
    let new = linked_number(&o, &new_href);
    assert_eq!(new, 3);
    let new_list = get(port, &new_href, Some(&cookie)).body;
    assert_eq!(new_list.matches("<tr>").count() - 1, 3, "{new_list}");
    assert!(new_list.contains("Count: 3"));

    // the posting page: columns of at most 25 cards, newest first, "and N more"
    let p = get(port, "/board/postings/1", Some(&cookie)).body;
    assert_eq!(cards_in(&p, "applied"), 25);
    assert!(p.contains("and 41 more"), "66 applied, 25 shown");
    assert_eq!(cards_in(&p, "screening"), 4);
    assert_eq!(cards_in(&p, "interview"), 0);
    assert!(p.contains("No one in this stage."));
    // the stale badge, in words, at the threshold's edge: 14 days + 1 h is
    // stale, 14 days − 1 h is not
    let applied_list = |path: &str| get(port, path, Some(&cookie)).body;
    let page1 = applied_list("/board/postings/1/applications?stage=applied");
    let rows: Vec<&str> = page1.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 50, "a page holds 50");
    // newest first: the 3 of today, then the one inside the edge, then the one past it
    for row in &rows[..3] {
        assert!(
            row.contains("0 days in stage") && !row.contains("Waiting too long"),
            "{row}"
        );
    }
    assert!(
        rows[3].contains("14 days in stage") && rows[3].contains("Waiting too long: over 14 days"),
        "{}",
        rows[3]
    );
    assert!(
        rows[4].contains("13 days in stage") && !rows[4].contains("Waiting too long"),
        "{}",
        rows[4]
    );
    // the next page holds the rest
    let next = page1
        .split("rel=\"next\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"))
        .unwrap();
    let page2 = applied_list(&next);
    assert_eq!(page2.split("<tr>").skip(2).count(), 66 - 50);
    // markup in a name is text
    assert!(
        page2.contains("&lt;img src=x onerror=alert(1)&gt; &quot;Bobby&quot; &amp; Co"),
        "{page2}"
    );
    assert!(!page2.contains("<img"));
    assert!(!page2.contains("rel=\"next\""));

    // filters: one stage; stale only
    let f = get(port, "/board/postings/1?stage=screening", Some(&cookie)).body;
    assert!(f.contains("<span>screening</span>") && !f.contains("<span>applied</span>"));
    let s = get(port, "/board/postings/1?stale=1", Some(&cookie)).body;
    assert_eq!(cards_in(&s, "applied"), 25);
    assert!(s.contains("and 37 more"), "62 stale applied, 25 shown");
    assert_eq!(s.matches("Waiting too long").count(), 25 + 4);
    // bad filters are named, and change nothing
    let bad = get(port, "/board/postings/1?stage=nope", Some(&cookie));
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("`nope` is not a stage"), "{}", bad.body);
    assert_eq!(
        get(port, "/board/postings/1?stale=yes", Some(&cookie)).status,
        400
    );
    assert_eq!(get(port, "/board/postings/99", Some(&cookie)).status, 404);
    assert_eq!(
        get(port, "/board/applications/abc", Some(&cookie)).status,
        404
    );

    // the charts: images with a title and a description, and the numbers in tables
    assert_eq!(p.matches("role=\"img\"").count(), 3);
    assert_eq!(p.matches("<desc id=").count(), 3);
    assert!(
        p.contains("Of the 2 finished applications"),
        "the funnel's definition"
    );

    // an application: its history, and the next rule that will act on it
    let first_screening = scalar(
        &env,
        "SELECT MIN(id) FROM applications WHERE stage = 'screening'",
    );
    let a = get(
        port,
        &format!("/board/applications/{first_screening}"),
        Some(&cookie),
    )
    .body;
    assert!(
        a.contains("Rule stale-screening reminds the recruiters on"),
        "{a}"
    );
    assert!(a.contains("(due: at the next advance run)"), "{a}");
    assert!(a.contains("cli:seed"));

    // the charts say when they were counted, and catch up with a new move
    // (in the background: the page never waits for them twice)
    assert!(p.contains("were counted from the transition log at"), "{p}");
    env.ok(&[
        "application",
        "move",
        "1",
        "rejected",
        "--reason",
        "no visa",
    ]);
    let started = std::time::Instant::now();
    loop {
        let b = get(port, "/board/postings/1", Some(&cookie)).body;
        if b.contains("Of the 3 finished applications") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "the funnel never counted the new move"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // its year in `applied` is a completed stay now
    let p = get(port, "/board/postings/1", Some(&cookie)).body;
    assert!(
        p.contains("<th scope=\"row\">applied</th><td class=\"num\">365</td><td class=\"num\">365</td><td class=\"num\">1</td>"),
        "{p}"
    );

    // the move's email, dead: counted on the overview, listed in the outbox
    // and on the application with the server's answer
    let emails = scalar(&env, "SELECT COUNT(*) FROM outbox WHERE application_id = 1");
    assert!(emails >= 1, "the rejection queued an email");
    let store = crate::common::block_on(env.store());
    crate::common::block_on(async {
        use sea_orm::ConnectionTrait;
        store
            .conn()
            .execute_unprepared(
                "UPDATE outbox SET status = 'dead', last_error = '550 5.1.1 <p1@example.net>: no such user' \
                 WHERE application_id = 1",
            )
            .await
            .unwrap();
    });
    let o = get(port, "/board", Some(&cookie)).body;
    let dead_href = href_starting(&o, "/board/outbox?status=dead&posting=1");
    assert_eq!(linked_number(&o, &dead_href), emails);
    let outbox = get(port, &dead_href, Some(&cookie)).body;
    assert_eq!(
        outbox.matches("550 5.1.1").count() as i64,
        emails,
        "{outbox}"
    );
    assert!(outbox.contains(&format!("dead ({emails})")), "{outbox}");
    assert!(outbox.contains("sent (0)"), "{outbox}");
    let a1 = get(port, "/board/applications/1", Some(&cookie)).body;
    assert!(
        a1.contains("no such user") && a1.contains("no visa"),
        "{a1}"
    );
    assert!(a1.contains("No rule will act on this application."), "{a1}");
    api.stop();
}

#[test]
fn the_html_report_is_the_posting_page_in_one_file_that_fetches_nothing() {
    let (env, _) = setup("");
    seed_applications(&env, 1, 5, "applied", "2026-01-01T00:00:00Z");
    let html = env.ok(&[
        "report",
        "--format",
        "html",
        "--now",
        "2026-02-01T00:00:00Z",
    ]);
    assert!(html.starts_with("<!doctype html>"));
    assert_eq!(html.matches("role=\"img\"").count(), 3);
    assert!(html.contains("<style>"));
    for outside in [
        "src=",
        "href=\"http",
        "href=\"/",
        "<link",
        "<script",
        "url(http",
    ] {
        assert!(!html.contains(outside), "{outside}");
    }
    // stale as the report counts it: 5 applied for 31 days
    assert!(html.contains("5 (5 stale)"), "{html}");
    assert!(html.contains("Generated at 2026-02-01"));
}

#[test]
fn the_biggest_postings_chart_figures_are_counted_ahead() {
    let (env, port) = setup("");
    // posting 1 is big enough to be counted ahead; posting 2 is not
    env.add_posting(2, "Baker");
    seed_applications(
        &env,
        1,
        atsd::recruiter_board::figures::WARM_MIN as usize,
        "rejected",
        "2026-01-01T00:00:00Z",
    );
    seed_applications(&env, 2, 10, "applied", "2026-01-01T00:00:00Z");
    let api = Api::start_with(&env, port, &[("ATSD_LOG", "atsd=debug")]);
    let started = std::time::Instant::now();
    while !api.log().contains("counted the chart figures ahead") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "nothing counted ahead:\n{}",
            api.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = api.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("counted the chart figures ahead"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("posting=1"), "{}", lines[0]);
    // the first view shows them: counted before anyone asked
    let read = token(&env, "board", "read");
    let cookie = session(port, &read);
    let p = get(port, "/board/postings/1", Some(&cookie)).body;
    assert!(
        p.contains(&format!(
            "Of the {} finished applications",
            atsd::recruiter_board::figures::WARM_MIN
        )),
        "{p}"
    );
    api.stop();
}
