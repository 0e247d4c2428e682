//! The HTTP API (`/v1`, JSON), served on `[http] listen` beside `/healthz`
//! and `/metrics`. It reuses the command line's validation and write paths:
//! an application created here is created by the same transaction as
//! `atsd apply`, a move is `atsd application move`'s.
//!
//! Every request carries `Authorization: Bearer <token>` (`atsd token
//! create`); a token's scope decides what it may do ([`Scope::allows`]).
//! Errors are RFC 9457 problem details ([`problem`]).

pub mod booking;
pub mod intake;
pub mod interviews;
pub mod offers;
pub mod openapi;
pub mod privacy;
pub mod privacy_links;
pub mod problem;
pub mod scorecards;
pub mod selfservice;
pub mod webhooks;

use crate::config::EmailChoice;
use crate::jobs::Current;
use crate::jobs::Runner;
use crate::store::Store;
use crate::store::applications;
use crate::store::candidates::CandidateInput;
use crate::store::tokens::{self, Scope};
use crate::workflow::{self, MoveRequest};
use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use entity::{api_token, application};
use problem::Problem;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The largest request body the API reads.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub current: Arc<Current>,
    pub limiter: Arc<Limiter>,
    pub intake: intake::Queue,
}

/// A token bucket per API token: `rate` requests a second, bursts of as
/// many. In memory: each daemon limits what it serves.
#[derive(Default)]
pub struct Limiter {
    buckets: std::sync::Mutex<std::collections::HashMap<i64, (f64, std::time::Instant)>>,
}

impl Limiter {
    /// Takes one request from `token`'s bucket; `Err(seconds)` to wait when
    /// it is empty.
    pub fn take(&self, token: i64, rate: u32) -> std::result::Result<(), u64> {
        if rate == 0 {
            return Ok(());
        }
        let rate = f64::from(rate);
        let now = std::time::Instant::now();
        let Ok(mut b) = self.buckets.lock() else {
            return Ok(());
        };
        let (level, at) = b.entry(token).or_insert((rate, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / rate).ceil().max(1.0) as u64)
        }
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(
            "/v1/applications",
            post(create_application).get(list_applications),
        )
        .route("/v1/applications/{id}", get(get_application))
        .route("/v1/applications/{id}/moves", post(move_application))
        .route("/v1/postings", get(list_postings).post(add_posting))
        .route("/v1/postings/{id}/team", put(set_posting_team))
        .route("/v1/people", get(list_people))
        .route(
            "/v1/interviews",
            post(interviews::schedule).get(interviews::list),
        )
        .route("/v1/interviews/{id}", get(interviews::get_interview))
        .route(
            "/v1/interviews/{id}/reschedule",
            post(interviews::reschedule),
        )
        .route("/v1/interviews/{id}/cancel", post(interviews::cancel))
        .route("/v1/interviews/{id}/feedback", post(interviews::feedback))
        .route("/v1/interviews/offers", post(offers::offer))
        .route("/v1/scorecards", get(scorecards::list))
        .route("/v1/report", get(report))
        .route("/v1/data-requests", get(privacy::list).post(privacy::open))
        .route("/v1/candidates/{id}/export", get(privacy::export))
        .route("/v1/openapi.json", get(openapi::document))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .route(
            "/v1/webhooks/greenhouse",
            post(webhooks::greenhouse).layer(DefaultBodyLimit::max(webhooks::MAX_BODY)),
        )
        .route(
            "/self-service/withdraw/{token}",
            get(selfservice::confirm).post(selfservice::withdraw),
        )
        .route(
            "/self-service/privacy/{token}",
            get(privacy_links::choices)
                .post(privacy_links::ask)
                .layer(DefaultBodyLimit::max(privacy_links::FORM_LIMIT)),
        )
        .route(
            "/self-service/export/{token}",
            get(privacy_links::download_page).post(privacy_links::download),
        )
        .route(
            "/self-service/book/{token}",
            get(booking::page)
                .post(booking::post)
                .layer(DefaultBodyLimit::max(booking::FORM_LIMIT)),
        )
        .route(
            "/self-service/feedback/{token}",
            get(selfservice::feedback_form)
                .post(selfservice::feedback_submit)
                .layer(DefaultBodyLimit::max(selfservice::FEEDBACK_FORM_LIMIT)),
        )
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(state)
}

