//! Mail that comes back: one row per inbound message (a bounce, a reply,
//! an auto-reply, or one quarantined), keyed by its Message-ID and a hash
//! of its content so that the same message delivered twice is stored once;
//! the addresses a permanent bounce marked undeliverable; and whether an
//! outgoing email says `Auto-Submitted: auto-generated`, its own Reply-To;
//! and the attendees' answers to invitations (iTIP REPLY).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(InboundMessages::Table)
                .col(
                    ColumnDef::new(InboundMessages::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                // Message-ID (or "-") and the SHA-256 of the bytes
                .col(
                    ColumnDef::new(InboundMessages::DedupeKey)
                        .text()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(InboundMessages::MessageId).text().null())
                .col(ColumnDef::new(InboundMessages::Kind).text().not_null())
                .col(ColumnDef::new(InboundMessages::Status).text().not_null())
                .col(
                    ColumnDef::new(InboundMessages::ApplicationId)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(InboundMessages::OutboxId)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(InboundMessages::EnvelopeTo).text().null())
                .col(ColumnDef::new(InboundMessages::Sender).text().null())
                .col(ColumnDef::new(InboundMessages::Subject).text().null())
                .col(
                    ColumnDef::new(InboundMessages::SentAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(InboundMessages::BodyText).text().null())
                .col(ColumnDef::new(InboundMessages::Attachments).text().null())
                .col(
                    ColumnDef::new(InboundMessages::FailedRecipient)
                        .text()
                        .null(),
                )
                .col(ColumnDef::new(InboundMessages::DsnAction).text().null())
                .col(ColumnDef::new(InboundMessages::DsnStatus).text().null())
                .col(ColumnDef::new(InboundMessages::Diagnostic).text().null())
                .col(ColumnDef::new(InboundMessages::Why).text().null())
                // kept for quarantined messages only (release reads it again)
                .col(ColumnDef::new(InboundMessages::Raw).binary().null())
                .col(
                    ColumnDef::new(InboundMessages::Size)
                        .big_integer()
                        .not_null(),
                )
                .col(ts(InboundMessages::ReceivedAt))
                .col(
                    ColumnDef::new(InboundMessages::ReadAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_inbound_application")
                .table(InboundMessages::Table)
                .col(InboundMessages::ApplicationId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_inbound_kind")
                .table(InboundMessages::Table)
                .col(InboundMessages::Kind)
                .col(InboundMessages::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UndeliverableAddresses::Table)
                .col(
                    ColumnDef::new(UndeliverableAddresses::Address)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(UndeliverableAddresses::OutboxId)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(UndeliverableAddresses::InboundId)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(UndeliverableAddresses::DsnStatus)
                        .text()
                        .null(),
                )
                .col(
                    ColumnDef::new(UndeliverableAddresses::Diagnostic)
                        .text()
                        .null(),
                )
                .col(ts(UndeliverableAddresses::Since))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .add_column(
                    ColumnDef::new(Outbox::AutoSubmitted)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        // (one column per statement: SQLite alters one at a time)
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .add_column(ColumnDef::new(Outbox::ReplyTo).text().null())
                .to_owned(),
        )
        .await?;
        // an attendee's answer to an invitation (iTIP REPLY): accepted,
        // declined, tentative; the candidate's on the interview itself
        m.alter_table(
            Table::alter()
                .table(InterviewPeople::Table)
                .add_column(ColumnDef::new(InterviewPeople::Partstat).text().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Interviews::Table)
                .add_column(ColumnDef::new(Interviews::CandidatePartstat).text().null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Interviews::Table)
                .drop_column(Interviews::CandidatePartstat)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(InterviewPeople::Table)
                .drop_column(InterviewPeople::Partstat)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .drop_column(Outbox::ReplyTo)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .drop_column(Outbox::AutoSubmitted)
                .to_owned(),
        )
        .await?;
        m.drop_table(
            Table::drop()
                .table(UndeliverableAddresses::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(InboundMessages::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum InboundMessages {
    Table,
    Id,
    DedupeKey,
    MessageId,
    Kind,
    Status,
    ApplicationId,
    OutboxId,
    EnvelopeTo,
    Sender,
    Subject,
    SentAt,
    BodyText,
    Attachments,
    FailedRecipient,
    DsnAction,
    DsnStatus,
    Diagnostic,
    Why,
    Raw,
    Size,
    ReceivedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum UndeliverableAddresses {
    Table,
    Address,
    OutboxId,
    InboundId,
    DsnStatus,
    Diagnostic,
    Since,
}

#[derive(DeriveIden)]
enum InterviewPeople {
    Table,
    Partstat,
}

#[derive(DeriveIden)]
enum Interviews {
    Table,
    CandidatePartstat,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    AutoSubmitted,
    ReplyTo,
}
