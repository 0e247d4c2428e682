//! Test harness: a fresh database per test (a SQLite file, or a new
//! PostgreSQL database when `ATSD_TEST_DATABASE_URL` is set) and helpers to
//! run the real `atsd` binary against it.

use assert_cmd::Command;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use tempfile::TempDir;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The PostgreSQL server to test against, if any.
pub fn pg_admin_url() -> Option<String> {
    std::env::var("ATSD_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(f)
}

pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A new empty database: a file in `dir`, or a new PostgreSQL database.
    pub fn new(dir: &Path) -> TestDb {
        match pg_admin_url() {
            None => TestDb {
                url: format!("sqlite://{}/atsd.db?mode=rwc", dir.display()),
                pg: None,
            },
            Some(admin) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                let name = format!(
                    "atsd_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    nanos
                );
                let admin2 = admin.clone();
                let n2 = name.clone();
                // a fresh thread: tests may call this inside their own runtime
                std::thread::spawn(move || {
                    block_on(async move {
                        let db = Database::connect(&admin2)
                            .await
                            .expect("connect to ATSD_TEST_DATABASE_URL");
                        db.execute_unprepared(&format!("CREATE DATABASE \"{n2}\""))
                            .await
                            .expect("create test database");
                        db.close().await.ok();
                    })
                })
                .join()
                .expect("create test database");
                let mut u = url::Url::parse(&admin).expect("ATSD_TEST_DATABASE_URL is a URL");
                u.set_path(&format!("/{name}"));
                TestDb {
                    url: u.to_string(),
                    pg: Some((admin, name)),
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// PostgreSQL: lets this test's database take connections, or refuses
    /// them and ends the open ones (the database becomes unreachable for
    /// whoever uses it, even a superuser).
    pub fn pg_allow_connections(&self, allow: bool) {
        let Some((admin, name)) = self.pg.clone() else {
            return;
        };
        std::thread::spawn(move || {
            block_on(async move {
                let db = Database::connect(&admin).await.expect("connect as admin");
                db.execute_unprepared(&format!(
                    "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allow}"
                ))
                .await
                .expect("alter database");
                if !allow {
                    db.execute_unprepared(&format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                    ))
                    .await
                    .expect("terminate backends");
                }
                db.close().await.ok();
            })
        })
        .join()
        .expect("alter database");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // a fresh thread: Drop may run inside a test's runtime
            let _ = std::thread::spawn(move || {
                block_on(async move {
                    if let Ok(db) = Database::connect(&admin).await {
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = db.close().await;
                    }
                })
            })
            .join();
        }
    }
}

/// The `atsd` binary on the suite's clock (tests/it/clock.rs), nothing
/// else set: for the tests that name their own config or database.
pub fn atsd_bin() -> std::process::Command {
    #[allow(deprecated)]
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("atsd"));
    crate::clock::apply(&mut c);
    c
}

/// A working folder with a config file and a fresh database.
pub struct Env {
    pub dir: TempDir,
    pub db: TestDb,
    pub config: PathBuf,
}

pub const NOW: &str = "2026-11-25T09:00:00Z";

impl Env {
    pub fn new() -> Env {
        Env::with_config("")
    }

    pub fn with_config(toml: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("atsd.toml");
        std::fs::write(&config, toml).expect("write config");
        let db = TestDb::new(dir.path());
        Env { dir, db, config }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file of the test's folder, private to its owner (mode
    /// 0600) as an operator keeps keys and passwords: atsd refuses a secret
    /// file others can read.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&p)
            .expect("create");
        f.write_all(text.as_bytes()).expect("write");
        p
    }

    /// `atsd --config .. --database ..` with a clean environment.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`Env::cmd`] as a `std::process::Command` (to spawn and kill, or to
    /// send output to files).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = atsd_bin();
        for (k, _) in std::env::vars() {
            if k.starts_with("ATSD_") {
                c.env_remove(k);
            }
        }
        c.current_dir(self.dir.path())
            .env("USER", "tester")
            .env_remove("STATE_DIRECTORY")
            .arg("--config")
            .arg(&self.config)
            .arg("--database")
            .arg(&self.db.url);
        c
    }

    /// Runs and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().expect("run atsd");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs, asserts exit 0, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(
            code, 0,
            "atsd {args:?} failed:\nstdout: {out}\nstderr: {err}"
        );
        out
    }

    /// Runs with `--json`, asserts exit 0, parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.ok(&a);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("atsd {args:?}: not JSON ({e}): {out}"))
    }

    /// Runs, asserts the exit code, returns stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let (c, out, err) = self.run(args);
        assert_eq!(
            c, code,
            "atsd {args:?}: expected exit {code}\nstdout: {out}\nstderr: {err}"
        );
        err
    }

    /// `atsd posting add https://boards.greenhouse.io/acme/jobs/{job} --title
    /// {title}` (the set-up of most tests): its output.
    pub fn add_posting(&self, job: u32, title: &str) -> String {
        self.ok(&[
            "posting",
            "add",
            &format!("https://boards.greenhouse.io/acme/jobs/{job}"),
            "--title",
            title,
        ])
    }

    /// A new API token of `scope`, as `atsd token create` shows it once.
    pub fn token(&self, name: &str, scope: &str) -> String {
        self.ok(&["token", "create", name, "--scope", scope])
            .trim()
            .to_string()
    }

    /// Opens the database through the library.
    pub async fn store(&self) -> atsd::store::Store {
        atsd::store::Store::open(&self.db.url)
            .await
            .expect("open store")
    }
}

