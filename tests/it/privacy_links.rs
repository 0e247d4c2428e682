//! Candidates ask for themselves (issue 33, part 8), over loopback with the
//! real daemon: the privacy link at the end of every email to a candidate,
//! the page in their language, access answered with a second single-use
//! download link, erasure waiting for a recruiter's `request close`, and
//! every way a link must be refused (forged, altered, reused, expired,
//! posted from another site) changing nothing.

use crate::api::Api;
use crate::common::{Env, http};
use crate::daemon::rows;
use crate::smtp::free_port;

fn setup() -> (Env, u16) {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\"\n\
         link_key_file = \"link.key\"\n[schedule]\ntimezone = \"Europe/Berlin\"\n\
         poll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n"
    ));
    env.write("link.key", "a-test-key-of-more-than-32-bytes-0123456789\n");
    env.add_posting(1, "Cook");
    (env, port)
}

/// The text and HTML of the latest email to `to` made from `template`.
fn email(env: &Env, template: &str, to: &str) -> (String, String) {
    let r = rows(
        env,
        &format!(
            "SELECT b.body_text, b.body_html FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
             WHERE o.template = '{template}' AND o.recipient = '{to}' ORDER BY o.id DESC LIMIT 1"
        ),
    );
    let r = r
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {template} email to {to}"));
    (r[0].clone(), r[1].clone())
}

/// The path of the first link under `prefix` in `text`.
fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .unwrap()
        .to_string()
}

