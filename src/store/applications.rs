//! Applications and their moves. Every move is one transaction: the
//! compare-and-swap on `version`, the new stage, a transition row and the
//! outbox rows the move causes — all or nothing.

use super::outbox::Email;
use super::{Store, candidates::CandidateInput, postings};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::render::{self, Renderer};
use crate::mail::{self, EmailChoice};
use crate::pipeline::Pipeline;
use crate::posting::Status;
use chrono::{DateTime, Utc};
use entity::{application, candidate, outbox, posting, transition};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::Serialize;
use std::collections::HashMap;

/// What every write needs: the configuration, its pipeline, the email
/// templates and the command's clock.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub pipeline: &'a Pipeline,
    pub renderer: &'a Renderer,
    pub now: DateTime<Utc>,
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
    /// `cli:<user>`, `rule:<name>`, `posting:<id>`.
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

/// What the templates see of a move.
pub(crate) fn context(
    ctx: &Ctx<'_>,
    app: &application::Model,
    cand: &candidate::Model,
    posting: &posting::Model,
    previous: Option<&str>,
    reason: Option<&str>,
) -> render::Context {
    let locale = cand
        .locale
        .as_deref()
        .unwrap_or(&ctx.config.org.default_locale);
    let tz = cand.timezone.as_deref();
    render::Context {
        candidate: render::CandidateCtx {
            name: cand.name.clone(),
            first_name: render::first_name(&cand.name),
            email: cand.email.clone(),
        },
        posting: render::PostingCtx {
            title: posting.title.clone(),
            company: posting.company.clone(),
            location: posting.location.clone(),
            url: posting.url.clone(),
        },
        application: render::ApplicationCtx {
            id: app.id,
            stage: app.stage.clone(),
            stage_label: render::stage_label(&app.stage, locale),
            previous_stage: previous.map(String::from),
            applied_on: render::format_date(app.applied_at, locale, tz),
            stage_since: render::format_date(app.entered_stage_at, locale, tz),
            withdraw_url: if ctx.pipeline.is_terminal(&app.stage) {
                None
            } else {
                crate::selfservice::Links::cached(ctx.config)
                    .map(|l| l.withdraw_url(app.id, ctx.now))
            },
        },
        reason: reason.unwrap_or_default().to_string(),
        org: render::OrgCtx {
            name: ctx.config.org.name.clone(),
        },
        digest: render::DigestCtx::default(),
    }
}

/// What caused an email: the transition and its surroundings.
struct Cause<'a> {
    app: &'a application::Model,
    cand: &'a candidate::Model,
    posting: &'a posting::Model,
    transition: &'a transition::Model,
}

/// Renders and writes the outbox rows that entering the transition's stage causes.
async fn queue_emails<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    cause: &Cause<'_>,
    choice: &EmailChoice,
) -> Result<Vec<Email>> {
    let Cause {
        app,
        cand,
        posting,
        transition: t,
    } = cause;
    if cand.anonymized_at.is_some() {
        return Ok(Vec::new());
    }
    let stage = t.to_stage.as_str();
    let Some(spec) = mail::stage_email(ctx.config, stage, choice) else {
        return Ok(Vec::new());
    };
    let to = mail::Recipient {
        email: &cand.email,
        name: &cand.name,
        locale: cand.locale.as_deref(),
    };
    let tctx = context(
        ctx,
        app,
        cand,
        posting,
        t.from_stage.as_deref(),
        t.reason.as_deref(),
    );
    let d =
        mail::draft(ctx.config, ctx.renderer, &spec, &to, &tctx, stage, ctx.now).map_err(|e| {
            Error::Other(format!(
                "email `{}` for application {}: {e}",
                spec.template, app.id
            ))
        })?;
    let row = outbox::ActiveModel {
        application_id: Set(Some(app.id)),
        transition_id: Set(Some(t.id)),
        stage: Set(d.stage),
        recipient: Set(d.recipient),
        recipient_name: Set(d.recipient_name),
        template: Set(d.template),
        locale: Set(d.locale),
        message_id: Set(mail::message_id(ctx.config, t.id, 0)),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(d.send_after.unwrap_or(ctx.now)),
        send_after: Set(d.send_after),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
        ..Default::default()
    }
    .insert(c)
    .await?;
    let body = entity::outbox_body::ActiveModel {
        outbox_id: Set(row.id),
        subject: Set(d.subject.unwrap_or_default()),
        body_text: Set(d.body_text.unwrap_or_default()),
        body_html: Set(d.body_html.unwrap_or_default()),
    }
    .insert(c)
    .await?;
    Ok(vec![Email {
        row,
        subject: Some(body.subject),
        body_text: Some(body.body_text),
        body_html: Some(body.body_html),
    }])
}

