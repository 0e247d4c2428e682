//! The recruiter board (`/board`; not a job board, which atsd polls):
//! read-only pages of every pipeline,
//! rendered on the server with minijinja from `templates/board/` (compiled
//! in), with charts as inline SVG and no script at all.
//!
//! - `/board`: every posting, its count per stage, new since yesterday,
//!   stale and dead emails, each number a link to the list it counts;
//! - `/board/postings/{id}`: a column per active stage (newest
//!   [`pages::COLUMN_CARDS`] cards), the terminal stages as counts, the charts;
//! - `/board/postings/{id}/applications`: the lists the counts link to;
//! - `/board/applications/{id}`, `/board/outbox`, `/board/jobs`.
//!
//! Access: [`auth`]. Every answer is `no-store`, never framed, and under a
//! content security policy that allows no script and only the page's own
//! style sheet (by its hash).

pub mod actions;
pub mod auth;
pub mod charts;
pub mod figures;
pub mod i18n;
pub mod pages;
pub mod scorecards;

use crate::config::BoardAuth;
use crate::error::Error;
use crate::jobs::Current;
use crate::store::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use figures::ChartCache;
use include_dir::{Dir, include_dir};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use pages::Ctx;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

static PAGES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates/board");

/// The board's style sheet, inlined in every page.
pub fn css() -> &'static str {
    PAGES
        .get_file("board.css")
        .and_then(|f| f.contents_utf8())
        .unwrap_or("")
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        // HTML escaping of the five characters that matter, leaving `/`
        // alone so that the board's links read as links in the source
        env.set_formatter(|out, state, value| {
            if value.is_safe() || value.is_none() || value.is_undefined() {
                return minijinja::escape_formatter(out, state, value);
            }
            if let Some(s) = value.as_str() {
                return out
                    .write_str(&charts::esc(s))
                    .map_err(minijinja::Error::from);
            }
            minijinja::escape_formatter(out, state, value)
        });
        env.set_loader(|name| {
            Ok(PAGES
                .get_file(name)
                .and_then(|f| f.contents_utf8())
                .map(str::to_string))
        });
        env
    })
}

/// What surrounds a page: the sign-out button, the navigation.
#[derive(Clone, Debug, Default)]
pub struct Chrome {
    pub signed_in: bool,
    /// The sign-out form's token (the session's form token): sign-out is
    /// a POST like the others, refused from another site or without it.
    pub sign_out_token: Option<String>,
    /// A file on its own (`atsd report --format html`): no navigation, no
    /// links into a board that is not there.
    pub standalone: bool,
}

/// What every template sees: its page's own data, and for the layout the
/// words, the language, the style sheet and the navigation.
#[derive(Serialize)]
struct Layout<'a, P: Serialize> {
    page: &'a P,
    t: &'a i18n::Words,
    lang: &'a str,
    css: &'static str,
    nav: &'static str,
    signed_in: bool,
    sign_out_token: Option<String>,
    standalone: bool,
}

/// The sign-in page.
#[derive(Serialize)]
struct LoginPage<'a> {
    next: &'a str,
    error: Option<String>,
}

/// A page that could not be shown: why.
#[derive(Serialize)]
struct ErrorPage {
    status: u16,
    message: String,
}

/// The HTML report: the posting page of each posting.
#[derive(Serialize)]
struct ReportPage {
    postings: Vec<pages::PostingPage>,
}

/// Renders one board page: `page` is the template's own data.
pub fn render<P: Serialize>(
    template: &str,
    locale: &str,
    page: &P,
    chrome: Chrome,
) -> crate::error::Result<String> {
    let (lang, words) = i18n::words(locale);
    let t = env()
        .get_template(template)
        .map_err(|e| Error::Render(format!("board template {template}: {e}")))?;
    let nav = match template {
        "outbox.html" => "outbox",
        "jobs.html" => "jobs",
        "interviews.html" => "interviews",
        "requests.html" => "requests",
        "login.html" | "error.html" => "",
        _ => "postings",
    };
    t.render(minijinja::Value::from(minijinja::value::Serde(Layout {
        page,
        t: &words,
        lang: &lang,
        css: css(),
        nav,
        signed_in: chrome.signed_in,
        sign_out_token: chrome.sign_out_token,
        standalone: chrome.standalone,
    })))
    .map_err(|e| Error::Render(format!("board template {template}: {e:#}")))
}

