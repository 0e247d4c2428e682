//! The HTTP API (`/v1`, JSON), served on `[http] listen` beside `/healthz`
//! and `/metrics`. It reuses the command line's validation and write paths:
//! an application created here is created by the same transaction as
//! `atsd apply`, a move is `atsd application move`'s.
//!
//! Every request carries `Authorization: Bearer <token>` (`atsd token
//! create`); a token's scope decides what it may do ([`Scope::allows`]).
//! Errors are RFC 9457 problem details ([`problem`]).

mod application_routes;
pub mod booking;
pub mod intake;
pub mod interviews;
pub mod offers;
pub mod openapi;
mod postings;
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

pub use application_routes::ApplicationPage;
use application_routes::*;
use postings::*;
pub use postings::{PersonList, PostingList, TeamAnswer};