fn requests(env: &Env) -> serde_json::Value {
    env.json(&["request", "list", "--all"])
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

#[test]
fn a_candidate_sees_what_we_hold_through_the_link_in_any_email_once() {
    let (env, port) = setup();
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Zoë Quellmann",
        "--email",
        "zoe.q@example.org",
        "--locale",
        "de",
    ]);
    // the link ends both parts of the email, in her language
    let (text, html) = email(&env, "application_received", "zoe.q@example.org");
    assert!(
        text.contains("Sehen, was wir über Sie speichern, oder es löschen lassen: http://"),
        "{text}"
    );
    let path = link(&text, "/self-service/privacy/");
    assert!(html.contains(&path), "{html}");
    assert!(
        html.find(&path) < html.find("</body>"),
        "the link is inside the page: {html}"
    );
    let api = Api::start(&env, port);
    let get = |p: &str| http(port, "GET", p, &[], b"").unwrap();
    let post = |p: &str, headers: &[(&str, &str)], body: &str| {
        http(port, "POST", p, headers, body.as_bytes()).unwrap()
    };

    // the page asks first, in German, with no script; a GET opens nothing
    let page = get(&path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<html lang=\"de\""), "{}", page.body);
    assert!(page.body.contains("Meine Daten löschen"), "{}", page.body);
    assert!(!page.body.contains("<script"));
    assert!(page.headers.contains("cache-control: no-store"));
    assert_eq!(requests(&env), serde_json::json!([]));

    // from another site, with no choice, or too large: nothing happens
    let cross = post(
        &path,
        &[
            FORM,
            ("Origin", "http://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        "kind=access",
    );
    assert_eq!(cross.status, 403, "{}", cross.body);
    assert!(cross.body.contains("anderen Website"), "{}", cross.body);
    assert_eq!(post(&path, &[FORM], "kind=everything").status, 422);
    assert_eq!(post(&path, &[FORM], "").status, 422);
    let big = format!("kind=access&x={}", "a".repeat(4096));
    assert_eq!(post(&path, &[FORM], &big).status, 413);
    assert_eq!(requests(&env), serde_json::json!([]));

    // access: a request with its legal due date, and a download link by email
    let asked = post(
        &path,
        &[FORM, ("Sec-Fetch-Site", "same-origin")],
        "kind=access",
    );
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(asked.body.contains("zoe.q@example.org"), "{}", asked.body);
    let list = requests(&env);
    let r = &list[0];
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        (r["kind"].as_str(), r["law"].as_str()),
        (Some("access"), Some("gdpr"))
    );
    assert_eq!(r["email"], "zoe.q@example.org");
    let received =
        chrono::DateTime::parse_from_rfc3339(r["received_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(r["due_at"].as_str().unwrap()).unwrap();
    let days = (due - received).num_days();
    assert!(
        (27..=33).contains(&days),
        "a month, off weekends: {days} days ({r})"
    );
    let id = r["id"].to_string();

    // the privacy link is spent
    let again = post(&path, &[FORM], "kind=erasure");
    assert_eq!(again.status, 410, "{}", again.body);
    assert!(again.body.contains("bereits verwendet"), "{}", again.body);
    assert_eq!(get(&path).status, 410);
    assert_eq!(requests(&env).as_array().unwrap().len(), 1);

    let (text, _) = email(&env, "data_export", "zoe.q@example.org");
    assert!(text.starts_with("Guten Tag Zoë Quellmann"), "{text}");
    let download = link(&text, "/self-service/export/");
    // altered, or moved to another request: refused
    let mut altered = download.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let other = download.replacen(&format!("/export/x{id}."), "/export/x999.", 1);
    for bad in [&altered, &other] {
        assert_eq!(get(bad).status, 403, "{bad}");
        assert_eq!(post(bad, &[], "").status, 403, "{bad}");
    }
    // the page only shows a button; from another site it gives nothing
    let page = get(&download);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Meine Daten herunterladen"),
        "{}",
        page.body
    );
    let cross = post(&download, &[("Origin", "http://evil.example")], "");
    assert_eq!(cross.status, 403, "{}", cross.body);
    assert_eq!(env.json(&["request", "show", &id])["state"], "open");

    // the download: everything of hers, as one file, valid by the schema
    let file = post(&download, &[], "");
    assert_eq!(file.status, 200, "{}", file.body);
    assert!(
        file.headers
            .contains("content-disposition: attachment; filename=\"candidate-1-export.json\""),
        "{}",
        file.headers
    );
    let doc: serde_json::Value = serde_json::from_str(&file.body).expect("JSON");
    assert_eq!(doc["candidate_id"], 1, "{doc}");
    assert!(file.body.contains("Zoë Quellmann") && file.body.contains("Cook"));
    let saved = env.path("download.json");
    std::fs::write(&saved, &file.body).unwrap();
    crate::privacy::assert_valid_export(&saved.to_string_lossy());
    // answered: the request is done; the link does not work twice
    let r = env.json(&["request", "show", &id]);
    assert_eq!(
        (r["state"].as_str(), r["outcome"].as_str()),
        (Some("closed"), Some("done")),
        "{r}"
    );
    assert_eq!(post(&download, &[], "").status, 410);
    assert_eq!(get(&download).status, 410);
    let exported = rows(
        &env,
        "SELECT data FROM events WHERE type = 'candidate.exported'",
    );
    assert_eq!(exported.len(), 1, "{exported:?}");
    assert!(
        exported[0][0].contains("\"actor\":\"candidate\""),
        "{exported:?}"
    );
    api.stop();
}

#[test]
fn erasure_asked_through_the_link_waits_for_a_recruiter_and_a_hold_refuses_it() {
    let (env, port) = setup();
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Ada Vrentz",
        "--email",
        "ada.v@example.org",
    ]);
    let (text, _) = email(&env, "application_received", "ada.v@example.org");
    let path = link(&text, "/self-service/privacy/");
    let api = Api::start(&env, port);
    let asked = http(port, "POST", &path, &[FORM], b"kind=erasure").unwrap();
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(asked.body.contains("delete your data by"), "{}", asked.body);
    api.stop();
    // nothing is forgotten before a recruiter says so, and no email went
    let r = &requests(&env)[0];
    assert_eq!(
        (r["kind"].as_str(), r["state"].as_str()),
        (Some("erasure"), Some("open"))
    );
    let id = r["id"].to_string();
    assert_eq!(
        env.json(&["candidate", "show", "ada.v@example.org"])["candidate"]["name"],
        "Ada Vrentz"
    );
    assert!(rows(&env, "SELECT id FROM outbox WHERE template LIKE 'data_%'").is_empty());

    // a hold refuses the erasure, names it, and the request records it
    env.ok(&[
        "candidate",
        "hold",
        "ada.v@example.org",
        "--reason",
        "litigation",
    ]);
    let err = env.fails(
        2,
        &[
            "request",
            "close",
            &id,
            "--outcome",
            "done",
            "--reason",
            "asked by link",
        ],
    );
    assert!(err.contains("on hold (litigation)"), "{err}");
    assert_eq!(
        env.json(&["candidate", "show", "ada.v@example.org"])["candidate"]["name"],
        "Ada Vrentz"
    );
    assert_eq!(env.json(&["request", "show", &id])["outcome"], "refused");
    assert!(rows(&env, "SELECT id FROM outbox WHERE template LIKE 'data_%'").is_empty());
}

