//! Interviews as the workflow makes them, each change in one transaction
//! with the emails it causes:
//!
//! - **schedule**: the interview, its interviewers, the application moved
//!   to `[interviews] stage` when it is earlier (the stage email replaced by
//!   the invitation), an iMIP REQUEST to the candidate and every
//!   interviewer, and the reminders (the candidate 24 h before, each
//!   interviewer 1 h before) as delayed emails;
//! - **reschedule**: SEQUENCE + 1 and a REQUEST with the same UID to
//!   everyone; invitations and reminders not yet sent are cancelled and
//!   planned again;
//! - **cancel** (by hand, or the application reaching a terminal stage): a
//!   CANCEL with SEQUENCE + 1 to everyone who was sent something; what was
//!   not yet sent is simply cancelled, like a delayed email;
//! - **feedback**: an interviewer's scorecard ([`feedback`]).
//!
//! Every change is an event (`interview.scheduled|rescheduled|cancelled|
//! feedback`). Message-IDs name the interview, its SEQUENCE, the kind and
//! the recipient ([`crate::mail::message_id::of_interview`]). The emails
//! each change sends, with their calendar objects, are [`emails`]'.

use super::Ctx;
use crate::config::EmailChoice;
use crate::error::{Error, Result};
use crate::interviews::ical::{self, Method, Party};
use crate::mail::{self, Recipient};
use crate::store::interviews::{self as store_iv, Interviewer, NewInterview};
use crate::store::outbox::{self, Email};
use crate::store::{self, applications, people};
use crate::templates;
use chrono::{DateTime, Duration, Utc};
use entity::{application, candidate, interview, posting};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::json;
use std::str::FromStr;

mod emails;
mod feedback;

use emails::*;
pub use emails::{FEEDBACK_REQUESTS, feedback_times, status_at, with_interviewers};
pub use feedback::*;

/// The longest title, location or note (characters).
const TEXT_CHARS: usize = 500;
const NOTE_CHARS: usize = 4000;

/// An interview to schedule.
#[derive(Clone, Debug)]
pub struct ScheduleRequest {
    pub application_id: i64,
    pub start: DateTime<Utc>,
    pub timezone: String,
    pub minutes: i32,
    pub interviewers: Vec<String>,
    pub location: Option<String>,
    pub video_url: Option<String>,
    pub title: Option<String>,
    /// Scorecard attributes the interview focuses on (each on the
    /// posting's scorecard).
    pub focus: Vec<String>,
    pub allow_overlap: bool,
    pub actor: String,
}

/// What a change of an interview did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub interview: interview::Model,
    pub interviewers: Vec<Interviewer>,
    /// The emails queued (invitations, updates, cancellations, reminders).
    pub emails: Vec<Email>,
    /// The application's move to `[interviews] stage`, if scheduling made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<super::Moved>,
    /// Emails of the interview not yet sent, cancelled by this change.
    pub cancelled_emails: u64,
}

fn checked_text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::input(format!(
            "{field}: at most {max} characters, no control characters"
        )));
    }
    Ok(Some(v.to_string()))
}

fn checked_url(v: Option<&str>) -> Result<Option<String>> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && v.len() <= 2000 => {
            Ok(Some(u.to_string()))
        }
        _ => Err(Error::input(format!(
            "--video-url: `{v}` is not an http(s) URL"
        ))),
    }
}

/// The people named, each once, all active; the error names every unknown
/// one.
async fn interviewers_of<C: ConnectionTrait>(
    c: &C,
    emails: &[String],
) -> Result<Vec<entity::person::Model>> {
    if emails.is_empty() {
        return Err(Error::input(
            "--interviewer: an interview needs at least one interviewer",
        ));
    }
    let mut out: Vec<entity::person::Model> = Vec::new();
    let mut errs = Vec::new();
    for e in emails {
        match people::require(c, e).await {
            Ok(p) if !out.iter().any(|x| x.id == p.id) => out.push(p),
            Ok(_) => {}
            Err(e) => errs.push(format!("--interviewer: {e}")),
        }
    }
    if !errs.is_empty() {
        return Err(Error::input(errs.join("\n")));
    }
    Ok(out)
}

