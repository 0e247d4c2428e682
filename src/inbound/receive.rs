//! One inbound message, classified and stored once, in one transaction with
//! what it causes:
//!
//! 1. **Bounce** — by the VERP address it was sent to (`bounces+<row>-<tag>`),
//!    else by the RFC 3464 report's returned Message-ID, else (a
//!    non-standard report) by a Message-ID atsd wrote found in its text
//!    together with the address that row went to. A permanent failure marks
//!    the row `bounced` and its address undeliverable (the emails waiting
//!    for it are held) and records `email.bounced`; a temporary one is only
//!    recorded.
//! 2. **Auto-reply** (RFC 3834: `Auto-Submitted` other than `no`,
//!    `X-Autoreply`, `X-Autorespond`, `Precedence: bulk|junk|list`, an empty
//!    Return-Path) — recorded on its application, never forwarded nor
//!    answered.
//! 3. **Reply** to `reply+<application>-<tag>` — stored on the application
//!    (its text, HTML turned into text, at most 64 KiB; attachments named,
//!    not kept), `application.replied`, and forwarded to the posting's
//!    recruiter (else the `[recruiters]` list) with the candidate as
//!    Reply-To and the reply's own subject.
//! 4. Anything else — a forged tag, a report that names nothing atsd sent,
//!    mail to no address of atsd's — is **quarantined**: kept, never acted
//!    on (`atsd mail quarantine`).
//!
//! The same message delivered twice (its Message-ID and the SHA-256 of its
//! body: a retrying MTA may add a header line) is stored once and acts once.

use super::dsn::Delivery;
use super::quarantine::{self, Release};
use super::read::{self, Key, Outcome, Reading, clip};
use crate::error::{Error, Result};
use crate::mail::tags::{Addressed, Tags};
use crate::mail::{self, Recipient};
use crate::store::{self, Store, applications, inbound as store_in};
use crate::templates;
use crate::workflow::Ctx;
use chrono::{DateTime, Utc};
use entity::inbound_message::{Kind, Status};
use entity::{application, inbound_message, outbox};
use sea_orm::{ConnectionTrait, Set};
use serde::Serialize;
use serde_json::json;

mod acts;
mod classify;

use acts::*;
use classify::*;

pub use super::read::{TEXT_LIMIT, auto_reply};

/// What became of a message.
#[derive(Clone, Debug, Serialize)]
pub struct Received {
    /// The stored row (the earlier one for a duplicate).
    pub id: Option<i64>,
    pub kind: Kind,
    pub status: Status,
    /// Stored before: nothing done again.
    pub duplicate: bool,
    /// In words, for the log and the command's output.
    pub note: String,
}

