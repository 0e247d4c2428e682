use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A file an application brought (`field`: `resume`, `cover_letter` or
/// `question_<id>`), kept on disk by its SHA-256 (never by its name); its
/// type decided by its bytes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "application_files")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    pub field: String,
    /// The name it was uploaded with, cleaned (shown, never used as a path).
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
