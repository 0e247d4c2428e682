//! What each board page shows, read from the store ([`crate::store::board`],
//! every query of the board) and shaped for its template as a typed page
//! (`#[derive(Serialize)]`): a key a template reads exists at compile time.
//! Counts come from grouped queries; a column loads at most
//! [`COLUMN_CARDS`] cards.

use super::charts::{self, Bar, Fill, Row};
use super::figures::ChartCache;
use super::i18n::{Words, fill};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::rules::{self, Action, Facts};
use crate::store::board::{self as q, ListFilter, StageCount};
use crate::store::{Store, people};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entity::{outbox, posting};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Cards per column on a posting's page.
pub const COLUMN_CARDS: u64 = 25;
/// Rows per page of a list.
pub const PAGE_ROWS: u64 = 50;
/// The stale threshold of a stage without a stale rule (as `atsd report`).
pub const DEFAULT_STALE: Duration = Duration::days(14);

/// Everything a page is built from.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub pipeline: &'a Pipeline,
    pub words: &'a Words,
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub charts: &'a Arc<ChartCache>,
    /// The stale threshold of stages without a stale rule.
    pub default_stale: Duration,
    /// The person signed in, if the session names one: an interviewer who
    /// has not given their own feedback on an application sees nobody
    /// else's (blind review).
    pub viewer: Option<i64>,
}

/// How long an application is in its stage, as every page shows it.
#[derive(Debug, Serialize)]
pub struct Stay {
    pub days: i64,
    pub days_text: String,
    /// In the stage longer than its threshold (as the report counts).
    pub stale: bool,
    pub stale_text: String,
}

impl Ctx<'_> {
    pub(super) fn w(&self, k: &str) -> String {
        self.words.get(k).cloned().unwrap_or_else(|| k.to_string())
    }

    pub fn time(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    fn thresholds(&self) -> HashMap<String, Duration> {
        crate::report::stale_thresholds(self.config, self.pipeline, self.default_stale)
    }

    /// The stale cut-off of each active stage, in pipeline order.
    pub fn cutoffs(&self) -> Vec<(String, DateTime<Utc>)> {
        let th = self.thresholds();
        self.pipeline
            .active()
            .iter()
            .filter_map(|s| th.get(s).map(|d| (s.clone(), self.now - *d)))
            .collect()
    }

    fn terminal(&self) -> Vec<String> {
        self.pipeline
            .stages()
            .filter(|s| self.pipeline.is_terminal(s))
            .map(String::from)
            .collect()
    }

    fn status_label(&self, p: &posting::Model) -> String {
        let s = match p.status.as_str() {
            "open" => self.w("status_open"),
            "closed" => self.w("status_closed"),
            _ => self.w("status_unknown"),
        };
        if p.board_missing {
            format!("{s}, {}", self.w("board_missing"))
        } else {
            s
        }
    }

    /// A stage named in a query must be one of the pipeline's.
    fn check_stage(&self, stage: Option<&String>) -> Result<()> {
        match stage {
            Some(s) if !self.pipeline.contains(s) => Err(Error::input(format!(
                "stage: `{s}` is not a stage of the pipeline"
            ))),
            _ => Ok(()),
        }
    }

    /// How long an application that entered `stage` at `entered` is in it,
    /// against the thresholds `th`.
    fn stay(&self, th: &HashMap<String, Duration>, stage: &str, entered: DateTime<Utc>) -> Stay {
        let days = (self.now - entered).num_days();
        let limit = th.get(stage);
        Stay {
            days,
            days_text: self.days_text(days),
            stale: limit.is_some_and(|l| self.now - entered > *l),
            stale_text: fill(
                &self.w("stale_badge"),
                &[("days", limit.map(|l| l.num_days()).unwrap_or(0).to_string())],
            ),
        }
    }

    fn days_text(&self, days: i64) -> String {
        if days == 1 {
            self.w("day_one")
        } else {
            fill(&self.w("day_many"), &[("n", days.to_string())])
        }
    }
}

/// A posting as the pages name it.
#[derive(Debug, Serialize)]
pub struct PostingView {
    pub id: i64,
    pub title: String,
    pub company: Option<String>,
    pub location: Option<String>,
    pub url: String,
    pub status: String,
    pub board_missing: bool,
    pub status_label: String,
}

impl PostingView {
    fn new(c: &Ctx<'_>, p: &posting::Model) -> PostingView {
        PostingView {
            id: p.id,
            title: p.title.clone(),
            company: p.company.clone(),
            location: p.location.clone(),
            url: p.url.clone(),
            status: p.status.clone(),
            board_missing: p.board_missing,
            status_label: c.status_label(p),
        }
    }
}

