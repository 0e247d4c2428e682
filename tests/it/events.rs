//! The event feed (`atsd events`) and the outgoing webhooks, against a
//! receiver that checks every signature with the Standard Webhooks reference
//! library (tests/webhook_receiver.py, PyPI `standardwebhooks`).

use crate::common::{Env, feed, scalar, settle};
use crate::smtp::free_port;
use crate::tools::{Tool, needs};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T0: &str = "2026-11-25T09:00:00Z";

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[test]
fn the_feed_holds_every_change_in_order_and_resumes_after_an_id() {
    let env = Env::with_config("[mail]\ntransport = \"log\"\n");
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    env.ok(&["application", "move", "1", "screening", "--reason", "cv ok"]);
    settle(&env);
    env.ok(&["tick", "dispatch"]);
    // a refused move writes nothing
    env.fails(2, &["application", "move", "1", "hired"]);

    let all = lines(&feed(&env, &["events"]));
    assert_eq!(
        types(&all),
        [
            "posting.status_changed",
            "application.created",
            "application.moved",
            "email.sent"
        ],
        "{all:?}"
    );
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let moved = &all[2];
    assert_eq!(moved["data"]["application_id"], 1);
    assert_eq!(moved["data"]["posting_id"], 1);
    assert_eq!(moved["data"]["from"], "applied");
    assert_eq!(moved["data"]["to"], "screening");
    assert_eq!(moved["data"]["reason"], "cv ok");
    assert!(moved["timestamp"].as_str().unwrap().contains('T'));
    assert_eq!(all[3]["data"]["template"], "application_received");
    // no address or name in any event
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains("ada@example.org") && !text.contains("Ada"),
        "{text}"
    );

    // resumed after the second event: the last two
    let since = ids[1].to_string();
    let rest = lines(&feed(&env, &["events", "--since", &since]));
    assert_eq!(rest, all[2..].to_vec());
    // by type, exactly or by family
    let emails = lines(&feed(&env, &["events", "--type", "email.sent"]));
    assert_eq!(types(&emails), ["email.sent"]);
    let apps = lines(&feed(&env, &["events", "--type", "application.*"]));
    assert_eq!(types(&apps), ["application.created", "application.moved"]);
    // bad input is named
    let err = env.fails(2, &["events", "--type", "email.lost"]);
    assert!(err.contains("`email.lost`"), "{err}");
    let err = env.fails(2, &["events", "--since", "999"]);
    assert!(err.contains("no event 999"), "{err}");
}

