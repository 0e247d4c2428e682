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

use super::submit::{Outcome, client, read_submission, submit};
use super::{Job, files, greenhouse, pages};
use crate::api::intake;
use crate::jobs::Runner;
use crate::store::{Store, careers as store_careers};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
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

#[derive(Clone)]
pub struct CareersState {
    pub store: Store,
    pub current: Arc<crate::jobs::Current>,
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
                get(one_job).post(super::submit::api_apply),
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
pub(super) fn runner(s: &CareersState) -> Result<Arc<Runner>, Response> {
    s.current.get().ok_or_else(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": 503, "error": "starting"})),
        )
            .into_response()
    })
}

pub(super) fn gh_error(status: StatusCode, error: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"status": status.as_u16(), "error": error.into()})),
    )
        .into_response()
}

pub(super) fn job_not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(greenhouse::not_found())).into_response()
}

/// The board named in the path must be ours.
pub(super) fn our_board(r: &Runner, board: &str) -> bool {
    r.config
        .careers
        .as_ref()
        .is_some_and(|c| c.board.eq_ignore_ascii_case(board))
}

/// A cached JSON read of `board` (any other board: "Job not found"): 304
/// when the client has it, else the body.
async fn read<F>(
    s: &CareersState,
    headers: &HeaderMap,
    board: &str,
    key: String,
    make: F,
) -> Response
where
    F: FnOnce(&Runner, &[Job]) -> Option<Json>,
{
    let r = match runner(s) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if !our_board(&r, board) {
        return job_not_found();
    }
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
    read(&s, &headers, &board, "board".into(), |r, _| {
        Some(greenhouse::board(&r.config))
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
        &board,
        format!("jobs|{content}"),
        |r, jobs| Some(greenhouse::jobs(&r.config, jobs, content)),
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
        &board,
        format!("job|{id}|{qs}|{pay}"),
        |r, jobs| {
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
    read(&s, &headers, &board, "departments".into(), |r, jobs| {
        Some(greenhouse::departments(&r.config, jobs))
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
        &board,
        format!("department|{id}"),
        |r, jobs| greenhouse::department_by_id(&r.config, jobs, id.parse().ok()?),
    )
    .await
}

async fn offices(
    State(s): State<CareersState>,
    Path(board): Path<String>,
    headers: HeaderMap,
) -> Response {
    read(&s, &headers, &board, "offices".into(), |r, jobs| {
        Some(greenhouse::offices(&r.config, jobs))
    })
    .await
}

async fn office(
    State(s): State<CareersState>,
    Path((board, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&s, &headers, &board, format!("office|{id}"), |r, jobs| {
        greenhouse::office_by_id(&r.config, jobs, id.parse().ok()?)
    })
    .await
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
    if crate::service::http::cross_site(&headers) {
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
