//! One owner for a move. A move is decided (the pipeline allows it, the
//! application is still as it was read), then written — the application's
//! new stage, its transition, the transition's event, the delayed emails of
//! the stage left cancelled, and the email the stage entered sends, rendered
//! — all inside the caller's transaction. Every way a move starts goes
//! through here: `atsd apply` and `application move`, the API, an import, a
//! candidate's withdraw link ([`withdraw`]), and the rules, whose batches
//! ([`batch`]) make the same decisions set-based.
//!
//! Persistence is [`crate::store`]'s; what the templates see and which email
//! a move sends is [`email`]'s.

pub mod asked;
pub mod audited;
pub mod batch;
pub mod email;
pub mod identity;
pub mod interviews;
pub mod offers;
pub mod requests;
mod withdraw;

pub use withdraw::{Withdrawn, withdraw};

use crate::config::{Config, EmailChoice};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::posting::Status;
use crate::selfservice::Links;
use crate::store::candidates::CandidateInput;
use crate::store::outbox::Email;
use crate::store::{self, Store, applications, postings};
use crate::templates::Renderer;
use chrono::{DateTime, Utc};
use entity::{application, candidate, posting, transition};
use serde::Serialize;

/// What every move needs besides the database: the configuration, its
/// pipeline, the email templates, the self-service links (read once, when
/// the configuration is loaded) and the clock of the command.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    config: &'a Config,
    pipeline: &'a Pipeline,
    renderer: &'a Renderer,
    links: Option<&'a Links>,
    now: DateTime<Utc>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        config: &'a Config,
        pipeline: &'a Pipeline,
        renderer: &'a Renderer,
        links: Option<&'a Links>,
        now: DateTime<Utc>,
    ) -> Ctx<'a> {
        Ctx {
            config,
            pipeline,
            renderer,
            links,
            now,
        }
    }

    pub fn config(&self) -> &'a Config {
        self.config
    }

    pub fn pipeline(&self) -> &'a Pipeline {
        self.pipeline
    }

    pub fn renderer(&self) -> &'a Renderer {
        self.renderer
    }

    pub fn links(&self) -> Option<&'a Links> {
        self.links
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// An application as created by `apply` or an import.
#[derive(Clone, Debug)]
pub struct NewApplication {
    pub stage: Option<String>,
    pub applied_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub reason: Option<String>,
    pub email: EmailChoice,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    pub application: application::Model,
    pub candidate: candidate::Model,
    pub transition: transition::Model,
    pub emails: Vec<Email>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A request to move one application.
#[derive(Clone, Debug)]
pub struct MoveRequest {
    pub application_id: i64,
    pub to: String,
    pub reason: Option<String>,
    /// `cli:<user>`, `rule:<name>`, `posting:<id>`, `candidate`.
    pub actor: String,
    pub email: EmailChoice,
    /// When set, the move happens only if the application still has this
    /// version (the caller decided on what it read earlier).
    pub expected_version: Option<i32>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Moved {
    pub application: application::Model,
    pub transition: transition::Model,
    pub emails: Vec<Email>,
    /// Delayed emails of the stage left, cancelled by this move.
    pub cancelled_emails: u64,
}

/// Creates an application of `cand` for `posting` inside the caller's
/// transaction: the application, its first transition and its email.
pub async fn create_in<C: sea_orm::ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    posting: &posting::Model,
    cand: &candidate::Model,
    new: &NewApplication,
) -> Result<Created> {
    let stage = new
        .stage
        .clone()
        .unwrap_or_else(|| ctx.pipeline.first_stage().to_string());
    if !ctx.pipeline.contains(&stage) {
        return Err(Error::input(format!(
            "unknown stage `{stage}` (stages: {})",
            ctx.pipeline.stages().collect::<Vec<_>>().join(", ")
        )));
    }
    if let Some(existing) = applications::find_for(c, cand.id, posting.id).await? {
        return Err(Error::Refused(format!(
            "{} <{}> has already applied to posting {} (application {})",
            cand.name, cand.email, posting.id, existing.id
        )));
    }
    let applied_at = new.applied_at.unwrap_or(ctx.now);
    let app = applications::insert(c, cand.id, posting.id, &stage, applied_at, ctx.now).await?;
    let t = applications::insert_transition(
        c,
        &applications::NewTransition {
            application_id: app.id,
            from: None,
            to: &stage,
            reason: new.reason.as_deref(),
            actor: &new.actor,
            at: applied_at,
            stage_entered_at: None,
        },
    )
    .await?;
    record_event(c, &app, &t).await?;
    let emails = email::queue_for_move(c, ctx, &app, cand, posting, &t, &new.email).await?;
    Ok(Created {
        application: app,
        candidate: cand.clone(),
        transition: t,
        emails,
        warnings: Vec::new(),
    })
}

/// `atsd apply`: the candidate (created or reused by email) applies to the
/// posting named by id or URL, in the first stage, with its email. One
/// transaction.
pub async fn apply(
    store: &Store,
    ctx: &Ctx<'_>,
    posting_ref: &str,
    input: &CandidateInput,
    new: &NewApplication,
) -> Result<Created> {
    let txn = store.begin_write().await?;
    let created = apply_in(&txn, ctx, posting_ref, input, new).await?;
    txn.commit().await?;
    Ok(created)
}

/// [`apply`] inside the caller's transaction (the API writes its
/// idempotency record in the same one).
pub async fn apply_in<C: sea_orm::ConnectionTrait>(
    txn: &C,
    ctx: &Ctx<'_>,
    posting_ref: &str,
    input: &CandidateInput,
    new: &NewApplication,
) -> Result<Created> {
    let posting = postings::find(txn, posting_ref).await?;
    let cand = store::candidates::find_or_create(txn, input, ctx.now).await?;
    // applying again is the candidate giving this address again: an earlier
    // bounce's mark is cleared, and what was held for it goes
    let cleared = match store::inbound::undeliverable(txn, &cand.email).await? {
        Some(mark) => Some((
            mark,
            store::inbound::release(txn, &cand.email, None, ctx.now).await?,
        )),
        None => None,
    };
    let mut created = create_in(txn, ctx, &posting, &cand, new).await?;
    if let Some((mark, held)) = cleared {
        created.warnings.push(format!(
            "{} was marked undeliverable (a bounce on {}); applying again clears the mark: \
             {held} held email(s) will be sent",
            cand.email,
            mark.since.format("%Y-%m-%d")
        ));
    }
    if posting.status == Status::Closed.as_str() {
        created.warnings.push(format!(
            "posting {} ({}) is closed; the application was recorded anyway",
            posting.id, posting.title
        ));
    }
    if !created.emails.is_empty() {
        store::notify_outbox(txn).await?;
    }
    Ok(created)
}

/// Moves one application inside the caller's transaction.
pub async fn move_in<C: sea_orm::ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    req: &MoveRequest,
) -> Result<Moved> {
    let app = applications::find(c, req.application_id).await?;
    if let Some(v) = req.expected_version
        && v != app.version
    {
        return Err(Error::Conflict(format!(
            "application {} changed since it was read (version {v}, now {}): read it again and retry",
            app.id, app.version
        )));
    }
    ctx.pipeline
        .check(&app.stage, &req.to)
        .map_err(|e| Error::Refused(format!("application {}: {e}", app.id)))?;
    let Some(moved) = applications::compare_and_swap(c, &app, &req.to, ctx.now).await? else {
        return Err(lost_race(app.id));
    };
    let t = applications::insert_transition(
        c,
        &applications::NewTransition {
            application_id: app.id,
            from: Some(&app.stage),
            to: &req.to,
            reason: req.reason.as_deref(),
            actor: &req.actor,
            at: ctx.now,
            stage_entered_at: Some(app.entered_stage_at),
        },
    )
    .await?;
    let (cand, posting) = applications::candidate_and_posting(c, &app).await?;
    record_event(c, &app, &t).await?;
    let cancelled =
        store::outbox::cancel_delayed(c, app.id, &app.stage, &req.to, &req.actor, ctx.now).await?;
    let emails = email::queue_for_move(c, ctx, &moved, &cand, &posting, &t, &req.email).await?;
    // an application that is done has no interview left on anyone's calendar
    if ctx.pipeline.is_terminal(&req.to) {
        interviews::cancel_for_application(c, ctx, app.id, &req.to, &req.actor).await?;
    }
    Ok(Moved {
        application: moved,
        transition: t,
        emails,
        cancelled_emails: cancelled,
    })
}

