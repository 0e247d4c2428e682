//! Data-subject requests: opened with their legal deadlines, extended once,
//! closed with an outcome; erasure of a candidate now. Each in one
//! transaction with its event (`data_request.opened|extended|closed`,
//! `candidate.erased`), whose payload holds no personal data: downstream
//! systems learn that candidate N was erased, not who they were.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::requests::{self, KINDS, LAWS};
use crate::store::{self, Store, candidates, requests as store_rq};
use chrono::{DateTime, Utc};
use entity::data_request;
use sea_orm::ConnectionTrait;
use serde_json::json;

/// A request to open.
pub struct Open<'a> {
    pub email: &'a str,
    pub kind: &'a str,
    pub law: &'a str,
    pub received_at: DateTime<Utc>,
    pub note: Option<&'a str>,
    /// The nonce of the candidate's privacy link that asked (a link opens
    /// one request).
    pub link_nonce: Option<&'a str>,
}

fn event(
    kind: &'static str,
    r: &data_request::Model,
    actor: &str,
    now: DateTime<Utc>,
) -> store::events::NewEvent {
    store::events::NewEvent::new(
        kind,
        now,
        json!({
            "request_id": r.id,
            "candidate_id": r.candidate_id,
            "kind": r.kind,
            "law": r.law,
            "due_at": r.due_at,
            "outcome": r.outcome,
            "actor": actor,
            "at": now,
        }),
    )
}

/// Opens a request; its due date by its law, in `[schedule] timezone`.
pub async fn open<C: ConnectionTrait>(
    c: &C,
    config: &Config,
    o: Open<'_>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<data_request::Model> {
    if !KINDS.contains(&o.kind) {
        return Err(Error::input(format!(
            "--kind: `{}` is not one of {}",
            o.kind,
            KINDS.join(", ")
        )));
    }
    if !LAWS.contains(&o.law) {
        return Err(Error::input(format!(
            "--law: `{}` is not one of {}",
            o.law,
            LAWS.join(", ")
        )));
    }
    if o.received_at > now {
        return Err(Error::input(format!(
            "--received-at: {} is in the future",
            o.received_at.to_rfc3339()
        )));
    }
    let email = crate::candidate_fields::email(o.email)
        .map_err(|e| Error::input(format!("--email: {e}")))?;
    let note = match o.note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().any(char::is_control) => {
            return Err(Error::input("--note: control characters are not allowed"));
        }
        other => other,
    };
    let candidate = candidates::find_by_email(c, &email).await?;
    let (due_at, acknowledge_by) =
        requests::deadlines(o.law, o.received_at, false, config.schedule.tz()?);
    let r = store_rq::insert(
        c,
        store_rq::NewRequest {
            candidate_id: candidate.map(|c| c.id),
            email: &email,
            kind: o.kind,
            law: o.law,
            received_at: o.received_at,
            due_at,
            acknowledge_by,
            note,
            link_nonce: o.link_nonce,
        },
        now,
    )
    .await?;
    store::events::record(c, vec![event("data_request.opened", &r, actor, now)]).await?;
    Ok(r)
}

/// The one extension, before the due date and with a reason.
pub async fn extend<C: ConnectionTrait>(
    c: &C,
    config: &Config,
    id: i64,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<data_request::Model> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().any(char::is_control) {
        return Err(Error::input(
            "--reason: say why (the law asks for it), in one line",
        ));
    }
    let r = store_rq::find(c, id).await?;
    if r.state != "open" {
        return Err(Error::Refused(format!("data request {id} is closed")));
    }
    if r.extended_at.is_some() {
        return Err(Error::Refused(format!(
            "data request {id} was extended already (to {}); the law allows one extension",
            r.due_at.to_rfc3339()
        )));
    }
    if now > r.due_at {
        return Err(Error::Refused(format!(
            "data request {id} was due {}: an extension must be made before the due date",
            r.due_at.to_rfc3339()
        )));
    }
    let (due_at, _) = requests::deadlines(&r.law, r.received_at, true, config.schedule.tz()?);
    let r = store_rq::extend(c, r, due_at, reason, now).await?;
    store::events::record(c, vec![event("data_request.extended", &r, actor, now)]).await?;
    Ok(r)
}

