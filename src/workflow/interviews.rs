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
//! - **feedback**: an interviewer's recommendation and note.
//!
//! Every change is an event (`interview.scheduled|rescheduled|cancelled|
//! feedback`). Message-IDs name the interview, its SEQUENCE, the kind and
//! the recipient ([`crate::mail::message_id::of_interview`]).

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
    // the second sees the first's interview (README "Interviews")
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

/// An interviewer's scorecard as given: the overall recommendation, a
/// rating per attribute (`attribute`, `rating`), the key take-aways, the
/// private notes, and the coordinator entering it for them (an address).
#[derive(Clone, Debug, Default)]
pub struct Feedback {
    pub recommendation: String,
    pub ratings: Vec<(String, String)>,
    pub note: Option<String>,
    pub private_note: Option<String>,
    pub on_behalf_by: Option<String>,
}

/// Records an interviewer's feedback (`--by` their address).
pub async fn feedback(
    store: &store::Store,
    id: i64,
    by: &str,
    f: &Feedback,
    via: &str,
    now: DateTime<Utc>,
) -> Result<(interview::Model, Vec<Interviewer>)> {
    let txn = store.begin_write().await?;
    let p = people::require(&txn, by).await?;
    let iv = feedback_in(&txn, id, &p, f, via, now, false).await?;
    txn.commit().await?;
    let who = store_iv::interviewers(store.conn(), &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok((iv, who))
}

/// Records `p`'s feedback on interview `id` inside the caller's
/// transaction: the recommendation and note, their feedback requests not
/// yet sent cancelled, the event (`via`: `cli`, `api`, `link`). With
/// `first_only` an interviewer who already gave feedback is refused
/// (`Error::Conflict`) by the update itself, not by an earlier read.
pub async fn feedback_in<C: ConnectionTrait>(
    c: &C,
    id: i64,
    p: &entity::person::Model,
    f: &Feedback,
    via: &str,
    now: DateTime<Utc>,
    first_only: bool,
) -> Result<interview::Model> {
    let recommendation = crate::interviews::scorecard::recommendation(&f.recommendation)?;
    let note = checked_text("--note", f.note.as_deref(), NOTE_CHARS)?;
    let private_note = checked_text("--private-note", f.private_note.as_deref(), NOTE_CHARS)?;
    let iv = store_iv::find(c, id).await?;
    if iv.status == store_iv::CANCELLED {
        return Err(Error::Refused(format!(
            "interview {id} was cancelled: it takes no feedback"
        )));
    }
    let app = applications::find(c, iv.application_id).await?;
    let (_, posting) = applications::candidate_and_posting(c, &app).await?;
    let ratings = crate::interviews::scorecard::of_posting(&posting).check_ratings(&f.ratings)?;
    let coordinator = match f.on_behalf_by.as_deref() {
        Some(by) => Some(
            people::require(c, by)
                .await
                .map_err(|e| Error::input(format!("--coordinator: {e}")))?,
        ),
        None => None,
    };
    let row = store_iv::FeedbackRow {
        recommendation,
        ratings: &ratings,
        note: note.as_deref(),
        private_note: private_note.as_deref(),
        submitted_by: coordinator.as_ref().map(|x| x.id).filter(|x| *x != p.id),
    };
    if !store_iv::set_feedback(c, id, p.id, &row, now, first_only).await? {
        return Err(Error::Conflict(format!(
            "{} already gave feedback on interview {id}",
            p.email
        )));
    }
    stop_feedback_requests(c, id, p.id, now).await?;
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            "interview.feedback",
            now,
            json!({
                "interview_id": iv.id,
                "application_id": app.id,
                "posting_id": app.posting_id,
                "by": format!("person:{}", p.email),
                "via": via,
                "recommendation": recommendation,
                "ratings": ratings,
                "note": note,
                "entered_by": coordinator.map(|x| format!("person:{}", x.email)),
                "at": now,
            }),
        )],
    )
    .await?;
    Ok(iv)
}

/// What became of feedback sent through a signed link.
#[derive(Debug)]
pub enum LinkFeedback {
    Done(Box<(interview::Model, entity::person::Model)>),
    Refused(crate::selfservice::Refusal),
}

