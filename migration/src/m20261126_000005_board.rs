//! The recruiter board: its sessions (a token given once at `/board/login`
//! is kept as a session; only a hash of the session's cookie is stored); an
//! index that lets a posting's column of one stage be read newest first
//! without sorting the stage; and on each transition when the stay it ends
//! began (`stage_entered_at`), so that days in stage is a grouped count
//! rather than a window over every transition. Existing transitions get it
//! from the transition before them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BoardSessions::Table)
                .col(
                    ColumnDef::new(BoardSessions::Hash)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(BoardSessions::TokenId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(BoardSessions::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(BoardSessions::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_applications_posting_stage_id")
                .table(Applications::Table)
                .col(Applications::PostingId)
                .col(Applications::Stage)
                .col(Applications::Id)
                .to_owned(),
        )
        .await?;
        // the new index starts with the old one's columns
        m.drop_index(
            Index::drop()
                .name("idx_applications_posting_stage")
                .table(Applications::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Transitions::Table)
                .add_column(
                    ColumnDef::new(Transitions::StageEnteredAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        // the same statement on both engines: the transition before
        m.get_connection()
            .execute_unprepared(
                "UPDATE transitions SET stage_entered_at = ( \
                   SELECT p.at FROM transitions p \
                   WHERE p.application_id = transitions.application_id \
                     AND (p.at < transitions.at OR (p.at = transitions.at AND p.id < transitions.id)) \
                   ORDER BY p.at DESC, p.id DESC LIMIT 1) \
                 WHERE from_stage IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Transitions::Table)
                .drop_column(Transitions::StageEnteredAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_applications_posting_stage")
                .table(Applications::Table)
                .col(Applications::PostingId)
                .col(Applications::Stage)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_applications_posting_stage_id")
                .table(Applications::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(BoardSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum BoardSessions {
    Table,
    Hash,
    TokenId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    PostingId,
    Stage,
    Id,
}

#[derive(DeriveIden)]
enum Transitions {
    Table,
    StageEnteredAt,
}
