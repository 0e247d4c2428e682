//! `/v1/interviews`: the interview commands over HTTP, each the same
//! workflow call as its `atsd interview` command, in the OpenAPI document.
//! Scheduling takes an `Idempotency-Key` (kept with the answer in the
//! scheduling's own transaction, so a retry gets the same interview).

use super::problem::{self, Problem};
use super::{ApiResult, ApiState, actor_of, authorize, body, json_response, raw_json, runner};
use crate::interviews;
use crate::store::interviews as store_iv;
use crate::store::tokens::{self, Scope};
use crate::workflow::interviews::{self as wf, RescheduleRequest, ScheduleRequest};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"application_id": 1, "at": "2030-01-08T10:00", "timezone": "Europe/Berlin",
    "duration": "45m", "interviewers": ["ada@example.org"], "video_url": "https://meet.example.org/abc"}))]
pub(super) struct ScheduleBody {
    application_id: i64,
    /// Local time read in `timezone`, or with its offset.
    at: String,
    /// IANA zone (default `[schedule] timezone`).
    #[serde(default)]
    timezone: Option<String>,
    /// `45m`, `1h 30m` (default 45 minutes).
    #[serde(default)]
    duration: Option<String>,
    /// People's addresses (`atsd person add`).
    interviewers: Vec<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    video_url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    /// Scorecard attributes the interview focuses on.
    #[serde(default)]
    focus: Vec<String>,
    #[serde(default)]
    allow_overlap: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"at": "2030-01-08T11:00"}))]
pub(super) struct RescheduleBody {
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    duration: Option<String>,
    /// The interviewers from now on (replaces the list).
    #[serde(default)]
    interviewers: Option<Vec<String>>,
    #[serde(default)]
    allow_overlap: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "slot taken"}))]
pub(super) struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"by": "ada@example.org", "recommendation": "yes", "ratings": {"Knife skills": "strong_yes"}, "note": "clear thinker"}))]
pub(super) struct FeedbackBody {
    /// The interviewer's address.
    by: String,
    /// `definitely_not`, `no`, `yes`, `strong_yes` or `no_decision`
    /// (`strong_no` is read as `definitely_not`).
    recommendation: String,
    /// A rating per scorecard attribute: `definitely_not`, `no`, `mixed`,
    /// `yes` or `strong_yes`.
    #[serde(default)]
    ratings: std::collections::BTreeMap<String, String>,
    /// Key take-aways.
    #[serde(default)]
    note: Option<String>,
    /// Private notes: never shown on the board.
    #[serde(default)]
    private_note: Option<String>,
    /// A coordinator entering it for the interviewer (an address; recorded).
    #[serde(default)]
    coordinator: Option<String>,
}

/// An interview with its interviewers and the status it shows
/// (`completed` once its end has passed).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InterviewView {
    interview: entity::interview::Model,
    status: String,
    interviewers: Vec<store_iv::Interviewer>,
}

/// Interviews, soonest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InterviewList {
    items: Vec<InterviewView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only this application's interviews.
    application: Option<i64>,
    /// Only scheduled ones still to come.
    upcoming: Option<bool>,
}

fn err(e: &crate::Error) -> Problem {
    Problem::from_error(e, StatusCode::UNPROCESSABLE_ENTITY)
}

