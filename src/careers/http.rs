//! The careers listener (`[careers] listen`): Greenhouse's Job Board API
//! under `/v1/boards/{board}` and the careers pages under `/careers`, and
//! nothing else — not `/v1`'s other routes, not `/board`, `/metrics` or
//! `/healthz`, so that an operator can expose this listener alone.
//!
//! Reads carry `ETag` (the board's version and the request) and
//! `Cache-Control: max-age=0, private, must-revalidate` as Greenhouse's do;
//! the live jobs are read once per change of the board ([`Cache`]).
//! Applications are written by the API's intake queue (the same
//! transaction, email, rules, events and webhooks as `atsd apply`), after
//! their files are kept. A second application of one person to one
//! posting answers as the first did and stores nothing (no way to learn who
//! applied). Per-address rate limit, body caps, a honeypot, the board's
//! cross-site rule on the form.

use super::apply::{self, Submission};
use super::{Job, files, greenhouse, pages};
use crate::api::intake;
use crate::jobs::Runner;
use crate::store::{Store, candidates, careers as store_careers, tokens};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Room for the form's fields beyond its files.
const FORM_SLACK: usize = 256 * 1024;
/// At most this many files in one application.
const MAX_FILES: usize = 8;

#[derive(Clone)]
pub struct CareersState {
    pub store: Store,
    pub current: Arc<crate::api::Current>,
    pub intake: intake::Queue,
    pub cache: Arc<Cache>,
    pub limiter: Arc<AddressLimiter>,
    /// The most a request body may hold ([`max_body`]).
    pub max_body: usize,
}

/// The live jobs of the board's current version, and the answers rendered
/// from them, forgotten when the version changes.
#[derive(Default)]
pub struct Cache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    version: String,
    jobs: Arc<Vec<Job>>,
    answers: HashMap<String, Bytes>,
}

impl Cache {
    async fn jobs(&self, store: &Store) -> crate::error::Result<(String, Arc<Vec<Job>>)> {
        let version = store_careers::version(store.conn()).await?;
        if let Ok(c) = self.inner.lock()
            && c.version == version
        {
            return Ok((version, c.jobs.clone()));
        }
        let jobs: Arc<Vec<Job>> = Arc::new(
            store_careers::live(store.conn())
                .await?
                .into_iter()
                .map(Job::of)
                .collect(),
        );
        if let Ok(mut c) = self.inner.lock() {
            *c = CacheInner {
                version: version.clone(),
                jobs: jobs.clone(),
                answers: HashMap::new(),
            };
        }
        Ok((version, jobs))
    }

    fn answer(&self, version: &str, key: &str) -> Option<Bytes> {
        let c = self.inner.lock().ok()?;
        (c.version == version).then(|| c.answers.get(key).cloned())?
    }

    fn keep(&self, version: &str, key: String, body: Bytes) {
        if let Ok(mut c) = self.inner.lock()
            && c.version == version
            && c.answers.len() < 1024
        {
            c.answers.insert(key, body);
        }
    }
}

/// A token bucket per client address: `rate` applications a minute, a
/// burst of as many.
#[derive(Default)]
pub struct AddressLimiter {
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl AddressLimiter {
    /// Takes one; the seconds to wait when there is none.
    pub fn take(&self, ip: IpAddr, per_minute: u32) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let Ok(mut b) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if b.len() > 100_000 {
            // forget the quiet ones rather than grow without bound
            b.retain(|_, (_, t)| now.duration_since(*t).as_secs() < 60);
        }
        let cap = f64::from(per_minute);
        let (tokens, last) = b.entry(ip).or_insert((cap, now));
        let refill = now.duration_since(*last).as_secs_f64() * cap / 60.0;
        *tokens = (*tokens + refill).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - *tokens) * 60.0 / cap).ceil() as u64).max(1))
        }
    }
}