/// Closes a request: `done` or `refused`, with the reason.
pub async fn close<C: ConnectionTrait>(
    c: &C,
    id: i64,
    outcome: &str,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<data_request::Model> {
    if !["done", "refused"].contains(&outcome) {
        return Err(Error::input(format!(
            "--outcome: `{outcome}` is not one of done, refused"
        )));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().any(char::is_control) {
        return Err(Error::input("--reason: say why, in one line"));
    }
    let r = store_rq::find(c, id).await?;
    if r.state != "open" {
        return Err(Error::Refused(format!(
            "data request {id} is closed already ({})",
            r.outcome.as_deref().unwrap_or("-")
        )));
    }
    let r = store_rq::close(c, r, outcome, reason, now).await?;
    store::events::record(c, vec![event("data_request.closed", &r, actor, now)]).await?;
    Ok(r)
}

/// What `request close` did: the request, and the erasure it made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Closed {
    pub request: data_request::Model,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased: Option<Erased>,
}

/// `request close ID`: an erasure request closed `done` whose candidate
/// atsd still holds erases them first, exactly as `candidate erase
/// --request ID` does (a hold refuses it, and the request records the
/// refusal; the candidate is told when it is done). Any other request is
/// closed as it is.
pub async fn close_request(
    store: &Store,
    ctx: &crate::workflow::Ctx<'_>,
    pipeline: &crate::pipeline::Pipeline,
    id: i64,
    outcome: &str,
    reason: &str,
    actor: &str,
) -> Result<Closed> {
    let r = store_rq::find(store.conn(), id).await?;
    let held = match r.candidate_id {
        Some(cid) => candidates::find(store.conn(), cid)
            .await?
            .filter(|c| c.anonymized_at.is_none()),
        None => None,
    };
    if r.kind == "erasure"
        && outcome == "done"
        && r.state == "open"
        && let Some(c) = held
    {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().any(char::is_control) {
            return Err(Error::input("--reason: say why, in one line"));
        }
        let erased = erase(store, ctx, pipeline, &c.email, Some(id), reason, actor).await?;
        let request = store_rq::find(store.conn(), id).await?;
        return Ok(Closed {
            request,
            erased: Some(erased),
        });
    }
    let txn = store.begin_write().await?;
    let request = close(&txn, id, outcome, reason, actor, ctx.now()).await?;
    txn.commit().await?;
    Ok(Closed {
        request,
        erased: None,
    })
}

/// What an erasure did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Erased {
    pub candidate_id: i64,
    pub request: Option<data_request::Model>,
    pub outbox_rows: u64,
    pub interviews_cancelled: u64,
}

