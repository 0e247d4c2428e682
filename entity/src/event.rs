use sea_orm::entity::prelude::*;

/// Something that happened, written in the transaction that made it: a
/// transition, an email outcome, a posting status change, a failed job run.
/// `data` is the event's JSON object; the feed and the outgoing webhooks
/// read events in order of `(tx, id)`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `application.created`, `application.moved`, `email.sent`, …
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub at: DateTimeUtc,
    /// The writing transaction's id on PostgreSQL, 0 on SQLite.
    pub tx: i64,
    pub data: String,
    /// The application the event is about, if any.
    pub application_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
