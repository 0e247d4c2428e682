use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Someone on the hiring side: a recruiter, hiring manager or coordinator.
/// `email_key` is the lower-cased email: unique. Removing a person
/// deactivates them (`active` false): history keeps their name.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = Person)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub email: String,
    #[sea_orm(unique)]
    #[serde(skip)]
    pub email_key: String,
    pub name: String,
    /// IANA time zone (else `[schedule] timezone`).
    pub timezone: Option<String>,
    /// BCP 47 locale of their emails and board (else `[org] default_locale`).
    pub locale: Option<String>,
    pub active: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTimeUtc,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deactivated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
