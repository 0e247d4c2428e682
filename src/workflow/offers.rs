//! Slots offered to a candidate, and the bookings made from them:
//!
//! - **offer**: the offer (who, how long, between when, buffer, notice)
//!   and the `interview_slots` email with its signed booking link, in one
//!   transaction;
//! - **book**: the interviewers' rows locked, the slots computed again,
//!   and the interview scheduled through [`super::interviews::schedule_in`]
//!   (its invitations, reminders, feedback requests) if the slot is still
//!   free — else the slots that are;
//! - **move** and **cancel** through the same link until the notice
//!   period: [`super::interviews::reschedule_in`] (same UID, SEQUENCE + 1)
//!   and [`super::interviews::cancel_in`].
//!
//! Busy feeds are fetched through the poller's client and SSRF guard
//! ([`refresh_feeds`]): on a schedule, and for the panel before an offer.

use super::Ctx;
use super::interviews::{Outcome, RescheduleRequest, ScheduleRequest};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::interviews::availability::{self as av, Ask, Free, Span, Window};
use crate::store::{self, applications, availability as store_av, people};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entity::{interview_offer, person};
use sea_orm::ConnectionTrait;
use serde::Serialize;

/// How far ahead a busy feed is read (and how far an offer may reach).
pub const HORIZON_DAYS: i64 = 120;
/// The most slots a booking page lists.
pub const MAX_SLOTS: usize = 400;
/// The biggest busy feed read (bytes).
pub const MAX_FEED: u64 = 4 * 1024 * 1024;
/// A feed fetched more recently than this is not fetched again on the
/// schedule.
pub const FEED_FRESH_MINUTES: i64 = 15;

/// Slots to offer.
#[derive(Clone, Debug)]
pub struct OfferRequest {
    pub application_id: i64,
    pub interviewers: Vec<String>,
    pub minutes: i32,
    /// The range offered (default: from now for 14 days).
    pub between: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub buffer_minutes: i32,
    pub notice_minutes: i32,
    pub title: Option<String>,
    pub location: Option<String>,
    pub video_url: Option<String>,
    pub focus: Vec<String>,
    pub actor: String,
}

/// What an offer made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Offered {
    pub offer: interview_offer::Model,
    /// The booking link (also in the email).
    pub link: String,
    /// The slots free now (UTC).
    #[schema(value_type = Vec<String>)]
    pub slots: Vec<DateTime<Utc>>,
    pub email: store::outbox::Email,
}

/// A busy feed's address read: an http(s) URL (`webcal:` is `https:`).
fn feed_url(url: &str) -> Result<url::Url> {
    let bad = || Error::input("--busy-feed: not an http(s) or webcal URL");
    let u = url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http" | "webcal"))
        .ok_or_else(bad)?;
    if u.scheme() == "webcal" {
        return url::Url::parse(&format!("https{}", &u.as_str()["webcal".len()..]))
            .map_err(|_| bad());
    }
    Ok(u)
}

/// Checks a busy feed's address: an http(s) URL the poller's guard lets
/// through (a private address is refused unless `[poll]` allows it).
pub fn check_feed_url(config: &Config, url: &str) -> Result<url::Url> {
    let u = feed_url(url)?;
    crate::poll::poller::Settings::from_config(config)?
        .guard
        .check_url(&u)
        .map_err(|e| Error::input(format!("--busy-feed: {e}")))?;
    Ok(u)
}

/// `DATE..DATE` (inclusive, in `tz`), or two RFC 3339 instants.
pub fn between(s: &str, tz: Tz) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let (a, b) = s.split_once("..").ok_or_else(|| {
        Error::input(format!(
            "--between: `{s}` is not DATE..DATE (e.g. 2030-03-25..2030-04-05)"
        ))
    })?;
    let read = |v: &str, end: bool| -> Result<DateTime<Utc>> {
        let v = v.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            return Ok(t.with_timezone(&Utc));
        }
        let d = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| Error::input(format!("--between: `{v}` is not a date (YYYY-MM-DD)")))?;
        let d = if end { d + Duration::days(1) } else { d };
        Ok(av::instant(tz, d.and_time(chrono::NaiveTime::MIN), false))
    };
    Ok((read(a, false)?, read(b, true)?))
}

