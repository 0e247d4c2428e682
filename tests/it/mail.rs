//! Email end to end: moves render into the outbox, `atsd tick dispatch` sends
//! to a real SMTP server on loopback, and every outcome is recorded.

use crate::common::{Env, NOW, count_sync};
use crate::smtp::{Sink, TestCa, free_port};
use crate::tools::{Tool, needs};
use chrono::{DateTime, Duration, Utc};
use mail_parser::MessageParser;
use serde_json::Value;

pub(crate) fn t(min: i64) -> String {
    (DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc)
        + Duration::minutes(min))
    .to_rfc3339()
}

pub(crate) fn env_for(port: u16) -> Env {
    env_with_pool(port, 2)
}

pub(crate) fn env_with_pool(port: u16, pool_size: u32) -> Env {
    env_with(port, pool_size, "none", "")
}

/// `smtp_extra`: more `[mail.smtp]` lines.
pub(crate) fn env_with(port: u16, pool_size: u32, tls: &str, smtp_extra: &str) -> Env {
    let env = Env::with_config(&format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"Example Corp Recruiting <jobs@example.org>\"\nreply_to = \"recruiting@example.org\"\nmax_attempts = 5\nrate_per_second = 0\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"{tls}\"\ntimeout = \"5s\"\npool_size = {pool_size}\n{smtp_extra}"
    ));
    env.add_posting(1, "Platform Engineer");
    env
}

pub(crate) fn apply(env: &Env, name: &str, email: &str, locale: &str) -> i64 {
    let v = env.json(&[
        "--now", NOW, "apply", "1", "--name", name, "--email", email, "--locale", locale,
    ]);
    v["emails"][0]["id"].as_i64().unwrap()
}

pub(crate) fn dispatch(env: &Env, min: i64) -> Value {
    env.json(&["--now", &t(min), "tick", "dispatch"])["dispatch"].clone()
}

pub(crate) fn email(env: &Env, id: i64) -> Value {
    let rows = env.json(&["mail", "list"]);
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap()
}