/// The careers listener's routes.
pub fn router(state: CareersState, max_body: usize) -> Router {
    let board = |p: &str| format!("/v1/boards/{{board}}{p}");
    let mut r = Router::new();
    for slash in ["", "/"] {
        r = r
            .route(&board(slash), get(board_info))
            .route(&board(&format!("/jobs{slash}")), get(list_jobs))
            .route(
                &board(&format!("/jobs/{{id}}{slash}")),
                get(one_job).post(api_apply),
            )
            .route(&board(&format!("/departments{slash}")), get(departments))
            .route(
                &board(&format!("/departments/{{id}}{slash}")),
                get(department),
            )
            .route(&board(&format!("/offices{slash}")), get(offices))
            .route(&board(&format!("/offices/{{id}}{slash}")), get(office));
    }
    r.route("/careers", get(list_page))
        .route(
            "/careers/",
            get(|| async { Redirect::permanent("/careers") }),
        )
        .route("/careers/jobs/{id}", get(job_page).post(form_apply))
        .route("/careers/thanks", get(thanks))
        .route("/robots.txt", get(robots))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"status": 404, "error": "Not found"})),
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// The body cap of `config`: the biggest files an application may bring, and room.
pub fn max_body(config: &crate::config::Config) -> usize {
    let file = config
        .careers
        .as_ref()
        .map(|c| c.max_file.0)
        .unwrap_or(10 << 20);
    // base64 in JSON is 4/3 of the bytes; two files, the form's fields
    usize::try_from(file.saturating_mul(3)).unwrap_or(usize::MAX / 2) + FORM_SLACK
}

async fn robots() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "User-agent: *\nAllow: /careers\nDisallow: /v1/\n",
    )
}

#[allow(clippy::result_large_err)] // the refusal is the answer, as in the async handlers
fn runner(s: &CareersState) -> Result<Arc<Runner>, Response> {
    s.current.get().ok_or_else(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": 503, "error": "starting"})),
        )
            .into_response()
    })
}

fn gh_error(status: StatusCode, error: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"status": status.as_u16(), "error": error.into()})),
    )
        .into_response()
}

fn job_not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(greenhouse::not_found())).into_response()
}

/// The board named in the path must be ours.
fn our_board(r: &Runner, board: &str) -> bool {
    r.config
        .careers
        .as_ref()
        .is_some_and(|c| c.board.eq_ignore_ascii_case(board))
}

/// A cached JSON read: 304 when the client has it, else the body.
async fn read<F>(s: &CareersState, headers: &HeaderMap, key: String, make: F) -> Response
where
    F: FnOnce(&Runner, &[Job]) -> Option<Json>,
{
    let r = match runner(s) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (version, jobs) = match s.cache.jobs(&s.store).await {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "careers: cannot read the board");
            return gh_error(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    };
    // strong: the same version and request give the same bytes
    let etag = format!(
        "\"{}\"",
        &files::digest(format!("{version}|{key}").as_bytes())[..20]
    );
    let cache_headers = |resp: &mut Response| {
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=0, private, must-revalidate"),
        );
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(&mut resp);
        return resp;
    }
    let body = match s.cache.answer(&version, &key) {
        Some(b) => b,
        None => match make(&r, &jobs) {
            Some(v) => {
                let b = Bytes::from(v.to_string());
                s.cache.keep(&version, key, b.clone());
                b
            }
            None => return job_not_found(),
        },
    };
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response();
    cache_headers(&mut resp);
    resp
}

#[derive(serde::Deserialize, Default)]
struct ReadQuery {
    content: Option<String>,
    questions: Option<String>,
    pay_transparency: Option<String>,
}

fn yes(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v == "true" || v == "1")
}

async fn board_info(
    State(s): State<CareersState>,
    Path(board): Path<String>,
    headers: HeaderMap,
) -> Response {
    read(&s, &headers, format!("board|{board}"), |r, _| {
        our_board(r, &board).then(|| greenhouse::board(&r.config))
    })
    .await
}

