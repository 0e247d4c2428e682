//! The HTTP API over loopback with the real daemon: tokens and scopes,
//! intake with its errors and idempotency, listing with a cursor, moves with
//! their conflicts, postings and the report.

use crate::common::{Env, count_sync};
use crate::daemon::{term, wait_exit};
use crate::smtp::free_port;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        headers: headers.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

struct Api {
    child: Child,
    log: std::path::PathBuf,
}

impl Api {
    fn start(env: &Env, port: u16) -> Api {
        let log = env.path("api-daemon.log");
        let child = env
            .std_cmd()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the API did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // the listener is bound before the loop sets the configuration
        std::thread::sleep(Duration::from_millis(300));
        Api { child, log }
    }

    fn stop(mut self) -> String {
        term(&self.child);
        let (code, _) = wait_exit(&mut self.child, Duration::from_secs(15));
        assert_eq!(code, Some(0));
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn setup() -> (Env, u16) {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n"
    ));
    env.ok(&[
        "posting",
        "add",
        "https://boards.greenhouse.io/acme/jobs/1",
        "--title",
        "Cook",
    ]);
    (env, port)
}

fn token(env: &Env, name: &str, scope: &str) -> String {
    env.ok(&["token", "create", name, "--scope", scope])
        .trim()
        .to_string()
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
}