fn interview_id(
    p: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> std::result::Result<i64, Problem> {
    p.map(|Path(id)| id)
        .map_err(|_| Problem::fields(vec![("id", "not an interview id".into())]))
}

/// Schedule an interview.
///
/// `POST /v1/interviews` (token scope `recruiter`): the interview, the
/// application's move to `[interviews] stage` when that applies, and the
/// iMIP invitations to the candidate and every interviewer, in one
/// transaction. With an `Idempotency-Key`, a retry gets the first answer.
#[utoipa::path(post, path = "/v1/interviews", tag = "interviews",
    request_body = ScheduleBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 characters: a retry with the same key and body gets the first answer")),
    responses(
        (status = 201, description = "Scheduled: the interview, its interviewers, the emails queued", body = wf::Outcome,
            links(
                ("GetInterview" = (operation_id = "get_interview",
                    parameters(("id" = "$response.body#/interview/id")),
                    description = "The interview just scheduled")),
            )),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same key is being used by another request, or the application changed meanwhile", body = problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields (a time that does not exist or happens twice, an unknown person, an overlap, a finished application), named", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn schedule(
    State(s): State<ApiState>,
    headers: HeaderMap,
    b: std::result::Result<Json<ScheduleBody>, JsonRejection>,
) -> ApiResult {
    let token = authorize(&s, &headers, Scope::Recruiter).await?;
    let key = super::idempotency_key_of(&headers)?;
    let b = body(b)?;
    let hash = tokens::sha256(
        serde_json::to_string(&json!([
            "POST /v1/interviews",
            b.application_id,
            b.at,
            b.timezone,
            b.duration,
            b.interviewers,
            b.location,
            b.video_url,
            b.title,
            b.allow_overlap
        ]))
        .unwrap_or_default()
        .as_bytes(),
    );
    if let Some(k) = &key
        && let Some(r) = super::replay(&s, token.id, k, &hash).await?
    {
        return Ok(r);
    }
    let r = runner(&s)?;
    let zone_name = b
        .timezone
        .clone()
        .unwrap_or_else(|| r.config.schedule.timezone.clone());
    let zone = interviews::zone(&zone_name).map_err(|e| err(&e))?;
    let start = interviews::start_instant(&b.at, zone).map_err(|e| err(&e))?;
    let minutes =
        interviews::minutes(b.duration.as_deref().unwrap_or("45m")).map_err(|e| err(&e))?;
    let req = ScheduleRequest {
        application_id: b.application_id,
        start,
        timezone: zone.name().to_string(),
        minutes: i32::try_from(minutes).unwrap_or(i32::MAX),
        interviewers: b.interviewers,
        location: b.location,
        video_url: b.video_url,
        title: b.title,
        focus: b.focus,
        allow_overlap: b.allow_overlap,
        actor: actor_of(&s, &token).await?,
    };
    let now = chrono::Utc::now();
    let ctx = r.ctx(now);
    let txn = s.store.begin_write().await.map_err(|e| err(&e))?;
    let out = wf::schedule_in(&txn, &ctx, &req)
        .await
        .map_err(|e| err(&e))?;
    let answer = serde_json::to_string(&out).unwrap_or_default();
    if let Some(k) = &key {
        crate::store::idempotency::keep(&txn, token.id, k, &hash, 201, &answer, now)
            .await
            .map_err(|_| {
                Problem::new(
                    StatusCode::CONFLICT,
                    "the same Idempotency-Key is being used by another request",
                )
            })?;
    }
    if !out.emails.is_empty() {
        crate::store::notify_outbox(&txn)
            .await
            .map_err(|e| err(&e))?;
    }
    if let Err(e) = txn.commit().await {
        if let Some(k) = &key
            && let Some(r) = super::replay(&s, token.id, k, &hash).await?
        {
            return Ok(r);
        }
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("the interview was not scheduled: {e}; retry"),
        ));
    }
    Ok(raw_json(StatusCode::CREATED, answer))
}

/// List interviews.
///
/// `GET /v1/interviews` (token scope `read`): soonest first, of one
/// application and/or only those still to come.
#[utoipa::path(get, path = "/v1/interviews", tag = "interviews",
    params(ListQuery),
    responses(
        (status = 200, description = "The interviews", body = InterviewList),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad query parameter, named", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(s): State<ApiState>,
    headers: HeaderMap,
    q: std::result::Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let Query(q) = q.map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))?;
    let now = chrono::Utc::now();
    let rows = store_iv::list(
        s.store.conn(),
        q.application,
        q.upcoming.unwrap_or(false).then_some(now),
    )
    .await
    .map_err(|e| err(&e))?;
    let items = wf::with_interviewers(s.store.conn(), rows)
        .await
        .map_err(|e| err(&e))?
        .into_iter()
        .map(|(i, w)| InterviewView {
            status: wf::status_at(&i, now).to_string(),
            interview: i,
            interviewers: w,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &InterviewList { items }))
}

