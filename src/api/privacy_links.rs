//! The candidate's privacy pages (see [`crate::workflow::asked`]): no
//! token, only the signed links. `GET` shows and changes nothing (mail
//! scanners open links); `POST` acts, refused when sent from another site.
//! Plain HTML, never cached, never framed, no script.

use super::ApiState;
use super::selfservice::{html, unavailable};
use crate::selfservice::privacy::{self, Words};
use crate::selfservice::{self as links, IdClaim, Links, Refusal};
use crate::workflow::asked::{self, Asked};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The most a privacy form may send (bytes): one button's name and value.
pub const FORM_LIMIT: usize = 1024;

struct Seen {
    claim: IdClaim,
    locale: String,
    org: String,
    email: String,
}

fn refusal(w: &Words, org: &str, r: Refusal) -> Response {
    let (status, text) = match r {
        Refusal::Invalid => (StatusCode::FORBIDDEN, w.invalid),
        Refusal::Expired => (StatusCode::GONE, w.expired),
        Refusal::Used => (StatusCode::GONE, w.used),
        Refusal::Closed => (StatusCode::GONE, w.gone),
    };
    html(status, privacy::page(w, org, text, None, None))
}

type Check =
    fn(&Links, &str, chrono::DateTime<chrono::Utc>) -> std::result::Result<IdClaim, Refusal>;

/// A token's signature and expiry checked by `check`; the organisation's
/// name and default locale (a refusal's words) with it.
#[allow(clippy::result_large_err)] // the refusal is the page the visitor gets, as in the async callers
fn checked(
    s: &ApiState,
    token: &str,
    check: Check,
) -> std::result::Result<(IdClaim, String, String), Response> {
    let runner = super::runner(s).map_err(IntoResponse::into_response)?;
    let org = runner.config.org.name.clone();
    let default = runner.config.org.default_locale.clone();
    let Some(l) = runner.links.as_deref() else {
        return Err(refusal(privacy::words(&default), &org, Refusal::Invalid));
    };
    match check(l, token, chrono::Utc::now()) {
        Ok(claim) => Ok((claim, org, default)),
        Err(r) => Err(refusal(privacy::words(&default), &org, r)),
    }
}

/// Checks a privacy link: signed, not expired, a candidate atsd still
/// holds, not used to ask before.
async fn look(s: &ApiState, token: &str) -> std::result::Result<Seen, Response> {
    let (claim, org, default) = checked(s, token, Links::check_privacy)?;
    let cand = match asked::candidate_of(s.store.conn(), &claim).await {
        Ok(Ok(c)) => c,
        Ok(Err(r)) => return Err(refusal(privacy::words(&default), &org, r)),
        Err(e) => {
            tracing::error!(error = %e, "privacy link: cannot read the candidate");
            return Err(unavailable());
        }
    };
    let locale = cand.locale.clone().unwrap_or(default);
    match asked::link_used(s.store.conn(), &claim.nonce).await {
        Ok(false) => {}
        Ok(true) => return Err(refusal(privacy::words(&locale), &org, Refusal::Used)),
        Err(e) => {
            tracing::error!(error = %e, "privacy link: cannot read its use");
            return Err(unavailable());
        }
    }
    Ok(Seen {
        claim,
        locale,
        org,
        email: cand.email,
    })
}

