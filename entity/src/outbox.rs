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
    pub status: Status,
    pub attempts: i32,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: DateTimeUtc,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub send_after: Option<DateTimeUtc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// When the message began to go out in this attempt (written durably
    /// before its body): set on a row left `sending`, the recipient may have
    /// it already.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub data_at: Option<DateTimeUtc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<DateTimeUtc>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTimeUtc,
    /// Sent by a rule, a timer or the digest, not by a person's action: the
    /// message says `Auto-Submitted: auto-generated` (RFC 3834).
    pub auto_submitted: bool,
    /// A Reply-To of its own (a candidate's reply forwarded to their
    /// recruiter carries the candidate), instead of `[mail] reply_to`: an
    /// address, or (rows written before 0.10) a whole mailbox.
    pub reply_to: Option<String>,
    /// The display name of `reply_to`, kept apart from the address.
    pub reply_to_name: Option<String>,
}

/// Where an email is on its way: waiting (`pending`, until `next_attempt_at`,
/// and `send_after` if delayed), being sent (`sending`, leased until
/// `lease_until`), or done — `sent`, `dead` (failed for good, `last_error`
/// says why) or `cancelled` (its application left the stage that queued it
/// first, or retention scrubbed it) — or `held` (its address is marked
/// undeliverable: kept, not sent, until the mark is cleared) or `bounced`
/// (it went, and came back as a permanent failure).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "lowercase")]
#[schema(as = OutboxStatus)]
pub enum Status {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sending")]
    Sending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "dead")]
    Dead,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    #[sea_orm(string_value = "held")]
    Held,
    #[sea_orm(string_value = "bounced")]
    Bounced,
}

impl Status {
    /// Every status, in the order an email goes through them.
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Sending,
        Status::Sent,
        Status::Dead,
        Status::Cancelled,
        Status::Held,
        Status::Bounced,
    ];

    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Dead => "dead",
            Status::Cancelled => "cancelled",
            Status::Held => "held",
            Status::Bounced => "bounced",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
