//! Mail that comes back, on both engines, through `atsd mail receive` with
//! a real SMTP server on loopback for what atsd sends: the VERP envelope
//! sender and the Reply-To of what goes out; a permanent bounce marks the
//! address and holds what follows until the address is corrected; a
//! temporary one changes nothing; a reply is stored and forwarded; an
//! out-of-office is recorded and never answered; forged tags, a report that
//! names nothing atsd sent, malformed and oversized mail are refused or
//! quarantined, each with nothing else changed; the same message twice
//! acts once.

use crate::api::Api;
use crate::common::{Env, scalar};
use crate::daemon::rows;
use crate::smtp::{Sink, free_port, message_id};
use crate::tools::{Tool, needs, python};
use std::io::Write;

pub(crate) const DOMAIN: &str = "jobs.example.org";

pub(crate) fn inbound_env(port: u16) -> Env {
    inbound_env_with(port, "", "")
}

/// With `inbound` lines in `[mail.inbound]` and `extra` tables after.
pub(crate) fn inbound_env_with(port: u16, inbound: &str, extra: &str) -> Env {
    let env = Env::with_config(&format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"Jobs <jobs@example.org>\"\nrate_per_second = 0\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout = \"5s\"\n\
         [mail.inbound]\ndomain = \"{DOMAIN}\"\nkey_file = \"inbound.key\"\nmax_size = \"1MiB\"\n{inbound}\
         [recruiters]\nemails = [\"recruiting@example.org\"]\n{extra}"
    ));
    env.write(
        "inbound.key",
        "an-inbound-key-of-more-than-32-bytes-0123456789\n",
    );
    env.add_posting(1, "Platform Engineer");
    env
}

