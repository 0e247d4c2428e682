//! The soak: `atsd run` for 10 minutes (`ATSD_SOAK_SECONDS`) with
//! applications arriving a few a second through the command line, rules
//! firing, a job board that fails one request in ten in a random way and an
//! SMTP server that tempfails one message in twenty, recruiters viewing the
//! board twice a second and inbound LMTP listening. Not part of the default
//! run (it is `#[ignore]`d); one command per engine:
//!
//!     cargo test --test it soak -- --ignored --nocapture
//!     ATSD_TEST_DATABASE_URL=postgres://… cargo test --test it soak -- --ignored --nocapture
//!
//! At the end: every application is where the rules put it, every email was
//! delivered once (a duplicate only with its warning), the resident memory
//! stayed flat (start, peak and end are printed), the log has no warning or
//! error but the injected faults', and `job_runs` has every occurrence.

use crate::common::{Env, Rng, scalar};
use crate::daemon::rows;
use crate::recruiter_board::{get, session};
use crate::smtp::free_port;
use crate::tools::{Tool, needs};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A loopback board: 200 for every path, except one request in ten, which
/// gets a 500, a 503, a reset connection, a truncated answer or no answer
/// within the poll timeout.
fn flaky_board(seed: u64, faults: Arc<AtomicUsize>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rng = Arc::new(std::sync::Mutex::new(Rng(seed.max(1))));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (rng, faults) = (rng.clone(), faults.clone());
            std::thread::spawn(move || {
                let mut s = stream;
                let Ok(c) = s.try_clone() else { return };
                let mut r = BufReader::new(c);
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).map(|n| n == 0).unwrap_or(true) || l == "\r\n" {
                        break;
                    }
                }
                let roll = rng.lock().unwrap().below(50);
                if roll < 5 {
                    faults.fetch_add(1, Ordering::Relaxed);
                }
                let body = "<html><body>Open</body></html>";
                let _ = match roll {
                    0 => write!(s, "HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n"),
                    1 => write!(
                        s,
                        "HTTP/1.1 503 Busy\r\nretry-after: 30\r\ncontent-length: 0\r\n\r\n"
                    ),
                    2 => s.shutdown(std::net::Shutdown::Both),
                    3 => write!(s, "HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n<html>"),
                    4 => {
                        std::thread::sleep(Duration::from_secs(4));
                        Ok(())
                    }
                    _ => write!(
                        s,
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                };
            });
        }
    });
    port
}

fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
#[ignore = "a 10-minute soak: cargo test --test it soak -- --ignored"]
fn soak_the_daemon_under_a_stream_of_applications_and_faults() {
    needs!(Tool::Smtp);
    let secs: u64 = std::env::var("ATSD_SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let mut rng = Rng::from_env();
    let seed = rng.0;
    let board_faults = Arc::new(AtomicUsize::new(0));
    let board = flaky_board(seed, board_faults.clone());
    let sink = crate::smtp::Sink::start_with(
        crate::smtp::free_port(),
        &[
            "--tempfail-every",
            "20",
            "--seed",
            &(seed % 1_000_000).to_string(),
        ],
    );
    let postings = 50;
    let (http, lmtp) = (free_port(), free_port());
    let env = Env::with_config(&format!(
        "[pipeline.emails]\napplied = \"application_received\"\nrejected = \"rejection\"\n\
         [[rules]]\nname = \"stale-applied\"\nstage = \"applied\"\nafter = \"40s\"\nmove_to = \"rejected\"\nreason = \"no_response\"\n\
         [[rules]]\nname = \"nudge\"\nstage = \"screening\"\nafter = \"20s\"\nremind = true\n\
         [recruiters]\nemails = [\"recruiting@example.org\"]\n\
         [mail]\ntransport = \"smtp\"\nrate_per_second = 100\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout = \"5s\"\npool_size = 2\n\
         [poll]\ntimeout = \"2s\"\nallow_addresses = [\"127.0.0.1:{}\"]\n\
         [schedule]\npoll = \"*/15 * * * * *\"\nadvance = \"*/5 * * * * *\"\ndispatch = \"*/2 * * * * *\"\ndigest = \"0 */2 * * * *\"\nretention = \"0 */5 * * * *\"\n\
         [http]\nlisten = \"127.0.0.1:{http}\"\n\
         [mail.inbound]\ndomain = \"jobs.example.org\"\nkey_file = \"inbound.key\"\nlmtp_listen = \"127.0.0.1:{lmtp}\"\n",
        sink.port, board
    ));
    env.write(
        "inbound.key",
        "an-inbound-key-of-more-than-32-bytes-0123456789\n",
    );
    for i in 0..postings {
        env.write(
            &format!("postings/job{i}.md"),
            &format!(
                "---\ntitle: Job {i}\ncompanyName: Acme\nurl: http://127.0.0.1:{}/jobs/{i}\n---\nA job.\n",
                board
            ),
        );
    }
    env.ok(&["posting", "import", "postings"]);
    let log = env.path("daemon.log");
    let mut daemon = env
        .std_cmd()
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    std::thread::sleep(Duration::from_secs(2));
    let rss_start = rss_kib(pid).unwrap_or(0);
    let rss_peak = Arc::new(AtomicUsize::new(rss_start as usize));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (rss_peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(k) = rss_kib(pid) {
                    peak.fetch_max(k as usize, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    // recruiters on the board: the overview and a posting page, twice a second
    let viewer = {
        let (stop, cookie) = (stop.clone(), session(http, &env.token("board", "read")));
        std::thread::spawn(move || {
            let mut views = 0usize;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(get(http, "/board", Some(&cookie)).status, 200);
                let posting = format!("/board/postings/{}", 1 + views % postings);
                assert_eq!(get(http, &posting, Some(&cookie)).status, 200);
                views += 2;
                std::thread::sleep(Duration::from_millis(500));
            }
            views
        })
    };
    // the stream: about three applications a second; one in four is moved to
    // screening a moment later (the reminder rule's stage)
    let started = Instant::now();
    let mut applied = 0usize;
    let mut screened = 0usize;
    while started.elapsed() < Duration::from_secs(secs) {
        let posting = 1 + rng.below(postings as u64);
        let (code, out, err) = env.run(&[
            "--json",
            "apply",
            &posting.to_string(),
            "--name",
            &format!("Soak {applied}"),
            "--email",
            &format!("soak{applied}@example.net"),
        ]);
        assert_eq!(code, 0, "{err}");
        applied += 1;
        if applied.is_multiple_of(4) {
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let id = v["application"]["id"].as_i64().unwrap().to_string();
            let (code, _, err) = env.run(&["application", "move", &id, "screening"]);
            // the rules may have rejected it first under a slow machine
            assert!(code == 0 || err.contains("cannot move"), "{err}");
            screened += usize::from(code == 0);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let fed_for = started.elapsed();
    // settle: the last applications go stale, tempfailed emails are retried
    let settle = Instant::now();
    let done = |env: &Env| {
        scalar(
            env,
            "SELECT COUNT(*) FROM applications WHERE stage = 'applied'",
        ) == 0
            && scalar(
                env,
                "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')",
            ) == 0
    };
    while !done(&env) && settle.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_secs(2));
    }
    let rss_end = rss_kib(pid).unwrap_or(0);
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let views = viewer.join().unwrap();
    crate::daemon::term(&daemon);
    let (code, _) = crate::daemon::wait_exit(&mut daemon, Duration::from_secs(15));
    assert_eq!(code, Some(0));
    let daemon_log = std::fs::read_to_string(&log).unwrap_or_default();

    // where the rules put them
    let total = scalar(&env, "SELECT COUNT(*) FROM applications");
    assert_eq!(total, applied as i64);
    let rejected = scalar(
        &env,
        "SELECT COUNT(*) FROM applications WHERE stage = 'rejected'",
    );
    let screening = scalar(
        &env,
        "SELECT COUNT(*) FROM applications WHERE stage = 'screening'",
    );
    assert_eq!(rejected + screening, total, "nothing left in applied");
    assert_eq!(screening, screened as i64);
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM (SELECT application_id FROM transitions WHERE reason = 'no_response' GROUP BY 1 HAVING COUNT(*) <> 1) x"
        ),
        0
    );
    // every email once
    let outbox = scalar(&env, "SELECT COUNT(*) FROM outbox");
    let sent = scalar(&env, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'");
    assert_eq!(sent, outbox, "every email sent, none dead");
    let copies = sink.copies_by_message_id();
    assert_eq!(copies.len() as i64, outbox);
    let twice = copies.values().filter(|n| **n > 1).count();
    let warned = daemon_log.matches("may get this email twice").count();
    assert!(twice <= warned, "{twice} duplicates, {warned} warned of");
    // only the injected faults in the log
    let unexpected: Vec<&str> = daemon_log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .filter(|l| {
            !(l.contains("poll failed; status unchanged")
                || l.contains("send failed; will retry")
                || l.contains("may get this email twice"))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    assert!(!daemon_log.contains("panicked"));
    // every occurrence of the frequent jobs, none twice
    let mut gaps = Vec::new();
    for (job, every) in [("advance", 5), ("dispatch", 2), ("poll", 15)] {
        let times: Vec<chrono::DateTime<chrono::Utc>> = rows(
            &env,
            &format!(
                "SELECT scheduled_for FROM job_runs WHERE job = '{job}' ORDER BY scheduled_for"
            ),
        )
        .into_iter()
        .filter_map(|r| chrono::DateTime::parse_from_rfc3339(&r[0]).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .collect();
        for w in times.windows(2) {
            if (w[1] - w[0]).num_seconds() != every {
                gaps.push(format!("{job}: {} → {}", w[0], w[1]));
            }
        }
        eprintln!("soak: {job}: {} runs", times.len());
    }
    assert!(gaps.is_empty(), "occurrences missed: {gaps:#?}");
    let rss_peak = rss_peak.load(Ordering::Relaxed) as u64;
    eprintln!(
        "soak (seed {seed}): fed {applied} applications over {fed_for:.0?} ({screened} moved to screening), settled in {:.0?}; \
         {rejected} rejected by the rules; {outbox} emails sent, {twice} twice ({warned} warned of); \
         {} board faults injected, {} SMTP tempfails; {views} board pages viewed; RSS start {rss_start} KiB, peak {rss_peak} KiB, end {rss_end} KiB",
        settle.elapsed(),
        board_faults.load(Ordering::Relaxed),
        daemon_log.matches("send failed; will retry").count(),
    );
    assert!(
        rss_peak < rss_start * 2 + 64 * 1024,
        "RSS grew from {rss_start} KiB to {rss_peak} KiB"
    );
}
