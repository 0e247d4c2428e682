//! The rest of ../shared/RELIABILITY-TESTS.md, with real processes and real
//! faults (RELIABILITY.md maps every row to its test): T1 kill -9 during a
//! tick of 10,000 moves, T8 SQLite lock contention across processes, T14 a
//! 1 GiB body and a trickle, T15 hostile candidate data through CSV and a
//! template override, T9 three daemons on one PostgreSQL, T7 a PostgreSQL
//! outage under a running daemon. The long forms run with `RELIABILITY=1`.

use crate::common::{Env, Rng, block_on, count_sync, reliability, scalar};
use crate::daemon::rows;
use crate::tools::{Tool, needs};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const STALE: &str = "[[rules]]\nname = \"stale-applied\"\nstage = \"applied\"\nafter = \"30d\"\nmove_to = \"rejected\"\nreason = \"no_response\"\n";
const SEEDED_AT: &str = "2026-01-05T00:00:00Z";
const LATER: &str = "2026-11-25T09:00:00Z";

fn stale_env(n: usize) -> Env {
    let env = Env::with_config(STALE);
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    crate::common::seed_applications(&env, 1, n, "applied", SEEDED_AT);
    env
}

/// T1's pass criteria: every application moved once, with one email per
/// move and no email without one, its version bumped once, the file whole.
fn assert_moved_exactly_once(env: &Env, n: usize, ctx: &str) {
    let n = n as i64;
    assert_eq!(
        scalar(
            env,
            "SELECT COUNT(*) FROM applications WHERE stage = 'rejected'"
        ),
        n,
        "{ctx}"
    );
    assert_eq!(
        scalar(
            env,
            "SELECT COUNT(*) FROM (SELECT application_id FROM transitions WHERE reason = 'no_response' \
             GROUP BY application_id HAVING COUNT(*) <> 1) x"
        ),
        0,
        "{ctx}: an application moved twice"
    );
    assert_eq!(
        scalar(
            env,
            "SELECT COUNT(*) FROM transitions WHERE reason = 'no_response'"
        ),
        n,
        "{ctx}"
    );
    assert_eq!(
        scalar(
            env,
            "SELECT COUNT(*) FROM transitions t WHERE t.reason = 'no_response' AND \
             (SELECT COUNT(*) FROM outbox o WHERE o.transition_id = t.id) <> 1"
        ),
        0,
        "{ctx}: a move without exactly one email"
    );
    assert_eq!(
        scalar(
            env,
            "SELECT COUNT(*) FROM outbox o WHERE o.transition_id IS NULL \
             OR NOT EXISTS (SELECT 1 FROM transitions t WHERE t.id = o.transition_id)"
        ),
        0,
        "{ctx}: an email without its move"
    );
    assert_eq!(
        scalar(env, "SELECT COUNT(*) FROM applications WHERE version <> 2"),
        0,
        "{ctx}: a version bumped other than once"
    );
    if !env.db.is_postgres() {
        let r = block_on(atsd::store::backup::integrity_check(&env.path("atsd.db"))).unwrap();
        assert_eq!(r, "ok", "{ctx}");
    }
}

