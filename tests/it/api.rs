//! The HTTP API over loopback with the real daemon: tokens and scopes,
//! intake with its errors and idempotency, listing with a cursor, moves with
//! their conflicts, postings and the report.

use crate::common::{Answer, Env, count_sync, http};
use crate::daemon::{term, wait_exit};
use crate::smtp::free_port;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    http(port, method, path, &headers, body.as_bytes()).expect("the API listens")
}

pub(crate) struct Api {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Api {
    pub(crate) fn start(env: &Env, port: u16) -> Api {
        Api::start_with(env, port, &[])
    }

    /// `atsd run` with these environment variables besides.
    pub(crate) fn start_with(env: &Env, port: u16, vars: &[(&str, &str)]) -> Api {
        let log = env.path("api-daemon.log");
        let child = env
            .std_cmd()
            .envs(vars.iter().copied())
            .arg("run")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the API did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // the listener is bound before the loop sets the configuration
        std::thread::sleep(Duration::from_millis(300));
        Api { child, log }
    }

    /// What the daemon logged so far.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn stop(mut self) -> String {
        term(&self.child);
        let (code, _) = wait_exit(&mut self.child, Duration::from_secs(15));
        assert_eq!(code, Some(0));
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn setup() -> (Env, u16) {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\nrate_limit = 1000\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n"
    ));
    env.add_posting(1, "Cook");
    (env, port)
}

fn token(env: &Env, name: &str, scope: &str) -> String {
    env.token(name, scope)
}

fn problem(a: &Answer, status: u16) -> Value {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(
        a.headers.contains("content-type: application/problem+json"),
        "{}",
        a.headers
    );
    let v = a.json();
    assert_eq!(v["status"], status, "{v}");
    v
}