/// Fetches the busy feeds of `people` (all with a feed not fetched for
/// [`FEED_FRESH_MINUTES`] when `None`) and keeps the busy times each gives
/// over the next [`HORIZON_DAYS`]: (person id, busy times or why not).
pub async fn refresh_feeds(
    store: &store::Store,
    config: &Config,
    people_ids: Option<&[i64]>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, std::result::Result<usize, String>)>> {
    let rows = match people_ids {
        Some(ids) => store_av::of_people(store.conn(), ids)
            .await?
            .into_iter()
            .filter(|r| r.busy_feed.is_some())
            .collect(),
        None => {
            store_av::feeds_due(store.conn(), now - Duration::minutes(FEED_FRESH_MINUTES)).await?
        }
    };
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let settings = crate::poll::poller::Settings::from_config(config)?;
    let guard = std::sync::Arc::new(settings.guard.clone());
    let mut opts = settings.http.clone();
    opts.max_body = MAX_FEED;
    let client = crate::poll::http::client(guard.clone(), &opts).map_err(Error::Other)?;
    let default_tz = config.schedule.tz()?;
    let mut out = Vec::new();
    for row in rows {
        let Some(feed) = row.busy_feed.as_deref() else {
            continue;
        };
        let tz = people::by_id(store.conn(), row.person_id)
            .await?
            .and_then(|p| p.timezone)
            .and_then(|z| z.parse::<Tz>().ok())
            .unwrap_or(default_tz);
        let read = async {
            let u = feed_url(feed).map_err(|e| e.to_string())?;
            guard.check_url(&u)?;
            let got = crate::poll::http::get(&client, &guard, &u, None, None, MAX_FEED, now)
                .await
                .map_err(|e| e.to_string())?;
            if got.status != 200 {
                return Err(format!("the feed answered HTTP {}", got.status));
            }
            let text =
                String::from_utf8(got.body).map_err(|_| "the feed is not UTF-8".to_string())?;
            av::busy_times(
                &text,
                tz,
                now - Duration::days(1),
                now + Duration::days(HORIZON_DAYS),
            )
        }
        .await;
        let kept = read
            .as_ref()
            .map(|spans| spans_json(spans))
            .map_err(|e| e.clone());
        let txn = store.begin_write().await?;
        store_av::record_fetch(&txn, row.person_id, kept, now).await?;
        txn.commit().await?;
        if let Err(e) = &read {
            // the URL is a secret: never logged
            tracing::warn!(person = row.person_id, error = %e, "a busy feed could not be read");
        }
        out.push((row.person_id, read.map(|s| s.len())));
    }
    Ok(out)
}