/// Records feedback sent through an interviewer's signed link: the link's
/// nonce and the feedback in one transaction, so that the link works once;
/// an interviewer who already gave feedback finds every link used.
pub async fn feedback_by_link(
    store: &store::Store,
    claim: &crate::selfservice::FeedbackClaim,
    f: &Feedback,
    now: DateTime<Utc>,
) -> Result<LinkFeedback> {
    use crate::selfservice::Refusal;
    let txn = store.begin_write().await?;
    let (iv, person, given) = match link_target(&txn, claim).await? {
        Ok(x) => x,
        Err(r) => return Ok(LinkFeedback::Refused(r)),
    };
    if given {
        return Ok(LinkFeedback::Refused(Refusal::Used));
    }
    if !applications::record_link_use(&txn, &claim.nonce, iv.application_id, now).await? {
        return Ok(LinkFeedback::Refused(Refusal::Used));
    }
    // two of the interviewer's links posted at the same instant both get
    // here; the update records only the first (README "Interviews")
    let f = Feedback {
        on_behalf_by: None,
        ..f.clone()
    };
    let iv = match feedback_in(&txn, iv.id, &person, &f, "link", now, true).await {
        Err(Error::Conflict(_)) => return Ok(LinkFeedback::Refused(Refusal::Used)),
        other => other?,
    };
    txn.commit().await?;
    Ok(LinkFeedback::Done(Box::new((iv, person))))
}

/// The interview and interviewer a feedback link names, and whether they
/// already gave feedback; a refusal when the link cannot be used.
pub async fn link_target<C: ConnectionTrait>(
    c: &C,
    claim: &crate::selfservice::FeedbackClaim,
) -> Result<
    std::result::Result<
        (interview::Model, entity::person::Model, bool),
        crate::selfservice::Refusal,
    >,
> {
    use crate::selfservice::Refusal;
    let Some(iv) = store_iv::get(c, claim.interview_id).await? else {
        return Ok(Err(Refusal::Invalid));
    };
    let who = store_iv::interviewers(c, &[iv.id])
        .await?
        .remove(&iv.id)
        .unwrap_or_default();
    let Some(me) = who
        .into_iter()
        .find(|x| x.person.id == claim.person_id && x.person.active)
    else {
        return Ok(Err(Refusal::Invalid));
    };
    if iv.status == store_iv::CANCELLED {
        return Ok(Err(Refusal::Closed));
    }
    let used = applications::link_used(c, &claim.nonce).await?;
    let given = me.feedback_at.is_some() || used;
    Ok(Ok((iv, me.person, given)))
}

/// Cancels the feedback requests to `person_id` on `interview_id` that are
/// still waiting: their feedback is in.
async fn stop_feedback_requests<C: ConnectionTrait>(
    c: &C,
    interview_id: i64,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let me = format!(".p{person_id}@");
    let ids: Vec<i64> = store_iv::emails(c, interview_id)
        .await?
        .into_iter()
        .filter(|r| {
            r.status == entity::outbox::Status::Pending
                && r.template == "interview_feedback_request"
                && r.message_id.contains(&me)
        })
        .map(|r| r.id)
        .collect();
    cancel_rows(c, &ids, "their feedback was recorded", now).await?;
    Ok(ids.len() as u64)
}

async fn event<C: ConnectionTrait>(
    c: &C,
    kind: &'static str,
    iv: &interview::Model,
    app: &application::Model,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            kind,
            now,
            json!({
                "interview_id": iv.id,
                "application_id": app.id,
                "posting_id": app.posting_id,
                "uid": iv.uid,
                "sequence": iv.sequence,
                "starts_at": iv.starts_at,
                "timezone": iv.timezone,
                "minutes": iv.minutes,
                "status": iv.status,
                "reason": iv.cancel_reason,
                "actor": actor,
                "at": now,
            }),
        )],
    )
    .await
}

/// Someone an interview's emails go to.
struct Recipient2 {
    /// `c` (the candidate) or `p<person id>`: names their Message-IDs.
    key: String,
    /// An interviewer's person id.
    person_id: Option<i64>,
    email: String,
    name: String,
    locale: Option<String>,
    /// Their time zone: a person's, the candidate's from intake, else the
    /// interview's.
    tz: Option<String>,
    interviewer: bool,
}