/// `atsd report --format html`: the posting page of one posting (or of
/// each) as one file that needs nothing else: style sheet and charts inline,
/// no script, no link into a board that may not be there.
pub async fn report_html(
    store: &Store,
    config: &crate::config::Config,
    pipeline: &crate::pipeline::Pipeline,
    posting: Option<i64>,
    owned: Option<&[i64]>,
    default_stale: chrono::Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::error::Result<String> {
    let locale = config.org.default_locale.clone();
    let (_, words) = i18n::words(&locale);
    let charts = Arc::new(ChartCache::default());
    let c = Ctx {
        store,
        config,
        pipeline,
        words: &words,
        now,
        tz: config.schedule.tz()?,
        charts: &charts,
        default_stale,
        viewer: None,
    };
    let ids: Vec<i64> = match (posting, owned) {
        (Some(p), _) => vec![p],
        (None, Some(owned)) => owned.to_vec(),
        (None, None) => crate::store::postings::list(store.conn(), None)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect(),
    };
    let generated = i18n::fill(
        words.get("generated").map(String::as_str).unwrap_or("{at}"),
        &[("at", c.time(&now))],
    );
    let mut pages = Vec::new();
    for id in ids {
        let mut p = pages::posting_page(&c, id, &pages::PostingFilter::default(), false).await?;
        p.generated = Some(generated.clone());
        pages.push(p);
    }
    render(
        "report.html",
        &locale,
        &ReportPage { postings: pages },
        Chrome {
            signed_in: false,
            sign_out_token: None,
            standalone: true,
        },
    )
}

#[derive(Clone)]
pub struct BoardState {
    pub store: Store,
    pub current: Arc<Current>,
    pub charts: Arc<ChartCache>,
}

/// The board's routes; also starts counting the biggest postings' chart
/// figures ahead ([`figures::keep_warm`]), until the routes are dropped.
pub fn router(state: BoardState) -> Router {
    tokio::spawn(figures::keep_warm(
        Arc::downgrade(&state.charts),
        state.store.clone(),
        state.current.clone(),
    ));
    let gated = Router::new()
        .route("/board", get(overview))
        .route("/board/postings/{id}", get(posting))
        .route("/board/postings/{id}/applications", get(list))
        .route("/board/applications/{id}", get(application))
        .route("/board/applications/{id}/files/{file}", get(file))
        .route("/board/outbox", get(outbox))
        .route("/board/jobs", get(jobs))
        .route("/board/interviews", get(interviews))
        .route("/board/requests", get(requests))
        .route("/board/logout", post(logout))
        .merge(
            Router::new()
                .route(
                    "/board/applications/{id}/move",
                    post(actions::move_application),
                )
                .route("/board/applications/{id}/hold", post(actions::hold))
                .route(
                    "/board/applications/{id}/emails/{email}/retry",
                    post(actions::retry_email),
                )
                .route("/board/postings/{id}/team", post(actions::set_team))
                .layer(DefaultBodyLimit::max(actions::FORM_LIMIT)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), gate));
    Router::new()
        .route("/board/login", get(login_form).post(login))
        .route("/robots.txt", get(robots))
        .merge(gated)
        .layer(middleware::map_response(headers))
        .with_state(state)
}

/// `GET /robots.txt`. Every board page but the sign-in form needs a
/// session, so a crawler sees only that form; the API is not for crawlers.
async fn robots() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "User-agent: *\nDisallow: /v1/\n",
    )
}

fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        use base64::Engine;
        let digest = ring::digest::digest(&ring::digest::SHA256, css().as_bytes());
        format!(
            // connect-src 'self': no script may run on the board, so nothing
            // else can connect, but Lighthouse reads /robots.txt from inside
            // the page (GoogleChrome/lighthouse#4386)
            "default-src 'none'; style-src 'sha256-{}'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        )
    })
}

async fn headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

fn runner(s: &BoardState) -> Option<Arc<crate::jobs::Runner>> {
    s.current.get()
}

fn locale(s: &BoardState) -> String {
    runner(s)
        .map(|r| r.config.org.default_locale.clone())
        .unwrap_or_else(|| "en".into())
}

fn proxy_mode(s: &BoardState) -> bool {
    runner(s).is_some_and(|r| {
        r.config
            .http
            .as_ref()
            .is_some_and(|h| h.board_auth == BoardAuth::Proxy)
    })
}

fn chrome(s: &BoardState) -> Chrome {
    Chrome {
        signed_in: !proxy_mode(s),
        sign_out_token: None,
        standalone: false,
    }
}

/// Who is looking: the session (none in proxy mode) and its cookie's
/// secret, which the form tokens are checked against.
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    pub session: Option<auth::Session>,
    secret: Option<String>,
}

impl Viewer {
    fn person(&self) -> Option<&entity::person::Model> {
        self.session.as_ref().and_then(|s| s.person.as_ref())
    }

    /// The form token for this viewer's forms, if they may act.
    fn form_token(&self) -> Option<String> {
        self.session
            .as_ref()
            .filter(|s| s.may_act)
            .map(|s| s.form_token.clone())
    }
}

