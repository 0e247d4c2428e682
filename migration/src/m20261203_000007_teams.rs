//! Hiring teams: the people on the hiring side (`people`: one per address,
//! deactivated rather than deleted so that history keeps their names), who
//! owns each posting (`posting_team`: a person in a role), and the person an
//! API token belongs to. A posting without a team behaves as before: its
//! reminders and digest lines go to `[recruiters] emails`.

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
                .table(People::Table)
                .col(
                    ColumnDef::new(People::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(People::Email).text().not_null())
                .col(
                    ColumnDef::new(People::EmailKey)
                        .text()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(People::Name).text().not_null())
                .col(ColumnDef::new(People::Timezone).text().null())
                .col(ColumnDef::new(People::Locale).text().null())
                .col(
                    ColumnDef::new(People::Active)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(ts(People::CreatedAt))
                .col(ts(People::UpdatedAt))
                .col(
                    ColumnDef::new(People::DeactivatedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PostingTeam::Table)
                .col(
                    ColumnDef::new(PostingTeam::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(PostingTeam::PostingId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(PostingTeam::PersonId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(PostingTeam::Role).text().not_null())
                .col(ts(PostingTeam::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(PostingTeam::Table, PostingTeam::PostingId)
                        .to(Postings::Table, Postings::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(PostingTeam::Table, PostingTeam::PersonId)
                        .to(People::Table, People::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_posting_team_unique")
                .table(PostingTeam::Table)
                .col(PostingTeam::PostingId)
                .col(PostingTeam::PersonId)
                .col(PostingTeam::Role)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_posting_team_person")
                .table(PostingTeam::Table)
                .col(PostingTeam::PersonId)
                .col(PostingTeam::PostingId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .add_column(ColumnDef::new(ApiTokens::PersonId).big_integer().null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ApiTokens::Table)
                .drop_column(ApiTokens::PersonId)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(PostingTeam::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(People::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    Email,
    EmailKey,
    Name,
    Timezone,
    Locale,
    Active,
    CreatedAt,
    UpdatedAt,
    DeactivatedAt,
}

#[derive(DeriveIden)]
enum PostingTeam {
    Table,
    Id,
    PostingId,
    PersonId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Postings {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    PersonId,
}
