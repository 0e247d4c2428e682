//! What each board page shows, read from the store and shaped for its
//! template. Counts come from the grouped queries of [`crate::store::board`];
//! a column loads at most [`COLUMN_CARDS`] cards.

use super::charts::{self, Bar, Fill, Row};
use super::i18n::{Words, fill};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::rules::{self, Action, Facts};
use crate::store::Store;
use crate::store::board::{self as q, ListFilter, StageCount};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entity::{application, candidate, job_run, outbox, posting, transition};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Cards per column on a posting's page.
pub const COLUMN_CARDS: u64 = 25;
/// Rows per page of a list.
pub const PAGE_ROWS: u64 = 50;
/// The stale threshold of a stage without a stale rule (as `atsd report`).
pub const DEFAULT_STALE: Duration = Duration::days(14);
/// Figures younger than this are shown as they are, even when transitions
/// were written since (they are brought up to date in the background).
const REFRESH_AFTER: std::time::Duration = std::time::Duration::from_secs(60);
/// Figures older than this are never shown: the page waits for new ones.
const SHOW_AT_MOST: std::time::Duration = std::time::Duration::from_secs(600);

/// The chart figures of a posting that come from the transition log: the
/// funnel of finished applications and the histogram of completed stays —
/// the costly part of a posting page (grouped passes over every transition
/// of the posting: about 0.1 s for 100,000 applications).
///
/// Kept per posting with the newest transition id they saw. A page asks for
/// them: when none are kept, it computes them and waits; when transitions
/// were written since (or they are a minute old), it shows the kept ones
/// with the time they were counted, and one refresh per posting runs in the
/// background; figures ten minutes old are never shown. The biggest
/// postings' figures are counted ahead by [`keep_warm`].
#[derive(Default)]
pub struct ChartCache(Mutex<HashMap<i64, Cached>>);

struct Cached {
    /// The newest transition id when they were counted.
    last: i64,
    counted: Instant,
    figures: Arc<LogFigures>,
    refreshing: bool,
}

pub struct LogFigures {
    /// Finished applications when counted (the funnel's base).
    finished: i64,
    funnel: HashMap<String, i64>,
    stays: Vec<(String, i64, i64)>,
    pub counted_at: DateTime<Utc>,
}

impl LogFigures {
    async fn count(store: &Store, posting: i64, terminal: &[String]) -> Result<LogFigures> {
        let counted_at = Utc::now();
        // three reads side by side, on connections of their own: on SQLite
        // one after the other took 450–530 ms for a posting of 100,000
        // applications (the days-in-stage pass alone ~450 ms), side by side
        // 120–135 ms (measured with benches/board.rs)
        let (finished, funnel, stays) = tokio::try_join!(
            q::finished(store.conn(), posting, terminal),
            q::funnel(store.conn(), posting, terminal),
            q::stay_days(store.conn(), posting),
        )?;
        Ok(LogFigures {
            finished,
            funnel,
            stays,
            counted_at,
        })
    }
}

/// Postings with at least this many applications have their chart figures
/// counted ahead, in the background ([`keep_warm`]), so that no recruiter
/// waits for them; smaller postings count in a few milliseconds.
pub const WARM_MIN: i64 = 2_000;
/// At most this many postings (the biggest) are kept counted ahead.
const WARM_POSTINGS: u64 = 50;
/// How often [`keep_warm`] looks.
const WARM_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Counts ahead the chart figures of the biggest postings: a second after the
/// board starts, then every minute, those missing, behind the transition log
/// or half their shelf life old. Ends when the board (its cache) is gone.
pub async fn keep_warm(
    cache: std::sync::Weak<ChartCache>,
    store: Store,
    current: Arc<crate::api::Current>,
) {
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        tokio::time::sleep(wait).await;
        wait = WARM_EVERY;
        let Some(cache) = cache.upgrade() else {
            return;
        };
        let Some(runner) = current.get() else {
            continue;
        };
        let terminal: Vec<String> = runner
            .pipeline
            .stages()
            .filter(|s| runner.pipeline.is_terminal(s))
            .map(String::from)
            .collect();
        let big = match q::big_postings(store.conn(), WARM_MIN, WARM_POSTINGS).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "board: cannot find the biggest postings");
                continue;
            }
        };
        for posting in big {
            let Ok(last) = q::last_transition(store.conn()).await else {
                break;
            };
            if !cache.needs(posting, last) {
                continue;
            }
            let t = Instant::now();
            match LogFigures::count(&store, posting, &terminal).await {
                Ok(f) => {
                    cache.keep(posting, last, Arc::new(f));
                    tracing::debug!(
                        posting,
                        ms = t.elapsed().as_millis() as u64,
                        "board: counted the chart figures ahead"
                    );
                }
                Err(e) => {
                    tracing::warn!(posting, error = %e, "board: cannot count the chart figures")
                }
            }
        }
    }
}

