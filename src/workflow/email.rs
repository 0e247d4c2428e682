//! The emails a move causes: which one (the stage entered's, a rule's or
//! none), what its template sees, rendered for its recipient, and named
//! after the transition that caused it. A single move queues it here; a
//! batch of the rules renders it here too and writes it set-based
//! ([`super::batch`]). A reminder of the rules is rendered here as well.

use super::Ctx;
use crate::config::{EmailChoice, EmailSpec};
use crate::error::{Error, Result};
use crate::mail::{self, Recipient};
use crate::store::outbox::{self, Draft, Email};
use crate::store::people::Role;
use crate::templates;
use entity::person;
use entity::{application, candidate, posting, transition};
use sea_orm::ConnectionTrait;
use std::collections::HashMap;

/// What the templates see of an application (as it is after the move, if
/// one caused the email).
pub fn context(
    ctx: &Ctx<'_>,
    app: &application::Model,
    cand: &candidate::Model,
    posting: &posting::Model,
    previous: Option<&str>,
    reason: Option<&str>,
) -> templates::Context {
    let locale = cand
        .locale
        .as_deref()
        .unwrap_or(&ctx.config.org.default_locale);
    let tz = cand.timezone.as_deref();
    templates::Context {
        candidate: templates::CandidateCtx {
            name: cand.name.clone(),
            first_name: templates::first_name(&cand.name),
            email: cand.email.clone(),
            privacy_url: None,
        },
        posting: templates::PostingCtx::of(posting),
        application: templates::ApplicationCtx {
            id: app.id,
            stage: app.stage.clone(),
            stage_label: templates::stage_label(&app.stage, locale),
            previous_stage: previous.map(String::from),
            applied_on: templates::format_date(app.applied_at, locale, tz),
            stage_since: templates::format_date(app.entered_stage_at, locale, tz),
            withdraw_url: if ctx.pipeline.is_terminal(&app.stage) {
                None
            } else {
                ctx.links.and_then(|l| l.withdraw_url(app.id, ctx.now))
            },
        },
        reason: reason.unwrap_or_default().to_string(),
        org: templates::OrgCtx {
            name: ctx.config.org.name.clone(),
        },
        digest: templates::DigestCtx::default(),
        closed: templates::ClosedCtx::default(),
        interview: templates::InterviewCtx::default(),
        reply: templates::ReplyCtx::default(),
        request: templates::RequestCtx::default(),
    }
}

/// The email that moving `app` from `from` (none for a new application)
/// to its stage sends under `choice`, rendered for the candidate: none when
/// the choice or the stage sends none, or when the candidate was anonymized.
/// `app` is the application as the move leaves it.
pub fn for_move(
    ctx: &Ctx<'_>,
    app: &application::Model,
    cand: &candidate::Model,
    posting: &posting::Model,
    from: Option<&str>,
    reason: Option<&str>,
    choice: &EmailChoice,
) -> Result<Option<Draft>> {
    if cand.anonymized_at.is_some() {
        return Ok(None);
    }
    let Some(spec) = ctx.config.stage_email(&app.stage, choice) else {
        return Ok(None);
    };
    let to = Recipient {
        email: &cand.email,
        name: &cand.name,
        locale: cand.locale.as_deref(),
    };
    let mut tctx = context(ctx, app, cand, posting, from, reason);
    tctx.candidate.privacy_url = ctx.links.and_then(|l| l.privacy_url(cand.id, ctx.now));
    render(ctx, &spec, &to, &tctx, &app.stage, app.id).map(Some)
}

/// Renders and queues, inside the caller's transaction, the email that the
/// transition `t` of `app` causes ([`for_move`]), named after the transition.
pub(super) async fn queue_for_move<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    app: &application::Model,
    cand: &candidate::Model,
    posting: &posting::Model,
    t: &transition::Model,
    choice: &EmailChoice,
) -> Result<Vec<Email>> {
    let Some(d) = for_move(
        ctx,
        app,
        cand,
        posting,
        t.from_stage.as_deref(),
        t.reason.as_deref(),
        choice,
    )?
    else {
        return Ok(Vec::new());
    };
    let id = mail::message_id(ctx.config, t.id, 0);
    let email = outbox::queue(c, Some(app.id), Some(t.id), id, d, ctx.now).await?;
    Ok(vec![email])
}

/// The active teams of postings, by posting id ([`crate::store::people::teams`]).
pub type Teams = HashMap<i64, Vec<(Role, person::Model)>>;