/// The candidate (unless anonymized) and the interviewers.
struct Parties {
    list: Vec<Recipient2>,
    names: Vec<String>,
    organizer: Party,
}

impl Parties {
    fn new(ctx: &Ctx<'_>, cand: &candidate::Model, who: &[Interviewer]) -> Parties {
        let mut list = Vec::new();
        if cand.anonymized_at.is_none() {
            list.push(Recipient2 {
                key: "c".into(),
                person_id: None,
                email: cand.email.clone(),
                name: cand.name.clone(),
                locale: cand.locale.clone(),
                tz: cand.timezone.clone(),
                interviewer: false,
            });
        }
        for x in who.iter().filter(|x| x.person.active) {
            list.push(Recipient2 {
                key: format!("p{}", x.person.id),
                person_id: Some(x.person.id),
                email: x.person.email.clone(),
                name: x.person.name.clone(),
                locale: x.person.locale.clone(),
                tz: x.person.timezone.clone(),
                interviewer: true,
            });
        }
        let from = lettre::message::Mailbox::from_str(&ctx.config().mail.from).ok();
        Parties {
            names: who.iter().map(|x| x.person.name.clone()).collect(),
            organizer: Party {
                name: from
                    .as_ref()
                    .and_then(|m| m.name.clone())
                    .unwrap_or_else(|| ctx.config().org.name.clone()),
                email: from
                    .map(|m| m.email.to_string())
                    .unwrap_or_else(|| ctx.config().mail.from.clone()),
                role: "CHAIR",
            },
            list,
        }
    }

    fn all(&self) -> Vec<&Recipient2> {
        self.list.iter().collect()
    }
}

/// What an interview's emails are about: the interview, its application,
/// candidate and posting, and who takes part.
#[derive(Clone, Copy)]
struct About<'a> {
    iv: &'a interview::Model,
    app: &'a application::Model,
    cand: &'a candidate::Model,
    posting: &'a posting::Model,
    parties: &'a Parties,
}

#[derive(Clone, Copy)]
enum Kind {
    Request {
        update: bool,
    },
    Cancel,
    Remind,
    /// An interviewer's feedback request, with their signed link.
    Feedback,
}

/// What an interview's email to `r` says.
fn context(
    ctx: &Ctx<'_>,
    a: &About<'_>,
    r: &Recipient2,
    kind: Kind,
    reason: Option<&str>,
) -> templates::Context {
    let About {
        iv,
        app,
        cand,
        posting,
        parties,
    } = *a;
    let mut t = super::email::context(ctx, app, cand, posting, None, reason);
    if !r.interviewer {
        t.candidate.privacy_url = ctx.links().and_then(|l| l.privacy_url(cand.id, ctx.now()));
    }
    let locale = r
        .locale
        .as_deref()
        .unwrap_or(&ctx.config().org.default_locale);
    let tz = r.tz.as_deref().unwrap_or(&iv.timezone);
    t.interview = templates::InterviewCtx {
        title: iv.title.clone(),
        when: templates::format_time(iv.starts_at, locale, Some(tz)),
        minutes: iv.minutes,
        location: iv.location.clone(),
        video_url: iv.video_url.clone(),
        interviewers: parties.names.clone(),
        update: matches!(kind, Kind::Request { update: true }),
        for_interviewer: r.interviewer,
        recipient: r.name.clone(),
        board_url: if r.interviewer {
            ctx.config()
                .http
                .as_ref()
                .and_then(|h| h.public_url.as_deref())
                .map(|u| format!("{}/board/applications/{}", u.trim_end_matches('/'), app.id))
        } else {
            None
        },
        id: iv.id,
        feedback_url: match (kind, r.person_id, ctx.links()) {
            (Kind::Feedback, Some(person), Some(links)) => {
                links.feedback_url(iv.id, person, end_of(iv))
            }
            _ => None,
        },
        booking_url: None,
        booking_until: String::new(),
    };
    t
}

