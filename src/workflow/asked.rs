//! Candidates ask for themselves: the privacy link at the end of every
//! email to a candidate ([`crate::selfservice::privacy`]) opens a data
//! request under `[retention] request_law`, its due date by that law.
//! Mailbox control is the identity check: the link went to their address,
//! signed, and it opens one request, once.
//!
//! - **Access** is answered at once: the same transaction queues the
//!   `data_export` email with a second signed link, single use, valid 7
//!   days ([`crate::selfservice::EXPORT_TTL_DAYS`]); downloading through it
//!   closes the request (`done`). Only the latest such link works.
//! - **Erasure** waits for a recruiter's `atsd request close ID --outcome
//!   done`, which erases the candidate as `candidate erase` does (a hold
//!   refuses it, and the request records the refusal), and queues the
//!   `data_erased` email to the address they asked from, addressed to no
//!   name; once it is sent, retention forgets that address too.

use super::Ctx;
use super::requests::{self as wf, Open};
use crate::config::EmailSpec;
use crate::error::{Error, Result};
use crate::mail::{self, Recipient};
use crate::selfservice::{IdClaim, Refusal};
use crate::store::{self, Store, applications, candidates, requests as store_rq};
use crate::templates;
use chrono::{DateTime, Utc};
use entity::{candidate, data_request};
use sea_orm::ConnectionTrait;

/// Who a candidate's own requests are made by, in events and on the board.
pub const ACTOR: &str = "candidate";

/// What asking did.
pub enum Asked {
    /// The request, opened; for access, the address the download link went to.
    Opened(Box<data_request::Model>),
    Refused(Refusal),
}

/// The kinds a candidate may ask for through their link.
pub const KINDS: [&str; 2] = ["access", "erasure"];

/// The candidate a privacy link names, unless they are gone (anonymized).
pub async fn candidate_of<C: ConnectionTrait>(
    c: &C,
    claim: &IdClaim,
) -> Result<std::result::Result<candidate::Model, Refusal>> {
    Ok(match candidates::find(c, claim.id).await? {
        Some(cand) if cand.anonymized_at.is_none() => Ok(cand),
        Some(_) => Err(Refusal::Closed),
        None => Err(Refusal::Invalid),
    })
}

/// Whether the privacy link with this nonce opened a request already.
pub async fn link_used<C: ConnectionTrait>(c: &C, nonce: &str) -> Result<bool> {
    Ok(store_rq::by_link_nonce(c, nonce).await?.is_some())
}

/// Opens the request `kind` the candidate of `claim` asked for (one
/// transaction: the request, its event and, for access, the download
/// link's email).
pub async fn ask(store: &Store, ctx: &Ctx<'_>, claim: &IdClaim, kind: &str) -> Result<Asked> {
    if !KINDS.contains(&kind) {
        return Err(Error::input(format!(
            "kind: `{kind}` is not one of {}",
            KINDS.join(", ")
        )));
    }
    let now = ctx.now();
    let txn = store.begin_write().await?;
    let cand = match candidate_of(&txn, claim).await? {
        Ok(c) => c,
        Err(r) => return Ok(Asked::Refused(r)),
    };
    if link_used(&txn, &claim.nonce).await? {
        return Ok(Asked::Refused(Refusal::Used));
    }
    let opened = wf::open(
        &txn,
        ctx.config(),
        Open {
            email: &cand.email,
            kind,
            law: &ctx.config().retention.request_law,
            received_at: now,
            note: Some("asked through the privacy link in an email"),
            link_nonce: Some(&claim.nonce),
        },
        ACTOR,
        now,
    )
    .await;
    let r = match opened {
        Ok(r) => r,
        // the same link posted twice at once: the unique nonce lets one in
        Err(Error::Db(e)) if store::is_unique_violation(&e) => {
            return Ok(Asked::Refused(Refusal::Used));
        }
        Err(e) => return Err(e),
    };
    if kind == "access" {
        queue_export_link(&txn, ctx, &cand, &r).await?;
    }
    store::notify_outbox(&txn).await?;
    txn.commit().await?;
    tracing::info!(
        request = r.id,
        candidate = cand.id,
        kind,
        "data request opened by the candidate's link"
    );
    Ok(Asked::Opened(Box::new(r)))
}

/// Queues the `data_export` email: a download link for request `r`'s
/// export, to the candidate, kept with their latest application (so that
/// forgetting them forgets it).
async fn queue_export_link<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    cand: &candidate::Model,
    r: &data_request::Model,
) -> Result<()> {
    let now = ctx.now();
    let (url, nonce) = ctx
        .links()
        .and_then(|l| l.export_link(r.id, now))
        .ok_or_else(|| Error::Refused("no download link can be made (see the log)".into()))?;
    store_rq::set_export_nonce(c, r.id, &nonce).await?;
    let locale = cand
        .locale
        .as_deref()
        .unwrap_or(&ctx.config().org.default_locale);
    let tz = cand.timezone.as_deref();
    let expires = now + chrono::Duration::days(crate::selfservice::EXPORT_TTL_DAYS);
    let tctx = request_context(ctx, Some(cand), r, locale, tz, Some(url), expires);
    let app = applications::of_candidate(c, cand.id)
        .await?
        .into_iter()
        .max();
    let d = draft(
        ctx,
        "data_export",
        &cand.email,
        Some(&cand.name),
        cand.locale.as_deref(),
        &tctx,
    )?;
    let domain = mail::message_id::domain(ctx.config());
    store::outbox::queue(
        c,
        app,
        None,
        mail::message_id::of_request(domain, r.id, "export"),
        d,
        now,
    )
    .await?;
    Ok(())
}