async fn refuse_overlaps<C: ConnectionTrait>(
    c: &C,
    who: &[entity::person::Model],
    start: DateTime<Utc>,
    minutes: i32,
    except: Option<i64>,
) -> Result<()> {
    let ids: Vec<i64> = who.iter().map(|p| p.id).collect();
    // two bookings of one interviewer wait for each other here, so that
    // the second sees the first's interview (the book's "Interviews" chapter in docs/)
    store::availability::lock_people(c, &ids).await?;
    let end = start + Duration::minutes(minutes.into());
    let clashes = store_iv::overlapping(c, &ids, start, end, except).await?;
    if clashes.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = clashes
        .iter()
        .map(|(i, email)| {
            format!(
                "{email} is already booked in interview {} ({} to {} UTC, application {})",
                i.id,
                i.starts_at.format("%Y-%m-%d %H:%M"),
                (i.starts_at + Duration::minutes(i.minutes.into())).format("%H:%M"),
                i.application_id
            )
        })
        .collect();
    Err(Error::Refused(format!(
        "{}; --allow-overlap books it anyway",
        lines.join("; ")
    )))
}

/// Schedules an interview in its own transaction.
pub async fn schedule(
    store: &store::Store,
    ctx: &Ctx<'_>,
    req: &ScheduleRequest,
) -> Result<Outcome> {
    let txn = store.begin_write().await?;
    let out = schedule_in(&txn, ctx, req).await?;
    if !out.emails.is_empty() {
        store::notify_outbox(&txn).await?;
    }
    txn.commit().await?;
    Ok(out)
}

/// Schedules an interview inside the caller's transaction.
pub async fn schedule_in<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    req: &ScheduleRequest,
) -> Result<Outcome> {
    let app = applications::find(c, req.application_id).await?;
    if ctx.pipeline.is_terminal(&app.stage) {
        return Err(Error::Refused(format!(
            "application {} is {}, a terminal stage: it cannot get an interview",
            app.id, app.stage
        )));
    }
    if !(5..=crate::interviews::MAX_MINUTES).contains(&i64::from(req.minutes)) {
        return Err(Error::input(format!(
            "--duration: {} minutes is not from 5 minutes to {} hours",
            req.minutes,
            crate::interviews::MAX_MINUTES / 60
        )));
    }
    crate::interviews::zone(&req.timezone)?;
    let location = checked_text("--location", req.location.as_deref(), TEXT_CHARS)?;
    let video_url = checked_url(req.video_url.as_deref())?;
    let title = checked_text("--title", req.title.as_deref(), TEXT_CHARS)?;
    let who = interviewers_of(c, &req.interviewers).await?;
    if !req.allow_overlap {
        refuse_overlaps(c, &who, req.start, req.minutes, None).await?;
    }
    let moved = move_to_interview_stage(c, ctx, &app, &req.actor).await?;
    let app = match &moved {
        Some(m) => m.application.clone(),
        None => app,
    };
    let (cand, posting) = applications::candidate_and_posting(c, &app).await?;
    let focus = crate::interviews::scorecard::of_posting(&posting).check_focus(&req.focus)?;
    let title = title.unwrap_or_else(|| format!("Interview: {}", posting.title));
    let domain = mail::message_id::domain(ctx.config);
    let iv = store_iv::insert(
        c,
        &NewInterview {
            application_id: app.id,
            title: &title,
            starts_at: req.start,
            timezone: &req.timezone,
            minutes: req.minutes,
            location: location.as_deref(),
            video_url: video_url.as_deref(),
            domain,
            interviewers: &who,
            focus: &focus,
            now: ctx.now(),
        },
    )
    .await?;
    let interviewers = store_iv::interviewers(c, &[iv.id])
        .await?
        .remove(&iv.id)
        .unwrap_or_default();
    let parties = Parties::new(ctx, &cand, &interviewers);
    let about = About {
        iv: &iv,
        app: &app,
        cand: &cand,
        posting: &posting,
        parties: &parties,
    };
    let emails = invite(c, ctx, &about, &req.actor).await?;
    Ok(Outcome {
        interview: iv,
        interviewers,
        emails,
        moved,
        cancelled_emails: 0,
    })
}

/// The move to `[interviews] stage` that scheduling makes for an
/// application in an earlier active stage, when the pipeline allows it.
async fn move_to_interview_stage<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    app: &application::Model,
    actor: &str,
) -> Result<Option<super::Moved>> {
    let Some(stage) = ctx.config().interviews.stage.as_deref() else {
        return Ok(None);
    };
    let active = ctx.pipeline().active();
    let at = |s: &str| active.iter().position(|x| x == s);
    let (Some(here), Some(there)) = (at(&app.stage), at(stage)) else {
        return Ok(None);
    };
    if here >= there || ctx.pipeline().check(&app.stage, stage).is_err() {
        return Ok(None);
    }
    let m = super::move_in(
        c,
        ctx,
        &super::MoveRequest {
            application_id: app.id,
            to: stage.to_string(),
            reason: Some("interview scheduled".into()),
            actor: actor.to_string(),
            // the invitation takes the stage email's place
            email: EmailChoice::None,
            expected_version: Some(app.version),
        },
    )
    .await?;
    Ok(Some(m))
}

