use sea_orm::entity::prelude::*;
use serde::Serialize;

/// What an application through the careers site or Greenhouse's Job Board
/// API brought beside the candidate: a phone number, the answers to the
/// posting's questions (`{"question label": answer}` as JSON text), where
/// it came from (`mapped_url_token`, or `careers`) and the consents given.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "application_forms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub application_id: i64,
    pub phone: Option<String>,
    pub answers: String,
    pub source: Option<String>,
    pub consent: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
