use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Slots offered to a candidate through a signed booking link: who
/// interviews (`interviewers`, a JSON array of person ids), how long,
/// between when, the buffer around other meetings and the notice needed;
/// `status` `open`, `booked` (its `interview_id`), `cancelled` or
/// `expired`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "interview_offers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    pub interviewers: String,
    pub minutes: i32,
    pub from_at: DateTimeUtc,
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
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