/// A new time, zone or length for a scheduled interview.
#[derive(Clone, Debug, Default)]
pub struct RescheduleRequest {
    pub start: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub minutes: Option<i32>,
    /// The interviewers from now on, when they change.
    pub interviewers: Option<Vec<String>>,
    pub allow_overlap: bool,
    pub actor: String,
}

/// Reschedules an interview in its own transaction.
pub async fn reschedule(
    store: &store::Store,
    ctx: &Ctx<'_>,
    id: i64,
    req: &RescheduleRequest,
) -> Result<Outcome> {
    let txn = store.begin_write().await?;
    let out = reschedule_in(&txn, ctx, id, req).await?;
    txn.commit().await?;
    Ok(out)
}

/// Reschedules an interview inside the caller's transaction.
// Stays whole: one reschedule's steps in its transaction: checks, who leaves and who joins, the calendar objects to each.
pub async fn reschedule_in<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx<'_>,
    id: i64,
    req: &RescheduleRequest,
) -> Result<Outcome> {
    let iv = store_iv::find(txn, id).await?;
    if iv.status != store_iv::SCHEDULED {
        return Err(Error::Refused(format!(
            "interview {id} is {}: only a scheduled one can be moved",
            iv.status
        )));
    }
    let minutes = req.minutes.unwrap_or(iv.minutes);
    let start = req.start.unwrap_or(iv.starts_at);
    let timezone = req.timezone.clone().unwrap_or_else(|| iv.timezone.clone());
    crate::interviews::zone(&timezone)?;
    if !(5..=crate::interviews::MAX_MINUTES).contains(&i64::from(minutes)) {
        return Err(Error::input(format!(
            "--duration: {minutes} minutes is not from 5 minutes to {} hours",
            crate::interviews::MAX_MINUTES / 60
        )));
    }
    let before = store_iv::interviewers(txn, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let people: Vec<entity::person::Model> = match &req.interviewers {
        Some(list) => interviewers_of(txn, list).await?,
        None => before.iter().map(|x| x.person.clone()).collect(),
    };
    let removed: Vec<Interviewer> = before
        .iter()
        .filter(|x| !people.iter().any(|p| p.id == x.person.id))
        .cloned()
        .collect();
    let added: Vec<entity::person::Model> = people
        .iter()
        .filter(|p| !before.iter().any(|x| x.person.id == p.id))
        .cloned()
        .collect();
    if req.start.is_none()
        && req.minutes.is_none()
        && req.timezone.as_deref().is_none_or(|z| z == iv.timezone)
        && removed.is_empty()
        && added.is_empty()
    {
        return Err(Error::input(
            "nothing to change: give --at, --duration, --timezone or a new --interviewer list",
        ));
    }
    if !req.allow_overlap {
        refuse_overlaps(txn, &people, start, minutes, Some(id)).await?;
    }
    let sent = sent_to(txn, &[id]).await?.remove(&id).unwrap_or_default();
    let cancelled = cancel_unsent(txn, id, "rescheduled", ctx.now()).await?;
    let removed_ids: Vec<i64> = removed.iter().map(|x| x.person.id).collect();
    store_iv::change_interviewers(txn, id, &added, &removed_ids).await?;
    let interviewers = store_iv::interviewers(txn, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let iv = store_iv::reschedule(txn, iv, start, timezone, minutes, ctx.now()).await?;
    let app = applications::find(txn, iv.application_id).await?;
    let (cand, posting) = applications::candidate_and_posting(txn, &app).await?;
    let parties = Parties::new(ctx, &cand, &interviewers);
    let about = About {
        iv: &iv,
        app: &app,
        cand: &cand,
        posting: &posting,
        parties: &parties,
    };
    let mut emails = invite(txn, ctx, &about, &req.actor).await?;
    // who is no longer an interviewer: a CANCEL for what they were sent
    let mut gone = Parties::new(ctx, &cand, &removed);
    gone.list
        .retain(|r| r.interviewer && sent.contains(&r.email.to_lowercase()));
    let told: Vec<&Recipient2> = gone.list.iter().collect();
    emails.extend(
        send(
            txn,
            ctx,
            &About {
                parties: &gone,
                ..about
            },
            Kind::Cancel,
            Some("you are no longer an interviewer"),
            &told,
        )
        .await?,
    );
    if !emails.is_empty() {
        store::notify_outbox(txn).await?;
    }
    Ok(Outcome {
        interview: iv,
        interviewers,
        emails,
        moved: None,
        cancelled_emails: cancelled.len() as u64,
    })
}

/// Cancels an interview in its own transaction.
pub async fn cancel(
    store: &store::Store,
    ctx: &Ctx<'_>,
    id: i64,
    reason: Option<&str>,
    actor: &str,
) -> Result<Outcome> {
    let reason = checked_text("--reason", reason, TEXT_CHARS)?;
    let txn = store.begin_write().await?;
    let iv = store_iv::find(&txn, id).await?;
    if iv.status != store_iv::SCHEDULED {
        return Err(Error::Refused(format!(
            "interview {id} is {}: only a scheduled one can be cancelled",
            iv.status
        )));
    }
    let out = cancel_in(&txn, ctx, iv, reason.as_deref(), actor).await?;
    if !out.emails.is_empty() {
        store::notify_outbox(&txn).await?;
    }
    txn.commit().await?;
    Ok(out)
}

/// Cancels every scheduled interview of an application that reached a
/// terminal stage, inside the move's transaction.
pub(crate) async fn cancel_for_application<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    application_id: i64,
    stage: &str,
    actor: &str,
) -> Result<u64> {
    let mut n = 0;
    for iv in store_iv::scheduled_of(c, application_id).await? {
        // one that has already ended is history, not a calendar entry
        if ended(&iv, ctx.now()) {
            continue;
        }
        let why = format!("the application moved to {stage}");
        cancel_in(c, ctx, iv, Some(&why), actor).await?;
        n += 1;
    }
    Ok(n)
}

/// Cancels every scheduled interview still to come of a candidate's
/// applications, inside the caller's transaction (an erasure's): how many.
pub(crate) async fn cancel_upcoming_of_candidate<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    candidate_id: i64,
    reason: &str,
    actor: &str,
) -> Result<u64> {
    let mut n = 0;
    for app in applications::of_candidate(c, candidate_id).await? {
        for iv in store_iv::scheduled_of(c, app).await? {
            if ended(&iv, ctx.now()) {
                continue;
            }
            cancel_in(c, ctx, iv, Some(reason), actor).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Cancels a scheduled interview inside the caller's transaction: what was
/// not yet sent is cancelled; who was sent something gets a CANCEL.
pub async fn cancel_in<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    iv: interview::Model,
    reason: Option<&str>,
    actor: &str,
) -> Result<Outcome> {
    let id = iv.id;
    let sent_to = sent_to(c, &[id]).await?.remove(&id).unwrap_or_default();
    let app = applications::find(c, iv.application_id).await?;
    let (cand, posting) = applications::candidate_and_posting(c, &app).await?;
    let interviewers = store_iv::interviewers(c, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let plan = plan_cancel(
        ctx,
        &iv,
        &app,
        &cand,
        &posting,
        &interviewers,
        &sent_to,
        reason,
    )?;
    let (iv, emails, cancelled) = apply_cancel(c, plan, actor, ctx.now()).await?;
    Ok(Outcome {
        interview: iv,
        interviewers,
        emails,
        moved: None,
        cancelled_emails: cancelled,
    })
}

/// Who has an email of each interview that went (or is going) out, by
/// interview id: their addresses, lower-cased.
async fn sent_to<C: ConnectionTrait>(
    c: &C,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<String>>> {
    let mut out: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for id in ids {
        let to: Vec<String> = store_iv::emails(c, *id)
            .await?
            .into_iter()
            .filter(|r| {
                matches!(
                    r.status,
                    entity::outbox::Status::Sent | entity::outbox::Status::Sending
                )
            })
            .map(|r| r.recipient.to_lowercase())
            .collect();
        out.insert(*id, to);
    }
    Ok(out)
}

/// A cancellation worked out before it is written: the interview as it
/// will be, and the CANCEL emails to everyone who was sent something.
pub struct PlannedCancel {
    pub interview: interview::Model,
    pub emails: Vec<(String, outbox::Draft)>,
    application: application::Model,
}

/// Works out the cancellation of `iv` (no database needed).
#[allow(clippy::too_many_arguments)]
fn plan_cancel(
    ctx: &Ctx<'_>,
    iv: &interview::Model,
    app: &application::Model,
    cand: &candidate::Model,
    posting: &posting::Model,
    interviewers: &[Interviewer],
    sent_to: &[String],
    reason: Option<&str>,
) -> Result<PlannedCancel> {
    let iv = interview::Model {
        status: store_iv::CANCELLED.into(),
        cancel_reason: reason.map(String::from),
        sequence: iv.sequence + 1,
        updated_at: ctx.now(),
        ..iv.clone()
    };
    let parties = Parties::new(ctx, cand, interviewers);
    let told: Vec<&Recipient2> = parties
        .all()
        .into_iter()
        .filter(|r| sent_to.contains(&r.email.to_lowercase()))
        .collect();
    let about = About {
        iv: &iv,
        app,
        cand,
        posting,
        parties: &parties,
    };
    let emails = render_all(ctx, &about, Kind::Cancel, reason, &told)?;
    Ok(PlannedCancel {
        interview: iv,
        emails,
        application: app.clone(),
    })
}

/// Writes a planned cancellation: the interview (if it is still
/// scheduled), its unsent emails cancelled, the CANCELs queued, the event.
async fn apply_cancel<C: ConnectionTrait>(
    c: &C,
    plan: PlannedCancel,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(interview::Model, Vec<Email>, u64)> {
    let iv = plan.interview;
    if !store_iv::close_if_scheduled(c, &iv, now).await? {
        // cancelled by someone else meanwhile: nothing more to say
        return Ok((store_iv::find(c, iv.id).await?, Vec::new(), 0));
    }
    let cancelled = cancel_unsent(c, iv.id, "cancelled", now).await?;
    let emails = queue_all(c, plan.application.id, plan.emails, now).await?;
    event(c, "interview.cancelled", &iv, &plan.application, actor, now).await?;
    Ok((iv, emails, cancelled.len() as u64))
}

/// The scheduled interviews of applications a batch of the rules may move
/// to a terminal stage, with what cancelling them needs, read before the
/// batch is rendered.
#[derive(Default)]
pub struct Open {
    by_app: std::collections::HashMap<i64, Vec<OpenInterview>>,
}

/// An open interview: its row, its interviewers, and who was sent something.
type OpenInterview = (interview::Model, Vec<Interviewer>, Vec<String>);

impl Open {
    pub async fn load<C: ConnectionTrait>(
        c: &C,
        application_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Open> {
        let mut out = Open::default();
        if application_ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<interview::Model> = store_iv::scheduled_of_many(c, application_ids)
            .await?
            .into_iter()
            .filter(|iv| !ended(iv, now))
            .collect();
        if rows.is_empty() {
            return Ok(out);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut who = store_iv::interviewers(c, &ids).await?;
        let mut sent = sent_to(c, &ids).await?;
        for r in rows {
            let w = who.remove(&r.id).unwrap_or_default();
            let s = sent.remove(&r.id).unwrap_or_default();
            out.by_app
                .entry(r.application_id)
                .or_default()
                .push((r, w, s));
        }
        Ok(out)
    }

    /// Plans the cancellation of `app`'s open interviews, `app` as its move
    /// to the terminal stage `to` leaves it.
    pub fn plan(
        &self,
        ctx: &Ctx<'_>,
        app: &application::Model,
        cand: &candidate::Model,
        posting: &posting::Model,
        to: &str,
    ) -> Result<Vec<PlannedCancel>> {
        let why = format!("the application moved to {to}");
        self.by_app
            .get(&app.id)
            .into_iter()
            .flatten()
            .map(|(iv, w, s)| plan_cancel(ctx, iv, app, cand, posting, w, s, Some(&why)))
            .collect()
    }
}

/// Writes the planned cancellations of applications a batch moved, inside
/// its transaction; returns the emails queued.
pub async fn write_cancels<C: ConnectionTrait>(
    c: &C,
    plans: Vec<(String, PlannedCancel)>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut n = 0;
    for (actor, p) in plans {
        n += apply_cancel(c, p, &actor, now).await?.1.len() as u64;
    }
    Ok(n)
}

/// Cancels the interview's emails still waiting to be sent (invitations
/// not yet out, reminders); returns their ids.
async fn cancel_unsent<C: ConnectionTrait>(
    c: &C,
    interview_id: i64,
    why: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let ids: Vec<i64> = store_iv::emails(c, interview_id)
        .await?
        .into_iter()
        .filter(|r| r.status == entity::outbox::Status::Pending)
        .map(|r| r.id)
        .collect();
    cancel_rows(c, &ids, &format!("the interview was {why}"), now).await?;
    Ok(ids)
}

/// Cancels the pending outbox rows `ids`, saying why.
async fn cancel_rows<C: ConnectionTrait>(
    c: &C,
    ids: &[i64],
    why: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let why = format!(
        "cancelled at {}: {why} before the email was sent",
        now.to_rfc3339()
    );
    store::outbox::cancel_pending(c, ids, &why, now).await?;
    Ok(())
}
