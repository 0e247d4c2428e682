//! The email fault tests of ../shared/RELIABILITY-TESTS.md: a connection lost
//! after the final dot (T3), reply classification (T4), an SMTP outage (T5),
//! a slow server (T6), body smuggling (T16) and kill -9 during dispatch (T2).
//! Time moves by `--now`; nothing here asserts how long anything took.

use crate::common::{Env, NOW, Rng};
use crate::mail::{dispatch, email, env_with, t};
use crate::smtp::{Sink, free_port, message_id};
use crate::tools::{Tool, needs};
use mail_parser::MessageParser;
use serde_json::Value;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Queues one `application_received` email per address (a CSV import with
/// `--send-emails`), addressed to `{local(i)}@example.org`.
fn queue(env: &Env, n: usize, local: impl Fn(usize) -> String) {
    let mut csv = String::from("posting,name,email,locale,timezone,stage,applied_at\n");
    for i in 0..n {
        csv.push_str(&format!(
            "https://boards.greenhouse.io/acme/jobs/1,Candidate {i},{}@example.org,en,,,2026-11-20\n",
            local(i)
        ));
    }
    let file = env.write("queue.csv", &csv);
    env.ok(&[
        "--now",
        NOW,
        "application",
        "import",
        file.to_str().unwrap(),
        "--send-emails",
    ]);
}

/// `tick dispatch` at minute `min`: (report, stderr).
fn dispatch_logged(env: &Env, min: i64) -> (Value, String) {
    let (code, out, err) = env.run(&["--json", "--now", &t(min), "tick", "dispatch"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        !err.contains('\x1b'),
        "no colour codes in logs to a pipe: {err:?}"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    (v["dispatch"].clone(), err)
}

fn statuses(env: &Env) -> std::collections::BTreeMap<String, usize> {
    let mut by = std::collections::BTreeMap::new();
    for row in env.json(&["mail", "list"]).as_array().unwrap() {
        *by.entry(row["status"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    by
}

/// A message without its Date header: what a resend must repeat exactly.
fn without_date(m: &Value) -> String {
    m["data"]
        .as_str()
        .unwrap()
        .split("\r\n")
        .filter(|l| !l.starts_with("Date: "))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// T3: the server stores the message, then hangs up before its reply to the
/// final dot. The row is retried — it may be a duplicate, and is reported as
/// one — and the resend is the same message.
#[test]
fn a_connection_lost_after_the_final_dot_is_retried_and_reported() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = env_with(sink.port, 2, "none", "");
    queue(&env, 100, |i| {
        if i % 10 == 9 {
            format!("dropafterdata-{i}")
        } else {
            format!("c{i}")
        }
    });
    let (r, err) = dispatch_logged(&env, 1);
    assert_eq!(r["sent"], 90, "{r}");
    assert_eq!(r["retried"], 10, "{r}");
    assert_eq!(r["possible_duplicates"], 10, "{r}");
    assert_eq!(err.matches("may get this email twice").count(), 10, "{err}");
    let r = dispatch(&env, 60);
    assert_eq!(r["sent"], 10, "{r}");
    assert_eq!(statuses(&env).get("sent"), Some(&100));

    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), 100);
    assert_eq!(copies.values().filter(|c| **c == 2).count(), 10);
    assert_eq!(copies.values().filter(|c| **c == 1).count(), 90);
    let msgs = sink.messages();
    for (id, _) in copies.iter().filter(|(_, c)| **c == 2) {
        let pair: Vec<&Value> = msgs.iter().filter(|m| message_id(m) == *id).collect();
        assert_eq!(without_date(pair[0]), without_date(pair[1]), "{id}");
    }
}

/// T4 (c): 550 to MAIL, then the server hangs up: dead after one attempt
/// with the 550 kept, whether the commands were pipelined or not.
#[test]
fn a_refused_sender_then_a_hang_up_is_dead_with_the_550() {
    needs!(Tool::Smtp);
    for flags in [
        &["--refuse-mail"][..],
        &["--refuse-mail", "--no-pipelining"],
    ] {
        let sink = Sink::start_with(free_port(), flags);
        let env = env_with(sink.port, 1, "none", "");
        queue(&env, 1, |_| "ada".into());
        let r = dispatch(&env, 1);
        assert_eq!(r["dead"], 1, "{flags:?}: {r}");
        let row = email(&env, 1);
        assert_eq!(row["attempts"], 1, "{flags:?}: {row}");
        assert!(
            row["last_error"].as_str().unwrap().contains("550"),
            "{flags:?}: {row}"
        );
    }
}

/// T4 (d): nothing listens: retried with growing gaps, dead only once
/// `max_attempts` (5 here) are used, the connection error kept.
#[test]
fn a_closed_port_is_retried_until_max_attempts() {
    let env = env_with(free_port(), 1, "none", "");
    queue(&env, 1, |_| "ada".into());
    let mut at = 1;
    for attempt in 1..=5 {
        let r = dispatch(&env, at);
        let row = email(&env, 1);
        assert_eq!(row["attempts"], attempt, "{r} {row}");
        let err = row["last_error"].as_str().unwrap().to_lowercase();
        assert!(
            err.contains("connection") && err.contains("refused"),
            "{err}"
        );
        if attempt < 5 {
            assert_eq!(row["status"], "pending", "{row}");
            let next =
                chrono::DateTime::parse_from_rfc3339(row["next_attempt_at"].as_str().unwrap())
                    .unwrap();
            let now = chrono::DateTime::parse_from_rfc3339(&t(at)).unwrap();
            at += (next - now).num_minutes() + 1;
        } else {
            assert_eq!(row["status"], "dead", "{row}");
            assert!(err.contains("gave up after 5 attempts"), "{err}");
        }
    }
}

/// T4 (e): implicit TLS against a plain SMTP port: retried, with a TLS error.
#[test]
fn tls_to_a_plain_port_is_retried_with_a_tls_error() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = env_with(sink.port, 1, "tls", "");
    queue(&env, 1, |_| "ada".into());
    let (r, err) = dispatch_logged(&env, 1);
    assert_eq!(r["retried"], 1, "{r}");
    assert!(err.contains("mail transport unavailable"), "{err}");
    let row = email(&env, 1);
    assert_eq!(row["status"], "pending");
    let e = row["last_error"].as_str().unwrap().to_lowercase();
    assert!(e.contains("tls"), "{e}");
    assert!(sink.messages().is_empty());
}

/// A server that answers every connection `421` and hangs up, counting them.
struct Outage {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Outage {
    fn start() -> Outage {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (connections.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(mut conn) = conn {
                    c.fetch_add(1, Ordering::SeqCst);
                    let _ = conn.write_all(b"421 4.3.2 Service not available\r\n");
                }
            }
        });
        Outage {
            port,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops listening; returns how many connections came.
    fn end(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.connections.load(Ordering::SeqCst)
    }
}

/// T5: six hours of outage with a dispatch every 10 minutes: no email dies,
/// the server is asked once per run (not once per email per run), and once
/// it is back every email goes out exactly once.
#[test]
fn an_outage_costs_one_connection_per_run_and_no_email() {
    needs!(Tool::Smtp);
    let outage = Outage::start();
    let port = outage.port;
    let env = env_with(port, 1, "none", "");
    queue(&env, 500, |i| format!("c{i}"));
    let runs = 36;
    for k in 0..runs {
        let (r, _) = dispatch_logged(&env, 1 + 10 * k);
        assert_eq!(r["dead"], 0, "run {k}: {r}");
        assert_eq!(r["sent"], 0, "run {k}: {r}");
    }
    let connections = outage.end();
    assert!(
        (1..=runs as usize).contains(&connections),
        "{connections} connections in {runs} runs"
    );
    assert_eq!(statuses(&env).get("pending"), Some(&500));

    let sink = Sink::start(port);
    // the emails that failed during the outage wait out their backoff
    let mut sent = 0;
    for min in [1 + 10 * runs, 1 + 10 * runs + 6 * 60 + 30] {
        sent += dispatch(&env, min)["sent"].as_u64().unwrap();
    }
    assert_eq!(sent, 500);
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), 500);
    assert!(copies.values().all(|c| *c == 1));
}

/// T6: a server that takes longer than `timeout` to answer the final dot: the
/// run returns, the rows are retried (reported as possible duplicates: the
/// server did store them), and a later run delivers them.
#[test]
fn a_server_slower_than_the_timeout_does_not_hang_the_run() {
    needs!(Tool::Smtp);
    let sink = Sink::start_with(free_port(), &["--slow", "2"]);
    let env = env_with(sink.port, 5, "none", "");
    let config = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace("timeout = \"5s\"", "timeout = \"1s\"");
    std::fs::write(&env.config, config).unwrap();
    queue(&env, 5, |i| format!("slowdata-{i}"));
    let (r, err) = dispatch_logged(&env, 1);
    assert_eq!(r["retried"], 5, "{r}");
    assert_eq!(r["possible_duplicates"], 5, "{r}");
    assert_eq!(err.matches("may get this email twice").count(), 5, "{err}");
    assert!(
        email(&env, 1)["last_error"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
    let r = dispatch(&env, 60);
    assert_eq!(r["sent"], 5, "{r}");
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), 5);
    assert!(copies.values().all(|c| *c == 2), "{copies:?}");
}

/// T16: free text that looks like SMTP (a dot line, commands, lone CRs)
/// reaches the recipient as text and never as commands.
#[test]
fn smtp_commands_in_free_text_stay_text() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = env_with(sink.port, 1, "none", "");
    let cfg = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(&env.config, format!("[templates]\ndir = \"tpl\"\n{cfg}")).unwrap();
    env.write(
        "tpl/en/interview_invitation.txt",
        "Note: {{ reason }}\nEnd of note\n",
    );
    let reasons = [
        "ok\n.\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nevil\n.\n",
        "x\r\n.\r\nQUIT\r\n",
        "x\r.\rMAIL FROM:<a@b>\r",
    ];
    queue(&env, reasons.len(), |i| format!("c{i}"));
    for (i, reason) in reasons.iter().enumerate() {
        let id = (i + 1).to_string();
        env.ok(&["--now", NOW, "application", "move", &id, "screening"]);
        env.ok(&[
            "--now",
            NOW,
            "application",
            "move",
            &id,
            "interview",
            "--reason",
            reason,
        ]);
    }
    let r = dispatch(&env, 1);
    assert_eq!(r["sent"], 6, "{r}");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 6, "one message per outbox row");
    for m in &msgs {
        assert_eq!(m["rcpt_tos"].as_array().unwrap().len(), 1);
        assert_ne!(m["rcpt_tos"][0], "c@d");
    }
    let notes: Vec<String> = msgs
        .iter()
        .filter_map(|m| {
            let raw: Vec<u8> = m["data"]
                .as_str()
                .unwrap()
                .chars()
                .map(|c| c as u8)
                .collect();
            let parsed = MessageParser::default().parse(&raw[..])?;
            // line ends arrive as CRLF; compare as lines
            let text = parsed.body_text(0)?.replace("\r\n", "\n");
            text.contains("Note:").then_some(text)
        })
        .collect();
    assert_eq!(notes.len(), 3);
    for text in &notes {
        assert!(
            text.contains("End of note"),
            "the whole body arrived: {text:?}"
        );
        assert!(!text.contains('\r'), "no lone CR: {text:?}");
    }
    assert!(
        notes
            .iter()
            .any(|n| n.contains("\n.\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nevil\n.\n"))
    );
    assert!(notes.iter().any(|n| n.contains("x\n.\nQUIT\n")));
    // the lone CRs became line breaks
    assert!(notes.iter().any(|n| n.contains("x\n.\nMAIL FROM:<a@b>")));
}