/// `atsd mail receive [--recipient to]` with `raw` on standard input.
pub(crate) fn receive(env: &Env, to: Option<&str>, raw: &[u8]) -> (i32, String, String) {
    let mut c = env.std_cmd();
    c.args(["mail", "receive"]);
    if let Some(t) = to {
        c.args(["--recipient", t]);
    }
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run atsd mail receive");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // a refused message may be cut short: the pipe closes early
        let _ = stdin.write_all(raw);
    }
    let out = child.wait_with_output().expect("atsd mail receive ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Everything a message could change.
pub(crate) fn state(env: &Env) -> Vec<Vec<String>> {
    let mut all = rows(env, "SELECT id, status, recipient FROM outbox ORDER BY id");
    all.extend(rows(
        env,
        "SELECT address FROM undeliverable_addresses ORDER BY address",
    ));
    all.extend(rows(env, "SELECT COUNT(*) FROM events"));
    all.extend(rows(env, "SELECT id, stage FROM applications ORDER BY id"));
    all.extend(rows(
        env,
        "SELECT id, kind, status FROM inbound_messages ORDER BY id",
    ));
    all
}

/// A delivery report from the candidate's mail system, as Postfix writes
/// one: for `rcpt`, returning the headers of `returned`.
pub(crate) fn dsn(
    to: &str,
    rcpt: &str,
    returned: &str,
    action: &str,
    status: &str,
    id: &str,
) -> String {
    format!(
        "Return-Path: <>\r\n\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n\
To: {to}\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <{id}@mx.example.net>\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"RB\"\r\n\
\r\n\
--RB\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
This is the mail system at host mx.example.net.\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
\r\n\
--RB\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.net\r\n\
\r\n\
Final-Recipient: rfc822; {rcpt}\r\n\
Original-Recipient: rfc822;{rcpt}\r\n\
Action: {action}\r\n\
Status: {status}\r\n\
Diagnostic-Code: smtp; 550 {status} <{rcpt}>: Recipient address rejected:\r\n\
\x20   User unknown in virtual mailbox table\r\n\
\r\n\
--RB\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: Jobs <jobs@example.org>\r\n\
To: {rcpt}\r\n\
Subject: Your application\r\n\
Message-ID: {returned}\r\n\
\r\n\
--RB--\r\n"
    )
}

/// `report` with an `Original-Envelope-Id` in its per-message fields.
fn with_envelope_id(report: &str, envid: &str) -> String {
    report.replacen(
        "Reporting-MTA: dns; mx.example.net\r\n",
        &format!("Reporting-MTA: dns; mx.example.net\r\nOriginal-Envelope-Id: {envid}\r\n"),
        1,
    )
}

/// A candidate applied (with `extra` tables in the configuration) and their
/// acknowledgement went out: the SMTP server, the environment and that
/// message.
fn acknowledged(name: &str, email: &str, extra: &str) -> (Sink, Env, serde_json::Value) {
    let sink = Sink::start(free_port());
    let env = inbound_env_with(sink.port, "", extra);
    env.ok(&["apply", "1", "--name", name, "--email", email]);
    env.ok(&["tick", "dispatch"]);
    let first = sink.messages().pop().expect("the acknowledgement went");
    (sink, env, first)
}

fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[test]
fn a_permanent_bounce_marks_the_address_and_holds_what_follows_until_it_is_corrected() {
    needs!(Tool::Smtp);
    let (sink, env, first) = acknowledged(
        "Ada Gone",
        "ada@gone.example.net",
        "[schedule]\ndigest = \"0 9 * * *\"\n",
    );
    // the envelope sender names the row; Reply-To the application
    let verp = first["mail_from"].as_str().unwrap_or_default().to_string();
    assert!(
        verp.starts_with("bounces+1-") && verp.ends_with(&format!("@{DOMAIN}")),
        "{verp}"
    );
    let data = first["data"].as_str().unwrap_or_default();
    let reply_to = header(data, "Reply-To").unwrap_or_default();
    assert!(
        reply_to.starts_with("reply+1-") && reply_to.ends_with(DOMAIN),
        "{reply_to}"
    );
    // an acknowledgement is a person's action: no Auto-Submitted
    assert_eq!(header(data, "Auto-Submitted"), None, "{data}");
    let returned = message_id(&first);

    // a temporary failure first: recorded, nothing changes
    let before = state(&env);
    let delayed = dsn(
        &verp,
        "ada@gone.example.net",
        &returned,
        "delayed",
        "4.4.1",
        "d1",
    );
    let (code, out, err) = receive(&env, Some(&verp), delayed.as_bytes());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("temporary failure"), "{out}");
    let mut after = state(&env);
    let recorded = after.pop().expect("the inbound row");
    assert_eq!(
        recorded[1..],
        ["bounce".to_string(), "temporary".to_string()]
    );
    assert_eq!(after, before, "a temporary failure changes nothing");

    // then the permanent one
    let failed = dsn(
        &verp,
        "ada@gone.example.net",
        &returned,
        "failed",
        "5.1.1",
        "f1",
    );
    let (code, out, err) = receive(&env, Some(&verp), failed.as_bytes());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("permanent bounce"), "{out}");
    assert_eq!(
        rows(&env, "SELECT status FROM outbox WHERE id = 1"),
        [["bounced"]]
    );
    let marks = env.json(&["mail", "undeliverable", "list"]);
    assert_eq!(marks[0]["address"], "ada@gone.example.net", "{marks}");
    assert_eq!(marks[0]["dsn_status"], "5.1.1");
    assert!(
        marks[0]["diagnostic"]
            .as_str()
            .unwrap_or_default()
            .contains("User unknown"),
        "{marks}"
    );
    let events = env.ok(&["events", "--type", "email.bounced", "--json"]);
    assert!(
        events.contains("\"outbox_id\":1") && events.contains("5.1.1"),
        "{events}"
    );
    // an event names ids, never the address
    assert!(!events.contains("ada@gone.example.net"), "{events}");

    // delivered again by a retrying MTA: stored once, acted on once
    let settled = state(&env);
    let (code, out, _) = receive(&env, Some(&verp), failed.as_bytes());
    assert_eq!(code, 0);
    assert!(out.contains("nothing done again"), "{out}");
    assert_eq!(state(&env), settled);

    // the next email to her is held, visibly, not sent and not lost
    env.ok(&["application", "move", "1", "screening"]);
    env.ok(&["application", "move", "1", "interview"]);
    env.ok(&["tick", "dispatch"]);
    assert_eq!(sink.count(), 1, "nothing more went to the dead address");
    assert_eq!(
        rows(&env, "SELECT id, status, template FROM outbox ORDER BY id"),
        [
            ["1", "bounced", "application_received"],
            ["2", "held", "interview_invitation"]
        ]
    );
    let listed = env.ok(&["mail", "list", "--status", "held"]);
    assert!(listed.contains("undeliverable"), "{listed}");

    // the recruiter's next digest names her address, the posting and what
    // waits for it
    let now = crate::clock::now();
    let mut nine = now
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .expect("09:00")
        .and_utc();
    if nine <= now {
        nine += chrono::Duration::days(1);
    }
    let at = (nine + chrono::Duration::minutes(30)).to_rfc3339();
    let v = env.json(&["--now", &at, "tick", "digest"]);
    assert_eq!(v["digest"]["bounced"], 1, "{v}");
    let digest = rows(
        &env,
        "SELECT b.subject, b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
         WHERE o.template = 'recruiter_digest'",
    );
    assert_eq!(
        digest[0][0],
        "Recruiting digest for Example Org: 1 new, 0 waiting, 1 bounced"
    );
    assert!(
        digest[0][1].contains(
            "Emails that bounced (the address is undeliverable): 1\n  \
             - Ada Gone <ada@gone.example.net>: Platform Engineer (5.1.1), emails held: 1\n"
        ),
        "{}",
        digest[0][1]
    );
    // nothing bounced since: the following digest has no such section
    let v = env.json(&[
        "--now",
        &(nine + chrono::Duration::days(1) + chrono::Duration::minutes(30)).to_rfc3339(),
        "tick",
        "digest",
    ]);
    assert_eq!(v["digest"]["bounced"], 0, "{v}");

    // her new address: what was held goes there
    let out = env.ok(&[
        "candidate",
        "set-email",
        "ada@gone.example.net",
        "ada@here.example.net",
    ]);
    assert!(out.contains("1 held email"), "{out}");
    env.ok(&["tick", "dispatch"]);
    assert_eq!(sink.count(), 2);
    let last = sink.messages().pop().expect("the held email");
    assert_eq!(last["rcpt_tos"][0], "ada@here.example.net");
    assert_eq!(
        rows(
            &env,
            "SELECT id, status FROM outbox WHERE template <> 'recruiter_digest' ORDER BY id"
        ),
        [["1", "bounced"], ["2", "sent"]]
    );
}

