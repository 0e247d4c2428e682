use sea_orm::entity::prelude::*;

/// A configured outgoing webhook endpoint (`[[webhooks.out]]`, by name) and
/// how far it has read the events: `(cursor_tx, cursor_id)` is the last
/// event given a delivery row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub url: String,
    pub cursor_tx: i64,
    pub cursor_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
