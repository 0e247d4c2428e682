//! The poller: decides which postings are due, groups those that share a
//! board into one list request where that saves requests, asks the boards
//! (bounded concurrency overall and per host), turns each answer into an
//! [`Answer`] and applies the status rules of [`decide`].

use super::decide::{self, Answer, Decision, Rules, State};
use super::guard::Guard;
use super::http::{self, FetchError, Fetched, HttpOptions};
use super::job_boards::{self as boards, JobInfo};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::posting::Status;
use crate::posting::{ApiBases, Source};
use crate::store::Store;
use crate::store::postings as store_postings;
use chrono::{DateTime, Utc};
use entity::posting;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Mutex, Semaphore};
use url::Url;

/// How the poller behaves, from `[poll]`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub rules: Rules,
    pub http: HttpOptions,
    pub concurrency: usize,
    pub per_host: usize,
    pub bases: ApiBases,
    pub guard: Guard,
    /// Poll postings that share a board with one list request.
    pub group_by_board: bool,
    /// The `poll` schedule: an open posting is due again at its next occurrence.
    pub schedule: Option<(crate::schedule::CronExpr, chrono_tz::Tz)>,
}

impl Settings {
    pub fn from_config(c: &Config) -> Result<Settings> {
        let p = &c.poll;
        let mut allow = Vec::new();
        for a in &p.allow_addresses {
            allow.push(a.parse().map_err(|_| {
                Error::input(format!(
                    "poll.allow_addresses: `{a}` is not an ip:port address"
                ))
            })?);
        }
        Ok(Settings {
            rules: Rules {
                close_after_not_found: p.close_after_not_found,
                confirm_interval: p.confirm_interval.chrono(),
                ..Rules::default()
            },
            http: HttpOptions {
                timeout: p.timeout.std(),
                connect_timeout: p.timeout.std().min(std::time::Duration::from_secs(5)),
                max_body: p.max_body.0,
                follow_redirects: true,
            },
            concurrency: p.concurrency.max(1) as usize,
            per_host: p.per_host.max(1) as usize,
            bases: ApiBases::from(&p.sources),
            guard: Guard {
                allow_private: p.allow_private_addresses,
                allow,
            },
            group_by_board: true,
            schedule: crate::schedule::parse_cron(&c.schedule.poll)
                .ok()
                .zip(c.schedule.tz().ok()),
        })
    }
}

/// One posting's poll result, as printed by `atsd posting poll`.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub id: i64,
    pub url: String,
    pub status: String,
    pub outcome: String,
    pub closed_now: bool,
    pub next_poll_at: DateTime<Utc>,
}

/// A `posting_closed` event: the posting was confirmed closed. The rules
/// (`on = "posting_closed"`) act on these.
#[derive(Clone, Debug, Serialize)]
pub struct PostingClosed {
    pub posting_id: i64,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub requests: u64,
    /// Time spent asking the boards, and recording the answers.
    pub fetch_seconds: f64,
    pub write_seconds: f64,
    pub outcomes: Vec<Outcome>,
    pub closed: Vec<PostingClosed>,
    /// Close notices queued to the closed postings' teams.
    pub notices: usize,
}

/// What is asked of a board.
enum Task {
    /// One posting: its job (API) or its page (generic).
    Single(Box<posting::Model>),
    /// Several postings of one board: the board's list.
    Board {
        source: Source,
        board: String,
        postings: Vec<posting::Model>,
    },
}

struct Found {
    answer: Answer,
    info: Option<JobInfo>,
    validators: Option<(Option<String>, Option<String>)>,
}

impl Found {
    fn plain(answer: Answer) -> Found {
        Found {
            answer,
            info: None,
            validators: None,
        }
    }
}

fn source_of(p: &posting::Model) -> Source {
    match p.source.as_str() {
        "greenhouse" if p.board.is_some() && p.external_id.is_some() => Source::Greenhouse,
        "lever" if p.board.is_some() && p.external_id.is_some() => Source::Lever,
        "ashby" if p.board.is_some() && p.external_id.is_some() => Source::Ashby,
        // a careers page with a Greenhouse id but no board: its page is all we can ask
        _ => Source::Generic,
    }
}

fn trim(b: &str) -> &str {
    b.trim_end_matches('/')
}

fn parse_url(s: &str) -> std::result::Result<Url, String> {
    Url::parse(s).map_err(|e| format!("bad URL {s}: {e}"))
}

