//! What a recruiter does from the board: move an application, hold a
//! candidate from retention, send a dead email again, edit a posting's
//! team. Plain HTML forms (no script), each POST checked by [`guard`]:
//!
//! - a session whose token has the scope `recruiter` (a `read` token's
//!   pages show no forms, and its POSTs are refused), in `token` mode only;
//! - no other site: the session cookie is `SameSite=Strict`, a browser's
//!   `Sec-Fetch-Site` must be `same-origin` (or `none`) and an `Origin` must
//!   be this host;
//! - the session's form token ([`auth::form_token`]) in the form.
//!
//! A refused or failed action shows its page again with the reason in
//! words, and changes nothing; a done one sends the browser back to the page
//! (`303`, `?done=…`). The actor of a move is the token's person
//! (`person:<email>`), else the token (`api:<name>`), as over the API.

use super::{BoardState, PageEnv, Viewer, application_data, auth, posting_data, proxy_mode};
use crate::config::EmailChoice;
use crate::error::Error;
use crate::store::{self, people, tokens};
use crate::workflow::{self, MoveRequest};
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// The most a board form may send (bytes).
pub const FORM_LIMIT: usize = 16 * 1024;
/// The longest reason a move or hold may carry (characters), as the API.
const REASON_CHARS: usize = 500;

type Fields = HashMap<String, String>;
type FormResult = std::result::Result<Form<Fields>, FormRejection>;

/// Why a POST was refused: its status and the words shown.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(pe: &PageEnv, status: StatusCode, key: &str) -> Refusal {
        Refusal {
            status,
            message: pe.word(key),
        }
    }

    fn of(e: &Error) -> Refusal {
        let status = match e {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Input(_) | Error::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "board action failed");
            "The action failed and changed nothing; the daemon's log says why.".to_string()
        } else {
            e.to_string()
        };
        Refusal { status, message }
    }
}

/// Everything a POST must pass before it may change anything; the form's
/// fields when it does.
fn guard<'v>(
    s: &BoardState,
    v: &'v Viewer,
    pe: &PageEnv,
    headers: &HeaderMap,
    form: FormResult,
) -> std::result::Result<(&'v auth::Session, Fields), Refusal> {
    if proxy_mode(s) {
        return Err(Refusal::new(pe, StatusCode::FORBIDDEN, "refused_proxy"));
    }
    let (Some(session), Some(secret)) = (&v.session, &v.secret) else {
        return Err(Refusal::new(
            pe,
            StatusCode::UNAUTHORIZED,
            "refused_session",
        ));
    };
    if crate::service::http::cross_site(headers) {
        return Err(Refusal::new(
            pe,
            StatusCode::FORBIDDEN,
            "refused_cross_site",
        ));
    }
    if !session.may_act {
        return Err(Refusal::new(pe, StatusCode::FORBIDDEN, "refused_read_only"));
    }
    let fields = match form {
        Ok(Form(f)) => f,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(Refusal::new(
                pe,
                StatusCode::PAYLOAD_TOO_LARGE,
                "refused_too_large",
            ));
        }
        Err(_) => {
            return Err(Refusal::new(
                pe,
                StatusCode::BAD_REQUEST,
                "refused_bad_form",
            ));
        }
    };
    match fields.get("form_token") {
        None => Err(Refusal::new(
            pe,
            StatusCode::FORBIDDEN,
            "refused_form_token_missing",
        )),
        Some(t) if !auth::form_token_ok(secret, t) => Err(Refusal::new(
            pe,
            StatusCode::FORBIDDEN,
            "refused_form_token_wrong",
        )),
        Some(_) => Ok((session, fields)),
    }
}

/// A free text (reason) as a form gives it: trimmed, none when empty, at
/// most [`REASON_CHARS`] characters and no control characters.
fn reason(f: &Fields, field: &str) -> crate::error::Result<Option<String>> {
    let Some(r) = f.get(field).map(|r| r.trim()).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if r.chars().count() > REASON_CHARS || r.chars().any(char::is_control) {
        return Err(Error::input(format!(
            "{field}: at most {REASON_CHARS} characters, no control characters"
        )));
    }
    Ok(Some(r.to_string()))
}

