//! Interviews and their interviewers: reading and writing the rows. What
//! scheduling, moving or cancelling one means (its emails, its calendar
//! objects, the application's stage) is [`crate::workflow::interviews`]'s.

use crate::error::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use entity::{interview, interview_person, outbox, person};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;
use std::collections::HashMap;

pub const SCHEDULED: &str = "scheduled";
pub const CANCELLED: &str = "cancelled";
pub const COMPLETED: &str = "completed";

/// The recommendations an interviewer may give.
pub use crate::interviews::scorecard::RECOMMENDATIONS;

/// An interview as it is to be stored.
pub struct NewInterview<'a> {
    pub application_id: i64,
    pub title: &'a str,
    pub starts_at: DateTime<Utc>,
    pub timezone: &'a str,
    pub minutes: i32,
    pub location: Option<&'a str>,
    pub video_url: Option<&'a str>,
    /// The domain of its UID (`atsd-interview-<id>@<domain>`).
    pub domain: &'a str,
    pub interviewers: &'a [person::Model],
    /// The scorecard attributes it focuses on.
    pub focus: &'a [String],
    pub now: DateTime<Utc>,
}

/// Stores an interview and its interviewers; its UID names its id.
pub async fn insert<C: ConnectionTrait>(c: &C, n: &NewInterview<'_>) -> Result<interview::Model> {
    let row = interview::ActiveModel {
        application_id: Set(n.application_id),
        // a placeholder until the id is known, unique meanwhile
        uid: Set(format!("new-{}", super::tokens::random_hex()?)),
        title: Set(n.title.to_string()),
        starts_at: Set(n.starts_at),
        timezone: Set(n.timezone.to_string()),
        minutes: Set(n.minutes),
        location: Set(n.location.map(String::from)),
        video_url: Set(n.video_url.map(String::from)),
        sequence: Set(0),
        status: Set(SCHEDULED.into()),
        cancel_reason: Set(None),
        created_at: Set(n.now),
        updated_at: Set(n.now),
        focus: Set(
            (!n.focus.is_empty()).then(|| serde_json::to_string(n.focus).unwrap_or_default())
        ),
        ..Default::default()
    }
    .insert(c)
    .await?;
    let id = row.id;
    let mut am: interview::ActiveModel = row.into();
    am.uid = Set(format!("atsd-interview-{id}@{}", n.domain));
    let row = am.update(c).await?;
    for p in n.interviewers {
        interview_person::ActiveModel {
            interview_id: Set(id),
            person_id: Set(p.id),
            ..Default::default()
        }
        .insert(c)
        .await?;
    }
    Ok(row)
}

/// Adds and removes interviewers of an interview (a removed one's
/// feedback goes with them).
pub async fn change_interviewers<C: ConnectionTrait>(
    c: &C,
    interview_id: i64,
    add: &[person::Model],
    remove: &[i64],
) -> Result<()> {
    if !remove.is_empty() {
        interview_person::Entity::delete_many()
            .filter(interview_person::Column::InterviewId.eq(interview_id))
            .filter(interview_person::Column::PersonId.is_in(remove.iter().copied()))
            .exec(c)
            .await?;
    }
    for p in add {
        interview_person::ActiveModel {
            interview_id: Set(interview_id),
            person_id: Set(p.id),
            ..Default::default()
        }
        .insert(c)
        .await?;
    }
    Ok(())
}

/// An interview by id.
pub async fn find<C: ConnectionTrait>(c: &C, id: i64) -> Result<interview::Model> {
    interview::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no interview with id {id}")))
}

/// An interviewer of an interview: the person and their feedback.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Interviewer {
    pub person: person::Model,
    pub recommendation: Option<String>,
    pub note: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub feedback_at: Option<DateTime<Utc>>,
    /// Their calendar's answer to the invitation: accepted, declined,
    /// tentative (iTIP REPLY), or none yet.
    pub partstat: Option<String>,
    /// Their rating of each scorecard attribute they rated.
    pub ratings: std::collections::BTreeMap<String, String>,
    /// Their private notes: never on the board.
    #[serde(skip)]
    pub private_note: Option<String>,
    /// The coordinator who entered their scorecard for them, if one did.
    pub submitted_by: Option<i64>,
}

