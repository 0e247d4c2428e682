//! Data-subject requests (GDPR Art. 15–21, CCPA): who asked for what,
//! under which law, when it came, when it is due, and how it ended.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DataRequests::Table)
                .col(
                    ColumnDef::new(DataRequests::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(DataRequests::CandidateId)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(DataRequests::Email).text().not_null())
                .col(ColumnDef::new(DataRequests::Kind).text().not_null())
                .col(ColumnDef::new(DataRequests::Law).text().not_null())
                .col(ColumnDef::new(DataRequests::State).text().not_null())
                .col(ColumnDef::new(DataRequests::Outcome).text().null())
                .col(
                    ColumnDef::new(DataRequests::ReceivedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(DataRequests::DueAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(DataRequests::AcknowledgeBy)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(DataRequests::ExtendedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(DataRequests::ExtensionReason).text().null())
                .col(
                    ColumnDef::new(DataRequests::ClosedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(DataRequests::CloseReason).text().null())
                .col(ColumnDef::new(DataRequests::Note).text().null())
                .col(
                    ColumnDef::new(DataRequests::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("data_requests_state_due")
                .table(DataRequests::Table)
                .col(DataRequests::State)
                .col(DataRequests::DueAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DataRequests::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DataRequests {
    Table,
    Id,
    CandidateId,
    Email,
    Kind,
    Law,
    State,
    Outcome,
    ReceivedAt,
    DueAt,
    AcknowledgeBy,
    ExtendedAt,
    ExtensionReason,
    ClosedAt,
    CloseReason,
    Note,
    CreatedAt,
}