fn see_other(to: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// The application page again, with why the action was refused.
async fn application_refused(
    s: &BoardState,
    v: &Viewer,
    pe: &PageEnv,
    id: &str,
    r: Refusal,
) -> Response {
    let data = application_data(s, v, pe, id, &HashMap::new(), Some(r.message)).await;
    pe.finish_with(s, r.status, "application.html", data)
}

/// The posting page again, with why the action was refused.
async fn posting_refused(
    s: &BoardState,
    v: &Viewer,
    pe: &PageEnv,
    id: &str,
    r: Refusal,
) -> Response {
    let data = posting_data(s, v, pe, id, &HashMap::new(), Some(r.message)).await;
    pe.finish_with(s, r.status, "posting.html", data)
}

macro_rules! page_env_or_503 {
    ($s:expr, $v:expr) => {
        match PageEnv::new(&$s, &$v) {
            Some(p) => p,
            None => {
                return (StatusCode::SERVICE_UNAVAILABLE, "the daemon is starting").into_response();
            }
        }
    };
}

/// `POST /board/applications/{id}/move` (`to`, `reason`, `version`): the
/// move `atsd application move` makes, with its stage email and delayed
/// emails, only if the application is still at the version the page
/// showed.
pub(super) async fn move_application(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let pe = page_env_or_503!(s, v);
    let (session, f) = match guard(&s, &v, &pe, &headers, form) {
        Ok(x) => x,
        Err(r) => return application_refused(&s, &v, &pe, &id, r).await,
    };
    let done = async {
        let app = super::path_id(&id, "application")?;
        let to = f
            .get("to")
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::input("to: choose the stage to move to"))?;
        let expected_version = match f.get("version").map(|v| v.trim()) {
            None | Some("") => None,
            Some(n) => Some(
                n.parse::<i32>()
                    .map_err(|_| Error::input(format!("version: `{n}` is not a number")))?,
            ),
        };
        let req = MoveRequest {
            application_id: app,
            to: to.to_string(),
            reason: reason(&f, "reason")?,
            actor: tokens::actor(&s.store, &session.token).await?,
            email: EmailChoice::StageDefault,
            expected_version,
        };
        workflow::move_application(&s.store, &pe.runner.ctx(chrono::Utc::now()), &req).await?;
        Ok::<_, Error>(app)
    }
    .await;
    match done {
        Ok(app) => see_other(format!("/board/applications/{app}?done=moved")),
        Err(e) => application_refused(&s, &v, &pe, &id, Refusal::of(&e)).await,
    }
}

/// `POST /board/applications/{id}/hold` (`hold` = `on` or `off`,
/// `reason`): the candidate's retention hold, as `atsd candidate hold`.
pub(super) async fn hold(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let pe = page_env_or_503!(s, v);
    let (session, f) = match guard(&s, &v, &pe, &headers, form) {
        Ok(x) => x,
        Err(r) => return application_refused(&s, &v, &pe, &id, r).await,
    };
    let done = async {
        let app = super::path_id(&id, "application")?;
        let actor = tokens::actor(&s.store, &session.token).await?;
        let on = match f.get("hold").map(String::as_str) {
            Some("on") => true,
            Some("off") => false,
            other => {
                return Err(Error::input(format!(
                    "hold: `{}` is not on or off",
                    other.unwrap_or("")
                )));
            }
        };
        let why = reason(&f, "reason")?;
        let email = crate::store::board::application_history(s.store.conn(), app)
            .await?
            .candidate
            .map(|c| c.email)
            .ok_or_else(|| Error::NotFound(format!("application {app} has no candidate")))?;
        crate::jobs::retention::hold(&s.store, &email, on, why, &actor, chrono::Utc::now()).await?;
        Ok::<_, Error>((app, on))
    }
    .await;
    match done {
        Ok((app, on)) => see_other(format!(
            "/board/applications/{app}?done={}",
            if on { "held" } else { "unheld" }
        )),
        Err(e) => application_refused(&s, &v, &pe, &id, Refusal::of(&e)).await,
    }
}

