use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Slots offered to a candidate through a signed booking link: who
/// interviews (`interviewers`, a JSON array of person ids), how long,
/// between when, the buffer around other meetings and the notice needed;
/// `status` `open`, `booked` (its `interview_id`), `cancelled` or
/// `expired`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = InterviewOffer)]
#[sea_orm(table_name = "interview_offers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    /// The interviewers' person ids, as a JSON array.
    pub interviewers: String,
    pub minutes: i32,
    #[schema(value_type = String, format = DateTime)]
    pub from_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub until_at: DateTimeUtc,
    pub buffer_minutes: i32,
    pub notice_minutes: i32,
    pub title: Option<String>,
    pub location: Option<String>,
    pub video_url: Option<String>,
    pub focus: Option<String>,
    pub status: String,
    pub interview_id: Option<i64>,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