impl ChartCache {
    /// Whether the kept figures of `posting` should be counted again: none
    /// kept, behind the log, or half their shelf life old.
    fn needs(&self, posting: i64, last: i64) -> bool {
        match self.0.lock() {
            Ok(m) => m
                .get(&posting)
                .is_none_or(|c| c.last != last || c.counted.elapsed() > SHOW_AT_MOST / 2),
            Err(_) => false,
        }
    }

    fn keep(&self, posting: i64, last: i64, figures: Arc<LogFigures>) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() > 1024 {
                m.clear();
            }
            m.insert(
                posting,
                Cached {
                    last,
                    counted: Instant::now(),
                    figures,
                    refreshing: false,
                },
            );
        }
    }

    /// The figures of `posting`, and whether they are older than the log.
    async fn get(
        self: &Arc<Self>,
        store: &Store,
        posting: i64,
        terminal: &[String],
    ) -> Result<(Arc<LogFigures>, bool)> {
        let last = q::last_transition(store.conn()).await?;
        let mut refresh = false;
        let kept = match self.0.lock() {
            Ok(mut m) => match m.get_mut(&posting) {
                Some(c) if c.last == last && c.counted.elapsed() < REFRESH_AFTER => {
                    return Ok((c.figures.clone(), false));
                }
                Some(c) if c.counted.elapsed() < SHOW_AT_MOST => {
                    if !c.refreshing {
                        c.refreshing = true;
                        refresh = true;
                    }
                    Some((c.figures.clone(), c.last != last))
                }
                _ => None,
            },
            Err(_) => None,
        };
        if let Some(kept) = kept {
            if refresh {
                let (cache, store, terminal) = (self.clone(), store.clone(), terminal.to_vec());
                tokio::spawn(async move {
                    match LogFigures::count(&store, posting, &terminal).await {
                        Ok(f) => cache.keep(posting, last, Arc::new(f)),
                        Err(e) => {
                            tracing::warn!(posting, error = %e, "board: cannot count the chart figures");
                            if let Ok(mut m) = cache.0.lock()
                                && let Some(c) = m.get_mut(&posting)
                            {
                                c.refreshing = false;
                            }
                        }
                    }
                });
            }
            return Ok(kept);
        }
        let f = Arc::new(LogFigures::count(store, posting, terminal).await?);
        self.keep(posting, last, f.clone());
        Ok((f, false))
    }
}

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
}

impl Ctx<'_> {
    fn w(&self, k: &str) -> String {
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

    /// How long an application is in its stage, as every page shows it:
    /// `days`, `days_text`, `stale` (in the stage longer than its threshold
    /// in `th`, as the report counts) and `stale_text`, added to `base`.
    fn with_stay(
        &self,
        mut base: Value,
        th: &HashMap<String, Duration>,
        stage: &str,
        entered: DateTime<Utc>,
    ) -> Value {
        let days = (self.now - entered).num_days();
        let limit = th.get(stage);
        if let Value::Object(m) = &mut base {
            m.insert("days".into(), json!(days));
            m.insert("days_text".into(), json!(self.days_text(days)));
            m.insert(
                "stale".into(),
                json!(limit.is_some_and(|l| self.now - entered > *l)),
            );
            m.insert(
                "stale_text".into(),
                json!(fill(
                    &self.w("stale_badge"),
                    &[("days", limit.map(|l| l.num_days()).unwrap_or(0).to_string())]
                )),
            );
        }
        base
    }

    fn days_text(&self, days: i64) -> String {
        if days == 1 {
            self.w("day_one")
        } else {
            fill(&self.w("day_many"), &[("n", days.to_string())])
        }
    }
}

