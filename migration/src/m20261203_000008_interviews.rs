//! Interviews: one row per interview (its application, instant, the zone it
//! was scheduled in, length, place, the iCalendar UID and SEQUENCE, status),
//! one per interviewer (a person, their feedback), and the calendar object
//! an iMIP email carries (`outbox_bodies.calendar`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Interviews::Table)
                .col(id(Interviews::Id))
                .col(
                    ColumnDef::new(Interviews::ApplicationId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Interviews::Uid)
                        .text()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Interviews::Title).text().not_null())
                .col(ts(Interviews::StartsAt))
                .col(ColumnDef::new(Interviews::Timezone).text().not_null())
                .col(ColumnDef::new(Interviews::Minutes).integer().not_null())
                .col(ColumnDef::new(Interviews::Location).text().null())
                .col(ColumnDef::new(Interviews::VideoUrl).text().null())
                .col(
                    ColumnDef::new(Interviews::Sequence)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(ColumnDef::new(Interviews::Status).text().not_null())
                .col(ColumnDef::new(Interviews::CancelReason).text().null())
                .col(ts(Interviews::CreatedAt))
                .col(ts(Interviews::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Interviews::Table, Interviews::ApplicationId)
                        .to(Applications::Table, Applications::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_interviews_application")
                .table(Interviews::Table)
                .col(Interviews::ApplicationId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_interviews_status_start")
                .table(Interviews::Table)
                .col(Interviews::Status)
                .col(Interviews::StartsAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(InterviewPeople::Table)
                .col(id(InterviewPeople::Id))
                .col(
                    ColumnDef::new(InterviewPeople::InterviewId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewPeople::PersonId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InterviewPeople::Recommendation)
                        .text()
                        .null(),
                )
                .col(ColumnDef::new(InterviewPeople::Note).text().null())
                .col(
                    ColumnDef::new(InterviewPeople::FeedbackAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(InterviewPeople::Table, InterviewPeople::InterviewId)
                        .to(Interviews::Table, Interviews::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(InterviewPeople::Table, InterviewPeople::PersonId)
                        .to(People::Table, People::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_interview_people_unique")
                .table(InterviewPeople::Table)
                .col(InterviewPeople::InterviewId)
                .col(InterviewPeople::PersonId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_interview_people_person")
                .table(InterviewPeople::Table)
                .col(InterviewPeople::PersonId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(OutboxBodies::Table)
                .add_column(ColumnDef::new(OutboxBodies::Calendar).text().null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(OutboxBodies::Table)
                .drop_column(OutboxBodies::Calendar)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(InterviewPeople::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Interviews::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Interviews {
    Table,
    Id,
    ApplicationId,
    Uid,
    Title,
    StartsAt,
    Timezone,
    Minutes,
    Location,
    VideoUrl,
    Sequence,
    Status,
    CancelReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InterviewPeople {
    Table,
    Id,
    InterviewId,
    PersonId,
    Recommendation,
    Note,
    FeedbackAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OutboxBodies {
    Table,
    Calendar,
}