type ApiResult = std::result::Result<Response, Problem>;

/// The token of the request, if it may do what `needed` asks: 401 without a
/// live token, 403 with one whose scope does not allow it.
/// Who a request's moves are made by: the token's person, else the token.
async fn actor_of(s: &ApiState, token: &api_token::Model) -> std::result::Result<String, Problem> {
    tokens::actor(&s.store, token)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::INTERNAL_SERVER_ERROR))
}

async fn authorize(
    s: &ApiState,
    headers: &HeaderMap,
    needed: Scope,
) -> std::result::Result<api_token::Model, Problem> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(Problem::unauthorized)?;
    let token = tokens::authenticate(&s.store, secret, chrono::Utc::now())
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::UNAUTHORIZED))?
        .ok_or_else(Problem::unauthorized)?;
    let scope = Scope::parse(&token.scope).map_err(|_| Problem::forbidden())?;
    if !scope.allows(needed) {
        return Err(Problem::forbidden());
    }
    let rate = s
        .current
        .get()
        .and_then(|r| r.config.http.as_ref().map(|h| h.rate_limit))
        .unwrap_or(0);
    if let Err(wait) = s.limiter.take(token.id, rate) {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("more than {rate} requests a second with this token"),
        );
        p.retry_after = Some(wait);
        return Err(p);
    }
    Ok(token)
}

fn runner(s: &ApiState) -> std::result::Result<Arc<Runner>, Problem> {
    s.current
        .get()
        .ok_or_else(|| Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the daemon is starting"))
}

fn body<T>(b: std::result::Result<Json<T>, JsonRejection>) -> std::result::Result<T, Problem> {
    b.map(|Json(t)| t).map_err(|e| {
        let status = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Problem::new(status, e.body_text())
    })
}

fn json_response(status: StatusCode, v: &impl serde::Serialize) -> Response {
    (status, Json(v)).into_response()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"posting": 1, "name": "Grace Hopper", "email": "grace@example.org", "locale": "en", "timezone": "America/New_York"}))]
struct NewApplicationBody {
    /// Posting id or URL.
    #[schema(value_type = openapi::PostingRef)]
    posting: Value,
    name: String,
    email: String,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
}