/// The calendar object of `iv` as `method` sends it to `to` (`c` or
/// `p<person>`), naming every party.
fn calendar(
    ctx: &Ctx<'_>,
    iv: &interview::Model,
    parties: &Parties,
    method: Method,
    to: &str,
) -> String {
    ical::write(&ical::Event {
        method,
        uid: iv.uid.clone(),
        sequence: iv.sequence,
        stamp: ctx.now(),
        start: iv.starts_at,
        end: iv.starts_at + Duration::minutes(iv.minutes.into()),
        summary: iv.title.clone(),
        location: iv.location.clone(),
        url: iv.video_url.clone(),
        description: None,
        // with [mail.inbound], each attendee's calendar sends its REPLY to
        // an address of that attendee's own, where atsd reads it and knows
        // who may answer through it
        organizer: match crate::inbound::tags::Tags::of(ctx.config()) {
            Some(t) => Party {
                email: t.answer(iv.application_id, to),
                ..parties.organizer.clone()
            },
            None => parties.organizer.clone(),
        },
        attendees: parties
            .list
            .iter()
            .map(|r| Party {
                name: r.name.clone(),
                email: r.email.clone(),
                role: "REQ-PARTICIPANT",
            })
            .collect(),
    })
}

/// Renders one email of `kind` to each of `to`: (Message-ID, email) each.
fn render_all(
    ctx: &Ctx<'_>,
    a: &About<'_>,
    kind: Kind,
    reason: Option<&str>,
    to: &[&Recipient2],
) -> Result<Vec<(String, outbox::Draft)>> {
    let (iv, app) = (a.iv, a.app);
    let (template, tag, method) = match kind {
        Kind::Request { .. } => ("interview_request", "req", Some(Method::Request)),
        Kind::Cancel => ("interview_cancel", "cancel", Some(Method::Cancel)),
        Kind::Remind => ("interview_reminder", "remind", None),
        Kind::Feedback => ("interview_feedback_request", "fb", None),
    };
    let domain = mail::message_id::domain(ctx.config());
    let spec = crate::config::EmailSpec::new(template);
    let mut out = Vec::new();
    for r in to {
        let t = context(ctx, a, r, kind, reason);
        let who = Recipient {
            email: &r.email,
            name: &r.name,
            locale: r.locale.as_deref(),
        };
        let mut d = mail::draft(
            ctx.config(),
            ctx.renderer(),
            &spec,
            &who,
            &t,
            &app.stage,
            ctx.now(),
        )
        .map_err(|e| Error::Render(format!("email `{template}` for interview {}: {e}", iv.id)))?;
        d.stage = None;
        d.calendar = method.map(|m| calendar(ctx, iv, a.parties, m, &r.key));
        // reminders and feedback requests go by the clock, not by a person
        d.auto_submitted = matches!(kind, Kind::Remind | Kind::Feedback);
        if let Kind::Remind = kind {
            let before = if r.interviewer {
                Duration::hours(1)
            } else {
                Duration::hours(24)
            };
            d.send_after = Some(iv.starts_at - before);
        }
        out.push((
            mail::message_id::of_interview(domain, iv.id, iv.sequence, tag, &r.key),
            d,
        ));
    }
    Ok(out)
}

/// Queues rendered emails of an interview of `application_id`.
async fn queue_all<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
    emails: Vec<(String, outbox::Draft)>,
    now: DateTime<Utc>,
) -> Result<Vec<Email>> {
    let mut out = Vec::with_capacity(emails.len());
    for (id, d) in emails {
        out.push(outbox::queue(c, Some(application_id), None, id, d, now).await?);
    }
    Ok(out)
}

/// Renders and queues one email of `kind` to each of `to`.
async fn send<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    a: &About<'_>,
    kind: Kind,
    reason: Option<&str>,
    to: &[&Recipient2],
) -> Result<Vec<Email>> {
    let emails = render_all(ctx, a, kind, reason, to)?;
    queue_all(c, a.app.id, emails, ctx.now()).await
}

/// The invitation (SEQUENCE 0) or its update (later ones) to everyone, the
/// reminders, and the event of either.
async fn invite<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    a: &About<'_>,
    actor: &str,
) -> Result<Vec<Email>> {
    let (iv, app, everyone) = (a.iv, a.app, a.parties.all());
    let update = iv.sequence > 0;
    let kind = Kind::Request { update };
    let mut emails = send(c, ctx, a, kind, None, &everyone).await?;
    emails.extend(remind(c, ctx, a).await?);
    let asks = feedback_requests(ctx, a, &everyone)?;
    emails.extend(queue_all(c, app.id, asks, ctx.now()).await?);
    let what = if update {
        "interview.rescheduled"
    } else {
        "interview.scheduled"
    };
    event(c, what, iv, app, actor, ctx.now()).await?;
    Ok(emails)
}

