//! `/board/outbox`: the emails by status, paged.

use super::*;

/// `/board/outbox`.
#[derive(Debug, Serialize)]
pub struct OutboxPage {
    pub status: Option<String>,
    pub posting: Option<i64>,
    pub tabs: Vec<Tab>,
    pub all_href: String,
    pub rows: Vec<EmailView>,
    pub next_href: Option<String>,
}

/// A status of the outbox, its count and its list.
#[derive(Debug, Serialize)]
pub struct Tab {
    pub status: &'static str,
    pub count: i64,
    pub href: String,
    pub current: bool,
}

/// `/board/outbox`: emails by status (of one posting, if asked), newest
/// first, a page at a time.
pub async fn outbox_page(
    c: &Ctx<'_>,
    status: Option<&str>,
    posting: Option<i64>,
    before: Option<i64>,
) -> Result<OutboxPage> {
    let status = match status {
        None => None,
        Some(s) => Some(outbox::Status::parse(s).ok_or_else(|| {
            Error::input(format!(
                "status: `{s}` is not an email status ({})",
                outbox::Status::ALL.map(outbox::Status::as_str).join(", ")
            ))
        })?),
    };
    let conn = c.store.conn();
    let mut rows = q::emails(conn, status, posting, before, PAGE_ROWS + 1).await?;
    let next = if rows.len() as u64 > PAGE_ROWS {
        rows.truncate(PAGE_ROWS as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let counts = q::outbox_counts(conn, posting).await?;
    let href = |s: Option<outbox::Status>, before: Option<i64>| {
        let mut qs = Vec::new();
        if let Some(s) = s {
            qs.push(format!("status={s}"));
        }
        if let Some(p) = posting {
            qs.push(format!("posting={p}"));
        }
        if let Some(b) = before {
            qs.push(format!("before={b}"));
        }
        if qs.is_empty() {
            "/board/outbox".to_string()
        } else {
            format!("/board/outbox?{}", qs.join("&"))
        }
    };
    Ok(OutboxPage {
        status: status.map(|s| s.to_string()),
        posting,
        tabs: outbox::Status::ALL
            .iter()
            .map(|s| Tab {
                status: s.as_str(),
                count: counts
                    .iter()
                    .find(|(x, _)| x == s.as_str())
                    .map(|x| x.1)
                    .unwrap_or(0),
                href: href(Some(*s), None),
                current: status == Some(*s),
            })
            .collect(),
        all_href: href(None, None),
        rows: rows.iter().map(|e| EmailView::new(c, e)).collect(),
        next_href: next.map(|n| href(status, Some(n))),
    })
}