/// Apply: a candidate for a posting.
///
/// `POST /v1/applications` (token scope `intake`): one application, in one
/// transaction with its candidate, first transition and email; the candidate
/// is reused by email. Given an `Idempotency-Key`, the answer is kept and a
/// retry of the same request gets it again.
#[utoipa::path(post, path = "/v1/applications", tag = "applications",
    request_body = NewApplicationBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key gets the first answer")),
    responses(
        (status = 201, description = "Created: the application, its candidate, first transition and emails", body = workflow::Created,
            links(
                ("GetApplication" = (operation_id = "get_application",
                    parameters(("id" = "$response.body#/application/id")),
                    description = "The application just created")),
                ("MoveApplication" = (operation_id = "move_application",
                    parameters(("id" = "$response.body#/application/id")),
                    request_body = json!({"to": "screening", "reason": "strong CV", "expected_version": "$response.body#/application/version"}),
                    description = "Move the application just created on, from its first stage to the next (`screening` in the default pipeline)")),
                ("ListPostingApplications" = (operation_id = "list_applications",
                    parameters(("posting" = "$response.body#/application/posting_id")),
                    description = "The applications of the same posting")),
                ("Report" = (operation_id = "report",
                    description = "The report, which now counts this application")),
            )),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such posting", body = problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "This person already applied to this posting, or the key was used for another request", body = problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 16 KiB", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields, each named", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable: retry later", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn create_application(
    State(s): State<ApiState>,
    headers: HeaderMap,
    b: std::result::Result<Json<NewApplicationBody>, JsonRejection>,
) -> ApiResult {
    let token = authorize(&s, &headers, Scope::Intake).await?;
    let key = idempotency_key_of(&headers)?;
    let b = body(b)?;
    let request_hash = tokens::sha256(
        serde_json::to_string(&json!([b.posting, b.name, b.email, b.locale, b.timezone]))
            .unwrap_or_default()
            .as_bytes(),
    );
    if let Some(k) = &key
        && let Some(r) = replay(&s, token.id, k, &request_hash).await?
    {
        return Ok(r);
    }
    let posting = match &b.posting {
        Value::Number(n) if n.is_i64() => n.to_string(),
        Value::String(u) if !u.trim().is_empty() => u.trim().to_string(),
        _ => {
            return Err(Problem::fields(vec![(
                "posting",
                "a posting id or URL".into(),
            )]));
        }
    };
    let input = CandidateInput::parse(
        &b.name,
        &b.email,
        b.locale.as_deref(),
        b.timezone.as_deref(),
    )
    .map_err(Problem::fields)?;
    let outcome = s
        .intake
        .submit(intake::Request {
            runner: runner(&s)?,
            token_id: token.id,
            actor: actor_of(&s, &token).await?,
            posting,
            input,
            key: key.clone().map(|k| (k, request_hash.clone())),
            form: None,
        })
        .await;
    match outcome {
        Ok(answer) => {
            tracing::info!(application = %application_id(&answer), token = %token.name, "api: application created");
            Ok(raw_json(StatusCode::CREATED, answer))
        }
        Err(e) => {
            // a concurrent request with the same key may have won
            if let Some(k) = &key
                && let Some(r) = replay(&s, token.id, k, &request_hash).await?
            {
                return Ok(r);
            }
            if matches!(&e, crate::Error::Db(d) if d.sql_err().is_some()) {
                return Err(Problem::new(
                    StatusCode::CONFLICT,
                    "the same application is being created by another request",
                ));
            }
            Err(Problem::from_error(&e, StatusCode::CONFLICT))
        }
    }
}

/// The request's `Idempotency-Key`, if any: 1 to 255 ASCII characters.
fn idempotency_key_of(headers: &HeaderMap) -> std::result::Result<Option<String>, Problem> {
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| Problem::fields(vec![("Idempotency-Key", "is not ASCII".into())]))?;
    if let Some(k) = &key
        && (k.is_empty() || k.len() > 255)
    {
        return Err(Problem::fields(vec![(
            "Idempotency-Key",
            "is 1 to 255 characters".into(),
        )]));
    }
    Ok(key)
}

fn application_id(answer: &str) -> String {
    serde_json::from_str::<Value>(answer)
        .ok()
        .and_then(|v| v["application"]["id"].as_i64())
        .map(|i| i.to_string())
        .unwrap_or_default()
}

fn raw_json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The kept answer to an earlier request with this key, if any; 422 when
/// the key was used for another request.
async fn replay(
    s: &ApiState,
    token_id: i64,
    key: &str,
    request_hash: &str,
) -> std::result::Result<Option<Response>, Problem> {
    let found = crate::store::idempotency::find(s.store.conn(), token_id, key)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    match found {
        None => Ok(None),
        Some(k) if k.request_hash != request_hash => Err(Problem::fields(vec![(
            "Idempotency-Key",
            "was used for another request".into(),
        )])),
        Some(k) => {
            let status = StatusCode::from_u16(k.status as u16).unwrap_or(StatusCode::OK);
            Ok(Some(raw_json(status, k.body)))
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this posting's applications.
    posting: Option<i64>,
    /// Only applications in this stage.
    stage: Option<String>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
    /// Applications per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
}

/// A page of applications, oldest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApplicationPage {
    items: Vec<application::Model>,
    /// The cursor of the next page; none on the last.
    next_cursor: Option<String>,
}

/// Every posting.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PostingList {
    items: Vec<entity::posting::Model>,
}