/// A report that reaches atsd by another address than the bounce address
/// (a forwarder rewrote the envelope sender) and returns no Message-ID of
/// atsd's is matched by the envelope id atsd sent as ENVID.
#[test]
fn a_report_by_another_way_is_matched_by_its_original_envelope_id() {
    needs!(Tool::Smtp);
    let (sink, env, first) = acknowledged("Ada Gone", "ada@gone.example.net", "");
    let verp = first["mail_from"].as_str().unwrap_or_default().to_string();
    let envid = verp
        .trim_start_matches("bounces+")
        .trim_end_matches(&format!("@{DOMAIN}"))
        .to_string();
    let report = with_envelope_id(
        &dsn(
            "srs0=x@forwarder.example.net",
            "ada@gone.example.net",
            "<rewritten-by-a-list@lists.example.net>",
            "failed",
            "5.1.1",
            "e1",
        ),
        &envid,
    );
    let (code, out, err) = receive(&env, Some("postmaster@example.org"), report.as_bytes());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("permanent bounce"), "{out}");
    assert_eq!(
        rows(&env, "SELECT status FROM outbox WHERE id = 1"),
        [["bounced"]]
    );
    assert_eq!(
        rows(&env, "SELECT why FROM inbound_messages"),
        [["recognised by its delivery report's Original-Envelope-Id"]]
    );
    assert_eq!(
        rows(&env, "SELECT address FROM undeliverable_addresses"),
        [["ada@gone.example.net"]]
    );
    // what follows is held, until she applies again with the address: her
    // giving it again clears the mark, and the held email goes with the new
    // acknowledgement
    env.ok(&["application", "move", "1", "screening"]);
    env.ok(&["application", "move", "1", "interview"]);
    env.ok(&["tick", "dispatch"]);
    assert_eq!(sink.count(), 1);
    env.add_posting(2, "Data Engineer");
    let (code, out, err) = env.run(&[
        "apply",
        "2",
        "--name",
        "Ada Gone",
        "--email",
        "ada@gone.example.net",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("applying again clears the mark: 1 held email(s) will be sent"),
        "{err}"
    );
    assert!(rows(&env, "SELECT address FROM undeliverable_addresses").is_empty());
    env.ok(&["tick", "dispatch"]);
    assert_eq!(
        sink.count(),
        3,
        "the held invitation and the new acknowledgement"
    );
}