fn spans_json(spans: &[Span]) -> String {
    let list: Vec<[String; 2]> = spans
        .iter()
        .map(|(a, b)| [a.to_rfc3339(), b.to_rfc3339()])
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

fn spans_of(text: Option<&str>) -> Vec<Span> {
    let list: Vec<[String; 2]> = text
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    list.into_iter()
        .filter_map(|[a, b]| {
            let a = DateTime::parse_from_rfc3339(&a).ok()?.with_timezone(&Utc);
            let b = DateTime::parse_from_rfc3339(&b).ok()?.with_timezone(&Utc);
            Some((a, b))
        })
        .collect()
}

/// The weekly windows kept for a person, read.
pub fn weekly_of(text: &str) -> Result<Vec<Window>> {
    let specs: Vec<String> = serde_json::from_str(text)
        .map_err(|e| Error::Integrity(format!("stored weekly windows are not readable: {e}")))?;
    specs.iter().map(|s| Window::parse(s)).collect()
}

/// Each of `panel` as the slots see them over `[from, until)`: their
/// windows, and their busy times (the feed's and atsd's interviews other
/// than `except`). A person without weekly windows is refused, named.
async fn panel<C: ConnectionTrait>(
    c: &C,
    panel: &[person::Model],
    default_tz: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    except: Option<i64>,
) -> Result<Vec<Free>> {
    let ids: Vec<i64> = panel.iter().map(|p| p.id).collect();
    let rows = store_av::of_people(c, &ids).await?;
    // atsd's own interviews of theirs: the overlap check's query
    let booked = store::interviews::overlapping(
        c,
        &ids,
        from - Duration::days(1),
        until + Duration::days(1),
        except,
    )
    .await?;
    let mut out = Vec::new();
    for p in panel {
        let row = rows
            .iter()
            .find(|r| r.person_id == p.id)
            .filter(|r| r.weekly != "[]")
            .ok_or_else(|| {
                Error::Refused(format!(
                    "{} has no weekly windows: atsd person availability {} --weekly \"Mon-Fri 09:00-17:00\"",
                    p.email, p.email
                ))
            })?;
        let tz = p
            .timezone
            .as_deref()
            .and_then(|z| z.parse::<Tz>().ok())
            .unwrap_or(default_tz);
        let weekly = weekly_of(&row.weekly)?;
        let mut busy = spans_of(row.busy_times.as_deref());
        busy.extend(
            booked
                .iter()
                .filter(|(_, email)| *email == p.email)
                .map(|(iv, _)| {
                    (
                        iv.starts_at,
                        iv.starts_at + Duration::minutes(iv.minutes.into()),
                    )
                }),
        );
        out.push(Free {
            windows: av::windows(&weekly, tz, from, until),
            busy: av::merge(busy),
        });
    }
    Ok(out)
}

/// The people of an offer, in its order.
async fn offer_people<C: ConnectionTrait>(
    c: &C,
    o: &interview_offer::Model,
) -> Result<Vec<person::Model>> {
    let ids: Vec<i64> = serde_json::from_str(&o.interviewers)
        .map_err(|e| Error::Integrity(format!("offer {}: interviewers: {e}", o.id)))?;
    let mut out = Vec::new();
    for id in ids {
        match people::by_id(c, id).await? {
            Some(p) if p.active => out.push(p),
            _ => {
                return Err(Error::Refused(format!(
                    "offer {}: an interviewer was removed",
                    o.id
                )));
            }
        }
    }
    Ok(out)
}

/// The slots of an offer free at `now` (ignoring interview `except`, the
/// one being moved).
pub async fn slots_of<C: ConnectionTrait>(
    c: &C,
    config: &Config,
    o: &interview_offer::Model,
    now: DateTime<Utc>,
    except: Option<i64>,
) -> Result<Vec<DateTime<Utc>>> {
    let who = offer_people(c, o).await?;
    let from = o
        .from_at
        .max(now + Duration::minutes(o.notice_minutes.into()));
    if from >= o.until_at {
        return Ok(Vec::new());
    }
    let free = panel(c, &who, config.schedule.tz()?, from, o.until_at, except).await?;
    Ok(av::slots(
        &free,
        Ask {
            minutes: o.minutes.into(),
            from,
            until: o.until_at,
            buffer_minutes: o.buffer_minutes.into(),
        },
        MAX_SLOTS,
    ))
}

/// Offers slots: the offer and its email, in one transaction.
// Stays whole: one offer's checks, row, email and event in its transaction.
pub async fn offer(store: &store::Store, ctx: &Ctx<'_>, req: &OfferRequest) -> Result<Offered> {
    let now = ctx.now();
    if !(5..=crate::interviews::MAX_MINUTES).contains(&i64::from(req.minutes)) {
        return Err(Error::input(format!(
            "--duration: {} minutes is not from 5 minutes to {} hours",
            req.minutes,
            crate::interviews::MAX_MINUTES / 60
        )));
    }
    for (name, v) in [
        ("--buffer", req.buffer_minutes),
        ("--notice", req.notice_minutes),
    ] {
        if !(0..=60 * 24 * 30).contains(&v) {
            return Err(Error::input(format!(
                "{name}: {v} minutes is not from 0 to 30 days"
            )));
        }
    }
    let (from, until) = req.between.unwrap_or((now, now + Duration::days(14)));
    if until <= from || until > now + Duration::days(HORIZON_DAYS) || until <= now {
        return Err(Error::input(format!(
            "--between: the range must end after it starts, in the future, within {HORIZON_DAYS} days"
        )));
    }
    let links = ctx.links().ok_or_else(|| {
        Error::Refused(
            "offering slots needs signed links: set [http] public_url and link_key_file".into(),
        )
    })?;
    let txn = store.begin_write().await?;
    let app = applications::find(&txn, req.application_id).await?;
    if ctx.pipeline().is_terminal(&app.stage) {
        return Err(Error::Refused(format!(
            "application {} is {}, a terminal stage: it cannot get an interview",
            app.id, app.stage
        )));
    }
    let (cand, posting) = applications::candidate_and_posting(&txn, &app).await?;
    let focus = crate::interviews::scorecard::of_posting(&posting).check_focus(&req.focus)?;
    let mut who: Vec<person::Model> = Vec::new();
    let mut errs = Vec::new();
    for e in &req.interviewers {
        match people::require(&txn, e).await {
            Ok(p) if !who.iter().any(|x| x.id == p.id) => who.push(p),
            Ok(_) => {}
            Err(e) => errs.push(format!("--interviewer: {e}")),
        }
    }
    if who.is_empty() && errs.is_empty() {
        errs.push("--interviewer: an interview needs at least one interviewer".into());
    }
    if !errs.is_empty() {
        return Err(Error::input(errs.join("\n")));
    }
    // every interviewer has windows (the error names who has none)
    panel(&txn, &who, ctx.config().schedule.tz()?, from, until, None).await?;
    let ids: Vec<i64> = who.iter().map(|p| p.id).collect();
    let o = store_av::insert_offer(
        &txn,
        &store_av::NewOffer {
            application_id: app.id,
            interviewers: &ids,
            minutes: req.minutes,
            from,
            until,
            buffer_minutes: req.buffer_minutes,
            notice_minutes: req.notice_minutes,
            title: req.title.as_deref(),
            location: req.location.as_deref(),
            video_url: req.video_url.as_deref(),
            focus: &focus,
            created_by: &req.actor,
            now,
            expires_at: until,
        },
    )
    .await?;
    let link = links
        .booking_url(o.id, o.expires_at)
        .ok_or_else(|| Error::Other("no booking link could be made (see the log)".into()))?;
    let locale = cand
        .locale
        .clone()
        .unwrap_or_else(|| ctx.config().org.default_locale.clone());
    let tz = cand.timezone.clone();
    let mut t = crate::templates::Context {
        candidate: crate::templates::CandidateCtx {
            name: cand.name.clone(),
            first_name: crate::templates::first_name(&cand.name),
            email: cand.email.clone(),
            privacy_url: None,
        },
        posting: crate::templates::PostingCtx::of(&posting),
        org: crate::templates::OrgCtx {
            name: ctx.config().org.name.clone(),
        },
        ..Default::default()
    };
    t.interview.minutes = req.minutes;
    t.interview.interviewers = who.iter().map(|p| p.name.clone()).collect();
    t.interview.title = req
        .title
        .clone()
        .unwrap_or_else(|| format!("Interview: {}", posting.title));
    t.interview.booking_url = Some(link.clone());
    t.interview.booking_until = crate::templates::format_time(o.expires_at, &locale, tz.as_deref());
    let mut d = super::asked::draft(
        ctx,
        "interview_slots",
        &cand.email,
        Some(&cand.name),
        cand.locale.as_deref(),
        &t,
    )?;
    d.auto_submitted = false;
    let domain = crate::mail::message_id::domain(ctx.config());
    let email = store::outbox::queue(
        &txn,
        Some(app.id),
        None,
        format!("<atsd.o{}.slots@{domain}>", o.id),
        d,
        now,
    )
    .await?;
    let slots = slots_of(&txn, ctx.config(), &o, now, None).await?;
    store::events::record(
        &txn,
        vec![store::events::NewEvent::new(
            "interview.offered",
            now,
            serde_json::json!({
                "offer_id": o.id,
                "application_id": app.id,
                "posting_id": app.posting_id,
                "interviewers": who.iter().map(|p| format!("person:{}", p.email)).collect::<Vec<_>>(),
                "minutes": o.minutes,
                "from": o.from_at,
                "until": o.until_at,
                "by": req.actor,
                "at": now,
            }),
        )],
    )
    .await?;
    store::notify_outbox(&txn).await?;
    txn.commit().await?;
    Ok(Offered {
        offer: o,
        link,
        slots,
        email,
    })
}

/// What a booking, move or cancellation through the link did.
#[derive(Debug)]
pub enum Booking {
    Done(Box<Outcome>),
    /// The slot is not free (any more): the slots that are.
    Taken(Vec<DateTime<Utc>>),
    /// The link cannot do this (used, closed, too late), in words for the
    /// candidate's page.
    Refused(Refused),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Booked already (use the page to move it).
    Booked,
    /// Not booked (nothing to move or cancel).
    NotBooked,
    /// Cancelled, or the application closed.
    Closed,
    /// Within the notice period: too late to change.
    TooLate,
    Unknown,
}

/// The offer and state a booking link names.
pub struct Target {
    pub offer: interview_offer::Model,
    pub interview: Option<entity::interview::Model>,
    pub candidate: entity::candidate::Model,
    pub posting: entity::posting::Model,
    pub interviewers: Vec<person::Model>,
}

pub async fn target<C: ConnectionTrait>(c: &C, offer_id: i64) -> Result<Option<Target>> {
    let Some(o) = store_av::offer(c, offer_id).await? else {
        return Ok(None);
    };
    let app = applications::find(c, o.application_id).await?;
    let (cand, posting) = applications::candidate_and_posting(c, &app).await?;
    let iv = match o.interview_id {
        Some(id) => store::interviews::get(c, id).await?,
        None => None,
    };
    let interviewers = offer_people(c, &o).await.unwrap_or_default();
    Ok(Some(Target {
        offer: o,
        interview: iv,
        candidate: cand,
        posting,
        interviewers,
    }))
}

const ACTOR: &str = "candidate (booking link)";

/// Books `slot` of offer `offer_id`: the interviewers locked, the slots
/// computed again, the interview scheduled if the slot is still free.
pub async fn book(
    store: &store::Store,
    ctx: &Ctx<'_>,
    offer_id: i64,
    slot: DateTime<Utc>,
) -> Result<Booking> {
    let now = ctx.now();
    let txn = store.begin_write().await?;
    let Some(t) = target(&txn, offer_id).await? else {
        return Ok(Booking::Refused(Refused::Unknown));
    };
    let o = &t.offer;
    match o.status.as_str() {
        store_av::OPEN => {}
        store_av::BOOKED => return Ok(Booking::Refused(Refused::Booked)),
        _ => return Ok(Booking::Refused(Refused::Closed)),
    }
    let app = applications::find(&txn, o.application_id).await?;
    if ctx.pipeline().is_terminal(&app.stage) {
        return Ok(Booking::Refused(Refused::Closed));
    }
    let ids: Vec<i64> = t.interviewers.iter().map(|p| p.id).collect();
    store_av::lock_people(&txn, &ids).await?;
    let free = slots_of(&txn, ctx.config(), o, now, None).await?;
    if !free.contains(&slot) {
        return Ok(Booking::Taken(free));
    }
    let zone = t
        .candidate
        .timezone
        .clone()
        .unwrap_or_else(|| ctx.config().schedule.timezone.clone());
    let out = super::interviews::schedule_in(
        &txn,
        ctx,
        &ScheduleRequest {
            application_id: o.application_id,
            start: slot,
            timezone: zone,
            minutes: o.minutes,
            interviewers: t.interviewers.iter().map(|p| p.email.clone()).collect(),
            location: o.location.clone(),
            video_url: o.video_url.clone(),
            title: o.title.clone(),
            focus: crate::interviews::scorecard::stored_focus(o.focus.as_deref()),
            allow_overlap: false,
            actor: ACTOR.into(),
        },
    )
    .await?;
    if !store_av::mark_booked(&txn, o.id, out.interview.id).await? {
        return Ok(Booking::Refused(Refused::Booked));
    }
    store::notify_outbox(&txn).await?;
    txn.commit().await?;
    Ok(Booking::Done(Box::new(out)))
}

/// Whether the booked interview may still be changed at `now`.
fn changeable(
    t: &Target,
    now: DateTime<Utc>,
) -> std::result::Result<&entity::interview::Model, Refused> {
    if t.offer.status != store_av::BOOKED {
        return Err(if t.offer.status == store_av::OPEN {
            Refused::NotBooked
        } else {
            Refused::Closed
        });
    }
    let iv = t.interview.as_ref().ok_or(Refused::NotBooked)?;
    if iv.status != store::interviews::SCHEDULED {
        return Err(Refused::Closed);
    }
    if now + Duration::minutes(t.offer.notice_minutes.into()) > iv.starts_at {
        return Err(Refused::TooLate);
    }
    Ok(iv)
}

/// Moves the booked interview of offer `offer_id` to `slot`.
pub async fn rebook(
    store: &store::Store,
    ctx: &Ctx<'_>,
    offer_id: i64,
    slot: DateTime<Utc>,
) -> Result<Booking> {
    let now = ctx.now();
    let txn = store.begin_write().await?;
    let Some(t) = target(&txn, offer_id).await? else {
        return Ok(Booking::Refused(Refused::Unknown));
    };
    let iv = match changeable(&t, now) {
        Ok(iv) => iv.clone(),
        Err(r) => return Ok(Booking::Refused(r)),
    };
    let ids: Vec<i64> = t.interviewers.iter().map(|p| p.id).collect();
    store_av::lock_people(&txn, &ids).await?;
    let free = slots_of(&txn, ctx.config(), &t.offer, now, Some(iv.id)).await?;
    if slot == iv.starts_at || !free.contains(&slot) {
        return Ok(Booking::Taken(free));
    }
    let out = super::interviews::reschedule_in(
        &txn,
        ctx,
        iv.id,
        &RescheduleRequest {
            start: Some(slot),
            actor: ACTOR.into(),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Booking::Done(Box::new(out)))
}

/// Cancels the booked interview of offer `offer_id`.
pub async fn cancel(store: &store::Store, ctx: &Ctx<'_>, offer_id: i64) -> Result<Booking> {
    let now = ctx.now();
    let txn = store.begin_write().await?;
    let Some(t) = target(&txn, offer_id).await? else {
        return Ok(Booking::Refused(Refused::Unknown));
    };
    let iv = match changeable(&t, now) {
        Ok(iv) => iv.clone(),
        Err(r) => return Ok(Booking::Refused(r)),
    };
    let out =
        super::interviews::cancel_in(&txn, ctx, iv, Some("cancelled by the candidate"), ACTOR)
            .await?;
    store_av::set_status(&txn, offer_id, store_av::CANCELLED).await?;
    txn.commit().await?;
    Ok(Booking::Done(Box::new(out)))
}
