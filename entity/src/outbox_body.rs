use sea_orm::entity::prelude::*;
use serde::Serialize;

/// The rendered message of one outbox row, kept apart so that the row's
/// status updates stay small.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "outbox_bodies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub outbox_id: i64,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body_text: String,
    #[sea_orm(column_type = "Text")]
    pub body_html: String,
    /// The iCalendar object of an iMIP email (an interview's invitation,
    /// update or cancellation): sent as its `text/calendar` part and as
    /// `invite.ics`.
    #[sea_orm(column_type = "Text", nullable)]
    pub calendar: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::outbox::Entity",
        from = "Column::OutboxId",
        to = "super::outbox::Column::Id"
    )]
    Outbox,
}

impl Related<super::outbox::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Outbox.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
