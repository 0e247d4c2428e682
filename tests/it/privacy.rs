//! What atsd holds about a person (issue 33), on both engines: the map of
//! personal data names every column of the live schema; anonymization
//! leaves none of a candidate's data in any table or in the outbox folder
//! (dumped whole, every table the schema has).

use crate::api::Api;
use crate::common::{Env, block_on, http};
use crate::smtp::free_port;
use sea_orm::ConnectionTrait;
use std::collections::{BTreeMap, BTreeSet};

/// Every table and its columns, as the migrated database has them.
pub(crate) fn live_schema(env: &Env) -> BTreeMap<String, BTreeSet<String>> {
    block_on(async {
        let s = env.store().await;
        let b = s.backend();
        let q = if b == sea_orm::DbBackend::Postgres {
            "SELECT table_name AS t, column_name AS c FROM information_schema.columns \
             WHERE table_schema = current_schema()"
        } else {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        };
        let rows = s
            .conn()
            .query_all_raw(sea_orm::Statement::from_string(b, q))
            .await
            .expect("the schema");
        let mut all: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in rows {
            let t: String = r.try_get("", "t").expect("table");
            let c: String = r.try_get("", "c").expect("column");
            all.entry(t).or_default().insert(c);
        }
        s.close().await.ok();
        all
    })
}

/// Every row of every table of the live schema, as text: strings and
/// JSON as they are, bytes read as UTF-8 (a message kept raw is searched
/// as the text it holds).
pub(crate) fn dump_every_table(env: &Env) -> String {
    use sea_orm::QueryResult;
    fn cell(r: &QueryResult, i: usize) -> String {
        if let Ok(v) = r.try_get_by_index::<Option<String>>(i) {
            return v.unwrap_or_default();
        }
        if let Ok(v) = r.try_get_by_index::<Option<Vec<u8>>>(i) {
            return String::from_utf8_lossy(&v.unwrap_or_default()).into_owned();
        }
        if let Ok(v) = r.try_get_by_index::<Option<i64>>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = r.try_get_by_index::<Option<i32>>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = r.try_get_by_index::<Option<bool>>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = r.try_get_by_index::<Option<f64>>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = r.try_get_by_index::<Option<chrono::DateTime<chrono::Utc>>>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = r.try_get_by_index::<Option<serde_json::Value>>(i) {
            return format!("{v:?}");
        }
        panic!("column {i}: a type the dump does not read")
    }
    let tables: Vec<String> = live_schema(env).into_keys().collect();
    block_on(async {
        let s = env.store().await;
        let mut out = String::new();
        for t in tables {
            let rows = s
                .conn()
                .query_all_raw(sea_orm::Statement::from_string(
                    s.backend(),
                    format!("SELECT * FROM {t}"),
                ))
                .await
                .expect("dump");
            for r in &rows {
                let cells: Vec<String> = (0..r.column_names().len()).map(|i| cell(r, i)).collect();
                out.push_str(&format!("{t}: {}\n", cells.join(" | ")));
            }
        }
        s.close().await.ok();
        out
    })
}

