//! `atsd copy-database URL`: every row of this database into another one at
//! the same schema version, which must be empty — the way from SQLite to
//! PostgreSQL when one daemon becomes several (or back). The source is read in
//! one transaction (a consistent snapshot), the target written in one (all or
//! nothing); ids are kept, and PostgreSQL's id sequences are moved past them.

use super::Store;
use crate::error::{Error, Result};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

/// Rows read and written per statement (well under both engines' limits on
/// bound parameters with the widest table).
const PAGE: u64 = 500;

/// The tables in an order that satisfies their foreign keys.
pub const TABLES: [&str; 16] = [
    "postings",
    "posting_history",
    "people",
    "posting_team",
    "candidates",
    "applications",
    "transitions",
    "interviews",
    "interview_people",
    "outbox",
    "outbox_bodies",
    "job_runs",
    "api_tokens",
    "idempotency_keys",
    "events",
    "webhook_deliveries",
];

macro_rules! copy_table {
    ($src:expr, $dst:expr, $module:ident, $key:ident, $field:ident, $progress:expr, $table:expr) => {{
        use entity::$module::{Column, Entity};
        let mut last = i64::MIN;
        let mut n = 0u64;
        loop {
            let rows = Entity::find()
                .filter(Column::$key.gt(last))
                .order_by_asc(Column::$key)
                .limit(PAGE)
                .all($src)
                .await?;
            let Some(l) = rows.last() else { break };
            last = l.$field;
            n += rows.len() as u64;
            let models: Vec<entity::$module::ActiveModel> = rows
                .into_iter()
                .map(|r| r.into_active_model().reset_all())
                .collect();
            Entity::insert_many(models)
                .exec_without_returning($dst)
                .await?;
            $progress($table, n);
        }
        n
    }};
}

async fn versions(s: &Store) -> Result<Vec<String>> {
    let st = super::sql(
        s.backend(),
        "SELECT version FROM seaql_migrations ORDER BY version",
        vec![],
    );
    let rows = s.conn().query_all_raw(st).await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "version").map_err(Error::from))
        .collect()
}

/// What [`copy`] reports per table.
pub type Copied = Vec<(&'static str, u64)>;

/// Copies every row of `from` into `to` (both migrated to the same version).
/// `progress(table, rows so far)` is called after each page.
pub async fn copy(from: &Store, to: &Store, progress: impl Fn(&str, u64)) -> Result<Copied> {
    if versions(from).await? != versions(to).await? {
        return Err(Error::input(
            "the two databases are at different schema versions; run the same atsd on both",
        ));
    }
    for t in TABLES {
        let st = super::sql(
            to.backend(),
            &format!("SELECT COUNT(*) AS n FROM {t}"),
            vec![],
        );
        let n: i64 = match to.conn().query_one_raw(st).await? {
            Some(r) => r.try_get("", "n")?,
            None => 0,
        };
        if n > 0 {
            return Err(Error::input(format!(
                "the target database is not empty ({t} has {n} row(s)); copy into a new database"
            )));
        }
    }
    let src = from.conn().begin().await?;
    let dst = to.begin_write().await?;
    let mut copied = Copied::new();
    // in the order of TABLES: (table, entity module, key column, key field)
    macro_rules! copy_all {
        ($(($table:literal, $module:ident, $key:ident, $field:ident)),* $(,)?) => {
            $(copied.push(($table, copy_table!(&src, &dst, $module, $key, $field, progress, $table)));)*
        };
    }
    copy_all!(
        ("postings", posting, Id, id),
        ("posting_history", posting_history, Id, id),
        ("people", person, Id, id),
        ("posting_team", posting_team, Id, id),
        ("candidates", candidate, Id, id),
        ("applications", application, Id, id),
        ("transitions", transition, Id, id),
        ("interviews", interview, Id, id),
        ("interview_people", interview_person, Id, id),
        ("outbox", outbox, Id, id),
        ("outbox_bodies", outbox_body, OutboxId, outbox_id),
        ("job_runs", job_run, Id, id),
        ("api_tokens", api_token, Id, id),
        ("idempotency_keys", idempotency_key, Id, id),
        ("events", event, Id, id),
        ("webhook_deliveries", webhook_delivery, Id, id),
    );
    debug_assert!(copied.iter().map(|(t, _)| *t).eq(TABLES));
    if to.backend() == DbBackend::Postgres {
        for t in TABLES.iter().filter(|t| **t != "outbox_bodies") {
            dst.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {t}"
            ))
            .await?;
        }
    }
    dst.commit().await?;
    src.rollback().await?;
    Ok(copied)
}
