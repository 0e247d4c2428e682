use sea_orm::entity::prelude::*;
use serde::Serialize;

/// An interviewer of an interview (a person), and their scorecard once
/// submitted: the overall `recommendation` (Greenhouse's `definitely_not`,
/// `no`, `yes`, `strong_yes`, `no_decision`), a rating per attribute
/// (`ratings`, a JSON object), the key take-aways (`note`), private notes
/// never shown on the board, and the coordinator who entered it for them
/// (`submitted_by`, a person) if it was not they.
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
    #[serde(skip)]
    #[schema(ignore)]
    pub ratings: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    pub private_note: Option<String>,
    pub submitted_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
