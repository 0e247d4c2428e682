use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One email to send. Written in the transaction of the move that caused it;
/// its rendered subject and bodies are in [`super::outbox_body`].
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
#[schema(as = OutboxEmail)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: Option<i64>,
    pub transition_id: Option<i64>,
    /// The stage whose entry caused this email (cancelled if the application leaves it first).
    pub stage: Option<String>,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub template: String,
    pub locale: String,
    #[sea_orm(unique)]
    pub message_id: String,
    /// `pending`, `sending`, `sent`, `dead` or `cancelled`.
    pub status: String,
    pub attempts: i32,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: DateTimeUtc,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub send_after: Option<DateTimeUtc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<DateTimeUtc>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::application::Entity",
        from = "Column::ApplicationId",
        to = "super::application::Column::Id"
    )]
    Application,
}

impl Related<super::application::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Application.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