/// A path id that is not a number is a 422 naming it, like any bad field.
fn id_of(
    p: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> std::result::Result<i64, Problem> {
    p.map(|Path(id)| id)
        .map_err(|_| Problem::fields(vec![("id", "not an application id".into())]))
}

/// The opaque cursor: the last id seen, in hex behind a version letter.
fn cursor_of(id: i64) -> String {
    format!("a{id:x}")
}

fn after_cursor(c: &str) -> Option<i64> {
    i64::from_str_radix(c.strip_prefix('a')?, 16).ok()
}

/// List applications.
///
/// `GET /v1/applications` (token scope `read`): oldest first, 50 a page (at
/// most 200), the next page from `next_cursor`; filtered by posting and
/// stage.
#[utoipa::path(get, path = "/v1/applications", tag = "applications",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of applications", body = ApplicationPage),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad query parameter, named", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn list_applications(
    State(s): State<ApiState>,
    headers: HeaderMap,
    q: std::result::Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let Query(q) = q.map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Problem::fields(vec![("limit", "1 to 200".into())]));
    }
    let after = match &q.cursor {
        None => 0,
        Some(c) => after_cursor(c)
            .ok_or_else(|| Problem::fields(vec![("cursor", "not a cursor of this API".into())]))?,
    };
    let mut rows = applications::page(
        s.store.conn(),
        after,
        limit + 1,
        q.posting,
        q.stage.as_deref(),
    )
    .await
    .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| cursor_of(r.id))
    } else {
        None
    };
    Ok(json_response(
        StatusCode::OK,
        &ApplicationPage {
            items: rows,
            next_cursor: next,
        },
    ))
}

/// Show an application.
///
/// `GET /v1/applications/{id}` (token scope `read`): the application with
/// its candidate, posting, transitions and emails.
#[utoipa::path(get, path = "/v1/applications/{id}", tag = "applications",
    params(("id" = i64, Path, description = "Application id", example = 1)),
    responses(
        (status = 200, description = "The application with its candidate, posting, transitions and emails", body = applications::Detail),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a number", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn get_application(
    State(s): State<ApiState>,
    headers: HeaderMap,
    id: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let id = id_of(id)?;
    let d = applications::detail(s.store.conn(), id)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    Ok(json_response(StatusCode::OK, &d))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "screening", "reason": "strong CV"}))]
struct MoveBody {
    to: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expected_version: Option<i32>,
}

/// Move an application to another stage.
///
/// `POST /v1/applications/{id}/moves` (token scope `recruiter`): one
/// transaction with the transition and the emails the move causes; 409 when
/// `expected_version` is no longer the application's, 422 for a move the
/// pipeline does not allow.
#[utoipa::path(post, path = "/v1/applications/{id}/moves", tag = "applications",
    params(("id" = i64, Path, description = "Application id", example = 1)),
    request_body = MoveBody,
    responses(
        (status = 201, description = "Moved: the application, the transition, its emails", body = workflow::Moved,
            links(
                ("GetApplication" = (operation_id = "get_application",
                    parameters(("id" = "$response.body#/application/id")),
                    description = "The application after the move")),
            )),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "expected_version is no longer the application's", body = problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 16 KiB", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields, or a move the pipeline does not allow", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable: retry later", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn move_application(
    State(s): State<ApiState>,
    headers: HeaderMap,
    id: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
    b: std::result::Result<Json<MoveBody>, JsonRejection>,
) -> ApiResult {
    let token = authorize(&s, &headers, Scope::Recruiter).await?;
    let id = id_of(id)?;
    let b = body(b)?;
    if let Some(r) = &b.reason
        && (r.chars().count() > 500 || r.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(Problem::fields(vec![(
            "reason",
            "at most 500 characters, no control characters".into(),
        )]));
    }
    let r = runner(&s)?;
    let ctx = r.ctx(chrono::Utc::now());
    let req = MoveRequest {
        application_id: id,
        to: b.to,
        reason: b.reason,
        actor: actor_of(&s, &token).await?,
        email: EmailChoice::StageDefault,
        expected_version: b.expected_version,
    };
    let moved = workflow::move_application(&s.store, &ctx, &req)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::UNPROCESSABLE_ENTITY))?;
    Ok(json_response(StatusCode::CREATED, &moved))
}

