//! Exact email: on each outbox row, when its message began to go out in the
//! current attempt (`data_at`, set durably before the body is written), so
//! that after a crash only the rows that may really have reached the server
//! are warned of; and one row that holds the sending rate shared by every
//! daemon of the database (a token bucket: `tokens` left as of `updated_ms`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .add_column(
                    ColumnDef::new(Outbox::DataAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SendRate::Table)
                .col(
                    ColumnDef::new(SendRate::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(SendRate::Tokens).double().not_null())
                .col(ColumnDef::new(SendRate::UpdatedMs).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared("INSERT INTO send_rate (id, tokens, updated_ms) VALUES (1, 0, 0)")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SendRate::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .drop_column(Outbox::DataAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    DataAt,
}

#[derive(DeriveIden)]
enum SendRate {
    Table,
    Id,
    Tokens,
    UpdatedMs,
}
