//! The board's counts kept by the database (issue 36): how many
//! applications each posting has in each stage, in `stage_totals`, brought
//! up to date by triggers on `applications` in the writing transaction —
//! whoever writes (a move, an import, the careers site, retention, an
//! erasure, a person's SQL). On SQLite (one writer at a time) a row per
//! posting and stage, updated in place; on PostgreSQL, where several daemons
//! move at once, each statement appends its changes as rows of their own
//! (no two transactions wait on one counter) and the sum is the count; the
//! store folds them together now and then (`store::board::fold_totals`).
//!
//! The two counts that depend on the hour are read as index ranges instead:
//! those that entered their stage after its cut-off (`stage`,
//! `entered_stage_at`, `posting_id`, replacing `(stage, entered_stage_at)`)
//! and those that applied since yesterday (`applied_at`, `posting_id`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_TRIGGERS: [&str; 3] = [
    "CREATE TRIGGER stage_totals_insert AFTER INSERT ON applications BEGIN \
       INSERT INTO stage_totals (posting_id, stage, n) VALUES (NEW.posting_id, NEW.stage, 1) \
       ON CONFLICT (posting_id, stage) DO UPDATE SET n = stage_totals.n + 1; \
     END",
    "CREATE TRIGGER stage_totals_delete AFTER DELETE ON applications BEGIN \
       INSERT INTO stage_totals (posting_id, stage, n) VALUES (OLD.posting_id, OLD.stage, -1) \
       ON CONFLICT (posting_id, stage) DO UPDATE SET n = stage_totals.n - 1; \
     END",
    "CREATE TRIGGER stage_totals_update AFTER UPDATE OF stage, posting_id ON applications \
     WHEN OLD.stage <> NEW.stage OR OLD.posting_id <> NEW.posting_id BEGIN \
       INSERT INTO stage_totals (posting_id, stage, n) VALUES (OLD.posting_id, OLD.stage, -1) \
       ON CONFLICT (posting_id, stage) DO UPDATE SET n = stage_totals.n - 1; \
       INSERT INTO stage_totals (posting_id, stage, n) VALUES (NEW.posting_id, NEW.stage, 1) \
       ON CONFLICT (posting_id, stage) DO UPDATE SET n = stage_totals.n + 1; \
     END",
];

/// Statement-level triggers with transition tables: one aggregated insert
/// per statement, however many rows it touched.
const POSTGRES_TRIGGERS: [&str; 6] = [
    "CREATE FUNCTION stage_totals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
       INSERT INTO stage_totals (posting_id, stage, n) \
       SELECT posting_id, stage, COUNT(*) FROM new_rows GROUP BY posting_id, stage; \
       RETURN NULL; END $$",
    "CREATE FUNCTION stage_totals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
       INSERT INTO stage_totals (posting_id, stage, n) \
       SELECT posting_id, stage, -COUNT(*) FROM old_rows GROUP BY posting_id, stage; \
       RETURN NULL; END $$",
    "CREATE FUNCTION stage_totals_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
       INSERT INTO stage_totals (posting_id, stage, n) \
       SELECT posting_id, stage, SUM(d) FROM ( \
         SELECT o.posting_id, o.stage, -1 AS d FROM old_rows o JOIN new_rows w ON w.id = o.id \
           WHERE o.stage <> w.stage OR o.posting_id <> w.posting_id \
         UNION ALL \
         SELECT w.posting_id, w.stage, 1 AS d FROM old_rows o JOIN new_rows w ON w.id = o.id \
           WHERE o.stage <> w.stage OR o.posting_id <> w.posting_id) c \
       GROUP BY posting_id, stage HAVING SUM(d) <> 0; \
       RETURN NULL; END $$",
    "CREATE TRIGGER stage_totals_insert AFTER INSERT ON applications \
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_totals_inserted()",
    "CREATE TRIGGER stage_totals_delete AFTER DELETE ON applications \
       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_totals_deleted()",
    "CREATE TRIGGER stage_totals_update AFTER UPDATE ON applications \
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows \
       FOR EACH STATEMENT EXECUTE FUNCTION stage_totals_updated()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let postgres = m.get_database_backend() == DbBackend::Postgres;
        m.create_table(
            Table::create()
                .table(StageTotals::Table)
                .col(
                    ColumnDef::new(StageTotals::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(StageTotals::PostingId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(StageTotals::Stage).text().not_null())
                .col(ColumnDef::new(StageTotals::N).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        let mut index = Index::create()
            .name("idx_stage_totals_posting_stage")
            .table(StageTotals::Table)
            .col(StageTotals::PostingId)
            .col(StageTotals::Stage)
            .to_owned();
        if !postgres {
            index.unique();
        }
        m.create_index(index).await?;
        let db = m.get_connection();
        db.execute_unprepared(
            "INSERT INTO stage_totals (posting_id, stage, n) \
             SELECT posting_id, stage, COUNT(*) FROM applications GROUP BY posting_id, stage",
        )
        .await?;
        let triggers: &[&str] = if postgres {
            &POSTGRES_TRIGGERS
        } else {
            &SQLITE_TRIGGERS
        };
        for t in triggers {
            db.execute_unprepared(t).await?;
        }

        m.drop_index(
            Index::drop()
                .name("idx_applications_stage_entered")
                .table(Applications::Table)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_applications_stage_entered_posting")
                .table(Applications::Table)
                .col(Applications::Stage)
                .col(Applications::EnteredStageAt)
                .col(Applications::PostingId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_applications_applied_posting")
                .table(Applications::Table)
                .col(Applications::AppliedAt)
                .col(Applications::PostingId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let postgres = m.get_database_backend() == DbBackend::Postgres;
        let db = m.get_connection();
        for t in ["insert", "delete", "update"] {
            let on = if postgres { " ON applications" } else { "" };
            db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS stage_totals_{t}{on}"))
                .await?;
        }
        if postgres {
            for f in ["inserted", "deleted", "updated"] {
                db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS stage_totals_{f}()"))
                    .await?;
            }
        }
        m.drop_table(Table::drop().table(StageTotals::Table).to_owned())
            .await?;
        for name in [
            "idx_applications_applied_posting",
            "idx_applications_stage_entered_posting",
        ] {
            m.drop_index(
                Index::drop()
                    .name(name)
                    .table(Applications::Table)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_applications_stage_entered")
                .table(Applications::Table)
                .col(Applications::Stage)
                .col(Applications::EnteredStageAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum StageTotals {
    Table,
    Id,
    PostingId,
    Stage,
    N,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Stage,
    EnteredStageAt,
    PostingId,
    AppliedAt,
}
