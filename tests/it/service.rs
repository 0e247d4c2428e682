//! atsd under a service manager, with the real binary: the notify datagrams
//! on a socket the test owns (`NOTIFY_SOCKET`), the watchdog, SIGTERM and
//! SIGHUP, `/healthz` and `/metrics` over loopback, journald and JSON logs,
//! and `atsd backup` under load.

use crate::common::{Env, block_on, count_sync, scalar};
use crate::daemon::{rows, term, wait_exit};
use crate::smtp::free_port;
use crate::tools::{Tool, needs};
use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The datagrams atsd sends to `NOTIFY_SOCKET`, each with when it came.
struct NotifySocket {
    path: PathBuf,
    got: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<AtomicBool>,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (got.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    g.lock().unwrap().push((Instant::now(), text));
                }
            }
        });
        NotifySocket { path, got, stop }
    }

    fn all(&self) -> Vec<(Instant, String)> {
        self.got.lock().unwrap().clone()
    }

    /// Waits for a datagram with `line` as one of its lines, received at or
    /// after `since`; returns when it came.
    fn wait_for(&self, line: &str, since: Instant, limit: Duration) -> Option<Instant> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Some((at, _)) = self
                .all()
                .into_iter()
                .find(|(at, d)| *at >= since && d.lines().any(|l| l == line))
            {
                return Some(at);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    fn pings(&self, from: Instant, to: Instant) -> Vec<Instant> {
        self.all()
            .into_iter()
            .filter(|(at, d)| *at >= from && *at <= to && d.lines().any(|l| l == "WATCHDOG=1"))
            .map(|(at, _)| at)
            .collect()
    }

    fn transcript(&self) -> String {
        self.all()
            .iter()
            .map(|(_, d)| d.trim_end().replace('\n', " | "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `atsd run` with its stderr in a file.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(env: &Env, vars: &[(&str, &str)]) -> Daemon {
        let log = env.path(&format!("daemon-{}.log", free_port()));
        let mut cmd = env.std_cmd();
        cmd.arg("run")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Daemon {
            child: cmd.spawn().expect("start atsd run"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, pred: impl Fn(&str) -> bool, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if pred(&self.log()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every job far away except those given (6-field expressions with seconds).
fn schedule(advance: &str, dispatch: &str) -> String {
    format!(
        "[schedule]\npoll = \"0 0 0 1 1 *\"\nadvance = \"{advance}\"\ndispatch = \"{dispatch}\"\ndigest = \"0 0 0 1 1 *\"\nretention = \"0 0 0 1 1 *\"\n"
    )
}

const STALE: &str = "[[rules]]\nname = \"stale\"\nstage = \"applied\"\nafter = \"30d\"\nmove_to = \"rejected\"\nreason = \"no_response\"\nemail = \"rejection\"\n";

#[test]
fn ready_after_migrations_watchdog_from_the_loop_and_stopping_on_sigterm() {
    let env = Env::with_config(&format!(
        "{STALE}\n[mail]\ntransport = \"log\"\nrate_per_second = 100\n{}",
        schedule("* * * * * *", "* * * * * *")
    ));
    let notify = NotifySocket::bind(env.dir.path());
    let started = Instant::now();
    let mut d = Daemon::start(
        &env,
        &[
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    // READY=1 once the schema is there: on this fresh database the
    // migrations ran first
    let ready = notify
        .wait_for("READY=1", started, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no READY=1\n{}\n{}", notify.transcript(), d.log()));
    assert_eq!(
        scalar(&env, "SELECT COUNT(*) FROM seaql_migrations"),
        <migration::Migrator as migration::MigratorTrait>::migrations().len() as i64
    );
    let first = &notify.all()[0].1;
    assert!(first.starts_with("READY=1\n"), "{}", notify.transcript());

    // the pings come from the loop at least twice as often as asked
    std::thread::sleep(Duration::from_secs(3));
    let pings = notify.pings(ready, Instant::now());
    assert!(pings.len() >= 6, "{} pings in 3 s", pings.len());
    let gap = pings.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(gap <= Duration::from_millis(500), "a gap of {gap:?}");
    assert!(
        notify
            .all()
            .iter()
            .any(|(_, d)| d.starts_with("STATUS=next ") && d.contains("pending")),
        "{}",
        notify.transcript()
    );

    // work arrives while it runs: the rules reject, the dispatcher sends
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    crate::common::seed_applications(&env, 1, 3_000, "applied", "2026-01-05T00:00:00Z");
    assert!(
        d.wait_log(
            |l| l.contains("email (log transport)"),
            Duration::from_secs(60)
        ),
        "{}",
        d.log()
    );
    let term_at = Instant::now();
    term(&d.child);
    let (code, took) = wait_exit(&mut d.child, Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", d.log());
    assert!(took < Duration::from_secs(10));
    assert!(
        notify
            .wait_for("STOPPING=1", term_at, Duration::from_secs(1))
            .is_some(),
        "{}",
        notify.transcript()
    );
    assert_eq!(
        scalar(&env, "SELECT COUNT(*) FROM outbox WHERE status = 'sending'"),
        0
    );
    let queued = count_sync(&env, "outbox");
    assert_eq!(
        scalar(
            &env,
            "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sent')"
        ),
        queued
    );
    eprintln!("notify datagrams:\n{}", notify.transcript());
}

#[test]
fn a_wedged_loop_stops_the_watchdog_pings() {
    let env = Env::with_config(&schedule("0 0 0 1 1 *", "0 0 0 1 1 *"));
    let notify = NotifySocket::bind(env.dir.path());
    let wedge = env.path("wedge");
    let started = Instant::now();
    let mut d = Daemon::start(
        &env,
        &[
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
            ("ATSD_TEST_WEDGE_FILE", wedge.to_str().unwrap()),
        ],
    );
    let ready = notify
        .wait_for("READY=1", started, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no READY=1\n{}", d.log()));
    std::thread::sleep(Duration::from_secs(1));
    assert!(notify.pings(ready, Instant::now()).len() >= 2);
    std::fs::write(&wedge, "").unwrap();
    assert!(
        d.wait_log(
            |l| l.contains("the scheduler loop hangs"),
            Duration::from_secs(5)
        ),
        "{}",
        d.log()
    );
    let wedged = Instant::now();
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(
        notify.pings(wedged, Instant::now()),
        Vec::<Instant>::new(),
        "pings went on after the loop hung"
    );
    assert!(
        d.alive(),
        "the process is still there: only its loop is stuck"
    );
}

#[test]
fn sighup_reloads_the_schedule_and_refuses_a_bad_config() {
    let env = Env::with_config(&schedule("0 0 0 1 1 *", "0 0 0 1 1 *"));
    let notify = NotifySocket::bind(env.dir.path());
    let started = Instant::now();
    let mut d = Daemon::start(&env, &[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
    notify
        .wait_for("READY=1", started, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no READY=1\n{}", d.log()));
    // the catch-up run of the yearly occurrence, then nothing
    assert!(d.wait_log(|l| l.contains("job=\"advance\""), Duration::from_secs(10)));
    let advance_runs = || scalar(&env, "SELECT COUNT(*) FROM job_runs WHERE job = 'advance'");
    assert_eq!(advance_runs(), 1);

    // a new schedule: advance every 2 seconds
    std::fs::write(&env.config, schedule("*/2 * * * * *", "0 0 0 1 1 *")).unwrap();
    let hup = Instant::now();
    let hup_utc = crate::clock::now();
    d.signal("-HUP");
    let reloading = notify
        .wait_for("RELOADING=1", hup, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no RELOADING=1\n{}", notify.transcript()));
    let (_, dgram) = notify
        .all()
        .into_iter()
        .find(|(at, _)| *at == reloading)
        .unwrap();
    assert!(dgram.contains("MONOTONIC_USEC="), "{dgram}");
    assert!(
        notify
            .wait_for("READY=1", reloading, Duration::from_secs(5))
            .is_some()
    );
    let t = Instant::now();
    while advance_runs() < 3 && t.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let runs = rows(
        &env,
        "SELECT scheduled_for FROM job_runs WHERE job = 'advance' ORDER BY scheduled_for",
    );
    assert!(runs.len() >= 3, "{runs:?}\n{}", d.log());
    for r in &runs[1..] {
        let at = chrono::DateTime::parse_from_rfc3339(&r[0]).unwrap();
        assert!(at > hup_utc - chrono::Duration::seconds(2), "{runs:?}");
        assert_eq!(chrono::Timelike::second(&at) % 2, 0, "{runs:?}");
    }

    // an unknown key: logged with its name, the running config stays
    std::fs::write(
        &env.config,
        format!("{}bogus_key = 1\n", schedule("0 0 0 1 1 *", "0 0 0 1 1 *")),
    )
    .unwrap();
    let hup = Instant::now();
    d.signal("-HUP");
    assert!(
        d.wait_log(
            |l| l.contains("reload refused") && l.contains("bogus_key"),
            Duration::from_secs(5)
        ),
        "{}",
        d.log()
    );
    assert!(
        notify
            .wait_for("READY=1", hup, Duration::from_secs(5))
            .is_some()
    );
    let before = advance_runs();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        advance_runs() > before,
        "the old schedule (every 2 s) stays"
    );

    // a template that uses an unknown variable: refused, naming it
    for (part, text) in [
        ("subject.txt", "Your application"),
        ("txt", "Hello {{ candidate.shoe_size }}"),
        ("html", "<p>Hello</p>"),
    ] {
        env.write(&format!("tpl/en/rejection.{part}"), text);
    }
    std::fs::write(
        &env.config,
        format!(
            "{}[templates]\ndir = \"tpl\"\n",
            schedule("*/2 * * * * *", "0 0 0 1 1 *")
        ),
    )
    .unwrap();
    d.signal("-HUP");
    assert!(
        d.wait_log(
            |l| l.matches("reload refused").count() == 2 && l.contains("shoe_size"),
            Duration::from_secs(5)
        ),
        "{}",
        d.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(d.alive(), "a reload never kills the daemon\n{}", d.log());
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("shoe_size"), "{err}");
}

/// One HTTP/1.1 GET over loopback: (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    let a = crate::common::http(port, "GET", path, &[], b"").expect("the daemon listens");
    (a.status, a.body)
}

/// Parses `/metrics` with Python's `prometheus_client` (PyPI), with its
/// OpenMetrics parser or its Prometheus text format parser as `format` says:
/// {"families": {"family": [[labels, value], ...]}, "samples": {"sample
/// name": [labels, ...]}}.
fn parse_metrics(text: &str, format: &str) -> serde_json::Value {
    let script = r#"
import sys, json
if sys.argv[1] == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
families, samples = {}, {}
for f in text_string_to_metric_families(sys.stdin.read()):
    families[f.name] = [[s.labels, s.value] for s in f.samples]
    for s in f.samples:
        samples.setdefault(s.name, []).append(s.labels)
print(json.dumps({"families": families, "samples": samples}))
"#;
    let mut child = std::process::Command::new(crate::tools::python())
        .args(["-c", script, format])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tests' python (cargo xtask setup)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the metrics do not parse: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What `promtool check metrics` prints about a text-format answer (its
/// exit status is part of it): "" when it finds nothing wrong.
fn promtool_check_metrics(text: &str) -> String {
    let mut child = std::process::Command::new(crate::tools::promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (cargo xtask setup)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        said
    } else {
        format!("{said}(exit {})", out.status)
    }
}

fn sample(m: &serde_json::Value, family: &str, label: &str, value: &str) -> Option<f64> {
    let m = &m["families"];
    m[family]
        .as_array()?
        .iter()
        .find(|s| s[0][label] == value)
        .and_then(|s| s[1].as_f64())
}

#[test]
fn healthz_and_metrics_over_loopback_and_503_while_the_database_is_gone() {
    needs!(Tool::PrometheusClient, Tool::Promtool);
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[mail]\ntransport = \"log\"\n{}",
        schedule("* * * * * *", "* * * * * *")
    ));
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    for i in 0..3 {
        env.ok(&[
            "apply",
            "1",
            "--name",
            "Ada",
            "--email",
            &format!("ada{i}@example.org"),
        ]);
    }
    let notify = NotifySocket::bind(env.dir.path());
    let started = Instant::now();
    let d = Daemon::start(&env, &[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
    notify
        .wait_for("READY=1", started, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no READY=1\n{}", d.log()));
    // bound before READY=1
    let (code, body) = get(port, "/healthz");
    assert_eq!(code, 200, "{body}");
    let h: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["database"], "ok", "{h}");

    // the three application emails go out
    assert!(
        d.wait_log(
            |l| l.matches("email (log transport)").count() >= 3,
            Duration::from_secs(20)
        ),
        "{}",
        d.log()
    );
    // the log line comes before the dispatch run ends and its counts reach
    // the counters: read the metrics until that run is counted, and the
    // poll the daemon runs at start (its yearly occurrence, missed) too, so
    // that the two formats below are read of the same counters
    let deadline = Instant::now() + Duration::from_secs(60);
    let openmetrics = [("Accept", "application/openmetrics-text; version=1.0.0")];
    let m = loop {
        let a = crate::common::http(port, "GET", "/metrics", &openmetrics, b"").unwrap();
        assert_eq!(a.status, 200);
        assert!(
            a.headers
                .contains("content-type: application/openmetrics-text; version=1.0.0"),
            "{}",
            a.headers
        );
        let m = parse_metrics(&a.body, "openmetrics");
        let polled = m["samples"]
            .as_object()
            .is_some_and(|s| s.contains_key("atsd_polls_total"));
        if (polled && sample(&m, "atsd_emails", "outcome", "sent").unwrap_or(0.0) >= 3.0)
            || Instant::now() > deadline
        {
            break m;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        sample(&m, "atsd_outbox_emails", "status", "sent"),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "atsd_outbox_emails", "status", "dead"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "atsd_postings", "status", "unknown"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "atsd_webhook_deliveries", "status", "dead"),
        Some(0.0),
        "{m}"
    );
    assert!(
        sample(&m, "atsd_emails", "outcome", "sent").unwrap_or(0.0) >= 3.0,
        "{m}"
    );
    assert!(
        sample(
            &m,
            "atsd_job_last_success_timestamp_seconds",
            "job",
            "dispatch"
        )
        .unwrap_or(0.0)
            > 1.7e9,
        "{m}"
    );
    assert_eq!(
        sample(&m, "atsd_build", "version", env!("CARGO_PKG_VERSION")),
        Some(1.0),
        "{m}"
    );
    assert!(
        m["families"]["atsd_job_run_duration_seconds"]
            .as_array()
            .is_some(),
        "{m}"
    );
    // without an Accept header: Prometheus' text format, which promtool
    // reads and lints without a word, with the same samples
    let a = crate::common::http(port, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(a.status, 200);
    assert!(
        a.headers
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        a.headers
    );
    let check = promtool_check_metrics(&a.body);
    assert_eq!(check, "", "promtool check metrics:\n{check}\n{}", a.body);
    let text = parse_metrics(&a.body, "text");
    let names = |m: &serde_json::Value| {
        let mut n: Vec<String> = m["samples"].as_object().unwrap().keys().cloned().collect();
        n.sort();
        n
    };
    assert_eq!(names(&text), names(&m), "{}", a.body);
    assert!(get(port, "/nothing").0 == 404);
    // a request head over 16 KiB is refused, not buffered
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big = "x".repeat(20 * 1024);
    let _ = write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {big}\r\nConnection: close\r\n\r\n"
    );
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );

    // the database goes away: 503 naming it; back: 200
    let file = env.path("atsd.db");
    let moved = env.path("atsd.db.moved");
    if env.db.is_postgres() {
        env.db.pg_allow_connections(false);
    } else {
        std::fs::rename(&file, &moved).unwrap();
    }
    let (code, body) = get(port, "/healthz");
    assert_eq!(code, 503, "{body}");
    let h: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["status"], "unavailable", "{h}");
    assert_ne!(h["database"], "ok", "{h}");
    if env.db.is_postgres() {
        env.db.pg_allow_connections(true);
    } else {
        std::fs::rename(&moved, &file).unwrap();
    }
    let t = Instant::now();
    let mut last = (0, String::new());
    while t.elapsed() < Duration::from_secs(20) {
        last = get(port, "/healthz");
        if last.0 == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(last.0, 200, "{}\n{}", last.1, d.log());
}

#[test]
fn journald_lines_carry_a_priority_and_no_time_and_json_lines_parse() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["-v", "tick", "dispatch"])
        .env("JOURNAL_STREAM", "8:12345")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("job run"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.starts_with("<6>"), "{line}");
    assert!(
        !line.contains("2026-") || line.contains("occurrence="),
        "{line}"
    );
    assert!(
        !line[..12].chars().any(|c| c == ':'),
        "no time first: {line}"
    );

    let env = Env::with_config("[log]\nformat = \"json\"\n");
    let out = env.cmd().args(["-v", "tick", "dispatch"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let mut runs = 0;
    for l in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string(), "{v}");
        if v["message"] == "job run" {
            runs += 1;
            assert_eq!(v["job"], "dispatch", "{v}");
            assert!(v["run"].is_number(), "{v}");
        }
    }
    assert_eq!(runs, 1, "{err}");
}

#[test]
fn backup_while_a_tick_writes_holds_every_committed_move() {
    let env = Env::with_config(&format!("{STALE}\n[mail]\ntransport = \"log\"\n"));
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    if env.db.is_postgres() {
        let err = env.fails(2, &["backup", "copy.db"]);
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!env.path("copy.db").exists());
        return;
    }
    let n = 20_000;
    crate::common::seed_applications(&env, 1, n, "applied", "2026-01-05T00:00:00Z");
    let mut tick = env
        .std_cmd()
        .args(["--now", "2026-11-25T09:00:00Z", "tick", "advance"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // once the first batch is in, copy while the others are written
    let t = Instant::now();
    let mut before = 0;
    while t.elapsed() < Duration::from_secs(60) {
        before = scalar(
            &env,
            "SELECT COUNT(*) FROM transitions WHERE to_stage = 'rejected'",
        );
        if before > 0 || tick.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let copy = env.path("backups/copy.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let v = env.json(&["backup", copy.to_str().unwrap()]);
    assert_eq!(v["integrity"], "ok", "{v}");
    assert!(tick.wait().unwrap().success());
    assert_eq!(
        block_on(atsd::store::backup::integrity_check(&copy)).unwrap(),
        "ok"
    );
    let copy_url = format!("sqlite://{}?mode=ro", copy.display());
    let q = |sql: &str| crate::common::scalar_at(&copy_url, sql);
    let rejected = q("SELECT COUNT(*) FROM applications WHERE stage = 'rejected'");
    eprintln!("moves committed before the copy began: {before}; in the copy: {rejected} of {n}");
    assert!(
        rejected >= before,
        "{rejected} < {before} committed before the copy"
    );
    // every move in the copy is whole: its transition and its email
    assert_eq!(
        q("SELECT COUNT(*) FROM transitions WHERE to_stage = 'rejected'"),
        rejected
    );
    assert_eq!(
        q("SELECT COUNT(*) FROM outbox WHERE template = 'rejection'"),
        rejected
    );
    assert_eq!(q("SELECT COUNT(*) FROM applications"), n as i64);
    // a second backup to the same name is refused, the first kept
    let err = env.fails(2, &["backup", copy.to_str().unwrap()]);
    assert!(err.contains("already exists"), "{err}");
}

/// SQLite → the engine under test (PostgreSQL in CI's second run): every
/// row, the same answers from both, and ids that go on counting.
#[test]
fn copy_database_moves_every_row_and_the_target_keeps_counting() {
    let env = Env::new();
    let src = format!("sqlite://{}/src.db?mode=rwc", env.dir.path().display());
    let on = |url: &str, args: &[&str]| -> String {
        let out = crate::common::atsd_bin()
            .current_dir(env.dir.path())
            .env("USER", "tester")
            .args(["--config", env.config.to_str().unwrap(), "--database", url])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    on(
        &src,
        &["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"],
    );
    for i in 0..3 {
        on(
            &src,
            &[
                "apply",
                "1",
                "--name",
                "Ada",
                "--email",
                &format!("a{i}@example.org"),
            ],
        );
    }
    on(&src, &["application", "move", "2", "screening"]);
    on(
        &src,
        &["application", "move", "3", "rejected", "--reason", "filled"],
    );
    on(&src, &["tick", "advance", "dispatch"]);

    let out = on(&src, &["--json", "copy-database", &env.db.url]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tables"]["applications"], 3, "{v}");
    assert_eq!(v["tables"]["transitions"], 5, "{v}");
    assert_eq!(v["tables"]["outbox"], 4, "{v}");
    // the same answers, to the microsecond PostgreSQL keeps
    let micros = |s: String| {
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find('.') {
            out.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits > 6 && rest[digits..].starts_with('Z') {
                out.push_str(&rest[..6]);
                rest = &rest[digits..];
            }
        }
        out + rest
    };
    for cmd in [
        vec!["--json", "application", "list"],
        vec!["--json", "mail", "list"],
        vec!["--json", "posting", "list"],
        vec![
            "--now",
            "2026-12-01T00:00:00Z",
            "report",
            "--format",
            "json",
        ],
    ] {
        assert_eq!(
            micros(on(&src, &cmd)),
            micros(on(&env.db.url, &cmd)),
            "{cmd:?}"
        );
    }
    // the copy goes on with the next ids
    let out = on(
        &env.db.url,
        &[
            "--json",
            "apply",
            "1",
            "--name",
            "Bo",
            "--email",
            "bo@example.org",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["application"]["id"], 4, "{v}");
    // and is never copied over
    let err = env.fails(2, &["copy-database", &env.db.url]);
    assert!(
        err.contains("the target is the database being copied"),
        "{err}"
    );
    let (code, _, err) = {
        let out = crate::common::atsd_bin()
            .current_dir(env.dir.path())
            .args(["--config", env.config.to_str().unwrap(), "--database", &src])
            .args(["copy-database", &env.db.url])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::new(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is not empty"), "{err}");
}