fn posting_json(c: &Ctx<'_>, p: &posting::Model) -> Value {
    json!({
        "id": p.id, "title": p.title, "company": p.company, "location": p.location,
        "url": p.url, "status": p.status, "board_missing": p.board_missing,
        "status_label": c.status_label(p),
    })
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

/// `/board`: every posting with its counts per stage, new, stale and dead
/// emails, each a link to the list it counts.
pub async fn overview(c: &Ctx<'_>, status: Option<&str>) -> Result<Value> {
    let mut pq = posting::Entity::find().order_by_asc(posting::Column::Id);
    match status {
        Some("board_missing") => pq = pq.filter(posting::Column::BoardMissing.eq(true)),
        Some(s) => pq = pq.filter(posting::Column::Status.eq(s)),
        None => {}
    }
    let postings = pq.all(c.store.conn()).await?;
    let since = c.now - Duration::days(1);
    let counts = q::stage_counts(c.store.conn(), None, &c.cutoffs(), since).await?;
    let dead = q::dead_emails(c.store.conn(), None).await?;
    let mut by_posting: HashMap<i64, Vec<&StageCount>> = HashMap::new();
    for r in &counts {
        by_posting.entry(r.posting_id).or_default().push(r);
    }
    let stages: Vec<&str> = c.pipeline.stages().collect();
    let rows: Vec<Value> = postings
        .iter()
        .map(|p| {
            let rs = by_posting.get(&p.id).map(Vec::as_slice).unwrap_or(&[]);
            let n = |s: &str| {
                rs.iter()
                    .find(|r| r.stage == s)
                    .map(|r| r.count)
                    .unwrap_or(0)
            };
            let total: i64 = rs.iter().map(|r| r.count).sum();
            let new: i64 = rs.iter().map(|r| r.new).sum();
            let stale: i64 = rs.iter().map(|r| r.stale).sum();
            json!({
                "posting": posting_json(c, p),
                "href": format!("/board/postings/{}", p.id),
                "stages": stages.iter().map(|s| json!({
                    "stage": s, "count": n(s), "href": list_href(p.id, Some(s), None, None),
                })).collect::<Vec<_>>(),
                "total": total, "total_href": list_href(p.id, None, None, None),
                "new": new, "new_href": list_href(p.id, None, None, Some(&since)),
                "stale": stale, "stale_href": list_href(p.id, None, Some(&c.now), None),
                "dead": dead.get(&p.id).copied().unwrap_or(0),
                "dead_href": format!("/board/outbox?status=dead&posting={}", p.id),
            })
        })
        .collect();
    Ok(json!({
        "stages": stages,
        "rows": rows,
        "status": status,
        "statuses": ["open", "closed", "unknown", "board_missing"],
    }))
}

async fn find_posting(c: &Ctx<'_>, id: i64) -> Result<posting::Model> {
    posting::Entity::find_by_id(id)
        .one(c.store.conn())
        .await?
        .ok_or_else(|| Error::NotFound(format!("no posting {id}")))
}

/// A posting page's filter: one stage, stale ones only.
#[derive(Clone, Debug, Default)]
pub struct PostingFilter {
    pub stage: Option<String>,
    pub stale: bool,
}

/// `/board/postings/{id}` (and the HTML report): a column per active stage
/// with its newest cards, the terminal stages as counts, and the charts.
pub async fn posting_page(c: &Ctx<'_>, id: i64, f: &PostingFilter, links: bool) -> Result<Value> {
    let p = find_posting(c, id).await?;
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
    let threshold_days = |s: &str| th.get(s).map(|d| d.num_days()).unwrap_or(0);
    let cols: Vec<Value> = columns
        .iter()
        .map(|(stage, n, shown, cards)| {
            let more = shown - cards.len() as i64;
            json!({
                "stage": stage,
                "count": n.count,
                "stale": n.stale,
                "stale_href": list_href(id, Some(stage), Some(&c.now), None),
                "count_href": list_href(id, Some(stage), None, None),
                "threshold_days": threshold_days(stage),
                "cards": cards.iter().map(|card| {
                    let email = emails.get(&card.id).map(|e| json!({
                        "status": e.status,
                        "text": fill(&c.w(if e.status == "dead" { "email_dead" } else { "email_pending" }),
                                     &[("template", e.template.clone())]),
                    }));
                    c.with_stay(json!({
                        "id": card.id, "name": card.name,
                        "href": format!("/board/applications/{}", card.id),
                        "email": email,
                    }), &th, stage, card.entered_stage_at)
                }).collect::<Vec<_>>(),
                "more": more.max(0),
                "more_text": fill(&c.w("and_more"), &[("n", more.max(0).to_string())]),
                "more_href": if f.stale { list_href(id, Some(stage), Some(&c.now), None) } else { list_href(id, Some(stage), None, None) },
            })
        })
        .collect();
    let terminal = c.terminal();
    let finished: Vec<Value> = terminal
        .iter()
        .map(|s| json!({"stage": s, "count": count(s).count, "href": list_href(id, Some(s), None, None)}))
        .collect();
    let charts = posting_charts(c, id, &counts, &terminal).await?;
    Ok(json!({
        "posting": posting_json(c, &p),
        "columns": cols,
        "finished": finished,
        "charts": charts,
        "filter": {"stage": f.stage, "stale": f.stale},
        "stages": c.pipeline.active(),
        "total": counts.iter().map(|r| r.count).sum::<i64>(),
        "links": links,
    }))
}

async fn posting_charts(
    c: &Ctx<'_>,
    id: i64,
    counts: &[StageCount],
    terminal: &[String],
) -> Result<Value> {
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
    let now_svg = charts::bar_chart(
        &format!("p{id}-now"),
        &c.w("chart_now"),
        &c.w("chart_now_desc"),
        &now_rows,
    );
    let now_table: Vec<Value> = stages
        .iter()
        .map(|s| {
            let n = count(s);
            json!({"stage": s, "count": n.count, "stale": n.stale,
                   "threshold_days": th.get(*s).map(|d| d.num_days())})
        })
        .collect();

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
        funnel_table.push(json!({"stage": s, "reached": reached, "share": pct}));
        prev = Some(reached);
    }
    let funnel_def = fill(&c.w("chart_funnel_def"), &[("n", finished.to_string())]);
    let funnel_svg = charts::bar_chart(
        &format!("p{id}-funnel"),
        &c.w("chart_funnel"),
        &funnel_def,
        &funnel_rows,
    );
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
        stays_table.push(json!({"stage": s, "median": med, "p90": p90, "n": n}));
    }
    let stays_def = c.w("chart_stays_def");
    let stays_svg = charts::bar_chart(
        &format!("p{id}-stays"),
        &c.w("chart_stays"),
        &stays_def,
        &stays_rows,
    );
    Ok(json!({
        "now": {"svg": now_svg, "rows": now_table},
        "funnel": {"svg": funnel_svg, "rows": funnel_table, "definition": funnel_def, "finished": finished},
        "counted": counted,
        "stays": {"svg": stays_svg, "rows": stays_table, "definition": stays_def},
    }))
}

