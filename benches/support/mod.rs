//! What the benchmarks share: a database of their own for each run.

use sea_orm::{ConnectionTrait, Database};

/// A fresh database for one benchmark run: a SQLite file in `dir`, or, with
/// `ATSD_BENCH_DATABASE_URL=postgres://…/DB`, a new database on that server
/// (dropped by [`BenchDb::drop_database`]) — so that no run pays for the dead
/// rows an earlier one left behind.
pub struct BenchDb {
    pub url: String,
    admin: Option<(String, String)>,
}

impl BenchDb {
    pub async fn new(dir: &std::path::Path) -> BenchDb {
        let Ok(admin_url) = std::env::var("ATSD_BENCH_DATABASE_URL") else {
            return BenchDb {
                url: format!("sqlite://{}/bench.db?mode=rwc", dir.display()),
                admin: None,
            };
        };
        let name = format!("atsd_bench_{}", std::process::id());
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .expect("drop an old bench database");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the bench database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .expect("a postgres://host/db URL");
        BenchDb {
            url: format!("{base}/{name}"),
            admin: Some((admin_url, name)),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.admin.is_some()
    }

    pub async fn drop_database(self) {
        if let Some((admin_url, name)) = self.admin {
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// One of postfix's test programs (`smtp-sink`, `smtp-source`): unpacked by
/// `cargo xtask setup --bench` into `target/tools/postfix` (run with its own
/// libraries), else a system-wide postfix's in /usr/sbin.
#[allow(dead_code)]
pub fn postfix_tool(name: &str) -> std::process::Command {
    let root = std::env::var_os("ATSD_TEST_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools"))
        .join("postfix");
    let unpacked = root.join("usr/sbin").join(name);
    if unpacked.is_file() {
        let mut c = std::process::Command::new(unpacked);
        c.env("LD_LIBRARY_PATH", root.join("usr/lib/postfix"));
        c
    } else {
        std::process::Command::new(std::path::Path::new("/usr/sbin").join(name))
    }
}
