//! Mail from strangers: the forward of a candidate's reply names the
//! candidate as its Reply-To by name and address kept apart (never one
//! string parsed again, which a name with a comma broke).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .add_column(ColumnDef::new(Outbox::ReplyToName).text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .drop_column(Outbox::ReplyToName)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    ReplyToName,
}