async fn list_jobs(
    State(s): State<CareersState>,
    Path(board): Path<String>,
    Query(q): Query<ReadQuery>,
    headers: HeaderMap,
) -> Response {
    let content = yes(&q.content);
    read(
        &s,
        &headers,
        format!("jobs|{board}|{content}"),
        |r, jobs| our_board(r, &board).then(|| greenhouse::jobs(&r.config, jobs, content)),
    )
    .await
}

async fn one_job(
    State(s): State<CareersState>,
    Path((board, id)): Path<(String, String)>,
    Query(q): Query<ReadQuery>,
    headers: HeaderMap,
) -> Response {
    let (qs, pay) = (yes(&q.questions), yes(&q.pay_transparency));
    read(
        &s,
        &headers,
        format!("job|{board}|{id}|{qs}|{pay}"),
        |r, jobs| {
            if !our_board(r, &board) {
                return None;
            }
            let id: i64 = id.parse().ok()?;
            let j = jobs.iter().find(|j| j.posting.id == id)?;
            Some(greenhouse::one_job(&r.config, j, qs, pay))
        },
    )
    .await
}

async fn departments(
    State(s): State<CareersState>,
    Path(board): Path<String>,
    headers: HeaderMap,
) -> Response {
    read(&s, &headers, format!("departments|{board}"), |r, jobs| {
        our_board(r, &board).then(|| greenhouse::departments(&r.config, jobs))
    })
    .await
}