#[test]
fn a_reply_joins_its_application_and_reaches_the_recruiter_while_an_out_of_office_is_never_answered()
 {
    needs!(Tool::Smtp);
    let (sink, env, first) = acknowledged("Grace Hopper", "grace@example.net", "");
    let data = first["data"].as_str().unwrap_or_default().to_string();
    let reply_to = header(&data, "Reply-To").unwrap_or_default().to_string();

    let reply = format!(
        "From: Grace Hopper <grace@example.net>\r\n\
To: {reply_to}\r\n\
Subject: Re: Your application\r\n\
Date: Thu, 26 Nov 2026 10:15:00 +0100\r\n\
Message-ID: <reply-1@example.net>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"M\"\r\n\
\r\n\
--M\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Thank you! I am free on <b>Tuesday</b>.</p>\r\n\
--M\r\n\
Content-Type: application/pdf; name=\"cv.pdf\"\r\n\
Content-Disposition: attachment; filename=\"cv.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--M--\r\n"
    );
    let (code, out, err) = receive(&env, Some(&reply_to), reply.as_bytes());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("a reply on application 1"), "{out}");
    let stored = env.json(&["mail", "inbound", "--kind", "reply"]);
    assert_eq!(stored[0]["application_id"], 1, "{stored}");
    assert_eq!(stored[0]["sender"], "Grace Hopper <grace@example.net>");
    let text = stored[0]["body_text"].as_str().unwrap_or_default();
    assert!(text.contains("I am free on Tuesday"), "{text}");
    assert!(!text.contains("<b>"), "HTML turned into text: {text}");
    assert!(
        stored[0]["attachments"]
            .as_str()
            .unwrap_or_default()
            .contains("cv.pdf")
    );
    // forwarded to the recruiters: her as Reply-To, her subject
    env.ok(&["tick", "dispatch"]);
    let fwd = sink.messages().pop().expect("the forward");
    assert_eq!(fwd["rcpt_tos"][0], "recruiting@example.org");
    let fdata = fwd["data"].as_str().unwrap_or_default();
    assert_eq!(
        header(fdata, "Subject"),
        Some("Re: Your application"),
        "{fdata}"
    );
    assert!(
        header(fdata, "Reply-To")
            .unwrap_or_default()
            .contains("grace@example.net"),
        "{fdata}"
    );
    assert!(fdata.contains("Tuesday"));
    // the attachment is named with its size, not carried
    let body = rows(
        &env,
        "SELECT b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
         WHERE o.template = 'candidate_reply'",
    );
    assert!(body[0][0].contains("cv.pdf (9 bytes)"), "{}", body[0][0]);
    let events = env.ok(&["events", "--type", "application.replied", "--json"]);
    assert!(events.contains("\"application_id\":1"), "{events}");

    // an out-of-office to the same address: recorded, not forwarded
    let sent = sink.count();
    let before = rows(&env, "SELECT COUNT(*) FROM outbox");
    let ooo = format!(
        "From: Grace Hopper <grace@example.net>\r\nTo: {reply_to}\r\nSubject: Out of office\r\n\
Auto-Submitted: auto-replied\r\nMessage-ID: <ooo-1@example.net>\r\n\r\nI am away until Monday.\r\n"
    );
    let (code, out, _) = receive(&env, Some(&reply_to), ooo.as_bytes());
    assert_eq!(code, 0);
    assert!(out.contains("automatic reply"), "{out}");
    env.ok(&["tick", "dispatch"]);
    assert_eq!(
        sink.count(),
        sent,
        "an auto-reply is never answered nor forwarded"
    );
    assert_eq!(rows(&env, "SELECT COUNT(*) FROM outbox"), before);
    // X-Autoreply and Precedence: bulk are auto-replies too
    for (i, h) in ["X-Autoreply: yes", "Precedence: bulk"].iter().enumerate() {
        let m = format!(
            "From: grace@example.net\r\nTo: {reply_to}\r\nSubject: auto\r\n{h}\r\nMessage-ID: <auto-{i}@example.net>\r\n\r\nbody\r\n"
        );
        let (code, out, _) = receive(&env, Some(&reply_to), m.as_bytes());
        assert_eq!(code, 0);
        assert!(out.contains("automatic reply"), "{h}: {out}");
    }
    assert_eq!(rows(&env, "SELECT COUNT(*) FROM outbox"), before);
    // she withdraws, then writes again: still her application's, stored
    // and forwarded (the recruiter should know)
    env.ok(&["application", "move", "1", "withdrawn", "--no-email"]);
    let late = format!(
        "From: Grace Hopper <grace@example.net>\r\nTo: {reply_to}\r\nSubject: One more thing\r\n\
Message-ID: <late-1@example.net>\r\n\r\nSorry, I meant to say thank you.\r\n"
    );
    let (code, out, _) = receive(&env, Some(&reply_to), late.as_bytes());
    assert_eq!(code, 0);
    assert!(out.contains("a reply on application 1"), "{out}");
    assert_eq!(
        rows(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE template = 'candidate_reply'"
        ),
        [["2"]]
    );
}

