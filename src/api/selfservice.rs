//! The candidate's withdraw pages (see [`crate::selfservice`]): no token,
//! only the signed link. Plain HTML, never cached, never framed.

use super::ApiState;
use crate::selfservice::{self, Refusal, words};
use crate::store::applications;
use crate::workflow::{self, Withdrawn};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use entity::application;

pub(super) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                // connect-src 'self': no script runs here, but Lighthouse reads
                // /robots.txt from inside the page (GoogleChrome/lighthouse#4386)
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
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
    let found = applications::with_candidate(s.store.conn(), claim.application_id).await;
    let Ok(Some((app, Some(cand)))) = found else {
        return Err(refuse(&default, Refusal::Invalid));
    };
    let locale = cand.locale.clone().unwrap_or(default);
    let posting = posting_title(s, app.posting_id).await;
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

/// The title a page names its posting by (empty when it cannot be read).
async fn posting_title(s: &ApiState, id: i64) -> String {
    crate::store::postings::by_ids(s.store.conn(), &[id])
        .await
        .ok()
        .and_then(|p| p.into_iter().next())
        .map(|p| p.title)
        .unwrap_or_default()
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
    let used = applications::link_used(s.store.conn(), &claim.nonce).await;
    if !matches!(used, Ok(false)) {
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

/// The most a feedback form may send (bytes): two 4000-character notes in
/// percent-encoding and a scorecard's ratings, with room to spare.
pub const FEEDBACK_FORM_LIMIT: usize = 128 * 1024;

/// What a feedback page shows of the interview its link names.
struct FeedbackSeen {
    claim: selfservice::FeedbackClaim,
    locale: String,
    question: String,
    candidate: String,
    org: String,
    application_id: i64,
    card: crate::interviews::scorecard::Scorecard,
    focus: Vec<String>,
}

/// Checks a feedback link: signed, not expired, an active interviewer of
/// an interview that is not cancelled; `used` when they already gave it.
async fn look_feedback(
    s: &ApiState,
    token: &str,
) -> std::result::Result<(FeedbackSeen, bool), Response> {
    let runner = super::runner(s).map_err(IntoResponse::into_response)?;
    let org = runner.config.org.name.clone();
    let default = runner.config.org.default_locale.clone();
    let refuse = |locale: &str, r: Refusal| feedback_refusal(locale, &org, r);
    let Some(links) = runner.links.as_deref() else {
        return Err(refuse(&default, Refusal::Invalid));
    };
    let claim = links
        .check_feedback(token, chrono::Utc::now())
        .map_err(|r| refuse(&default, r))?;
    let target = crate::workflow::interviews::link_target(s.store.conn(), &claim).await;
    let (iv, person, given) = match target {
        Ok(Ok(x)) => x,
        Ok(Err(r)) => return Err(refuse(&default, r)),
        Err(e) => {
            tracing::error!(error = %e, "feedback link: cannot read the interview");
            return Err(unavailable());
        }
    };
    let locale = person.locale.clone().unwrap_or(default);
    let app = applications::with_candidate(s.store.conn(), iv.application_id).await;
    let Ok(Some((app, Some(cand)))) = app else {
        return Err(refuse(&locale, Refusal::Invalid));
    };
    let posting_row = crate::store::postings::by_ids(s.store.conn(), &[app.posting_id])
        .await
        .ok()
        .and_then(|p| p.into_iter().next());
    let posting = posting_row
        .as_ref()
        .map(|p| p.title.clone())
        .unwrap_or_default();
    let card = posting_row
        .as_ref()
        .map(crate::interviews::scorecard::of_posting)
        .unwrap_or_default();
    let focus = crate::interviews::scorecard::stored_focus(iv.focus.as_deref());
    let tz = person.timezone.clone().unwrap_or(iv.timezone.clone());
    let when = crate::templates::format_time(iv.starts_at, &locale, Some(&tz));
    let w = selfservice::feedback_words(&locale);
    let question = w
        .question
        .replace("{candidate}", &cand.name)
        .replace("{posting}", &posting)
        .replace("{when}", &when);
    Ok((
        FeedbackSeen {
            claim,
            locale,
            question,
            candidate: cand.name,
            org,
            application_id: app.id,
            card,
            focus,
        },
        given,
    ))
}

/// 503 "try again later", for the self-service pages.
pub(super) fn unavailable() -> Response {
    super::problem::Problem::new(StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
}

fn feedback_refusal(locale: &str, org: &str, r: Refusal) -> Response {
    let w = words(locale);
    let fw = selfservice::feedback_words(locale);
    let (status, text) = match r {
        Refusal::Invalid => (StatusCode::FORBIDDEN, w.invalid),
        Refusal::Expired => (StatusCode::GONE, w.expired_feedback),
        Refusal::Used => (StatusCode::GONE, w.used),
        Refusal::Closed => (StatusCode::GONE, fw.cancelled),
    };
    html(
        status,
        selfservice::feedback_page(fw, org, text, None, None, &[]),
    )
}

/// `GET /self-service/feedback/{token}`: the feedback form.
pub async fn feedback_form(State(s): State<ApiState>, Path(token): Path<String>) -> Response {
    let (seen, given) = match look_feedback(&s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if given {
        return feedback_refusal(&seen.locale, &seen.org, Refusal::Used);
    }
    let w = selfservice::feedback_words(&seen.locale);
    let action = format!("{}/{token}", selfservice::FEEDBACK_PATH);
    let form = seen.form(&action);
    html(
        StatusCode::OK,
        selfservice::feedback_page(w, &seen.org, &seen.question, None, Some(&form), &[]),
    )
}

impl FeedbackSeen {
    fn form<'a>(&'a self, action: &'a str) -> selfservice::FeedbackForm<'a> {
        selfservice::FeedbackForm {
            action,
            card: &self.card,
            focus: &self.focus,
        }
    }
}

/// Every submitted scorecard on an application, for an interviewer who
/// submitted theirs (blind review: never before), without private notes.
async fn shared(s: &ApiState, application_id: i64) -> Vec<selfservice::Shared> {
    let rows = crate::store::interviews::submitted(s.store.conn(), Some(application_id))
        .await
        .unwrap_or_default();
    rows.into_iter()
        .map(|x| selfservice::Shared {
            name: x.person.name,
            recommendation: x.row.recommendation.unwrap_or_default(),
            ratings: crate::interviews::scorecard::stored_ratings(x.row.ratings.as_deref()),
            note: x.row.note,
        })
        .collect()
}

/// `POST /self-service/feedback/{token}`: records the feedback, once.
// Stays whole: the form's checks in the order the page answers them, each refusal returning the page with its notice.
pub async fn feedback_submit(
    State(s): State<ApiState>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    form: std::result::Result<
        axum::extract::Form<std::collections::HashMap<String, String>>,
        axum::extract::rejection::FormRejection,
    >,
) -> Response {
    let (seen, given) = match look_feedback(&s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let w = selfservice::feedback_words(&seen.locale);
    let action = format!("{}/{token}", selfservice::FEEDBACK_PATH);
    let form_of = seen.form(&action);
    let again = |status: StatusCode, notice: &str| {
        html(
            status,
            selfservice::feedback_page(
                w,
                &seen.org,
                &seen.question,
                Some(notice),
                Some(&form_of),
                &[],
            ),
        )
    };
    if crate::service::http::cross_site(&headers) {
        return again(StatusCode::FORBIDDEN, w.cross_site);
    }
    if given {
        return feedback_refusal(&seen.locale, &seen.org, Refusal::Used);
    }
    let fields = match form {
        Ok(axum::extract::Form(f)) => f,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return again(StatusCode::PAYLOAD_TOO_LARGE, w.too_large);
        }
        Err(_) => return again(StatusCode::BAD_REQUEST, w.missing),
    };
    let recommendation = fields.get("recommendation").map(|r| r.trim()).unwrap_or("");
    if !crate::store::interviews::RECOMMENDATIONS.contains(&recommendation) {
        return again(StatusCode::UNPROCESSABLE_ENTITY, w.missing);
    }
    let text = |k: &str| {
        fields
            .get(k)
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
    };
    let (note, private_note) = (text("note"), text("private_note"));
    if [&note, &private_note]
        .iter()
        .any(|n| n.as_ref().is_some_and(|n| n.chars().count() > 4000))
    {
        return again(StatusCode::UNPROCESSABLE_ENTITY, w.too_long);
    }
    let f = crate::workflow::interviews::Feedback {
        recommendation: recommendation.to_string(),
        ratings: fields
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("rate.")?.to_string(), v.clone())))
            .collect(),
        note,
        private_note,
        on_behalf_by: None,
    };
    let now = chrono::Utc::now();
    match crate::workflow::interviews::feedback_by_link(&s.store, &seen.claim, &f, now).await {
        Ok(crate::workflow::interviews::LinkFeedback::Done(done)) => {
            let (interview, person) = *done;
            tracing::info!(
                interview = interview.id,
                person = %person.email,
                "interview feedback recorded through its link"
            );
            let everyone = shared(&s, seen.application_id).await;
            html(
                StatusCode::OK,
                selfservice::feedback_page(
                    w,
                    &seen.org,
                    &w.done.replace("{candidate}", &seen.candidate),
                    None,
                    None,
                    &everyone,
                ),
            )
        }
        Ok(crate::workflow::interviews::LinkFeedback::Refused(r)) => {
            feedback_refusal(&seen.locale, &seen.org, r)
        }
        Err(crate::error::Error::Input(m) | crate::error::Error::Refused(m)) => {
            again(StatusCode::UNPROCESSABLE_ENTITY, &m)
        }
        Err(e) => {
            tracing::error!(interview = seen.claim.interview_id, error = %e, "feedback by link failed");
            unavailable()
        }
    }
}
