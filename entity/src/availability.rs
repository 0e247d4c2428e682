use sea_orm::entity::prelude::*;

/// When a person can interview: their weekly windows (JSON text, read in
/// their time zone), and a private busy feed (an iCalendar URL, a secret:
/// never shown back) with the busy times read from it (JSON `[[start,
/// end], …]` in UTC, nothing else of the events kept), when, and the last
/// error fetching it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "availability")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: i64,
    pub weekly: String,
    pub busy_feed: Option<String>,
    pub busy_times: Option<String>,
    pub busy_fetched_at: Option<DateTimeUtc>,
    pub busy_error: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
