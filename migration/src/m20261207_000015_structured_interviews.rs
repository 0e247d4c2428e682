//! Structured interviews (issue 35): a posting's scorecard (attributes in
//! categories) and an interview's focus attributes; an interviewer's
//! ratings per attribute, private notes, and who entered them when a
//! coordinator did; Greenhouse's recommendation values (`strong_no`
//! becomes `definitely_not`); people's availability (weekly windows and a
//! private busy feed, fetched and kept); and the slots offered to a
//! candidate through a signed booking link.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement
        let add =
            |table: DynIden, col: ColumnDef| Table::alter().table(table).add_column(col).to_owned();
        m.alter_table(add(
            Postings::Table.into_iden(),
            ColumnDef::new(Postings::Scorecard).text().null().to_owned(),
        ))
        .await?;
        m.alter_table(add(
            Interviews::Table.into_iden(),
            ColumnDef::new(Interviews::Focus).text().null().to_owned(),
        ))
        .await?;
        for col in [
            ColumnDef::new(InterviewPeople::Ratings)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(InterviewPeople::PrivateNote)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(InterviewPeople::SubmittedBy)
                .big_integer()
                .null()
                .to_owned(),
        ] {
            m.alter_table(add(InterviewPeople::Table.into_iden(), col))
                .await?;
        }
        // Greenhouse's scale: what atsd called strong_no is definitely_not
        m.exec_stmt(
            Query::update()
                .table(InterviewPeople::Table)
                .value(InterviewPeople::Recommendation, "definitely_not")
                .and_where(Expr::col(InterviewPeople::Recommendation).eq("strong_no"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Availability::Table)
                .col(
                    ColumnDef::new(Availability::PersonId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Availability::Weekly).text().not_null())
                .col(ColumnDef::new(Availability::BusyFeed).text().null())
                .col(ColumnDef::new(Availability::BusyTimes).text().null())
                .col(
                    ColumnDef::new(Availability::BusyFetchedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(Availability::BusyError).text().null())
                .col(
                    ColumnDef::new(Availability::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(InterviewOffers::Table)
                .col(
                    ColumnDef::new(InterviewOffers::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(InterviewOffers::ApplicationId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewOffers::Interviewers)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewOffers::Minutes)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewOffers::FromAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewOffers::UntilAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewOffers::BufferMinutes)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewOffers::NoticeMinutes)
                        .integer()
                        .not_null(),
                )
                .col(ColumnDef::new(InterviewOffers::Title).text().null())
                .col(ColumnDef::new(InterviewOffers::Location).text().null())
                .col(ColumnDef::new(InterviewOffers::VideoUrl).text().null())
                .col(ColumnDef::new(InterviewOffers::Focus).text().null())
                .col(ColumnDef::new(InterviewOffers::Status).text().not_null())
                .col(
                    ColumnDef::new(InterviewOffers::InterviewId)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(InterviewOffers::CreatedBy).text().not_null())
                .col(
                    ColumnDef::new(InterviewOffers::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewOffers::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("interview_offers_application")
                .table(InterviewOffers::Table)
                .col(InterviewOffers::ApplicationId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(InterviewOffers::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Availability::Table).to_owned())
            .await?;
        m.exec_stmt(
            Query::update()
                .table(InterviewPeople::Table)
                .value(InterviewPeople::Recommendation, "strong_no")
                .and_where(Expr::col(InterviewPeople::Recommendation).eq("definitely_not"))
                .to_owned(),
        )
        .await?;
        let drop =
            |table: DynIden, col: DynIden| Table::alter().table(table).drop_column(col).to_owned();
        for col in [
            InterviewPeople::SubmittedBy,
            InterviewPeople::PrivateNote,
            InterviewPeople::Ratings,
        ] {
            m.alter_table(drop(InterviewPeople::Table.into_iden(), col.into_iden()))
                .await?;
        }
        m.alter_table(drop(
            Interviews::Table.into_iden(),
            Interviews::Focus.into_iden(),
        ))
        .await?;
        m.alter_table(drop(
            Postings::Table.into_iden(),
            Postings::Scorecard.into_iden(),
        ))
        .await
    }
}

#[derive(DeriveIden)]
enum Postings {
    Table,
    Scorecard,
}

#[derive(DeriveIden)]
enum Interviews {
    Table,
    Focus,
}

#[derive(DeriveIden)]
enum InterviewPeople {
    Table,
    Recommendation,
    Ratings,
    PrivateNote,
    SubmittedBy,
}

#[derive(DeriveIden)]
enum Availability {
    #[sea_orm(iden = "availability")]
    Table,
    PersonId,
    Weekly,
    BusyFeed,
    BusyTimes,
    BusyFetchedAt,
    BusyError,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InterviewOffers {
    Table,
    Id,
    ApplicationId,
    Interviewers,
    Minutes,
    FromAt,
    UntilAt,
    BufferMinutes,
    NoticeMinutes,
    Title,
    Location,
    VideoUrl,
    Focus,
    Status,
    InterviewId,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
}
