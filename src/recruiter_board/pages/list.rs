//! A posting's list of one stage (`/board/postings/{id}/applications`), paged by keyset.

use super::*;

/// A list's query string, parsed.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub stage: Option<String>,
    pub stale: bool,
    pub since: Option<DateTime<Utc>>,
    pub before: Option<i64>,
}

/// `/board/postings/{id}/applications`.
#[derive(Debug, Serialize)]
pub struct ListPage {
    pub posting: PostingView,
    pub rows: Vec<ListRow>,
    /// How many the list holds in all (none for a list the board never links to).
    pub total: Option<i64>,
    pub next_href: Option<String>,
    pub filter: ListFilterView,
}

#[derive(Debug, Serialize)]
pub struct ListRow {
    pub id: i64,
    pub name: String,
    pub stage: String,
    pub href: String,
    pub applied: String,
    #[serde(flatten)]
    pub stay: Stay,
}

#[derive(Debug, Serialize)]
pub struct ListFilterView {
    pub stage: Option<String>,
    pub stale: bool,
    pub since: Option<String>,
}

/// `/board/postings/{id}/applications`: the applications a count counts,
/// newest first, a page at a time.
pub async fn list_page(c: &Ctx<'_>, id: i64, lq: &ListQuery) -> Result<ListPage> {
    let p = q::posting(c.store.conn(), id).await?;
    c.check_stage(lq.stage.as_ref())?;
    let cutoffs = c.cutoffs();
    let stale_cutoffs: Vec<(String, DateTime<Utc>)> = cutoffs
        .iter()
        .filter(|(s, _)| lq.stage.as_ref().is_none_or(|x| x == s))
        .cloned()
        .collect();
    let f = ListFilter {
        stage: lq.stage.clone(),
        entered_before: lq.stale.then(|| stale_cutoffs.clone()),
        applied_since: lq.since,
        before_id: lq.before,
    };
    let mut rows = q::cards(c.store.conn(), id, &f, PAGE_ROWS + 1).await?;
    let next = if rows.len() as u64 > PAGE_ROWS {
        rows.truncate(PAGE_ROWS as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    // the total, from the grouped counts (exact for every filter the board links to)
    let counts = q::stage_counts(
        c.store.conn(),
        Some(id),
        &cutoffs,
        lq.since.unwrap_or(c.now + Duration::days(1)),
    )
    .await?;
    // the board never links to a list that is both stale and new: no total for that one
    let total: Option<i64> = (!(lq.stale && lq.since.is_some())).then(|| {
        counts
            .iter()
            .filter(|r| lq.stage.as_ref().is_none_or(|s| *s == r.stage))
            .map(|r| {
                if lq.stale {
                    r.stale
                } else if lq.since.is_some() {
                    r.new
                } else {
                    r.count
                }
            })
            .sum()
    });
    let th = c.thresholds();
    let items = rows
        .iter()
        .map(|r| ListRow {
            id: r.id,
            name: r.name.clone(),
            stage: r.stage.clone(),
            href: format!("/board/applications/{}", r.id),
            applied: c.time(&r.applied_at),
            stay: c.stay(&th, &r.stage, r.entered_stage_at),
        })
        .collect();
    let next_href = next.map(|n| {
        let base = list_href(
            id,
            lq.stage.as_deref(),
            lq.stale.then_some(&c.now),
            lq.since.as_ref(),
        );
        format!(
            "{base}{}before={n}",
            if base.contains('?') { "&" } else { "?" }
        )
    });
    Ok(ListPage {
        posting: PostingView::new(c, &p),
        rows: items,
        total,
        next_href,
        filter: ListFilterView {
            stage: lq.stage.clone(),
            stale: lq.stale,
            since: lq.since.map(|t| c.time(&t)),
        },
    })
}
