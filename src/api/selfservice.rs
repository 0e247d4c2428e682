//! The candidate's withdraw pages (see [`crate::selfservice`]): no token,
//! only the signed link. Plain HTML, never cached, never framed.

use super::ApiState;
use crate::selfservice::{self, Refusal, words};
use crate::workflow::{self, Withdrawn};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use entity::{application, candidate, posting};
use sea_orm::EntityTrait;

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

/// The application the link names, with what the page shows of it.
struct Seen {
    app: application::Model,
    locale: String,
    posting: String,
    org: String,
}

async fn look(
    s: &ApiState,
    token: &str,
) -> std::result::Result<
    (
        std::sync::Arc<crate::jobs::Runner>,
        selfservice::Claim,
        Seen,
    ),
    Response,
> {
    let runner = super::runner(s).map_err(IntoResponse::into_response)?;
    let refuse = |locale: &str, r: Refusal| refusal(locale, &runner.config.org.name, r);
    let default = runner.config.org.default_locale.clone();
    let Some(links) = runner.links.as_deref() else {
        return Err(refuse(&default, Refusal::Invalid));
    };
    let claim = links
        .check(token, chrono::Utc::now())
        .map_err(|r| refuse(&default, r))?;
    let found = application::Entity::find_by_id(claim.application_id)
        .find_also_related(candidate::Entity)
        .one(s.store.conn())
        .await;
    let Ok(Some((app, Some(cand)))) = found else {
        return Err(refuse(&default, Refusal::Invalid));
    };
    let locale = cand.locale.clone().unwrap_or(default);
    let posting = posting::Entity::find_by_id(app.posting_id)
        .one(s.store.conn())
        .await
        .ok()
        .flatten()
        .map(|p| p.title)
        .unwrap_or_default();
    if runner.pipeline.is_terminal(&app.stage) {
        return Err(refuse(&locale, Refusal::Closed));
    }
    let org = runner.config.org.name.clone();
    Ok((
        runner,
        claim,
        Seen {
            app,
            locale,
            posting,
            org,
        },
    ))
}

fn refusal(locale: &str, org: &str, r: Refusal) -> Response {
    let w = words(locale);
    let (status, text) = match r {
        Refusal::Invalid => (StatusCode::FORBIDDEN, w.invalid),
        Refusal::Expired => (StatusCode::GONE, w.expired),
        Refusal::Used => (StatusCode::GONE, w.used),
        Refusal::Closed => (StatusCode::GONE, w.closed),
    };
    html(status, selfservice::page(w, org, text, None))
}

/// `GET /self-service/withdraw/{token}`: the confirmation page.
pub async fn confirm(State(s): State<ApiState>, Path(token): Path<String>) -> Response {
    let (_, claim, seen) = match look(&s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let used = entity::self_service_use::Entity::find_by_id(claim.nonce.clone())
        .one(s.store.conn())
        .await;
    if !matches!(used, Ok(None)) {
        return refusal(&seen.locale, &seen.org, Refusal::Used);
    }
    let w = words(&seen.locale);
    let text = w.confirm.replace("{posting}", &seen.posting);
    let action = format!("{}/{token}", selfservice::PATH);
    html(
        StatusCode::OK,
        selfservice::page(w, &seen.org, &text, Some(&action)),
    )
}

/// `POST /self-service/withdraw/{token}`: withdraws, once.
pub async fn withdraw(State(s): State<ApiState>, Path(token): Path<String>) -> Response {
    let (runner, claim, seen) = match look(&s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ctx = runner.ctx(chrono::Utc::now());
    match workflow::withdraw(&s.store, &ctx, &claim).await {
        Ok(Withdrawn::Done(_)) => {
            tracing::info!(
                application = seen.app.id,
                "application withdrawn by the candidate's link"
            );
            let w = words(&seen.locale);
            html(
                StatusCode::OK,
                selfservice::page(
                    w,
                    &seen.org,
                    &w.done.replace("{posting}", &seen.posting),
                    None,
                ),
            )
        }
        Ok(Withdrawn::Refused(r)) => refusal(&seen.locale, &seen.org, r),
        Err(e) => {
            tracing::error!(application = seen.app.id, error = %e, "self-service withdraw failed");
            super::problem::Problem::new(StatusCode::SERVICE_UNAVAILABLE, "try again later")
                .into_response()
        }
    }
}