/// Queues the `data_erased` email for request `r`, to `address`, addressed
/// to no name (the candidate is forgotten by now).
pub(super) async fn queue_erased_notice<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    address: &str,
    locale: Option<&str>,
    tz: Option<&str>,
    r: &data_request::Model,
) -> Result<()> {
    let shown = locale.unwrap_or(&ctx.config().org.default_locale);
    let tctx = request_context(ctx, None, r, shown, tz, None, ctx.now());
    let d = draft(ctx, "data_erased", address, None, locale, &tctx)?;
    let domain = mail::message_id::domain(ctx.config());
    store::outbox::queue(
        c,
        None,
        None,
        mail::message_id::of_request(domain, r.id, "erased"),
        d,
        ctx.now(),
    )
    .await?;
    Ok(())
}

fn request_context(
    ctx: &Ctx<'_>,
    cand: Option<&candidate::Model>,
    r: &data_request::Model,
    locale: &str,
    tz: Option<&str>,
    download_url: Option<String>,
    expires: DateTime<Utc>,
) -> templates::Context {
    templates::Context {
        candidate: cand
            .map(|c| templates::CandidateCtx {
                name: c.name.clone(),
                first_name: templates::first_name(&c.name),
                email: c.email.clone(),
                privacy_url: None,
            })
            .unwrap_or_default(),
        org: templates::OrgCtx {
            name: ctx.config().org.name.clone(),
        },
        request: templates::RequestCtx {
            id: r.id,
            kind: r.kind.clone(),
            received: templates::format_date(r.received_at, locale, tz),
            download_url,
            expires: templates::format_time(expires, locale, tz),
        },
        ..templates::Context::default()
    }
}

pub(super) fn draft(
    ctx: &Ctx<'_>,
    template: &str,
    to: &str,
    name: Option<&str>,
    locale: Option<&str>,
    tctx: &templates::Context,
) -> Result<store::outbox::Draft> {
    let spec = EmailSpec::new(template);
    let who = Recipient {
        email: to,
        name: name.unwrap_or(""),
        locale,
    };
    let mut d = mail::draft(
        ctx.config(),
        ctx.renderer(),
        &spec,
        &who,
        tctx,
        "",
        ctx.now(),
    )
    .map_err(|e| Error::Render(format!("email `{template}`: {e}")))?;
    d.stage = None;
    d.recipient_name = name.map(String::from);
    d.auto_submitted = true;
    Ok(d)
}

/// The request and candidate a download link names, if the link is the
/// request's latest, unused, and its candidate still held.
pub async fn download_target<C: ConnectionTrait>(
    c: &C,
    claim: &IdClaim,
) -> Result<std::result::Result<(data_request::Model, candidate::Model), Refusal>> {
    let r = match store_rq::find(c, claim.id).await {
        Ok(r) => r,
        Err(Error::NotFound(_)) => return Ok(Err(Refusal::Invalid)),
        Err(e) => return Err(e),
    };
    if r.kind != "access" || r.export_nonce.is_none() {
        return Ok(Err(Refusal::Invalid));
    }
    if r.export_nonce.as_deref() != Some(claim.nonce.as_str()) || r.downloaded_at.is_some() {
        // an earlier link, or this one spent
        return Ok(Err(Refusal::Used));
    }
    let cand = match r.candidate_id {
        Some(id) => candidates::find(c, id).await?,
        None => None,
    };
    match cand.filter(|c| c.anonymized_at.is_none()) {
        Some(cand) => Ok(Ok((r, cand))),
        None => Ok(Err(Refusal::Closed)),
    }
}

/// What a download link gives: the export, and whose it is.
pub struct Download {
    pub candidate_id: i64,
    pub doc: serde_json::Value,
}

/// The export a download link names, once: the link must be request's
/// latest, unused, and its candidate still held. One transaction: the
/// download recorded, the export read, `candidate.exported`, and the
/// request closed `done`.
pub async fn download(
    store: &Store,
    claim: &IdClaim,
    now: DateTime<Utc>,
) -> Result<std::result::Result<Download, Refusal>> {
    let txn = store.begin_write().await?;
    let (r, cand) = match download_target(&txn, claim).await? {
        Ok(x) => x,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if !store_rq::mark_downloaded(&txn, r.id, &claim.nonce, now).await? {
        return Ok(Err(Refusal::Used));
    }
    let candidate_id = cand.id;
    let doc = wf::export_doc(&txn, cand, ACTOR, now).await?;
    if r.state == "open" {
        wf::close(
            &txn,
            r.id,
            "done",
            "the export was downloaded through its link",
            ACTOR,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Ok(Download { candidate_id, doc }))
}
