use sea_orm::entity::prelude::*;
use serde::Serialize;

/// An API token: its name, what it may do, and the SHA-256 of the secret
/// (the secret itself is shown once, when it is created, and never stored).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// `intake`, `recruiter` or `read`.
    pub scope: String,
    #[serde(skip)]
    #[sea_orm(unique)]
    pub hash: String,
    /// The first characters of the token, to tell tokens apart in lists.
    pub prefix: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    /// The person the token belongs to: moves made with it name them.
    pub person_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