#[test]
fn tokens_scopes_intake_moves_lists_and_the_report() {
    let (env, port) = setup();
    let intake = token(&env, "careers-page", "intake");
    let recruiter = token(&env, "ats-admin", "recruiter");
    let read = token(&env, "warehouse", "read");
    assert!(intake.starts_with("atsd_") && intake.len() == 69);
    // listed without the secrets
    let listed = env.ok(&["token", "list"]);
    assert!(listed.contains("careers-page") && !listed.contains(&intake));
    let api = Api::start(&env, port);
    let app = |t: Option<&str>, body: Value| {
        request(port, "POST", "/v1/applications", t, &[], Some(&body))
    };
    let ada =
        json!({"posting": 1, "name": "Ada Lovelace", "email": "ada@example.org", "locale": "en"});

    // no token, a wrong one, the wrong scope: nothing said about which
    let v = problem(&app(None, ada.clone()), 401);
    assert!(v["detail"].as_str().unwrap().contains("Bearer"));
    problem(&app(Some("atsd_0000"), ada.clone()), 401);
    problem(&app(Some(&format!("{intake}x")), ada.clone()), 401);
    problem(&app(Some(&read), ada.clone()), 403);
    problem(
        &request(port, "GET", "/v1/applications", Some(&intake), &[], None),
        403,
    );
    assert_eq!(count_sync(&env, "applications"), 0);

    // intake: 201, then 409 for the same person and posting
    let a = app(Some(&intake), ada.clone());
    assert_eq!(a.status, 201, "{}", a.body);
    let created = a.json();
    let id = created["application"]["id"].as_i64().unwrap();
    assert_eq!(created["application"]["stage"], "applied");
    assert_eq!(created["emails"][0]["template"], "application_received");
    problem(&app(Some(&intake), ada.clone()), 409);
    // bad fields are named; an unknown posting is 404
    let v = problem(
        &app(
            Some(&intake),
            json!({"posting": 1, "name": "Eve\r\nBcc: x@y", "email": "a@b.org>"}),
        ),
        422,
    );
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"name") && fields.contains(&"email"), "{v}");
    problem(
        &app(
            Some(&intake),
            json!({"posting": 99, "name": "Bo", "email": "bo@example.org"}),
        ),
        404,
    );
    problem(
        &app(Some(&intake), json!({"posting": 1, "name": "Bo"})),
        422,
    );
    problem(
        &app(
            Some(&intake),
            json!({"posting": 1, "name": "Bo", "email": "bo@example.org", "extra": 1}),
        ),
        422,
    );
    assert_eq!(count_sync(&env, "applications"), 1);

    // moves: recruiter only; a stale version is 409, a forbidden move 422
    let mv = |t: &str, body: Value| {
        request(
            port,
            "POST",
            &format!("/v1/applications/{id}/moves"),
            Some(t),
            &[],
            Some(&body),
        )
    };
    problem(&mv(&read, json!({"to": "screening"})), 403);
    let m = mv(
        &recruiter,
        json!({"to": "screening", "reason": "good CV", "expected_version": 1}),
    );
    assert_eq!(m.status, 201, "{}", m.body);
    assert_eq!(m.json()["application"]["version"], 2);
    assert_eq!(m.json()["transition"]["actor"], "api:ats-admin");
    problem(
        &mv(
            &recruiter,
            json!({"to": "interview", "expected_version": 1}),
        ),
        409,
    );
    problem(&mv(&recruiter, json!({"to": "hired"})), 422);
    problem(
        &request(
            port,
            "POST",
            "/v1/applications/999/moves",
            Some(&recruiter),
            &[],
            Some(&json!({"to": "screening"})),
        ),
        404,
    );

    // the application with its history
    let d = request(
        port,
        "GET",
        &format!("/v1/applications/{id}"),
        Some(&read),
        &[],
        None,
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let d = d.json();
    assert_eq!(d["transitions"].as_array().unwrap().len(), 2, "{d}");
    assert_eq!(d["candidate"]["email"], "ada@example.org");

    // a list in pages of two, each application once
    for i in 0..4 {
        let a = app(
            Some(&intake),
            json!({"posting": "https://boards.greenhouse.io/acme/jobs/1", "name": "P", "email": format!("p{i}@example.org")}),
        );
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/applications?limit=2".to_string();
    loop {
        let page = request(port, "GET", &path, Some(&read), &[], None);
        assert_eq!(page.status, 200, "{}", page.body);
        let v = page.json();
        for item in v["items"].as_array().unwrap() {
            seen.push(item["id"].as_i64().unwrap());
        }
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/applications?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    let screening = request(
        port,
        "GET",
        "/v1/applications?stage=screening",
        Some(&read),
        &[],
        None,
    )
    .json();
    assert_eq!(screening["items"].as_array().unwrap().len(), 1);
    problem(
        &request(
            port,
            "GET",
            "/v1/applications?cursor=zz",
            Some(&read),
            &[],
            None,
        ),
        422,
    );
    problem(
        &request(
            port,
            "GET",
            "/v1/applications?limit=1000",
            Some(&read),
            &[],
            None,
        ),
        422,
    );

    // postings and the report
    let p = request(
        port,
        "POST",
        "/v1/postings",
        Some(&recruiter),
        &[],
        Some(
            &json!({"url": "https://jobs.lever.co/acme/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "title": "Baker"}),
        ),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let again = request(
        port,
        "POST",
        "/v1/postings",
        Some(&recruiter),
        &[],
        Some(&json!({"url": "https://jobs.lever.co/acme/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"})),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    problem(
        &request(
            port,
            "POST",
            "/v1/postings",
            Some(&recruiter),
            &[],
            Some(&json!({"url": "ftp://x"})),
        ),
        422,
    );
    problem(
        &request(
            port,
            "POST",
            "/v1/postings",
            Some(&intake),
            &[],
            Some(&json!({"url": "https://example.org/j"})),
        ),
        403,
    );
    let list = request(port, "GET", "/v1/postings", Some(&read), &[], None).json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let r = request(port, "GET", "/v1/report", Some(&read), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["postings"][0]["applications"], 5);
    problem(
        &request(port, "GET", "/v1/nothing", Some(&read), &[], None),
        404,
    );

    // a revoked token stops working at once
    env.ok(&["token", "revoke", "warehouse"]);
    problem(
        &request(port, "GET", "/v1/postings", Some(&read), &[], None),
        401,
    );
    let log = api.stop();
    for secret in [&intake, &recruiter, &read] {
        assert!(!log.contains(secret.as_str()), "a token in the log");
    }
    let tokens: Value = env.json(&["token", "list"]);
    assert!(tokens[0]["last_used_at"].is_string(), "{tokens}");
    assert!(tokens[2]["revoked_at"].is_string(), "{tokens}");
}

#[test]
fn an_idempotent_intake_retried_100_times_at_once_makes_one_application() {
    let (env, port) = setup();
    let intake = token(&env, "careers-page", "intake");
    let api = Api::start(&env, port);
    let body = json!({"posting": 1, "name": "Grace Hopper", "email": "grace@example.org"});
    let key = [("Idempotency-Key", "form-7f3a")];
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                s.spawn(|| {
                    request(
                        port,
                        "POST",
                        "/v1/applications",
                        Some(&intake),
                        &key,
                        Some(&body),
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: std::collections::BTreeSet<i64> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 201, "{}", a.body);
            a.json()["application"]["id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every retry got the first answer");
    assert_eq!(count_sync(&env, "applications"), 1);
    assert_eq!(count_sync(&env, "outbox"), 1, "one email");
    // the same key for another request is refused
    let other = json!({"posting": 1, "name": "Grace Hopper", "email": "g2@example.org"});
    problem(
        &request(
            port,
            "POST",
            "/v1/applications",
            Some(&intake),
            &key,
            Some(&other),
        ),
        422,
    );
    api.stop();
    // the key and the answer kept with it (her name, her address) are
    // forgotten after [retention] idempotency_after, a day
    let at = |hours: i64| (crate::clock::now() + chrono::Duration::hours(hours)).to_rfc3339();
    env.ok(&["--now", &at(12), "tick", "retention"]);
    assert_eq!(count_sync(&env, "idempotency_keys"), 1, "kept for a day");
    // (more than a day later: a later occurrence of the daily job)
    let out = env.ok(&["--now", &at(40), "tick", "retention"]);
    assert!(out.contains("1 old idempotency key(s) removed"), "{out}");
    assert_eq!(count_sync(&env, "idempotency_keys"), 0);
}

/// A loopback stand-in for Greenhouse's board API that answers 404 to
/// everything and counts the requests.
fn gone_board() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let Ok(c) = s.try_clone() else { continue };
            let mut r = std::io::BufReader::new(c);
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).map(|n| n == 0).unwrap_or(true) || l == "\r\n" {
                    break;
                }
            }
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = r#"{"status":404,"error":"Job not found"}"#;
            let _ = write!(
                s,
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, hits)
}

fn sign(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256 {hex}")
}

fn deliver(port: u16, body: &[u8], signature: &str, event: &str) -> Answer {
    http(
        port,
        "POST",
        "/v1/webhooks/greenhouse",
        &[
            ("Content-Type", "application/json"),
            ("Signature", signature),
            ("Greenhouse-Event-ID", event),
        ],
        body,
    )
    .expect("the API listens")
}

/// Greenhouse webhooks: a valid one starts one confirming poll (which does
/// not close the posting by itself); a forged one, one with its body changed
/// by a byte, and a replay of the valid one do nothing; the ping gets 200.
#[test]
fn greenhouse_webhooks_act_once_and_only_when_signed() {
    let (board, hits) = gone_board();
    let port = free_port();
    let secret = "whsec-greenhouse-7c1";
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[webhooks.greenhouse]\nsecret_file = \"gh-secret\"\n\
         [poll]\nallow_addresses = [\"127.0.0.1:{board}\"]\n[poll.sources.greenhouse]\napi_base = \"http://127.0.0.1:{board}\"\n\
         [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n"
    ));
    env.write("gh-secret", &format!("{secret}\n"));
    env.ok(&[
        "posting",
        "add",
        "https://boards.greenhouse.io/acme/jobs/127817",
    ]);
    let api = Api::start(&env, port);
    // the daemon's catch-up poll at start, then quiet
    let t = Instant::now();
    let mut seen = usize::MAX;
    while t.elapsed() < Duration::from_secs(10) {
        let h = hits.load(std::sync::atomic::Ordering::SeqCst);
        if h == seen {
            break;
        }
        seen = h;
        std::thread::sleep(Duration::from_millis(700));
    }
    let base = seen;
    let hits_now = || hits.load(std::sync::atomic::Ordering::SeqCst) - base;
    let ping = br#"{"action":"ping","payload":{"web_hook_id":1}}"#;
    assert_eq!(deliver(port, ping, &sign(secret, ping), "e0").status, 200);

    let body = br#"{"action":"job_post_updated","payload":{"job_post":{"id":127817,"live":false,"title":"Cook"}}}"#.to_vec();
    let good = sign(secret, &body);
    // forged, and altered by one byte: refused before anything is read
    problem(&deliver(port, &body, &sign("guess", &body), "e1"), 401);
    let mut altered = body.clone();
    altered[60] ^= 1;
    problem(&deliver(port, &altered, &good, "e1"), 401);
    problem(&deliver(port, &body, "", "e1"), 401);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hits_now(), 0, "nothing polled for a bad delivery");

    let a = deliver(port, &body, &good, "e1");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["polling"], json!([1]));
    let t = Instant::now();
    while hits_now() == 0 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // one confirming poll (the board's list, then the job itself)
    std::thread::sleep(Duration::from_millis(700));
    let polled = hits_now();
    assert!(polled >= 1);
    // the replay is answered and ignored
    let again = deliver(port, &body, &good, "e1");
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["duplicate"], true);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(hits_now(), polled, "a replay polls nothing");
    api.stop();
    // one "not found" is not a close
    let p = env.json(&["posting", "show", "1"]);
    assert_ne!(p["posting"]["status"], "closed", "{p}");
}

