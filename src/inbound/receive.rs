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
use entity::{application, inbound_message, outbox};
use sea_orm::{ConnectionTrait, Set};
use serde::Serialize;
use serde_json::json;

pub use super::read::{TEXT_LIMIT, auto_reply};

/// What became of a message.
#[derive(Clone, Debug, Serialize)]
pub struct Received {
    /// The stored row (the earlier one for a duplicate).
    pub id: Option<i64>,
    pub kind: String,
    pub status: String,
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
            row.kind = Set("quarantined".into());
            row.status = Set("held".into());
            row.why = Set(Some(why.clone()));
            row.reason = Set(Some(reason.into()));
            row.raw = Set(Some(raw.to_vec()));
            let Some(id) = store_in::insert(&txn, row).await? else {
                return duplicate(store, &key).await;
            };
            let dropped = quarantine::trim(&txn, ctx).await?;
            Received {
                id: Some(id),
                kind: "quarantined".into(),
                status: "held".into(),
                duplicate: false,
                note: format!("quarantined as inbound message {id}: {why}{dropped}"),
            }
        }
        Plan::AutoReply {
            application_id,
            outbox_id,
        } => {
            row.kind = Set("auto_reply".into());
            row.status = Set("recorded".into());
            row.application_id = Set(application_id);
            row.outbox_id = Set(outbox_id);
            row.body_text = Set(Some(reading.text.clone()));
            let Some(id) = store_in::insert(&txn, row).await? else {
                return duplicate(store, &key).await;
            };
            Received {
                id: Some(id),
                kind: "auto_reply".into(),
                status: "recorded".into(),
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
            let status = if permanent { "permanent" } else { "temporary" };
            let address = delivery
                .recipient
                .clone()
                .unwrap_or_else(|| sent.recipient.to_lowercase());
            row.kind = Set("bounce".into());
            row.status = Set(status.into());
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
                kind: "bounce".into(),
                status: status.into(),
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
            row.kind = Set("reply".into());
            row.status = Set("calendar".into());
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
                kind: "reply".into(),
                status: "calendar".into(),
                duplicate: false,
                note: format!(
                    "a calendar reply: {} {} interview {}",
                    reply.attendee, reply.partstat, interview.id
                ),
            }
        }
        Plan::Reply { app } => {
            let (text, attachments) = (&reading.text, &reading.attachments);
            row.kind = Set("reply".into());
            row.status = Set("forwarded".into());
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
                kind: "reply".into(),
                status: "forwarded".into(),
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
        kind: "quarantined".into(),
        status: "refused".into(),
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

/// What a message is, by its addresses, its report and its headers.
///
/// With `[mail.inbound]` configured only verified mail acts (README
/// "Inbound mail"): a bounce through a VERP address or an ENVID whose tag
/// is atsd's, or through a returned Message-ID whose report names that
/// email's own recipient; a reply or a calendar answer through a tagged
/// reply address. Anything else is quarantined with its reason.
async fn classify<C: ConnectionTrait>(
    c: &C,
    tags: Option<Tags<'_>>,
    m: &Reading,
    envelope_to: &[String],
) -> Result<Plan> {
    let report = &m.report;
    if report.is_none()
        && let Some(reply) = &m.calendar
    {
        return calendar(c, tags, m, reply.clone()).await;
    }
    let addressed = tags.and_then(|t| m.addresses.iter().find_map(|a| t.read(a)));
    match addressed {
        Some(Addressed::Forged(a)) => Ok(Plan::Quarantine(
            "forged_tag",
            format!("the tag of {a} is not atsd's: forged, or altered on the way"),
        )),
        Some(Addressed::Bounce(id)) => {
            let Some(row) = store::outbox::find(c, id).await? else {
                return Ok(Plan::Quarantine(
                    "unknown_target",
                    format!("the bounce address names email {id}, which is not in the outbox"),
                ));
            };
            if let Some(r) = report {
                let delivery = pick(&r.recipients, &row.recipient);
                return Ok(Plan::Bounce {
                    row: Box::new(row),
                    delivery,
                    how: "its VERP address and its delivery report",
                });
            }
            if m.auto_reply && !m.looks_like_bounce {
                return Ok(Plan::AutoReply {
                    application_id: row.application_id,
                    outbox_id: Some(row.id),
                });
            }
            match free_text_delivery(m, &row.recipient) {
                Some(d) => Ok(Plan::Bounce {
                    row: Box::new(row),
                    delivery: d,
                    how: "its VERP address and its text",
                }),
                None => Ok(Plan::Quarantine(
                    "misdirected",
                    format!(
                        "mail to the bounce address of email {id} that reads as no delivery report"
                    ),
                )),
            }
        }
        Some(Addressed::Answer {
            application,
            person: Some(person),
        }) => Ok(Plan::Quarantine(
            "misdirected",
            format!(
                "a letter to the calendar address of person {person} on application {application}: \
             only calendars answer there"
            ),
        )),
        Some(
            Addressed::Reply(id)
            | Addressed::Answer {
                application: id,
                person: None,
            },
        ) => {
            let Some(app) = store::applications::find_for_id(c, id).await? else {
                return Ok(Plan::Quarantine(
                    "unknown_target",
                    format!("the reply address names application {id}, which does not exist"),
                ));
            };
            if report.is_some() || m.looks_like_bounce {
                return Ok(Plan::Quarantine(
                    "misdirected",
                    format!("a delivery report sent to the reply address of application {id}"),
                ));
            }
            if m.auto_reply {
                return Ok(Plan::AutoReply {
                    application_id: Some(app.id),
                    outbox_id: None,
                });
            }
            Ok(Plan::Reply { app })
        }
        None => {
            if let Some(r) = report {
                // the envelope id atsd sent (ENVID), given back by the report
                if let (Some(t), Some(envid)) = (tags, &r.envelope_id) {
                    match t.read_envelope_id(envid) {
                        Some(Addressed::Forged(what)) => {
                            return Ok(Plan::Quarantine(
                                "forged_tag",
                                format!(
                                    "the tag of {what} is not atsd's: forged, or altered on the way"
                                ),
                            ));
                        }
                        Some(Addressed::Bounce(id)) => {
                            if let Some(row) = store::outbox::find(c, id).await? {
                                let delivery = pick(&r.recipients, &row.recipient);
                                return Ok(Plan::Bounce {
                                    row: Box::new(row),
                                    delivery,
                                    how: "its delivery report's Original-Envelope-Id",
                                });
                            }
                        }
                        _ => {}
                    }
                }
                let by_id = match &r.returned_message_id {
                    Some(mid) => by_message_id(c, mid).await?,
                    None => None,
                };
                // atsd's Message-IDs can be guessed: the report must name
                // the very address that email went to
                if let Some(row) = by_id
                    && let Some(delivery) = r.recipients.iter().find(|d| {
                        d.recipient
                            .as_deref()
                            .is_some_and(|a| a.eq_ignore_ascii_case(&row.recipient))
                    })
                {
                    return Ok(Plan::Bounce {
                        delivery: delivery.clone(),
                        row: Box::new(row),
                        how: "its delivery report and the returned Message-ID",
                    });
                }
                return Ok(Plan::Quarantine(
                    "unverified_bounce",
                    "a delivery report that names no email atsd sent to the address it reports on"
                        .into(),
                ));
            }
            if m.looks_like_bounce {
                for mid in &m.quoted_ids {
                    if let Some(row) = by_message_id(c, mid).await?
                        && m.lower_text.contains(&row.recipient.to_lowercase())
                        && let Some(d) = free_text_delivery(m, &row.recipient)
                    {
                        return Ok(Plan::Bounce {
                            row: Box::new(row),
                            delivery: d,
                            how: "a Message-ID atsd wrote and the address in its text",
                        });
                    }
                }
                return Ok(Plan::Quarantine(
                    "unverified_bounce",
                    "looks like a delivery report but names no email atsd sent".into(),
                ));
            }
            if m.auto_reply {
                return Ok(Plan::AutoReply {
                    application_id: None,
                    outbox_id: None,
                });
            }
            let _ = envelope_to;
            Ok(Plan::Quarantine(
                "untagged",
                match tags {
                    Some(_) => {
                        "addressed to no reply or bounce address of [mail.inbound] domain".into()
                    }
                    None => "[mail.inbound] is not configured: nothing can be matched".into(),
                },
            ))
        }
    }
}

/// An iTIP reply: to an interview of atsd's, from one of its attendees.
/// With `[mail.inbound]` configured it acts only when it came to the tagged
/// address that attendee's own invitation named (a candidate holds hers,
/// not her interviewer's), from the attendee it answers for (the `From`
/// address is the `ATTENDEE`), with a SEQUENCE not older than the
/// interview's: an invitation that was moved since is answered anew.
async fn calendar<C: ConnectionTrait>(
    c: &C,
    tags: Option<Tags<'_>>,
    m: &Reading,
    reply: super::itip::Reply,
) -> Result<Plan> {
    let Some(iv) = crate::store::interviews::by_uid(c, &reply.uid).await? else {
        return Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply about {}, no interview of atsd's",
                reply.uid
            ),
        ));
    };
    // with tags, the address it came to says who may answer through it:
    // an attendee's own (`Some(Some(person))` an interviewer's,
    // `Some(None)` the candidate's, or the application's reply address,
    // which invitations named before each attendee had their own)
    let through: Option<Option<i64>> = match tags {
        None => None,
        Some(t) => match m.addresses.iter().find_map(|a| t.read(a)) {
            Some(Addressed::Answer {
                application,
                person,
            }) if application == iv.application_id => Some(person),
            Some(Addressed::Reply(app)) if app == iv.application_id => Some(None),
            None => {
                return Ok(Plan::Quarantine(
                    "calendar",
                    format!(
                        "a calendar reply about interview {} that came to no tagged address",
                        iv.id
                    ),
                ));
            }
            _ => {
                return Ok(Plan::Quarantine(
                    "calendar",
                    format!(
                        "a calendar reply about interview {} sent to another application's or a forged address",
                        iv.id
                    ),
                ));
            }
        },
    };
    let from = m.sender.as_ref().map(|s| s.address.as_str()).unwrap_or("");
    if !from.eq_ignore_ascii_case(&reply.attendee) {
        return Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply for {} sent by {}: only an attendee answers for themselves",
                reply.attendee,
                if from.is_empty() { "nobody" } else { from }
            ),
        ));
    }
    if reply.sequence < i64::from(iv.sequence) {
        return Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply to SEQUENCE {} of interview {}, which is at {} since: stale",
                reply.sequence, iv.id, iv.sequence
            ),
        ));
    }
    let app = applications::find(c, iv.application_id).await?;
    let (cand, _) = applications::candidate_and_posting(c, &app).await?;
    // an answer only through the address of the attendee it answers for
    let not_theirs = |person: Option<i64>| through.is_some_and(|t| t != person);
    if cand.email.eq_ignore_ascii_case(&reply.attendee) {
        if not_theirs(None) {
            return Ok(Plan::Quarantine(
                "calendar",
                format!(
                    "a calendar reply for the candidate of interview {} through an interviewer's address",
                    iv.id
                ),
            ));
        }
        return Ok(Plan::Calendar {
            interview: Box::new(iv),
            person_id: None,
            reply,
        });
    }
    let who = crate::store::interviews::interviewers(c, &[iv.id])
        .await?
        .remove(&iv.id)
        .unwrap_or_default();
    match who
        .iter()
        .find(|x| x.person.email.eq_ignore_ascii_case(&reply.attendee))
    {
        Some(x) if not_theirs(Some(x.person.id)) => Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply for {} through another attendee's address of interview {}",
                reply.attendee, iv.id
            ),
        )),
        Some(x) => Ok(Plan::Calendar {
            interview: Box::new(iv),
            person_id: Some(x.person.id),
            reply,
        }),
        None => Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply from {}, who is not invited to interview {}",
                reply.attendee, iv.id
            ),
        )),
    }
}