/// The reminders of a scheduled interview: the candidate's 24 hours before
/// (none when it is less than that away), each interviewer's 1 hour before.
async fn remind<C: ConnectionTrait>(c: &C, ctx: &Ctx<'_>, a: &About<'_>) -> Result<Vec<Email>> {
    let iv = a.iv;
    let due: Vec<&Recipient2> = a
        .parties
        .list
        .iter()
        .filter(|r| {
            let before = if r.interviewer {
                Duration::hours(1)
            } else {
                Duration::hours(24)
            };
            iv.starts_at - before > ctx.now()
        })
        .collect();
    send(c, ctx, a, Kind::Remind, None, &due).await
}

/// Every interview of `ids` with its interviewers, for lists and pages.
pub async fn with_interviewers<C: ConnectionTrait>(
    c: &C,
    rows: Vec<interview::Model>,
) -> Result<Vec<(interview::Model, Vec<Interviewer>)>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut who = store_iv::interviewers(c, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let w = who.remove(&r.id).unwrap_or_default();
            (r, w)
        })
        .collect())
}

/// When an interview ends.
fn end_of(iv: &interview::Model) -> DateTime<Utc> {
    iv.starts_at + Duration::minutes(iv.minutes.into())
}

/// Whether an interview's end has passed.
fn ended(iv: &interview::Model, now: DateTime<Utc>) -> bool {
    end_of(iv) <= now
}

/// The most feedback requests one interviewer gets for one interview.
pub const FEEDBACK_REQUESTS: usize = 5;

/// When an interviewer in `tz` is asked for feedback on an interview that
/// ends at `end`: an hour after it, then each working day (Monday to
/// Friday) at 09:00 their time, [`FEEDBACK_REQUESTS`] times in all.
pub fn feedback_times(end: DateTime<Utc>, tz: chrono_tz::Tz) -> Vec<DateTime<Utc>> {
    use chrono::{Datelike, TimeZone, Weekday};
    let first = end + Duration::hours(1);
    let mut out = vec![first];
    let mut day = first.with_timezone(&tz).date_naive();
    while out.len() < FEEDBACK_REQUESTS {
        let nine = day.and_hms_opt(9, 0, 0).and_then(|t| {
            tz.from_local_datetime(&t)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        });
        let working = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        if let Some(at) = nine
            && working
            && at > first
        {
            out.push(at);
        }
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    out
}

/// The feedback requests of an interview to each of its interviewers,
/// delayed emails at [`feedback_times`] (Message-IDs `fb1` … `fb5`).
fn feedback_requests(
    ctx: &Ctx<'_>,
    a: &About<'_>,
    to: &[&Recipient2],
) -> Result<Vec<(String, outbox::Draft)>> {
    let iv = a.iv;
    let to: Vec<&Recipient2> = to.iter().copied().filter(|r| r.interviewer).collect();
    let drafts = render_all(ctx, a, Kind::Feedback, None, &to)?;
    let domain = mail::message_id::domain(ctx.config());
    let mut out = Vec::new();
    for (r, (_, d)) in to.iter().zip(drafts) {
        let tz =
            r.tz.as_deref()
                .and_then(|z| z.parse().ok())
                .or_else(|| iv.timezone.parse().ok())
                .unwrap_or(chrono_tz::UTC);
        for (n, at) in feedback_times(end_of(iv), tz).into_iter().enumerate() {
            let mut d = d.clone();
            d.send_after = Some(at);
            let tag = format!("fb{}", n + 1);
            out.push((
                mail::message_id::of_interview(domain, iv.id, iv.sequence, &tag, &r.key),
                d,
            ));
        }
    }
    Ok(out)
}

/// An interview's status as shown: a scheduled one whose end has passed is
/// completed.
pub fn status_at(iv: &interview::Model, now: DateTime<Utc>) -> &str {
    if iv.status == store_iv::SCHEDULED && ended(iv, now) {
        store_iv::COMPLETED
    } else {
        &iv.status
    }
}
