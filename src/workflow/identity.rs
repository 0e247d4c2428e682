//! One identity per person: a candidate's address corrected (the key they
//! are found by with it, in the same transaction), and two candidates who
//! are one person merged. Each records its event naming who did it, and no
//! address (events are kept longer than the people in them).

use crate::candidate_fields;
use crate::error::{Error, Result};
use crate::store::{self, candidates, inbound as store_in};
use chrono::{DateTime, Utc};
use entity::candidate;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::json;

/// What an address change did.
#[derive(Clone, Debug, Serialize)]
pub struct EmailChanged {
    pub candidate: candidate::Model,
    pub old: String,
    /// Emails held for the old address (it bounced), now going to the new.
    pub released: u64,
}

/// `candidate set-email OLD NEW`: the address and its lookup key, in one
/// transaction with the held emails re-addressed; refused when the new
/// address is another candidate's, naming them.
pub async fn set_email<C: ConnectionTrait>(
    c: &C,
    email: &str,
    new_email: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<EmailChanged> {
    let new_email = candidate_fields::email(new_email)
        .map_err(|e| Error::input(format!("the new address: {e}")))?;
    let found = candidates::find_by_email(c, email)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no candidate with email {email}")))?;
    if let Some(other) = candidates::find_by_email(c, &new_email).await?
        && other.id != found.id
    {
        return Err(Error::Refused(format!(
            "{new_email} is already candidate {}'s address ({}): to make them one, `atsd candidate merge {new_email} {email}`",
            other.id, other.name
        )));
    }
    if found.anonymized_at.is_some() {
        return Err(Error::Refused(format!(
            "candidate {} was anonymized: there is no address to correct",
            found.id
        )));
    }
    let old = found.email.clone();
    let changed = candidates::change_email(c, found, &new_email, now).await?;
    // the old address's mark stays (it is still dead); what was held for
    // this candidate goes to the new one
    let released = release_to(c, &old, &new_email, now).await?;
    if released > 0 {
        store::notify_outbox(c).await?;
    }
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            "candidate.email_changed",
            now,
            json!({
                "candidate_id": changed.id,
                "released": released,
                "actor": actor,
                "at": now,
            }),
        )],
    )
    .await?;
    Ok(EmailChanged {
        candidate: changed,
        old,
        released,
    })
}

/// Held emails to `old` re-addressed to `new` and sent again, the mark of
/// `old` kept.
async fn release_to<C: ConnectionTrait>(
    c: &C,
    old: &str,
    new: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mark = store_in::undeliverable(c, old).await?;
    let n = store_in::release(c, old, Some(new), now).await?;
    if let Some(m) = mark {
        store_in::mark_undeliverable(
            c,
            &m.address,
            m.outbox_id,
            m.inbound_id,
            m.dsn_status.as_deref(),
            m.diagnostic.as_deref(),
            m.since,
        )
        .await?;
    }
    Ok(n)
}

/// What a merge did.
#[derive(Clone, Debug, Serialize)]
pub struct Merged {
    pub kept: candidate::Model,
    pub merged_id: i64,
    pub applications: u64,
    /// Emails waiting for the merged candidate's address, now to the kept one's.
    pub emails: u64,
}

/// `candidate merge KEEP OTHER`: every application of OTHER (with its
/// emails, replies, interviews and history, which hang on it) becomes
/// KEEP's, a hold carries over, waiting emails go to KEEP's address, and
/// OTHER is gone — one transaction with `candidate.merged`. Refused, with
/// nothing changed, when both applied to one posting, when they are the
/// same, or when either was anonymized.
pub async fn merge<C: ConnectionTrait>(
    c: &C,
    keep: &str,
    other: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Merged> {
    let find = |e: &str| {
        let e = e.to_string();
        async move {
            candidates::find_by_email(c, &e)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no candidate with email {e}")))
        }
    };
    let (k, o) = (find(keep).await?, find(other).await?);
    if k.id == o.id {
        return Err(Error::Refused(format!(
            "{keep} and {other} are the same candidate ({})",
            k.id
        )));
    }
    for x in [&k, &o] {
        if x.anonymized_at.is_some() {
            return Err(Error::Refused(format!(
                "candidate {} was anonymized: nothing of theirs can be merged",
                x.id
            )));
        }
    }
    if let Some((posting, a, b)) = candidates::shared_posting(c, k.id, o.id).await? {
        return Err(Error::Refused(format!(
            "both applied to posting {posting} (applications {a} and {b}): withdraw or reject one first, then merge"
        )));
    }
    let (applications, emails) = candidates::merge_into(c, &k, &o, now).await?;
    let kept = candidates::find_by_email(c, keep)
        .await?
        .ok_or_else(|| Error::Conflict("the kept candidate vanished".into()))?;
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            "candidate.merged",
            now,
            json!({
                "candidate_id": kept.id,
                "merged_id": o.id,
                "applications": applications,
                "actor": actor,
                "at": now,
            }),
        )],
    )
    .await?;
    if emails > 0 {
        store::notify_outbox(c).await?;
    }
    Ok(Merged {
        kept,
        merged_id: o.id,
        applications,
        emails,
    })
}
