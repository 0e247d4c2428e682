use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A data-subject request: `kind` (`access`, `erasure`, `rectification`,
/// `restriction`, `objection`) under `law` (`gdpr`, `ccpa`), `state`
/// `open` or `closed` (then `outcome` `done` or `refused`, with its
/// reason). `due_at` is the law's deadline (moved by one extension);
/// `acknowledge_by` CCPA's 10 business days. A request the candidate
/// opened through their privacy link remembers its nonce.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = DataRequest)]
#[sea_orm(table_name = "data_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub candidate_id: Option<i64>,
    pub email: String,
    pub kind: String,
    pub law: String,
    pub state: String,
    pub outcome: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub received_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub due_at: DateTimeUtc,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledge_by: Option<DateTimeUtc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub extended_at: Option<DateTimeUtc>,
    pub extension_reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<DateTimeUtc>,
    pub close_reason: Option<String>,
    pub note: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    /// The nonce of the candidate's privacy link that opened it (a link
    /// opens one request).
    #[serde(skip)]
    pub link_nonce: Option<String>,
    /// The nonce of the latest download link an access request sent.
    #[serde(skip)]
    pub export_nonce: Option<String>,
    /// When the candidate downloaded the export through that link.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub downloaded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