/// T1: `atsd tick advance` over 10,000 stale applications, SIGKILLed at a
/// seeded random point within the time a whole run takes (one point in each
/// of `rounds` equal slices of it), then run again to completion. 2 rounds by default, 20 with RELIABILITY=1; ATSD_TEST_SEED
/// replays a run.
#[test]
fn t1_kill_9_during_a_tick_of_10000_moves_loses_and_doubles_nothing() {
    let n = 10_000;
    let rounds = if reliability() { 20 } else { 2 };
    let mut rng = Rng::from_env();
    let seed = rng.0;
    // how long an uninterrupted run takes here
    let env = stale_env(n);
    let t = Instant::now();
    env.ok(&["--now", LATER, "tick", "advance"]);
    let full = t.elapsed();
    assert_moved_exactly_once(&env, n, "uninterrupted");
    drop(env);
    let mut killed_midway = 0;
    for round in 1..=rounds {
        let env = stale_env(n);
        let mut child = env
            .std_cmd()
            .args(["--now", LATER, "tick", "advance"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // stratified: round r of R is killed at a random point of the r-th
        // R-th of a whole run, so that few rounds still cover all of it
        let slice = (full.as_millis() as u64 / rounds as u64).max(1);
        let delay = Duration::from_millis(slice * (round as u64 - 1) + rng.below(slice));
        std::thread::sleep(delay);
        child.kill().ok();
        child.wait().unwrap();
        let before = scalar(
            &env,
            "SELECT COUNT(*) FROM transitions WHERE reason = 'no_response'",
        );
        if before > 0 && before < n as i64 {
            killed_midway += 1;
        }
        let (code, _, err) = env.run(&["--now", LATER, "tick", "advance"]);
        let ctx = format!(
            "seed {seed}, round {round}: killed after {delay:?} (a run takes {full:?}) with {before} moves written"
        );
        assert_eq!(code, 0, "{ctx}: {err}");
        assert_moved_exactly_once(&env, n, &ctx);
        eprintln!("T1 {ctx}");
    }
    eprintln!(
        "T1 seed {seed}: {killed_midway} of {rounds} kills landed between two batches' commits"
    );
}

/// T8 (a): a writer holds `BEGIN EXCLUSIVE` for twice the busy timeout while
/// `atsd tick advance` runs: the tick gives up with an error naming the lock,
/// nothing is half-applied, and the next tick applies everything.
#[test]
fn t8_a_held_exclusive_lock_gives_a_clear_error_and_changes_nothing() {
    let env = stale_env(2_000);
    if env.db.is_postgres() {
        return; // SQLite's file lock; PostgreSQL waits on row locks instead
    }
    use sea_orm::sqlx::{Connection, Executor, sqlite::SqliteConnection};
    let url = format!("sqlite://{}", env.path("atsd.db").display());
    let holding = Arc::new(AtomicBool::new(false));
    let h = holding.clone();
    let holder = std::thread::spawn(move || {
        block_on(async move {
            let mut c = SqliteConnection::connect(&url).await.unwrap();
            c.execute("BEGIN EXCLUSIVE").await.unwrap();
            h.store(true, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(20)).await;
            c.execute("ROLLBACK").await.unwrap();
        })
    });
    while !holding.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, out, err) = env.run(&["--now", LATER, "tick", "advance"]);
    holder.join().unwrap();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("locked"), "the error names the lock: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM applications WHERE stage = 'applied'"
        ),
        2_000
    );
    assert_eq!(count_sync(&env, "outbox"), 0);
    env.ok(&["--now", LATER, "tick", "advance"]);
    assert_moved_exactly_once(&env, 2_000, "after the lock was released");
}

/// T8 (b): cron-style `atsd tick` and recruiters' `atsd apply`, 50 of each,
/// beside an `atsd run` that moves and sends on the same database: no
/// "database is locked" anywhere.
#[test]
fn t8_b_ticks_and_commands_beside_a_running_daemon_never_see_a_locked_database() {
    let env = Env::with_config(&format!(
        "{STALE}\n[mail]\ntransport = \"log\"\nrate_per_second = 1000\n[schedule]\npoll = \"0 0 0 1 1 *\"\nadvance = \"* * * * * *\"\ndispatch = \"* * * * * *\"\ndigest = \"0 0 0 1 1 *\"\nretention = \"0 0 0 1 1 *\"\n"
    ));
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    crate::common::seed_applications(&env, 1, 5_000, "applied", SEEDED_AT);
    let log = env.path("daemon.log");
    let mut daemon = env
        .std_cmd()
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let rounds = if reliability() { 200 } else { 50 };
    let mut failures = Vec::new();
    for i in 0..rounds {
        let email = format!("walk-in{i}@example.org");
        for args in [
            vec!["apply", "1", "--name", "Walk In", "--email", email.as_str()],
            vec!["tick"],
        ] {
            let (code, _, err) = env.run(&args);
            if code != 0 || err.contains("locked") {
                failures.push(format!("{args:?}: exit {code}: {err}"));
            }
        }
    }
    daemon.kill().ok();
    daemon.wait().ok();
    let daemon_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(!daemon_log.contains("locked"), "{daemon_log}");
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM applications WHERE stage = 'applied' AND candidate_id IN (SELECT id FROM candidates WHERE name = 'Walk In')"
        ),
        rounds as i64
    );
}

/// A loopback server that answers every request with `body(path)` streamed
/// by `serve`: a 1 GiB chunked body, or one byte a second.
fn hostile_board() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = serve_hostile(stream);
            });
        }
    });
    port
}

fn serve_hostile(mut s: TcpStream) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
    }
    if path.contains("small") {
        let body = r#"{"status":404,"error":"Job not found"}"#;
        return write!(
            s,
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
    }
    if path.contains("trickle") {
        s.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n",
        )?;
        loop {
            s.write_all(b" ")?;
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    // a 1 GiB chunked body, until the client hangs up
    s.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
    )?;
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..(1024 * 1024 * 1024 / chunk.len()) {
        write!(s, "{:x}\r\n", chunk.len())?;
        s.write_all(&chunk)?;
        s.write_all(b"\r\n")?;
    }
    s.write_all(b"0\r\n\r\n")
}

