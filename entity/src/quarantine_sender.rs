use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A sender of quarantined mail (the lower-cased `From` address, `(none)`
/// when it has none): `kept` messages quarantined in the hour since
/// `window_start`, and `refused`, the messages not kept past `[mail.inbound]
/// quarantine_per_sender` since the row began (the sender's burst).
/// Retention forgets a row a day after `last_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "quarantine_senders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sender: String,
    pub window_start: DateTimeUtc,
    pub kept: i64,
    pub refused: i64,
    pub last_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