/// `POST /board/applications/{id}/emails/{email}/retry`: a dead email of
/// this application goes out again from a fresh attempt count, as `atsd
/// mail retry`.
pub(super) async fn retry_email(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Path((id, email)): Path<(String, String)>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let pe = page_env_or_503!(s, v);
    let session = match guard(&s, &v, &pe, &headers, form) {
        Ok((session, _)) => session,
        Err(r) => return application_refused(&s, &v, &pe, &id, r).await,
    };
    let done = async {
        let app = super::path_id(&id, "application")?;
        let email = super::path_id(&email, "email")?;
        let actor = tokens::actor(&s.store, &session.token).await?;
        let txn = s.store.begin_write().await?;
        workflow::audited::resend(&txn, email, Some(app), &actor, chrono::Utc::now()).await?;
        txn.commit().await?;
        Ok::<_, Error>(app)
    }
    .await;
    match done {
        Ok(app) => see_other(format!("/board/applications/{app}?done=resent")),
        Err(e) => application_refused(&s, &v, &pe, &id, Refusal::of(&e)).await,
    }
}

/// Addresses as a form's text field gives them: separated by commas,
/// semicolons or white space.
fn addresses(f: &Fields, field: &str) -> Vec<String> {
    f.get(field)
        .map(|v| {
            v.split([',', ';', ' ', '\n', '\r', '\t'])
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// `POST /board/postings/{id}/team` (`recruiter`, `hiring_managers`,
/// `coordinators`): replaces the posting's team, as `atsd posting assign`.
pub(super) async fn set_team(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let pe = page_env_or_503!(s, v);
    let (session, f) = match guard(&s, &v, &pe, &headers, form) {
        Ok(x) => x,
        Err(r) => return posting_refused(&s, &v, &pe, &id, r).await,
    };
    let done = async {
        let posting = super::path_id(&id, "posting")?;
        let actor = tokens::actor(&s.store, &session.token).await?;
        let posting = store::postings::find(s.store.conn(), &posting.to_string()).await?;
        let spec = people::TeamSpec {
            recruiter: f
                .get("recruiter")
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty()),
            hiring_managers: addresses(&f, "hiring_managers"),
            coordinators: addresses(&f, "coordinators"),
        };
        let txn = s.store.begin_write().await?;
        workflow::audited::change_team(&txn, posting.id, &spec, &actor, chrono::Utc::now()).await?;
        txn.commit().await?;
        Ok::<_, Error>(posting.id)
    }
    .await;
    match done {
        Ok(p) => see_other(format!("/board/postings/{p}?done=team")),
        Err(e) => posting_refused(&s, &v, &pe, &id, Refusal::of(&e)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn requests_from_another_site_are_recognised() {
        assert!(!crate::service::http::cross_site(&headers(&[(
            "host",
            "127.0.0.1:8080"
        )])));
        assert!(!crate::service::http::cross_site(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
        for bad in [
            vec![
                ("host", "127.0.0.1:8080"),
                ("origin", "https://evil.example"),
            ],
            vec![("host", "127.0.0.1:8080"), ("origin", "null")],
            vec![
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:9999"),
            ],
            vec![("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")],
            vec![("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-site")],
        ] {
            assert!(crate::service::http::cross_site(&headers(&bad)), "{bad:?}");
        }
    }

    #[test]
    fn team_addresses_split_on_commas_and_spaces() {
        let f: Fields = [("c".to_string(), " a@x.org, b@x.org;c@x.org\n".to_string())].into();
        assert_eq!(addresses(&f, "c"), ["a@x.org", "b@x.org", "c@x.org"]);
        assert!(addresses(&f, "missing").is_empty());
    }

    #[test]
    fn reasons_are_bounded_and_printable() {
        let f: Fields = [
            ("ok".to_string(), "  good fit ".to_string()),
            ("empty".to_string(), "   ".to_string()),
            ("long".to_string(), "x".repeat(501)),
            ("ctl".to_string(), "a\u{7}b".to_string()),
        ]
        .into();
        assert_eq!(reason(&f, "ok").ok().flatten().as_deref(), Some("good fit"));
        assert_eq!(reason(&f, "empty").ok().flatten(), None);
        assert!(reason(&f, "long").is_err());
        assert!(reason(&f, "ctl").is_err());
    }
}
