//! A posting's page (`/board/postings/{id}`): its columns of cards, their counts, its charts, its team's form.

use super::*;

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
// Stays whole: the page's reads and fields in the order its template shows them.
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

// Stays whole: the three charts built from one set of counts.
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
