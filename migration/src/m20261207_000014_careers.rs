//! The careers site (issue 34): when a posting was published on the board
//! and first published; what an application through the careers site or
//! Greenhouse's Job Board API brought beside the candidate (phone, answers
//! to the posting's questions, where it came from); and the files it
//! brought (resumes, cover letters), kept content-addressed on disk.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement
        for col in [
            ColumnDef::new(Postings::PublishedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Postings::FirstPublishedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Postings::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(ApplicationForms::Table)
                .col(
                    ColumnDef::new(ApplicationForms::ApplicationId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(ApplicationForms::Phone).text().null())
                .col(ColumnDef::new(ApplicationForms::Answers).text().not_null())
                .col(ColumnDef::new(ApplicationForms::Source).text().null())
                .col(ColumnDef::new(ApplicationForms::Consent).text().null())
                .col(
                    ColumnDef::new(ApplicationForms::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApplicationFiles::Table)
                .col(
                    ColumnDef::new(ApplicationFiles::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ApplicationFiles::ApplicationId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(ApplicationFiles::Field).text().not_null())
                .col(ColumnDef::new(ApplicationFiles::Name).text().not_null())
                .col(
                    ColumnDef::new(ApplicationFiles::MediaType)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ApplicationFiles::Size)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(ApplicationFiles::Sha256).text().not_null())
                .col(
                    ColumnDef::new(ApplicationFiles::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("application_files_application")
                .table(ApplicationFiles::Table)
                .col(ApplicationFiles::ApplicationId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("application_files_sha256")
                .table(ApplicationFiles::Table)
                .col(ApplicationFiles::Sha256)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApplicationFiles::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ApplicationForms::Table).to_owned())
            .await?;
        for col in [Postings::FirstPublishedAt, Postings::PublishedAt] {
            m.alter_table(
                Table::alter()
                    .table(Postings::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Postings {
    Table,
    PublishedAt,
    FirstPublishedAt,
}

#[derive(DeriveIden)]
enum ApplicationForms {
    Table,
    ApplicationId,
    Phone,
    Answers,
    Source,
    Consent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApplicationFiles {
    Table,
    Id,
    ApplicationId,
    Field,
    Name,
    MediaType,
    Size,
    Sha256,
    CreatedAt,
}
