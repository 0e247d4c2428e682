//! The quarantine's bounds beyond its cap: each quarantined message's
//! reason as a short code (`forged_tag`, `untagged`, …: what `/metrics`
//! counts by), and a per-sender window (`quarantine_senders`) so that one
//! sender cannot push everyone else's messages out of the quarantine.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(InboundMessages::Table)
                .add_column(ColumnDef::new(InboundMessages::Reason).text().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(QuarantineSenders::Table)
                .col(
                    ColumnDef::new(QuarantineSenders::Sender)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(QuarantineSenders::WindowStart)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(QuarantineSenders::Kept)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(QuarantineSenders::Refused)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(QuarantineSenders::LastAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(QuarantineSenders::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(InboundMessages::Table)
                .drop_column(InboundMessages::Reason)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum InboundMessages {
    Table,
    Reason,
}

#[derive(DeriveIden)]
enum QuarantineSenders {
    Table,
    Sender,
    WindowStart,
    Kept,
    Refused,
    LastAt,
}