#[test]
fn forged_unmatched_malformed_and_oversized_mail_changes_nothing() {
    let env = inbound_env(free_port());
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Ada",
        "--email",
        "ada@example.net",
        "--no-email",
    ]);
    let before = state(&env);
    let quarantined = |to: &str, raw: &str, why: &str| {
        let (code, out, err) = receive(&env, Some(to), raw.as_bytes());
        assert_eq!(code, 0, "quarantine is taking the message: {out}{err}");
        assert!(
            out.contains("quarantined") && out.contains(why),
            "{why}: {out}"
        );
    };
    // a reply tag made up, or moved to another application
    quarantined(
        &format!("reply+1-000000000000@{DOMAIN}"),
        "From: x@example.net\r\nSubject: hi\r\nMessage-ID: <q1@example.net>\r\n\r\nhello\r\n",
        "not atsd's",
    );
    // a bounce tag made up
    quarantined(
        &format!("bounces+1-abcdefabcdef@{DOMAIN}"),
        &dsn(
            "x",
            "ada@example.net",
            "<atsd.t1.0@example.org>",
            "failed",
            "5.1.1",
            "q2",
        ),
        "not atsd's",
    );
    // an envelope id of atsd's form with a made-up tag
    quarantined(
        "postmaster@example.org",
        &with_envelope_id(
            &dsn(
                "x",
                "ada@example.net",
                "<other@elsewhere.example>",
                "failed",
                "5.1.1",
                "q9",
            ),
            "1-abcdefabcdef",
        ),
        "Original-Envelope-Id 1-abcdefabcdef",
    );
    // a report that names nothing atsd sent
    quarantined(
        &format!("postmaster@{DOMAIN}"),
        &dsn(
            "x",
            "who@example.net",
            "<other@example.com>",
            "failed",
            "5.1.1",
            "q3",
        ),
        "names no email atsd sent",
    );
    // not a message at all
    quarantined(&format!("reply+1-x@{DOMAIN}"), "\u{1}\u{2} not mail", "");
    // a message with no body, to no address of ours
    quarantined(
        "someone@example.org",
        "From: a@example.net\r\nSubject: empty\r\nMessage-ID: <q5@example.net>\r\n\r\n",
        "addressed to no reply or bounce address",
    );
    // malformed MIME: a multipart with no boundary
    quarantined(
        "someone@example.org",
        "From: a@example.net\r\nMessage-ID: <q6@example.net>\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nbroken",
        "addressed to no reply or bounce address",
    );
    let listed = env.json(&["mail", "quarantine", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(7), "{listed}");
    // over the cap (1 MiB here): refused with EX_DATAERR, nothing stored
    let big = format!(
        "From: a@example.net\r\nSubject: big\r\n\r\n{}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (code, _, err) = receive(&env, None, big.as_bytes());
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("max_size"), "{err}");
    // and 20 MiB against the default cap of 10 MiB
    let default_cap = Env::with_config(&format!(
        "[mail.inbound]\ndomain = \"{DOMAIN}\"\nkey_file = \"inbound.key\"\n"
    ));
    default_cap.write(
        "inbound.key",
        "an-inbound-key-of-more-than-32-bytes-0123456789\n",
    );
    let huge = format!(
        "From: a@example.net\r\nSubject: huge\r\n\r\n{}",
        "x".repeat(20 * 1024 * 1024)
    );
    let (code, _, err) = receive(&default_cap, None, huge.as_bytes());
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("10MiB"), "{err}");
    assert_eq!(
        scalar(&default_cap, "SELECT COUNT(*) FROM inbound_messages"),
        0
    );
    let mut after = state(&env);
    after.retain(|r| !(r.len() == 3 && r[1] == "quarantined"));
    assert_eq!(after, before, "nothing but the quarantine changed");
    // a quarantined message is shown, and dropped
    let shown = env.ok(&["mail", "quarantine", "show", "1"]);
    assert!(shown.contains("not atsd's"), "{shown}");
    env.ok(&["mail", "quarantine", "drop", "1"]);
    assert_eq!(
        env.json(&["mail", "quarantine", "list"])
            .as_array()
            .map(Vec::len),
        Some(6)
    );
}

#[test]
fn a_database_that_cannot_be_reached_asks_the_mail_system_to_try_again() {
    let env = inbound_env(free_port());
    // a database that cannot be opened (nothing listens on port 1)
    let mut c = crate::common::atsd_bin();
    c.current_dir(env.path(""))
        .arg("--config")
        .arg(&env.config)
        .args([
            "--database",
            "postgres://atsd@127.0.0.1:1/none",
            "mail",
            "receive",
        ]);
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"From: a@example.net\r\nMessage-ID: <t@example.net>\r\n\r\nhi\r\n");
    let out = child.wait_with_output().expect("ends");
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(scalar(&env, "SELECT COUNT(*) FROM inbound_messages"), 0);
}

/// Python's smtplib.LMTP, a real LMTP client: sends `file` from the null
/// sender to `rcpts`, retrying while atsd says 451 (starting); prints the
/// refused recipients as JSON, or the error's code.
const LMTP_CLIENT: &str = r#"
import json, smtplib, sys, time
port, path, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
msg = open(path, "rb").read()
for attempt in range(50):
    try:
        with smtplib.LMTP("127.0.0.1", port) as c:
            refused = c.sendmail("", rcpts, msg)
        print(json.dumps({"refused": {k: [v[0], v[1].decode()] for k, v in refused.items()}}))
        break
    except smtplib.SMTPRecipientsRefused as e:
        codes = {k: v[0] for k, v in e.recipients.items()}
        if all(c == 451 for c in codes.values()):
            time.sleep(0.2)
            continue
        print(json.dumps({"refused": codes}))
        break
    except smtplib.SMTPDataError as e:
        if e.smtp_code == 451:
            time.sleep(0.2)
            continue
        print(json.dumps({"data_error": e.smtp_code}))
        break
    except smtplib.SMTPSenderRefused as e:
        print(json.dumps({"sender_refused": e.smtp_code}))
        break
"#;

/// Says `commands` to the LMTP listener, then `data` (dot-stuffed) and
/// QUIT; everything it answered.
pub(crate) fn lmtp_by_hand(port: u16, commands: &[&str], data: &str) -> String {
    use std::io::{BufRead, BufReader};
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("LMTP listens");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let mut said = String::new();
    let mut line = String::new();
    let mut read_reply = |r: &mut BufReader<std::net::TcpStream>, said: &mut String| loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        said.push_str(&line);
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    read_reply(&mut r, &mut said);
    for c in commands {
        w.write_all(format!("{c}\r\n").as_bytes()).expect("write");
        read_reply(&mut r, &mut said);
    }
    let mut body = String::new();
    for l in data.strip_suffix("\r\n").unwrap_or(data).split("\r\n") {
        if l.starts_with('.') {
            body.push('.');
        }
        body.push_str(l);
        body.push_str("\r\n");
    }
    body.push_str(".\r\n");
    w.write_all(body.as_bytes()).expect("write");
    let rcpts = commands.iter().filter(|c| c.starts_with("RCPT")).count();
    for _ in 0..rcpts {
        read_reply(&mut r, &mut said);
    }
    let _ = w.write_all(b"QUIT\r\n");
    said
}

