//! The quarantine: mail that acts on nothing, kept for a person to look at,
//! within bounds an attacker cannot push — at most `[mail.inbound]
//! quarantine_max_messages` and `quarantine_max_size` (the oldest dropped
//! first), at most `quarantine_per_sender` messages of one sender an hour
//! (past it they are counted, not kept), forgotten after `[retention]
//! quarantine_after`. Releasing or dropping a message records an event
//! naming the person, in the same transaction.

use super::receive::{self, Received};
use crate::error::{Error, Result};
use crate::store::{self, Store, inbound as store_in};
use crate::workflow::Ctx;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::json;

/// The reasons a message is quarantined, as `/metrics` labels them.
pub const REASONS: [&str; 8] = [
    "forged_tag",
    "unknown_target",
    "misdirected",
    "unverified_bounce",
    "untagged",
    "calendar",
    "unreadable",
    "deadline",
];

/// The sender a quarantined message is counted against: its `From`
/// address, lower-cased (`(none)` without one).
pub fn sender_key(address: Option<&str>) -> String {
    match address.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => super::read::clip(&a.to_lowercase(), 320),
        None => "(none)".into(),
    }
}

/// Whether one more message of `sender` may be kept now (its hour's count
/// goes up), or not (its refused count goes up): `None` when kept, else
/// what to tell.
pub async fn over_rate<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    sender: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let per_hour = ctx
        .config()
        .mail
        .inbound
        .as_ref()
        .map_or(100, |i| i.quarantine_per_sender);
    if per_hour == 0 {
        return Ok(None);
    }
    if store_in::count_quarantined_from(c, sender, per_hour, now).await? {
        return Ok(None);
    }
    tracing::warn!(
        sender,
        per_hour,
        "a quarantined message was not kept: its sender is over the per-sender rate"
    );
    Ok(Some(format!(
        "not kept: {sender} sent more than {per_hour} quarantined messages this hour \
         ([mail.inbound] quarantine_per_sender)"
    )))
}

/// Keeps the quarantine within `[mail.inbound] quarantine_max_messages`
/// and `quarantine_max_size` (oldest dropped first): what to add to the
/// note.
pub async fn trim<C: ConnectionTrait>(c: &C, ctx: &Ctx<'_>) -> Result<String> {
    let (messages, bytes) = ctx
        .config()
        .mail
        .inbound
        .as_ref()
        .map_or((10_000, 1 << 30), |i| {
            (i.quarantine_max_messages, i.quarantine_max_size.0)
        });
    let dropped = store_in::trim_quarantine(c, messages, bytes).await?;
    if dropped == 0 {
        return Ok(String::new());
    }
    tracing::warn!(
        dropped,
        "the quarantine is full: its oldest messages were dropped"
    );
    Ok(format!(
        " ({dropped} older quarantined message(s) dropped: the quarantine keeps {messages} messages, {})",
        crate::config::Size(bytes)
    ))
}

/// A quarantined message taken out to be read again by `actor`.
pub struct Release<'a> {
    pub id: i64,
    pub actor: &'a str,
}

impl Release<'_> {
    /// Takes the message out of the quarantine inside the transaction that
    /// stores what it now reads as; refused if another took it meanwhile.
    pub(super) async fn take_out<C: ConnectionTrait>(&self, c: &C) -> Result<()> {
        if !store_in::delete_quarantined(c, self.id).await? {
            return Err(Error::Conflict(format!(
                "inbound message {} is no longer in quarantine",
                self.id
            )));
        }
        Ok(())
    }

    /// The release's event, beside what the message became.
    pub(super) async fn record<C: ConnectionTrait>(
        &self,
        c: &C,
        out: &Received,
        now: DateTime<Utc>,
    ) -> Result<()> {
        store::events::record(
            c,
            vec![store::events::NewEvent::new(
                "inbound.released",
                now,
                json!({
                    "inbound_id": self.id,
                    "now_inbound_id": out.id,
                    "kind": out.kind,
                    "status": out.status,
                    "actor": self.actor,
                    "at": now,
                }),
            )],
        )
        .await?;
        tracing::info!(inbound = self.id, now = ?out.id, kind = %out.kind, actor = self.actor, "a quarantined message was released");
        Ok(())
    }
}

/// `atsd mail quarantine release`: reads a quarantined message again as if
/// it had just arrived (the configuration may have changed), in one
/// transaction with taking it out and the event: if anything fails, it is
/// still in quarantine as it was. Never refused by the per-sender rate.
pub async fn release(store: &Store, ctx: &Ctx<'_>, id: i64, actor: &str) -> Result<Received> {
    let m = quarantined(store, id).await?;
    let raw = m.raw.clone().unwrap_or_default();
    let to: Vec<String> = m
        .envelope_to
        .as_deref()
        .map(|t| t.split(", ").map(String::from).collect())
        .unwrap_or_default();
    receive::take(store, ctx, &raw, &to, Some(&Release { id, actor })).await
}

/// `atsd mail quarantine drop`: deletes a quarantined message and records
/// `inbound.dropped`, in one transaction.
pub async fn drop(store: &Store, id: i64, actor: &str, now: DateTime<Utc>) -> Result<()> {
    let m = quarantined(store, id).await?;
    let txn = store.begin_write().await?;
    Release { id, actor }.take_out(&txn).await?;
    store::events::record(
        &txn,
        vec![store::events::NewEvent::new(
            "inbound.dropped",
            now,
            json!({
                "inbound_id": id,
                "reason": m.reason,
                "size": m.size,
                "actor": actor,
                "at": now,
            }),
        )],
    )
    .await?;
    txn.commit().await?;
    tracing::info!(inbound = id, actor, "a quarantined message was dropped");
    Ok(())
}

/// A message that is in quarantine, else why not.
pub async fn quarantined(store: &Store, id: i64) -> Result<entity::inbound_message::Model> {
    let m = store_in::find(store.conn(), id).await?;
    if m.kind != entity::inbound_message::Kind::Quarantined {
        return Err(Error::Refused(format!(
            "inbound message {id} is a {}, not quarantined",
            m.kind
        )));
    }
    Ok(m)
}