#[test]
fn the_map_of_personal_data_names_every_column_of_the_live_schema() {
    let env = Env::with_config("");
    env.ok(&["posting", "list"]);
    let live = live_schema(&env);
    let map = atsd::store::personal::columns();
    let mut missing = Vec::new();
    for (t, cols) in &live {
        for c in cols {
            if !map.get(t.as_str()).is_some_and(|m| m.contains(c.as_str())) {
                missing.push(format!("{t}.{c}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "columns of the schema that the map of personal data (src/store/personal/map.rs) does not name: {}",
        missing.join(", ")
    );
    // and nothing in the map that the schema does not have
    let mut stale = Vec::new();
    for (t, cols) in &map {
        for c in cols {
            if !live.get(*t).is_some_and(|l| l.contains(*c)) {
                stale.push(format!("{t}.{c}"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the map names what is gone: {}",
        stale.join(", ")
    );
}

const DOMAIN: &str = "jobs.example.org";

/// The outbox folder's files, as text.
fn outbox_files(env: &Env) -> String {
    let mut all = String::new();
    if let Ok(rd) = std::fs::read_dir(env.path("outbox")) {
        for e in rd.flatten() {
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(e.path()).unwrap_or_default(),
            ));
        }
    }
    all
}

/// A header of the newest `.eml` file to `to` in the outbox folder.
fn eml_header(env: &Env, to: &str, name: &str) -> String {
    let mut files: Vec<_> = std::fs::read_dir(env.path("outbox"))
        .expect("the outbox folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files.iter().rev() {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap_or_default()).into_owned();
        let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
        if !head.contains(&format!("To: {to}")) && !head.contains(&format!("<{to}>")) {
            continue;
        }
        if let Some(v) = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        {
            return v.trim_matches(|c| c == '<' || c == '>').to_string();
        }
    }
    panic!("no email to {to} with {name}")
}

/// `atsd mail receive --recipient to` at `now`.
fn receive(env: &Env, now: &str, to: &str, raw: &str) -> String {
    use std::io::Write;
    let mut c = env.std_cmd();
    c.args(["--now", now, "mail", "receive", "--recipient", to]);
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run atsd mail receive");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(raw.as_bytes());
    }
    let out = child.wait_with_output().expect("atsd mail receive ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What she wrote and what was written about her: none of it may survive.
const NEEDLES: [&str; 8] = [
    "Zyxwerth",
    "zyxwerth",
    "5550 1234",
    "Quixstraße",
    "Quixstra",
    "was late again",
    "cv-of-her.pdf",
    "ada.z@",
];

/// A candidate who applied (by the API with an idempotency key, and by
/// the command line), replied with her phone, address and CV, was
/// interviewed with a note about her, bounced, and was rejected twice.
fn seeded() -> Env {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[retention]\nanonymize_after = \"365d\"\n\
         [recruiters]\nemails = [\"recruiting@example.org\"]\n\
         [interviews]\nstage = \"interview\"\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\
         [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\n\
         [mail.inbound]\ndomain = \"{DOMAIN}\"\nkey_file = \"inbound.key\"\n"
    ));
    env.write(
        "inbound.key",
        "an-inbound-key-of-more-than-32-bytes-0123456789\n",
    );
    env.add_posting(1, "Cook");
    env.add_posting(2, "Baker");
    env.ok(&[
        "person",
        "add",
        "grace@example.org",
        "--name",
        "Grace Hopper",
    ]);
    env.ok(&["posting", "assign", "1", "--recruiter", "grace@example.org"]);
    // she applies from the careers page (the API, with an idempotency key)
    let intake = env.token("careers", "intake");
    let api = Api::start(&env, port);
    let body =
        serde_json::json!({"posting": 2, "name": "Ada Zyxwerth", "email": "ada.z@example.net"});
    let a = http(
        port,
        "POST",
        "/v1/applications",
        &[
            ("Authorization", &format!("Bearer {intake}")),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "k-1"),
        ],
        body.to_string().as_bytes(),
    )
    .expect("the API answers");
    assert_eq!(a.status, 201, "{}", a.body);
    api.stop();
    // and by the command line to the other posting
    env.ok(&[
        "--now",
        "2026-02-01T09:00:00Z",
        "apply",
        "1",
        "--name",
        "Ada Zyxwerth",
        "--email",
        "ada.z@example.net",
    ]);
    env.ok(&["--now", "2026-02-01T10:00:00Z", "tick", "dispatch"]);
    // she replies with her phone and address, and a CV
    let reply_to = eml_header(&env, "ada.z@example.net", "Reply-To");
    assert!(reply_to.starts_with("reply+"), "{reply_to}");
    let reply = format!(
        "From: Ada Zyxwerth <ada.z@example.net>\r\nTo: {reply_to}\r\nSubject: Re: your application, Zyxwerth\r\n\
         Message-ID: <r1.zyxwerth@example.net>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Call me on +49 30 5550 1234, I live at Quixstraße 12, Berlin.\r\n--B\r\n\
         Content-Type: application/pdf; name=\"cv-of-her.pdf\"\r\nContent-Disposition: attachment; filename=\"cv-of-her.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--\r\n"
    );
    let out = receive(&env, "2026-02-02T09:00:00Z", &reply_to, &reply);
    assert!(out.contains("a reply on application"), "{out}");
    // an interview, with an interviewer's note about her
    for stage in ["screening", "interview"] {
        env.ok(&[
            "--now",
            "2026-02-03T09:00:00Z",
            "application",
            "move",
            "2",
            stage,
        ]);
    }
    env.ok(&[
        "--now",
        "2026-02-03T09:05:00Z",
        "interview",
        "schedule",
        "2",
        "--at",
        "2026-02-10T10:00",
        "--interviewer",
        "grace@example.org",
        "--title",
        "Ada Zyxwerth, first talk",
    ]);
    env.ok(&[
        "--now",
        "2026-02-10T12:00:00Z",
        "interview",
        "feedback",
        "1",
        "--by",
        "grace@example.org",
        "--recommendation",
        "no",
        "--note",
        "Ada Zyxwerth was late again",
    ]);
    env.ok(&[
        "--now",
        "2026-02-10T13:00:00Z",
        "tick",
        "dispatch",
        "digest",
    ]);
    // her address bounces for good (a report naming her address and the
    // Message-ID of an email to her)
    let returned = eml_header(&env, "ada.z@example.net", "Message-ID");
    let dsn = format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: postmaster@{DOMAIN}\r\nSubject: Undelivered Mail\r\n\
         Message-ID: <d1@mx.example.net>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n\
         --R\r\nContent-Type: text/plain\r\n\r\nYour message to ada.z@example.net could not be delivered.\r\n\
         --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n\
         Final-Recipient: rfc822; ada.z@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <ada.z@example.net>: no such user\r\n\r\n\
         --R\r\nContent-Type: text/rfc822-headers\r\n\r\nTo: ada.z@example.net\r\nMessage-ID: <{returned}>\r\n\r\n--R--\r\n"
    );
    let out = receive(
        &env,
        "2026-02-11T09:00:00Z",
        &format!("postmaster@{DOMAIN}"),
        &dsn,
    );
    assert!(out.contains("permanent bounce"), "{out}");
    // rejected, both, with a reason that quotes her
    for app in ["1", "2"] {
        env.ok(&[
            "--now",
            "2026-02-12T09:00:00Z",
            "application",
            "move",
            app,
            "rejected",
            "--reason",
            "Zyxwerth asked us to wait",
        ]);
    }
    env
}

#[test]
fn anonymization_leaves_nothing_of_a_candidate_who_applied_replied_bounced_was_interviewed_and_rejected()
 {
    let env = seeded();
    let before = dump_every_table(&env) + &outbox_files(&env);
    for n in NEEDLES {
        assert!(before.contains(n), "the seeded data holds `{n}`");
    }

    let v = env.json(&["--now", "2027-03-01T09:00:00Z", "tick", "retention"]);
    assert_eq!(v["retention"]["anonymized"], 1, "{v}");
    let tables = dump_every_table(&env);
    let files = outbox_files(&env);
    let mut left = Vec::new();
    for n in NEEDLES {
        for line in tables.lines().filter(|l| l.contains(n)) {
            left.push(format!("`{n}` in {}", &line[..line.len().min(300)]));
        }
        if files.contains(n) {
            left.push(format!("`{n}` in the outbox folder"));
        }
    }
    assert!(left.is_empty(), "still held:\n{}", left.join("\n"));
    // the hiring side is still there, and the report's counts
    assert!(tables.contains("Grace Hopper"));
    assert!(tables.contains("rejected"));
}

fn apply(env: &Env, posting: &str, name: &str, email: &str) -> i64 {
    env.json(&[
        "apply",
        posting,
        "--name",
        name,
        "--email",
        email,
        "--no-email",
    ])["application"]["id"]
        .as_i64()
        .expect("an application id")
}

#[test]
fn a_corrected_address_finds_the_same_candidate_and_two_candidates_who_are_one_person_merge() {
    let env = Env::with_config("");
    for (id, title) in [(1, "Cook"), (2, "Baker"), (3, "Porter")] {
        env.add_posting(id, title);
    }
    apply(&env, "1", "Ada Lovelace", "ada@old.example.net");
    let ada = env.json(&["candidate", "show", "ada@old.example.net"])["candidate"]["id"].clone();
    // the address and its key change together
    env.ok(&[
        "candidate",
        "set-email",
        "ada@old.example.net",
        "Ada@New.example.net",
    ]);
    let shown = env.json(&["candidate", "show", "ada@new.example.net"]);
    assert_eq!(shown["candidate"]["id"], ada, "{shown}");
    let gone = env.fails(2, &["candidate", "show", "ada@old.example.net"]);
    assert!(gone.contains("no candidate"), "{gone}");
    // her next application from the new address is hers
    apply(&env, "2", "Ada Lovelace", "ada@new.example.net");
    let shown = env.json(&["candidate", "show", "ada@new.example.net"]);
    assert_eq!(
        shown["applications"].as_array().map(Vec::len),
        Some(2),
        "{shown}"
    );
    assert_eq!(
        crate::common::scalar(&env, "SELECT COUNT(*) FROM candidates"),
        1
    );
    // another candidate's address is refused, naming them, nothing changed
    apply(&env, "3", "Ada L.", "ada.l@work.example.net");
    let before = dump_every_table(&env);
    let refused = env.fails(
        2,
        &[
            "candidate",
            "set-email",
            "ada@new.example.net",
            "ada.l@work.example.net",
        ],
    );
    assert!(
        refused.contains("already candidate 2's address") && refused.contains("candidate merge"),
        "{refused}"
    );
    assert_eq!(dump_every_table(&env), before);

    // one person: merged into the first, in one transaction with its event
    let merged = env.json(&[
        "candidate",
        "merge",
        "ada@new.example.net",
        "ada.l@work.example.net",
    ]);
    assert_eq!(merged["applications"], 1, "{merged}");
    let shown = env.json(&["candidate", "show", "ada@new.example.net"]);
    assert_eq!(
        shown["applications"].as_array().map(Vec::len),
        Some(3),
        "{shown}"
    );
    env.fails(2, &["candidate", "show", "ada.l@work.example.net"]);
    let events = crate::daemon::rows(
        &env,
        "SELECT type, data FROM events WHERE type LIKE 'candidate.%' ORDER BY id",
    );
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0][0], "candidate.email_changed");
    assert_eq!(events[1][0], "candidate.merged");
    for e in &events {
        assert!(e[1].contains("\"actor\":\"cli:"), "{}", e[1]);
        assert!(
            !e[1].contains("example.net"),
            "no address in an event: {}",
            e[1]
        );
    }
    // both applied to one posting: refused, saying why, nothing changed
    apply(&env, "1", "Ada Again", "ada.again@example.net");
    let before = dump_every_table(&env);
    let refused = env.fails(
        2,
        &[
            "candidate",
            "merge",
            "ada@new.example.net",
            "ada.again@example.net",
        ],
    );
    assert!(refused.contains("both applied to posting 1"), "{refused}");
    assert_eq!(dump_every_table(&env), before);
    let same = env.fails(
        2,
        &[
            "candidate",
            "merge",
            "ada@new.example.net",
            "ADA@new.example.net",
        ],
    );
    assert!(same.contains("the same candidate"), "{same}");
}

#[test]
fn data_requests_get_their_legal_due_dates_one_extension_before_the_date_and_a_close() {
    let env = Env::with_config(
        "[schedule]\ntimezone = \"Europe/Berlin\"\n[recruiters]\nemails = [\"recruiting@example.org\"]\n",
    );
    env.add_posting(1, "Cook");
    apply(&env, "1", "Ada Lovelace", "ada@example.net");
    let open = |now: &str, args: &[&str]| {
        let mut a = vec!["--now", now, "request", "open"];
        a.extend_from_slice(args);
        env.json(&a)
    };
    // GDPR, received Thursday 5 March 2026: 5 April is a Sunday → Monday 6
    // April, the end of that day in Berlin (summer time)
    let g = open(
        "2026-03-05T10:00:00Z",
        &[
            "--email",
            "ADA@example.net",
            "--kind",
            "access",
            "--law",
            "gdpr",
        ],
    );
    assert_eq!(g["due_at"], "2026-04-06T21:59:59Z", "{g}");
    assert_eq!(g["acknowledge_by"], serde_json::Value::Null);
    assert_eq!(g["candidate_id"], 1, "the address finds the candidate: {g}");
    // received 31 January: February's last day, a Saturday → Monday 2 March
    let j = open(
        "2026-03-05T10:00:00Z",
        &[
            "--email",
            "someone@example.org",
            "--kind",
            "erasure",
            "--law",
            "gdpr",
            "--received-at",
            "2026-01-31",
        ],
    );
    assert_eq!(j["due_at"], "2026-03-02T22:59:59Z", "{j}");
    assert_eq!(
        j["candidate_id"],
        serde_json::Value::Null,
        "not a candidate: {j}"
    );
    // CCPA: 45 days, acknowledged within 10 business days
    let c = open(
        "2026-12-04T12:00:00Z",
        &[
            "--email",
            "ada@example.net",
            "--kind",
            "access",
            "--law",
            "ccpa",
        ],
    );
    assert_eq!(c["due_at"], "2027-01-18T22:59:59Z", "{c}");
    assert_eq!(c["acknowledge_by"], "2026-12-18T22:59:59Z", "{c}");
    // bad input names the value and opens nothing
    for (args, word) in [
        (
            vec![
                "--email",
                "x@example.net",
                "--kind",
                "delete",
                "--law",
                "gdpr",
            ],
            "delete",
        ),
        (
            vec![
                "--email",
                "not an address",
                "--kind",
                "access",
                "--law",
                "gdpr",
            ],
            "--email",
        ),
        (
            vec![
                "--email",
                "x@example.net",
                "--kind",
                "access",
                "--law",
                "gdpr",
                "--received-at",
                "2027-01-01",
            ],
            "in the future",
        ),
    ] {
        let mut a = vec!["--now", "2026-12-05T10:00:00Z", "request", "open"];
        a.extend(args);
        let err = env.fails(2, &a);
        assert!(err.contains(word), "{err}");
    }
    // what is due when: on 1 March the January one is due soon, on 3 March overdue
    let list = |now: &str, extra: &[&str]| {
        let mut a = vec!["--now", now, "request", "list"];
        a.extend_from_slice(extra);
        env.json(&a)
    };
    let soon = list("2026-03-01T09:00:00Z", &["--due-within", "7d"]);
    assert_eq!(soon.as_array().map(Vec::len), Some(1), "{soon}");
    assert_eq!(soon[0]["id"], j["id"]);
    assert_eq!(soon[0]["urgency"], "due_soon");
    let overdue = list("2026-03-03T09:00:00Z", &["--overdue"]);
    assert_eq!(overdue.as_array().map(Vec::len), Some(1), "{overdue}");
    assert_eq!(overdue[0]["urgency"], "overdue");
    // Monday's digest (09:00 Berlin) heads with it, as it has nothing else to say
    env.ok(&["--now", "2026-03-02T08:30:00Z", "tick", "digest"]);
    let digest = crate::daemon::rows(
        &env,
        "SELECT b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
         WHERE o.template = 'recruiter_digest'",
    );
    assert_eq!(digest.len(), 1, "{digest:?}");
    assert!(
        digest[0][0].contains(&format!(
            "Data requests due: 1\n  - request {}: erasure under GDPR, due 2 March 2026\n",
            j["id"]
        )),
        "{}",
        digest[0][0]
    );
    // one extension, before the due date, with a reason
    let jid = j["id"].to_string();
    let late = env.fails(
        2,
        &[
            "--now",
            "2026-03-03T09:00:00Z",
            "request",
            "extend",
            &jid,
            "--reason",
            "many systems",
        ],
    );
    assert!(
        late.contains("was due 2026-03-02") && late.contains("before the due date"),
        "{late}"
    );
    let gid = g["id"].to_string();
    let ext = env.json(&[
        "--now",
        "2026-04-01T09:00:00Z",
        "request",
        "extend",
        &gid,
        "--reason",
        "many systems to search",
    ]);
    // three months after 5 March: Friday 5 June
    assert_eq!(ext["due_at"], "2026-06-05T21:59:59Z", "{ext}");
    let again = env.fails(
        2,
        &[
            "--now",
            "2026-04-02T09:00:00Z",
            "request",
            "extend",
            &gid,
            "--reason",
            "more",
        ],
    );
    assert!(again.contains("one extension"), "{again}");
    // closed once, with the outcome
    let closed = env.json(&[
        "--now",
        "2026-04-03T09:00:00Z",
        "request",
        "close",
        &gid,
        "--outcome",
        "done",
        "--reason",
        "export sent",
    ]);
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["outcome"], "done");
    env.fails(
        2,
        &[
            "request",
            "close",
            &gid,
            "--outcome",
            "done",
            "--reason",
            "again",
        ],
    );
    // the events tell what happened, never to whom
    let events = crate::daemon::rows(
        &env,
        "SELECT type, data FROM events WHERE type LIKE 'data_request.%' ORDER BY id",
    );
    let kinds: Vec<&str> = events.iter().map(|e| e[0].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "data_request.opened",
            "data_request.opened",
            "data_request.opened",
            "data_request.extended",
            "data_request.closed"
        ]
    );
    for e in &events {
        assert!(
            !e[1].contains("example"),
            "no address in an event: {}",
            e[1]
        );
    }
}

