//! Candidate self-service links over loopback with the real daemon: the
//! link in the email, the confirmation page in the candidate's locale, the
//! withdraw, and every way a link must be refused (altered, forged for
//! another application, reused, expired) changing nothing.

use crate::api::Api;
use crate::common::{Env, block_on, feed, http};
use crate::smtp::free_port;
use sea_orm::ConnectionTrait;

fn setup() -> (Env, u16) {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\"\n\
         link_key_file = \"link.key\"\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n"
    ));
    env.write("link.key", "a-test-key-of-more-than-32-bytes-0123456789\n");
    env.add_posting(1, "Cook");
    (env, port)
}

/// The withdraw link in the text of the application's latest email.
fn link_in_email(env: &Env, application: i64) -> String {
    let body: String = block_on(async {
        let store = env.store().await;
        let row = store
            .conn()
            .query_one_raw(atsd::store::sql(
                store.backend(),
                "SELECT b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
                 WHERE o.application_id = ? ORDER BY o.id DESC LIMIT 1",
                vec![application.into()],
            ))
            .await
            .unwrap()
            .expect("an email");
        row.try_get("", "body_text").unwrap()
    });
    let start = body
        .find("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("no link in the email:\n{body}"));
    body[start..].split_whitespace().next().unwrap().to_string()
}

fn path_of(link: &str) -> String {
    let rest = link.strip_prefix("http://").unwrap();
    rest[rest.find('/').unwrap()..].to_string()
}

fn stage(env: &Env, id: i64) -> (String, i64) {
    let a = env.json(&["application", "show", &id.to_string()]);
    let app = &a["application"];
    (
        app["stage"].as_str().unwrap().to_string(),
        a["transitions"].as_array().unwrap().len() as i64,
    )
}

#[test]
fn a_withdraw_link_works_once_for_its_application_only() {
    let (env, port) = setup();
    env.ok(&["check-config"]);
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Zoë",
        "--email",
        "zoe@example.org",
        "--locale",
        "de",
    ]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    let link = link_in_email(&env, 1);
    let path = path_of(&link);
    assert!(path.starts_with("/self-service/withdraw/1."), "{path}");
    let api = Api::start(&env, port);
    let get = |p: &str| http(port, "GET", p, &[], b"").unwrap();
    let post = |p: &str| http(port, "POST", p, &[], b"").unwrap();

    // the page, in the candidate's locale, asks first
    let page = get(&path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<html lang=\"de\""), "{}", page.body);
    assert!(
        page.body.contains("Bewerbung zurückziehen"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Cook"));
    assert!(page.body.contains("method=\"post\""));
    assert!(
        page.headers.contains("cache-control: no-store"),
        "{}",
        page.headers
    );
    assert!(
        page.headers.contains("x-frame-options: deny"),
        "{}",
        page.headers
    );
    assert_eq!(stage(&env, 1).0, "applied", "a GET changes nothing");

    // altered by one character, or moved to another application: refused
    let mut altered = path.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let other = path.replacen("/withdraw/1.", "/withdraw/2.", 1);
    for bad in [
        &altered,
        &other,
        &"/self-service/withdraw/nonsense".to_string(),
    ] {
        let a = get(bad);
        assert_eq!(a.status, 403, "{bad}: {}", a.body);
        assert!(
            a.body.contains("not valid") || a.body.contains("ungültig"),
            "{}",
            a.body
        );
        assert_eq!(post(bad).status, 403);
    }
    assert_eq!(stage(&env, 1), ("applied".into(), 1));
    assert_eq!(stage(&env, 2), ("applied".into(), 1));

    // the real one withdraws, once
    let done = post(&path);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("zurückgezogen"), "{}", done.body);
    let a = env.json(&["application", "show", "1"]);
    assert_eq!(a["application"]["stage"], "withdrawn");
    let t = a["transitions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(t["reason"], "candidate_withdrew");
    assert_eq!(t["actor"], "candidate");
    let again = post(&path);
    assert_eq!(again.status, 410, "{}", again.body);
    assert_eq!(get(&path).status, 410);
    assert_eq!(stage(&env, 1), ("withdrawn".into(), 2));
    // the other application is untouched
    assert_eq!(stage(&env, 2), ("applied".into(), 1));
    let events = feed(&env, &["events", "--type", "application.moved"]);
    assert!(events.contains("candidate_withdrew"), "{events}");
    api.stop();
}

#[test]
fn an_expired_link_is_refused_and_changes_nothing() {
    let (env, port) = setup();
    // made on 2026-01-01 with the default 30 days: long expired
    env.ok(&[
        "--now",
        "2026-01-01T00:00:00Z",
        "apply",
        "1",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
    ]);
    let path = path_of(&link_in_email(&env, 1));
    let api = Api::start(&env, port);
    for method in ["GET", "POST"] {
        let a = http(port, method, &path, &[], b"").unwrap();
        assert_eq!(a.status, 410, "{}", a.body);
        assert!(a.body.contains("expired"), "{}", a.body);
    }
    assert_eq!(stage(&env, 1), ("applied".into(), 1));
    api.stop();
}

#[test]
fn without_a_key_check_config_says_what_is_missing() {
    let env = Env::with_config(
        "[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://atsd.example.org\"\n",
    );
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("no link key"), "{err}");
    let env = Env::with_config(
        "[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://atsd.example.org\"\nlink_key_file = \"k\"\n",
    );
    env.write("k", "short");
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("at least 32"), "{err}");
    let env =
        Env::with_config("[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"atsd.example.org\"\n");
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("http.public_url"), "{err}");
    // without public_url, emails carry no link
    let env = Env::new();
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    let preview = env.ok(&[
        "mail",
        "preview",
        "application_received",
        "--application",
        "1",
    ]);
    assert!(!preview.contains("withdraw"), "{preview}");
}