async fn department(
    State(s): State<CareersState>,
    Path((board, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(
        &s,
        &headers,
        format!("department|{board}|{id}"),
        |r, jobs| {
            if !our_board(r, &board) {
                return None;
            }
            greenhouse::department_by_id(&r.config, jobs, id.parse().ok()?)
        },
    )
    .await
}

async fn offices(
    State(s): State<CareersState>,
    Path(board): Path<String>,
    headers: HeaderMap,
) -> Response {
    read(&s, &headers, format!("offices|{board}"), |r, jobs| {
        our_board(r, &board).then(|| greenhouse::offices(&r.config, jobs))
    })
    .await
}

async fn office(
    State(s): State<CareersState>,
    Path((board, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&s, &headers, format!("office|{board}|{id}"), |r, jobs| {
        if !our_board(r, &board) {
            return None;
        }
        greenhouse::office_by_id(&r.config, jobs, id.parse().ok()?)
    })
    .await
}

/// The client's address: the connection's, or behind a proxy (`[careers]
/// forwarded_for`) the last of `X-Forwarded-For`.
fn client(r: &Runner, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
    let behind = r.config.careers.as_ref().is_some_and(|c| c.forwarded_for);
    if behind
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    peer.map(|p| p.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// What writing an application came to.
enum Outcome {
    /// Written (or, for a second application, answered as if).
    Saved,
    /// Each problem naming its field; nothing stored.
    Refused(Vec<(String, String)>),
    /// The job is not live.
    Gone,
    Failed,
}

/// Checks, keeps the files, writes the application through the intake
/// queue. A bot (the honeypot filled) is answered as a person and nothing
/// is stored.
async fn submit(
    s: &CareersState,
    r: Arc<Runner>,
    job_id: &str,
    sub: Submission,
    actor: String,
    token_id: i64,
    key: Option<(String, String)>,
) -> Outcome {
    let Ok(id) = job_id.parse::<i64>() else {
        return Outcome::Gone;
    };
    let job = match store_careers::posting(s.store.conn(), id).await {
        Ok(Some(p)) => Job::of(p),
        Ok(None) => return Outcome::Gone,
        Err(e) => {
            tracing::error!(error = %e, "careers: cannot read the posting");
            return Outcome::Failed;
        }
    };
    if !job.is_live() {
        return Outcome::Gone;
    }
    let max_file = r
        .config
        .careers
        .as_ref()
        .map(|c| c.max_file.0)
        .unwrap_or(10 << 20);
    if sub.is_bot() {
        tracing::info!(posting = id, "careers: a filled honeypot; nothing stored");
        return Outcome::Saved;
    }
    let checked = match apply::check(&job, &sub, max_file) {
        Ok(c) => c,
        Err(errs) => return Outcome::Refused(errs),
    };
    // the same person again: the same answer, nothing stored
    match candidates::find_by_email(s.store.conn(), &checked.candidate.email).await {
        Ok(Some(c)) => {
            if let Ok(Some(_)) =
                crate::store::applications::find_for(s.store.conn(), c.id, id).await
            {
                tracing::info!(
                    posting = id,
                    "careers: a second application of one person; nothing stored"
                );
                return Outcome::Saved;
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "careers: cannot read the candidates");
            return Outcome::Failed;
        }
    }
    let dir = files::dir(&r.config, s.store.url());
    let mut kept = Vec::new();
    for (u, media_type) in &checked.files {
        let bytes = u.bytes.clone();
        let d = dir.clone();
        match tokio::task::spawn_blocking(move || files::keep(&d, &bytes)).await {
            Ok(Ok(sha)) => kept.push(store_careers::NewFile {
                field: u.field.clone(),
                name: u.name.clone(),
                media_type: media_type.to_string(),
                size: u.bytes.len() as i64,
                sha256: sha,
            }),
            other => {
                tracing::error!(dir = %dir.display(), error = ?other.map(|r| r.err()), "careers: cannot keep a file");
                return Outcome::Failed;
            }
        }
    }
    let form = store_careers::NewForm {
        phone: checked.phone,
        answers: serde_json::to_string(&checked.answers).unwrap_or_else(|_| "{}".into()),
        source: checked.source.or_else(|| Some("careers".into())),
        consent: checked.consent,
        files: kept,
    };
    let done = s
        .intake
        .submit(intake::Request {
            runner: r,
            token_id,
            actor,
            posting: id.to_string(),
            input: checked.candidate,
            key,
            form: Some(form),
        })
        .await;
    match done {
        Ok(_) => Outcome::Saved,
        // a second application racing this one lost to the unique index
        Err(crate::Error::Refused(m)) if m.contains("already applied") => Outcome::Saved,
        Err(e) => {
            tracing::error!(posting = id, error = %e, "careers: the application was not written");
            Outcome::Failed
        }
    }
}

/// `POST /v1/boards/{board}/jobs/{id}`: HTTP Basic with an `intake`
/// token as the user name, JSON or `multipart/form-data`.
async fn api_apply(
    State(s): State<CareersState>,
    Path((board, id)): Path<(String, String)>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    let r = match runner(&s) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if !our_board(&r, &board) {
        return job_not_found();
    }
    let Some(token) = basic_token(&headers) else {
        return unauthorized();
    };
    let token = match tokens::authenticate(&s.store, &token, chrono::Utc::now()).await {
        Ok(Some(t))
            if tokens::Scope::parse(&t.scope).is_ok_and(|sc| sc.allows(tokens::Scope::Intake)) =>
        {
            t
        }
        Ok(_) => return unauthorized(),
        Err(e) => {
            tracing::error!(error = %e, "careers: cannot check a token");
            return gh_error(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    };
    let ip = client(&r, peer.map(|p| p.0.0), &headers);
    let rate = r
        .config
        .careers
        .as_ref()
        .map(|c| c.rate_per_minute)
        .unwrap_or(0);
    if let Err(wait) = s.limiter.take(ip, rate) {
        return too_many(wait);
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .map(str::to_string);
    let sub = match read_submission(&headers, req, s.max_body).await {
        Ok(sub) => sub,
        Err((status, field, msg)) => return gh_error(status, format!("{field}: {msg}")),
    };
    let hash = tokens::sha256(format!("{id}|{:?}", sub.texts).as_bytes());
    if let Some(k) = &key
        && let Ok(Some(kept)) = crate::store::idempotency::find(s.store.conn(), token.id, k).await
    {
        if kept.request_hash != hash {
            return gh_error(
                StatusCode::CONFLICT,
                "Idempotency-Key: used for another request",
            );
        }
        return saved();
    }
    let actor = format!("token:{}", token.name);
    match submit(&s, r, &id, sub, actor, token.id, key.map(|k| (k, hash))).await {
        Outcome::Saved => saved(),
        Outcome::Refused(errs) => {
            let (field, msg) = errs.first().cloned().unwrap_or_default();
            let mut resp = gh_error(StatusCode::BAD_REQUEST, format!("{field}: {msg}"));
            if let Ok(v) = serde_json::to_string(
                &errs
                    .iter()
                    .map(|(f, m)| json!({"field": f, "message": m}))
                    .collect::<Vec<_>>(),
            ) {
                *resp.body_mut() = axum::body::Body::from(
                    json!({"status": 400, "error": format!("{field}: {msg}"), "errors": serde_json::from_str::<Json>(&v).unwrap_or_default()}).to_string(),
                );
            }
            resp
        }
        Outcome::Gone => job_not_found(),
        Outcome::Failed => gh_error(StatusCode::SERVICE_UNAVAILABLE, "try again later"),
    }
}

fn saved() -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"success": "Candidate saved successfully"})),
    )
        .into_response()
}

fn unauthorized() -> Response {
    let mut r = gh_error(StatusCode::UNAUTHORIZED, "Invalid Basic Auth credentials");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"atsd\""),
    );
    r
}

fn too_many(wait: u64) -> Response {
    let mut r = gh_error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many applications from this address",
    );
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The user name of `Authorization: Basic …` (Greenhouse's API key; here
/// an `intake` token).
fn basic_token(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let user = text.split(':').next()?.trim().to_string();
    (!user.is_empty()).then_some(user)
}

/// Reads a JSON or multipart body; a problem as (status, field, message).
async fn read_submission(
    headers: &HeaderMap,
    req: axum::extract::Request,
    max_body: usize,
) -> Result<Submission, (StatusCode, String, String)> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let mp = <Multipart as axum::extract::FromRequest<()>>::from_request(req, &())
            .await
            .map_err(|e| (StatusCode::BAD_REQUEST, "body".to_string(), e.body_text()))?;
        read_multipart(mp).await
    } else if ct.starts_with("application/json") {
        let bytes = axum::body::to_bytes(req.into_body(), max_body)
            .await
            .map_err(|_| {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body".to_string(),
                    "is too large".to_string(),
                )
            })?;
        let v: Json = serde_json::from_slice(&bytes).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                "body".to_string(),
                format!("is not JSON: {e}"),
            )
        })?;
        Submission::from_json(&v).map_err(|(f, m)| (StatusCode::BAD_REQUEST, f, m))
    } else {
        Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type".into(),
            "send multipart/form-data or application/json".into(),
        ))
    }
}