/// Runs `atsd posting poll` and samples its peak resident memory (VmHWM).
fn poll_peak_rss(env: &Env) -> (i32, String, u64, Duration) {
    let mut child = env
        .std_cmd()
        .args(["--json", "posting", "poll"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let t = Instant::now();
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        {
            peak = peak.max(kb * 1024);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = t.elapsed();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        peak,
        took,
    )
}

/// T14: a Greenhouse answer of 1 GiB (chunked) and one that trickles a byte
/// a second: each poll ends within its timeout with an error, the posting's
/// status unchanged, and the process's peak memory grows by less than twice
/// `max_body` over a poll of a normal answer.
#[test]
fn t14_a_1_gib_body_and_a_trickle_end_within_the_timeout_in_bounded_memory() {
    let port = hostile_board();
    let max_body = 2 * 1024 * 1024u64;
    let config = |path: &str| {
        format!(
            "[poll]\ntimeout = \"3s\"\nmax_body = \"2MiB\"\nallow_addresses = [\"127.0.0.1:{port}\"]\n\
             [poll.sources.greenhouse]\napi_base = \"http://127.0.0.1:{port}/{path}\"\n"
        )
    };
    // the baseline: the same command, the same server, a small answer
    let small = Env::with_config(&config("small"));
    small.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    let (_, _, base_peak, _) = poll_peak_rss(&small);
    for (what, path) in [("1 GiB", "huge"), ("trickle", "trickle")] {
        let env = Env::with_config(&config(path));
        env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
        let (code, out, peak, took) = poll_peak_rss(&env);
        assert!(code == 0 || code == 1, "{what}: exit {code}: {out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let outcome = v.to_string();
        assert!(outcome.contains("error"), "{what}: {outcome}");
        // the timeout is 3 s; far below that ends it, not the test's patience
        assert!(took < Duration::from_secs(20), "{what}: {took:?}");
        let grew = peak.saturating_sub(base_peak);
        eprintln!(
            "T14 {what}: {outcome}; {took:.1?}; peak RSS {} KiB vs {} KiB for a small answer (+{} KiB)",
            peak / 1024,
            base_peak / 1024,
            grew / 1024
        );
        assert!(
            grew < 2 * max_body,
            "{what}: peak RSS grew by {grew} bytes (max_body {max_body})"
        );
        assert_eq!(
            rows(&env, "SELECT status FROM postings")[0][0],
            "unknown",
            "{what}: status unchanged"
        );
    }
}

/// T15 through CSV and a template override: hostile rows are refused with
/// their line and field named and nothing imported; accepted hostile-looking
/// names reach the SMTP server as data — one RCPT, no extra header, escaped
/// in HTML — even when an override puts the name in the Subject.
#[test]
fn t15_hostile_candidate_data_through_csv_and_a_template_override() {
    needs!(Tool::Smtp);
    let sink = crate::smtp::Sink::start(crate::smtp::free_port());
    let env = Env::with_config(&format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"Jobs <jobs@example.org>\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n[templates]\ndir = \"tpl\"\n",
        sink.port
    ));
    // the override: the candidate's name in the subject and the HTML
    for (part, text) in [
        (
            "subject.txt",
            "Thanks, {{ candidate.name }}: {{ posting.title }}",
        ),
        ("txt", "Hello {{ candidate.name }}"),
        ("html", "<p>Hello {{ candidate.name }}</p>"),
    ] {
        env.write(&format!("tpl/en/application_received.{part}"), text);
    }
    // a job board's title that reads as an RFC 2047 word decoding to a header
    let title = "=?utf-8?q?Cook=0D=0ABcc:_x@evil.example?=";
    env.ok(&[
        "posting",
        "add",
        "https://boards.greenhouse.io/acme/jobs/1",
        "--title",
        title,
    ]);
    let bad = "posting,name,email\n\
               1,Good Row,good@example.org\n\
               1,\"Eve\r\nBcc: x@evil.example\",eve@example.org\n\
               1,\"Eve\nSubject: hi\",eve2@example.org\n\
               1,Eve,\"a@b.org\r\nRCPT TO:<x@y>\"\n\
               1,Eve,a@b.org>\n\
               1,\u{202E}evE,eve3@example.org\n\
               1,=?utf-8?q?Eve=0D=0ABcc:_x@evil.example?=,eve4@example.org\n"
        .to_string()
        + &format!("1,{},eve5@example.org\n", "x".repeat(10_000));
    env.write("bad.csv", &bad);
    let err = env.fails(2, &["application", "import", "bad.csv", "--send-emails"]);
    // lines as a text editor counts them: a quoted line break starts a new one
    for (line, field) in [
        (3, "name"),
        (5, "name"),
        (7, "email"),
        (9, "email"),
        (10, "name"),
        (11, "name"),
        (12, "name"),
    ] {
        assert!(
            err.contains(&format!("bad.csv: line {line}: {field}:")),
            "line {line}: {err}"
        );
    }
    assert_eq!(count_sync(&env, "applications"), 0, "nothing imported");
    assert_eq!(count_sync(&env, "outbox"), 0);

    assert!(
        err.contains("RFC 2047") && err.contains("at most 200"),
        "{err}"
    );
    let names = [
        "<script>alert(1)</script>",
        "Mallory \"Bcc: x@evil.example\"",
        "Zoë <z@evil.example>",
    ];
    let mut csv = String::from("posting,name,email\n");
    for (i, n) in names.iter().enumerate() {
        csv.push_str(&format!(
            "1,\"{}\",h{i}@example.org\n",
            n.replace('"', "\"\"")
        ));
    }
    env.write("ok.csv", &csv);
    env.ok(&["application", "import", "ok.csv", "--send-emails"]);
    let (code, out, err) = env.run(&["--json", "tick", "dispatch"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("panicked"), "{err}");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), names.len(), "one message per row");
    for m in &msgs {
        let rcpts = m["rcpt_tos"].as_array().unwrap();
        assert_eq!(rcpts.len(), 1, "{m}");
        let raw: Vec<u8> = m["data"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| c as u8)
            .collect();
        let parsed = mail_parser::MessageParser::default()
            .parse(&raw[..])
            .unwrap();
        let mut headers: Vec<String> = parsed
            .headers()
            .iter()
            .map(|h| h.name().to_ascii_lowercase())
            .collect();
        headers.sort();
        headers.dedup();
        assert!(!headers.iter().any(|h| h == "bcc"), "{headers:?}");
        // the subject reads exactly as written: the title's look-alike
        // encoded word stays text
        let subject = parsed.subject().unwrap_or_default();
        let to = rcpts[0].as_str().unwrap();
        let i: usize = to[1..2].parse().unwrap();
        assert_eq!(subject, format!("Thanks, {}: {title}", names[i]));
        let html = parsed.body_html(0).unwrap_or_default();
        assert!(!html.contains("<script"), "{html}");
        if to == "h0@example.org" {
            assert!(html.contains("&lt;script&gt;"), "{html}");
        }
    }
}

/// A loopback job board for generic postings: 200 to every path, counting
/// the requests per path.
struct CountingBoard {
    port: u16,
    hits: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

fn counting_board() -> CountingBoard {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    let h = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let h = h.clone();
            std::thread::spawn(move || {
                let mut s = stream;
                let Ok(clone) = s.try_clone() else { return };
                let mut r = BufReader::new(clone);
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    return;
                }
                // a connection closed before its request line (a client
                // giving up a pooled or timed-out connection) is no request
                let Some(path) = line.split_whitespace().nth(1).map(str::to_string) else {
                    return;
                };
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).map(|n| n == 0).unwrap_or(true) || l == "\r\n" {
                        break;
                    }
                }
                *h.lock().unwrap().entry(path).or_insert(0) += 1;
                let body = "<html><body>Open</body></html>";
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    CountingBoard { port, hits }
}

/// T9: three `atsd run` on one PostgreSQL database with second-resolution
/// schedules, over stale applications whose rejections go out by SMTP and
/// postings on a loopback board; one daemon SIGKILLed mid-run. The survivors
/// take its rows over within a lease (30 s); each email arrives once, except
/// rows whose body was being written at the kill; one job run per
/// occurrence; each posting polled at most once per poll occurrence. 2,000
/// emails and 200 postings by default; 10,000 and 1,000 with RELIABILITY=1.
#[test]
fn t9_three_daemons_on_postgres_one_killed_each_email_once() {
    needs!(Tool::Smtp);
    let env0 = Env::new();
    if !env0.db.is_postgres() {
        eprintln!("T9 runs on PostgreSQL (ATSD_TEST_DATABASE_URL)");
        return;
    }
    drop(env0);
    let (emails, postings) = if reliability() {
        (10_000, 1_000)
    } else {
        (2_000, 200)
    };
    let sink = crate::smtp::Sink::start(crate::smtp::free_port());
    let board = counting_board();
    let env = Env::with_config(&format!(
        "{STALE}\n[pipeline.emails]\nrejected = \"rejection\"\n\
         [mail]\ntransport = \"smtp\"\nrate_per_second = 200\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout = \"5s\"\npool_size = 2\n\
         [poll]\nallow_addresses = [\"127.0.0.1:{}\"]\n\
         [schedule]\npoll = \"*/3 * * * * *\"\nadvance = \"*/2 * * * * *\"\ndispatch = \"* * * * * *\"\ndigest = \"0 0 0 1 1 *\"\nretention = \"0 0 0 1 1 *\"\n",
        sink.port, board.port
    ));
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    crate::common::seed_applications(&env, 1, emails, "applied", SEEDED_AT);
    let mut csv = String::new();
    for i in 0..postings {
        csv.push_str(&format!(
            "---\ntitle: Job {i}\ncompanyName: Acme\nurl: http://127.0.0.1:{}/jobs/{i}\n---\nA job.\n",
            board.port
        ));
        env.write(&format!("postings/job{i}.md"), &csv);
        csv.clear();
    }
    env.ok(&["posting", "import", "postings"]);
    let spawn = |i: usize| {
        env.std_cmd()
            .args(["run"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(env.path(&format!("daemon{i}.log"))).unwrap())
            .spawn()
            .unwrap()
    };
    let mut daemons: Vec<_> = (0..3).map(spawn).collect();
    let sent = || scalar(&env, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'");
    let t = Instant::now();
    while sink.messages().len() < emails / 4 && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    daemons[0].kill().unwrap();
    daemons[0].wait().unwrap();
    let killed = Instant::now();
    let killed_at = sent();
    // what is `sending` now holds the killed daemon's rows (and the
    // survivors' of the moment); of those, only the marked ones (`data_at`:
    // their body may have been written) can arrive twice
    let snapshot = |q: &str| -> std::collections::BTreeSet<String> {
        rows(&env, q)
            .into_iter()
            .map(|r| r[0].trim_matches(['<', '>']).to_string())
            .collect()
    };
    let in_flight = snapshot("SELECT message_id FROM outbox WHERE status = 'sending'");
    let marked =
        snapshot("SELECT message_id FROM outbox WHERE status = 'sending' AND data_at IS NOT NULL");
    // the survivors send everything else, and take the killed daemon's rows
    // over once their 30-second lease, no longer renewed, runs out
    while sent() < emails as i64 && killed.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(250));
    }
    let all_sent_after = killed.elapsed();
    for d in daemons.iter_mut().skip(1) {
        crate::daemon::term(d);
        let (code, _) = crate::daemon::wait_exit(d, Duration::from_secs(15));
        assert_eq!(code, Some(0));
    }
    let logs: String = (0..3)
        .map(|i| std::fs::read_to_string(env.path(&format!("daemon{i}.log"))).unwrap_or_default())
        .collect();
    assert!(!logs.contains("panicked"), "{logs}");
    assert_eq!(sent(), emails as i64, "every email sent");
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), emails, "every email arrived");
    let twice: Vec<&String> = copies
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(m, _)| m)
        .collect();
    for m in &twice {
        assert!(
            marked.contains(m.trim_matches(['<', '>'])),
            "{m} arrived twice but its body was not being written at the kill"
        );
        assert_eq!(copies[*m], 2, "{m}");
    }
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM (SELECT job, scheduled_for FROM job_runs GROUP BY job, scheduled_for HAVING COUNT(*) > 1) x"
        ),
        0
    );
    let poll_runs = scalar(&env, "SELECT COUNT(*) FROM job_runs WHERE job = 'poll'");
    let hits = board.hits.lock().unwrap().clone();
    let unexpected: Vec<&String> = hits
        .keys()
        .filter(|p| {
            p.strip_prefix("/jobs/")
                .and_then(|n| n.parse::<usize>().ok())
                .is_none_or(|n| n >= postings)
        })
        .collect();
    assert_eq!(
        hits.len(),
        postings,
        "every posting polled (paths that are no posting's: {unexpected:?})"
    );
    let most = hits.values().copied().max().unwrap_or(0) as i64;
    // the occurrence the killed daemon was polling is run again by whoever
    // takes it over: its postings may be polled once more
    assert!(
        most <= poll_runs + 1,
        "a posting polled {most} times in {poll_runs} poll runs"
    );
    assert_moved_exactly_once_with(&env, emails);
    eprintln!(
        "T9: {emails} emails, {postings} postings, 3 daemons; killed one after {killed_at} sent, {} rows sending at the kill ({} with their body being written); {} arrived twice; all sent {:.1} s after the kill; {poll_runs} poll runs, a posting polled at most {most} time(s)",
        in_flight.len(),
        marked.len(),
        twice.len(),
        all_sent_after.as_secs_f64()
    );
}

