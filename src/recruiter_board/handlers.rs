//! The board's page handlers: each reads its query and path, builds the
//! page through [`super::pages`] and renders it in the viewer's words.

use super::*;

pub(super) fn param<'a>(q: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    q.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

pub(super) fn flag(q: &HashMap<String, String>, k: &str) -> crate::error::Result<bool> {
    match param(q, k) {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(v) => Err(Error::input(format!("{k}: `{v}` is not 0 or 1"))),
    }
}

pub(super) fn number(q: &HashMap<String, String>, k: &str) -> crate::error::Result<Option<i64>> {
    param(q, k)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| Error::input(format!("{k}: `{v}` is not a number")))
        })
        .transpose()
}

pub(super) fn path_id(id: &str, what: &str) -> crate::error::Result<i64> {
    id.parse()
        .map_err(|_| Error::NotFound(format!("no {what} `{id}`")))
}

pub(super) async fn overview(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Query(q): Params,
) -> Response {
    let pe = page_env!(s, v);
    let c = pe.ctx(&s);
    let data = async {
        let status = pages::parse_posting_status(param(&q, "status"))?;
        // a person's session opens on their own postings
        let owner = match (param(&q, "owner"), v.person()) {
            (None | Some("me"), Some(p)) => Some(p),
            (None | Some("all"), _) => None,
            (Some("me"), None) => {
                return Err(Error::input(
                    "owner: `me` needs a session whose token belongs to a person (atsd token create … --person EMAIL)",
                ));
            }
            (Some(o), _) => return Err(Error::input(format!("owner: `{o}` is not me or all"))),
        };
        let owned = match owner {
            Some(p) => Some(crate::store::people::postings_of(s.store.conn(), p.id).await?),
            None => None,
        };
        let mut page = pages::overview(&c, status.as_deref(), owned.as_deref()).await?;
        page.person = v.person().map(|p| p.name.clone());
        Ok(page)
    }
    .await;
    pe.finish(&s, "overview.html", data)
}

pub(super) async fn posting(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let pe = page_env!(s, v);
    let data = posting_data(&s, &v, &pe, &id, &q, None).await;
    pe.finish(&s, "posting.html", data)
}

/// The posting page as `v` sees it; `error` when an action of theirs was
/// refused.
pub(super) async fn posting_data(
    s: &BoardState,
    v: &Viewer,
    pe: &PageEnv,
    id: &str,
    q: &HashMap<String, String>,
    error: Option<String>,
) -> crate::error::Result<pages::PostingPage> {
    let c = pe.ctx(s);
    let id = path_id(id, "posting")?;
    let f = pages::PostingFilter {
        stage: param(q, "stage").map(String::from),
        stale: flag(q, "stale")?,
    };
    let mut page = pages::posting_page(&c, id, &f, true).await?;
    if let Some(token) = v.form_token() {
        page.team_form = Some(pages::team_form(&c, token, &page.team).await?);
    }
    page.notice = notice(pe, q);
    page.error = error;
    Ok(page)
}

/// The words of `?done=…`, the page an action sends back to.
pub(super) fn notice(pe: &PageEnv, q: &HashMap<String, String>) -> Option<String> {
    match param(q, "done")? {
        d @ ("moved" | "held" | "unheld" | "resent" | "team") => {
            Some(pe.word(&format!("done_{d}")))
        }
        _ => None,
    }
}

pub(super) fn instant(
    q: &HashMap<String, String>,
    k: &str,
) -> crate::error::Result<Option<chrono::DateTime<chrono::Utc>>> {
    param(q, k)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| Error::input(format!("{k}: `{v}` is not an RFC 3339 time")))
        })
        .transpose()
}

pub(super) async fn list(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let pe = page_env!(s, v);
    let mut c = pe.ctx(&s);
    let data = async {
        let id = path_id(&id, "posting")?;
        let since = instant(&q, "since")?;
        // the list as of the instant its link was made (stale ones)
        if let Some(at) = instant(&q, "at")? {
            c.now = at;
        }
        let lq = pages::ListQuery {
            stage: param(&q, "stage").map(String::from),
            stale: flag(&q, "stale")?,
            since,
            before: number(&q, "before")?,
        };
        pages::list_page(&c, id, &lq).await
    }
    .await;
    pe.finish(&s, "list.html", data)
}

pub(super) async fn application(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let pe = page_env!(s, v);
    let data = application_data(&s, &v, &pe, &id, &q, None).await;
    pe.finish(&s, "application.html", data)
}

/// The application page as `v` sees it; `error` when an action of theirs
/// was refused.
pub(super) async fn application_data(
    s: &BoardState,
    v: &Viewer,
    pe: &PageEnv,
    id: &str,
    q: &HashMap<String, String>,
    error: Option<String>,
) -> crate::error::Result<pages::ApplicationPage> {
    let c = pe.ctx(s);
    let id = path_id(id, "application")?;
    let mut page = pages::application_page(&c, id).await?;
    // shown to someone signed in: its replies are read
    if page
        .mail
        .iter()
        .any(|m| m.unread && m.kind == entity::inbound_message::Kind::Reply)
    {
        crate::store::inbound::mark_read(s.store.conn(), id, c.now).await?;
    }
    if let Some(token) = v.form_token() {
        page.actions = Some(pages::Actions {
            form_token: token,
            moves: c.pipeline.allowed_from(&page.stage),
        });
    }
    page.notice = notice(pe, q);
    page.error = error;
    Ok(page)
}

/// `GET /board/applications/{id}/files/{file}`: a file the application
/// brought, as an attachment of the type its bytes had (never shown inline:
/// a file is the candidate's, not the board's).
pub(super) async fn file(
    State(s): State<BoardState>,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let (Ok(id), Ok(file)) = (id.parse::<i64>(), file.parse::<i64>()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let row = match crate::store::careers::file(s.store.conn(), file).await {
        Ok(Some(f)) if f.application_id == id => f,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "board: cannot read a file's row");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some(runner) = s.current.get() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let dir = crate::careers::files::dir(&runner.config, s.store.url());
    let Some(path) = crate::careers::files::path_of(&dir, &row.sha256) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "board: a file's bytes are missing");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    let name: String = row
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
        .collect();
    (
        [
            (header::CONTENT_TYPE, row.media_type.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    if name.is_empty() { "file" } else { &name }
                ),
            ),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
        ],
        bytes,
    )
        .into_response()
}

pub(super) async fn outbox(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
    Query(q): Params,
) -> Response {
    let pe = page_env!(s, v);
    let c = pe.ctx(&s);
    let data = async {
        pages::outbox_page(
            &c,
            param(&q, "status"),
            number(&q, "posting")?,
            number(&q, "before")?,
        )
        .await
    }
    .await;
    pe.finish(&s, "outbox.html", data)
}

pub(super) async fn interviews(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
) -> Response {
    let pe = page_env!(s, v);
    let c = pe.ctx(&s);
    let data = pages::interviews_page(&c).await;
    pe.finish(&s, "interviews.html", data)
}

pub(super) async fn requests(
    State(s): State<BoardState>,
    Extension(v): Extension<Viewer>,
) -> Response {
    let pe = page_env!(s, v);
    let c = pe.ctx(&s);
    let data = pages::requests_page(&c).await;
    pe.finish(&s, "requests.html", data)
}

pub(super) async fn jobs(State(s): State<BoardState>, Extension(v): Extension<Viewer>) -> Response {
    let pe = page_env!(s, v);
    let c = pe.ctx(&s);
    let data = pages::jobs_page(&c).await;
    pe.finish(&s, "jobs.html", data)
}