/// The interviewers of each of `ids`, by interview id, in person order.
pub async fn interviewers<C: ConnectionTrait>(
    c: &C,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<Interviewer>>> {
    let mut out: HashMap<i64, Vec<Interviewer>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = interview_person::Entity::find()
        .filter(interview_person::Column::InterviewId.is_in(ids.iter().copied()))
        .order_by_asc(interview_person::Column::Id)
        .all(c)
        .await?;
    let people: HashMap<i64, person::Model> = person::Entity::find()
        .filter(person::Column::Id.is_in(rows.iter().map(|r| r.person_id)))
        .all(c)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    for r in rows {
        if let Some(p) = people.get(&r.person_id) {
            out.entry(r.interview_id).or_default().push(Interviewer {
                person: p.clone(),
                recommendation: r.recommendation,
                note: r.note,
                feedback_at: r.feedback_at,
                partstat: r.partstat,
                ratings: crate::interviews::scorecard::stored_ratings(r.ratings.as_deref()),
                private_note: r.private_note,
                submitted_by: r.submitted_by,
            });
        }
    }
    Ok(out)
}

/// The scheduled interviews of `people` that overlap `[start, end)`, other
/// than `except`: (interview, the person's email) each.
pub async fn overlapping<C: ConnectionTrait>(
    c: &C,
    people: &[i64],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<i64>,
) -> Result<Vec<(interview::Model, String)>> {
    if people.is_empty() {
        return Ok(Vec::new());
    }
    // an interview lasts at most a working day: one that starts earlier
    // than that before `start` cannot reach it
    let from = start - Duration::minutes(crate::interviews::MAX_MINUTES);
    let candidates = interview::Entity::find()
        .filter(interview::Column::Status.eq(SCHEDULED))
        .filter(interview::Column::StartsAt.gt(from))
        .filter(interview::Column::StartsAt.lt(end))
        .order_by_asc(interview::Column::StartsAt)
        .all(c)
        .await?;
    let ids: Vec<i64> = candidates
        .iter()
        .filter(|i| Some(i.id) != except)
        .filter(|i| i.starts_at + Duration::minutes(i.minutes.into()) > start)
        .map(|i| i.id)
        .collect();
    let who = interviewers(c, &ids).await?;
    let mut out = Vec::new();
    for i in candidates.into_iter().filter(|i| ids.contains(&i.id)) {
        for x in who.get(&i.id).into_iter().flatten() {
            if people.contains(&x.person.id) {
                out.push((i.clone(), x.person.email.clone()));
            }
        }
    }
    Ok(out)
}

/// The scheduled interviews of an application.
pub async fn scheduled_of<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
) -> Result<Vec<interview::Model>> {
    Ok(interview::Entity::find()
        .filter(interview::Column::ApplicationId.eq(application_id))
        .filter(interview::Column::Status.eq(SCHEDULED))
        .order_by_asc(interview::Column::Id)
        .all(c)
        .await?)
}

/// The scheduled interviews of these applications.
pub async fn scheduled_of_many<C: ConnectionTrait>(
    c: &C,
    application_ids: &[i64],
) -> Result<Vec<interview::Model>> {
    Ok(interview::Entity::find()
        .filter(interview::Column::ApplicationId.is_in(application_ids.iter().copied()))
        .filter(interview::Column::Status.eq(SCHEDULED))
        .order_by_asc(interview::Column::Id)
        .all(c)
        .await?)
}

