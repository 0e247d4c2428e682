use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A message that came back: its [`Kind`], and its [`Status`] (what atsd did
/// with it). A bounce names
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
    pub kind: Kind,
    pub status: Status,
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

/// What came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A delivery report about one of atsd's emails.
    #[sea_orm(string_value = "bounce")]
    Bounce,
    /// A person's answer to one of atsd's emails.
    #[sea_orm(string_value = "reply")]
    Reply,
    /// An out-of-office or other machine's answer (RFC 3834).
    #[sea_orm(string_value = "auto_reply")]
    AutoReply,
    /// Not taken as any of those: kept whole until a person releases or
    /// drops it (`reason` says why).
    #[sea_orm(string_value = "quarantined")]
    Quarantined,
}

/// What atsd did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A bounce that failed the address for good: the email is `bounced`
    /// and the address marked.
    #[sea_orm(string_value = "permanent")]
    Permanent,
    /// A bounce that will be retried by the sender: recorded only.
    #[sea_orm(string_value = "temporary")]
    Temporary,
    /// A reply forwarded to the application's recruiters.
    #[sea_orm(string_value = "forwarded")]
    Forwarded,
    /// A reply carrying a calendar answer (iMIP REPLY), read into the
    /// interview's attendance.
    #[sea_orm(string_value = "calendar")]
    Calendar,
    /// An auto-reply, recorded on its application.
    #[sea_orm(string_value = "recorded")]
    Recorded,
    /// In quarantine.
    #[sea_orm(string_value = "held")]
    Held,
    /// Refused at the door (never stored; the answer to the sender only).
    #[sea_orm(string_value = "refused")]
    Refused,
}

impl Kind {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bounce => "bounce",
            Kind::Reply => "reply",
            Kind::AutoReply => "auto_reply",
            Kind::Quarantined => "quarantined",
        }
    }
}

impl Status {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Permanent => "permanent",
            Status::Temporary => "temporary",
            Status::Forwarded => "forwarded",
            Status::Calendar => "calendar",
            Status::Recorded => "recorded",
            Status::Held => "held",
            Status::Refused => "refused",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