/// T2: `tick dispatch` killed with SIGKILL at seeded random points (after
/// 50–450 messages reached the server), then run to completion, at no rate cap (the hard case: every connection sends as
/// fast as it can). Every email arrives; an email arrives twice only if it
/// had begun to go out without its outcome recorded when a kill came, and
/// then a warning named it; the warnings are exactly those emails, counted
/// in the database right after each kill; nothing is dead or stuck.
/// `record = "each"` (the default): at most two duplicates per connection
/// and kill (unpaced, a connection's next mark is committed while its email
/// is on the wire). 3 kills by default, 20 with RELIABILITY=1;
/// ATSD_TEST_SEED replays a run.
#[test]
fn kill_9_during_dispatch_resends_only_what_was_on_the_wire() {
    needs!(Tool::Smtp);
    let t2 = kill_dispatch_rounds("each");
    assert!(
        t2.duplicates <= t2.kills * 4 * 2,
        "{} duplicates > 2 x 4 connections x {} kills: {}",
        t2.duplicates,
        t2.kills,
        t2.ctx
    );
}

/// T2 with `record = "batched"`: every claimed row counts as going out, so
/// a kill may resend up to UNRECORDED_PER_CONNECTION emails per connection,
/// each warned of.
#[test]
fn kill_9_during_batched_dispatch_warns_of_every_duplicate() {
    needs!(Tool::Smtp);
    let t2 = kill_dispatch_rounds("batched");
    let bound = t2.kills * 4 * atsd::mail::dispatch::UNRECORDED_PER_CONNECTION;
    assert!(
        t2.duplicates <= bound,
        "{} duplicates > {bound}: {}",
        t2.duplicates,
        t2.ctx
    );
}

