//! Applications on the careers listener: Greenhouse's `POST
//! /v1/boards/{board}/jobs/{id}` and what the careers form shares with it
//! — reading a JSON or multipart body, the client's address for the rate
//! limit, and [`submit`]: check, keep the files, write through the intake
//! queue.

use super::apply::{self, Submission};
use super::http::{CareersState, gh_error, job_not_found, our_board, runner};
use super::{Job, files};
use crate::api::intake;
use crate::jobs::Runner;
use crate::store::{candidates, careers as store_careers, tokens};
use axum::extract::{ConnectInfo, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// At most this many files in one application.
const MAX_FILES: usize = 8;

/// The client's address: the connection's, or behind a proxy (`[careers]
/// forwarded_for`) the last of `X-Forwarded-For`.
pub(super) fn client(r: &Runner, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
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
pub(super) enum Outcome {
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
// Stays whole: the steps of one application in the order of its transaction.
pub(super) async fn submit(
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
pub(super) async fn api_apply(
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

pub(super) fn saved() -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"success": "Candidate saved successfully"})),
    )
        .into_response()
}

pub(super) fn unauthorized() -> Response {
    let mut r = gh_error(StatusCode::UNAUTHORIZED, "Invalid Basic Auth credentials");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"atsd\""),
    );
    r
}

pub(super) fn too_many(wait: u64) -> Response {
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
pub(super) fn basic_token(headers: &HeaderMap) -> Option<String> {
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
pub(super) async fn read_submission(
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

pub(super) async fn read_multipart(
    mut mp: Multipart,
) -> Result<Submission, (StatusCode, String, String)> {
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