/// `candidate erase EMAIL [--request ID]`: forgets the candidate now,
/// exactly as retention does (the same map), after cancelling their
/// interviews still to come (the interviewers get the CANCEL; the
/// candidate, who asked to be forgotten, gets nothing more). A candidate
/// on hold is refused naming the hold; the request, if given, records the
/// refusal (closed as `refused`).
// Stays whole: the erasure's steps in its transaction: the hold, the map's deletions, the notice, the event.
pub async fn erase(
    store: &Store,
    ctx: &crate::workflow::Ctx<'_>,
    pipeline: &crate::pipeline::Pipeline,
    email: &str,
    request: Option<i64>,
    close_reason: &str,
    actor: &str,
) -> Result<Erased> {
    let now = ctx.now();
    let c = candidates::find_by_email(store.conn(), email)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no candidate with email {email}")))?;
    if let Some(id) = request {
        let r = store_rq::find(store.conn(), id).await?;
        if r.state != "open" || r.kind != "erasure" || r.candidate_id.is_some_and(|x| x != c.id) {
            return Err(Error::Refused(format!(
                "data request {id} is not an open erasure request of candidate {}",
                c.id
            )));
        }
    }
    if c.on_hold {
        let why = format!(
            "candidate {} is on hold ({}): a hold keeps their data; take it off (`atsd candidate unhold`) to erase them",
            c.id,
            c.hold_reason.as_deref().unwrap_or("no reason given")
        );
        if let Some(id) = request {
            let txn = store.begin_write().await?;
            close(&txn, id, "refused", &why, actor, now).await?;
            txn.commit().await?;
        }
        return Err(Error::Refused(why));
    }
    if c.anonymized_at.is_some() {
        return Err(Error::Refused(format!(
            "candidate {} was anonymized already",
            c.id
        )));
    }
    let due = crate::jobs::retention::Due {
        candidate_id: c.id,
        name: c.name.clone(),
        email: c.email.clone(),
        terminal_since: now,
        first_seen: c.created_at,
    };
    let retention = crate::jobs::retention::Retention {
        store,
        config: ctx.config(),
        pipeline,
        now,
        dry_run: false,
    };
    let mut report = crate::jobs::retention::Report::default();
    let txn = store.begin_write().await?;
    let files = retention.anonymize_in(&txn, &[due], &mut report).await?;
    // their interviews still to come, cancelled once they are forgotten:
    // the interviewers' CANCEL names "[anonymized]", and the candidate,
    // whose address is gone, gets nothing more
    let cancelled = crate::workflow::interviews::cancel_upcoming_of_candidate(
        &txn,
        ctx,
        c.id,
        "the candidate's data was erased",
        actor,
    )
    .await?;
    store::events::record(
        &txn,
        vec![store::events::NewEvent::new(
            "candidate.erased",
            now,
            json!({
                "candidate_id": c.id,
                "request_id": request,
                "interviews_cancelled": cancelled,
                "actor": actor,
                "at": now,
            }),
        )],
    )
    .await?;
    if let Some(id) = request {
        let r = close(&txn, id, "done", close_reason, actor, now).await?;
        // they asked: they are told, at the address they had, by no name
        super::asked::queue_erased_notice(
            &txn,
            ctx,
            &c.email,
            c.locale.as_deref(),
            c.timezone.as_deref(),
            &r,
        )
        .await?;
    }
    store::notify_outbox(&txn).await?;
    txn.commit().await?;
    retention.clean_files(files, &mut report).await?;
    let request = match request {
        Some(id) => Some(store_rq::find(store.conn(), id).await?),
        None => None,
    };
    Ok(Erased {
        candidate_id: c.id,
        request,
        outbox_rows: report.outbox_rows,
        interviews_cancelled: cancelled,
    })
}

/// `candidate export EMAIL`: everything the map of personal data marks as
/// theirs, one JSON document ([`store::personal::export`]), and
/// `candidate.exported` naming who asked for it.
pub async fn export(
    store: &Store,
    email: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let txn = store.begin_write().await?;
    let c = candidates::find_by_email(&txn, email)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no candidate with email {email}")))?;
    export_in(txn, c, actor, now).await
}

/// [`export`] of the candidate with this id.
pub async fn export_by_id(
    store: &Store,
    id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let txn = store.begin_write().await?;
    let c = candidates::find(&txn, id)
        .await?
        .filter(|c| c.anonymized_at.is_none())
        .ok_or_else(|| Error::NotFound(format!("no candidate {id}")))?;
    export_in(txn, c, actor, now).await
}

async fn export_in(
    txn: sea_orm::DatabaseTransaction,
    c: entity::candidate::Model,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let doc = export_doc(&txn, c, actor, now).await?;
    txn.commit().await?;
    Ok(doc)
}

/// The export of candidate `c` and its event `candidate.exported`, in the
/// caller's transaction.
pub(super) async fn export_doc<C: ConnectionTrait>(
    txn: &C,
    c: entity::candidate::Model,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let who = store::personal::Subjects {
        candidates: vec![c.id],
        applications: store::applications::of_candidate(txn, c.id).await?,
        addresses: vec![c.email.to_lowercase()],
        names: vec![c.name.clone()],
    };
    let doc = store::personal::export(txn, &who, now).await?;
    store::events::record(
        txn,
        vec![store::events::NewEvent::new(
            "candidate.exported",
            now,
            json!({"candidate_id": c.id, "actor": actor, "at": now}),
        )],
    )
    .await?;
    Ok(doc)
}