/// How a message was classified, before anything is written.
enum Plan {
    Bounce {
        row: Box<outbox::Model>,
        delivery: Delivery,
        how: &'static str,
    },
    AutoReply {
        application_id: Option<i64>,
        outbox_id: Option<i64>,
    },
    Reply {
        app: application::Model,
    },
    /// An attendee's calendar answering an invitation.
    Calendar {
        interview: Box<entity::interview::Model>,
        person_id: Option<i64>,
        reply: super::itip::Reply,
    },
    /// Kept, acting on nothing: the reason's code ([`super::quarantine::REASONS`]) and the words.
    Quarantine(&'static str, String),
}

/// Takes one message: `raw` as it came, `envelope_to` the recipients the
/// MTA gave (LMTP's RCPT TO, or the pipe's argument); without them the
/// message's own `Delivered-To`, `X-Original-To`, `To` and `Cc`.
pub async fn receive(
    store: &Store,
    ctx: &Ctx<'_>,
    raw: &[u8],
    envelope_to: &[String],
) -> Result<Received> {
    take(store, ctx, raw, envelope_to, None).await
}

/// [`receive`], or with `again` a quarantined message read again: taken
/// out of the quarantine in the transaction that stores what it now is.
// Stays whole: the stages of one message (read, deduplicate, classify, store, act) around one transaction and its time limits.
pub(super) async fn take(
    store: &Store,
    ctx: &Ctx<'_>,
    raw: &[u8],
    envelope_to: &[String],
    again: Option<&Release<'_>>,
) -> Result<Received> {
    let now = ctx.now();
    let raw: std::sync::Arc<[u8]> = raw.into();
    let Key { message_id, key } = {
        let raw = raw.clone();
        tokio::task::spawn_blocking(move || Key::of(&raw))
            .await
            .map_err(|e| Error::TryAgain(format!("reading a message failed: {e}")))?
    };
    if let Some(before) = store_in::by_key(store.conn(), &key).await?
        && again.is_none_or(|a| a.id != before.id)
    {
        return Ok(Received {
            id: Some(before.id),
            kind: before.kind,
            status: before.status,
            duplicate: true,
            note: format!(
                "stored before as inbound message {}: nothing done again",
                before.id
            ),
        });
    }
    let domain = mail::message_id::domain(ctx.config()).to_string();
    let reading = match read::read_off_workers(
        raw.clone(),
        envelope_to.to_vec(),
        domain,
        read::READ_DEADLINE,
    )
    .await
    {
        Outcome::Read(r) => r,
        Outcome::NotAMessage => {
            let why = "not a message: no headers could be read";
            let q = Unread {
                key: &key,
                message_id,
                reason: "unreadable",
                why,
            };
            return quarantine_only(store, ctx, q, &raw, envelope_to, again).await;
        }
        Outcome::TooSlow(why) => {
            tracing::warn!(
                size = raw.len(),
                "an inbound message was quarantined: {why}"
            );
            let q = Unread {
                key: &key,
                message_id,
                reason: "deadline",
                why: &why,
            };
            return quarantine_only(store, ctx, q, &raw, envelope_to, again).await;
        }
    };
    let tags = Tags::of(ctx.config());
    let plan = classify(store.conn(), tags, &reading, envelope_to).await?;
    let txn = store.begin_write().await?;
    if let Some(a) = again {
        a.take_out(&txn).await?;
    }
    let mut row = base_row(&key, message_id.clone(), &reading, &raw, envelope_to, now);
    let out = match plan {
        Plan::Quarantine(reason, why) => {
            let sender =
                quarantine::sender_key(reading.sender.as_ref().map(|s| s.address.as_str()));
            if again.is_none()
                && let Some(note) = quarantine::over_rate(&txn, ctx, &sender, now).await?
            {
                txn.commit().await?;
                return Ok(refused(note));
            }
            row.kind = Set(Kind::Quarantined);
            row.status = Set(Status::Held);
            row.why = Set(Some(why.clone()));
            row.reason = Set(Some(reason.into()));
            row.raw = Set(Some(raw.to_vec()));
            let Some(id) = store_in::insert(&txn, row).await? else {
                return duplicate(store, &key).await;
            };
            let dropped = quarantine::trim(&txn, ctx).await?;
            Received {
                id: Some(id),
                kind: Kind::Quarantined,
                status: Status::Held,
                duplicate: false,
                note: format!("quarantined as inbound message {id}: {why}{dropped}"),
            }
        }
        Plan::AutoReply {
            application_id,
            outbox_id,
        } => {
            row.kind = Set(Kind::AutoReply);
            row.status = Set(Status::Recorded);
            row.application_id = Set(application_id);
            row.outbox_id = Set(outbox_id);
            row.body_text = Set(Some(reading.text.clone()));
            let Some(id) = store_in::insert(&txn, row).await? else {
                return duplicate(store, &key).await;
            };
            Received {
                id: Some(id),
                kind: Kind::AutoReply,
                status: Status::Recorded,
                duplicate: false,
                note: format!(
                    "an automatic reply{}: recorded, neither forwarded nor answered",
                    application_id
                        .map(|a| format!(" about application {a}"))
                        .unwrap_or_default()
                ),
            }
        }
        Plan::Bounce {
            row: sent,
            delivery,
            how,
        } => {
            let permanent = delivery.permanent();
            let status = if permanent {
                Status::Permanent
            } else {
                Status::Temporary
            };
            let address = delivery
                .recipient
                .clone()
                .unwrap_or_else(|| sent.recipient.to_lowercase());
            row.kind = Set(Kind::Bounce);
            row.status = Set(status);
            row.outbox_id = Set(Some(sent.id));
            row.application_id = Set(sent.application_id);
            row.failed_recipient = Set(Some(address.clone()));
            row.dsn_action = Set(delivery.action.clone());
            row.dsn_status = Set(delivery.status.clone());
            row.diagnostic = Set(delivery.diagnostic.clone().map(|d| clip(&d, 2000)));
            row.why = Set(Some(format!("recognised by {how}")));
            let Some(id) = store_in::insert(&txn, row).await? else {
                return duplicate(store, &key).await;
            };
            let mut held = 0;
            if permanent {
                held = bounce(&txn, &sent, &delivery, id, now).await?;
            }
            Received {
                id: Some(id),
                kind: Kind::Bounce,
                status,
                duplicate: false,
                note: if permanent {
                    format!(
                        "a permanent bounce of email {} to {} ({}, by {how}): the address is marked undeliverable{}",
                        sent.id,
                        sent.recipient,
                        delivery.status.as_deref().unwrap_or("no status"),
                        if held > 0 {
                            format!(", {held} waiting email(s) held")
                        } else {
                            String::new()
                        }
                    )
                } else {
                    format!(
                        "a temporary failure of email {} to {} ({}): recorded, nothing changed",
                        sent.id,
                        sent.recipient,
                        delivery.status.as_deref().unwrap_or("no status")
                    )
                },
            }
        }
        Plan::Calendar {
            interview,
            person_id,
            reply,
        } => {
            row.kind = Set(Kind::Reply);
            row.status = Set(Status::Calendar);
            row.application_id = Set(Some(interview.application_id));
            row.body_text = Set(Some(format!(
                "{} {} interview {} (SEQUENCE {})",
                reply.attendee, reply.partstat, interview.id, reply.sequence
            )));
            let Some(id) = store_in::insert(&txn, row).await? else {
                return duplicate(store, &key).await;
            };
            crate::store::interviews::set_partstat(&txn, interview.id, person_id, &reply.partstat)
                .await?;
            store::events::record(
                &txn,
                vec![store::events::NewEvent::new(
                    "interview.replied",
                    now,
                    json!({
                        "interview_id": interview.id,
                        "application_id": interview.application_id,
                        "uid": interview.uid,
                        "who": if person_id.is_some() { "interviewer" } else { "candidate" },
                        "person_id": person_id,
                        "partstat": reply.partstat,
                        "sequence": reply.sequence,
                        "inbound_id": id,
                        "at": now,
                    }),
                )],
            )
            .await?;
            Received {
                id: Some(id),
                kind: Kind::Reply,
                status: Status::Calendar,
                duplicate: false,
                note: format!(
                    "a calendar reply: {} {} interview {}",
                    reply.attendee, reply.partstat, interview.id
                ),
            }
        }
        Plan::Reply { app } => {
            let (text, attachments) = (&reading.text, &reading.attachments);
            row.kind = Set(Kind::Reply);
            row.status = Set(Status::Forwarded);
            row.application_id = Set(Some(app.id));
            row.body_text = Set(Some(text.clone()));
            row.attachments = Set(Some(
                serde_json::to_string(attachments).unwrap_or_else(|_| "[]".into()),
            ));
            let Some(id) = store_in::insert(&txn, row).await? else {
                return duplicate(store, &key).await;
            };
            let forwarded = forward(&txn, ctx, &app, &reading, id).await?;
            store::events::record(
                &txn,
                vec![store::events::NewEvent::new(
                    "application.replied",
                    now,
                    json!({
                        "application_id": app.id,
                        "posting_id": app.posting_id,
                        "inbound_id": id,
                        "forwarded": forwarded.len(),
                        "at": now,
                    }),
                )],
            )
            .await?;
            if !forwarded.is_empty() {
                store::notify_outbox(&txn).await?;
            }
            Received {
                id: Some(id),
                kind: Kind::Reply,
                status: Status::Forwarded,
                duplicate: false,
                note: format!(
                    "a reply on application {}: stored, forwarded to {}",
                    app.id,
                    if forwarded.is_empty() {
                        "nobody (no recruiter, no [recruiters] list)".into()
                    } else {
                        forwarded.join(", ")
                    }
                ),
            }
        }
    };
    if let Some(a) = again {
        a.record(&txn, &out, now).await?;
    }
    txn.commit().await?;
    Ok(out)
}

/// A quarantined message not kept: its sender is over the rate.
fn refused(note: String) -> Received {
    Received {
        id: None,
        kind: Kind::Quarantined,
        status: Status::Refused,
        duplicate: false,
        note,
    }
}

async fn duplicate(store: &Store, key: &str) -> Result<Received> {
    let before = store_in::by_key(store.conn(), key)
        .await?
        .ok_or_else(|| Error::Conflict("an inbound message vanished while it was stored".into()))?;
    Ok(Received {
        id: Some(before.id),
        kind: before.kind,
        status: before.status,
        duplicate: true,
        note: format!(
            "stored meanwhile as inbound message {}: nothing done again",
            before.id
        ),
    })
}

/// An attachment a reply listed (not kept), as the forward and the board
/// show it: "name (size bytes)".
pub fn attachment_line(a: &serde_json::Value) -> String {
    format!(
        "{} ({} bytes)",
        a["name"].as_str().unwrap_or("(unnamed)"),
        a["size"].as_u64().unwrap_or(0)
    )
}

fn base_row(
    key: &str,
    message_id: Option<String>,
    m: &Reading,
    raw: &[u8],
    envelope_to: &[String],
    now: DateTime<Utc>,
) -> inbound_message::ActiveModel {
    inbound_message::ActiveModel {
        dedupe_key: Set(key.to_string()),
        message_id: Set(message_id),
        envelope_to: Set((!envelope_to.is_empty()).then(|| envelope_to.join(", "))),
        sender: Set(m.sender.as_ref().map(|s| clip(&s.shown(), 500))),
        subject: Set(m.subject.clone()),
        sent_at: Set(m.sent_at),
        size: Set(raw.len() as i64),
        received_at: Set(now),
        ..Default::default()
    }
}

/// A message that could not be read (or not in time).
struct Unread<'a> {
    key: &'a str,
    message_id: Option<String>,
    reason: &'static str,
    why: &'a str,
}

