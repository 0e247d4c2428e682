use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One recorded change of a posting: its status, title, location or dates.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "posting_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub posting_id: i64,
    pub at: DateTimeUtc,
    /// `status`, `title`, `location`, `posted_at`, `board_missing`, ...
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::posting::Entity",
        from = "Column::PostingId",
        to = "super::posting::Column::Id"
    )]
    Posting,
}

impl Related<super::posting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Posting.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