/// The report's block for `recipient`, else its first, else a failure
/// with no details.
fn pick(blocks: &[Delivery], recipient: &str) -> Delivery {
    blocks
        .iter()
        .find(|d| {
            d.recipient
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(recipient))
        })
        .or_else(|| blocks.first())
        .cloned()
        .unwrap_or(Delivery {
            recipient: Some(recipient.to_lowercase()),
            action: Some("failed".into()),
            ..Default::default()
        })
}

/// A failure read from a report's free text (no RFC 3464 part): permanent
/// with a 5.x.x status or a 5xx reply, temporary with 4.x.x; `None` when
/// the text says neither.
fn free_text_delivery(m: &Reading, recipient: &str) -> Option<Delivery> {
    let (status, line) = m.text_failure.clone()?;
    let permanent = status.starts_with('5');
    Some(Delivery {
        recipient: Some(recipient.to_lowercase()),
        action: Some(if permanent { "failed" } else { "delayed" }.into()),
        status: Some(status),
        diagnostic: line,
    })
}

async fn by_message_id<C: ConnectionTrait>(c: &C, mid: &str) -> Result<Option<outbox::Model>> {
    store::outbox::by_message_id(c, mid).await
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
        kind: Set("quarantined".into()),
        status: Set("held".into()),
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
        kind: "quarantined".into(),
        status: "held".into(),
        duplicate: false,
        note: format!("quarantined as inbound message {id}: {}{dropped}", q.why),
    };
    if let Some(a) = again {
        a.record(&txn, &out, now).await?;
    }
    txn.commit().await?;
    Ok(out)
}