/// Moves one application in its own transaction.
pub async fn move_application(store: &Store, ctx: &Ctx<'_>, req: &MoveRequest) -> Result<Moved> {
    let txn = store.begin_write().await?;
    let moved = async {
        let m = move_in(&txn, ctx, req).await?;
        if !m.emails.is_empty() {
            store::notify_outbox(&txn).await?;
        }
        Ok::<_, Error>(m)
    }
    .await;
    match moved {
        Ok(m) => {
            txn.commit()
                .await
                .map_err(|e| conflict_or_db(req.application_id, e))?;
            Ok(m)
        }
        Err(Error::Db(e)) => Err(conflict_or_db(req.application_id, e)),
        Err(e) => Err(e),
    }
}

fn lost_race(id: i64) -> Error {
    Error::Conflict(format!(
        "application {id} was moved by someone else at the same time; nothing changed: read it again and retry"
    ))
}

/// PostgreSQL reports a lost race as a serialization failure or a deadlock:
/// say so plainly.
fn conflict_or_db(id: i64, e: sea_orm::DbErr) -> Error {
    if store::is_lost_race(&e) {
        lost_race(id)
    } else {
        Error::Db(e)
    }
}

/// The transition's event (`application.created` or `application.moved`).
async fn record_event<C: sea_orm::ConnectionTrait>(
    c: &C,
    app: &application::Model,
    t: &transition::Model,
) -> Result<()> {
    store::events::record(
        c,
        vec![store::events::NewEvent::of_move(&crate::events::Move {
            application_id: app.id,
            posting_id: app.posting_id,
            transition_id: t.id,
            from: t.from_stage.as_deref(),
            to: &t.to_stage,
            reason: t.reason.as_deref(),
            actor: &t.actor,
            at: t.at,
        })],
    )
    .await
}

/// The template context of an application as it stands, for `mail preview`.
pub async fn preview_context<C: sea_orm::ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    id: i64,
) -> Result<(crate::templates::Context, Option<String>)> {
    let d = applications::detail(c, id).await?;
    let previous = d.transitions.last().and_then(|t| t.from_stage.clone());
    let reason = d.transitions.last().and_then(|t| t.reason.clone());
    let tctx = email::context(
        ctx,
        &d.application,
        &d.candidate,
        &d.posting,
        previous.as_deref(),
        reason.as_deref(),
    );
    Ok((tctx, d.candidate.locale))
}
