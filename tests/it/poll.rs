//! The poller against a local job board: confirmed closing, conditional
//! requests, transient failures, board grouping, SSRF refusals.

use crate::common::Env;
use crate::job_board::{Board, GH_404, Reply, gh_job, gh_list};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

fn t(min: i64) -> String {
    (DateTime::parse_from_rfc3339("2026-11-25T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::minutes(min))
    .to_rfc3339()
}

fn env_for(board: &Board, extra: &str) -> Env {
    Env::with_config(&format!(
        "[poll]\nallow_private_addresses = true\ntimeout = \"1s\"\nconfirm_interval = \"10m\"\n{extra}\n\
         [poll.sources.greenhouse]\napi_base = \"{b}\"\n[poll.sources.lever]\napi_base = \"{b}\"\n[poll.sources.ashby]\napi_base = \"{b}\"\n",
        b = board.base()
    ))
}

fn poll(env: &Env, min: i64, ids: &[&str]) -> Value {
    let now = t(min);
    let mut args = vec!["--now", now.as_str(), "posting", "poll"];
    args.extend_from_slice(ids);
    env.json(&args)
}

fn outcome(v: &Value, i: usize) -> String {
    v["outcomes"][i]["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn show(env: &Env, id: &str) -> Value {
    env.json(&["posting", "show", id])
}

fn add(env: &Env, url: &str) -> String {
    env.ok(&["--now", &t(0), "posting", "add", url])
        .trim()
        .to_string()
}

#[test]
fn open_with_etag_then_304() {
    let board = Board::start();
    board.route(
        "/v1/boards/acme/jobs/1",
        vec![Reply::Etag {
            etag: "\"abc\"".into(),
            body: gh_job(1, "Welder"),
        }],
    );
    let env = env_for(&board, "");
    add(&env, "https://boards.greenhouse.io/acme/jobs/1");
    let v = poll(&env, 0, &["1"]);
    assert_eq!(outcome(&v, 0), "open");
    let p = show(&env, "1");
    assert_eq!(p["posting"]["status"], "open");
    assert_eq!(
        p["posting"]["title"], "Welder",
        "title learned from the board"
    );
    assert_eq!(p["posting"]["etag"], "\"abc\"");
    let v = poll(&env, 20, &["1"]);
    assert_eq!(outcome(&v, 0), "unchanged (304)");
    let reqs = board.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].header("If-None-Match"),
        None,
        "no validators before we have any"
    );
    assert_eq!(reqs[1].header("If-None-Match"), Some("\"abc\""));
    assert!(reqs[1].header("If-Modified-Since").is_some());
    assert!(reqs[0].header("User-Agent").unwrap().starts_with("atsd/"));
}

#[test]
fn two_404_far_enough_apart_close_exactly_once() {
    let board = Board::start();
    board.route(
        "/v1/boards/acme/jobs/1",
        vec![
            Reply::json(200, &gh_job(1, "Welder")),
            Reply::json(404, GH_404),
        ],
    );
    board.route(
        "/v1/boards/acme/jobs",
        vec![Reply::json(200, &gh_list(&[2]))],
    );
    let env = env_for(&board, "");
    add(&env, "https://boards.greenhouse.io/acme/jobs/1");
    assert_eq!(outcome(&poll(&env, 0, &["1"]), 0), "open");
    assert_eq!(
        outcome(&poll(&env, 10, &["1"]), 0),
        "not found 1/2 (404, board answers)"
    );
    let v = poll(&env, 20, &["1"]);
    assert_eq!(outcome(&v, 0), "closed");
    assert_eq!(
        v["closed"][0]["posting_id"], 1,
        "posting_closed event emitted"
    );
    let v = poll(&env, 40, &["1"]);
    assert!(
        v["closed"].as_array().unwrap().is_empty(),
        "closing is reported once"
    );
    let p = show(&env, "1");
    assert_eq!(p["posting"]["status"], "closed");
    let closes = p["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == "status" && h["new_value"] == "closed")
        .count();
    assert_eq!(closes, 1);
}

#[test]
fn a_close_tells_its_postings_recruiter_and_coordinator_each_in_their_language_once() {
    let board = Board::start();
    for job in [1, 2] {
        board.route(
            &format!("/v1/boards/acme/jobs/{job}"),
            vec![
                Reply::json(200, &gh_job(job, "Welder")),
                Reply::json(404, GH_404),
            ],
        );
    }
    board.route(
        "/v1/boards/acme/jobs",
        vec![Reply::json(200, &gh_list(&[3]))],
    );
    let env = env_for(
        &board,
        "[recruiters]\nemails = [\"fallback@example.org\"]\n",
    );
    for job in [1, 2] {
        let url = format!("https://boards.greenhouse.io/acme/jobs/{job}");
        env.ok(&["--now", &t(0), "posting", "add", &url, "--title", "Welder"]);
    }
    for (email, name, locale) in [
        ("ada@example.org", "Ada", "de"),
        ("ben@example.org", "Ben", "en"),
        ("cara@example.org", "Cara", "es"),
    ] {
        env.ok(&[
            "person",
            "add",
            email,
            "--name",
            name,
            "--locale",
            locale,
            "--timezone",
            "Europe/Berlin",
        ]);
    }
    env.ok(&[
        "posting",
        "assign",
        "1",
        "--recruiter",
        "ada@example.org",
        "--coordinator",
        "ben@example.org",
        "--hiring-manager",
        "cara@example.org",
    ]);
    for (posting, n) in [("1", 1), ("1", 2), ("2", 3)] {
        env.ok(&[
            "--now",
            &t(1),
            "apply",
            posting,
            "--name",
            &format!("Cand {n}"),
            "--email",
            &format!("c{n}@example.net"),
            "--no-email",
        ]);
    }
    // the polls that confirm the close (however many the board needs)
    let (mut closed, mut told) = (0, 0);
    for min in [0, 10, 20] {
        let v = poll(&env, min, &["1", "2"]);
        closed += v["closed"].as_array().map(Vec::len).unwrap_or(0);
        told += v["notices"].as_u64().unwrap_or(0);
    }
    assert_eq!((closed, told), (2, 2));
    let notices = crate::daemon::rows(
        &env,
        "SELECT o.recipient, o.locale, b.subject, b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
         WHERE o.template = 'recruiter_posting_closed' ORDER BY o.recipient",
    );
    assert_eq!(notices.len(), 2, "{notices:?}");
    // the recruiter in German, the coordinator in English; not the hiring
    // manager, and nobody for the posting without a team (as before teams)
    assert_eq!(notices[0][0], "ada@example.org");
    assert_eq!(notices[0][1], "de");
    assert_eq!(notices[0][2], "Auf der Jobbörse geschlossen: Welder");
    assert!(
        notices[0][3].contains("2 Bewerbungen sind noch in einer aktiven Phase"),
        "{}",
        notices[0][3]
    );
    assert!(
        notices[0][3].contains("25. November 2026"),
        "{}",
        notices[0][3]
    );
    assert_eq!(notices[1][0], "ben@example.org");
    assert_eq!(notices[1][2], "Closed on its job board: Welder");
    assert!(
        notices[1][3].contains("2 applications are still in an active stage"),
        "{}",
        notices[1][3]
    );
    // once: a later poll of the closed postings queues nothing more
    let v = poll(&env, 1500, &["1", "2"]);
    assert!(v.get("notices").is_none_or(|n| n == 0), "{v}");
    assert_eq!(
        crate::common::scalar(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE template = 'recruiter_posting_closed'"
        ),
        2
    );
}

#[test]
fn a_404_then_200_stays_open_and_410s_close() {
    let board = Board::start();
    board.route(
        "/v1/boards/acme/jobs/1",
        vec![
            Reply::json(404, GH_404),
            Reply::json(200, &gh_job(1, "Welder")),
            Reply::json(404, GH_404),
        ],
    );
    board.route("/v1/boards/acme/jobs/2", vec![Reply::json(410, GH_404)]);
    board.route(
        "/v1/boards/acme/jobs",
        vec![Reply::json(200, &gh_list(&[3]))],
    );
    let env = env_for(&board, "");
    add(&env, "https://boards.greenhouse.io/acme/jobs/1");
    add(&env, "https://boards.greenhouse.io/acme/jobs/2");
    // flapping: 404, 200, 404 never closes
    assert!(outcome(&poll(&env, 0, &["1"]), 0).starts_with("not found 1/2"));
    assert_eq!(outcome(&poll(&env, 10, &["1"]), 0), "open");
    assert!(outcome(&poll(&env, 20, &["1"]), 0).starts_with("not found 1/2"));
    assert_eq!(show(&env, "1")["posting"]["status"], "open");
    // 410, 410 at least the interval apart closes
    assert!(outcome(&poll(&env, 0, &["2"]), 0).starts_with("not found 1/2 (410"));
    assert_eq!(outcome(&poll(&env, 10, &["2"]), 0), "closed");
}

#[test]
fn two_404_too_close_together_stay_open() {
    let board = Board::start();
    board.route("/v1/boards/acme/jobs/1", vec![Reply::json(404, GH_404)]);
    board.route(
        "/v1/boards/acme/jobs",
        vec![Reply::json(200, &gh_list(&[]))],
    );
    let env = env_for(&board, "");
    add(&env, "https://boards.greenhouse.io/acme/jobs/1");
    poll(&env, 0, &["1"]);
    let v = poll(&env, 5, &["1"]);
    assert!(outcome(&v, 0).contains("too soon to confirm"), "{v}");
    let p = show(&env, "1");
    assert_ne!(p["posting"]["status"], "closed");
    assert_eq!(p["posting"]["consecutive_not_found"], 1);
    // due again only once the interval has passed
    assert!(
        p["posting"]["next_poll_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-25T09:10:00")
    );
}

#[test]
fn transient_failures_never_change_status_and_back_off() {
    let board = Board::start();
    let job = gh_job(1, "Welder");
    let half = job[..job.len() / 2].to_string();
    board.route(
        "/v1/boards/acme/jobs/1",
        vec![
            Reply::json(200, &job),
            Reply::Delay(
                std::time::Duration::from_secs(3),
                Box::new(Reply::json(200, &job)),
            ),
            Reply::Reset,
            Reply::json(500, "oops"),
            Reply::html(503, "<html>down</html>").with("Retry-After", "7200"),
            Reply::json(429, "{}").with("Retry-After", "7"),
            Reply::Truncated {
                claimed: job.len(),
                body: half.clone().into_bytes(),
            },
            Reply::json(200, &half),
            Reply::html(200, "<html>maintenance</html>"),
            Reply::Endless(8 * 1024 * 1024),
            Reply::redirect("/v1/boards/acme/jobs/1"),
        ],
    );
    let env = env_for(&board, "max_body = \"1MiB\"");
    add(&env, "https://boards.greenhouse.io/acme/jobs/1");
    assert_eq!(outcome(&poll(&env, 0, &["1"]), 0), "open");
    let mut last_wait = 0;
    let expected = [
        "timed out",
        "connection",
        "HTTP 500",
        "HTTP 503",
        "HTTP 429",
        "",
        "malformed JSON",
        "text/html",
        "larger than",
        "too many redirects",
    ];
    for (i, what) in expected.iter().enumerate() {
        let at = 10 * (i as i64 + 1);
        let v = poll(&env, at, &["1"]);
        let o = outcome(&v, 0);
        assert!(o.starts_with("error: "), "step {i}: {o}");
        assert!(o.contains(what), "step {i}: expected {what:?} in {o}");
        let p = show(&env, "1")["posting"].clone();
        assert_eq!(p["status"], "open", "step {i}: status unchanged");
        assert_eq!(p["consecutive_errors"], i as i64 + 1);
        let next = DateTime::parse_from_rfc3339(p["next_poll_at"].as_str().unwrap()).unwrap();
        let now = DateTime::parse_from_rfc3339(&t(at)).unwrap();
        let wait = (next - now).num_seconds();
        if *what == "HTTP 503" {
            assert!(wait >= 7200, "Retry-After honoured: {wait}");
        } else if i > 0 && expected[i - 1] != "HTTP 503" {
            assert!(
                wait > last_wait,
                "step {i}: backoff grows ({last_wait} -> {wait})"
            );
        }
        last_wait = wait;
    }
    // the redirect loop stopped at the cap
    assert!(
        board.hits("/v1/boards/acme/jobs/1") <= 1 + 10 + 7,
        "{}",
        board.hits("/v1/boards/acme/jobs/1")
    );
    // and none of it closed the posting or touched its history
    let p = show(&env, "1");
    assert_eq!(
        p["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["field"] == "status")
            .count(),
        2,
        "created, then open"
    );
}

#[test]
fn a_gone_board_flags_its_postings_and_closes_nothing() {
    let board = Board::start();
    board.route("/v1/boards/acme/jobs/1", vec![Reply::json(404, GH_404)]);
    board.route("/v1/boards/acme/jobs", vec![Reply::json(404, GH_404)]);
    let env = env_for(&board, "");
    add(&env, "https://boards.greenhouse.io/acme/jobs/1");
    for m in [0, 30, 60, 90] {
        let v = poll(&env, m, &["1"]);
        assert!(outcome(&v, 0).starts_with("board missing"), "{v}");
    }
    let p = show(&env, "1");
    assert_eq!(p["posting"]["board_missing"], true);
    assert_ne!(p["posting"]["status"], "closed");
    let list = env.ok(&["posting", "list"]);
    assert!(list.contains("(board missing)"), "{list}");
}

#[test]
fn postings_of_one_board_share_one_list_request() {
    let board = Board::start();
    board.route(
        "/v1/boards/acme/jobs",
        vec![Reply::json(200, &gh_list(&[1, 2, 3]))],
    );
    let env = env_for(&board, "");
    for id in 1..=4 {
        add(
            &env,
            &format!("https://boards.greenhouse.io/acme/jobs/{id}"),
        );
    }
    let v = poll(&env, 0, &[]);
    assert_eq!(v["requests"], 1, "{v}");
    assert_eq!(board.hits("/v1/boards/acme/jobs"), 1);
    let by_id = |id: i64| {
        v["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(by_id(1), "open");
    assert_eq!(by_id(4), "not found 1/2 (absent from the board list)");
    // nothing is due a minute later; the open ones are due at the next `poll`
    // occurrence (*/15), the missing one once the confirm interval has passed
    let v = poll(&env, 1, &[]);
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 0);
    let v = poll(&env, 10, &[]);
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 1);
    assert_eq!(outcome(&v, 0), "closed");
    let v = poll(&env, 15, &[]);
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 3);
    assert_eq!(v["requests"], 1);
}

#[test]
fn lever_and_ashby_answers() {
    let board = Board::start();
    let lever_id = "11111111-2222-3333-4444-555555555555";
    board.route(
        &format!("/v0/postings/acme/{lever_id}"),
        vec![Reply::json(
            404,
            r#"{"ok":false,"error":"Document not found"}"#,
        )],
    );
    board.route("/v0/postings/acme", vec![Reply::json(200, "[]")]);
    board.route(
        "/posting-api/job-board/acme",
        vec![Reply::json(200, r#"{"apiVersion":"1","jobs":[{"id":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","title":"Chef","isListed":false,"isRemote":null}]}"#)],
    );
    board.route(
        "/posting-api/job-board/gone",
        vec![Reply::html(404, "Not Found")],
    );
    let env = env_for(&board, "");
    add(&env, &format!("https://jobs.lever.co/acme/{lever_id}"));
    add(
        &env,
        "https://jobs.ashbyhq.com/acme/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    );
    add(
        &env,
        "https://jobs.ashbyhq.com/acme/ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee",
    );
    add(
        &env,
        "https://jobs.ashbyhq.com/gone/ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee",
    );
    let v = poll(&env, 0, &[]);
    let by_id = |id: i64| {
        v["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap()["outcome"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(by_id(1).starts_with("not found 1/2"), "{}", by_id(1));
    assert_eq!(by_id(2), "open");
    assert_eq!(show(&env, "2")["posting"]["title"], "Chef");
    assert!(
        by_id(3).starts_with("not found 1/2 (absent"),
        "{}",
        by_id(3)
    );
    assert!(by_id(4).starts_with("board missing"), "{}", by_id(4));
}

#[test]
fn a_page_redirecting_to_a_careers_site_is_not_closed() {
    let board = Board::start();
    board.route(
        "/jobs/7",
        vec![Reply::redirect("https://careers.example.com/jobs?gh_jid=7")],
    );
    board.route("/jobs/8", vec![Reply::html(404, "gone")]);
    let env = env_for(&board, "");
    add(&env, &format!("{}/jobs/7", board.base()));
    add(&env, &format!("{}/jobs/8", board.base()));
    for m in [0, 10, 20] {
        poll(&env, m, &["1", "2"]);
    }
    assert_eq!(show(&env, "1")["posting"]["status"], "open");
    assert_eq!(show(&env, "2")["posting"]["status"], "closed");
    assert_eq!(
        board.hits("/jobs/7"),
        3,
        "the redirect was not followed off the machine"
    );
}

#[test]
fn private_addresses_are_refused_in_every_spelling() {
    let board = Board::start();
    board.route("/x", vec![Reply::html(200, "hello")]);
    let env = Env::with_config("[poll]\ntimeout = \"1s\"\n");
    let port = board.addr.port();
    for u in [
        format!("http://127.0.0.1:{port}/x"),
        format!("http://2130706433:{port}/x2"),
        format!("http://0x7f.1:{port}/x3"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
        format!("http://localhost.:{port}/x"),
        format!("http://localhost:{port}/x"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        add(&env, &u);
    }
    // the url crate normalises the spellings: they are all 127.0.0.1
    assert!(
        show(&env, "2")["posting"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let v = poll(&env, 0, &[]);
    let outcomes = v["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 7);
    for o in outcomes {
        let s = o["outcome"].as_str().unwrap();
        assert!(
            s.starts_with("error: refused") && s.contains("address"),
            "{o}"
        );
        assert_eq!(o["status"], "unknown");
    }
    assert!(
        board.requests().is_empty(),
        "no request reached the server: {:?}",
        board.requests()
    );
}

#[test]
fn a_redirect_to_a_refused_address_is_not_followed() {
    let board = Board::start();
    let other = Board::start();
    other.route(
        "/v1/boards/acme/jobs/1",
        vec![Reply::json(200, &gh_job(1, "Welder"))],
    );
    board.route(
        "/v1/boards/acme/jobs/1",
        vec![Reply::redirect(&format!(
            "{}/v1/boards/acme/jobs/1",
            other.base()
        ))],
    );
    let env = Env::with_config(&format!(
        "[poll]\ntimeout = \"1s\"\nallow_addresses = [\"{}\"]\n[poll.sources.greenhouse]\napi_base = \"{}\"\n",
        board.addr,
        board.base()
    ));
    add(&env, "https://boards.greenhouse.io/acme/jobs/1");
    let v = poll(&env, 0, &["1"]);
    let o = outcome(&v, 0);
    assert!(o.contains("refused") && o.contains("redirect"), "{o}");
    assert_eq!(board.hits("/v1/boards/acme/jobs/1"), 1);
    assert!(
        other.requests().is_empty(),
        "the refused hop was never contacted"
    );
}

/// A confirmed close cascades through the rules: each active application of
/// the posting is rejected exactly once, with one email each, in the tick
/// that confirms it; a transient failure before that moves nobody.
#[test]
fn a_close_confirmed_by_polls_rejects_active_applications_once() {
    let board = Board::start();
    board.route(
        "/v1/boards/acme/jobs/1",
        vec![
            Reply::json(200, &gh_job(1, "Welder")),
            Reply::json(500, "oops"),
            Reply::json(404, GH_404),
            Reply::json(404, GH_404),
        ],
    );
    board.route(
        "/v1/boards/acme/jobs",
        vec![Reply::json(200, &gh_list(&[2]))],
    );
    let env = env_for(
        &board,
        "[[rules]]\nname = \"closed\"\non = \"posting_closed\"\nmove_to = \"rejected\"\nreason = \"posting_closed\"\nemail = \"posting_closed\"\n",
    );
    add(&env, "https://boards.greenhouse.io/acme/jobs/1");
    for (i, who) in ["ada", "bo", "cy"].iter().enumerate() {
        env.ok(&[
            "--now",
            &t(i as i64),
            "apply",
            "1",
            "--name",
            who,
            "--email",
            &format!("{who}@example.net"),
        ]);
    }
    env.ok(&["--now", &t(5), "application", "move", "3", "withdrawn"]);
    let tick = |min: i64| env.json(&["--now", &t(min), "tick", "poll", "advance"]);
    let v = tick(15);
    assert_eq!(v["poll"]["closed"], 0, "{v}");
    let v = tick(30);
    assert_eq!(v["poll"]["errors"], 1, "{v}");
    assert_eq!(v["advance"]["moved"], 0, "a 500 moves nobody: {v}");
    let v = tick(45);
    assert_eq!(
        (v["poll"]["closed"].as_u64(), v["advance"]["moved"].as_u64()),
        (Some(0), Some(0)),
        "one 404 is not a close: {v}"
    );
    let v = tick(60);
    assert_eq!(v["poll"]["closed"], 1, "{v}");
    assert_eq!(v["advance"]["moved"], 2, "{v}");
    assert_eq!(v["advance"]["by_rule"]["closed"], 2, "{v}");
    let v = tick(75);
    assert_eq!(v["advance"]["moved"], 0, "{v}");
    let mails = env.json(&["mail", "list"]);
    let closed: Vec<&Value> = mails
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["template"] == "posting_closed")
        .collect();
    assert_eq!(closed.len(), 2);
    assert!(closed.iter().all(|m| m["recipient"] != "cy@example.net"));
    for id in ["1", "2"] {
        let a = env.json(&["application", "show", id]);
        assert_eq!(a["application"]["stage"], "rejected");
        let rejections = a["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["reason"] == "posting_closed" && t["actor"] == "rule:closed")
            .count();
        assert_eq!(rejections, 1);
    }
    assert_eq!(
        env.json(&["application", "show", "3"])["application"]["stage"],
        "withdrawn"
    );
}
