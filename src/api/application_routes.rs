//! `/v1/applications`: intake of one (idempotent), the list by keyset, one
//! application, a move.

use super::*;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"posting": 1, "name": "Grace Hopper", "email": "grace@example.org", "locale": "en", "timezone": "America/New_York"}))]
pub(super) struct NewApplicationBody {
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
pub(super) async fn create_application(
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
pub(super) fn idempotency_key_of(
    headers: &HeaderMap,
) -> std::result::Result<Option<String>, Problem> {
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

pub(super) fn application_id(answer: &str) -> String {
    serde_json::from_str::<Value>(answer)
        .ok()
        .and_then(|v| v["application"]["id"].as_i64())
        .map(|i| i.to_string())
        .unwrap_or_default()
}

pub(super) fn raw_json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The kept answer to an earlier request with this key, if any; 422 when
/// the key was used for another request.
pub(super) async fn replay(
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
pub(super) struct ListQuery {
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

/// A path id that is not a number is a 422 naming it, like any bad field.
pub(super) fn id_of(
    p: std::result::Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> std::result::Result<i64, Problem> {
    p.map(|Path(id)| id)
        .map_err(|_| Problem::fields(vec![("id", "not an application id".into())]))
}

/// The opaque cursor: the last id seen, in hex behind a version letter.
pub(super) fn cursor_of(id: i64) -> String {
    format!("a{id:x}")
}

pub(super) fn after_cursor(c: &str) -> Option<i64> {
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
pub(super) async fn list_applications(
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
pub(super) async fn get_application(
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
pub(super) struct MoveBody {
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
pub(super) async fn move_application(
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
