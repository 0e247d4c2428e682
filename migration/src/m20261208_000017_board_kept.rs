//! The board's "waiting too long" counts kept by the database too (issue
//! 36): how many applications of each posting entered their stage on each
//! day (UTC), in `stage_days`, kept by triggers on `applications` beside
//! those of `stage_totals` (m20261207_000016), the same way (SQLite: a row
//! per posting, stage and day updated in place; PostgreSQL: a row appended
//! per statement, folded by the store).
//!
//! Those that entered a stage after its cut-off were counted over the
//! index range `(stage, entered_stage_at)` on every page: 20,000 recent
//! applications cost the overview 8 ms of its 9. Now they are the days
//! after the cut-off's day, summed, and the rest of the cut-off's own day
//! counted in that index range.
//!
//! And `chart_figures`: the chart figures the board counts from the
//! transition log (0.1 s for a posting of 100,000 applications), kept per
//! posting with the newest transition they saw, so that a daemon just
//! started (or another one sharing the database) shows them at once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The day (since 1970-01-01, UTC) of a timestamp stored as RFC 3339 text;
/// 0 for text SQLite cannot read as a time (no write fails for it).
fn sqlite_day(column: &str) -> String {
    format!("COALESCE(CAST(strftime('%s', {column}) AS INTEGER) / 86400, 0)")
}

fn sqlite_triggers() -> [String; 3] {
    let (new, old) = (
        sqlite_day("NEW.entered_stage_at"),
        sqlite_day("OLD.entered_stage_at"),
    );
    let add = |p: &str, day: &str, d: i32| {
        format!(
            "INSERT INTO stage_days (posting_id, stage, day, n) VALUES ({p}.posting_id, {p}.stage, {day}, {d}) \
             ON CONFLICT (stage, day, posting_id) DO UPDATE SET n = stage_days.n + ({d});"
        )
    };
    [
        format!(
            "CREATE TRIGGER stage_days_insert AFTER INSERT ON applications BEGIN {} END",
            add("NEW", &new, 1)
        ),
        format!(
            "CREATE TRIGGER stage_days_delete AFTER DELETE ON applications BEGIN {} END",
            add("OLD", &old, -1)
        ),
        format!(
            "CREATE TRIGGER stage_days_update AFTER UPDATE OF stage, posting_id, entered_stage_at ON applications \
             WHEN OLD.stage <> NEW.stage OR OLD.posting_id <> NEW.posting_id \
             OR OLD.entered_stage_at IS NOT NEW.entered_stage_at BEGIN {} {} END",
            add("OLD", &old, -1),
            add("NEW", &new, 1)
        ),
    ]
}

const POSTGRES_DAY: &str = "FLOOR(EXTRACT(EPOCH FROM entered_stage_at) / 86400)::BIGINT";

fn postgres_triggers() -> [String; 6] {
    let day = POSTGRES_DAY;
    let changed = "o.stage <> w.stage OR o.posting_id <> w.posting_id \
                   OR o.entered_stage_at IS DISTINCT FROM w.entered_stage_at";
    [
        format!(
            "CREATE FUNCTION stage_days_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               INSERT INTO stage_days (posting_id, stage, day, n) \
               SELECT posting_id, stage, {day}, COUNT(*) FROM new_rows GROUP BY 1, 2, 3; \
               RETURN NULL; END $$"
        ),
        format!(
            "CREATE FUNCTION stage_days_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               INSERT INTO stage_days (posting_id, stage, day, n) \
               SELECT posting_id, stage, {day}, -COUNT(*) FROM old_rows GROUP BY 1, 2, 3; \
               RETURN NULL; END $$"
        ),
        format!(
            "CREATE FUNCTION stage_days_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               INSERT INTO stage_days (posting_id, stage, day, n) \
               SELECT posting_id, stage, day, SUM(d) FROM ( \
                 SELECT o.posting_id, o.stage, FLOOR(EXTRACT(EPOCH FROM o.entered_stage_at) / 86400)::BIGINT AS day, -1 AS d \
                   FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE {changed} \
                 UNION ALL \
                 SELECT w.posting_id, w.stage, FLOOR(EXTRACT(EPOCH FROM w.entered_stage_at) / 86400)::BIGINT, 1 \
                   FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE {changed}) c \
               GROUP BY posting_id, stage, day HAVING SUM(d) <> 0; \
               RETURN NULL; END $$"
        ),
        "CREATE TRIGGER stage_days_insert AFTER INSERT ON applications \
           REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_days_inserted()"
            .into(),
        "CREATE TRIGGER stage_days_delete AFTER DELETE ON applications \
           REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_days_deleted()"
            .into(),
        "CREATE TRIGGER stage_days_update AFTER UPDATE ON applications \
           REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows \
           FOR EACH STATEMENT EXECUTE FUNCTION stage_days_updated()"
            .into(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let postgres = m.get_database_backend() == DbBackend::Postgres;
        m.create_table(
            Table::create()
                .table(StageDays::Table)
                .col(
                    ColumnDef::new(StageDays::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(StageDays::PostingId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(StageDays::Stage).text().not_null())
                .col(ColumnDef::new(StageDays::Day).big_integer().not_null())
                .col(ColumnDef::new(StageDays::N).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        // read by stage and a range of days (posting_id for the posting page
        // and the grouping); SQLite's upsert needs it unique
        let mut index = Index::create()
            .name("idx_stage_days_stage_day_posting")
            .table(StageDays::Table)
            .col(StageDays::Stage)
            .col(StageDays::Day)
            .col(StageDays::PostingId)
            .to_owned();
        if !postgres {
            index.unique();
        }
        m.create_index(index).await?;
        m.create_table(
            Table::create()
                .table(ChartFigures::Table)
                .col(
                    ColumnDef::new(ChartFigures::PostingId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ChartFigures::LastTransition)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ChartFigures::CountedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(ChartFigures::Figures).text().not_null())
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let day = if postgres {
            POSTGRES_DAY.to_string()
        } else {
            sqlite_day("entered_stage_at")
        };
        db.execute_unprepared(&format!(
            "INSERT INTO stage_days (posting_id, stage, day, n) \
             SELECT posting_id, stage, {day}, COUNT(*) FROM applications GROUP BY 1, 2, 3"
        ))
        .await?;
        let triggers: Vec<String> = if postgres {
            postgres_triggers().into()
        } else {
            sqlite_triggers().into()
        };
        for t in triggers {
            db.execute_unprepared(&t).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let postgres = m.get_database_backend() == DbBackend::Postgres;
        let db = m.get_connection();
        for t in ["insert", "delete", "update"] {
            let on = if postgres { " ON applications" } else { "" };
            db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS stage_days_{t}{on}"))
                .await?;
        }
        if postgres {
            for f in ["inserted", "deleted", "updated"] {
                db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS stage_days_{f}()"))
                    .await?;
            }
        }
        m.drop_table(Table::drop().table(ChartFigures::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(StageDays::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StageDays {
    Table,
    Id,
    PostingId,
    Stage,
    Day,
    N,
}

#[derive(DeriveIden)]
enum ChartFigures {
    Table,
    PostingId,
    LastTransition,
    CountedAt,
    Figures,
}