/// Get an interview.
///
/// `GET /v1/interviews/{id}` (token scope `read`): the interview, its
/// status and its interviewers with their feedback.
#[utoipa::path(get, path = "/v1/interviews/{id}", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id", example = 1)),
    responses(
        (status = 200, description = "The interview", body = InterviewView),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such interview", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a number", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn get_interview(
    State(s): State<ApiState>,
    headers: HeaderMap,
    id: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let id = interview_id(id)?;
    let i = store_iv::find(s.store.conn(), id)
        .await
        .map_err(|e| err(&e))?;
    let w = store_iv::interviewers(s.store.conn(), &[id])
        .await
        .map_err(|e| err(&e))?
        .remove(&id)
        .unwrap_or_default();
    Ok(json_response(
        StatusCode::OK,
        &InterviewView {
            status: wf::status_at(&i, chrono::Utc::now()).to_string(),
            interview: i,
            interviewers: w,
        },
    ))
}

/// Reschedule an interview.
///
/// `POST /v1/interviews/{id}/reschedule` (token scope `recruiter`): a new
/// time, zone or length; everyone gets the update (same UID, SEQUENCE + 1).
#[utoipa::path(post, path = "/v1/interviews/{id}/reschedule", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id", example = 1)),
    request_body = RescheduleBody,
    responses(
        (status = 200, description = "Rescheduled", body = wf::Outcome),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such interview", body = problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields, an overlap, or an interview that is not scheduled, named", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn reschedule(
    State(s): State<ApiState>,
    headers: HeaderMap,
    id: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
    b: std::result::Result<Json<RescheduleBody>, JsonRejection>,
) -> ApiResult {
    let token = authorize(&s, &headers, Scope::Recruiter).await?;
    let id = interview_id(id)?;
    let b = body(b)?;
    let current = store_iv::find(s.store.conn(), id)
        .await
        .map_err(|e| err(&e))?;
    let zone_name = b.timezone.clone().unwrap_or(current.timezone);
    let zone = interviews::zone(&zone_name).map_err(|e| err(&e))?;
    let req = RescheduleRequest {
        start: b
            .at
            .as_deref()
            .map(|a| interviews::start_instant(a, zone))
            .transpose()
            .map_err(|e| err(&e))?,
        timezone: Some(zone.name().to_string()),
        minutes: b
            .duration
            .as_deref()
            .map(interviews::minutes)
            .transpose()
            .map_err(|e| err(&e))?
            .map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
        interviewers: b.interviewers.clone(),
        allow_overlap: b.allow_overlap,
        actor: actor_of(&s, &token).await?,
    };
    let r = runner(&s)?;
    let out = wf::reschedule(&s.store, &r.ctx(chrono::Utc::now()), id, &req)
        .await
        .map_err(|e| err(&e))?;
    Ok(json_response(StatusCode::OK, &out))
}

/// Cancel an interview.
///
/// `POST /v1/interviews/{id}/cancel` (token scope `recruiter`): everyone
/// who was sent something gets a CANCEL; what was not yet sent is withdrawn.
#[utoipa::path(post, path = "/v1/interviews/{id}/cancel", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id", example = 1)),
    request_body = CancelBody,
    responses(
        (status = 200, description = "Cancelled", body = wf::Outcome),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such interview", body = problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad reason, or an interview that is not scheduled", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn cancel(
    State(s): State<ApiState>,
    headers: HeaderMap,
    id: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
    b: std::result::Result<Json<CancelBody>, JsonRejection>,
) -> ApiResult {
    let token = authorize(&s, &headers, Scope::Recruiter).await?;
    let id = interview_id(id)?;
    let b = body(b)?;
    let r = runner(&s)?;
    let actor = actor_of(&s, &token).await?;
    let out = wf::cancel(
        &s.store,
        &r.ctx(chrono::Utc::now()),
        id,
        b.reason.as_deref(),
        &actor,
    )
    .await
    .map_err(|e| err(&e))?;
    Ok(json_response(StatusCode::OK, &out))
}

/// Record an interviewer's feedback.
///
/// `POST /v1/interviews/{id}/feedback` (token scope `recruiter`): the
/// recommendation and note of one interviewer of this interview.
#[utoipa::path(post, path = "/v1/interviews/{id}/feedback", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id", example = 1)),
    request_body = FeedbackBody,
    responses(
        (status = 200, description = "Recorded: the interview and its interviewers", body = InterviewView),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such interview, or no such person", body = problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields, someone who is not an interviewer, or a cancelled interview", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn feedback(
    State(s): State<ApiState>,
    headers: HeaderMap,
    id: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
    b: std::result::Result<Json<FeedbackBody>, JsonRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Recruiter).await?;
    let id = interview_id(id)?;
    let b = body(b)?;
    let now = chrono::Utc::now();
    let f = wf::Feedback {
        recommendation: b.recommendation,
        ratings: b.ratings.into_iter().collect(),
        note: b.note,
        private_note: b.private_note,
        on_behalf_by: b.coordinator,
    };
    let (i, w) = wf::feedback(&s.store, id, &b.by, &f, "api", now)
        .await
        .map_err(|e| err(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &InterviewView {
            status: wf::status_at(&i, now).to_string(),
            interview: i,
            interviewers: w,
        },
    ))
}