/// Lets a request through with a live session (or in proxy mode), with its
/// [`Viewer`]; sends it to the sign-in page otherwise.
async fn gate(State(s): State<BoardState>, mut req: Request, next: Next) -> Response {
    if proxy_mode(&s) {
        req.extensions_mut().insert(Viewer::default());
        return next.run(req).await;
    }
    let cookie = req
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| auth::cookie(Some(c)))
        .map(str::to_string);
    let session = match &cookie {
        Some(secret) => match auth::session(&s.store, secret, chrono::Utc::now()).await {
            Ok(ok) => ok,
            Err(e) => return error_page(&s, &e),
        },
        None => None,
    };
    if let Some(session) = session {
        req.extensions_mut().insert(Viewer {
            session: Some(session),
            secret: cookie,
        });
        return next.run(req).await;
    }
    if req.method() != axum::http::Method::GET {
        return (StatusCode::UNAUTHORIZED, "sign in at /board/login first").into_response();
    }
    let here = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/board".into());
    let target: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &here)
        .finish();
    redirect(&format!("/board/login?{target}"), None)
}

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response();
    if let Some(c) = cookie
        && let Ok(v) = HeaderValue::from_str(&c)
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn error_page(s: &BoardState, e: &Error) -> Response {
    let status = match e {
        Error::Input(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Refused(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "board page failed");
        "The page could not be made; the daemon's log says why.".to_string()
    } else {
        e.to_string()
    };
    match render(
        "error.html",
        &locale(s),
        &ErrorPage {
            status: status.as_u16(),
            message: message.clone(),
        },
        chrome(s),
    ) {
        Ok(b) => html(status, b),
        Err(_) => (status, message).into_response(),
    }
}

/// What every page is made with: the configuration of the moment, and the
/// words and time zone of the viewer (their person's, else the
/// organisation's).
struct PageEnv {
    runner: Arc<crate::jobs::Runner>,
    words: i18n::Words,
    locale: String,
    tz: chrono_tz::Tz,
    /// The viewer's session form token, for the sign-out form.
    sign_out_token: Option<String>,
    /// The person signed in (blind review).
    viewer: Option<i64>,
}

impl PageEnv {
    /// `None` while the daemon is starting (no configuration yet).
    fn new(s: &BoardState, v: &Viewer) -> Option<PageEnv> {
        let runner = runner(s)?;
        let person = v.person();
        let locale = person
            .and_then(|p| p.locale.clone())
            .unwrap_or_else(|| runner.config.org.default_locale.clone());
        let tz = person
            .and_then(|p| p.timezone.as_deref())
            .and_then(|z| z.parse().ok())
            .unwrap_or_else(|| runner.tz());
        let (_, words) = i18n::words(&locale);
        Some(PageEnv {
            runner,
            words,
            locale,
            tz,
            sign_out_token: v.secret.as_deref().map(auth::form_token),
            viewer: person.map(|p| p.id),
        })
    }

    fn ctx<'a>(&'a self, s: &'a BoardState) -> Ctx<'a> {
        Ctx {
            store: &s.store,
            config: &self.runner.config,
            pipeline: &self.runner.pipeline,
            words: &self.words,
            // in whole seconds: links carry it, and list what was counted
            now: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0),
            tz: self.tz,
            charts: &s.charts,
            default_stale: pages::DEFAULT_STALE,
            viewer: self.viewer,
        }
    }

    fn word(&self, k: &str) -> String {
        self.words.get(k).cloned().unwrap_or_else(|| k.to_string())
    }

    fn finish<P: Serialize>(
        &self,
        s: &BoardState,
        template: &str,
        data: crate::error::Result<P>,
    ) -> Response {
        self.finish_with(s, StatusCode::OK, template, data)
    }

    fn finish_with<P: Serialize>(
        &self,
        s: &BoardState,
        status: StatusCode,
        template: &str,
        data: crate::error::Result<P>,
    ) -> Response {
        let chrome = Chrome {
            sign_out_token: self.sign_out_token.clone(),
            ..chrome(s)
        };
        match data.and_then(|d| render(template, &self.locale, &d, chrome)) {
            Ok(b) => html(status, b),
            Err(e) => error_page(s, &e),
        }
    }
}

macro_rules! page_env {
    ($s:expr, $v:expr) => {
        match PageEnv::new(&$s, &$v) {
            Some(p) => p,
            None => {
                return (StatusCode::SERVICE_UNAVAILABLE, "the daemon is starting").into_response();
            }
        }
    };
}

type Params = Query<HashMap<String, String>>;

// after `page_env!`, which they use
mod handlers;
mod login;

use handlers::*;
use login::*;