#[test]
fn follow_prints_new_events_as_they_happen() {
    let env = Env::with_config("[mail]\ntransport = \"log\"\n");
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    let last = scalar(&env, "SELECT MAX(id) FROM events");
    let mut child = env
        .std_cmd()
        .args(["events", "--follow", "--since", &last.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("--follow printed the new event");
    let e: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(e["type"], "application.created", "{e}");
}

/// tests/webhook_receiver.py on a free loopback port.
struct Receiver {
    port: u16,
    out: PathBuf,
    mode: PathBuf,
    child: Child,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(env: &Env, secret: &std::path::Path) -> Receiver {
        let port = free_port();
        let out = env.path("received.jsonl");
        let mode = env.path("receiver-mode");
        std::fs::write(&mode, "ok").unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/webhook_receiver.py");
        // the receiver checks the signature's timestamp against the
        // suite's clock, as atsd's
        let mut child = Command::new(crate::tools::python())
            .env("ATSD_TEST_CLOCK_SHIFT", crate::clock::shift().to_string())
            .arg(&script)
            .arg(port.to_string())
            .arg(&out)
            .arg(&mode)
            .arg(secret)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect(
                "start tests/webhook_receiver.py (cargo xtask setup installs standardwebhooks)",
            );
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "the webhook receiver did not start");
        Receiver {
            port,
            out,
            mode,
            child,
        }
    }

    fn answer(&self, mode: &str) {
        std::fs::write(&self.mode, mode).unwrap();
    }

    fn received(&self) -> Vec<Value> {
        match std::fs::read_to_string(&self.out) {
            Ok(t) => lines(&t),
            Err(_) => Vec::new(),
        }
    }
}

fn webhook_env(
    extra: &str,
    max_attempts: u32,
    allow: bool,
) -> (Env, Receiver, impl Fn(&str) -> String) {
    let env = Env::with_config("");
    let secret = env.write("hook.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
    let r = Receiver::start(&env, &secret);
    let allow = if allow {
        format!("[poll]\nallow_addresses = [\"127.0.0.1:{}\"]\n", r.port)
    } else {
        String::new()
    };
    env.write(
        "atsd.toml",
        &format!(
            "{allow}[mail]\ntransport = \"log\"\n{extra}\n[[webhooks.out]]\nname = \"hris\"\n\
             url = \"http://127.0.0.1:{}/hook\"\nsecret_file = \"hook.secret\"\n\
             events = [\"application.*\"]\nmax_attempts = {max_attempts}\ntimeout = \"1s\"\n",
            r.port
        ),
    );
    let at = |minutes: &str| {
        let m: i64 = minutes.parse().unwrap();
        (chrono::DateTime::parse_from_rfc3339(T0).unwrap() + chrono::Duration::minutes(m))
            .to_rfc3339()
    };
    (env, r, at)
}

fn deliveries(env: &Env) -> Vec<Value> {
    env.json(&["webhook", "list"]).as_array().unwrap().clone()
}

#[test]
fn webhooks_go_out_signed_once_each_after_failures_and_timeouts() {
    needs!(Tool::StandardWebhooks);
    let (env, r, at) = webhook_env("", 12, true);
    env.ok(&["check-config"]);
    // the endpoint starts at the end of the log: the posting's event before
    // its first run is not sent
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    settle(&env);
    env.ok(&["--now", &at("0"), "tick", "dispatch"]);
    for i in 0..3 {
        env.ok(&[
            "apply",
            "1",
            "--name",
            "Ada",
            "--email",
            &format!("ada{i}@example.org"),
            "--no-email",
        ]);
    }
    env.ok(&["application", "move", "2", "screening"]);
    let wanted: Vec<i64> = lines(&feed(&env, &["events", "--type", "application.*"]))
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(wanted.len(), 4);

    // the receiver fails: every delivery is tried once and kept
    r.answer("500");
    settle(&env);
    env.ok(&["--now", &at("1"), "tick", "dispatch"]);
    assert_eq!(r.received().len(), 4, "{:?}", r.received());
    let d = deliveries(&env);
    assert!(
        d.iter()
            .all(|x| x["status"] == "pending" && x["attempts"] == 1 && x["last_status"] == 500),
        "{d:?}"
    );
    // not due yet: nothing is sent
    settle(&env);
    env.ok(&["--now", &at("1"), "tick", "dispatch"]);
    assert_eq!(r.received().len(), 4);

    // the receiver hangs past the 1 s timeout
    r.answer("hang");
    settle(&env);
    env.ok(&["--now", &at("20"), "tick", "dispatch"]);
    assert_eq!(r.received().len(), 8);
    let d = deliveries(&env);
    assert!(
        d.iter().all(|x| x["status"] == "pending"
            && x["attempts"] == 2
            && x["last_error"].as_str().unwrap().contains("timed out")),
        "{d:?}"
    );

    // it recovers: each event is delivered once, signatures verified by the
    // reference library
    r.answer("ok");
    settle(&env);
    env.ok(&["--now", &at("120"), "tick", "dispatch"]);
    settle(&env);
    env.ok(&["--now", &at("600"), "tick", "dispatch"]);
    let ok: Vec<Value> = r
        .received()
        .into_iter()
        .filter(|x| x["mode"] == "ok")
        .collect();
    assert!(ok.iter().all(|x| x["verified"] == true), "{ok:?}");
    let mut ids: Vec<i64> = ok
        .iter()
        .map(|x| x["body"]["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, wanted, "each event once: {ok:?}");
    for x in &ok {
        assert_eq!(x["id"], format!("evt_{}", x["body"]["id"]));
        assert!(
            x["body"]["type"]
                .as_str()
                .unwrap()
                .starts_with("application.")
        );
    }
    // every attempt of one event carried the same webhook-id
    let all = r.received();
    for id in &wanted {
        let n = all
            .iter()
            .filter(|x| x["id"] == format!("evt_{id}"))
            .count();
        assert_eq!(n, 3, "three attempts of event {id}");
    }
    let d = deliveries(&env);
    assert!(
        d.iter()
            .all(|x| x["status"] == "delivered" && x["attempts"] == 3),
        "{d:?}"
    );
    assert_eq!(
        scalar(&env, "SELECT COUNT(*) FROM webhook_deliveries"),
        4,
        "the posting event was filtered out"
    );
}

#[test]
fn dead_deliveries_are_listed_and_retried_and_the_guard_refuses_private_addresses() {
    needs!(Tool::StandardWebhooks);
    let (env, r, at) = webhook_env("", 2, true);
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    settle(&env);
    env.ok(&["--now", &at("0"), "tick", "dispatch"]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    r.answer("500");
    settle(&env);
    env.ok(&["--now", &at("1"), "tick", "dispatch"]);
    settle(&env);
    env.ok(&["--now", &at("30"), "tick", "dispatch"]);
    let d = env.json(&["webhook", "list", "--status", "dead"]);
    assert_eq!(d.as_array().unwrap().len(), 1, "{d}");
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{d}"
    );
    let table = env.ok(&["webhook", "list"]);
    assert!(
        table.contains("dead") && table.contains("application.created"),
        "{table}"
    );
    // nothing more happens to a dead delivery…
    r.answer("ok");
    settle(&env);
    env.ok(&["--now", &at("600"), "tick", "dispatch"]);
    assert_eq!(r.received().len(), 2);
    // …until it is retried
    let err = env.fails(2, &["webhook", "retry", "999"]);
    assert!(err.contains("no webhook delivery with id 999"), "{err}");
    env.fails(2, &["webhook", "retry"]);
    let out = env.ok(&["--now", &at("600"), "webhook", "retry", "--all"]);
    assert!(out.contains("1 dead delivery queued again"), "{out}");
    settle(&env);
    env.ok(&["--now", &at("601"), "tick", "dispatch"]);
    let got = r.received();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2]["verified"], true);
    assert_eq!(deliveries(&env)[0]["status"], "delivered");

    // without the allow-list entry, loopback is refused before any request
    let (env, r, at) = webhook_env("", 3, false);
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    settle(&env);
    env.ok(&["--now", &at("0"), "tick", "dispatch"]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    settle(&env);
    env.ok(&["--now", &at("1"), "tick", "dispatch"]);
    assert!(r.received().is_empty());
    let d = deliveries(&env);
    assert!(
        d[0]["last_error"].as_str().unwrap().contains("refused"),
        "{d:?}"
    );
}

#[test]
fn a_bad_webhook_config_is_named() {
    let env = Env::with_config(
        "[[webhooks.out]]\nname = \"x\"\nurl = \"ftp://example.org\"\nsecret_file = \"none\"\nevents = [\"email.lost\"]\n",
    );
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("webhooks.out[0] (x).url"), "{err}");
    assert!(err.contains("`email.lost`"), "{err}");
    let env = Env::with_config(
        "[[webhooks.out]]\nname = \"x\"\nurl = \"https://example.org/h\"\nsecret_file = \"none\"\n",
    );
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("webhooks.out (x).secret_file"), "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn a_failed_job_run_is_an_event() {
    let env = Env::with_config(
        "[mail]\ntransport = \"file\"\n[mail.file]\ndir = \"/proc/atsd-outbox\"\n",
    );
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    env.fails(1, &["--now", T0, "tick", "dispatch"]);
    let failed = lines(&feed(&env, &["events", "--type", "job.failed"]));
    assert_eq!(failed.len(), 1, "{failed:?}");
    let d = &failed[0]["data"];
    assert_eq!(d["job"], "dispatch");
    assert_eq!(d["outcome"], "failed");
    assert_eq!(d["scheduled_for"], "2026-11-25T09:00:00Z");
    assert!(
        d["error"].as_str().unwrap().contains("/proc/atsd-outbox"),
        "{d}"
    );
}

/// On PostgreSQL an event id is taken before its transaction commits: a
/// reader must not pass an event whose transaction is still open, even when
/// a later one has committed.
#[test]
fn the_feed_never_passes_an_event_still_to_commit() {
    use atsd::store::events::{self, NewEvent, Position};
    use sea_orm::TransactionTrait;
    let env = Env::new();
    crate::common::block_on(async {
        let store = env.store().await;
        let ev = |n: i64| {
            NewEvent::new(
                "job.failed",
                crate::clock::now(),
                serde_json::json!({ "n": n }),
            )
        };
        let read = |from: Position| {
            let store = &store;
            async move { events::after(store.conn(), from, &[], 100).await.unwrap() }
        };
        if !env.db.is_postgres() {
            // one writer: ids commit in order
            events::record(store.conn(), vec![ev(1), ev(2)])
                .await
                .unwrap();
            let (got, _) = read(Position::default()).await;
            assert_eq!(got.len(), 2);
            return;
        }
        let first = store.conn().begin().await.unwrap();
        events::record(&first, vec![ev(1)]).await.unwrap();
        let second = store.conn().begin().await.unwrap();
        events::record(&second, vec![ev(2)]).await.unwrap();
        second.commit().await.unwrap();
        // the second is committed, but the first (lower id) is still open
        let (got, at) = read(Position::default()).await;
        assert!(got.is_empty(), "read past an open transaction: {got:?}");
        first.commit().await.unwrap();
        // both committed: readable once the cluster's older write
        // transactions (other tests') have ended
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let got = loop {
            let (got, _) = read(at).await;
            if got.len() == 2 || std::time::Instant::now() > deadline {
                break got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let ns: Vec<i64> = got.iter().map(|e| e.data["n"].as_i64().unwrap()).collect();
        assert_eq!(ns, [1, 2]);
    });
}

/// The rules' bulk moves write their events in SQL: the same JSON as a
/// move from the command line.
#[test]
fn a_rule_move_is_the_same_event_as_a_command_line_move() {
    let env = Env::with_config(
        "[mail]\ntransport = \"log\"\n[[rules]]\nname = \"stale\"\nstage = \"applied\"\nafter = \"14d\"\n\
         move_to = \"rejected\"\nreason = \"no_response\"\nemail = \"\"\n",
    );
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    env.ok(&[
        "--now",
        T0,
        "apply",
        "1",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
        "--no-email",
    ]);
    env.ok(&[
        "--now",
        T0,
        "apply",
        "1",
        "--name",
        "Bob",
        "--email",
        "bob@example.org",
        "--no-email",
    ]);
    env.ok(&[
        "--now",
        T0,
        "application",
        "move",
        "2",
        "screening",
        "--reason",
        "it's \"great\"",
    ]);
    env.ok(&["--now", "2026-12-10T09:00:00Z", "tick", "advance"]);
    let moved = lines(&feed(&env, &["events", "--type", "application.moved"]));
    assert_eq!(moved.len(), 2, "{moved:?}");
    let by_rule = &moved[1];
    assert_eq!(by_rule["timestamp"], "2026-12-10T09:00:00Z", "{by_rule}");
    let transition = scalar(&env, "SELECT MAX(id) FROM transitions");
    assert_eq!(
        by_rule["data"],
        serde_json::json!({
            "actor": "rule:stale",
            "application_id": 1,
            "from": "applied",
            "posting_id": 1,
            "reason": "no_response",
            "to": "rejected",
            "transition_id": transition,
        })
    );
    // the command line's, with a quoted reason, has the same keys
    let by_hand = &moved[0]["data"];
    assert_eq!(by_hand["reason"], "it's \"great\"");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(by_hand), keys(&by_rule["data"]));
}

/// Retention scrubs the people's words from the events as it does from the
/// transitions they copy; a rule's reason (configuration) stays.
#[test]
fn retention_scrubs_the_reasons_people_wrote_in_events() {
    let env = Env::with_config(
        "[mail]\ntransport = \"log\"\n[retention]\nanonymize_after = \"30d\"\n\
         [[rules]]\nname = \"stale\"\nstage = \"applied\"\nafter = \"14d\"\nmove_to = \"rejected\"\n\
         reason = \"no_response\"\nemail = \"\"\n",
    );
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    for (who, email) in [("Ada", "ada@example.org"), ("Bob", "bob@example.org")] {
        env.ok(&[
            "--now",
            T0,
            "apply",
            "1",
            "--name",
            who,
            "--email",
            email,
            "--no-email",
        ]);
    }
    env.ok(&[
        "--now",
        T0,
        "application",
        "move",
        "1",
        "rejected",
        "--reason",
        "Ada called from +49 170 1234567",
        "--no-email",
    ]);
    env.ok(&["--now", "2026-12-10T09:00:00Z", "tick", "advance"]);
    let before = feed(&env, &["events"]);
    assert!(before.contains("+49 170 1234567"), "{before}");
    env.ok(&["--now", "2027-02-01T09:00:00Z", "tick", "retention"]);
    let after = lines(&feed(&env, &["events", "--type", "application.moved"]));
    let reason = |app: i64| {
        after
            .iter()
            .find(|e| e["data"]["application_id"] == app)
            .map(|e| e["data"]["reason"].clone())
            .unwrap()
    };
    assert_eq!(reason(1), "[anonymized]", "{after:?}");
    assert_eq!(reason(2), "no_response", "{after:?}");
    let all = feed(&env, &["events"]);
    assert!(!all.contains("1234567"), "{all}");
}

/// Retention deletes events older than `events_after` and the finished
/// deliveries with them, never one a delivery still waits for; a reader
/// resuming past a removed id starts at the oldest kept.
#[test]
fn old_events_are_removed_unless_a_delivery_waits_for_them() {
    needs!(Tool::StandardWebhooks);
    let (env, r, at) = webhook_env("[retention]\nevents_after = \"30d\"\n", 12, true);
    // every step on the test's clock: the posting's event too, so that "40
    // days later" is 40 days after all of them, whatever today's date
    env.ok(&[
        "--now",
        &at("-1"),
        "posting",
        "add",
        "https://boards.greenhouse.io/acme/jobs/1",
    ]);
    settle(&env);
    env.ok(&["--now", &at("0"), "tick", "dispatch"]);
    env.ok(&[
        "--now",
        &at("1"),
        "apply",
        "1",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
        "--no-email",
    ]);
    settle(&env);
    env.ok(&["--now", &at("2"), "tick", "dispatch"]);
    // one delivered, one still waiting (the receiver fails)
    r.answer("500");
    env.ok(&[
        "--now",
        &at("3"),
        "apply",
        "1",
        "--name",
        "Bob",
        "--email",
        "bob@example.org",
        "--no-email",
    ]);
    settle(&env);
    env.ok(&["--now", &at("4"), "tick", "dispatch"]);
    let first = lines(&feed(&env, &["events"]))[0]["id"].as_i64().unwrap();
    let before = scalar(&env, "SELECT COUNT(*) FROM events");
    // 40 days later
    let out = env.ok(&[
        "--now",
        &at(&(40 * 24 * 60).to_string()),
        "tick",
        "retention",
    ]);
    assert!(out.contains("old event(s) removed"), "{out}");
    let kept = lines(&feed(&env, &["events"]));
    assert_eq!(kept.len(), 1, "only Bob's, still to deliver: {kept:?}");
    assert_eq!(kept[0]["type"], "application.created");
    assert!(before > 1);
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'"
        ),
        0
    );
    // resuming after a removed id starts at what is kept
    let (code, out, err) = {
        settle(&env);
        env.run(&["events", "--since", &first.to_string()])
    };
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines(&out), kept);
    assert!(err.contains("removed by retention"), "{err}");
    // and the waiting one is still delivered
    r.answer("ok");
    env.ok(&[
        "--now",
        &at(&(41 * 24 * 60).to_string()),
        "tick",
        "dispatch",
    ]);
    assert_eq!(deliveries(&env)[0]["status"], "delivered");
}

