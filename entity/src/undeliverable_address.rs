use sea_orm::entity::prelude::*;
use serde::Serialize;

/// An address a permanent bounce marked undeliverable (lower-cased): emails
/// to it are held, not sent, until the mark is cleared or the address
/// corrected.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "undeliverable_addresses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub address: String,
    pub outbox_id: Option<i64>,
    pub inbound_id: Option<i64>,
    pub dsn_status: Option<String>,
    pub diagnostic: Option<String>,
    pub since: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
