//! Events and where they go: every transition, email outcome, posting status
//! change and failed job run is written as an event in the transaction that
//! made it; webhook endpoints read them in order with a cursor each, and a
//! delivery row per event and endpoint is the durable queue of the outgoing
//! webhooks. The self-service links used are kept, so that each works once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let postgres = m.get_database_backend() == DbBackend::Postgres;
        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(
                    ColumnDef::new(Events::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Events::Type).text().not_null())
                .col(
                    ColumnDef::new(Events::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                // the writing transaction on PostgreSQL (readers take an event
                // only once every transaction before it has ended, so that a
                // cursor never passes one still to commit); 0 on SQLite,
                // whose single writer commits in id order
                .col(
                    ColumnDef::new(Events::Tx)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(ColumnDef::new(Events::Data).text().not_null())
                // the application the event is about, if any: retention
                // finds the events of the people it anonymizes by it
                .col(ColumnDef::new(Events::ApplicationId).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_events_application")
                .table(Events::Table)
                .col(Events::ApplicationId)
                .to_owned(),
        )
        .await?;
        if postgres {
            m.get_connection()
                .execute_unprepared(
                    "ALTER TABLE events ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text::bigint)",
                )
                .await?;
            m.create_index(
                Index::create()
                    .name("idx_events_tx_id")
                    .table(Events::Table)
                    .col(Events::Tx)
                    .col(Events::Id)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(WebhookEndpoints::Table)
                .col(
                    ColumnDef::new(WebhookEndpoints::Name)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(WebhookEndpoints::Url).text().not_null())
                .col(
                    ColumnDef::new(WebhookEndpoints::CursorTx)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoints::CursorId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoints::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(
                    ColumnDef::new(WebhookDeliveries::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::Endpoint)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::EventId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(WebhookDeliveries::Status).text().not_null())
                .col(
                    ColumnDef::new(WebhookDeliveries::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::NextAttemptAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::LeaseUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(WebhookDeliveries::LastError).text().null())
                .col(
                    ColumnDef::new(WebhookDeliveries::LastStatus)
                        .integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::DeliveredAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookDeliveries::Table, WebhookDeliveries::EventId)
                        .to(Events::Table, Events::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_endpoint_event")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::Endpoint)
                .col(WebhookDeliveries::EventId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_due")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::Status)
                .col(WebhookDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SelfServiceUses::Table)
                .col(
                    ColumnDef::new(SelfServiceUses::Nonce)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(SelfServiceUses::ApplicationId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SelfServiceUses::UsedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SelfServiceUses::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Type,
    At,
    Tx,
    Data,
    ApplicationId,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Name,
    Url,
    CursorTx,
    CursorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    Endpoint,
    EventId,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    LastStatus,
    DeliveredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SelfServiceUses {
    Table,
    Nonce,
    ApplicationId,
    UsedAt,
}
