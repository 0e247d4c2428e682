//! `POST /v1/interviews/offers` (token scope `recruiter`): the slots in
//! which a whole panel is free, offered to the candidate through a signed
//! booking link, as `atsd interview offer` does.

use super::problem::{self, Problem};
use super::{ApiResult, ApiState, actor_of, authorize, body, json_response, runner};
use crate::store::tokens::Scope;
use crate::workflow::offers::{self, OfferRequest};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"application_id": 1, "interviewers": ["sam@example.org", "lena@example.org"], "duration": "45m", "between": "2030-03-25..2030-04-05", "notice": "24h"}))]
pub(super) struct OfferBody {
    application_id: i64,
    /// People with weekly windows (`atsd person availability`).
    interviewers: Vec<String>,
    /// `45m`, `1h` (default 45 minutes).
    #[serde(default)]
    duration: Option<String>,
    /// `DATE..DATE` (inclusive, read in `timezone`), or two RFC 3339
    /// instants; default the next 14 days.
    #[serde(default)]
    between: Option<String>,
    /// IANA zone of `between`'s dates (default the candidate's, else
    /// `[schedule] timezone`).
    #[serde(default)]
    timezone: Option<String>,
    /// Free time kept around other meetings (default none).
    #[serde(default)]
    buffer: Option<String>,
    /// The least time between booking and the interview (default 24h).
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    video_url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    /// Scorecard attributes the interview focuses on.
    #[serde(default)]
    focus: Vec<String>,
}

fn err(e: &crate::Error) -> Problem {
    Problem::from_error(e, StatusCode::UNPROCESSABLE_ENTITY)
}

/// Offer slots to a candidate.
///
/// `POST /v1/interviews/offers` (token scope `recruiter`): the panel's busy
/// feeds read, the offer kept, and the candidate emailed a signed link to a
/// page of the slots in which every interviewer is free.
#[utoipa::path(post, path = "/v1/interviews/offers", tag = "interviews", operation_id = "offer_slots",
    request_body = OfferBody,
    responses(
        (status = 201, description = "Offered: the offer, its booking link, the slots free now, the email queued", body = offers::Offered),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields (an unknown person, one without weekly windows, a bad range, a finished application), named", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn offer(
    State(s): State<ApiState>,
    headers: HeaderMap,
    b: std::result::Result<Json<OfferBody>, JsonRejection>,
) -> ApiResult {
    let token = authorize(&s, &headers, Scope::Recruiter).await?;
    let b = body(b)?;
    let r = runner(&s)?;
    let now = chrono::Utc::now();
    let app = crate::store::applications::find(s.store.conn(), b.application_id)
        .await
        .map_err(|e| err(&e))?;
    let (cand, _) = crate::store::applications::candidate_and_posting(s.store.conn(), &app)
        .await
        .map_err(|e| err(&e))?;
    let zone = b
        .timezone
        .clone()
        .or(cand.timezone)
        .unwrap_or_else(|| r.config.schedule.timezone.clone());
    let tz = crate::interviews::zone(&zone).map_err(|e| err(&e))?;
    let between = b
        .between
        .as_deref()
        .map(|v| crate::workflow::offers::between(v, tz))
        .transpose()
        .map_err(|e| err(&e))?;
    let mut ids = Vec::new();
    for e in &b.interviewers {
        if let Ok(Some(p)) = crate::store::people::find_any(s.store.conn(), e).await {
            ids.push(p.id);
        }
    }
    offers::refresh_feeds(&s.store, &r.config, Some(&ids), now)
        .await
        .map_err(|e| err(&e))?;
    let req = OfferRequest {
        application_id: b.application_id,
        interviewers: b.interviewers,
        minutes: i32::try_from(
            crate::interviews::minutes(b.duration.as_deref().unwrap_or("45m"))
                .map_err(|e| err(&e))?,
        )
        .unwrap_or(i32::MAX),
        between,
        buffer_minutes: crate::interviews::span_minutes(
            "buffer",
            b.buffer.as_deref().unwrap_or("0m"),
        )
        .map_err(|e| err(&e))?,
        notice_minutes: crate::interviews::span_minutes(
            "notice",
            b.notice.as_deref().unwrap_or("24h"),
        )
        .map_err(|e| err(&e))?,
        title: b.title,
        location: b.location,
        video_url: b.video_url,
        focus: b.focus,
        actor: actor_of(&s, &token).await?,
    };
    let out = offers::offer(&s.store, &r.ctx(now), &req)
        .await
        .map_err(|e| err(&e))?;
    Ok(json_response(StatusCode::CREATED, &out))
}