#[test]
fn a_recruiters_close_erases_and_the_candidate_is_told_by_no_name() {
    let (env, port) = setup();
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Ada Vrentz",
        "--email",
        "ada.v@example.org",
        "--locale",
        "es",
    ]);
    let (text, _) = email(&env, "application_received", "ada.v@example.org");
    let path = link(&text, "/self-service/privacy/");
    let api = Api::start(&env, port);
    let asked = http(port, "POST", &path, &[FORM], b"kind=erasure").unwrap();
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(
        asked.body.contains("Borraremos tus datos"),
        "{}",
        asked.body
    );
    api.stop();
    let id = requests(&env)[0]["id"].to_string();
    let out = env.ok(&[
        "request",
        "close",
        &id,
        "--outcome",
        "done",
        "--reason",
        "asked by link",
    ]);
    assert!(out.contains("candidate 1 erased"), "{out}");
    let r = env.json(&["request", "show", &id]);
    assert_eq!(
        (r["outcome"].as_str(), r["close_reason"].as_str()),
        (Some("done"), Some("asked by link"))
    );
    // told, in Spanish, at the address she asked from, by no name
    let notice = rows(
        &env,
        "SELECT o.recipient, COALESCE(o.recipient_name, '-'), o.locale, b.body_text FROM outbox o \
         JOIN outbox_bodies b ON b.outbox_id = o.id WHERE o.template = 'data_erased'",
    );
    assert_eq!(notice.len(), 1, "{notice:?}");
    assert_eq!(notice[0][..3], ["ada.v@example.org", "-", "es"]);
    assert!(notice[0][3].starts_with("Hola:"), "{}", notice[0][3]);
    assert!(!notice[0][3].contains("Vrentz") && !notice[0][3].contains("/self-service/"));
    env.fails(2, &["candidate", "show", "ada.v@example.org"]);
}

#[test]
fn forged_altered_expired_and_foreign_privacy_links_change_nothing() {
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
    let (text, _) = email(&env, "application_received", "ada@example.org");
    let expired = link(&text, "/self-service/privacy/");
    env.ok(&["apply", "1", "--name", "Bo", "--email", "bo@example.org"]);
    let (text, _) = email(&env, "application_received", "bo@example.org");
    let live = link(&text, "/self-service/privacy/");
    let withdraw = link(&text, "/self-service/withdraw/");
    assert!(live.starts_with("/self-service/privacy/p2."), "{live}");
    let mut altered = live.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let forged = live.replacen("/privacy/p2.", "/privacy/p1.", 1);
    let foreign = withdraw.replacen("/withdraw/", "/privacy/", 1);
    let api = Api::start(&env, port);
    for (bad, status, says) in [
        (&expired, 410, "expired"),
        (&altered, 403, "not valid"),
        (&forged, 403, "not valid"),
        (&foreign, 403, "not valid"),
        (
            &"/self-service/privacy/nonsense".to_string(),
            403,
            "not valid",
        ),
        (
            &"/self-service/export/nonsense".to_string(),
            403,
            "not valid",
        ),
        (&live.replacen("/privacy/", "/export/", 1), 403, "not valid"),
    ] {
        for method in ["GET", "POST"] {
            let a = http(port, method, bad, &[FORM], b"kind=erasure").unwrap();
            assert_eq!(a.status, status, "{method} {bad}: {}", a.body);
            assert!(a.body.contains(says), "{method} {bad}: {}", a.body);
        }
    }
    assert_eq!(requests(&env), serde_json::json!([]));
    assert!(rows(&env, "SELECT id FROM outbox WHERE template LIKE 'data_%'").is_empty());
    api.stop();
}