/// `GET /self-service/privacy/{token}`: the two choices.
pub async fn choices(State(s): State<ApiState>, Path(token): Path<String>) -> Response {
    let seen = match look(&s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let w = privacy::words(&seen.locale);
    let action = format!("{}/{token}", links::PRIVACY_PATH);
    html(
        StatusCode::OK,
        privacy::page(
            w,
            &seen.org,
            &w.intro.replace("{org}", &seen.org),
            None,
            Some(&action),
        ),
    )
}

/// `POST /self-service/privacy/{token}`: opens the request asked for, once.
pub async fn ask(
    State(s): State<ApiState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    form: std::result::Result<
        axum::extract::Form<std::collections::HashMap<String, String>>,
        axum::extract::rejection::FormRejection,
    >,
) -> Response {
    let seen = match look(&s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let w = privacy::words(&seen.locale);
    let action = format!("{}/{token}", links::PRIVACY_PATH);
    let intro = w.intro.replace("{org}", &seen.org);
    let again = |status: StatusCode, notice: &str| {
        html(
            status,
            privacy::page(w, &seen.org, &intro, Some(notice), Some(&action)),
        )
    };
    if crate::service::http::cross_site(&headers) {
        return again(StatusCode::FORBIDDEN, w.cross_site);
    }
    let kind = match &form {
        Ok(axum::extract::Form(f)) => f.get("kind").map(|k| k.trim()).unwrap_or(""),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return again(StatusCode::PAYLOAD_TOO_LARGE, w.missing);
        }
        Err(_) => "",
    };
    if !asked::KINDS.contains(&kind) {
        return again(StatusCode::UNPROCESSABLE_ENTITY, w.missing);
    }
    let Ok(runner) = super::runner(&s) else {
        return unavailable();
    };
    let ctx = runner.ctx(chrono::Utc::now());
    match asked::ask(&s.store, &ctx, &seen.claim, kind).await {
        Ok(Asked::Opened(r)) => {
            let text = if r.kind == "access" {
                w.opened_access.replace("{email}", &seen.email)
            } else {
                let tz = runner.config.schedule.timezone.clone();
                w.opened_erasure.replace(
                    "{due}",
                    &crate::templates::format_date(r.due_at, &seen.locale, Some(&tz)),
                )
            };
            html(
                StatusCode::OK,
                privacy::page(w, &seen.org, &text, None, None),
            )
        }
        Ok(Asked::Refused(r)) => refusal(w, &seen.org, r),
        Err(e) => {
            tracing::error!(candidate = seen.claim.id, error = %e, "a candidate's data request failed");
            unavailable()
        }
    }
}

/// Checks a download link; the locale of its candidate.
async fn look_download(
    s: &ApiState,
    token: &str,
) -> std::result::Result<(IdClaim, String, String), Response> {
    let (claim, org, default) = checked(s, token, Links::check_export)?;
    match asked::download_target(s.store.conn(), &claim).await {
        Ok(Ok((_, cand))) => Ok((claim, cand.locale.unwrap_or(default), org)),
        Ok(Err(r)) => Err(refusal(privacy::words(&default), &org, r)),
        Err(e) => {
            tracing::error!(error = %e, "download link: cannot read its request");
            Err(unavailable())
        }
    }
}

/// `GET /self-service/export/{token}`: the download button.
pub async fn download_page(State(s): State<ApiState>, Path(token): Path<String>) -> Response {
    let (_, locale, org) = match look_download(&s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let w = privacy::words(&locale);
    let action = format!("{}/{token}", links::EXPORT_PATH);
    html(
        StatusCode::OK,
        privacy::download_page(w, &org, w.download_intro, Some(&action)),
    )
}

/// `POST /self-service/export/{token}`: the export, as a JSON file, once.
pub async fn download(
    State(s): State<ApiState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (claim, locale, org) = match look_download(&s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let w = privacy::words(&locale);
    if crate::service::http::cross_site(&headers) {
        let action = format!("{}/{token}", links::EXPORT_PATH);
        return html(
            StatusCode::FORBIDDEN,
            privacy::download_page(w, &org, w.cross_site, Some(&action)),
        );
    }
    match asked::download(&s.store, &claim, chrono::Utc::now()).await {
        Ok(Ok(d)) => {
            tracing::info!(
                request = claim.id,
                candidate = d.candidate_id,
                "export downloaded through its link"
            );
            let body = serde_json::to_vec_pretty(&d.doc).unwrap_or_default();
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/json".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!(
                            "attachment; filename=\"candidate-{}-export.json\"",
                            d.candidate_id
                        ),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                    (header::REFERRER_POLICY, "no-referrer".to_string()),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                ],
                body,
            )
                .into_response()
        }
        Ok(Err(r)) => refusal(w, &org, r),
        Err(e) => {
            tracing::error!(request = claim.id, error = %e, "download by link failed");
            unavailable()
        }
    }
}