/// A permanent bounce: the row `bounced`, the address undeliverable, the
/// emails waiting for it held, the event. How many were held.
async fn bounce<C: ConnectionTrait>(
    c: &C,
    sent: &outbox::Model,
    d: &Delivery,
    inbound_id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let why = format!(
        "bounced at {}: {} {}",
        now.to_rfc3339(),
        d.status.as_deref().unwrap_or("(no status)"),
        d.diagnostic
            .as_deref()
            .map(|x| clip(x, 500))
            .unwrap_or_default()
    );
    store::outbox::mark_bounced(c, sent.id, &why, now).await?;
    let held = store_in::mark_undeliverable(
        c,
        &sent.recipient,
        Some(sent.id),
        Some(inbound_id),
        d.status.as_deref(),
        d.diagnostic.as_deref(),
        now,
    )
    .await?;
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            "email.bounced",
            now,
            json!({
                "outbox_id": sent.id,
                "application_id": sent.application_id,
                "message_id": sent.message_id,
                "template": sent.template,
                "status": d.status,
                "action": d.action,
                "held": held,
                "inbound_id": inbound_id,
                "at": now,
            }),
        )],
    )
    .await?;
    Ok(held)
}

/// Forwards a reply to the posting's recruiter (else the `[recruiters]`
/// list): the candidate as Reply-To, the reply's subject. The addresses.
async fn forward<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    app: &application::Model,
    m: &Reading,
    inbound_id: i64,
) -> Result<Vec<String>> {
    let (cand, posting) = applications::candidate_and_posting(c, app).await?;
    let team = store::people::teams(c, &[posting.id], true)
        .await?
        .remove(&posting.id)
        .unwrap_or_default();
    let mut to: Vec<(String, String, Option<String>, Option<String>)> = team
        .iter()
        .filter(|(r, _)| *r == store::people::Role::Recruiter)
        .map(|(_, p)| {
            (
                p.email.clone(),
                p.name.clone(),
                p.locale.clone(),
                p.timezone.clone(),
            )
        })
        .collect();
    if to.is_empty() {
        to = ctx
            .config()
            .recruiters
            .emails
            .iter()
            .map(|e| (e.clone(), String::new(), None, None))
            .collect();
    }
    let mut tctx = crate::workflow::email::context(ctx, app, &cand, &posting, None, None);
    // the recruiter answers the address on file, whoever wrote the reply:
    // one who holds the reply address cannot make the recruiter answer them
    let other_sender = m
        .sender
        .as_ref()
        .filter(|s| !s.address.eq_ignore_ascii_case(&cand.email))
        .map(|s| s.shown());
    let subject = m
        .subject
        .as_deref()
        .map(|s| clip(s, 500))
        .unwrap_or_else(|| format!("Reply from {}", cand.name));
    let public = ctx
        .config()
        .http
        .as_ref()
        .and_then(|h| h.public_url.as_deref())
        .map(|u| u.trim_end_matches('/').to_string());
    let written = m.sent_at.unwrap_or(ctx.now());
    let domain = mail::message_id::domain(ctx.config());
    let spec = crate::config::EmailSpec::new("candidate_reply");
    let mut sent = Vec::new();
    for (n, (email, name, locale, tz)) in to.iter().enumerate() {
        let loc = locale
            .as_deref()
            .unwrap_or(&ctx.config().org.default_locale);
        tctx.reply = templates::ReplyCtx {
            from: m
                .sender
                .as_ref()
                .map(|s| s.shown())
                .unwrap_or_else(|| cand.email.clone()),
            other_sender: other_sender.clone(),
            subject: subject.clone(),
            date: templates::format_time(
                written,
                loc,
                tz.as_deref()
                    .or(Some(ctx.config().schedule.timezone.as_str())),
            ),
            text: m.text.clone(),
            attachments: m.attachments.iter().map(attachment_line).collect(),
            board_url: public
                .as_ref()
                .map(|u| format!("{u}/board/applications/{}", app.id)),
        };
        let who = Recipient {
            email,
            name,
            locale: locale.as_deref(),
        };
        let mut d = mail::draft(
            ctx.config(),
            ctx.renderer(),
            &spec,
            &who,
            &tctx,
            "",
            ctx.now(),
        )
        .map_err(|e| {
            Error::Render(format!(
                "email `candidate_reply` for application {}: {e}",
                app.id
            ))
        })?;
        d.stage = None;
        d.reply_to = Some(cand.email.clone());
        d.reply_to_name = Some(cand.name.clone()).filter(|n| !n.is_empty());
        if name.is_empty() {
            d.recipient_name = None;
        }
        let id = format!("<atsd.r{inbound_id}.{n}@{domain}>");
        store::outbox::queue(c, Some(app.id), None, id, d, ctx.now()).await?;
        sent.push(email.clone());
    }
    Ok(sent)
}
