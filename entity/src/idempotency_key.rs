use sea_orm::entity::prelude::*;

/// The first answer to a request sent with an `Idempotency-Key`: a retry with
/// the same key (and the same request) gets it again.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub token_id: i64,
    pub key: String,
    /// SHA-256 of the method, path and body: the same key with another
    /// request is refused.
    pub request_hash: String,
    pub status: i32,
    pub body: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
