//! `GET /v1/scorecards[?application_id=N]` (token scope `read`): the
//! interviewers' submitted feedback in the shape of Greenhouse Harvest's
//! scorecard objects, so that reports written for Greenhouse read it.
//! Each rated attribute of the posting's scorecard is in `attributes` (its
//! category as `type`) and in `ratings` by value; the key take-aways and
//! the private notes are the answers to Harvest's "Key Take-Aways" and
//! "Private Notes"; `submitted_by` is the coordinator who entered it, when
//! one did.

use super::problem::{self, Problem};
use super::{ApiResult, ApiState, authorize, json_response};
use crate::interviews::scorecard;
use crate::store::tokens::Scope;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ScorecardQuery {
    /// Only this application's scorecards.
    application_id: Option<i64>,
}

/// A person on a scorecard, as Harvest names them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScorecardUser {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub employee_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InterviewStep {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScorecardAttribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub note: Option<String>,
    pub rating: String,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Ratings {
    pub definitely_not: Vec<String>,
    pub no: Vec<String>,
    pub mixed: Vec<String>,
    pub yes: Vec<String>,
    pub strong_yes: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScorecardQuestion {
    pub id: Option<i64>,
    pub question: String,
    pub answer: String,
}

/// One interviewer's submitted feedback on one interview.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Scorecard {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub interview: String,
    pub interview_step: InterviewStep,
    pub candidate_id: i64,
    pub application_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub interviewed_at: DateTime<Utc>,
    pub submitted_by: ScorecardUser,
    pub interviewer: ScorecardUser,
    #[schema(value_type = String, format = DateTime)]
    pub submitted_at: DateTime<Utc>,
    /// `definitely_not`, `no`, `yes`, `strong_yes` or `no_decision`.
    pub overall_recommendation: String,
    pub attributes: Vec<ScorecardAttribute>,
    pub ratings: Ratings,
    pub questions: Vec<ScorecardQuestion>,
}

/// Greenhouse's name for an atsd recommendation.
pub fn greenhouse_recommendation(r: &str) -> &str {
    match r {
        "strong_no" => "definitely_not",
        other => other,
    }
}

fn user(p: &entity::person::Model) -> ScorecardUser {
    let mut parts = p.name.trim().rsplitn(2, ' ');
    let last = parts.next().unwrap_or("").to_string();
    let first = parts.next().unwrap_or("").to_string();
    let (first_name, last_name) = if first.is_empty() {
        (last, String::new())
    } else {
        (first, last)
    };
    ScorecardUser {
        id: p.id,
        first_name,
        last_name,
        name: p.name.clone(),
        employee_id: None,
    }
}

/// The scorecards submitted.
///
/// `GET /v1/scorecards` (token scope `read`): every interviewer's submitted
/// feedback, oldest first, in Greenhouse Harvest's scorecard shape.
#[utoipa::path(get, path = "/v1/scorecards", tag = "interviews", operation_id = "list_scorecards",
    params(ScorecardQuery),
    responses(
        (status = 200, description = "The scorecards", body = Vec<Scorecard>),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad query parameter, named", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(s): State<ApiState>,
    headers: HeaderMap,
    q: std::result::Result<Query<ScorecardQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let Query(q) = q.map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))?;
    let rows = crate::store::interviews::submitted(s.store.conn(), q.application_id)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::INTERNAL_SERVER_ERROR))?;
    let mut posting_ids: Vec<i64> = rows.iter().map(|x| x.posting_id).collect();
    posting_ids.sort_unstable();
    posting_ids.dedup();
    let cards: std::collections::HashMap<i64, scorecard::Scorecard> =
        crate::store::postings::by_ids(s.store.conn(), &posting_ids)
            .await
            .map_err(|e| Problem::from_error(&e, StatusCode::INTERNAL_SERVER_ERROR))?
            .iter()
            .map(|p| (p.id, scorecard::of_posting(p)))
            .collect();
    let empty = scorecard::Scorecard::default();
    let out: Vec<Scorecard> = rows
        .into_iter()
        .filter_map(|x| {
            let at = x.row.feedback_at?;
            let rec = x.row.recommendation.as_deref()?;
            let card = cards.get(&x.posting_id).unwrap_or(&empty);
            let given = scorecard::stored_ratings(x.row.ratings.as_deref());
            let mut ratings = Ratings::default();
            let mut attributes = Vec::new();
            for (name, rating) in &given {
                let list = match rating.as_str() {
                    "definitely_not" => &mut ratings.definitely_not,
                    "no" => &mut ratings.no,
                    "mixed" => &mut ratings.mixed,
                    "yes" => &mut ratings.yes,
                    "strong_yes" => &mut ratings.strong_yes,
                    _ => continue,
                };
                list.push(name.clone());
                attributes.push(ScorecardAttribute {
                    name: name.clone(),
                    kind: card.category_of(name).unwrap_or("Skills").to_string(),
                    note: None,
                    rating: rating.clone(),
                });
            }
            let questions = [
                ("Key Take-Aways", x.row.note.clone()),
                ("Private Notes", x.row.private_note.clone()),
            ]
            .into_iter()
            .filter_map(|(q, a)| {
                Some(ScorecardQuestion {
                    id: None,
                    question: q.into(),
                    answer: a?,
                })
            })
            .collect();
            let iv = &x.interview;
            Some(Scorecard {
                id: x.row.id,
                updated_at: at,
                created_at: at,
                interview: iv.title.clone(),
                interview_step: InterviewStep {
                    id: iv.id,
                    name: iv.title.clone(),
                },
                candidate_id: x.candidate_id,
                application_id: iv.application_id,
                interviewed_at: iv.starts_at,
                submitted_by: user(x.entered_by.as_ref().unwrap_or(&x.person)),
                interviewer: user(&x.person),
                submitted_at: at,
                overall_recommendation: greenhouse_recommendation(rec).to_string(),
                attributes,
                ratings,
                questions,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &out))
}