fn lmtp_send(env: &Env, port: u16, raw: &str, rcpts: &[&str]) -> serde_json::Value {
    let file = env.write("lmtp-message.eml", raw);
    let out = std::process::Command::new(python())
        .args(["-c", LMTP_CLIENT, &port.to_string()])
        .arg(&file)
        .args(rcpts)
        .output()
        .expect("run python's smtplib.LMTP");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "LMTP client: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn lmtp_takes_a_bounce_once_answers_every_recipient_and_refuses_what_is_too_big() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let (lmtp, http) = (free_port(), free_port());
    let env = inbound_env_with(
        sink.port,
        &format!("lmtp_listen = \"127.0.0.1:{lmtp}\"\n"),
        &format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\
             [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\n"
        ),
    );
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Ada Gone",
        "--email",
        "ada@gone.example.net",
    ]);
    env.ok(&["tick", "dispatch"]);
    let first = sink.messages().pop().expect("the acknowledgement");
    let verp = first["mail_from"].as_str().unwrap_or_default().to_string();
    let returned = message_id(&first);
    let api = Api::start(&env, http);
    let failed = dsn(
        &verp,
        "ada@gone.example.net",
        &returned,
        "failed",
        "5.1.1",
        "l1",
    );
    let r = lmtp_send(&env, lmtp, &failed, &[&verp]);
    assert_eq!(r["refused"], serde_json::json!({}), "{r}");
    assert_eq!(
        rows(&env, "SELECT status FROM outbox WHERE id = 1"),
        [["bounced"]]
    );
    // two recipients in one transaction: an answer each after the data
    // (Python's smtplib.LMTP reads only one, so this is said by hand)
    let talk = lmtp_by_hand(
        lmtp,
        &[
            "LHLO test",
            "MAIL FROM:<>",
            &format!("RCPT TO:<{verp}>"),
            &format!("RCPT TO:<postmaster@{DOMAIN}>"),
            "DATA",
        ],
        &failed,
    );
    let after_data: Vec<&str> = talk.lines().rev().take(2).collect();
    assert!(
        after_data.iter().all(|l| l.starts_with("250 2.0.0")),
        "{talk}"
    );
    // the MTA delivers it again: taken, stored once
    let r = lmtp_send(&env, lmtp, &failed, &[&verp]);
    assert_eq!(r["refused"], serde_json::json!({}), "{r}");
    assert_eq!(
        rows(&env, "SELECT kind, status FROM inbound_messages"),
        [["bounce", "permanent"]]
    );
    // over max_size (1 MiB): refused at MAIL by its SIZE, nothing stored
    let big = format!(
        "From: a@example.net\r\nSubject: big\r\n\r\n{}\r\n",
        "y".repeat(1100 * 1024)
    );
    let r = lmtp_send(&env, lmtp, &big, &[&verp]);
    assert_eq!(r["sender_refused"], 552, "{r}");
    assert_eq!(scalar(&env, "SELECT COUNT(*) FROM inbound_messages"), 1);
    api.stop();
}

#[test]
fn what_the_rules_send_says_auto_generated_and_a_bad_inbound_setting_is_named() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = inbound_env_with(
        sink.port,
        "",
        "[[rules]]\nname = \"nudge\"\nstage = \"applied\"\nafter = \"2d\"\nremind = true\n",
    );
    env.ok(&[
        "--now",
        "2030-01-01T09:00:00Z",
        "apply",
        "1",
        "--name",
        "Ada",
        "--email",
        "ada@example.net",
    ]);
    env.ok(&["--now", "2030-01-01T09:00:00Z", "tick", "dispatch"]);
    env.ok(&[
        "--now",
        "2030-01-04T09:00:00Z",
        "tick",
        "advance",
        "dispatch",
    ]);
    let by_template = |needle: &str| {
        sink.messages()
            .into_iter()
            .find(|m| m["rcpt_tos"][0].as_str() == Some(needle))
            .unwrap_or_else(|| panic!("nothing to {needle}"))
    };
    // the rule's reminder is auto-generated (RFC 3834); the candidate's
    // acknowledgement, caused by her own application, is not
    let reminder = by_template("recruiting@example.org");
    let data = reminder["data"].as_str().unwrap_or_default();
    assert_eq!(
        header(data, "Auto-Submitted"),
        Some("auto-generated"),
        "{data}"
    );
    // (a recruiter's email is not the candidate's: no reply+ address)
    assert!(
        !header(data, "Reply-To").unwrap_or("").starts_with("reply+"),
        "{data}"
    );
    let ack = by_template("ada@example.net");
    assert_eq!(
        header(ack["data"].as_str().unwrap_or_default(), "Auto-Submitted"),
        None
    );

    // check-config names what is wrong with [mail.inbound]
    std::fs::remove_file(env.path("inbound.key")).expect("remove the key");
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("mail.inbound.key_file"), "{err}");
    env.write("inbound.key", "short");
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("at least 32"), "{err}");
    let bad = Env::with_config(
        "[mail.inbound]\ndomain = \"not a domain\"\nkey_file = \"k\"\nlmtp_listen = \"0.0.0.0:2424\"\n",
    );
    let err = bad.fails(2, &["check-config"]);
    assert!(err.contains("mail.inbound.domain: `not a domain`"), "{err}");
    assert!(err.contains("not a loopback address"), "{err}");
}

