//! The initial schema: postings (with poll bookkeeping and history), candidates,
//! applications, transitions, the email outbox and job runs.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn ts_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}

fn int0(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn fk(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Postings::Table)
                .col(id(Postings::Id))
                .col(text(Postings::Url).unique_key())
                .col(text(Postings::Source))
                .col(text_null(Postings::Board))
                .col(text_null(Postings::ExternalId))
                .col(text(Postings::Title))
                .col(text_null(Postings::Company))
                .col(text_null(Postings::Location))
                .col(text_null(Postings::Description))
                .col(text_null(Postings::ApplyUrl))
                .col(ts_null(Postings::PostedAt))
                .col(text(Postings::Status))
                .col(ts_null(Postings::StatusChangedAt))
                .col(
                    ColumnDef::new(Postings::BoardMissing)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(text_null(Postings::Etag))
                .col(text_null(Postings::LastModified))
                .col(ts_null(Postings::LastPolledAt))
                .col(int0(Postings::ConsecutiveNotFound))
                .col(ts_null(Postings::LastNotFoundAt))
                .col(int0(Postings::ConsecutiveErrors))
                .col(ts_null(Postings::NextPollAt))
                .col(text_null(Postings::LastError))
                .col(ColumnDef::new(Postings::Raw).json().null())
                .col(ts(Postings::CreatedAt))
                .col(ts(Postings::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_postings_next_poll")
                .table(Postings::Table)
                .col(Postings::NextPollAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_postings_board")
                .table(Postings::Table)
                .col(Postings::Source)
                .col(Postings::Board)
                .col(Postings::ExternalId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PostingHistory::Table)
                .col(id(PostingHistory::Id))
                .col(fk(PostingHistory::PostingId))
                .col(ts(PostingHistory::At))
                .col(text(PostingHistory::Field))
                .col(text_null(PostingHistory::OldValue))
                .col(text_null(PostingHistory::NewValue))
                .col(text_null(PostingHistory::Note))
                .foreign_key(
                    ForeignKey::create()
                        .from(PostingHistory::Table, PostingHistory::PostingId)
                        .to(Postings::Table, Postings::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_posting_history_posting")
                .table(PostingHistory::Table)
                .col(PostingHistory::PostingId)
                .col(PostingHistory::At)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Candidates::Table)
                .col(id(Candidates::Id))
                .col(text(Candidates::Name))
                .col(text(Candidates::Email))
                .col(text(Candidates::EmailKey).unique_key())
                .col(text_null(Candidates::Locale))
                .col(text_null(Candidates::Timezone))
                .col(
                    ColumnDef::new(Candidates::OnHold)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(ts_null(Candidates::AnonymizedAt))
                .col(ts(Candidates::CreatedAt))
                .col(ts(Candidates::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Applications::Table)
                .col(id(Applications::Id))
                .col(fk(Applications::CandidateId))
                .col(fk(Applications::PostingId))
                .col(text(Applications::Stage))
                .col(ts(Applications::EnteredStageAt))
                .col(ts(Applications::AppliedAt))
                .col(
                    ColumnDef::new(Applications::Version)
                        .integer()
                        .not_null()
                        .default(1),
                )
                .col(ts(Applications::CreatedAt))
                .col(ts(Applications::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Applications::Table, Applications::CandidateId)
                        .to(Candidates::Table, Candidates::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Applications::Table, Applications::PostingId)
                        .to(Postings::Table, Postings::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_applications_candidate_posting")
                .table(Applications::Table)
                .col(Applications::CandidateId)
                .col(Applications::PostingId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_applications_stage_entered")
                .table(Applications::Table)
                .col(Applications::Stage)
                .col(Applications::EnteredStageAt)
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

        m.create_table(
            Table::create()
                .table(Transitions::Table)
                .col(id(Transitions::Id))
                .col(fk(Transitions::ApplicationId))
                .col(text_null(Transitions::FromStage))
                .col(text(Transitions::ToStage))
                .col(text_null(Transitions::Reason))
                .col(text(Transitions::Actor))
                .col(ts(Transitions::At))
                .foreign_key(
                    ForeignKey::create()
                        .from(Transitions::Table, Transitions::ApplicationId)
                        .to(Applications::Table, Applications::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_transitions_application")
                .table(Transitions::Table)
                .col(Transitions::ApplicationId)
                .col(Transitions::At)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(id(Outbox::Id))
                .col(ColumnDef::new(Outbox::ApplicationId).big_integer().null())
                .col(ColumnDef::new(Outbox::TransitionId).big_integer().null())
                .col(text_null(Outbox::Stage))
                .col(text(Outbox::Recipient))
                .col(text_null(Outbox::RecipientName))
                .col(text(Outbox::Template))
                .col(text(Outbox::Locale))
                .col(text(Outbox::MessageId).unique_key())
                .col(text(Outbox::Status))
                .col(int0(Outbox::Attempts))
                .col(ts(Outbox::NextAttemptAt))
                .col(ts_null(Outbox::SendAfter))
                .col(ts_null(Outbox::LeaseUntil))
                .col(text_null(Outbox::LastError))
                .col(ts_null(Outbox::SentAt))
                .col(ts(Outbox::CreatedAt))
                .col(ts(Outbox::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Outbox::Table, Outbox::ApplicationId)
                        .to(Applications::Table, Applications::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Outbox::Table, Outbox::TransitionId)
                        .to(Transitions::Table, Transitions::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_status_next")
                .table(Outbox::Table)
                .col(Outbox::Status)
                .col(Outbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        // The rendered message lives beside its outbox row, so that the status
        // updates of dispatch (claim, sent) rewrite a small row, not the bodies.
        m.create_table(
            Table::create()
                .table(OutboxBodies::Table)
                .col(
                    ColumnDef::new(OutboxBodies::OutboxId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(text(OutboxBodies::Subject))
                .col(text(OutboxBodies::BodyText))
                .col(text(OutboxBodies::BodyHtml))
                .foreign_key(
                    ForeignKey::create()
                        .from(OutboxBodies::Table, OutboxBodies::OutboxId)
                        .to(Outbox::Table, Outbox::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_application")
                .table(Outbox::Table)
                .col(Outbox::ApplicationId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(JobRuns::Table)
                .col(id(JobRuns::Id))
                .col(text(JobRuns::Job))
                .col(ts(JobRuns::ScheduledFor))
                .col(ts(JobRuns::StartedAt))
                .col(ts_null(JobRuns::FinishedAt))
                .col(text_null(JobRuns::Outcome))
                .col(ColumnDef::new(JobRuns::Counts).json().null())
                .col(text(JobRuns::Instance))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_job_runs_job_scheduled")
                .table(JobRuns::Table)
                .col(JobRuns::Job)
                .col(JobRuns::ScheduledFor)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            JobRuns::Table.into_iden(),
            OutboxBodies::Table.into_iden(),
            Outbox::Table.into_iden(),
            Transitions::Table.into_iden(),
            Applications::Table.into_iden(),
            Candidates::Table.into_iden(),
            PostingHistory::Table.into_iden(),
            Postings::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Postings {
    Table,
    Id,
    Url,
    Source,
    Board,
    ExternalId,
    Title,
    Company,
    Location,
    Description,
    ApplyUrl,
    PostedAt,
    Status,
    StatusChangedAt,
    BoardMissing,
    Etag,
    LastModified,
    LastPolledAt,
    ConsecutiveNotFound,
    LastNotFoundAt,
    ConsecutiveErrors,
    NextPollAt,
    LastError,
    Raw,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PostingHistory {
    Table,
    Id,
    PostingId,
    At,
    Field,
    OldValue,
    NewValue,
    Note,
}

#[derive(DeriveIden)]
enum Candidates {
    Table,
    Id,
    Name,
    Email,
    EmailKey,
    Locale,
    Timezone,
    OnHold,
    AnonymizedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    CandidateId,
    PostingId,
    Stage,
    EnteredStageAt,
    AppliedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Transitions {
    Table,
    Id,
    ApplicationId,
    FromStage,
    ToStage,
    Reason,
    Actor,
    At,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    ApplicationId,
    TransitionId,
    Stage,
    Recipient,
    RecipientName,
    Template,
    Locale,
    MessageId,
    Status,
    Attempts,
    NextAttemptAt,
    SendAfter,
    LeaseUntil,
    LastError,
    SentAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OutboxBodies {
    Table,
    OutboxId,
    Subject,
    BodyText,
    BodyHtml,
}

#[derive(DeriveIden)]
enum JobRuns {
    Table,
    Id,
    Job,
    ScheduledFor,
    StartedAt,
    FinishedAt,
    Outcome,
    Counts,
    Instance,
}