/// [`assert_moved_exactly_once`] for moves whose emails were sent.
fn assert_moved_exactly_once_with(env: &Env, n: usize) {
    assert_moved_exactly_once(env, n, "T9");
}

/// `rate_per_second` is the sending rate of the whole installation, not of
/// each daemon: three `atsd run` on one database, each dispatching every
/// second, send 1,200 queued emails (a minute's worth) at 20 a second
/// between them — in no 10-second window more than 10 % above 200 — and
/// each email once. Three daemons each keeping its own rate would send 60 a
/// second.
#[test]
fn three_daemons_share_one_sending_rate() {
    needs!(Tool::Smtp);
    const EMAILS: usize = 1200;
    const RATE: usize = 20;
    let sink = crate::smtp::Sink::start(crate::smtp::free_port());
    let env = Env::with_config(&format!(
        "{STALE}\n[pipeline.emails]\nrejected = \"rejection\"\n\
         [mail]\ntransport = \"smtp\"\nrate_per_second = {RATE}\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout = \"5s\"\npool_size = 2\n\
         [schedule]\npoll = \"0 0 0 1 1 *\"\nadvance = \"0 0 0 1 1 *\"\ndispatch = \"* * * * * *\"\ndigest = \"0 0 0 1 1 *\"\nretention = \"0 0 0 1 1 *\"\n",
        sink.port
    ));
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    crate::common::seed_applications(&env, 1, EMAILS, "applied", SEEDED_AT);
    env.ok(&["tick", "advance"]);
    assert_eq!(
        scalar(&env, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'"),
        EMAILS as i64
    );
    let mut daemons: Vec<_> = (0..3)
        .map(|i| {
            env.std_cmd()
                .args(["run"])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(env.path(&format!("daemon{i}.log"))).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    let t = Instant::now();
    while sink.messages().len() < EMAILS && t.elapsed() < Duration::from_secs(180) {
        std::thread::sleep(Duration::from_millis(250));
    }
    for d in daemons.iter_mut() {
        crate::daemon::term(d);
        let (code, _) = crate::daemon::wait_exit(d, Duration::from_secs(15));
        assert_eq!(code, Some(0));
    }
    let logs: String = (0..3)
        .map(|i| std::fs::read_to_string(env.path(&format!("daemon{i}.log"))).unwrap_or_default())
        .collect();
    assert!(!logs.contains("panicked"), "{logs}");
    let messages = sink.messages();
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), EMAILS, "every email arrived");
    assert!(copies.values().all(|n| *n == 1), "an email arrived twice");
    let mut at: Vec<f64> = messages.iter().map(|m| m["at"].as_f64().unwrap()).collect();
    at.sort_by(f64::total_cmp);
    // the most emails that arrived within any 10 seconds
    let (mut most, mut first) = (0, 0);
    for last in 0..at.len() {
        while at[last] - at[first] >= 10.0 {
            first += 1;
        }
        most = most.max(last - first + 1);
    }
    // the work was shared: more than one daemon sent (its log reports each
    // dispatch pass that sent, scheduled or woken)
    let senders: Vec<usize> = (0..3)
        .filter(|i| {
            let log =
                std::fs::read_to_string(env.path(&format!("daemon{i}.log"))).unwrap_or_default();
            log.lines().any(|l| {
                l.contains("dispatch") && {
                    let l = l.replace('\\', "");
                    l.split("\"sent\":").skip(1).any(|rest| {
                        rest.chars()
                            .take_while(char::is_ascii_digit)
                            .collect::<String>()
                            .parse::<u64>()
                            .is_ok_and(|n| n > 0)
                    })
                }
            })
        })
        .collect();
    let span = at[at.len() - 1] - at[0];
    eprintln!(
        "shared rate: {EMAILS} emails by {} daemon(s) in {span:.1} s ({:.1}/s), at most {most} in a 10-s window (limit {})",
        senders.len(),
        EMAILS as f64 / span,
        RATE * 11
    );
    assert!(
        senders.len() >= 2,
        "one daemon sent everything: {senders:?}"
    );
    assert!(
        most <= RATE * 11,
        "{most} emails in 10 s at {RATE} a second"
    );
}

/// A PostgreSQL cluster of this test's own (initdb, pg_ctl) on a free port:
/// stopped and started at will without touching the shared server.
struct Cluster {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl Cluster {
    fn create() -> Option<Cluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .max()?;
        let dir = tempfile::tempdir().ok()?;
        let owner = std::process::Command::new("chown")
            .args(["-R", "postgres", dir.path().to_str()?])
            .status()
            .ok()?;
        if !owner.success() {
            return None;
        }
        let c = Cluster {
            dir,
            bin,
            port: crate::smtp::free_port(),
        };
        c.pg(&["initdb", "-D", &c.data(), "-A", "trust", "-U", "postgres"])
            .then_some(())?;
        c.start().then_some(c)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg(&self, args: &[&str]) -> bool {
        let mut cmd = std::process::Command::new("runuser");
        cmd.args(["-u", "postgres", "--"])
            .arg(self.bin.join(args[0]))
            .args(&args[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.status().map(|s| s.success()).unwrap_or(false)
    }

    fn start(&self) -> bool {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        self.pg(&["pg_ctl", "-D", &self.data(), "-o", &opts, "-w", "start"])
    }

    fn stop_immediately(&self) -> bool {
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ])
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_immediately();
    }
}

fn healthz(port: u16) -> u16 {
    crate::common::http(port, "GET", "/healthz", &[], b"").map_or(0, |a| a.status)
}

/// T7: PostgreSQL stopped with `-m immediate` under a running daemon with
/// postings to poll and emails to send, then started again: the daemon
/// stays up without a panic, `/healthz` says 503 during the outage and 200
/// after, and all the work is done afterwards by the daemon itself (the rows
/// it held across the outage within their lease), each move and email once
/// (an email sent during the outage whose `sent` could not be written is the
/// allowed duplicate, and is warned of). A cluster of the test's own, so the
/// shared server is never stopped; runs in the PostgreSQL pass, as root.
#[test]
fn t7_a_postgres_outage_under_a_running_daemon() {
    needs!(Tool::Smtp);
    let env = Env::new();
    if !env.db.is_postgres() {
        eprintln!("T7 runs in the PostgreSQL pass (ATSD_TEST_DATABASE_URL)");
        return;
    }
    let Some(cluster) = Cluster::create() else {
        eprintln!("T7 skipped: cannot make a PostgreSQL cluster here (needs root and initdb)");
        return;
    };
    let (emails, postings) = if reliability() {
        (1_000, 1_000)
    } else {
        (300, 100)
    };
    let outage = if reliability() { 30 } else { 8 };
    let sink = crate::smtp::Sink::start(crate::smtp::free_port());
    let board = counting_board();
    let http = crate::smtp::free_port();
    let config = format!(
        "{STALE}\n[pipeline.emails]\nrejected = \"rejection\"\n\
         [mail]\ntransport = \"smtp\"\nrate_per_second = 50\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout = \"5s\"\npool_size = 2\n\
         [poll]\nallow_addresses = [\"127.0.0.1:{}\"]\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
         [schedule]\npoll = \"*/5 * * * * *\"\nadvance = \"*/2 * * * * *\"\ndispatch = \"* * * * * *\"\ndigest = \"0 0 0 1 1 *\"\nretention = \"0 0 0 1 1 *\"\n",
        sink.port, board.port
    );
    let env = Env::with_config(&config);
    let url = cluster.url();
    // the harness's commands name its own database: these name the cluster
    let run = |args: &[&str]| -> (i32, String) {
        let out = crate::common::atsd_bin()
            .current_dir(env.dir.path())
            .args(["--config", env.config.to_str().unwrap(), "--database", &url])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        run(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]).0,
        0
    );
    for i in 0..postings {
        env.write(
            &format!("postings/job{i}.md"),
            &format!(
                "---\ntitle: Job {i}\ncompanyName: Acme\nurl: http://127.0.0.1:{}/jobs/{i}\n---\nA job.\n",
                board.port
            ),
        );
    }
    assert_eq!(run(&["posting", "import", "postings"]).0, 0);
    // stale applications in the cluster (the seeding helper writes to the
    // harness database, so they come through CSV here)
    let mut csv = String::from("posting,name,email,stage,applied_at\n");
    for i in 0..emails {
        csv.push_str(&format!(
            "1,Person {i},p{i}@example.net,applied,{SEEDED_AT}\n"
        ));
    }
    env.write("apps.csv", &csv);
    let (code, err) = run(&["application", "import", "apps.csv"]);
    assert_eq!(code, 0, "{err}");

    let log = env.path("daemon.log");
    let mut daemon = crate::common::atsd_bin()
        .current_dir(env.dir.path())
        .args([
            "--config",
            env.config.to_str().unwrap(),
            "--database",
            &url,
            "run",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while healthz(http) != 200 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(healthz(http), 200);
    // some work done, then the database goes away mid-stream
    while sink.messages().len() < emails / 5 && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cluster.stop_immediately(), "pg_ctl stop -m immediate");
    let down = Instant::now();
    let mut saw_503 = false;
    while down.elapsed() < Duration::from_secs(outage) {
        if healthz(http) == 503 {
            saw_503 = true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(saw_503, "/healthz said 503 during the outage");
    assert!(daemon.try_wait().unwrap().is_none(), "the daemon stays up");
    assert!(cluster.start(), "pg_ctl start");
    let t = Instant::now();
    while healthz(http) != 200 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(healthz(http), 200, "/healthz is 200 again");
    // the daemon finishes everything: rows it held across the outage come
    // free within their 30-second lease and it takes them over itself
    let sql = |q: &str| crate::common::scalar_at(&url, q);
    let t = Instant::now();
    while (sql("SELECT COUNT(*) FROM applications WHERE stage = 'applied'") > 0
        || sql("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'") > 0)
        && t.elapsed() < Duration::from_secs(180)
    {
        std::thread::sleep(Duration::from_millis(500));
    }
    let settled = t.elapsed();
    crate::daemon::term(&daemon);
    let (code, _) = crate::daemon::wait_exit(&mut daemon, Duration::from_secs(15));
    let daemon_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, Some(0), "{daemon_log}");
    assert!(!daemon_log.contains("panicked"), "{daemon_log}");
    let warned = daemon_log.matches("may get this email twice").count();
    assert_eq!(
        sql("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"),
        emails as i64
    );
    assert_eq!(
        sql(
            "SELECT COUNT(*) FROM (SELECT application_id FROM transitions WHERE reason = 'no_response' GROUP BY 1 HAVING COUNT(*) <> 1) x"
        ),
        0
    );
    assert_eq!(
        sql("SELECT COUNT(*) FROM transitions WHERE reason = 'no_response'"),
        emails as i64
    );
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len(), emails, "every email arrived");
    let twice = copies.values().filter(|n| **n > 1).count();
    assert!(
        twice <= warned,
        "{twice} duplicates, {warned} warned of: {daemon_log}"
    );
    let hits = board.hits.lock().unwrap();
    assert_eq!(hits.len(), postings, "every posting polled");
    eprintln!(
        "T7: {emails} emails, {postings} postings; PostgreSQL down {outage} s; /healthz 503 then 200; all sent {:.1} s after; {twice} arrived twice, {warned} warned of",
        settled.as_secs_f64()
    );
}

/// T10 with the daemon: `atsd run` at 09:00, stopped, started again three
/// hours later: one catch-up run per job, for its latest missed occurrence
/// (not 180 dispatches and 12 polls), and no job run overlapping another of
/// the same job.
#[test]
fn t10_after_three_hours_down_the_daemon_runs_each_job_once_for_the_latest_occurrence() {
    let env = Env::with_config(STALE);
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    let run_for = |now: &str, secs: u64| {
        let mut d = env
            .std_cmd()
            .args(["--now", now, "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        // until this start's runs are in (or the time is up)
        while t.elapsed() < Duration::from_secs(secs) {
            std::thread::sleep(Duration::from_millis(100));
        }
        crate::daemon::term(&d);
        let (code, _) = crate::daemon::wait_exit(&mut d, Duration::from_secs(15));
        assert_eq!(code, Some(0));
    };
    // Monday 09:00:30: every job's occurrence of the morning
    run_for("2027-01-04T09:00:30Z", 3);
    let first = count_sync(&env, "job_runs");
    assert_eq!(first, 5);
    // back at 12:07:30, half a minute before the next dispatch
    run_for("2027-01-04T12:07:30Z", 3);
    let runs = rows(
        &env,
        "SELECT job, scheduled_for FROM job_runs WHERE scheduled_for > '2027-01-04T09:00:00Z' ORDER BY job",
    );
    let got: Vec<(String, String)> = runs
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "advance".to_string(),
                "2027-01-04T12:05:00+00:00".to_string()
            ),
            (
                "dispatch".to_string(),
                "2027-01-04T12:07:00+00:00".to_string()
            ),
            ("poll".to_string(), "2027-01-04T12:00:00+00:00".to_string()),
        ],
        "one catch-up run per job; the daily digest and retention had run at 09:00"
    );
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM job_runs a JOIN job_runs b ON a.job = b.job AND a.id < b.id \
             WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at"
        ),
        0,
        "no job overlapped itself"
    );
}