#[test]
fn erasure_forgets_a_candidate_now_tells_the_interviewers_and_is_refused_for_one_on_hold() {
    let env = Env::with_config("[interviews]\nstage = \"interview\"\n");
    env.add_posting(1, "Cook");
    env.ok(&[
        "person",
        "add",
        "grace@example.org",
        "--name",
        "Grace Hopper",
    ]);
    apply(&env, "1", "Ada Zyxwerth", "ada.z@example.net");
    for stage in ["screening", "interview"] {
        env.ok(&[
            "--now",
            "2026-02-01T09:00:00Z",
            "application",
            "move",
            "1",
            stage,
        ]);
    }
    env.ok(&[
        "--now",
        "2026-02-01T09:05:00Z",
        "interview",
        "schedule",
        "1",
        "--at",
        "2026-02-10T10:00",
        "--interviewer",
        "grace@example.org",
    ]);
    env.ok(&["--now", "2026-02-01T09:10:00Z", "tick", "dispatch"]);
    let now = "2026-02-02T09:00:00Z";
    let req = env.json(&[
        "--now",
        now,
        "request",
        "open",
        "--email",
        "ada.z@example.net",
        "--kind",
        "erasure",
        "--law",
        "gdpr",
    ])["id"]
        .to_string();
    // on hold: refused naming the hold, nothing of hers changed; the
    // request records the refusal
    env.ok(&[
        "candidate",
        "hold",
        "ada.z@example.net",
        "--reason",
        "a court asked us to keep it",
    ]);
    let keep = |dump: String| -> String {
        dump.lines()
            .filter(|l| !l.starts_with("data_requests:") && !l.starts_with("events:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = keep(dump_every_table(&env));
    let refused = env.fails(
        2,
        &[
            "--now",
            now,
            "candidate",
            "erase",
            "ada.z@example.net",
            "--request",
            &req,
        ],
    );
    assert!(
        refused.contains("on hold (a court asked us to keep it)"),
        "{refused}"
    );
    assert_eq!(keep(dump_every_table(&env)), before, "nothing changed");
    let r = env.json(&["request", "show", &req]);
    assert_eq!(r["outcome"], "refused", "{r}");
    assert!(
        r["close_reason"].as_str().unwrap_or("").contains("on hold"),
        "{r}"
    );

    // off hold, asked again: forgotten now
    env.ok(&["candidate", "unhold", "ada.z@example.net"]);
    let req = env.json(&[
        "--now",
        now,
        "request",
        "open",
        "--email",
        "ada.z@example.net",
        "--kind",
        "erasure",
        "--law",
        "gdpr",
    ])["id"]
        .to_string();
    let erased = env.json(&[
        "--now",
        now,
        "candidate",
        "erase",
        "ada.z@example.net",
        "--request",
        &req,
    ]);
    assert_eq!(erased["interviews_cancelled"], 1, "{erased}");
    assert_eq!(erased["request"]["outcome"], "done", "{erased}");
    // she asked, so she is told, at the address she had and by no name;
    // once that is sent, retention forgets the address too
    let notice = crate::daemon::rows(
        &env,
        "SELECT recipient, COALESCE(recipient_name, '-'), status FROM outbox WHERE template = 'data_erased'",
    );
    assert_eq!(
        notice,
        [["ada.z@example.net", "-", "pending"]],
        "{notice:?}"
    );
    env.ok(&["--now", now, "tick", "dispatch"]);
    let r = env.json(&["--now", now, "tick", "retention"]);
    assert!(r.to_string().contains("\"notices_forgotten\":1"), "{r}");
    let tables = dump_every_table(&env);
    for n in ["Zyxwerth", "ada.z@"] {
        let left: Vec<&str> = tables.lines().filter(|l| l.contains(n)).collect();
        assert!(left.is_empty(), "`{n}` still held: {left:?}");
        assert!(
            !outbox_files(&env).contains(n),
            "`{n}` in the outbox folder"
        );
    }
    // Grace is told the interview is off (a CANCEL naming nobody); Ada no
    // invitation's CANCEL
    let cancels = crate::daemon::rows(
        &env,
        "SELECT o.recipient, o.status FROM outbox o WHERE o.template = 'interview_cancel' ORDER BY o.id",
    );
    assert_eq!(cancels, [["grace@example.org", "sent"]], "{cancels:?}");
    // downstream systems learn that candidate 1 was erased, not who
    let ev = crate::daemon::rows(
        &env,
        "SELECT data FROM events WHERE type = 'candidate.erased'",
    );
    assert_eq!(ev.len(), 1);
    assert!(
        ev[0][0].contains("\"candidate_id\":1") && !ev[0][0].contains("example.net"),
        "{}",
        ev[0][0]
    );
    // a second erasure finds nobody by that address
    env.fails(2, &["candidate", "erase", "ada.z@example.net"]);
}

#[test]
fn an_export_holds_everything_of_theirs_and_validates_against_its_published_schema() {
    let env = seeded();
    // the published schema is the one the map makes
    let published = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/candidate-export.schema.json"
    ))
    .expect("schemas/candidate-export.schema.json");
    let made = env.ok(&["candidate", "export", "--schema"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&published).expect("JSON"),
        serde_json::from_str::<serde_json::Value>(&made).expect("JSON"),
        "schemas/candidate-export.schema.json is stale: write it again with `atsd candidate export --schema`"
    );
    let out = env.path("ada.json");
    let out_s = out.to_string_lossy().to_string();
    env.ok(&[
        "--now",
        "2026-03-01T09:00:00Z",
        "candidate",
        "export",
        "ada.z@example.net",
        "--out",
        &out_s,
    ]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out)
        .expect("the export")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the export is the candidate's: {mode:o}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("JSON");
    assert_valid_export(&out_s);
    // what she wrote, what was written about her, her applications, emails, requests
    let text = doc.to_string();
    for n in [
        "5550 1234",
        "Quixstra",
        "was late again",
        "cv-of-her.pdf",
        "Zyxwerth asked us to wait",
    ] {
        assert!(text.contains(n), "`{n}` is not in the export");
    }
    let tables = &doc["tables"];
    for (t, at_least) in [
        ("candidates", 1),
        ("applications", 2),
        ("transitions", 5),
        ("outbox", 3),
        ("outbox_bodies", 3),
        ("inbound_messages", 2),
        ("interviews", 1),
        ("interview_people", 1),
        ("undeliverable_addresses", 1),
        ("idempotency_keys", 1),
        ("events", 5),
    ] {
        let n = tables[t].as_array().map_or(0, Vec::len);
        assert!(n >= at_least, "{t}: {n} row(s) in the export");
    }
    // every personal column of the map is in every row of its table
    for t in atsd::store::personal::MAP {
        if !matches!(t.rows, atsd::store::personal::Rows::Own(_)) {
            continue;
        }
        for row in tables[t.name].as_array().into_iter().flatten() {
            for c in t
                .columns
                .iter()
                .filter(|c| c.whose == atsd::store::personal::Whose::Candidate)
            {
                assert!(
                    row.get(c.name).is_some(),
                    "{}.{} is not in the export",
                    t.name,
                    c.name
                );
            }
        }
    }
    // the export is recorded
    assert_eq!(
        crate::common::scalar(
            &env,
            "SELECT COUNT(*) FROM events WHERE type = 'candidate.exported'"
        ),
        1
    );
}

#[test]
fn the_privacy_api_takes_requests_and_exports_with_its_own_scope_only() {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n\
         [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\n"
    ));
    env.add_posting(1, "Cook");
    apply(&env, "1", "Ada Lovelace", "ada@example.net");
    let privacy = env.token("dpo", "privacy");
    let recruiter = env.token("birte", "recruiter");
    let api = Api::start(&env, port);
    let call = |method: &str, path: &str, token: &str, body: Option<serde_json::Value>| {
        let auth = format!("Bearer {token}");
        let mut h = vec![("Authorization", auth.as_str())];
        let b = body.map(|b| b.to_string()).unwrap_or_default();
        if !b.is_empty() {
            h.push(("Content-Type", "application/json"));
        }
        http(port, method, path, &h, b.as_bytes()).expect("the API answers")
    };
    let open = serde_json::json!({"email": "ada@example.net", "kind": "erasure", "law": "ccpa"});
    // a recruiter's token does not reach a person's data through these
    for (m, p, b) in [
        ("POST", "/v1/data-requests", Some(open.clone())),
        ("GET", "/v1/data-requests", None),
        ("GET", "/v1/candidates/1/export", None),
    ] {
        assert_eq!(call(m, p, &recruiter, b).status, 403, "{m} {p}");
    }
    // and the privacy token reaches nothing else
    assert_eq!(call("GET", "/v1/applications", &privacy, None).status, 403);
    let a = call("POST", "/v1/data-requests", &privacy, Some(open));
    assert_eq!(a.status, 201, "{}", a.body);
    let r = a.json();
    assert_eq!(r["kind"], "erasure");
    assert_eq!(r["candidate_id"], 1);
    assert!(
        r["due_at"].is_string() && r["acknowledge_by"].is_string(),
        "{r}"
    );
    let bad = call(
        "POST",
        "/v1/data-requests",
        &privacy,
        Some(serde_json::json!({"email": "ada@example.net", "kind": "forget", "law": "gdpr"})),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("forget"), "{}", bad.body);
    let listed = call(
        "GET",
        "/v1/data-requests?due_within_days=60",
        &privacy,
        None,
    );
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(1));
    let doc = call("GET", "/v1/candidates/1/export", &privacy, None);
    assert_eq!(doc.status, 200, "{}", doc.body);
    let doc = doc.json();
    assert_eq!(doc["format"], "atsd.candidate-export/1");
    assert_eq!(doc["tables"]["candidates"][0]["email"], "ada@example.net");
    assert_eq!(
        call("GET", "/v1/candidates/99/export", &privacy, None).status,
        404
    );
    api.stop();
    let actors = crate::daemon::rows(
        &env,
        "SELECT type FROM events WHERE data LIKE '%\"actor\":\"token:dpo\"%' ORDER BY id",
    );
    assert_eq!(actors, [["data_request.opened"], ["candidate.exported"]]);
}

