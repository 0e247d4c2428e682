//! The database, and nothing above it: connecting (SQLite or PostgreSQL by
//! URL), migrating, write transactions, the errors it gives by their codes,
//! the set-based row writer ([`rows`]), the leased queue ([`lease`]), and the
//! domain's reads and writes (applications, candidates, postings, the
//! outbox, the event log, tokens, the recruiter board's and the report's
//! reads). It depends on `entity`, `error`, `config` and the pure leaves
//! (`events`, `candidate_fields`, `pipeline`, `posting`) only — never on
//! `workflow`, `mail`, `poll`, `jobs` or the other modules that use it.
//!
//! The wall: every query and every write of the crate lives here (the jobs'
//! runs and locks, retention, webhooks, board sessions, idempotency keys,
//! inbound mail, the digest's and the metrics' reads included). clippy's
//! `disallowed-methods` (`clippy.toml`) refuses sea-orm's ways to query or
//! write anywhere else; this module alone allows them. One code path serves both
//! engines; write transactions on SQLite start with `BEGIN IMMEDIATE` so
//! that a transaction that reads before it writes waits for the lock
//! instead of failing under contention.

#![allow(clippy::disallowed_methods)] // the wall: see clippy.toml

pub mod applications;
pub mod availability;
pub mod backup;
pub mod board;
pub mod candidates;
pub mod careers;
pub mod copy;
pub mod digest;
pub mod events;
pub mod idempotency;
pub mod inbound;
pub mod interviews;
pub mod lease;
pub mod moves;
pub mod outbox;
pub mod people;
pub mod personal;
pub mod postings;
pub mod rate;
pub mod requests;
pub mod retention;
pub mod rows;
pub mod runs;
pub mod sessions;
pub mod stats;
pub mod tokens;
pub mod webhooks;

use crate::config::Config;
use crate::error::{Error, Result};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};
use std::path::PathBuf;
use std::time::Duration;

/// How long a SQLite writer waits for the lock before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite connections in the pool: one writer at a time, readers alongside (WAL).
pub const SQLITE_POOL_SIZE: u32 = 4;
pub const POSTGRES_POOL_SIZE: u32 = 10;
/// Prepared statements kept per SQLite connection.
pub const SQLITE_STATEMENT_CACHE: usize = 24;

#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    url: String,
}

/// The database URL per SPEC §2: `--database`, else `$ATSD_DATABASE_URL` or the
/// config (the environment already overrode the config), else SQLite
/// `atsd.db` in `$STATE_DIRECTORY` or the current directory.
pub fn resolve_url(flag: Option<&str>, config: &Config) -> String {
    if let Some(u) = flag.filter(|u| !u.is_empty()) {
        return u.to_string();
    }
    if let Some(u) = config.database.url.as_deref().filter(|u| !u.is_empty()) {
        return u.to_string();
    }
    let dir = std::env::var("STATE_DIRECTORY")
        .ok()
        .and_then(|d| d.split(':').next().map(PathBuf::from))
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    format!("sqlite://{}?mode=rwc", dir.join("atsd.db").display())
}

/// The SQLite database file of a URL, if the URL is SQLite and names a file.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next()?;
    if file.is_empty() || file == ":memory:" {
        return None;
    }
    Some(PathBuf::from(file))
}

/// The folder of a SQLite database file (for files kept beside it), if the URL is SQLite.
pub fn sqlite_dir(url: &str) -> Option<PathBuf> {
    Some(
        sqlite_file(url)?
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
    )
}

pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A raw statement written with `?` placeholders, numbered `$1, $2, …` for
/// PostgreSQL. For the set-based statements sea-query cannot express.
pub fn sql(backend: DbBackend, text: &str, values: Vec<Value>) -> Statement {
    let text = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(text.len() + 16);
        let mut n = 0;
        for ch in text.chars() {
            if ch == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(ch);
            }
        }
        out
    } else {
        text.to_string()
    };
    Statement::from_sql_and_values(backend, text, values)
}