/// A stale-application reminder about `app` to the posting's recruiter and
/// coordinators (each in their own locale, addressed by name), and to each
/// `[recruiters] emails` address when the posting has no active recruiter;
/// with the rule's reason: `(Message-ID, email)` each, the Message-ID
/// naming the stay in the stage and the person so that it is queued once.
pub fn reminders(
    ctx: &Ctx<'_>,
    app: &application::Model,
    cand: &candidate::Model,
    posting: &posting::Model,
    team: &[(Role, person::Model)],
    reason: Option<&str>,
) -> Result<Vec<(String, Draft)>> {
    let tctx = context(ctx, app, cand, posting, None, reason);
    let spec = EmailSpec::new("recruiter_reminder");
    let domain = mail::message_id::domain(ctx.config);
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, p) in team.iter().filter(|(r, _)| r.reminded()) {
        if !seen.insert(p.id) {
            continue;
        }
        let to_whom = Recipient {
            email: &p.email,
            name: &p.name,
            locale: p.locale.as_deref(),
        };
        let d = render(ctx, &spec, &to_whom, &tctx, &app.stage, app.id)?;
        out.push((
            mail::message_id::of_reminder_to(domain, app.id, app.version, p.id),
            d,
        ));
    }
    if team.iter().any(|(r, _)| *r == Role::Recruiter) {
        return Ok(out);
    }
    for (n, to) in ctx.config.recruiters.emails.iter().enumerate() {
        let to_whom = Recipient {
            email: to,
            name: "",
            locale: None,
        };
        let mut d = render(ctx, &spec, &to_whom, &tctx, &app.stage, app.id)?;
        d.recipient_name = None;
        out.push((
            mail::message_id::of_reminder(domain, app.id, app.version, n),
            d,
        ));
    }
    Ok(out)
}

fn render(
    ctx: &Ctx<'_>,
    spec: &EmailSpec,
    to: &Recipient<'_>,
    tctx: &templates::Context,
    stage: &str,
    app: i64,
) -> Result<Draft> {
    mail::draft(ctx.config, ctx.renderer, spec, to, tctx, stage, ctx.now).map_err(|e| {
        Error::Render(format!(
            "email `{}` for application {app}: {e}",
            spec.template
        ))
    })
}

/// A posting's close, told to its team's recruiter and coordinators (each
/// in their own locale and time zone, addressed by name), queued inside the
/// caller's transaction — the poll's that records the close, so the notice
/// is queued exactly when the close is. A posting with no active recruiter
/// or coordinator sends none: the `[recruiters]` list hears of it in its
/// digest, as before teams. Returns how many were queued.
pub async fn queue_close_notices<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    closed: &[&posting::Model],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<usize> {
    let ids: Vec<i64> = closed.iter().map(|p| p.id).collect();
    let teams = crate::store::people::teams(c, &ids, true).await?;
    if teams.is_empty() {
        return Ok(0);
    }
    let active = crate::store::applications::counts_in(c, &ids, ctx.pipeline.active()).await?;
    let public = ctx
        .config
        .http
        .as_ref()
        .and_then(|h| h.public_url.as_deref())
        .map(|u| u.trim_end_matches('/').to_string());
    let spec = EmailSpec::new("recruiter_posting_closed");
    let domain = mail::message_id::domain(ctx.config);
    let mut queued = 0;
    for p in closed {
        let mut seen = std::collections::HashSet::new();
        for (_, person) in teams
            .get(&p.id)
            .into_iter()
            .flatten()
            .filter(|(r, _)| r.reminded())
        {
            if !seen.insert(person.id) {
                continue;
            }
            let locale = person
                .locale
                .as_deref()
                .unwrap_or(&ctx.config.org.default_locale);
            let tz = person
                .timezone
                .as_deref()
                .unwrap_or(&ctx.config.schedule.timezone);
            let tctx = templates::Context {
                posting: templates::PostingCtx::of(p),
                org: templates::OrgCtx {
                    name: ctx.config.org.name.clone(),
                },
                closed: templates::ClosedCtx {
                    at: templates::format_date(at, locale, Some(tz)),
                    active: active.get(&p.id).copied().unwrap_or(0),
                    board_url: public
                        .as_ref()
                        .map(|u| format!("{u}/board/postings/{}", p.id)),
                },
                ..templates::Context::default()
            };
            let to = Recipient {
                email: &person.email,
                name: &person.name,
                locale: person.locale.as_deref(),
            };
            let mut d = mail::draft(ctx.config, ctx.renderer, &spec, &to, &tctx, "", ctx.now)
                .map_err(|e| {
                    Error::Render(format!(
                        "email `recruiter_posting_closed` for posting {}: {e}",
                        p.id
                    ))
                })?;
            d.stage = None;
            d.auto_submitted = true;
            outbox::queue(
                c,
                None,
                None,
                mail::message_id::of_close_notice(domain, p.id, at, person.id),
                d,
                ctx.now,
            )
            .await?;
            queued += 1;
        }
    }
    Ok(queued)
}
