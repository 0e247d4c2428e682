use sea_orm::entity::prelude::*;
use serde::Serialize;

/// An interviewer of an interview (a person), and their feedback once
/// given: `recommendation` (`strong_yes`, `yes`, `no`, `strong_no`) and a
/// note.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = Interviewer)]
#[sea_orm(table_name = "interview_people")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub interview_id: i64,
    pub person_id: i64,
    pub recommendation: Option<String>,
    pub note: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub feedback_at: Option<DateTimeUtc>,
    /// Their calendar's answer to the invitation (iTIP REPLY): accepted,
    /// declined or tentative.
    pub partstat: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
