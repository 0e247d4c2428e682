//! Candidates ask for themselves (issue 33, part 8): the request a
//! candidate's privacy link opened remembers that link's nonce (a link
//! opens one request, once), and an access request the nonce of the
//! download link it sent and when the export was downloaded (that link
//! works once, and only the latest one).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement
        for col in [
            ColumnDef::new(DataRequests::LinkNonce)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(DataRequests::ExportNonce)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(DataRequests::DownloadedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(DataRequests::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("data_requests_link_nonce")
                .table(DataRequests::Table)
                .col(DataRequests::LinkNonce)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("data_requests_link_nonce")
                .table(DataRequests::Table)
                .to_owned(),
        )
        .await?;
        for col in [
            DataRequests::DownloadedAt,
            DataRequests::ExportNonce,
            DataRequests::LinkNonce,
        ] {
            m.alter_table(
                Table::alter()
                    .table(DataRequests::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum DataRequests {
    Table,
    LinkNonce,
    ExportNonce,
    DownloadedAt,
}