/// Each email the dispatcher sends is one `email.sent` event, however many
/// go out in one recorded batch.
#[test]
fn every_email_sent_is_one_event() {
    let env = Env::with_config("[mail]\ntransport = \"log\"\n");
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    for i in 0..12 {
        env.ok(&[
            "apply",
            "1",
            "--name",
            "Ada",
            "--email",
            &format!("ada{i}@example.org"),
        ]);
    }
    settle(&env);
    env.ok(&["tick", "dispatch"]);
    settle(&env);
    env.ok(&["tick", "dispatch"]);
    let sent = lines(&feed(&env, &["events", "--type", "email.sent"]));
    assert_eq!(sent.len(), 12, "{sent:?}");
    let mut ids: Vec<i64> = sent
        .iter()
        .map(|e| e["data"]["email_id"].as_i64().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    for e in &sent {
        assert_eq!(e["data"]["template"], "application_received");
        assert!(
            e["data"]["message_id"]
                .as_str()
                .unwrap()
                .starts_with("<atsd."),
            "{e}"
        );
        assert!(e["data"]["application_id"].as_i64().is_some(), "{e}");
    }
    assert_eq!(
        scalar(&env, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'"),
        12
    );
}

/// On an idle daemon (its dispatch scheduled once a year), a new event
/// wakes the outgoing webhooks: it reaches its endpoint at once, not at the
/// next dispatch occurrence — told by PostgreSQL's `NOTIFY atsd_events`, or
/// seen in the event log every second (SQLite, or an event written by
/// another process). The latency is printed (measured, not asserted).
#[test]
fn a_new_event_wakes_the_outgoing_webhooks_of_an_idle_daemon() {
    needs!(Tool::StandardWebhooks);
    let (env, r, _) = webhook_env(
        "[schedule]\npoll = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n\
         digest = \"0 0 1 1 *\"\nretention = \"0 0 1 1 *\"\n",
        12,
        true,
    );
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    let log = env.path("daemon.log");
    let mut child = env
        .std_cmd()
        .env("ATSD_LOG", "info,atsd::daemon=debug")
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait_for = |what: &dyn Fn(&str) -> bool, limit: u64| {
        let t = Instant::now();
        while !what(&read()) && t.elapsed() < Duration::from_secs(limit) {
            std::thread::sleep(Duration::from_millis(20));
        }
        what(&read())
    };
    assert!(
        wait_for(&|l| l.contains("scheduler started"), 30),
        "{}",
        read()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let before = r.received().len();
    let t = Instant::now();
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
        "--no-email",
    ]);
    while r.received().len() == before && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let latency = t.elapsed();
    crate::daemon::term(&child);
    let (code, _) = crate::daemon::wait_exit(&mut child, Duration::from_secs(15));
    assert_eq!(code, Some(0), "{}", read());
    let got = r.received();
    assert_eq!(got.len(), before + 1, "the event arrived: {}", read());
    assert_eq!(
        got[before]["body"]["type"], "application.created",
        "{got:?}"
    );
    eprintln!(
        "webhook wake-up ({}): the event reached its endpoint {} ms after the command began",
        if env.db.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        latency.as_millis()
    );
}
