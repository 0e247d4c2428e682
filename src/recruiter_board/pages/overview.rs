//! The overview (`/board`): every posting's counts by stage.

use super::*;

/// `/board`.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub stages: Vec<String>,
    pub rows: Vec<OverviewRow>,
    pub status: Option<String>,
    pub statuses: [&'static str; 4],
    /// Only the viewer's own postings (`?owner=me`).
    pub mine: bool,
    /// The viewer's name, when their session belongs to a person.
    pub person: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct OverviewRow {
    pub posting: PostingView,
    pub href: String,
    pub stages: Vec<StageLink>,
    pub total: i64,
    pub total_href: String,
    pub new: i64,
    pub new_href: String,
    pub stale: i64,
    pub stale_href: String,
    pub dead: i64,
    pub dead_href: String,
}

/// `/board`: every posting with its counts per stage, new, stale and dead
/// emails, each a link to the list it counts.
///
/// `owned`: only these postings (a person's own).
pub async fn overview(
    c: &Ctx<'_>,
    status: Option<&str>,
    owned: Option<&[i64]>,
) -> Result<Overview> {
    let mut postings = q::postings(c.store.conn(), status).await?;
    if let Some(ids) = owned {
        postings.retain(|p| ids.binary_search(&p.id).is_ok());
    }
    let since = c.now - Duration::days(1);
    let counts = q::stage_counts(c.store.conn(), None, &c.cutoffs(), since).await?;
    let dead = q::dead_emails(c.store.conn(), None).await?;
    let mut by_posting: HashMap<i64, Vec<&StageCount>> = HashMap::new();
    for r in &counts {
        by_posting.entry(r.posting_id).or_default().push(r);
    }
    let stages: Vec<String> = c.pipeline.stages().map(String::from).collect();
    let rows = postings
        .iter()
        .map(|p| {
            let rs = by_posting.get(&p.id).map(Vec::as_slice).unwrap_or(&[]);
            let n = |s: &str| {
                rs.iter()
                    .find(|r| r.stage == s)
                    .map(|r| r.count)
                    .unwrap_or(0)
            };
            OverviewRow {
                posting: PostingView::new(c, p),
                href: format!("/board/postings/{}", p.id),
                stages: stages
                    .iter()
                    .map(|s| StageLink {
                        stage: s.clone(),
                        count: n(s),
                        href: list_href(p.id, Some(s), None, None),
                    })
                    .collect(),
                total: rs.iter().map(|r| r.count).sum(),
                total_href: list_href(p.id, None, None, None),
                new: rs.iter().map(|r| r.new).sum(),
                new_href: list_href(p.id, None, None, Some(&since)),
                stale: rs.iter().map(|r| r.stale).sum(),
                stale_href: list_href(p.id, None, Some(&c.now), None),
                dead: dead.get(&p.id).copied().unwrap_or(0),
                dead_href: format!("/board/outbox?status=dead&posting={}", p.id),
            }
        })
        .collect();
    Ok(Overview {
        stages,
        rows,
        status: status.map(String::from),
        statuses: ["open", "closed", "unknown", "board_missing"],
        mine: owned.is_some(),
        person: None,
    })
}