/// The real posting from `shared/seeds/`, copied into `tests/fixtures/` so
/// that the suite does not depend on where the checkout sits.
pub fn seed_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join("000_4e6edc7baf5b7be0.txt")
}

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Counts rows of a table.
pub async fn count(store: &atsd::store::Store, table: &str) -> i64 {
    let row = store
        .conn()
        .query_one_raw(sea_orm::Statement::from_string(
            store.backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count query")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

pub fn count_sync(env: &Env, table: &str) -> i64 {
    block_on(async {
        let s = env.store().await;
        let n = count(&s, table).await;
        s.close().await.ok();
        n
    })
}

#[path = "../../benches/support/seed.rs"]
mod seed;

/// Seeds `n` applications in `stage` of `posting` since `at` (see
/// `benches/support/seed.rs`): fast, for tests of big runs.
pub fn seed_applications(env: &Env, posting: i64, n: usize, stage: &str, at: &str) {
    let at: chrono::DateTime<chrono::Utc> = at.parse().expect("an RFC 3339 time");
    block_on(async {
        let s = env.store().await;
        seed::seed_applications(s.conn(), posting, n, stage, at).await;
        s.close().await.ok();
    })
}

/// Every row of every atsd table as text, in a stable order: what a database
/// dump holds, to compare before and after, or to search for a value.
pub fn dump_tables(env: &Env) -> String {
    use sea_orm::QueryResult;
    fn cell(r: &QueryResult, i: usize) -> String {
        if let Ok(v) = r.try_get_by_index::<Option<i64>>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = r.try_get_by_index::<Option<String>>(i) {
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
    block_on(async {
        let s = env.store().await;
        let mut out = String::new();
        for (t, key) in [
            ("postings", "id"),
            ("posting_history", "id"),
            ("candidates", "id"),
            ("applications", "id"),
            ("transitions", "id"),
            ("outbox", "id"),
            ("outbox_bodies", "outbox_id"),
            ("job_runs", "id"),
        ] {
            // PostgreSQL writes a whole row as text itself
            let q = if s.backend() == sea_orm::DbBackend::Postgres {
                format!("SELECT CAST(x AS text) AS r FROM {t} x ORDER BY x.{key}")
            } else {
                format!("SELECT * FROM {t} ORDER BY {key}")
            };
            let rows = s
                .conn()
                .query_all_raw(sea_orm::Statement::from_string(s.backend(), q))
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

/// A small seeded generator for kill points (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn from_env() -> Rng {
        let seed = std::env::var("ATSD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Whether the long form of the reliability tests was asked for (`RELIABILITY=1`).
pub fn reliability() -> bool {
    std::env::var("RELIABILITY").is_ok_and(|v| v == "1")
}

/// The first column of the first row of `q` on the test's database, as a number.
pub fn scalar(env: &Env, q: &str) -> i64 {
    crate::daemon::rows(env, q)
        .first()
        .and_then(|r| r.first())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// The number `q` answers on the database at `url` (a copy, another cluster).
pub fn scalar_at(url: &str, q: &str) -> i64 {
    block_on(async {
        let db = Database::connect(url).await.expect("connect");
        let r = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                q.to_string(),
            ))
            .await
            .expect("query")
            .expect("a row");
        let n = r.try_get_by_index::<i64>(0).expect("a number");
        db.close().await.ok();
        n
    })
}

/// An HTTP/1.1 answer read off the wire: headers lower-cased.
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` with `Connection: close`, the
/// given headers and body; None when nothing listens there.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Answer> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    // a server that refuses a body early (413) may answer and close before
    // the body is all written: its answer is read all the same
    let _ = s.write_all(body);
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    Some(Answer {
        status: headers
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        headers: headers.to_ascii_lowercase(),
        body: body.to_string(),
    })
}

/// Waits until the event feed shows every committed event. On PostgreSQL the
/// feed holds back an event while any older write transaction of the
/// cluster is still open (documented: a long transaction delays the feed),
/// and the other tests running beside this one open such transactions all
/// the time. On SQLite there is nothing to wait for.
pub fn settle(env: &Env) {
    if !env.db.is_postgres() {
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let held = scalar(
            env,
            "SELECT COUNT(*) FROM events WHERE tx >= pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        );
        if held == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{held} event(s) still held back after 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `atsd ARGS` (an `events` command) once the feed has settled.
pub fn feed(env: &Env, args: &[&str]) -> String {
    settle(env);
    env.ok(args)
}
