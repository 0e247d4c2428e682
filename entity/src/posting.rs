use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A job opening, known by its URL.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = Posting)]
#[sea_orm(table_name = "postings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub url: String,
    /// `greenhouse`, `lever`, `ashby` or `generic`.
    pub source: String,
    pub board: Option<String>,
    pub external_id: Option<String>,
    pub title: String,
    pub company: Option<String>,
    pub location: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub apply_url: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub posted_at: Option<DateTimeUtc>,
    /// `unknown`, `open` or `closed`.
    pub status: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub status_changed_at: Option<DateTimeUtc>,
    pub board_missing: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_polled_at: Option<DateTimeUtc>,
    pub consecutive_not_found: i32,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_not_found_at: Option<DateTimeUtc>,
    pub consecutive_errors: i32,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_poll_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub raw: Option<Json>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTimeUtc,
    /// Since when it is published on the careers board (none: not published).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<DateTimeUtc>,
    /// When it was first published (Greenhouse's `first_published`).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_published_at: Option<DateTimeUtc>,
    /// Its scorecard: attributes in categories, as JSON text
    /// (`[{"category": "Skills", "attributes": ["Rust"]}]`); none: no
    /// attributes to rate.
    #[serde(skip)]
    #[schema(ignore)]
    pub scorecard: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::application::Entity")]
    Application,
    #[sea_orm(has_many = "super::posting_history::Entity")]
    History,
}

impl Related<super::application::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Application.def()
    }
}

impl Related<super::posting_history::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::History.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