/// The list of a posting's applications that a filter shows: one stage,
/// the stale ones as of an instant (`stale=1&at=…`), those applied since an
/// instant. The instants go in the link, so that it lists exactly what the
/// page counted.
pub fn list_href(
    posting: i64,
    stage: Option<&str>,
    stale_at: Option<&DateTime<Utc>>,
    since: Option<&DateTime<Utc>>,
) -> String {
    let stamp =
        |t: &DateTime<Utc>| urlencode(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let mut qs = Vec::new();
    if let Some(s) = stage {
        qs.push(format!("stage={}", urlencode(s)));
    }
    if let Some(t) = stale_at {
        qs.push(format!("stale=1&at={}", stamp(t)));
    }
    if let Some(t) = since {
        qs.push(format!("since={}", stamp(t)));
    }
    let mut h = format!("/board/postings/{posting}/applications");
    if !qs.is_empty() {
        h.push('?');
        h.push_str(&qs.join("&"));
    }
    h
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Which postings the overview shows: all, or those with one status
/// (`open`, `closed`, `unknown`, or `board_missing`).
pub fn parse_posting_status(s: Option<&str>) -> Result<Option<String>> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v @ ("open" | "closed" | "unknown" | "board_missing")) => Ok(Some(v.to_string())),
        Some(v) => Err(Error::input(format!(
            "status: `{v}` is not a posting status (open, closed, unknown, board_missing)"
        ))),
    }
}

/// A count, and the list it counts.
#[derive(Debug, Serialize)]
pub struct StageLink {
    pub stage: String,
    pub count: i64,
    pub href: String,
}

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

/// A posting page's filter: one stage, stale ones only.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PostingFilter {
    pub stage: Option<String>,
    pub stale: bool,
}

