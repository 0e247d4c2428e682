//! `GET|POST /self-service/book/{token}`: the candidate's booking page for
//! slots offered ([`crate::workflow::offers`]). No token but the signed
//! link; a cross-site POST, a forged, expired or used link, or a slot not
//! offered changes nothing.

use super::ApiState;
use super::selfservice::{html, unavailable};
use crate::selfservice::booking::{BookPage, BookWords, book_page, book_words, slot_label};
use crate::selfservice::{self, Refusal, words};
use crate::workflow::offers::{self, Booking, Refused};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;

/// The most a booking form may send (bytes).
pub const FORM_LIMIT: usize = 4 * 1024;

struct Seen {
    offer_id: i64,
    locale: String,
    tz: Tz,
    org: String,
    intro: String,
    words: &'static BookWords,
}

fn refusal(locale: &str, org: &str, r: Refusal) -> Response {
    let w = words(locale);
    let b = book_words(locale);
    let (status, text) = match r {
        Refusal::Invalid => (StatusCode::FORBIDDEN, w.invalid),
        Refusal::Expired | Refusal::Closed => (StatusCode::GONE, b.closed),
        Refusal::Used => (StatusCode::GONE, b.already),
    };
    html(status, selfservice::page(w, org, text, None))
}

async fn look(s: &ApiState, token: &str, zone: Option<&str>) -> Result<Seen, Response> {
    let runner = super::runner(s).map_err(IntoResponse::into_response)?;
    let org = runner.config.org.name.clone();
    let default = runner.config.org.default_locale.clone();
    let Some(links) = runner.links.as_deref() else {
        return Err(refusal(&default, &org, Refusal::Invalid));
    };
    let claim = links
        .check_booking(token, Utc::now())
        .map_err(|r| refusal(&default, &org, r))?;
    let target = match offers::target(s.store.conn(), claim.id).await {
        Ok(Some(t)) => t,
        Ok(None) => return Err(refusal(&default, &org, Refusal::Invalid)),
        Err(e) => {
            tracing::error!(error = %e, "booking link: cannot read the offer");
            return Err(unavailable());
        }
    };
    let locale = target.candidate.locale.clone().unwrap_or(default);
    let tz = zone
        .and_then(|z| z.parse::<Tz>().ok())
        .or_else(|| {
            target
                .candidate
                .timezone
                .as_deref()
                .and_then(|z| z.parse().ok())
        })
        .or_else(|| runner.config.schedule.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let w = book_words(&locale);
    let names: Vec<String> = target.interviewers.iter().map(|p| p.name.clone()).collect();
    let intro = w
        .intro
        .replace("{posting}", &target.posting.title)
        .replace("{minutes}", &target.offer.minutes.to_string())
        .replace("{people}", &names.join(", "));
    Ok(Seen {
        offer_id: claim.id,
        locale,
        tz,
        org,
        intro,
        words: w,
    })
}

/// The page as it stands now, with `notice` and `status`.
async fn current(
    s: &ApiState,
    seen: &Seen,
    token: &str,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let Ok(runner) = super::runner(s) else {
        return unavailable();
    };
    let now = Utc::now();
    let t = match offers::target(s.store.conn(), seen.offer_id).await {
        Ok(Some(t)) => t,
        _ => return unavailable(),
    };
    let iv = t.interview.as_ref().filter(|i| {
        t.offer.status == crate::store::availability::BOOKED
            && i.status == crate::store::interviews::SCHEDULED
    });
    let changeable = iv.is_some_and(|i| {
        now + chrono::Duration::minutes(t.offer.notice_minutes.into()) <= i.starts_at
    });
    let slots = match (t.offer.status.as_str(), iv) {
        (crate::store::availability::OPEN, _) => Some(None),
        (_, Some(i)) if changeable => Some(Some(i.id)),
        _ => None,
    };
    let slots = match slots {
        Some(except) => {
            match offers::slots_of(s.store.conn(), &runner.config, &t.offer, now, except).await {
                Ok(v) => Some(
                    v.into_iter()
                        .filter(|x| Some(*x) != iv.map(|i| i.starts_at))
                        .collect::<Vec<_>>(),
                ),
                Err(e) => {
                    tracing::error!(offer = seen.offer_id, error = %e, "booking page: cannot compute the slots");
                    return unavailable();
                }
            }
        }
        None => None,
    };
    let w = seen.words;
    let booked = iv.map(|i| {
        w.booked.replace(
            "{when}",
            &format!(
                "{}, {}",
                crate::templates::format_date(i.starts_at, &seen.locale, Some(seen.tz.name())),
                slot_label(i.starts_at, seen.tz)
            ),
        )
    });
    let closed = match t.offer.status.as_str() {
        crate::store::availability::CANCELLED => Some(w.cancelled),
        crate::store::availability::BOOKED if iv.is_none() => Some(w.closed),
        crate::store::availability::BOOKED if !changeable => Some(w.too_late),
        _ => None,
    };
    let action = format!("{}/{token}", selfservice::BOOK_PATH);
    html(
        status,
        book_page(&BookPage {
            words: w,
            org: &seen.org,
            intro: seen.intro.clone(),
            notice: notice.or(closed),
            tz: seen.tz,
            locale: &seen.locale,
            booked,
            slots: slots.as_deref(),
            changeable,
            action: &action,
        }),
    )
}

/// `GET /self-service/book/{token}[?tz=Zone]`.
pub async fn page(
    State(s): State<ApiState>,
    Path(token): Path<String>,
    q: std::result::Result<
        Query<HashMap<String, String>>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    let zone = q.ok().and_then(|Query(q)| q.get("tz").cloned());
    let seen = match look(&s, &token, zone.as_deref()).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    current(&s, &seen, &token, None, StatusCode::OK).await
}

/// `POST /self-service/book/{token}`: `action` = `book` | `move` (with
/// `slot`, a Unix time) | `cancel`.
pub async fn post(
    State(s): State<ApiState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    form: std::result::Result<
        axum::extract::Form<HashMap<String, String>>,
        axum::extract::rejection::FormRejection,
    >,
) -> Response {
    let fields = match &form {
        Ok(axum::extract::Form(f)) => Some(f.clone()),
        Err(_) => None,
    };
    let zone = fields.as_ref().and_then(|f| f.get("tz").cloned());
    let seen = match look(&s, &token, zone.as_deref()).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let w = seen.words;
    if crate::service::http::cross_site(&headers) {
        return current(&s, &seen, &token, Some(w.cross_site), StatusCode::FORBIDDEN).await;
    }
    let fields = match form {
        Ok(axum::extract::Form(f)) => f,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return current(
                &s,
                &seen,
                &token,
                Some(w.missing),
                StatusCode::PAYLOAD_TOO_LARGE,
            )
            .await;
        }
        Err(_) => {
            return current(&s, &seen, &token, Some(w.missing), StatusCode::BAD_REQUEST).await;
        }
    };
    let slot: Option<DateTime<Utc>> = fields
        .get("slot")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|t| DateTime::from_timestamp(t, 0));
    let Ok(runner) = super::runner(&s) else {
        return unavailable();
    };
    let ctx = runner.ctx(Utc::now());
    let done = match (fields.get("action").map(String::as_str), slot) {
        (Some("book"), Some(t)) => offers::book(&s.store, &ctx, seen.offer_id, t).await,
        (Some("move"), Some(t)) => offers::rebook(&s.store, &ctx, seen.offer_id, t).await,
        (Some("cancel"), _) => offers::cancel(&s.store, &ctx, seen.offer_id).await,
        _ => {
            return current(
                &s,
                &seen,
                &token,
                Some(w.missing),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match done {
        Ok(Booking::Done(out)) => {
            tracing::info!(
                offer = seen.offer_id,
                interview = out.interview.id,
                "a candidate booked, moved or cancelled through their link"
            );
            current(&s, &seen, &token, None, StatusCode::OK).await
        }
        Ok(Booking::Taken(_)) => {
            current(&s, &seen, &token, Some(w.taken), StatusCode::CONFLICT).await
        }
        Ok(Booking::Refused(r)) => {
            let (status, text) = match r {
                Refused::Booked => (StatusCode::GONE, w.already),
                Refused::NotBooked => (StatusCode::UNPROCESSABLE_ENTITY, w.missing),
                Refused::TooLate => (StatusCode::GONE, w.too_late),
                Refused::Closed | Refused::Unknown => (StatusCode::GONE, w.closed),
            };
            current(&s, &seen, &token, Some(text), status).await
        }
        Err(e) => {
            tracing::error!(offer = seen.offer_id, error = %e, "booking failed");
            unavailable()
        }
    }
}