/// Stores a message that could not even be read, in quarantine.
async fn quarantine_only(
    store: &Store,
    ctx: &Ctx<'_>,
    q: Unread<'_>,
    raw: &[u8],
    envelope_to: &[String],
    again: Option<&Release<'_>>,
) -> Result<Received> {
    let now = ctx.now();
    let row = inbound_message::ActiveModel {
        dedupe_key: Set(q.key.to_string()),
        message_id: Set(q.message_id),
        kind: Set(Kind::Quarantined),
        status: Set(Status::Held),
        envelope_to: Set((!envelope_to.is_empty()).then(|| envelope_to.join(", "))),
        why: Set(Some(q.why.to_string())),
        reason: Set(Some(q.reason.into())),
        raw: Set(Some(raw.to_vec())),
        size: Set(raw.len() as i64),
        received_at: Set(now),
        ..Default::default()
    };
    let txn = store.begin_write().await?;
    if let Some(a) = again {
        a.take_out(&txn).await?;
    } else if let Some(note) =
        quarantine::over_rate(&txn, ctx, &quarantine::sender_key(None), now).await?
    {
        txn.commit().await?;
        return Ok(refused(note));
    }
    let Some(id) = store_in::insert(&txn, row).await? else {
        return duplicate(store, q.key).await;
    };
    let dropped = quarantine::trim(&txn, ctx).await?;
    let out = Received {
        id: Some(id),
        kind: Kind::Quarantined,
        status: Status::Held,
        duplicate: false,
        note: format!("quarantined as inbound message {id}: {}{dropped}", q.why),
    };
    if let Some(a) = again {
        a.record(&txn, &out, now).await?;
    }
    txn.commit().await?;
    Ok(out)
}