/// Cancels the delayed emails of `stage` still waiting to be sent, because
/// the application left that stage first; the reason is kept on each row.
async fn cancel_delayed<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    app_id: i64,
    stage: &str,
    to: &str,
    actor: &str,
) -> Result<u64> {
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value("cancelled"))
        .col_expr(
            outbox::Column::LastError,
            Expr::value(format!(
                "cancelled at {}: the application left `{stage}` for `{to}` ({actor}) before the email was due",
                ctx.now.to_rfc3339()
            )),
        )
        .col_expr(outbox::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(outbox::Column::ApplicationId.eq(app_id))
        .filter(outbox::Column::Stage.eq(stage))
        .filter(outbox::Column::Status.eq("pending"))
        .filter(outbox::Column::SendAfter.gt(ctx.now))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}

/// The application of this candidate for this posting, if any.
pub async fn find_for<C: ConnectionTrait>(
    c: &C,
    candidate_id: i64,
    posting_id: i64,
) -> Result<Option<application::Model>> {
    Ok(application::Entity::find()
        .filter(application::Column::CandidateId.eq(candidate_id))
        .filter(application::Column::PostingId.eq(posting_id))
        .one(c)
        .await?)
}

/// Creates an application of `cand` for `posting` inside the caller's
/// transaction: the application, its first transition and its email.
pub async fn create_in<C: ConnectionTrait>(
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
    if let Some(existing) = find_for(c, cand.id, posting.id).await? {
        return Err(Error::Refused(format!(
            "{} <{}> has already applied to posting {} (application {})",
            cand.name, cand.email, posting.id, existing.id
        )));
    }
    let applied_at = new.applied_at.unwrap_or(ctx.now);
    let app = application::ActiveModel {
        candidate_id: Set(cand.id),
        posting_id: Set(posting.id),
        stage: Set(stage.clone()),
        entered_stage_at: Set(applied_at),
        applied_at: Set(applied_at),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
        ..Default::default()
    }
    .insert(c)
    .await?;
    let t = transition::ActiveModel {
        application_id: Set(app.id),
        from_stage: Set(None),
        to_stage: Set(stage.clone()),
        reason: Set(new.reason.clone()),
        actor: Set(new.actor.clone()),
        at: Set(applied_at),
        ..Default::default()
    }
    .insert(c)
    .await?;
    super::events::record(
        c,
        vec![super::events::moved(
            app.id,
            posting.id,
            t.id,
            None,
            &t.to_stage,
            t.reason.as_deref(),
            &t.actor,
            t.at,
        )],
    )
    .await?;
    let cause = Cause {
        app: &app,
        cand,
        posting,
        transition: &t,
    };
    let emails = queue_emails(c, ctx, &cause, &new.email).await?;
    Ok(Created {
        application: app,
        candidate: cand.clone(),
        transition: t,
        emails,
        warnings: Vec::new(),
    })
}

