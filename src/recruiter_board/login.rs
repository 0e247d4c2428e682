//! Signing in with a token (kept as a session) and signing out.

use super::*;

pub(super) fn login_page(
    s: &BoardState,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (_, words) = i18n::words(&locale(s));
    let message = error.and_then(|k| words.get(k).cloned());
    match render(
        "login.html",
        &locale(s),
        &LoginPage {
            next,
            error: message,
        },
        Chrome::default(),
    ) {
        Ok(b) => html(status, b),
        Err(e) => error_page(s, &e),
    }
}

pub(super) async fn login_form(State(s): State<BoardState>, Query(q): Params) -> Response {
    if proxy_mode(&s) {
        return redirect("/board", None);
    }
    login_page(
        &s,
        &auth::safe_next(param(&q, "next")),
        None,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

pub(super) async fn login(
    State(s): State<BoardState>,
    headers: HeaderMap,
    form: std::result::Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if proxy_mode(&s) {
        return redirect("/board", None);
    }
    // a sign-in from another site would sign the browser in as the
    // attacker's token (login CSRF): refused like any other form
    if crate::service::http::cross_site(&headers) {
        tracing::warn!("board: a sign-in from another site was refused");
        return login_page(
            &s,
            "/board",
            Some("sign_in_cross_site"),
            StatusCode::FORBIDDEN,
        );
    }
    let Ok(Form(f)) = form else {
        return login_page(&s, "/board", Some("bad_token"), StatusCode::BAD_REQUEST);
    };
    let next = auth::safe_next(f.next.as_deref());
    match auth::sign_in(&s.store, &f.token, chrono::Utc::now()).await {
        Ok(Ok(secret)) => redirect(&next, Some(auth::set_cookie(Some(&secret)))),
        Ok(Err(auth::Refusal::BadToken)) => {
            login_page(&s, &next, Some("bad_token"), StatusCode::UNAUTHORIZED)
        }
        Ok(Err(auth::Refusal::WrongScope)) => {
            login_page(&s, &next, Some("wrong_scope"), StatusCode::FORBIDDEN)
        }
        Err(e) => error_page(&s, &e),
    }
}

#[derive(Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    form_token: String,
}

/// Signs out: a POST from this site carrying the session's form token
/// (another site cannot end a recruiter's session).
pub(super) async fn logout(
    State(s): State<BoardState>,
    headers: HeaderMap,
    form: std::result::Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
    let token = form.map(|Form(f)| f.form_token).unwrap_or_default();
    if let Some(secret) = auth::cookie(cookie) {
        if crate::service::http::cross_site(&headers) || !auth::form_token_ok(secret, &token) {
            tracing::warn!(
                "board: a sign-out from another site or without its form token was refused"
            );
            return error_page(
                &s,
                &Error::Refused(
                    "Not signed out: the request came from another site or without its form token."
                        .into(),
                ),
            );
        }
        if let Err(e) = auth::sign_out(&s.store, secret).await {
            return error_page(&s, &e);
        }
    }
    redirect("/board/login", Some(auth::set_cookie(None)))
}