struct KillRounds {
    kills: usize,
    duplicates: usize,
    ctx: String,
}

fn kill_dispatch_rounds(record: &str) -> KillRounds {
    let rounds = if std::env::var("RELIABILITY").is_ok() {
        20
    } else {
        3
    };
    let mut rng = Rng::from_env();
    let seed = rng.0;
    let sink = Sink::start(free_port());
    let env = env_with(sink.port, 4, "none", "");
    let config = std::fs::read_to_string(&env.config).unwrap().replace(
        "rate_per_second = 0",
        &format!("rate_per_second = 0\nrecord = \"{record}\""),
    );
    std::fs::write(&env.config, config).unwrap();
    // each run is killed once the sink has taken 50–450 more messages, so
    // every kill lands mid-stream with work left
    let n = 600 * rounds;
    queue(&env, n, |i| format!("c{i}"));
    let log = env.path("dispatch.log");
    let mut kills = 0;
    // emails that had begun to go out, without their outcome, at each kill
    let mut on_the_wire = 0;
    for round in 0..rounds {
        // each run starts 10 minutes later: the leases of the killed one are over
        let now = t(1 + 10 * round as i64);
        let before = sink.count();
        let mut child = env
            .std_cmd()
            .args(["--now", &now, "tick", "dispatch"])
            .stdout(std::process::Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .unwrap();
        let more = 50 + rng.below(400) as usize;
        let t = std::time::Instant::now();
        while sink.count() < before + more
            && child.try_wait().unwrap().is_none()
            && t.elapsed() < std::time::Duration::from_secs(60)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        on_the_wire += crate::common::scalar(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE status = 'sending' AND data_at IS NOT NULL",
        ) as usize;
    }
    assert_eq!(
        kills, rounds,
        "every run was killed mid-stream (seed {seed})"
    );
    // then to completion
    let (r, err) = dispatch_logged(&env, 1 + 10 * rounds as i64 + 10);
    let log = std::fs::read_to_string(&log).unwrap() + &err;
    let ctx = format!("record = {record}, seed {seed}, {kills} kills, last run {r}");

    let rows = env.json(&["mail", "list"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), n, "{ctx}");
    assert!(rows.iter().all(|r| r["status"] == "sent"), "{ctx}");
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), n, "every email arrived: {ctx}");
    let warned: Vec<i64> = log
        .lines()
        .filter(|l| l.contains("may get this email twice"))
        .filter_map(|l| {
            let rest = &l[l.find("outbox=")? + "outbox=".len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    let warned_set: std::collections::HashSet<i64> = warned.iter().copied().collect();
    let mut duplicates = 0;
    for row in rows {
        let c = copies[row["message_id"].as_str().unwrap()];
        if c > 1 {
            duplicates += c - 1;
            let id = row["id"].as_i64().unwrap();
            assert!(
                warned_set.contains(&id),
                "email {id} arrived {c} times unannounced: {ctx}"
            );
        }
    }
    // one warning for each email that had begun to go out, and no other
    assert_eq!(
        warned.len(),
        on_the_wire,
        "warnings against emails on the wire at the kills: {ctx}"
    );
    eprintln!(
        "T2: {ctx}: {duplicates} duplicate deliveries, {} warnings, {on_the_wire} emails on the wire at the kills",
        warned.len()
    );
    KillRounds {
        kills,
        duplicates,
        ctx,
    }
}
