//! The scheduler's bookkeeping: a job run's error and how many times its
//! occurrence was started (a run interrupted by a crash is taken over by the
//! next process), and why a candidate is held from retention.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // one column per statement: SQLite alters one thing at a time
        m.alter_table(
            Table::alter()
                .table(JobRuns::Table)
                .add_column(ColumnDef::new(JobRuns::Error).text().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(JobRuns::Table)
                .add_column(
                    ColumnDef::new(JobRuns::Attempts)
                        .integer()
                        .not_null()
                        .default(1),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Candidates::Table)
                .add_column(ColumnDef::new(Candidates::HoldReason).text().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_postings_status")
                .table(Postings::Table)
                .col(Postings::Status)
                .col(Postings::StatusChangedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_postings_status").to_owned())
            .await?;
        for (t, c) in [
            (
                Candidates::Table.into_iden(),
                Candidates::HoldReason.into_iden(),
            ),
            (JobRuns::Table.into_iden(), JobRuns::Attempts.into_iden()),
            (JobRuns::Table.into_iden(), JobRuns::Error.into_iden()),
        ] {
            m.alter_table(Table::alter().table(t).drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum JobRuns {
    Table,
    Error,
    Attempts,
}

#[derive(DeriveIden)]
enum Candidates {
    Table,
    HoldReason,
}

#[derive(DeriveIden)]
enum Postings {
    Table,
    Status,
    StatusChangedAt,
}