#[test]
fn an_accepted_email_arrives_once_with_exactly_the_expected_headers() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = env_for(sink.port);
    let id = apply(
        &env,
        "Zoë Müller <script>alert(1)</script>",
        "zoe@example.org",
        "de-CH",
    );
    let r = dispatch(&env, 1);
    assert_eq!(r["sent"], 1, "{r}");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["rcpt_tos"], serde_json::json!(["zoe@example.org"]));
    let raw = msgs[0]["data"].as_str().unwrap();
    let bytes: Vec<u8> = raw.chars().map(|c| c as u8).collect();
    let m = MessageParser::default()
        .parse(&bytes[..])
        .expect("parsable message");
    let row = email(&env, id);
    assert_eq!(row["status"], "sent");
    assert_eq!(
        m.message_id(),
        Some(row["message_id"].as_str().unwrap().trim_matches(['<', '>']))
    );
    assert_eq!(
        m.subject(),
        Some("Ihre Bewerbung als Platform Engineer ist eingegangen")
    );
    let to = m.to().unwrap().first().unwrap();
    assert_eq!(to.address(), Some("zoe@example.org"));
    assert_eq!(to.name(), Some("Zoë Müller <script>alert(1)</script>"));
    assert_eq!(
        m.from().unwrap().first().unwrap().name(),
        Some("Example Corp Recruiting")
    );
    let mut names: Vec<String> = m
        .headers()
        .iter()
        .map(|h| h.name().to_ascii_lowercase())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "content-type",
            "date",
            "from",
            "message-id",
            "mime-version",
            "reply-to",
            "subject",
            "to"
        ]
    );
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("Zoë Müller &lt;script&gt;")
            || html.contains("Guten Tag Zoë Müller &lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(
        m.body_text(0)
            .unwrap()
            .contains("Guten Tag Zoë Müller <script>alert(1)</script>,")
    );
    // a sent email is never sent again
    let r = dispatch(&env, 2);
    assert_eq!(r["claimed"], 0);
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn temporary_failures_are_retried_with_growing_gaps_then_delivered() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = env_for(sink.port);
    let id = apply(&env, "Tem Porary", "tempfail3-tem@example.org", "en");
    let mut at = 1;
    let mut gaps = Vec::new();
    for attempt in 1..=3 {
        let r = dispatch(&env, at);
        assert_eq!(r["retried"], 1, "attempt {attempt}: {r}");
        let row = email(&env, id);
        assert_eq!(row["status"], "pending");
        assert_eq!(row["attempts"], attempt);
        assert!(row["last_error"].as_str().unwrap().contains("451"), "{row}");
        let next = DateTime::parse_from_rfc3339(row["next_attempt_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let now = DateTime::parse_from_rfc3339(&t(at))
            .unwrap()
            .with_timezone(&Utc);
        gaps.push((next - now).num_seconds());
        // nothing is claimed before it is due
        assert_eq!(dispatch(&env, at)["claimed"], 0);
        at += (next - now).num_minutes() + 1;
    }
    assert!(gaps.windows(2).all(|w| w[1] > w[0]), "{gaps:?}");
    let r = dispatch(&env, at);
    assert_eq!(r["sent"], 1, "{r}");
    let row = email(&env, id);
    assert_eq!(row["attempts"], 4);
    assert_eq!(sink.messages().len(), 1);
}

/// One connection carries accepted, refused and deferred recipients in turn:
/// each gets its own outcome, and a refusal does not cost the next email an
/// attempt (the connection stays in step with the server).
fn mixed_outcomes_over_one_connection(sink: &Sink, pipelined: bool) {
    let env = env_with_pool(sink.port, 1);
    let ada = apply(&env, "Ada", "ada@example.org", "en");
    let rej = apply(&env, "Re Ject", "reject-me@example.org", "en");
    let tmp = apply(&env, "Tem Porary", "tempfail3-tem@example.org", "en");
    let grace = apply(&env, "Grace", "grace@example.org", "en");
    let r = dispatch(&env, 1);
    assert_eq!(
        (&r["sent"], &r["dead"], &r["retried"]),
        (
            &serde_json::json!(2),
            &serde_json::json!(1),
            &serde_json::json!(1)
        ),
        "{r}"
    );
    for id in [ada, grace] {
        let row = email(&env, id);
        assert_eq!(row["status"], "sent", "{row}");
        assert_eq!(row["attempts"], 1, "{row}");
    }
    assert!(
        email(&env, rej)["last_error"]
            .as_str()
            .unwrap()
            .contains("550")
    );
    assert!(
        email(&env, tmp)["last_error"]
            .as_str()
            .unwrap()
            .contains("451")
    );
    let msgs = sink.messages();
    let mut to: Vec<&str> = msgs
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap())
        .collect();
    to.sort();
    assert_eq!(to, ["ada@example.org", "grace@example.org"]);
    for m in &msgs {
        assert_eq!(m["pipelined"], pipelined, "{m}");
    }
}

#[test]
fn a_pipelining_server_gets_one_round_trip_for_mail_rcpt_and_data() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    mixed_outcomes_over_one_connection(&sink, true);
}

#[test]
fn a_server_without_pipelining_gets_one_command_at_a_time() {
    needs!(Tool::Smtp);
    let sink = Sink::start_without_pipelining(free_port());
    mixed_outcomes_over_one_connection(&sink, false);
}

