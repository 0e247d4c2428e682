//! What an interview's changes send: each party's email (invitation,
//! update, cancellation, reminder, feedback requests) with its iMIP calendar
//! object, rendered in the recipient's locale and zone, and the events.

use super::*;

pub(super) async fn event<C: ConnectionTrait>(
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
pub(super) struct Recipient2 {
    /// `c` (the candidate) or `p<person id>`: names their Message-IDs.
    pub(super) key: String,
    /// An interviewer's person id.
    pub(super) person_id: Option<i64>,
    pub(super) email: String,
    pub(super) name: String,
    pub(super) locale: Option<String>,
    /// Their time zone: a person's, the candidate's from intake, else the
    /// interview's.
    pub(super) tz: Option<String>,
    pub(super) interviewer: bool,
}

/// The candidate (unless anonymized) and the interviewers.
pub(super) struct Parties {
    pub(super) list: Vec<Recipient2>,
    pub(super) names: Vec<String>,
    pub(super) organizer: Party,
}

impl Parties {
    pub(super) fn new(ctx: &Ctx<'_>, cand: &candidate::Model, who: &[Interviewer]) -> Parties {
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

    pub(super) fn all(&self) -> Vec<&Recipient2> {
        self.list.iter().collect()
    }
}

/// What an interview's emails are about: the interview, its application,
/// candidate and posting, and who takes part.
#[derive(Clone, Copy)]
pub(super) struct About<'a> {
    pub(super) iv: &'a interview::Model,
    pub(super) app: &'a application::Model,
    pub(super) cand: &'a candidate::Model,
    pub(super) posting: &'a posting::Model,
    pub(super) parties: &'a Parties,
}

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Request {
        update: bool,
    },
    Cancel,
    Remind,
    /// An interviewer's feedback request, with their signed link.
    Feedback,
}

/// What an interview's email to `r` says.
pub(super) fn context(
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
    let mut t = crate::workflow::email::context(ctx, app, cand, posting, None, reason);
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
pub(super) fn calendar(
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
        organizer: match crate::mail::tags::Tags::of(ctx.config()) {
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
pub(super) fn render_all(
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
pub(super) async fn queue_all<C: ConnectionTrait>(
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
pub(super) async fn send<C: ConnectionTrait>(
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
pub(super) async fn invite<C: ConnectionTrait>(
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
pub(super) async fn remind<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    a: &About<'_>,
) -> Result<Vec<Email>> {
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
pub(super) fn end_of(iv: &interview::Model) -> DateTime<Utc> {
    iv.starts_at + Duration::minutes(iv.minutes.into())
}

/// Whether an interview's end has passed.
pub(super) fn ended(iv: &interview::Model, now: DateTime<Utc>) -> bool {
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
pub(super) fn feedback_requests(
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