/// `atsd apply`: the candidate (created or reused by email) applies to the
/// posting named by id or URL, in the first stage, with its email. One transaction.
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
pub async fn apply_in<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx<'_>,
    posting_ref: &str,
    input: &CandidateInput,
    new: &NewApplication,
) -> Result<Created> {
    let posting = postings::find(txn, posting_ref).await?;
    let cand = super::candidates::find_or_create(txn, input, ctx.now).await?;
    let mut created = create_in(txn, ctx, &posting, &cand, new).await?;
    if posting.status == Status::Closed.as_str() {
        created.warnings.push(format!(
            "posting {} ({}) is closed; the application was recorded anyway",
            posting.id, posting.title
        ));
    }
    if !created.emails.is_empty() {
        super::notify_outbox(txn).await?;
    }
    Ok(created)
}

/// Moves one application inside the caller's transaction.
pub async fn move_in<C: ConnectionTrait>(c: &C, ctx: &Ctx<'_>, req: &MoveRequest) -> Result<Moved> {
    let app = application::Entity::find_by_id(req.application_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application with id {}", req.application_id)))?;
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
    let res = application::Entity::update_many()
        .col_expr(application::Column::Stage, Expr::value(req.to.clone()))
        .col_expr(application::Column::EnteredStageAt, Expr::value(ctx.now))
        .col_expr(application::Column::UpdatedAt, Expr::value(ctx.now))
        .col_expr(
            application::Column::Version,
            Expr::col(application::Column::Version).add(1),
        )
        .filter(application::Column::Id.eq(app.id))
        .filter(application::Column::Version.eq(app.version))
        .exec(c)
        .await?;
    if res.rows_affected != 1 {
        return Err(Error::Conflict(format!(
            "application {} was moved by someone else at the same time; nothing changed: read it again and retry",
            app.id
        )));
    }
    let t = transition::ActiveModel {
        application_id: Set(app.id),
        from_stage: Set(Some(app.stage.clone())),
        to_stage: Set(req.to.clone()),
        reason: Set(req.reason.clone()),
        actor: Set(req.actor.clone()),
        at: Set(ctx.now),
        stage_entered_at: Set(Some(app.entered_stage_at)),
        ..Default::default()
    }
    .insert(c)
    .await?;
    let cand = candidate::Entity::find_by_id(app.candidate_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::Other(format!("application {} has no candidate", app.id)))?;
    let posting = posting::Entity::find_by_id(app.posting_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::Other(format!("application {} has no posting", app.id)))?;
    super::events::record(
        c,
        vec![super::events::moved(
            app.id,
            app.posting_id,
            t.id,
            Some(&app.stage),
            &t.to_stage,
            t.reason.as_deref(),
            &t.actor,
            t.at,
        )],
    )
    .await?;
    let cancelled = cancel_delayed(c, ctx, app.id, &app.stage, &req.to, &req.actor).await?;
    let moved_app = application::Model {
        stage: req.to.clone(),
        entered_stage_at: ctx.now,
        updated_at: ctx.now,
        version: app.version + 1,
        ..app
    };
    let cause = Cause {
        app: &moved_app,
        cand: &cand,
        posting: &posting,
        transition: &t,
    };
    let emails = queue_emails(c, ctx, &cause, &req.email).await?;
    Ok(Moved {
        application: moved_app,
        transition: t,
        emails,
        cancelled_emails: cancelled,
    })
}

/// Moves one application in its own transaction.
pub async fn move_application(store: &Store, ctx: &Ctx<'_>, req: &MoveRequest) -> Result<Moved> {
    let txn = store.begin_write().await?;
    match move_in(&txn, ctx, req).await {
        Ok(m) => {
            if !m.emails.is_empty() {
                super::notify_outbox(&txn).await?;
            }
            txn.commit()
                .await
                .map_err(|e| conflict_or_db(req.application_id, e))?;
            Ok(m)
        }
        Err(Error::Db(e)) => Err(conflict_or_db(req.application_id, e)),
        Err(e) => Err(e),
    }
}

/// PostgreSQL reports a lost race as a serialization failure or deadlock; say so plainly.
fn conflict_or_db(id: i64, e: sea_orm::DbErr) -> Error {
    let s = e.to_string();
    if s.contains("could not serialize") || s.contains("deadlock") {
        Error::Conflict(format!(
            "application {id} was moved by someone else at the same time; nothing changed: read it again and retry"
        ))
    } else {
        Error::Db(e)
    }
}

/// The template context of an application as it stands, for `mail preview`.
pub async fn preview_context<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    id: i64,
) -> Result<(render::Context, Option<String>)> {
    let d = detail(c, id).await?;
    let previous = d.transitions.last().and_then(|t| t.from_stage.clone());
    let reason = d.transitions.last().and_then(|t| t.reason.clone());
    let tctx = context(
        ctx,
        &d.application,
        &d.candidate,
        &d.posting,
        previous.as_deref(),
        reason.as_deref(),
    );
    Ok((tctx, d.candidate.locale))
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub application: application::Model,
    pub candidate: candidate::Model,
    pub posting: posting::Model,
    pub transitions: Vec<transition::Model>,
    pub emails: Vec<Email>,
}

