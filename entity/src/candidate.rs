use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A person who applies. `email_key` is the lower-cased email: unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = Candidate)]
#[sea_orm(table_name = "candidates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub email: String,
    #[sea_orm(unique)]
    #[serde(skip)]
    pub email_key: String,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    /// Exempt from retention (`atsd candidate hold`).
    pub on_hold: bool,
    /// Why the candidate is held (`atsd candidate hold --reason`).
    pub hold_reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub anonymized_at: Option<DateTimeUtc>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::application::Entity")]
    Application,
}

impl Related<super::application::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Application.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
