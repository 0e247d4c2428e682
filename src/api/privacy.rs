//! The privacy endpoints (token scope `privacy`, which no other scope
//! includes: a recruiter's token cannot export a person):
//! `POST /v1/data-requests`, `GET /v1/data-requests`,
//! `GET /v1/candidates/{id}/export`.

use super::problem::{self, Problem};
use super::{ApiResult, ApiState, authorize, body, json_response};
use crate::store::tokens::Scope;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// A data-subject request to open.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.net", "kind": "access", "law": "gdpr"}))]
pub(super) struct NewDataRequest {
    /// The person's address.
    email: String,
    /// access, erasure, rectification, restriction, objection
    kind: String,
    /// gdpr or ccpa
    law: String,
    /// When it was received (RFC 3339); default now.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    received_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    note: Option<String>,
}

/// Data-subject requests, soonest due first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DataRequestList {
    items: Vec<entity::data_request::Model>,
}

/// Which requests to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// Closed ones too.
    #[serde(default)]
    all: bool,
    /// Only those due within this many days (from now).
    #[serde(default)]
    #[param(minimum = 0, maximum = 3650)]
    due_within_days: Option<u32>,
    /// Only those past their due date.
    #[serde(default)]
    overdue: bool,
}

fn actor(token: &entity::api_token::Model) -> String {
    format!("token:{}", token.name)
}

/// Open a data-subject request.
///
/// `POST /v1/data-requests` (token scope `privacy`): the request with its
/// legal due date (GDPR: the same date next month, off weekends; CCPA: 45
/// days, acknowledged within 10 business days), in `[schedule] timezone`;
/// `data_request.opened`.
#[utoipa::path(post, path = "/v1/data-requests", tag = "privacy", operation_id = "open_data_request",
    request_body = NewDataRequest,
    responses(
        (status = 201, description = "Opened", body = entity::data_request::Model),
        (status = 400, description = "Not JSON, or not the body this operation takes", body = problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong: the problem names it", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn open(
    State(s): State<ApiState>,
    headers: HeaderMap,
    b: std::result::Result<Json<NewDataRequest>, JsonRejection>,
) -> ApiResult {
    let token = authorize(&s, &headers, Scope::Privacy).await?;
    let b = body(b)?;
    let Some(current) = s.current.get() else {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the configuration is being loaded",
        ));
    };
    let now = chrono::Utc::now();
    let done = async {
        let txn = s.store.begin_write().await?;
        let r = crate::workflow::requests::open(
            &txn,
            &current.config,
            crate::workflow::requests::Open {
                email: &b.email,
                kind: &b.kind,
                law: &b.law,
                received_at: b.received_at.unwrap_or(now),
                note: b.note.as_deref(),
                link_nonce: None,
            },
            &actor(&token),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok::<_, crate::error::Error>(r)
    }
    .await
    .map_err(|e| Problem::from_error(&e, StatusCode::UNPROCESSABLE_ENTITY))?;
    Ok(json_response(StatusCode::CREATED, &done))
}

/// List data-subject requests.
///
/// `GET /v1/data-requests` (token scope `privacy`): the open ones, soonest
/// due first (`all` for closed ones too), those due within
/// `due_within_days`, or those `overdue`.
#[utoipa::path(get, path = "/v1/data-requests", tag = "privacy", operation_id = "list_data_requests",
    params(ListQuery),
    responses(
        (status = 200, description = "The requests", body = DataRequestList),
        (status = 400, description = "A query parameter is wrong", body = problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(s): State<ApiState>,
    headers: HeaderMap,
    q: std::result::Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    authorize(&s, &headers, Scope::Privacy).await?;
    let Query(q) = q.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let now = chrono::Utc::now();
    let before = if q.overdue {
        Some(now)
    } else {
        q.due_within_days
            .map(|d| now + chrono::Duration::days(i64::from(d)))
    };
    let items = crate::store::requests::list(s.store.conn(), q.all, before)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    Ok(json_response(StatusCode::OK, &DataRequestList { items }))
}

/// Export a candidate.
///
/// `GET /v1/candidates/{id}/export` (token scope `privacy`): everything the
/// map of personal data marks as the candidate's, as `atsd candidate
/// export` writes it (`schemas/candidate-export.schema.json`);
/// `candidate.exported`.
#[utoipa::path(get, path = "/v1/candidates/{id}/export", tag = "privacy", operation_id = "export_candidate",
    params(("id" = i64, Path, description = "The candidate's id", minimum = 1)),
    responses(
        (status = 200, description = "The export (schemas/candidate-export.schema.json)", body = Object),
        (status = 400, description = "The id is not a number", body = problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or one that is revoked or unknown", body = problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's scope does not allow this", body = problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such candidate", body = problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests with this token", body = problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn export(
    State(s): State<ApiState>,
    headers: HeaderMap,
    id: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let token = authorize(&s, &headers, Scope::Privacy).await?;
    let Path(id) = id.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let doc =
        crate::workflow::requests::export_by_id(&s.store, id, &actor(&token), chrono::Utc::now())
            .await
            .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    Ok(json_response(StatusCode::OK, &doc))
}