/// A list's query string, parsed.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub stage: Option<String>,
    pub stale: bool,
    pub since: Option<DateTime<Utc>>,
    pub before: Option<i64>,
}

/// `/board/postings/{id}/applications`: the applications a count counts,
/// newest first, a page at a time.
pub async fn list_page(c: &Ctx<'_>, id: i64, lq: &ListQuery) -> Result<Value> {
    let p = find_posting(c, id).await?;
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
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            c.with_stay(
                json!({
                    "id": r.id, "name": r.name, "stage": r.stage,
                    "href": format!("/board/applications/{}", r.id),
                    "applied": c.time(&r.applied_at),
                }),
                &th,
                &r.stage,
                r.entered_stage_at,
            )
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
    Ok(json!({
        "posting": posting_json(c, &p),
        "rows": items,
        "total": total,
        "next_href": next_href,
        "filter": {"stage": lq.stage, "stale": lq.stale, "since": lq.since.map(|t| c.time(&t))},
    }))
}

/// `/board/applications/{id}`: the history, the emails and the next rule.
pub async fn application_page(c: &Ctx<'_>, id: i64) -> Result<Value> {
    let conn = c.store.conn();
    let a = application::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application {id}")))?;
    let cand = candidate::Entity::find_by_id(a.candidate_id)
        .one(conn)
        .await?;
    let p = find_posting(c, a.posting_id).await?;
    let ts = transition::Entity::find()
        .filter(transition::Column::ApplicationId.eq(id))
        .order_by_asc(transition::Column::At)
        .order_by_asc(transition::Column::Id)
        .all(conn)
        .await?;
    let emails = outbox::Entity::find()
        .filter(outbox::Column::ApplicationId.eq(id))
        .order_by_asc(outbox::Column::Id)
        .all(conn)
        .await?;
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
        json!({"text": text, "due": at <= c.now})
    });
    let th = c.thresholds();
    Ok(c.with_stay(
        json!({
            "id": a.id,
            "name": cand.as_ref().map(|x| x.name.clone()).unwrap_or_default(),
            "email": cand.as_ref().map(|x| x.email.clone()).unwrap_or_default(),
            "stage": a.stage,
            "applied": c.time(&a.applied_at),
            "posting": posting_json(c, &p),
            "transitions": ts.iter().map(|t| json!({
                "at": c.time(&t.at), "from": t.from_stage, "to": t.to_stage,
                "actor": t.actor, "reason": t.reason,
            })).collect::<Vec<_>>(),
            "emails": emails.iter().map(|e| email_json(c, e)).collect::<Vec<_>>(),
            "next_rule": next_rule,
        }),
        &th,
        &a.stage,
        a.entered_stage_at,
    ))
}

