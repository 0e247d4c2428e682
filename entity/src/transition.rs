use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One move of an application, kept forever. `from_stage` is empty for the
/// transition that created the application.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = Transition)]
#[sea_orm(table_name = "transitions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    pub from_stage: Option<String>,
    pub to_stage: String,
    pub reason: Option<String>,
    /// `cli:<user>`, `rule:<name>` or `posting:<id>`.
    pub actor: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTimeUtc,
    /// When the application entered `from_stage`: the stay this move ends
    /// began then (empty for the first transition, and for a move out of a
    /// stage the log never saw entered).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub stage_entered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::application::Entity",
        from = "Column::ApplicationId",
        to = "super::application::Column::Id"
    )]
    Application,
}

impl Related<super::application::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Application.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