/// An attendee's calendar answering: METHOD:REPLY for `uid`.
fn itip_reply(from: &str, to: &str, uid: &str, partstat: &str, id: &str) -> String {
    itip_answer(from, from, to, uid, 0, partstat, id)
}

/// An answer for `attendee`, sent by `from`, to SEQUENCE `seq`.
fn itip_answer(
    from: &str,
    attendee: &str,
    to: &str,
    uid: &str,
    seq: i32,
    partstat: &str,
    id: &str,
) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Accepted: Interview\r\nMessage-ID: <{id}@example.net>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=UTF-8\r\n\r\n\
BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Calendar//EN\r\nMETHOD:REPLY\r\n\
BEGIN:VEVENT\r\nUID:{uid}\r\nSEQUENCE:{seq}\r\nDTSTAMP:20300102T090000Z\r\n\
ATTENDEE;PARTSTAT={partstat};CN=Someone:mailto:{attendee}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// The ORGANIZER address of the invitation whose Message-ID contains `key`
/// (`.req.c@` the candidate's, `.req.p1@` person 1's).
fn organizer_of(sink: &Sink, key: &str) -> String {
    let invite = sink
        .messages()
        .into_iter()
        .find(|m| message_id(m).contains(key))
        .unwrap_or_else(|| panic!("no invitation {key}"));
    let data = invite["data"].as_str().unwrap_or_default();
    // base64 in the part: read the attachment's decoded text
    sink_calendar(data)
        .lines()
        .find(|l| l.starts_with("ORGANIZER"))
        .and_then(|l| l.rsplit("mailto:").next())
        .map(str::trim)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn calendar_replies_record_each_attendees_answer_and_strangers_are_quarantined() {
    needs!(Tool::Smtp);
    let sink = Sink::start(free_port());
    let env = inbound_env_with(sink.port, "", "");
    env.ok(&[
        "person",
        "add",
        "ada@example.org",
        "--name",
        "Ada Lovelace",
        "--timezone",
        "Europe/Berlin",
    ]);
    env.ok(&[
        "--now",
        "2030-01-01T09:00:00Z",
        "apply",
        "1",
        "--name",
        "Dev",
        "--email",
        "dev@example.net",
        "--no-email",
    ]);
    env.ok(&[
        "--now",
        "2030-01-01T09:00:00Z",
        "interview",
        "schedule",
        "1",
        "--at",
        "2030-01-08T10:00",
        "--timezone",
        "Europe/Berlin",
        "--interviewer",
        "ada@example.org",
    ]);
    env.ok(&["--now", "2030-01-01T09:00:00Z", "tick", "dispatch"]);
    // each invitation names its own attendee's address as ORGANIZER
    let organizer = organizer_of(&sink, ".req.c@");
    let ada_organizer = organizer_of(&sink, ".req.p1@");
    assert!(organizer.starts_with("reply+1.c-"), "{organizer}");
    assert!(ada_organizer.starts_with("reply+1.p1-"), "{ada_organizer}");
    let uid = "atsd-interview-1@example.org";
    for (from, to, answer, id) in [
        ("dev@example.net", &organizer, "ACCEPTED", "r1"),
        ("ada@example.org", &ada_organizer, "DECLINED", "r2"),
    ] {
        let (code, out, err) = receive(
            &env,
            Some(to),
            itip_reply(from, to, uid, answer, id).as_bytes(),
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("a calendar reply"), "{out}");
    }
    let shown = env.json(&["interview", "show", "1", "--json"]);
    assert_eq!(
        shown["interview"]["candidate_partstat"], "accepted",
        "{shown}"
    );
    assert_eq!(shown["interviewers"][0]["partstat"], "declined", "{shown}");
    let events = env.ok(&["events", "--type", "interview.replied", "--json"]);
    assert_eq!(events.matches("interview.replied").count(), 2, "{events}");
    // nothing was forwarded: a calendar's answer is not a letter
    let outbox = rows(
        &env,
        "SELECT COUNT(*) FROM outbox WHERE template = 'candidate_reply'",
    );
    assert_eq!(outbox, [["0"]]);
    // a stranger's answer, and one about no interview of ours: quarantined
    let before = rows(&env, "SELECT partstat FROM interview_people");
    let (_, out, _) = receive(
        &env,
        Some(&organizer),
        itip_reply("eve@example.net", &organizer, uid, "ACCEPTED", "r3").as_bytes(),
    );
    assert!(
        out.contains("quarantined") && out.contains("not invited"),
        "{out}"
    );
    let (_, out, _) = receive(
        &env,
        Some(&organizer),
        itip_reply("dev@example.net", &organizer, "other@x", "DECLINED", "r4").as_bytes(),
    );
    assert!(out.contains("quarantined"), "{out}");
    assert_eq!(rows(&env, "SELECT partstat FROM interview_people"), before);
    assert_eq!(
        env.json(&["interview", "show", "1", "--json"])["interview"]["candidate_partstat"],
        "accepted"
    );

    // forged answers, each quarantined with every table unchanged:
    let before = state(&env);
    let partstats = || {
        (
            rows(&env, "SELECT partstat FROM interview_people"),
            env.json(&["interview", "show", "1", "--json"])["interview"]["candidate_partstat"]
                .clone(),
        )
    };
    let answers = partstats();
    for (n, (to, raw, why)) in [
        // the candidate answers for her interviewer through her own
        // invitation (From and ATTENDEE both Ada's)
        (
            organizer.clone(),
            itip_answer(
                "ada@example.org",
                "ada@example.org",
                &organizer,
                uid,
                0,
                "ACCEPTED",
                "f1",
            ),
            "another attendee's address",
        ),
        // Ada's address, an answer for the candidate
        (
            ada_organizer.clone(),
            itip_answer(
                "dev@example.net",
                "dev@example.net",
                &ada_organizer,
                uid,
                0,
                "DECLINED",
                "f2",
            ),
            "through an interviewer's address",
        ),
        // someone else's From for Ada's answer
        (
            ada_organizer.clone(),
            itip_answer(
                "eve@example.net",
                "ada@example.org",
                &ada_organizer,
                uid,
                0,
                "ACCEPTED",
                "f3",
            ),
            "only an attendee answers for themselves",
        ),
        // no tagged address at all
        (
            format!("jobs@{DOMAIN}"),
            itip_answer(
                "ada@example.org",
                "ada@example.org",
                &format!("jobs@{DOMAIN}"),
                uid,
                0,
                "ACCEPTED",
                "f4",
            ),
            "no tagged address",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (code, out, err) = receive(&env, Some(&to), raw.as_bytes());
        assert_eq!(code, 0, "{n}: {out}{err}");
        assert!(
            out.contains("quarantined") && out.contains(why),
            "{n}: {out}"
        );
    }
    assert_eq!(partstats(), answers);
    let after = state(&env);
    let (b, a): (Vec<_>, Vec<_>) = (
        before
            .iter()
            .filter(|r| r.len() != 3 || r[1] != "quarantined")
            .collect(),
        after
            .iter()
            .filter(|r| r.len() != 3 || r[1] != "quarantined")
            .collect(),
    );
    assert_eq!(b, a, "only quarantined rows were added");

    // moved since (SEQUENCE 1): an answer to the first invitation is stale
    env.ok(&[
        "--now",
        "2030-01-02T09:00:00Z",
        "interview",
        "reschedule",
        "1",
        "--at",
        "2030-01-09T10:00",
        "--timezone",
        "Europe/Berlin",
    ]);
    let moved = rows(&env, "SELECT partstat FROM interview_people");
    let raw = itip_answer(
        "ada@example.org",
        "ada@example.org",
        &ada_organizer,
        uid,
        0,
        "ACCEPTED",
        "s1",
    );
    let (_, out, _) = receive(&env, Some(&ada_organizer), raw.as_bytes());
    assert!(
        out.contains("quarantined") && out.contains("stale"),
        "{out}"
    );
    assert_eq!(rows(&env, "SELECT partstat FROM interview_people"), moved);
    // an answer to the new one counts
    let raw = itip_answer(
        "ada@example.org",
        "ada@example.org",
        &ada_organizer,
        uid,
        1,
        "ACCEPTED",
        "s2",
    );
    let (_, out, _) = receive(&env, Some(&ada_organizer), raw.as_bytes());
    assert!(out.contains("a calendar reply"), "{out}");
    assert_eq!(
        rows(&env, "SELECT partstat FROM interview_people"),
        [["accepted"]]
    );
}

/// The decoded calendar object of a message as the sink stored it.
fn sink_calendar(data: &str) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(data.as_bytes())
        .expect("a message");
    parsed
        .attachments()
        .find(|p| {
            mail_parser::MimeHeaders::attachment_name(*p).is_some_and(|n| n.ends_with(".ics"))
        })
        .map(|p| String::from_utf8_lossy(p.contents()).replace("\r\n ", ""))
        .unwrap_or_default()
}