/// `/board/postings/{id}`, and each posting of the HTML report.
#[derive(Debug, Serialize)]
pub struct PostingPage {
    pub posting: PostingView,
    pub columns: Vec<Column>,
    pub finished: Vec<StageLink>,
    pub charts: Charts,
    pub filter: PostingFilter,
    pub stages: Vec<String>,
    pub total: i64,
    /// Whether the page links into the board (not in the HTML report).
    pub links: bool,
    /// When the HTML report was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// The posting's hiring team, recruiter first.
    pub team: Vec<people::Member>,
    /// The form that edits the team (a viewer who may act).
    pub team_form: Option<TeamForm>,
    /// What the viewer's last action did, or why it was refused.
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// The team form of a posting page: the people to choose the recruiter
/// from, and the team as it stands.
#[derive(Debug, Serialize)]
pub struct TeamForm {
    pub form_token: String,
    pub people: Vec<PersonOption>,
    pub recruiter: Option<String>,
    pub hiring_managers: String,
    pub coordinators: String,
}

#[derive(Debug, Serialize)]
pub struct PersonOption {
    pub email: String,
    pub label: String,
}

/// The team form of a posting whose team is `team`.
pub async fn team_form(
    c: &Ctx<'_>,
    form_token: String,
    team: &[people::Member],
) -> Result<TeamForm> {
    let of = |role: &str| {
        team.iter()
            .filter(|m| m.role == role && m.active)
            .map(|m| m.email.clone())
            .collect::<Vec<_>>()
    };
    Ok(TeamForm {
        form_token,
        people: people::list(c.store, false)
            .await?
            .into_iter()
            .map(|p| PersonOption {
                label: format!("{} <{}>", p.name, p.email),
                email: p.email,
            })
            .collect(),
        recruiter: of("recruiter").into_iter().next(),
        hiring_managers: of("hiring_manager").join(", "),
        coordinators: of("coordinator").join(", "),
    })
}

/// An active stage's column.
#[derive(Debug, Serialize)]
pub struct Column {
    pub stage: String,
    pub count: i64,
    pub stale: i64,
    pub stale_href: String,
    pub count_href: String,
    pub threshold_days: i64,
    pub cards: Vec<CardView>,
    pub more: i64,
    pub more_text: String,
    pub more_href: String,
}

#[derive(Debug, Serialize)]
pub struct CardView {
    pub id: i64,
    pub name: String,
    pub href: String,
    /// The email still to send, or the one that died.
    pub email: Option<CardEmailView>,
    /// The next interview, when one is scheduled.
    pub interview: Option<String>,
    /// "N unread replies" from the candidate.
    pub replies: Option<String>,
    #[serde(flatten)]
    pub stay: Stay,
}

#[derive(Debug, Serialize)]
pub struct CardEmailView {
    pub status: String,
    pub text: String,
}

/// `/board/postings/{id}` (and the HTML report): a column per active stage
/// with its newest cards, the terminal stages as counts, and the charts.
pub async fn posting_page(
    c: &Ctx<'_>,
    id: i64,
    f: &PostingFilter,
    links: bool,
) -> Result<PostingPage> {
    let p = q::posting(c.store.conn(), id).await?;
    c.check_stage(f.stage.as_ref())?;
    let cutoffs = c.cutoffs();
    let th = c.thresholds();
    let counts = q::stage_counts(
        c.store.conn(),
        Some(id),
        &cutoffs,
        c.now - Duration::days(1),
    )
    .await?;
    let count = |s: &str| {
        counts
            .iter()
            .find(|r| r.stage == s)
            .cloned()
            .unwrap_or_default()
    };
    let mut columns = Vec::new();
    for stage in c.pipeline.active() {
        if f.stage.as_ref().is_some_and(|s| s != stage) {
            continue;
        }
        let n = count(stage);
        let cutoff = cutoffs.iter().find(|(s, _)| s == stage).map(|x| x.1);
        let filter = ListFilter {
            stage: Some(stage.clone()),
            entered_before: f
                .stale
                .then(|| cutoff.map(|t| vec![(stage.clone(), t)]).unwrap_or_default()),
            ..Default::default()
        };
        let cards = q::cards(c.store.conn(), id, &filter, COLUMN_CARDS).await?;
        let shown = if f.stale { n.stale } else { n.count };
        columns.push((stage.clone(), n, shown, cards));
    }
    let ids: Vec<i64> = columns
        .iter()
        .flat_map(|c| c.3.iter().map(|x| x.id))
        .collect();
    let emails = q::card_emails(c.store.conn(), &ids).await?;
    let next = crate::store::interviews::next_of(c.store.conn(), &ids, c.now).await?;
    let unread = crate::store::inbound::unread_replies(c.store.conn(), &ids).await?;
    let threshold_days = |s: &str| th.get(s).map(|d| d.num_days()).unwrap_or(0);
    let columns = columns
        .into_iter()
        .map(|(stage, n, shown, cards)| {
            let more = (shown - cards.len() as i64).max(0);
            let cards = cards
                .iter()
                .map(|card| CardView {
                    id: card.id,
                    name: card.name.clone(),
                    href: format!("/board/applications/{}", card.id),
                    email: emails.get(&card.id).map(|e| CardEmailView {
                        status: if e.status == outbox::Status::Pending.as_str()
                            || e.status == outbox::Status::Sending.as_str()
                        {
                            "pending".into()
                        } else {
                            "dead".into()
                        },
                        text: fill(
                            &c.w(match e.status.as_str() {
                                "dead" => "email_dead",
                                "held" => "email_held",
                                "bounced" => "email_bounced",
                                _ => "email_pending",
                            }),
                            &[("template", e.template.clone())],
                        ),
                    }),
                    replies: unread
                        .get(&card.id)
                        .filter(|n| **n > 0)
                        .map(|n| fill(&c.w("replies_unread"), &[("n", n.to_string())])),
                    interview: next
                        .get(&card.id)
                        .map(|iv| fill(&c.w("interview_card"), &[("when", c.time(&iv.starts_at))])),
                    stay: c.stay(&th, &stage, card.entered_stage_at),
                })
                .collect();
            Column {
                stale_href: list_href(id, Some(&stage), Some(&c.now), None),
                count_href: list_href(id, Some(&stage), None, None),
                threshold_days: threshold_days(&stage),
                count: n.count,
                stale: n.stale,
                cards,
                more,
                more_text: fill(&c.w("and_more"), &[("n", more.to_string())]),
                more_href: if f.stale {
                    list_href(id, Some(&stage), Some(&c.now), None)
                } else {
                    list_href(id, Some(&stage), None, None)
                },
                stage,
            }
        })
        .collect();
    let terminal = c.terminal();
    let finished = terminal
        .iter()
        .map(|s| StageLink {
            stage: s.clone(),
            count: count(s).count,
            href: list_href(id, Some(s), None, None),
        })
        .collect();
    let charts = posting_charts(c, id, &counts, &terminal).await?;
    Ok(PostingPage {
        posting: PostingView::new(c, &p),
        columns,
        finished,
        charts,
        filter: f.clone(),
        stages: c.pipeline.active().to_vec(),
        total: counts.iter().map(|r| r.count).sum(),
        links,
        generated: None,
        team: people::team(c.store.conn(), id).await?,
        team_form: None,
        notice: None,
        error: None,
    })
}

/// A posting page's three charts, each an SVG with its numbers in a table.
#[derive(Debug, Serialize)]
pub struct Charts {
    pub now: NowChart,
    pub funnel: FunnelChart,
    /// When the log's figures were counted.
    pub counted: String,
    pub stays: StaysChart,
}

#[derive(Debug, Serialize)]
pub struct NowChart {
    pub svg: String,
    pub rows: Vec<NowRow>,
}

#[derive(Debug, Serialize)]
pub struct NowRow {
    pub stage: String,
    pub count: i64,
    pub stale: i64,
    pub threshold_days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct FunnelChart {
    pub svg: String,
    pub rows: Vec<FunnelRow>,
    pub definition: String,
    pub finished: i64,
}

#[derive(Debug, Serialize)]
pub struct FunnelRow {
    pub stage: String,
    pub reached: i64,
    /// Of those that reached the stage before.
    pub share: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StaysChart {
    pub svg: String,
    pub rows: Vec<StaysRow>,
    pub definition: String,
}

#[derive(Debug, Serialize)]
pub struct StaysRow {
    pub stage: String,
    pub median: Option<i64>,
    pub p90: Option<i64>,
    pub n: i64,
}

async fn posting_charts(
    c: &Ctx<'_>,
    id: i64,
    counts: &[StageCount],
    terminal: &[String],
) -> Result<Charts> {
    let th = c.thresholds();
    let count = |s: &str| {
        counts
            .iter()
            .find(|r| r.stage == s)
            .cloned()
            .unwrap_or_default()
    };
    let stages: Vec<&str> = c.pipeline.stages().collect();
    // now, per stage, the stale part hatched
    let stale_word = c.w("stale").to_lowercase();
    let now_rows: Vec<Row> = stages
        .iter()
        .map(|s| {
            let n = count(s);
            let text = if n.stale > 0 {
                format!("{} ({} {stale_word})", n.count, n.stale)
            } else {
                n.count.to_string()
            };
            Row {
                label: s.to_string(),
                bars: vec![Bar {
                    segments: vec![
                        (n.stale as f64, Fill::Hatched),
                        ((n.count - n.stale) as f64, Fill::Solid),
                    ],
                    text,
                }],
            }
        })
        .collect();
    let now = NowChart {
        svg: charts::bar_chart(
            &format!("p{id}-now"),
            &c.w("chart_now"),
            &c.w("chart_now_desc"),
            &now_rows,
        ),
        rows: stages
            .iter()
            .map(|s| {
                let n = count(s);
                NowRow {
                    stage: s.to_string(),
                    count: n.count,
                    stale: n.stale,
                    threshold_days: th.get(*s).map(|d| d.num_days()),
                }
            })
            .collect(),
    };

    let (log, behind) = c.charts.get(c.store, id, terminal).await?;
    let counted = fill(
        &c.w(if behind { "counted_behind" } else { "counted" }),
        &[("at", c.time(&log.counted_at))],
    );
    // the funnel: finished applications that ever reached each stage
    let finished = log.finished;
    let mut funnel_stages: Vec<&str> = c.pipeline.active().iter().map(String::as_str).collect();
    funnel_stages.push("hired");
    let mut prev: Option<i64> = None;
    let mut funnel_table = Vec::new();
    let mut funnel_rows = Vec::new();
    for s in &funnel_stages {
        let reached = log.funnel.get(*s).copied().unwrap_or(0);
        let share = prev.filter(|p| *p > 0).map(|p| reached as f64 / p as f64);
        let pct = share.map(|x| format!("{:.0}%", x * 100.0));
        funnel_rows.push(Row {
            label: s.to_string(),
            bars: vec![Bar {
                segments: vec![(reached as f64, Fill::Solid)],
                text: match &pct {
                    Some(p) => format!("{reached} · {p}"),
                    None => reached.to_string(),
                },
            }],
        });
        funnel_table.push(FunnelRow {
            stage: s.to_string(),
            reached,
            share: pct,
        });
        prev = Some(reached);
    }
    let funnel_def = fill(&c.w("chart_funnel_def"), &[("n", finished.to_string())]);
    let funnel = FunnelChart {
        svg: charts::bar_chart(
            &format!("p{id}-funnel"),
            &c.w("chart_funnel"),
            &funnel_def,
            &funnel_rows,
        ),
        rows: funnel_table,
        definition: funnel_def,
        finished,
    };
    // days in stage: median and 90th percentile of completed stays
    let mut stays_rows = Vec::new();
    let mut stays_table = Vec::new();
    for s in c.pipeline.active() {
        let hist: Vec<(i64, i64)> = log
            .stays
            .iter()
            .filter(|x| x.0 == *s)
            .map(|x| (x.1, x.2))
            .collect();
        let n: i64 = hist.iter().map(|h| h.1).sum();
        let med = charts::quantile(&hist, 0.5);
        let p90 = charts::quantile(&hist, 0.9);
        let show = |v: Option<i64>| v.map(|d| d.to_string()).unwrap_or_else(|| "–".into());
        stays_rows.push(Row {
            label: s.clone(),
            bars: vec![
                Bar {
                    segments: vec![(med.unwrap_or(0) as f64, Fill::Solid)],
                    text: format!("{} {} (n={n})", c.w("median"), show(med)),
                },
                Bar {
                    segments: vec![(p90.unwrap_or(0) as f64, Fill::Outlined)],
                    text: format!("{} {} (n={n})", c.w("p90"), show(p90)),
                },
            ],
        });
        stays_table.push(StaysRow {
            stage: s.clone(),
            median: med,
            p90,
            n,
        });
    }
    let stays_def = c.w("chart_stays_def");
    let stays = StaysChart {
        svg: charts::bar_chart(
            &format!("p{id}-stays"),
            &c.w("chart_stays"),
            &stays_def,
            &stays_rows,
        ),
        rows: stays_table,
        definition: stays_def,
    };
    Ok(Charts {
        now,
        funnel,
        counted,
        stays,
    })
}

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

/// `/board/applications/{id}`.
#[derive(Debug, Serialize)]
pub struct ApplicationPage {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub stage: String,
    pub applied: String,
    pub posting: PostingView,
    pub transitions: Vec<TransitionView>,
    pub emails: Vec<EmailView>,
    /// What the rules will do next, and when.
    pub next_rule: Option<NextRule>,
    #[serde(flatten)]
    pub stay: Stay,
    /// The version the move form expects (a move made since is refused).
    pub version: i32,
    pub on_hold: bool,
    pub hold_reason: Option<String>,
    pub interviews: Vec<InterviewView>,
    /// The scorecard matrix (attributes × interviewers), when the viewer
    /// may see it.
    pub scorecards: Option<super::scorecards::Matrix>,
    /// Mail from the candidate's side: replies, auto-replies, bounces.
    pub mail: Vec<InboundView>,
    /// The candidate's address is marked undeliverable: since when, why.
    pub undeliverable: Option<String>,
    /// What it brought through the careers site or the Job Board API.
    pub form: Option<FormView>,
    /// The forms, for a viewer who may act.
    pub actions: Option<Actions>,
    /// What the viewer's last action did, or why it was refused.
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// An application's form: phone, source, answers by question, files.
#[derive(Debug, Serialize)]
pub struct FormView {
    pub phone: Option<String>,
    pub source: Option<String>,
    /// `(question, answer)`, answers of several choices joined.
    pub answers: Vec<(String, String)>,
    pub files: Vec<FileView>,
}

#[derive(Debug, Serialize)]
pub struct FileView {
    pub id: i64,
    pub field: String,
    pub name: String,
    pub media_type: String,
    pub size: String,
}

async fn form_view<C: sea_orm::ConnectionTrait>(conn: &C, id: i64) -> Result<Option<FormView>> {
    let Some(f) = crate::store::careers::form_of(conn, id).await? else {
        return Ok(None);
    };
    let answers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&f.answers).unwrap_or_default();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    Ok(Some(FormView {
        phone: f.phone,
        source: f.source,
        answers: answers.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        files: crate::store::careers::files_of(conn, id)
            .await?
            .into_iter()
            .map(|x| FileView {
                id: x.id,
                field: x.field,
                name: x.name,
                media_type: x.media_type,
                size: crate::config::Size(x.size.max(0) as u64).to_string(),
            })
            .collect(),
    }))
}

/// What a viewer who may act can do on an application page.
#[derive(Debug, Serialize)]
pub struct Actions {
    pub form_token: String,
    /// The stages the pipeline allows a move to from here.
    pub moves: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct TransitionView {
    pub at: String,
    pub from: Option<String>,
    pub to: String,
    pub actor: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NextRule {
    pub text: String,
    /// Already due (the next run of the advance job acts).
    pub due: bool,
}

/// An email as the application page and the outbox list show it.
#[derive(Debug, Serialize)]
pub struct EmailView {
    pub id: i64,
    pub created: String,
    pub recipient: String,
    pub template: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub application_href: Option<String>,
    pub application_id: Option<i64>,
}

impl EmailView {
    fn new(c: &Ctx<'_>, e: &outbox::Model) -> EmailView {
        EmailView {
            id: e.id,
            created: c.time(&e.created_at),
            recipient: e.recipient.clone(),
            template: e.template.clone(),
            status: e.status.to_string(),
            attempts: e.attempts,
            last_error: e.last_error.clone(),
            application_href: e.application_id.map(|a| format!("/board/applications/{a}")),
            application_id: e.application_id,
        }
    }
}

/// `/board/applications/{id}`: the history, the emails and the next rule.
pub async fn application_page(c: &Ctx<'_>, id: i64) -> Result<ApplicationPage> {
    let conn = c.store.conn();
    let h = q::application_history(conn, id).await?;
    let a = &h.application;
    let p = q::posting(conn, a.posting_id).await?;
    // read as the advance job reads them
    let (posting_closed_at, reminded) = crate::store::applications::rule_facts(conn, a.id).await?;
    let rules = rules::from_config(c.config);
    let facts = Facts {
        stage: &a.stage,
        entered_stage_at: a.entered_stage_at,
        posting_closed_at,
        reminded,
    };
    let next_rule = rules::next_action(&rules, c.pipeline, &facts).map(|(act, at)| {
        let when = c.time(&at);
        let text = match act {
            Action::Move { rule, to } => fill(
                &c.w("next_rule_move"),
                &[
                    ("rule", rule.name.clone()),
                    ("stage", to.to_string()),
                    ("at", when),
                ],
            ),
            Action::Remind { rule } => fill(
                &c.w("next_rule_remind"),
                &[("rule", rule.name.clone()), ("at", when)],
            ),
        };
        NextRule {
            text,
            due: at <= c.now,
        }
    });
    let th = c.thresholds();
    Ok(ApplicationPage {
        id: a.id,
        name: h
            .candidate
            .as_ref()
            .map(|x| x.name.clone())
            .unwrap_or_default(),
        email: h
            .candidate
            .as_ref()
            .map(|x| x.email.clone())
            .unwrap_or_default(),
        stage: a.stage.clone(),
        applied: c.time(&a.applied_at),
        posting: PostingView::new(c, &p),
        transitions: h
            .transitions
            .iter()
            .map(|t| TransitionView {
                at: c.time(&t.at),
                from: t.from_stage.clone(),
                to: t.to_stage.clone(),
                actor: t.actor.clone(),
                reason: t.reason.clone(),
            })
            .collect(),
        emails: h.emails.iter().map(|e| EmailView::new(c, e)).collect(),
        next_rule,
        stay: c.stay(&th, &a.stage, a.entered_stage_at),
        version: a.version,
        on_hold: h.candidate.as_ref().is_some_and(|x| x.on_hold),
        hold_reason: h.candidate.as_ref().and_then(|x| x.hold_reason.clone()),
        interviews: interview_views(
            c,
            crate::store::interviews::of_application(conn, a.id).await?,
        )
        .await?,
        scorecards: super::scorecards::matrix(
            c,
            a.id,
            &crate::interviews::scorecard::of_posting(&p),
        )
        .await?,
        mail: crate::store::inbound::list(conn, None, Some(a.id), 100)
            .await?
            .into_iter()
            .rev()
            .map(|m| InboundView::new(c, m, h.candidate.as_ref().map(|x| x.email.as_str())))
            .collect(),
        undeliverable: match &h.candidate {
            Some(cand) => crate::store::inbound::undeliverable(conn, &cand.email)
                .await?
                .map(|u| {
                    fill(
                        &c.w("undeliverable_since"),
                        &[
                            ("since", c.time(&u.since)),
                            (
                                "why",
                                [u.dsn_status.clone(), u.diagnostic.clone()]
                                    .into_iter()
                                    .flatten()
                                    .collect::<Vec<_>>()
                                    .join(" "),
                            ),
                        ],
                    )
                }),
            None => None,
        },
        form: form_view(conn, a.id).await?,
        actions: None,
        notice: None,
        error: None,
    })
}

/// A message that came back about an application, as the board shows it.
#[derive(Debug, Serialize)]
pub struct InboundView {
    pub received: String,
    pub kind: String,
    pub kind_text: String,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    /// "cv.pdf (48 bytes)", not kept.
    pub attachments: Vec<String>,
    /// A bounce's status and diagnostic.
    pub detail: Option<String>,
    pub unread: bool,
    /// A reply sent from another address than the candidate's on file.
    pub other_sender: bool,
}

impl InboundView {
    fn new(c: &Ctx<'_>, m: entity::inbound_message::Model, on_file: Option<&str>) -> InboundView {
        // "Name <address>" or the address alone, as the reply was stored
        let other_sender = m.kind == "reply"
            && m.status != "calendar"
            && match (m.sender.as_deref(), on_file) {
                (Some(s), Some(file)) => {
                    let a = s
                        .rsplit_once('<')
                        .map_or(s, |(_, a)| a.trim_end_matches('>'))
                        .trim();
                    !a.eq_ignore_ascii_case(file)
                }
                _ => false,
            };
        let attachments = m
            .attachments
            .as_deref()
            .and_then(|a| serde_json::from_str::<Vec<serde_json::Value>>(a).ok())
            .unwrap_or_default()
            .iter()
            .map(crate::inbound::receive::attachment_line)
            .collect();
        let detail = (m.kind == "bounce").then(|| {
            [
                m.status.clone(),
                m.dsn_status.clone().unwrap_or_default(),
                m.diagnostic.clone().unwrap_or_default(),
            ]
            .join(" ")
            .trim()
            .to_string()
        });
        InboundView {
            received: c.time(&m.received_at),
            kind_text: c.w(&format!("inbound_{}", m.kind)),
            kind: m.kind,
            from: m.sender,
            subject: m.subject,
            text: m.body_text,
            attachments,
            detail,
            unread: m.read_at.is_none(),
            other_sender,
        }
    }
}

/// An interview as the board shows it, times in the viewer's zone.
#[derive(Debug, Serialize)]
pub struct InterviewView {
    pub id: i64,
    pub title: String,
    pub when: String,
    pub minutes: String,
    /// scheduled, cancelled or completed, and in words.
    pub status: String,
    pub status_text: String,
    pub location: Option<String>,
    pub video_url: Option<String>,
    pub candidate: String,
    pub application_href: String,
    pub posting: String,
    pub posting_href: String,
    pub interviewers: Vec<InterviewerView>,
    /// The candidate's calendar's answer, in words.
    pub candidate_answer: Option<String>,
}

/// An interviewer and their feedback.
#[derive(Debug, Serialize)]
pub struct InterviewerView {
    pub name: String,
    pub email: String,
    /// Their recommendation in words, or "no feedback yet".
    pub feedback: String,
    pub given: bool,
    pub note: Option<String>,
    /// Their calendar's answer to the invitation, in words.
    pub answer: Option<String>,
}

/// The board's view of `rows`, with their interviewers, candidates and
/// postings read in three queries.
pub async fn interview_views(
    c: &Ctx<'_>,
    rows: Vec<entity::interview::Model>,
) -> Result<Vec<InterviewView>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let conn = c.store.conn();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut who = crate::store::interviews::interviewers(conn, &ids).await?;
    let app_ids: Vec<i64> = rows.iter().map(|r| r.application_id).collect();
    let apps: HashMap<i64, (entity::application::Model, Option<entity::candidate::Model>)> =
        crate::store::applications::with_candidates(conn, &app_ids)
            .await?
            .into_iter()
            .map(|(a, cand)| (a.id, (a, cand)))
            .collect();
    // blind review: the applications on which the viewer interviews and has
    // given no feedback yet show them nobody else's
    let blind: std::collections::HashSet<i64> = match c.viewer {
        Some(person) => {
            crate::store::interviews::blind_applications(conn, person, &app_ids).await?
        }
        None => Default::default(),
    };
    let posting_ids: Vec<i64> = apps.values().map(|(a, _)| a.posting_id).collect();
    let postings: HashMap<i64, String> = crate::store::postings::by_ids(conn, &posting_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p.title))
        .collect();
    Ok(rows
        .into_iter()
        .map(|iv| {
            let status = crate::workflow::interviews::status_at(&iv, c.now).to_string();
            let (candidate, posting_id) = apps
                .get(&iv.application_id)
                .map(|(a, cand)| {
                    (
                        cand.as_ref().map(|x| x.name.clone()).unwrap_or_default(),
                        a.posting_id,
                    )
                })
                .unwrap_or_default();
            let hidden = blind.contains(&iv.application_id);
            let interviewers = who
                .remove(&iv.id)
                .unwrap_or_default()
                .into_iter()
                .map(|x| {
                    let theirs = hidden && Some(x.person.id) != c.viewer;
                    InterviewerView {
                        name: x.person.name.clone(),
                        email: x.person.email.clone(),
                        given: x.recommendation.is_some() && !theirs,
                        feedback: match (&x.recommendation, theirs) {
                            (Some(_), true) => c.w("feedback_hidden"),
                            (Some(r), false) => c.w(&format!("rec_{r}")),
                            (None, _) => c.w("no_feedback"),
                        },
                        note: if theirs { None } else { x.note },
                        answer: x.partstat.map(|p| c.w(&format!("partstat_{p}"))),
                    }
                })
                .collect();
            InterviewView {
                id: iv.id,
                title: iv.title.clone(),
                when: c.time(&iv.starts_at),
                minutes: fill(&c.w("minutes_n"), &[("n", iv.minutes.to_string())]),
                status_text: c.w(&format!("iv_{status}")),
                status,
                location: iv.location.clone(),
                video_url: iv.video_url.clone(),
                candidate,
                application_href: format!("/board/applications/{}", iv.application_id),
                posting: postings.get(&posting_id).cloned().unwrap_or_default(),
                posting_href: format!("/board/postings/{posting_id}"),
                interviewers,
                candidate_answer: iv
                    .candidate_partstat
                    .as_ref()
                    .map(|p| c.w(&format!("partstat_{p}"))),
            }
        })
        .collect())
}

/// `/board/interviews`: the interviews of the coming week, from the start
/// of the viewer's day.
#[derive(Debug, Serialize)]
pub struct InterviewsPage {
    pub heading: String,
    pub rows: Vec<InterviewView>,
}

pub async fn interviews_page(c: &Ctx<'_>) -> Result<InterviewsPage> {
    let today = c.now.with_timezone(&c.tz).date_naive();
    let from = today
        .and_hms_opt(0, 0, 0)
        .and_then(|t| {
            chrono::TimeZone::from_local_datetime(&c.tz, &t)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        })
        .unwrap_or(c.now);
    let to = from + Duration::days(7);
    let rows = crate::store::interviews::starting_between(c.store.conn(), from, to).await?;
    Ok(InterviewsPage {
        heading: fill(
            &c.w("interviews_week"),
            &[
                (
                    "from",
                    from.with_timezone(&c.tz).format("%Y-%m-%d").to_string(),
                ),
                (
                    "to",
                    (to - Duration::days(1))
                        .with_timezone(&c.tz)
                        .format("%Y-%m-%d")
                        .to_string(),
                ),
            ],
        ),
        rows: interview_views(c, rows).await?,
    })
}

/// `/board/requests`: the open data-subject requests, soonest due first.
#[derive(Debug, Serialize)]
pub struct RequestsPage {
    pub rows: Vec<RequestView>,
}

/// One open request as the page shows it.
#[derive(Debug, Serialize)]
pub struct RequestView {
    pub id: i64,
    pub kind: String,
    pub law: String,
    pub email: String,
    pub received: String,
    pub due: String,
    pub acknowledge_by: Option<String>,
    /// `open`, `due_soon` or `overdue`
    pub urgency: &'static str,
    /// The urgency in the page's language.
    pub urgency_word: String,
}

pub async fn requests_page(c: &Ctx<'_>) -> Result<RequestsPage> {
    let rows = crate::store::requests::list(c.store.conn(), false, None).await?;
    Ok(RequestsPage {
        rows: rows
            .into_iter()
            .map(|r| {
                let urgency = crate::requests::urgency(r.due_at, c.now);
                RequestView {
                    id: r.id,
                    kind: r.kind,
                    law: r.law.to_uppercase(),
                    email: r.email,
                    received: c.time(&r.received_at),
                    due: c.time(&r.due_at),
                    acknowledge_by: r.acknowledge_by.map(|a| c.time(&a)),
                    urgency,
                    urgency_word: c.w(&format!("request_{urgency}")),
                }
            })
            .collect(),
    })
}

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

/// `/board/jobs`.
#[derive(Debug, Serialize)]
pub struct JobsPage {
    pub jobs: Vec<JobView>,
    pub failures: Vec<FailureView>,
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub job: &'static str,
    pub schedule: String,
    pub last: Option<LastRun>,
    pub next: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LastRun {
    pub scheduled_for: String,
    pub finished: Option<String>,
    pub outcome: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FailureView {
    pub job: String,
    pub scheduled_for: String,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub instance: String,
}

/// `/board/jobs`: per job its schedule, last run and next run, then the
/// recent failures.
pub async fn jobs_page(c: &Ctx<'_>) -> Result<JobsPage> {
    let conn = c.store.conn();
    let mut jobs = Vec::new();
    for (job, expr) in c.config.schedule.jobs() {
        let last = crate::store::stats::last_run(conn, job).await?;
        let next = crate::schedule::parse_cron(expr)
            .ok()
            .and_then(|cr| cr.next_after(c.now, c.tz));
        jobs.push(JobView {
            job,
            schedule: expr.to_string(),
            last: last.as_ref().map(|l| LastRun {
                scheduled_for: c.time(&l.scheduled_for),
                finished: l.finished_at.as_ref().map(|t| c.time(t)),
                outcome: l.outcome.clone().unwrap_or_else(|| "running".into()),
                error: l.error.clone(),
            }),
            next: next.as_ref().map(|t| c.time(t)),
        });
    }
    let failures = q::job_failures(conn, 20).await?;
    Ok(JobsPage {
        jobs,
        failures: failures
            .iter()
            .map(|f| FailureView {
                job: f.job.clone(),
                scheduled_for: c.time(&f.scheduled_for),
                outcome: f.outcome.clone(),
                error: f.error.clone(),
                instance: f.instance.clone(),
            })
            .collect(),
    })
}
