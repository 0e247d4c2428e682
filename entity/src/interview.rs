use sea_orm::entity::prelude::*;
use serde::Serialize;

/// An interview of an application: when (`starts_at`, UTC, and the IANA
/// zone it was scheduled in), how long, where, its iCalendar `uid` (stable)
/// and `sequence` (one more at each change), and `status`: `scheduled`,
/// `cancelled` or `completed`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = Interview)]
#[sea_orm(table_name = "interviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    #[sea_orm(unique)]
    pub uid: String,
    pub title: String,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTimeUtc,
    pub timezone: String,
    pub minutes: i32,
    pub location: Option<String>,
    pub video_url: Option<String>,
    pub sequence: i32,
    pub status: String,
    pub cancel_reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTimeUtc,
    /// The candidate's calendar's answer (iTIP REPLY).
    pub candidate_partstat: Option<String>,
    /// The scorecard attributes this interview focuses on (JSON array of
    /// names).
    #[serde(skip)]
    #[schema(ignore)]
    pub focus: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