/// Every active person on the hiring side.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PersonList {
    items: Vec<entity::person::Model>,
}

/// List people.
///
/// `GET /v1/people` (token scope `read`): the people on the hiring side
/// (recruiters, hiring managers, coordinators) who are active, with their
/// time zones and locales.
#[utoipa::path(get, path = "/v1/people", tag = "people",
    responses(
        (status = 200, description = "Every active person", body = PersonList),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn list_people(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let rows = crate::store::people::list(&s.store, false)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    Ok(json_response(StatusCode::OK, &PersonList { items: rows }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"recruiter": "ada@example.org", "hiring_managers": ["lin@example.org"], "coordinators": []}))]
struct TeamBody {
    #[serde(default)]
    recruiter: Option<String>,
    #[serde(default)]
    hiring_managers: Vec<String>,
    #[serde(default)]
    coordinators: Vec<String>,
}

/// A posting's team as set.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TeamAnswer {
    posting_id: i64,
    team: Vec<crate::store::people::Member>,
}

/// Set a posting's hiring team.
///
/// `PUT /v1/postings/{id}/team` (token scope `recruiter`): replaces the
/// team; every address must be a person (`atsd person add`), else 422
/// naming each unknown one and nothing changes.
#[utoipa::path(put, path = "/v1/postings/{id}/team", tag = "postings",
    params(("id" = i64, Path, description = "The posting's id")),
    request_body = TeamBody,
    responses(
        (status = 200, description = "The team as it is now", body = TeamAnswer),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such posting", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown person, or a malformed body", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn set_posting_team(
    State(s): State<ApiState>,
    headers: HeaderMap,
    id: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
    b: std::result::Result<Json<TeamBody>, JsonRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Recruiter).await?;
    let id = id
        .map(|Path(id)| id)
        .map_err(|_| Problem::fields(vec![("id", "not a posting id".into())]))?;
    let b = body(b)?;
    let err = |e: crate::Error| Problem::from_error(&e, StatusCode::UNPROCESSABLE_ENTITY);
    let posting = crate::store::postings::find(s.store.conn(), &id.to_string())
        .await
        .map_err(err)?;
    let spec = crate::store::people::TeamSpec {
        recruiter: b.recruiter,
        hiring_managers: b.hiring_managers,
        coordinators: b.coordinators,
    };
    let txn = s.store.begin_write().await.map_err(err)?;
    let team = crate::store::people::set_team(&txn, posting.id, &spec, chrono::Utc::now())
        .await
        .map_err(err)?;
    txn.commit().await.map_err(|e| err(e.into()))?;
    Ok(json_response(
        StatusCode::OK,
        &TeamAnswer {
            posting_id: posting.id,
            team,
        },
    ))
}