pub async fn detail<C: ConnectionTrait>(c: &C, id: i64) -> Result<Detail> {
    let application = application::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application with id {id}")))?;
    let candidate = candidate::Entity::find_by_id(application.candidate_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::Other(format!("application {id} has no candidate")))?;
    let posting = posting::Entity::find_by_id(application.posting_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::Other(format!("application {id} has no posting")))?;
    let transitions = transition::Entity::find()
        .filter(transition::Column::ApplicationId.eq(id))
        .order_by_asc(transition::Column::At)
        .order_by_asc(transition::Column::Id)
        .all(c)
        .await?;
    let rows = outbox::Entity::find()
        .filter(outbox::Column::ApplicationId.eq(id))
        .order_by_asc(outbox::Column::Id)
        .all(c)
        .await?;
    let emails = super::outbox::with_bodies(c, rows, true).await?;
    Ok(Detail {
        application,
        candidate,
        posting,
        transitions,
        emails,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub application: application::Model,
    pub candidate_name: String,
    pub candidate_email: String,
    pub posting_title: String,
}

pub async fn list<C: ConnectionTrait>(
    c: &C,
    posting_id: Option<i64>,
    stage: Option<&str>,
) -> Result<Vec<Row>> {
    let mut q = application::Entity::find().order_by_asc(application::Column::Id);
    if let Some(p) = posting_id {
        q = q.filter(application::Column::PostingId.eq(p));
    }
    if let Some(s) = stage {
        q = q.filter(application::Column::Stage.eq(s));
    }
    let apps = q.all(c).await?;
    let cand_ids: Vec<i64> = apps.iter().map(|a| a.candidate_id).collect();
    let post_ids: Vec<i64> = apps.iter().map(|a| a.posting_id).collect();
    // in chunks: SQLite allows at most 32,766 bound values per statement
    let mut cands: HashMap<i64, candidate::Model> = HashMap::new();
    for chunk in dedup(cand_ids).chunks(5000) {
        for m in candidate::Entity::find()
            .filter(candidate::Column::Id.is_in(chunk.to_vec()))
            .all(c)
            .await?
        {
            cands.insert(m.id, m);
        }
    }
    let mut posts: HashMap<i64, String> = HashMap::new();
    for chunk in dedup(post_ids).chunks(5000) {
        for m in posting::Entity::find()
            .filter(posting::Column::Id.is_in(chunk.to_vec()))
            .all(c)
            .await?
        {
            posts.insert(m.id, m.title);
        }
    }
    Ok(apps
        .into_iter()
        .map(|a| {
            let cand = cands.get(&a.candidate_id);
            Row {
                candidate_name: cand.map(|c| c.name.clone()).unwrap_or_default(),
                candidate_email: cand.map(|c| c.email.clone()).unwrap_or_default(),
                posting_title: posts.get(&a.posting_id).cloned().unwrap_or_default(),
                application: a,
            }
        })
        .collect())
}

fn dedup(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v.dedup();
    v
}
