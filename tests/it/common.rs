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

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    /// `atsd --config .. --database ..` with a clean environment.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`Env::cmd`] as a `std::process::Command` (to spawn and kill, or to
    /// send output to files).
    pub fn std_cmd(&self) -> std::process::Command {
        #[allow(deprecated)]
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("atsd"));
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

/// Seeds `n` candidates, each with one application in `stage` of posting
/// `posting`, applied (and in that stage since) `at`, with its first
/// transition: in three set-based statements, as fast tests of big runs need.
pub fn seed_applications(env: &Env, posting: i64, n: usize, stage: &str, at: &str) {
    let at: chrono::DateTime<chrono::Utc> = at.parse().expect("an RFC 3339 time");
    block_on(async {
        let s = env.store().await;
        let b = s.backend();
        let base = count(&s, "candidates").await;
        let seq = format!(
            "WITH RECURSIVE seq(i) AS (SELECT {} UNION ALL SELECT i + 1 FROM seq WHERE i < {})",
            base + 1,
            base + n as i64
        );
        let stmts = [
            format!(
                "{seq} INSERT INTO candidates (name, email, email_key, on_hold, created_at, updated_at) \
                 SELECT 'Person ' || i, 'p' || i || '@example.net', 'p' || i || '@example.net', FALSE, $1, $1 FROM seq"
            ),
            format!(
                "INSERT INTO applications (candidate_id, posting_id, stage, entered_stage_at, applied_at, version, created_at, updated_at) \
                 SELECT id, {posting}, '{stage}', $1, $1, 1, $1, $1 FROM candidates WHERE id > {base}"
            ),
            format!(
                "INSERT INTO transitions (application_id, from_stage, to_stage, actor, at) \
                 SELECT a.id, NULL, '{stage}', 'cli:seed', $1 FROM applications a WHERE a.candidate_id > {base}"
            ),
        ];
        for st in stmts {
            let st = if b == sea_orm::DbBackend::Sqlite {
                st.replace("$1", "?1")
            } else {
                st
            };
            s.conn()
                .execute_raw(sea_orm::Statement::from_sql_and_values(b, st, [at.into()]))
                .await
                .expect("seed");
        }
        s.close().await.ok();
    })
}