/// `1,2,3`: ids written into a statement (they are our own integers).
pub fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The code the database gave an error: PostgreSQL's SQLSTATE (`40001`),
/// SQLite's result code (`5`, or an extended one such as `517`).
pub fn error_code(e: &sea_orm::DbErr) -> Option<String> {
    use sea_orm::{DbErr, RuntimeErr};
    let runtime = match e {
        DbErr::Exec(r) | DbErr::Query(r) | DbErr::Conn(r) => r,
        _ => return None,
    };
    match runtime {
        RuntimeErr::SqlxError(s) => match s.as_ref() {
            sea_orm::sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// A transaction that lost a race with another writer and may be tried
/// again: PostgreSQL's serialization failure (SQLSTATE 40001) or deadlock
/// (40P01).
pub fn is_lost_race(e: &sea_orm::DbErr) -> bool {
    error_code(e).is_some_and(|c| c == "40001" || c == "40P01")
}

/// A write refused by a unique index: PostgreSQL's 23505, SQLite's
/// `SQLITE_CONSTRAINT_UNIQUE` (2067) or `SQLITE_CONSTRAINT_PRIMARYKEY` (1555).
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    error_code(e).is_some_and(|c| c == "23505" || c == "2067" || c == "1555")
}

/// SQLite's "database is locked" (`SQLITE_BUSY`, 5, and its extended codes,
/// whose low byte is 5).
pub fn is_busy(e: &sea_orm::DbErr) -> bool {
    error_code(e)
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

/// The PostgreSQL channel on which queued email wakes the daemons.
pub const OUTBOX_CHANNEL: &str = "atsd_outbox";

/// Tells the daemons that email was queued: a PostgreSQL `NOTIFY`, delivered
/// when the caller's transaction commits (and not at all if it rolls back).
/// Nothing on SQLite, whose daemons look at the outbox every few seconds.
pub async fn notify_outbox<C: ConnectionTrait>(c: &C) -> Result<()> {
    notify(c, OUTBOX_CHANNEL).await
}

/// The PostgreSQL channel on which new events wake the daemons' outgoing
/// webhooks.
pub const EVENTS_CHANNEL: &str = "atsd_events";

/// `NOTIFY channel` on PostgreSQL (delivered at commit, once however often
/// one transaction says it); nothing on SQLite.
pub(crate) async fn notify<C: ConnectionTrait>(c: &C, channel: &str) -> Result<()> {
    if c.get_database_backend() == DbBackend::Postgres {
        c.execute_unprepared(&format!("NOTIFY {channel}")).await?;
    }
    Ok(())
}

/// The PostgreSQL advisory lock key that serialises migrations ("atsd").
const MIGRATION_LOCK: i64 = 0x6174_7364;

impl Store {
    /// Connects without migrating.
    pub async fn connect_only(url: &str) -> Result<Store> {
        let is_sqlite = url.starts_with("sqlite:");
        if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(Error::input(format!(
                "database URL `{}` is neither sqlite:// nor postgres://",
                redact(url)
            )));
        }
        let mut opts = ConnectOptions::new(url.to_string());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            // a connection in steady use is handed out without a ping (a
            // round trip per statement, which the dispatcher's commits would
            // pay); one idle for a second is pinged first, so a server
            // restarted meanwhile costs no failed statement
            .test_before_acquire_if_idle_for(Duration::from_secs(1));
        if is_sqlite {
            opts.max_connections(SQLITE_POOL_SIZE)
                .min_connections(1)
                .map_sqlx_sqlite_opts(|o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Full)
                        .foreign_keys(true)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        // the set-based statements name their rows in the
                        // text, so most are used once: a small cache keeps
                        // their compiled programs from piling up
                        .statement_cache_capacity(SQLITE_STATEMENT_CACHE)
                });
        } else {
            opts.max_connections(POSTGRES_POOL_SIZE);
        }
        // a brand-new SQLite file is switched to WAL by its first connection,
        // which needs the file to itself: a process starting at the same moment
        // is told "database is locked" at once, whatever the busy timeout, so
        // it tries again for as long as that timeout
        let started = std::time::Instant::now();
        let db = loop {
            match Database::connect(opts.clone()).await {
                Ok(db) => break db,
                Err(e) if is_sqlite && is_busy(&e) && started.elapsed() < SQLITE_BUSY_TIMEOUT => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    return Err(Error::Other(format!(
                        "cannot open database {}: {e}",
                        redact(url)
                    )));
                }
            }
        };
        Ok(Store {
            db,
            url: url.to_string(),
        })
    }

    /// Connects and applies pending migrations (every command does this first).
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect_only(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations; returns their names. Processes starting
    /// together on a new database take turns: the migrating runs in one
    /// write transaction (`BEGIN IMMEDIATE` on SQLite, under an advisory lock
    /// on PostgreSQL), and whoever comes second finds nothing left to do.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        // the usual case, without the write lock: nothing to do (on
        // PostgreSQL even this first look creates the bookkeeping table, and
        // two processes creating it at once can clash, so it waits for the lock)
        if self.backend() == DbBackend::Sqlite
            && Migrator::get_pending_migrations(&self.db).await?.is_empty()
        {
            return Ok(Vec::new());
        }
        let txn = self.begin_write().await?;
        if self.backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await?;
        }
        let pending: Vec<String> = Migrator::get_pending_migrations(&txn)
            .await?
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        if !pending.is_empty() {
            Migrator::up(&txn, None).await?;
        }
        txn.commit().await?;
        if !pending.is_empty() {
            tracing::info!(migrations = ?pending, "applied migrations");
        }
        Ok(pending)
    }

    /// The name of the newest applied migration.
    pub async fn schema_version(&self) -> Result<String> {
        Ok(Migrator::get_applied_migrations(&self.db)
            .await?
            .last()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "none".into()))
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let opts = TransactionOptions {
            sqlite_transaction_mode: (self.backend() == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(self.db.begin_with_options(opts).await?)
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        self.db
            .query_one_raw(sql(self.backend(), "SELECT 1 AS one", vec![]))
            .await?;
        Ok(())
    }

    /// A write transaction for a batch of key lookups: on PostgreSQL it
    /// forbids sequential scans and hash joins, which the planner, with
    /// statistics older than the rows the batch writes, may wrongly prefer
    /// over the keys' indexes.
    pub async fn begin_keyed_batch(&self) -> Result<DatabaseTransaction> {
        let txn = self.begin_write().await?;
        if self.backend() == DbBackend::Postgres {
            txn.execute_unprepared(
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off",
            )
            .await?;
        }
        Ok(txn)
    }

    /// Runs a raw statement (used by tests and tooling).
    pub async fn execute_unprepared(&self, sql: &str) -> Result<()> {
        self.db.execute_unprepared(sql).await?;
        Ok(())
    }

    pub async fn close(self) -> Result<()> {
        self.db.close().await?;
        Ok(())
    }
}

/// A savepoint inside `txn`: committed or rolled back alone, with `txn`
/// going on either way.
pub async fn savepoint(txn: &DatabaseTransaction) -> Result<DatabaseTransaction> {
    Ok(txn.begin().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_resolution_order() {
        let mut c = Config::default();
        assert_eq!(resolve_url(Some("postgres://x/y"), &c), "postgres://x/y");
        c.database.url = Some("sqlite:///var/lib/atsd/a.db".into());
        assert_eq!(resolve_url(None, &c), "sqlite:///var/lib/atsd/a.db");
        assert_eq!(
            sqlite_dir("sqlite:///var/lib/atsd/a.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/atsd"))
        );
        assert_eq!(sqlite_dir("postgres://x/y"), None);
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }
}