#[test]
fn the_board_lists_open_data_requests_soonest_due_first() {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n\
         [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\n"
    ));
    // one overdue (received in 2020), one closed, which the page leaves out
    for email in ["late@example.net", "done@example.net"] {
        env.ok(&[
            "request",
            "open",
            "--email",
            email,
            "--kind",
            "erasure",
            "--law",
            "gdpr",
            "--received-at",
            "2020-01-06",
        ]);
    }
    env.ok(&[
        "request",
        "close",
        "2",
        "--outcome",
        "done",
        "--reason",
        "erased",
    ]);
    let token = env.token("reader", "read");
    let api = Api::start(&env, port);
    let login = http(
        port,
        "POST",
        "/board/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("token={token}").as_bytes(),
    )
    .expect("the board answers");
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string();
    let page = http(port, "GET", "/board/requests", &[("Cookie", &cookie)], b"")
        .expect("the board answers");
    api.stop();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("late@example.net"), "{}", page.body);
    assert!(
        page.body.contains("<strong>overdue</strong>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("done@example.net"),
        "a closed one is not listed"
    );
    assert!(
        page.body.contains("aria-current=\"page\">Requests<"),
        "{}",
        page.body
    );
}

/// Validates the export in the file `path` against the published schema,
/// with jsonschema-rs (PyPI), draft 2020-12.
pub(crate) fn assert_valid_export(path: &str) {
    let check = std::process::Command::new(crate::tools::python())
        .args([
            "-c",
            "import json, sys, jsonschema_rs\n\
             schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))\n\
             errs = [f'{e.instance_path}: {e.message}' for e in jsonschema_rs.validator_for(schema).iter_errors(doc)]\n\
             print('\\n'.join(errs)); sys.exit(1 if errs else 0)",
            concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/candidate-export.schema.json"),
            path,
        ])
        .output()
        .expect("python");
    assert!(
        check.status.success(),
        "the export does not validate:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