/// Of `applications`, those on which `person` is an interviewer and has
/// given no feedback yet (blind review: they see nobody else's).
pub async fn blind_applications<C: ConnectionTrait>(
    c: &C,
    person: i64,
    applications: &[i64],
) -> Result<std::collections::HashSet<i64>> {
    if applications.is_empty() {
        return Ok(Default::default());
    }
    let rows = c
        .query_all_raw(super::sql(
            c.get_database_backend(),
            &format!(
                "SELECT i.application_id FROM interviews i \
                 JOIN interview_people ip ON ip.interview_id = i.id \
                 WHERE ip.person_id = ? AND i.application_id IN ({}) \
                 GROUP BY i.application_id \
                 HAVING MAX(CASE WHEN ip.feedback_at IS NOT NULL THEN 1 ELSE 0 END) = 0",
                super::id_list(applications)
            ),
            vec![person.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| Ok(r.try_get::<i64>("", "application_id")?))
        .collect()
}

/// A submitted scorecard: the interview, the interviewer's row, the
/// interviewer, the coordinator who entered it (if one did), and the
/// application's candidate and posting.
#[derive(Clone, Debug)]
pub struct Submitted {
    pub interview: interview::Model,
    pub row: interview_person::Model,
    pub person: person::Model,
    pub entered_by: Option<person::Model>,
    pub candidate_id: i64,
    pub posting_id: i64,
}

/// Every interviewer's submitted feedback (of one application if given),
/// oldest first.
pub async fn submitted<C: ConnectionTrait>(
    c: &C,
    application_id: Option<i64>,
) -> Result<Vec<Submitted>> {
    let mut q = interview_person::Entity::find()
        .filter(interview_person::Column::FeedbackAt.is_not_null())
        .order_by_asc(interview_person::Column::FeedbackAt)
        .order_by_asc(interview_person::Column::Id);
    if let Some(app) = application_id {
        q = q.filter(
            interview_person::Column::InterviewId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(interview::Column::Id)
                    .from(interview::Entity)
                    .and_where(interview::Column::ApplicationId.eq(app))
                    .to_owned(),
            ),
        );
    }
    let given = q.all(c).await?;
    if given.is_empty() {
        return Ok(Vec::new());
    }
    let iv_ids: Vec<i64> = given.iter().map(|g| g.interview_id).collect();
    let ivs: HashMap<i64, interview::Model> = interview::Entity::find()
        .filter(interview::Column::Id.is_in(iv_ids))
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let people_ids: Vec<i64> = given
        .iter()
        .flat_map(|g| std::iter::once(g.person_id).chain(g.submitted_by))
        .collect();
    let people: HashMap<i64, person::Model> = person::Entity::find()
        .filter(person::Column::Id.is_in(people_ids))
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let app_ids: Vec<i64> = ivs.values().map(|i| i.application_id).collect();
    let apps: HashMap<i64, (i64, i64)> = entity::application::Entity::find()
        .filter(entity::application::Column::Id.is_in(app_ids))
        .all(c)
        .await?
        .into_iter()
        .map(|a| (a.id, (a.candidate_id, a.posting_id)))
        .collect();
    Ok(given
        .into_iter()
        .filter_map(|g| {
            let iv = ivs.get(&g.interview_id)?.clone();
            let p = people.get(&g.person_id)?.clone();
            let (candidate_id, posting_id) = *apps.get(&iv.application_id)?;
            Some(Submitted {
                interview: iv,
                entered_by: g.submitted_by.and_then(|x| people.get(&x).cloned()),
                row: g,
                person: p,
                candidate_id,
                posting_id,
            })
        })
        .collect())
}

/// An interview by id, if there is one.
pub async fn get<C: ConnectionTrait>(c: &C, id: i64) -> Result<Option<interview::Model>> {
    Ok(interview::Entity::find_by_id(id).one(c).await?)
}

/// Moves an interview: its new start, zone and length, its `SEQUENCE` one
/// more (the calendar objects sent before are superseded).
pub async fn reschedule<C: ConnectionTrait>(
    c: &C,
    iv: interview::Model,
    starts_at: DateTime<Utc>,
    timezone: String,
    minutes: i32,
    now: DateTime<Utc>,
) -> Result<interview::Model> {
    let sequence = iv.sequence + 1;
    let mut am: interview::ActiveModel = iv.into();
    am.starts_at = Set(starts_at);
    am.timezone = Set(timezone);
    am.minutes = Set(minutes);
    am.sequence = Set(sequence);
    am.updated_at = Set(now);
    Ok(am.update(c).await?)
}

/// Writes `iv`'s status, cancel reason and sequence if the interview is
/// still scheduled: false when someone else changed it first.
pub async fn close_if_scheduled<C: ConnectionTrait>(
    c: &C,
    iv: &interview::Model,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = interview::Entity::update_many()
        .col_expr(interview::Column::Status, Expr::value(iv.status.clone()))
        .col_expr(
            interview::Column::CancelReason,
            Expr::value(iv.cancel_reason.clone()),
        )
        .col_expr(interview::Column::Sequence, Expr::value(iv.sequence))
        .col_expr(interview::Column::UpdatedAt, Expr::value(now))
        .filter(interview::Column::Id.eq(iv.id))
        .filter(interview::Column::Status.eq(SCHEDULED))
        .exec(c)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Interviews, soonest first: of one application, and/or those still to
/// come (scheduled, starting after `upcoming_after`).
pub async fn list<C: ConnectionTrait>(
    c: &C,
    application_id: Option<i64>,
    upcoming_after: Option<DateTime<Utc>>,
) -> Result<Vec<interview::Model>> {
    let mut q = interview::Entity::find();
    if let Some(a) = application_id {
        q = q.filter(interview::Column::ApplicationId.eq(a));
    }
    if let Some(t) = upcoming_after {
        q = q
            .filter(interview::Column::Status.eq(SCHEDULED))
            .filter(interview::Column::StartsAt.gt(t));
    }
    Ok(q.order_by_asc(interview::Column::StartsAt)
        .order_by_asc(interview::Column::Id)
        .all(c)
        .await?)
}

/// Records an interviewer's feedback: replacing what they gave before, or
/// with `first_only` only if they gave none yet — one conditional update,
/// so that of two links posted at the same instant exactly one records
/// (the other's update waits for the first's row lock on PostgreSQL, and
/// then finds the feedback given). Whether it was recorded.
pub async fn set_feedback<C: ConnectionTrait>(
    c: &C,
    interview_id: i64,
    person_id: i64,
    f: &FeedbackRow<'_>,
    now: DateTime<Utc>,
    first_only: bool,
) -> Result<bool> {
    let ratings = (!f.ratings.is_empty())
        .then(|| serde_json::to_string(f.ratings))
        .transpose()
        .map_err(|e| Error::Other(format!("ratings: {e}")))?;
    let mut q = interview_person::Entity::update_many()
        .col_expr(
            interview_person::Column::Recommendation,
            Expr::value(f.recommendation.to_string()),
        )
        .col_expr(
            interview_person::Column::Note,
            Expr::value(f.note.map(String::from)),
        )
        .col_expr(interview_person::Column::Ratings, Expr::value(ratings))
        .col_expr(
            interview_person::Column::PrivateNote,
            Expr::value(f.private_note.map(String::from)),
        )
        .col_expr(
            interview_person::Column::SubmittedBy,
            Expr::value(f.submitted_by),
        )
        .col_expr(interview_person::Column::FeedbackAt, Expr::value(now))
        .filter(interview_person::Column::InterviewId.eq(interview_id))
        .filter(interview_person::Column::PersonId.eq(person_id));
    if first_only {
        q = q.filter(interview_person::Column::FeedbackAt.is_null());
    }
    if q.exec(c).await?.rows_affected > 0 {
        return Ok(true);
    }
    let exists = interview_person::Entity::find()
        .filter(interview_person::Column::InterviewId.eq(interview_id))
        .filter(interview_person::Column::PersonId.eq(person_id))
        .one(c)
        .await?
        .is_some();
    if !exists {
        return Err(Error::input(format!(
            "--by: that person is not an interviewer of interview {interview_id}"
        )));
    }
    Ok(false)
}

/// An interviewer's scorecard as it is stored.
pub struct FeedbackRow<'a> {
    pub recommendation: &'a str,
    pub ratings: &'a std::collections::BTreeMap<String, String>,
    /// The key take-aways.
    pub note: Option<&'a str>,
    pub private_note: Option<&'a str>,
    /// The coordinator who entered it, if not the interviewer.
    pub submitted_by: Option<i64>,
}

/// The Message-ID prefix of every email of an interview
/// ([`crate::mail::message_id::of_interview`]).
pub fn message_prefix(interview_id: i64) -> String {
    format!("<atsd.i{interview_id}.")
}

/// The outbox rows of an interview's emails (invitations, updates,
/// cancellations, reminders).
pub async fn emails<C: ConnectionTrait>(c: &C, interview_id: i64) -> Result<Vec<outbox::Model>> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::MessageId.starts_with(message_prefix(interview_id)))
        .order_by_asc(outbox::Column::Id)
        .all(c)
        .await?)
}