/// List postings.
///
/// `GET /v1/postings` (token scope `read`): every posting with its status
/// and poll bookkeeping.
#[utoipa::path(get, path = "/v1/postings", tag = "postings",
    responses(
        (status = 200, description = "Every posting", body = PostingList),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn list_postings(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let rows = crate::store::postings::list(s.store.conn(), None)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    Ok(json_response(StatusCode::OK, &PostingList { items: rows }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://boards.greenhouse.io/acme/jobs/2", "title": "Line cook"}))]
struct NewPostingBody {
    url: String,
    #[serde(default)]
    title: Option<String>,
}

/// Add a posting by its URL.
///
/// `POST /v1/postings` (token scope `recruiter`): a job posting URL atsd
/// recognizes (Greenhouse, Lever, Ashby or any other page); 201 when new, 200
/// when the URL is known already.
#[utoipa::path(post, path = "/v1/postings", tag = "postings",
    request_body = NewPostingBody,
    responses(
        (status = 201, description = "Added", body = entity::posting::Model,
            links(
                ("CreateApplication" = (operation_id = "create_application",
                    request_body = json!({"posting": "$response.body#/id", "name": "Grace Hopper", "email": "grace@example.org"}),
                    description = "Apply to this posting")),
                ("ListPostingApplications" = (operation_id = "list_applications",
                    parameters(("posting" = "$response.body#/id")),
                    description = "This posting's applications")),
                ("ListPostings" = (operation_id = "list_postings",
                    description = "Every posting, this one among them")),
            )),
        (status = 200, description = "Already known", body = entity::posting::Model,
            links(
                ("CreateApplication" = (operation_id = "create_application",
                    request_body = json!({"posting": "$response.body#/id", "name": "Grace Hopper", "email": "grace@example.org"}),
                    description = "Apply to this posting")),
                ("ListPostingApplications" = (operation_id = "list_applications",
                    parameters(("posting" = "$response.body#/id")),
                    description = "This posting's applications")),
                ("ListPostings" = (operation_id = "list_postings",
                    description = "Every posting, this one among them")),
            )),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The posting changed under this request (another writer): retry", body = problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 16 KiB", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a job posting URL atsd recognizes, or a bad title", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable: retry later", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn add_posting(
    State(s): State<ApiState>,
    headers: HeaderMap,
    b: std::result::Result<Json<NewPostingBody>, JsonRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Recruiter).await?;
    let b = body(b)?;
    let r = runner(&s)?;
    let bases = crate::posting::ApiBases::from(&r.config.poll.sources);
    let rec =
        crate::posting::recognize(&b.url, &bases).map_err(|e| Problem::fields(vec![("url", e)]))?;
    if let Some(t) = &b.title
        && (t.trim().is_empty() || t.chars().any(char::is_control))
    {
        return Err(Problem::fields(vec![(
            "title",
            "empty or with control characters".into(),
        )]));
    }
    let np = crate::store::postings::NewPosting {
        url: rec.url.clone(),
        source: rec.source.to_string(),
        board: rec.board.clone(),
        external_id: rec.external_id.clone(),
        title: b.title.map(|t| t.trim().to_string()),
        ..Default::default()
    };
    let result = async {
        let txn = s.store.begin_write().await?;
        let (m, outcome) =
            crate::store::postings::upsert(&txn, &np, "api", chrono::Utc::now()).await?;
        txn.commit().await?;
        Ok::<_, crate::Error>((m, outcome))
    }
    .await
    .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    let status = if matches!(result.1, crate::store::postings::Upserted::Created) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &result.0))
}

/// The pipeline report.
///
/// `GET /v1/report` (token scope `read`): per posting, applications per
/// stage, conversion from each stage to the next, median time in stage and
/// stale counts, as `atsd report --format json` prints them.
#[utoipa::path(get, path = "/v1/report", tag = "report",
    responses(
        (status = 200, description = "`atsd report --format json`", body = crate::report::Report),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token: retry after the time Retry-After gives", body = problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable: retry later", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn report(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let r = runner(&s)?;
    let data = crate::store::stats::report_data(s.store.conn(), None)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    let th = crate::report::stale_thresholds(&r.config, &r.pipeline, chrono::Duration::days(14));
    let rep = crate::report::build(&data, &r.pipeline, &th, chrono::Utc::now());
    Ok(json_response(StatusCode::OK, &rep))
}