async fn read_multipart(mut mp: Multipart) -> Result<Submission, (StatusCode, String, String)> {
    let mut s = Submission::default();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let status = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                return Err((status, "body".into(), e.body_text()));
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if name.is_empty() || name.len() > 100 {
            return Err((
                StatusCode::BAD_REQUEST,
                "body".into(),
                "a part without a field name".into(),
            ));
        }
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| {
            let status = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            (status, name.clone(), e.body_text())
        })?;
        match file_name {
            Some(f) => {
                if bytes.is_empty() && f.is_empty() {
                    continue; // an empty file input
                }
                if s.uploads.len() >= MAX_FILES {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        name,
                        format!("at most {MAX_FILES} files"),
                    ));
                }
                s.uploads.push(apply::Upload {
                    field: name,
                    name: f,
                    bytes: bytes.to_vec(),
                });
            }
            None => {
                let t = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    (
                        StatusCode::BAD_REQUEST,
                        name.clone(),
                        "is not UTF-8 text".to_string(),
                    )
                })?;
                s.push_text(&name, t);
            }
        }
    }
    Ok(s)
}

fn page(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
            (
                header::CONTENT_SECURITY_POLICY,
                // connect-src 'self': no script runs, but Lighthouse reads
                // /robots.txt from inside the page (GoogleChrome/lighthouse#4386)
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

fn locale(r: &Runner, headers: &HeaderMap) -> &'static pages::Words {
    pages::words(pages::locale_of(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        &r.config.org.default_locale,
    ))
}

async fn list_page(
    State(s): State<CareersState>,
    Query(f): Query<pages::Filter>,
    headers: HeaderMap,
) -> Response {
    let r = match runner(&s) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match s.cache.jobs(&s.store).await {
        Ok((_, jobs)) => page(
            StatusCode::OK,
            pages::list(&r.config, locale(&r, &headers), &jobs, &f),
        ),
        Err(e) => {
            tracing::error!(error = %e, "careers: cannot read the board");
            page(StatusCode::SERVICE_UNAVAILABLE, String::new())
        }
    }
}

async fn live_job(s: &CareersState, id: &str) -> Option<Job> {
    let id: i64 = id.parse().ok()?;
    let (_, jobs) = s.cache.jobs(&s.store).await.ok()?;
    jobs.iter().find(|j| j.posting.id == id).cloned()
}

async fn job_page(
    State(s): State<CareersState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let r = match runner(&s) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let w = locale(&r, &headers);
    match live_job(&s, &id).await {
        Some(j) => page(
            StatusCode::OK,
            pages::job(&r.config, w, &j, &pages::Refill::default()),
        ),
        None => page(
            StatusCode::NOT_FOUND,
            pages::message(&r.config, w, w.careers, w.gone),
        ),
    }
}

/// `POST /careers/jobs/{id}`: the form. Refused from another site; each
/// problem shown beside what was typed; the same thank-you page for a
/// first, a second and a bot's application.
async fn form_apply(
    State(s): State<CareersState>,
    Path(id): Path<String>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    let r = match runner(&s) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let w = locale(&r, &headers);
    let Some(job) = live_job(&s, &id).await else {
        return page(
            StatusCode::NOT_FOUND,
            pages::message(&r.config, w, w.careers, w.gone),
        );
    };
    let again = |status: StatusCode, refill: pages::Refill| {
        page(status, pages::job(&r.config, w, &job, &refill))
    };
    if crate::recruiter_board::actions::cross_site(&headers) {
        return again(
            StatusCode::FORBIDDEN,
            pages::Refill {
                notice: Some(w.cross_site.into()),
                ..Default::default()
            },
        );
    }
    let ip = client(&r, peer.map(|p| p.0.0), &headers);
    let rate = r
        .config
        .careers
        .as_ref()
        .map(|c| c.rate_per_minute)
        .unwrap_or(0);
    if let Err(wait) = s.limiter.take(ip, rate) {
        let mut resp = again(
            StatusCode::TOO_MANY_REQUESTS,
            pages::Refill {
                notice: Some(w.too_many.into()),
                ..Default::default()
            },
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let sub = match read_submission(&headers, req, s.max_body).await {
        Ok(sub) => sub,
        Err((status, field, msg)) => {
            return again(
                status,
                pages::Refill {
                    problems: vec![(field, msg)],
                    ..Default::default()
                },
            );
        }
    };
    let texts = sub.texts.clone();
    match submit(&s, r.clone(), &id, sub, "candidate".into(), 0, None).await {
        Outcome::Saved => Redirect::to("/careers/thanks").into_response(),
        Outcome::Refused(problems) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::Refill {
                texts,
                problems,
                notice: None,
            },
        ),
        Outcome::Gone => page(
            StatusCode::NOT_FOUND,
            pages::message(&r.config, w, w.careers, w.gone),
        ),
        Outcome::Failed => page(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(&r.config, w, w.careers, w.gone),
        ),
    }
}

async fn thanks(State(s): State<CareersState>, headers: HeaderMap) -> Response {
    let r = match runner(&s) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let w = locale(&r, &headers);
    page(
        StatusCode::OK,
        pages::message(&r.config, w, w.thanks_title, w.thanks),
    )
}
