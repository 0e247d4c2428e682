use sea_orm::entity::prelude::*;

/// A webhook received (by its sender's event id), so that a repeated
/// delivery acts once.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks_in")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `greenhouse`.
    pub source: String,
    pub event_id: String,
    pub action: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