/// Past `[http] rate_limit` requests a second a token gets 429 with
/// `Retry-After`; another token is not held up by it.
#[test]
fn a_token_over_its_rate_gets_429_with_retry_after() {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\nrate_limit = 5\n[schedule]\npoll = \"0 0 1 1 *\"\n"
    ));
    let busy = token(&env, "busy", "read");
    let calm = token(&env, "calm", "read");
    let api = Api::start(&env, port);
    let statuses: Vec<Answer> = (0..12)
        .map(|_| request(port, "GET", "/v1/postings", Some(&busy), &[], None))
        .collect();
    let limited: Vec<&Answer> = statuses.iter().filter(|a| a.status == 429).collect();
    assert!(!limited.is_empty(), "no 429 in 12 requests at once");
    assert!(statuses.iter().take(5).all(|a| a.status == 200));
    assert!(
        limited[0].headers.contains("retry-after: 1"),
        "{}",
        limited[0].headers
    );
    problem(limited[0], 429);
    assert_eq!(
        request(port, "GET", "/v1/postings", Some(&calm), &[], None).status,
        200
    );
    api.stop();
}

/// CORS is off unless `[http] cors_origins` names the page's origin.
#[test]
fn cors_answers_only_the_configured_origins() {
    let (env, port) = setup();
    let read = token(&env, "warehouse", "read");
    let preflight = |origin: &str| {
        request(
            port,
            "OPTIONS",
            "/v1/postings",
            None,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "authorization"),
            ],
            None,
        )
    };
    let api = Api::start(&env, port);
    let a = preflight("https://careers.example.org");
    assert!(
        !a.headers.contains("access-control-allow-origin"),
        "{}",
        a.headers
    );
    let g = request(
        port,
        "GET",
        "/v1/postings",
        Some(&read),
        &[("Origin", "https://careers.example.org")],
        None,
    );
    assert_eq!(g.status, 200);
    assert!(
        !g.headers.contains("access-control-allow-origin"),
        "{}",
        g.headers
    );
    api.stop();

    // configured: that origin, and only it
    let config = std::fs::read_to_string(&env.config).unwrap().replace(
        "rate_limit = 1000\n",
        "rate_limit = 1000\ncors_origins = [\"https://careers.example.org\"]\n",
    );
    std::fs::write(&env.config, config).unwrap();
    let api = Api::start(&env, port);
    let a = preflight("https://careers.example.org");
    assert!(
        a.headers
            .contains("access-control-allow-origin: https://careers.example.org"),
        "{}",
        a.headers
    );
    let other = preflight("https://evil.example");
    assert!(
        !other.headers.contains("access-control-allow-origin"),
        "{}",
        other.headers
    );
    api.stop();
    // a bad origin is a config error naming it
    let bad = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace("https://careers.example.org\"", "careers.example.org/\"");
    std::fs::write(&env.config, bad).unwrap();
    let err = env.fails(2, &["check-config"]);
    assert!(
        err.contains("http.cors_origins") && err.contains("careers.example.org/"),
        "{err}"
    );
}