/// Groups due postings into requests.
fn plan(postings: Vec<posting::Model>, group: bool) -> Vec<Task> {
    let mut boards: BTreeMap<(&'static str, String), Vec<posting::Model>> = BTreeMap::new();
    let mut tasks = Vec::new();
    for p in postings {
        let source = source_of(&p);
        match (source, p.board.clone()) {
            (Source::Generic, _) | (_, None) => tasks.push(Task::Single(Box::new(p))),
            (s, Some(b)) => boards.entry((s.as_str(), b)).or_default().push(p),
        }
    }
    for ((source, board), ps) in boards {
        let source = match source {
            "greenhouse" => Source::Greenhouse,
            "lever" => Source::Lever,
            _ => Source::Ashby,
        };
        if source == Source::Ashby || (group && ps.len() >= 2) {
            tasks.push(Task::Board {
                source,
                board,
                postings: ps,
            });
        } else {
            tasks.extend(ps.into_iter().map(|p| Task::Single(Box::new(p))));
        }
    }
    tasks
}

pub struct Poller {
    settings: Settings,
    guard: Arc<Guard>,
    api: reqwest::Client,
    page: reqwest::Client,
    global: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    requests: AtomicU64,
}

impl Poller {
    pub fn new(settings: Settings) -> Result<Poller> {
        let guard = Arc::new(settings.guard.clone());
        let api = http::client(guard.clone(), &settings.http).map_err(Error::Other)?;
        let page = http::client(
            guard.clone(),
            &HttpOptions {
                follow_redirects: false,
                ..settings.http.clone()
            },
        )
        .map_err(Error::Other)?;
        Ok(Poller {
            global: Arc::new(Semaphore::new(settings.concurrency)),
            settings,
            guard,
            api,
            page,
            hosts: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        })
    }

    async fn get(
        &self,
        url: &Url,
        validators: (Option<&str>, Option<&str>),
        follow: bool,
        now: DateTime<Utc>,
    ) -> std::result::Result<Fetched, FetchError> {
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let host_sem = {
            let mut hosts = self.hosts.lock().await;
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_host)))
                .clone()
        };
        let _g = self
            .global
            .acquire()
            .await
            .map_err(|e| FetchError::Other(e.to_string()))?;
        let _h = host_sem
            .acquire()
            .await
            .map_err(|e| FetchError::Other(e.to_string()))?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let client = if follow { &self.api } else { &self.page };
        http::get(
            client,
            &self.guard,
            url,
            validators.0,
            validators.1,
            self.settings.http.max_body,
            now,
        )
        .await
    }

    fn transient_of(f: &Fetched) -> Answer {
        Answer::Transient {
            reason: match f.status {
                429 => "HTTP 429 rate limited".into(),
                s => format!("HTTP {s}"),
            },
            retry_after: f.retry_after,
        }
    }

    fn unreadable(f: &Fetched, e: &boards::ParseError) -> Answer {
        let reason = if !f.is_json() {
            format!(
                "HTTP {} with {} where JSON was expected",
                f.status,
                f.content_type.as_deref().unwrap_or("no content type")
            )
        } else {
            e.to_string()
        };
        Answer::Transient {
            reason,
            retry_after: None,
        }
    }

    fn list_url(&self, source: Source, board: &str) -> String {
        let b = &self.settings.bases;
        match source {
            Source::Greenhouse => format!("{}/v1/boards/{board}/jobs", trim(&b.greenhouse)),
            Source::Lever => format!("{}/v0/postings/{board}?mode=json", trim(&b.lever)),
            Source::Ashby => format!("{}/posting-api/job-board/{board}", trim(&b.ashby)),
            Source::Generic => String::new(),
        }
    }

    fn parse_list(
        source: Source,
        body: &[u8],
    ) -> std::result::Result<Vec<JobInfo>, boards::ParseError> {
        match source {
            Source::Greenhouse => boards::greenhouse_list(body),
            Source::Lever => boards::lever_list(body),
            _ => boards::ashby_list(body),
        }
    }

    /// Asks the board list; `Ok(list)` when it answered with a readable list.
    async fn board_list(
        &self,
        source: Source,
        board: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<Vec<JobInfo>, Answer> {
        let url = parse_url(&self.list_url(source, board)).map_err(|e| Answer::Transient {
            reason: e,
            retry_after: None,
        })?;
        match self.get(&url, (None, None), true, now).await {
            Ok(f) if f.status == 200 => {
                Self::parse_list(source, &f.body).map_err(|e| Self::unreadable(&f, &e))
            }
            Ok(f) if f.status == 404 || f.status == 410 => Err(Answer::BoardMissing {
                detail: format!("board `{board}` answers {}", f.status),
            }),
            Ok(f) => Err(Self::transient_of(&f)),
            Err(e) => Err(Answer::Transient {
                reason: e.to_string(),
                retry_after: None,
            }),
        }
    }

    async fn single(&self, p: &posting::Model, now: DateTime<Utc>) -> Found {
        let source = source_of(p);
        let b = &self.settings.bases;
        let (board, id) = (
            p.board.clone().unwrap_or_default(),
            p.external_id.clone().unwrap_or_default(),
        );
        let url = match source {
            Source::Greenhouse => format!("{}/v1/boards/{board}/jobs/{id}", trim(&b.greenhouse)),
            Source::Lever => format!("{}/v0/postings/{board}/{id}", trim(&b.lever)),
            Source::Ashby => unreachable!("Ashby is always polled by board"),
            Source::Generic => p.url.clone(),
        };
        let url = match parse_url(&url) {
            Ok(u) => u,
            Err(e) => {
                return Found::plain(Answer::Transient {
                    reason: e,
                    retry_after: None,
                });
            }
        };
        let validators = (p.etag.as_deref(), p.last_modified.as_deref());
        let follow = source != Source::Generic;
        let f = match self.get(&url, validators, follow, now).await {
            Ok(f) => f,
            Err(e) => {
                return Found::plain(Answer::Transient {
                    reason: e.to_string(),
                    retry_after: None,
                });
            }
        };
        let keep = |f: &Fetched| Some((f.etag.clone(), f.last_modified.clone()));
        if source == Source::Generic {
            return match f.status {
                304 => Found::plain(Answer::Unchanged),
                200..=299 => Found {
                    answer: Answer::Found,
                    info: None,
                    validators: keep(&f),
                },
                // a redirect is not a closing (e.g. to a careers site with gh_jid)
                300..=399 => Found::plain(Answer::Found),
                404 | 410 => Found::plain(Answer::NotFound {
                    detail: format!("page answers {}", f.status),
                }),
                _ => Found::plain(Self::transient_of(&f)),
            };
        }
        match f.status {
            304 => Found::plain(Answer::Unchanged),
            200 => {
                let parsed = match source {
                    Source::Greenhouse => boards::greenhouse_single(&f.body),
                    _ => boards::lever_single(&f.body),
                };
                match parsed {
                    Ok(info) => Found {
                        answer: Answer::Found,
                        info: Some(info),
                        validators: keep(&f),
                    },
                    Err(e) => Found::plain(Self::unreadable(&f, &e)),
                }
            }
            404 | 410 => {
                // the same 404 for a closed job and an unknown board: ask the board
                match self.board_list(source, &board, now).await {
                    Ok(list) => match list.into_iter().find(|j| j.id == id) {
                        Some(info) => Found {
                            answer: Answer::Found,
                            info: Some(info),
                            validators: None,
                        },
                        None => Found::plain(Answer::NotFound {
                            detail: format!("{}, board answers", f.status),
                        }),
                    },
                    Err(a) => Found::plain(a),
                }
            }
            _ => Found::plain(Self::transient_of(&f)),
        }
    }

    async fn board(
        &self,
        source: Source,
        board: &str,
        postings: &[posting::Model],
        now: DateTime<Utc>,
    ) -> Vec<Found> {
        match self.board_list(source, board, now).await {
            Ok(list) => {
                let by_id: HashMap<&str, &JobInfo> =
                    list.iter().map(|j| (j.id.as_str(), j)).collect();
                postings
                    .iter()
                    .map(
                        |p| match p.external_id.as_deref().and_then(|id| by_id.get(id)) {
                            Some(info) => Found {
                                answer: Answer::Found,
                                info: Some((*info).clone()),
                                validators: None,
                            },
                            None => Found::plain(Answer::NotFound {
                                detail: "absent from the board list".into(),
                            }),
                        },
                    )
                    .collect()
            }
            Err(a) => postings.iter().map(|_| Found::plain(a.clone())).collect(),
        }
    }

    /// Asks the boards about `postings`; returns each posting with its answer.
    async fn ask(
        self: &Arc<Self>,
        postings: Vec<posting::Model>,
        now: DateTime<Utc>,
    ) -> Vec<(posting::Model, Found)> {
        let mut set = tokio::task::JoinSet::new();
        for task in plan(postings, self.settings.group_by_board) {
            let me = self.clone();
            set.spawn(async move {
                match task {
                    Task::Single(p) => {
                        let f = me.single(&p, now).await;
                        vec![(*p, f)]
                    }
                    Task::Board {
                        source,
                        board,
                        postings,
                    } => {
                        let found = me.board(source, &board, &postings, now).await;
                        postings.into_iter().zip(found).collect()
                    }
                }
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(v) => out.extend(v),
                Err(e) => tracing::error!(error = %e, "a poll task failed"),
            }
        }
        out
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

fn state_of(p: &posting::Model) -> State {
    State {
        status: p.status.parse().unwrap_or(Status::Unknown),
        consecutive_not_found: p.consecutive_not_found,
        last_not_found_at: p.last_not_found_at,
        consecutive_errors: p.consecutive_errors,
        board_missing: p.board_missing,
    }
}

/// Postings due at `now` (or those named), in due order.
pub async fn due(store: &Store, ids: &[i64], now: DateTime<Utc>) -> Result<Vec<posting::Model>> {
    if ids.is_empty() {
        store_postings::due(store.conn(), now).await
    } else {
        let mut out = Vec::new();
        for id in ids {
            out.push(store_postings::find(store.conn(), &id.to_string()).await?);
        }
        Ok(out)
    }
}

/// Writes in batches of this many postings per transaction (17 bound values
/// each on SQLite: under its limit of 32,766 per statement).
const BATCH: usize = 500;

/// Polls `postings` now (`ctx`'s clock) and records what was learned; a
/// close is recorded with its team's notices
/// ([`crate::workflow::email::queue_close_notices`]) in one transaction.
pub async fn poll(
    store: &Store,
    poller: &Arc<Poller>,
    postings: Vec<posting::Model>,
    ctx: &crate::workflow::Ctx<'_>,
) -> Result<Report> {
    let now = ctx.now();
    let before = poller.requests();
    let started = std::time::Instant::now();
    let answers = poller.ask(postings, now).await;
    let mut report = Report {
        fetch_seconds: started.elapsed().as_secs_f64(),
        ..Report::default()
    };
    let started = std::time::Instant::now();
    let mut rules = poller.settings.rules.clone();
    if let Some((cron, tz)) = &poller.settings.schedule
        && let Some(next) = cron.next_after(now, *tz)
    {
        rules.poll_interval = (next - now).max(chrono::Duration::seconds(1));
    }
    let mut decided: Vec<(posting::Model, Decision, Found)> = answers
        .into_iter()
        .map(|(p, f)| {
            let d = decide::decide(&state_of(&p), &f.answer, now, &rules, p.id as u64);
            (p, d, f)
        })
        .collect();
    decided.sort_by_key(|(p, _, _)| p.id);
    for chunk in decided.chunks(BATCH) {
        let txn = store.begin_write().await?;
        let mut history = Vec::new();
        let mut updates = Vec::with_capacity(chunk.len());
        let mut closed = Vec::new();
        for (p, d, f) in chunk {
            if let Answer::Transient { reason, .. } | Answer::BoardMissing { detail: reason } =
                &f.answer
            {
                tracing::warn!(posting = p.id, url = %p.url, reason = %reason, errors = d.state.consecutive_errors, "poll failed; status unchanged");
            }
            let validators = f.validators.clone();
            updates.push(super::record::poll_update(
                p,
                d,
                f.info.as_ref(),
                validators,
                now,
                &mut history,
            ));
            if d.closed_now {
                closed.push(p);
                tracing::info!(posting = p.id, url = %p.url, "posting confirmed closed");
                report.closed.push(PostingClosed {
                    posting_id: p.id,
                    at: now,
                });
            }
            report.outcomes.push(Outcome {
                id: p.id,
                url: p.url.clone(),
                status: d.state.status.to_string(),
                outcome: d.label.clone(),
                closed_now: d.closed_now,
                next_poll_at: d.next_poll_at,
            });
        }
        store_postings::record_polls(&txn, updates, now).await?;
        store_postings::insert_history(&txn, history).await?;
        if !closed.is_empty() {
            let n = crate::workflow::email::queue_close_notices(&txn, ctx, &closed, now).await?;
            if n > 0 {
                crate::store::notify_outbox(&txn).await?;
            }
            report.notices += n;
        }
        txn.commit().await?;
    }
    report.requests = poller.requests() - before;
    report.write_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Builds the poller from the configuration and polls the due (or named) postings.
pub async fn run(store: &Store, ctx: &crate::workflow::Ctx<'_>, ids: &[i64]) -> Result<Report> {
    let poller = Arc::new(Poller::new(Settings::from_config(ctx.config())?)?);
    let postings = due(store, ids, ctx.now()).await?;
    poll(store, &poller, postings, ctx).await
}