fn email_json(c: &Ctx<'_>, e: &outbox::Model) -> Value {
    json!({
        "id": e.id, "created": c.time(&e.created_at), "recipient": e.recipient,
        "template": e.template, "status": e.status, "attempts": e.attempts,
        "last_error": e.last_error,
        "application_href": e.application_id.map(|a| format!("/board/applications/{a}")),
        "application_id": e.application_id,
    })
}

pub const OUTBOX_STATUSES: [&str; 5] = ["pending", "sending", "sent", "dead", "cancelled"];

/// `/board/outbox`: emails by status (of one posting, if asked), newest
/// first, a page at a time.
pub async fn outbox_page(
    c: &Ctx<'_>,
    status: Option<&str>,
    posting: Option<i64>,
    before: Option<i64>,
) -> Result<Value> {
    if let Some(s) = status
        && !OUTBOX_STATUSES.contains(&s)
    {
        return Err(Error::input(format!(
            "status: `{s}` is not an email status (pending, sending, sent, dead, cancelled)"
        )));
    }
    let conn = c.store.conn();
    let mut query = outbox::Entity::find().order_by_desc(outbox::Column::Id);
    if let Some(s) = status {
        query = query.filter(outbox::Column::Status.eq(s));
    }
    if let Some(p) = posting {
        query = query
            .inner_join(application::Entity)
            .filter(application::Column::PostingId.eq(p));
    }
    if let Some(b) = before {
        query = query.filter(outbox::Column::Id.lt(b));
    }
    let mut rows = query.limit(PAGE_ROWS + 1).all(conn).await?;
    let next = if rows.len() as u64 > PAGE_ROWS {
        rows.truncate(PAGE_ROWS as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let counts = q::outbox_counts(conn, posting).await?;
    let href = |s: Option<&str>, before: Option<i64>| {
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
    Ok(json!({
        "status": status,
        "posting": posting,
        "tabs": OUTBOX_STATUSES.iter().map(|s| json!({
            "status": s,
            "count": counts.iter().find(|(x, _)| x == s).map(|x| x.1).unwrap_or(0),
            "href": href(Some(s), None),
            "current": status == Some(*s),
        })).collect::<Vec<_>>(),
        "all_href": href(None, None),
        "rows": rows.iter().map(|e| email_json(c, e)).collect::<Vec<_>>(),
        "next_href": next.map(|n| href(status, Some(n))),
    }))
}

/// `/board/jobs`: per job its schedule, last run and next run, then the
/// recent failures.
pub async fn jobs_page(c: &Ctx<'_>) -> Result<Value> {
    let conn = c.store.conn();
    let mut jobs = Vec::new();
    for (job, expr) in c.config.schedule.jobs() {
        let last = crate::store::stats::last_run(conn, job).await?;
        let next = crate::schedule::parse_cron(expr)
            .ok()
            .and_then(|cr| cr.next_after(c.now, c.tz));
        jobs.push(json!({
            "job": job, "schedule": expr,
            "last": last.as_ref().map(|l| json!({
                "scheduled_for": c.time(&l.scheduled_for),
                "finished": l.finished_at.as_ref().map(|t| c.time(t)),
                "outcome": l.outcome.clone().unwrap_or_else(|| "running".into()),
                "error": l.error,
            })),
            "next": next.as_ref().map(|t| c.time(t)),
        }));
    }
    let failures = job_run::Entity::find()
        .filter(job_run::Column::Outcome.is_in(["failed", "interrupted"]))
        .order_by_desc(job_run::Column::StartedAt)
        .limit(20)
        .all(conn)
        .await?;
    Ok(json!({
        "jobs": jobs,
        "failures": failures.iter().map(|f| json!({
            "job": f.job, "scheduled_for": c.time(&f.scheduled_for),
            "outcome": f.outcome, "error": f.error, "instance": f.instance,
        })).collect::<Vec<_>>(),
    }))
}
