use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A candidate for a posting, at one stage of the pipeline. `version` grows by
/// one on every move and is the compare-and-swap token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = Application)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub candidate_id: i64,
    pub posting_id: i64,
    pub stage: String,
    #[schema(value_type = String, format = DateTime)]
    pub entered_stage_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub applied_at: DateTimeUtc,
    pub version: i32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::candidate::Entity",
        from = "Column::CandidateId",
        to = "super::candidate::Column::Id"
    )]
    Candidate,
    #[sea_orm(
        belongs_to = "super::posting::Entity",
        from = "Column::PostingId",
        to = "super::posting::Column::Id"
    )]
    Posting,
    #[sea_orm(has_many = "super::transition::Entity")]
    Transition,
}

impl Related<super::candidate::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Candidate.def()
    }
}

impl Related<super::posting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Posting.def()
    }
}

impl Related<super::transition::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Transition.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
