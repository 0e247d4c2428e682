use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A message that came back: `kind` is `bounce`, `reply`, `auto_reply` or
/// `quarantined`; `status` what atsd did with it (`permanent`, `temporary`,
/// `stored`, `forwarded`, `recorded`, `held`, `released`). A bounce names
/// its outbox row and the failed address with the DSN's action, status and
/// diagnostic; a reply its application, sender and text. `dedupe_key`
/// (Message-ID + SHA-256 of the bytes) stores a message once however often
/// it is delivered; `raw` is kept for quarantined ones only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "inbound_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    #[serde(skip)]
    pub dedupe_key: String,
    pub message_id: Option<String>,
    pub kind: String,
    pub status: String,
    pub application_id: Option<i64>,
    pub outbox_id: Option<i64>,
    pub envelope_to: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub body_text: Option<String>,
    /// JSON: `[{"name": …, "type": …, "size": …}]`
    pub attachments: Option<String>,
    pub failed_recipient: Option<String>,
    pub dsn_action: Option<String>,
    pub dsn_status: Option<String>,
    pub diagnostic: Option<String>,
    /// Why it was quarantined or ignored.
    pub why: Option<String>,
    /// Why it was quarantined, as a short code (`forged_tag`,
    /// `unknown_target`, `misdirected`, `unverified_bounce`, `untagged`,
    /// `calendar`, `unreadable`, `deadline`): what `/metrics` counts by.
    pub reason: Option<String>,
    #[serde(skip)]
    pub raw: Option<Vec<u8>>,
    pub size: i64,
    pub received_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
