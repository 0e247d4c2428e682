//! The HTTP API's bookkeeping: API tokens (only a hash of each is kept), the
//! answers to requests sent with an `Idempotency-Key`, so that a retried
//! request gets the first answer instead of doing the work twice, and the
//! ids of the webhooks received, so that a delivery repeated acts once.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(
                    ColumnDef::new(ApiTokens::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ApiTokens::Name)
                        .text()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(ApiTokens::Scope).text().not_null())
                .col(
                    ColumnDef::new(ApiTokens::Hash)
                        .text()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(ApiTokens::Prefix).text().not_null())
                .col(
                    ColumnDef::new(ApiTokens::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ApiTokens::LastUsedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(ApiTokens::RevokedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(
                    ColumnDef::new(IdempotencyKeys::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(IdempotencyKeys::TokenId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(IdempotencyKeys::Key).text().not_null())
                .col(
                    ColumnDef::new(IdempotencyKeys::RequestHash)
                        .text()
                        .not_null(),
                )
                .col(ColumnDef::new(IdempotencyKeys::Status).integer().not_null())
                .col(ColumnDef::new(IdempotencyKeys::Body).text().not_null())
                .col(
                    ColumnDef::new(IdempotencyKeys::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(IdempotencyKeys::Table, IdempotencyKeys::TokenId)
                        .to(ApiTokens::Table, ApiTokens::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_idempotency_token_key")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::TokenId)
                .col(IdempotencyKeys::Key)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhooksIn::Table)
                .col(
                    ColumnDef::new(WebhooksIn::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(WebhooksIn::Source).text().not_null())
                .col(ColumnDef::new(WebhooksIn::EventId).text().not_null())
                .col(ColumnDef::new(WebhooksIn::Action).text().not_null())
                .col(
                    ColumnDef::new(WebhooksIn::ReceivedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhooks_in_source_event")
                .table(WebhooksIn::Table)
                .col(WebhooksIn::Source)
                .col(WebhooksIn::EventId)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhooksIn::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ApiTokens::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Scope,
    Hash,
    Prefix,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    TokenId,
    Key,
    RequestHash,
    Status,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhooksIn {
    Table,
    Id,
    Source,
    EventId,
    Action,
    ReceivedAt,
}