/// The interviews that start in `[from, to)`, soonest first (the board's
/// week).
pub async fn starting_between<C: ConnectionTrait>(
    c: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<interview::Model>> {
    Ok(interview::Entity::find()
        .filter(interview::Column::StartsAt.gte(from))
        .filter(interview::Column::StartsAt.lt(to))
        .order_by_asc(interview::Column::StartsAt)
        .order_by_asc(interview::Column::Id)
        .all(c)
        .await?)
}

/// Every interview of an application, soonest first.
pub async fn of_application<C: ConnectionTrait>(
    c: &C,
    application_id: i64,
) -> Result<Vec<interview::Model>> {
    Ok(interview::Entity::find()
        .filter(interview::Column::ApplicationId.eq(application_id))
        .order_by_asc(interview::Column::StartsAt)
        .order_by_asc(interview::Column::Id)
        .all(c)
        .await?)
}

/// The next scheduled interview not yet ended of each of `application_ids`
/// (the posting page's cards).
pub async fn next_of<C: ConnectionTrait>(
    c: &C,
    application_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<HashMap<i64, interview::Model>> {
    let mut out = HashMap::new();
    if application_ids.is_empty() {
        return Ok(out);
    }
    let rows = interview::Entity::find()
        .filter(interview::Column::ApplicationId.is_in(application_ids.iter().copied()))
        .filter(interview::Column::Status.eq(SCHEDULED))
        .filter(
            interview::Column::StartsAt.gt(now - Duration::minutes(crate::interviews::MAX_MINUTES)),
        )
        .order_by_asc(interview::Column::StartsAt)
        .all(c)
        .await?;
    for r in rows {
        if r.starts_at + Duration::minutes(r.minutes.into()) > now {
            out.entry(r.application_id).or_insert(r);
        }
    }
    Ok(out)
}

/// An interview by its iCalendar UID.
pub async fn by_uid<C: ConnectionTrait>(c: &C, uid: &str) -> Result<Option<interview::Model>> {
    Ok(interview::Entity::find()
        .filter(interview::Column::Uid.eq(uid))
        .one(c)
        .await?)
}

/// Records an attendee's answer: an interviewer's on their row, the
/// candidate's (`person_id` None) on the interview.
pub async fn set_partstat<C: ConnectionTrait>(
    c: &C,
    interview_id: i64,
    person_id: Option<i64>,
    partstat: &str,
) -> Result<()> {
    match person_id {
        Some(p) => {
            interview_person::Entity::update_many()
                .col_expr(interview_person::Column::Partstat, Expr::value(partstat))
                .filter(interview_person::Column::InterviewId.eq(interview_id))
                .filter(interview_person::Column::PersonId.eq(p))
                .exec(c)
                .await?;
        }
        None => {
            interview::Entity::update_many()
                .col_expr(interview::Column::CandidatePartstat, Expr::value(partstat))
                .filter(interview::Column::Id.eq(interview_id))
                .exec(c)
                .await?;
        }
    }
    Ok(())
}