/// A dispatcher whose queue outlasts its lease renews the leases while it
/// works, so a second dispatcher (a second daemon) takes none of its rows
/// over and never sends an email the first one also sends.
#[test]
fn two_dispatchers_never_send_one_email_twice_when_the_queue_outlasts_the_lease() {
    needs!(Tool::Smtp);
    use atsd::mail::dispatch::run;
    use atsd::mail::transport::Sender;
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;
    let sink = Sink::start(free_port());
    let env = env_with_pool(sink.port, 1);
    let ids: Vec<i64> = (0..12)
        .map(|i| apply(&env, &format!("C {i}"), &format!("c{i}@example.org"), "en"))
        .collect();
    let text = std::fs::read_to_string(&env.config).unwrap();
    let mut slow = atsd::config::Config::parse(&text, "test config").unwrap();
    slow.mail.rate_per_second = 4; // 12 emails take 3 s, the lease is 2 s
    let mut fast = slow.clone();
    fast.mail.rate_per_second = 0;
    let lease = Duration::seconds(2);
    let start = DateTime::parse_from_rfc3339(&t(1))
        .unwrap()
        .with_timezone(&Utc);
    let (first, second) = crate::common::block_on(async {
        let store = env.store().await;
        let never = CancellationToken::new();
        let a = run(
            &store,
            &slow,
            Arc::new(Sender::from_config(&slow, None).unwrap()),
            start,
            lease,
            &never,
        );
        let b = async {
            // the second dispatcher starts once the first one's lease is over
            tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
            run(
                &store,
                &fast,
                Arc::new(Sender::from_config(&fast, None).unwrap()),
                start + Duration::milliseconds(2200),
                lease,
                &never,
            )
            .await
        };
        tokio::join!(a, b)
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    // the first renews its leases while it works: the second takes none over
    assert_eq!(
        second.possible_duplicates + second.recovered,
        0,
        "{second:?}"
    );
    assert_eq!(first.sent + second.sent, 12, "{first:?} {second:?}");
    let mut to: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_string())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(sink.messages().len(), 12, "each email exactly once");
    assert_eq!(to.len(), 12);
    for id in ids {
        let row = email(&env, id);
        assert_eq!(row["status"], "sent", "{row}");
        // handing back does not count as an attempt
        assert_eq!(row["attempts"], 1, "{row}");
    }
}

/// A wrong password is the configuration's fault, not the emails': the server
/// answers 535 (a 5xx), yet no email dies. The run stops at the first failed
/// login and leaves the rest untried; with the right password all go out,
/// logged in.
#[test]
fn a_wrong_smtp_password_stops_the_run_and_kills_no_email() {
    needs!(Tool::Smtp);
    let sink = Sink::start_with_login(free_port(), "jobs", "s3cret");
    let env = env_with(
        sink.port,
        1,
        "none",
        "username = \"jobs\"\npassword_file = \"smtp-password\"\n",
    );
    env.write("smtp-password", "wrong\n");
    let ids: Vec<i64> = (0..3)
        .map(|i| apply(&env, &format!("C {i}"), &format!("c{i}@example.org"), "en"))
        .collect();
    let (code, out, err) = env.run(&["--json", "--now", &t(1), "tick", "dispatch"]);
    assert_eq!(code, 0, "{err}");
    let r = serde_json::from_str::<Value>(&out).unwrap()["dispatch"].clone();
    assert_eq!(
        (r["sent"].as_u64(), r["dead"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    // one attempt; the others handed back untried (a claim racing the
    // failed login may take a handed-back row again, and hand it back again)
    assert_eq!(r["retried"].as_u64(), Some(1), "{r}");
    assert!(r["released"].as_u64() >= Some(2), "{r}");
    assert_eq!(
        r["claimed"].as_u64(),
        Some(1 + r["released"].as_u64().unwrap_or(0)),
        "{r}"
    );
    assert!(r["unavailable"].as_str().unwrap().contains("535"), "{r}");
    assert!(err.contains("mail transport unavailable"), "{err}");
    let attempts: Vec<i64> = ids
        .iter()
        .map(|id| email(&env, *id)["attempts"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts.iter().sum::<i64>(), 1, "{attempts:?}");
    assert!(sink.messages().is_empty());

    env.write("smtp-password", "s3cret\n");
    let r = dispatch(&env, 60);
    assert_eq!(r["sent"], 3, "{r}");
    assert!(r.get("unavailable").is_none(), "{r}");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 3);
    assert!(msgs.iter().all(|m| m["auth_user"] == "jobs"), "{msgs:?}");
}

/// The password can come from an environment variable (`password_env`).
#[test]
fn the_smtp_password_can_come_from_the_environment() {
    needs!(Tool::Smtp);
    let sink = Sink::start_with_login(free_port(), "jobs", "from-env");
    let env = env_with(
        sink.port,
        1,
        "none",
        "username = \"jobs\"\npassword_env = \"TEST_SMTP_PASSWORD\"\n",
    );
    apply(&env, "Ada", "ada@example.org", "en");
    let out = env
        .cmd()
        .env("TEST_SMTP_PASSWORD", "from-env")
        .args(["--json", "--now", &t(1), "tick", "dispatch"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dispatch"]["sent"], 1, "{v}");
    assert_eq!(sink.messages()[0]["auth_user"], "jobs");
}

/// Under systemd the password is the credential `smtp-password`
/// (`LoadCredential=`), found through `$CREDENTIALS_DIRECTORY`.
#[test]
fn the_smtp_password_can_come_from_a_systemd_credential() {
    needs!(Tool::Smtp);
    let sink = Sink::start_with_login(free_port(), "jobs", "from-systemd");
    let env = env_with(sink.port, 1, "none", "username = \"jobs\"\n");
    env.write("credentials/smtp-password", "from-systemd\n");
    apply(&env, "Ada", "ada@example.org", "en");
    let out = env
        .cmd()
        .env("CREDENTIALS_DIRECTORY", env.path("credentials"))
        .args(["--json", "--now", &t(1), "tick", "dispatch"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dispatch"]["sent"], 1, "{v}");
    assert_eq!(sink.messages()[0]["auth_user"], "jobs");
}

/// The `log` transport sends nothing, logs each email, and marks it sent.
#[test]
fn the_log_transport_only_logs() {
    let env = Env::with_config("[mail]\ntransport = \"log\"\n");
    env.ok(&[
        "posting",
        "add",
        "https://example.org/jobs/1",
        "--title",
        "Cook",
    ]);
    let id = apply(&env, "Ada", "ada@example.org", "en");
    let (code, out, err) = env.run(&["--json", "-v", "--now", &t(1), "tick", "dispatch"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dispatch"]["sent"], 1, "{v}");
    // at info the line names the email, not the person
    assert!(err.contains("email (log transport)"), "{err}");
    assert!(!err.contains("ada@example.org"), "{err}");
    assert_eq!(email(&env, id)["status"], "sent");
    assert!(!env.path("outbox").exists());
}

/// STARTTLS to a relay whose certificate an internal CA signed: refused
/// (not dead, the emails wait) until `ca_file` names that CA, then delivered
/// encrypted.
#[test]
fn starttls_trusts_the_configured_ca_and_nothing_else() {
    needs!(Tool::Smtp);
    let ca = TestCa::new();
    let sink = Sink::start_with_starttls(free_port(), &ca);
    let env = env_with(sink.port, 1, "starttls", "");
    let id = apply(&env, "Ada", "ada@example.org", "en");
    let r = dispatch(&env, 1);
    assert_eq!(
        (r["sent"].as_u64(), r["dead"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    let err = email(&env, id)["last_error"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(err.contains("certificate"), "{err}");
    assert!(sink.messages().is_empty());

    let with_ca = std::fs::read_to_string(&env.config).unwrap()
        + &format!("ca_file = \"{}\"\n", ca.ca_file().display());
    std::fs::write(&env.config, with_ca).unwrap();
    let r = dispatch(&env, 60);
    assert_eq!(r["sent"], 1, "{r}");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["tls"], true);
}

#[test]
fn implicit_tls_delivers_encrypted() {
    needs!(Tool::Smtp);
    let ca = TestCa::new();
    let sink = Sink::start_with_implicit_tls(free_port(), &ca);
    let env = env_with(
        sink.port,
        1,
        "tls",
        &format!("ca_file = \"{}\"\n", ca.ca_file().display()),
    );
    apply(&env, "Ada", "ada@example.org", "en");
    let r = dispatch(&env, 1);
    assert_eq!(r["sent"], 1, "{r}");
    assert_eq!(sink.messages()[0]["tls"], true);
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_refused_by_name() {
    let env = Env::with_config(
        "[mail.smtp]\nhost = \"127.0.0.1\"\ntls = \"starttls\"\nca_file = \"ca.pem\"\n",
    );
    env.write("ca.pem", "not a certificate\n");
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("mail.smtp.ca_file"), "{err}");
    assert!(err.contains("ca.pem holds no PEM certificate"), "{err}");
}

#[test]
fn a_permanent_rejection_is_dead_after_one_attempt() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = env_for(sink.port);
    let id = apply(&env, "Re Ject", "reject-me@example.org", "en");
    let r = dispatch(&env, 1);
    assert_eq!(r["dead"], 1, "{r}");
    let row = email(&env, id);
    assert_eq!(row["status"], "dead");
    assert_eq!(row["attempts"], 1);
    assert!(row["last_error"].as_str().unwrap().contains("550"), "{row}");
    // retry puts it back, from a fresh count
    env.ok(&["--now", &t(2), "mail", "retry", &id.to_string()]);
    assert_eq!(email(&env, id)["status"], "pending");
    let err = env.fails(2, &["mail", "retry", "999"]);
    assert!(err.contains("no email with id 999"), "{err}");
}

#[test]
fn a_server_that_is_down_is_retried_until_it_comes_back() {
    needs!(Tool::Smtp);
    let port = free_port();
    let env = env_for(port);
    let id = apply(&env, "Ada", "ada@example.org", "en");
    let r = dispatch(&env, 1);
    assert_eq!(r["retried"], 1, "{r}");
    let row = email(&env, id);
    assert_eq!(row["status"], "pending");
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("connect"),
        "{row}"
    );
    let sink = Sink::start(port);
    let r = dispatch(&env, 60);
    assert_eq!(r["sent"], 1, "{r}");
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn a_row_left_sending_by_a_crash_is_retried_after_its_lease() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = env_for(sink.port);
    let id = apply(&env, "Ada", "ada@example.org", "en");
    // as if a dispatcher had claimed it and died
    crate::common::block_on(async {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
        let s = env.store().await;
        let row = entity::outbox::Entity::find_by_id(id)
            .one(s.conn())
            .await
            .unwrap()
            .unwrap();
        let mut am: entity::outbox::ActiveModel = row.into();
        am.status = Set(entity::outbox::Status::Sending);
        am.attempts = Set(1);
        am.lease_until = Set(Some(
            DateTime::parse_from_rfc3339(&t(3))
                .unwrap()
                .with_timezone(&Utc),
        ));
        // the crash came after the message had begun to go out
        am.data_at = Set(Some(
            DateTime::parse_from_rfc3339(&t(1))
                .unwrap()
                .with_timezone(&Utc),
        ));
        am.update(s.conn()).await.unwrap();
    });
    // still leased: left alone
    assert_eq!(dispatch(&env, 2)["claimed"], 0);
    let r = dispatch(&env, 10);
    assert_eq!(r["sent"], 1, "{r}");
    assert_eq!(r["possible_duplicates"], 1);
    assert_eq!(email(&env, id)["attempts"], 2);
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn the_file_transport_writes_one_eml_per_message() {
    let env = Env::with_config("[mail]\ntransport = \"file\"\n");
    env.ok(&[
        "posting",
        "add",
        "https://example.org/jobs/1",
        "--title",
        "Cook",
    ]);
    env.ok(&[
        "--now",
        NOW,
        "apply",
        "1",
        "--name",
        "李雷",
        "--email",
        "li@example.org",
        "--locale",
        "es",
    ]);
    let v = env.json(&["--now", &t(1), "tick", "dispatch"]);
    assert_eq!(v["dispatch"]["sent"], 1);
    // beside the SQLite database; with PostgreSQL, in the working directory
    let dir = env.dir.path().join("outbox");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(files[0].path()).unwrap();
    let m = MessageParser::default().parse(&bytes[..]).unwrap();
    assert_eq!(m.subject(), Some("Hemos recibido tu candidatura para Cook"));
    assert_eq!(m.to().unwrap().first().unwrap().name(), Some("李雷"));
    assert_eq!(count_sync(&env, "outbox"), 1);
}

#[test]
fn preview_renders_sample_data_and_real_applications() {
    let env = Env::new();
    let out = env.ok(&["mail", "preview", "offer", "--locale", "de-CH"]);
    assert!(
        out.starts_with("Locale: de\nSubject: Gute Nachrichten zu Senior Platform Engineer\n"),
        "{out}"
    );
    env.ok(&[
        "posting",
        "add",
        "https://example.org/jobs/1",
        "--title",
        "Cook",
    ]);
    env.ok(&[
        "--now",
        NOW,
        "apply",
        "1",
        "--name",
        "Łukasz Nowak",
        "--email",
        "l@example.org",
        "--locale",
        "es",
    ]);
    let html = env.path("preview.html");
    let out = env.ok(&[
        "mail",
        "preview",
        "rejection",
        "--application",
        "1",
        "--html",
        &html.display().to_string(),
    ]);
    assert!(out.contains("Subject: Tu candidatura para Cook"), "{out}");
    assert!(out.contains("Hola, Łukasz:"), "{out}");
    assert!(
        std::fs::read_to_string(html)
            .unwrap()
            .contains("<html lang=\"es\">")
    );
    let err = env.fails(2, &["mail", "preview", "no_such"]);
    assert!(err.contains("unknown template `no_such`"), "{err}");
}
