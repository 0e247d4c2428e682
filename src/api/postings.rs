//! `/v1/postings` and `/v1/people`: the postings, adding one, a posting's
//! team; the hiring side; and `/v1/report`.

use super::*;

/// Every posting.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PostingList {
    items: Vec<entity::posting::Model>,
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
pub(super) async fn list_people(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let rows = crate::store::people::list(&s.store, false)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    Ok(json_response(StatusCode::OK, &PersonList { items: rows }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"recruiter": "ada@example.org", "hiring_managers": ["lin@example.org"], "coordinators": []}))]
pub(super) struct TeamBody {
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
pub(super) async fn set_posting_team(
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
pub(super) async fn list_postings(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let rows = crate::store::postings::list(s.store.conn(), None)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    Ok(json_response(StatusCode::OK, &PostingList { items: rows }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://boards.greenhouse.io/acme/jobs/2", "title": "Line cook"}))]
pub(super) struct NewPostingBody {
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
pub(super) async fn add_posting(
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
pub(super) async fn report(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    authorize(&s, &headers, Scope::Read).await?;
    let r = runner(&s)?;
    let data = crate::store::stats::report_data(s.store.conn(), None)
        .await
        .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    let th = crate::report::stale_thresholds(&r.config, &r.pipeline, chrono::Duration::days(14));
    let rep = crate::report::build(&data, &r.pipeline, &th, chrono::Utc::now());
    Ok(json_response(StatusCode::OK, &rep))
}
