//! The scheduled jobs (SPEC §1 "Scheduler"): `poll`, `advance`, `dispatch`,
//! `digest` and `retention`. [`runs`] claims each scheduled occurrence once
//! across every process on the database; [`Runner`] does a job's work;
//! `atsd tick` and the daemon (`crate::daemon`) both go through
//! [`Runner::run_occurrence`].

pub mod advance;
pub mod digest;
pub mod retention;
pub mod runs;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::transport::Sender;
use crate::pipeline::Pipeline;
use crate::schedule::CronExpr;
use crate::selfservice::Links;
use crate::store::Store;
use crate::templates::Renderer;
use crate::workflow::Ctx;
use chrono::{DateTime, Utc};
use entity::job_run;
use serde::Serialize;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Job {
    Poll,
    Advance,
    Dispatch,
    Digest,
    Retention,
}

impl Job {
    /// Every job, in the order `atsd tick` runs them.
    pub const ALL: [Job; 5] = [
        Job::Poll,
        Job::Advance,
        Job::Dispatch,
        Job::Digest,
        Job::Retention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Job::Poll => "poll",
            Job::Advance => "advance",
            Job::Dispatch => "dispatch",
            Job::Digest => "digest",
            Job::Retention => "retention",
        }
    }

    pub fn parse(s: &str) -> Result<Job> {
        Job::ALL.into_iter().find(|j| j.name() == s).ok_or_else(|| {
            Error::input(format!(
                "unknown job `{s}` (jobs: {})",
                Job::ALL.map(|j| j.name()).join(", ")
            ))
        })
    }

    /// The job's cron expression in `[schedule]`.
    pub fn schedule(self, c: &Config) -> &str {
        let s = &c.schedule;
        match self {
            Job::Poll => &s.poll,
            Job::Advance => &s.advance,
            Job::Dispatch => &s.dispatch,
            Job::Digest => &s.digest,
            Job::Retention => &s.retention,
        }
    }

    pub fn lock_key(self) -> i32 {
        self as i32 + 1
    }
}

/// The runner every listener works with (the API, the board, the careers
/// site, inbound LMTP): the daemon's current one, replaced on each reload.
#[derive(Default)]
pub struct Current(std::sync::RwLock<Option<Arc<Runner>>>);

impl Current {
    pub fn set(&self, runner: Arc<Runner>) {
        if let Ok(mut c) = self.0.write() {
            *c = Some(runner);
        }
    }

    pub fn get(&self) -> Option<Arc<Runner>> {
        self.0.read().ok().and_then(|c| c.clone())
    }
}

/// Everything the jobs need, built once (per configuration, for the daemon).
pub struct Runner {
    pub store: Store,
    pub config: Arc<Config>,
    pub pipeline: Arc<Pipeline>,
    pub renderer: Arc<Renderer>,
    /// The self-service links of the candidates' emails, read with the
    /// configuration.
    pub links: Option<Arc<Links>>,
    /// Built on the first dispatch, so that the other jobs run whatever the
    /// state of the mail settings.
    pub sender: tokio::sync::OnceCell<Arc<Sender>>,
    /// `host:pid`, written on the job runs this process claims.
    pub instance: String,
    /// Set on shutdown: jobs stop between batches.
    pub cancel: CancellationToken,
    /// The schedule, parsed once: its time zone and each job's expression
    /// (in the order of [`Job::ALL`]).
    tz: chrono_tz::Tz,
    schedules: Vec<CronExpr>,
    /// The time zones the digest runs in (the schedule's and every active
    /// person's), as last read by [`Runner::refresh_zones`].
    digest_zones: std::sync::Mutex<Vec<chrono_tz::Tz>>,
}

/// What one job run did: its counts, as `atsd tick` prints them, the job
/// run keeps them (`job_runs.counts`) and `/metrics` counts them.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum JobReport {
    Poll(PollReport),
    Advance(advance::Report),
    Dispatch(DispatchReport),
    Digest(digest::Report),
    Retention(retention::Report),
}

/// What a poll run did.
#[derive(Debug, Default, Serialize)]
pub struct PollReport {
    /// Postings polled.
    pub polled: usize,
    /// HTTP requests made (one per job board where that was enough).
    pub requests: u64,
    /// Postings confirmed closed.
    pub closed: usize,
    /// Polls that failed (and changed no status).
    pub errors: usize,
    /// Close notices queued to the closed postings' teams.
    #[serde(skip_serializing_if = "is_zero")]
    pub notices: usize,
    /// Interviewers' busy feeds read (those not read for 15 minutes).
    #[serde(skip_serializing_if = "is_zero")]
    pub busy_feeds: usize,
    /// Busy feeds that could not be read (the last reading is kept).
    #[serde(skip_serializing_if = "is_zero")]
    pub busy_feed_errors: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What a dispatch run did: the email, then the outgoing webhooks (when any
/// are configured).
#[derive(Debug, Serialize)]
pub struct DispatchReport {
    #[serde(flatten)]
    pub mail: crate::mail::dispatch::Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<crate::webhooks::Report>,
}

impl JobReport {
    /// Emails the run queued (advance, digest) or sent (dispatch).
    pub fn emails(&self) -> u64 {
        match self {
            JobReport::Advance(r) => r.emails,
            JobReport::Digest(r) => r.queued,
            JobReport::Dispatch(r) => r.mail.sent as u64,
            JobReport::Poll(_) | JobReport::Retention(_) => 0,
        }
    }

    /// As the job run keeps it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// How one occurrence went.
#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Ran {
    /// Run here: the job run as recorded, and the job's counts.
    Ran {
        run: job_run::Model,
        resumed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// None when the run failed.
        counts: Option<JobReport>,
    },
    /// This occurrence already ran.
    AlreadyRan { run: job_run::Model },
    /// The job is running in another process right now.
    Busy,
}

impl Runner {
    pub fn new(store: Store, config: Config, instance: String) -> Result<Runner> {
        let pipeline = config.pipeline().map_err(|e| Error::input(e.to_string()))?;
        let renderer = Renderer::new(config.templates.dir.as_deref());
        let tz = config.schedule.tz()?;
        let mut schedules = Vec::with_capacity(Job::ALL.len());
        for job in Job::ALL {
            schedules.push(
                crate::schedule::parse_cron(job.schedule(&config))
                    .map_err(|e| Error::input(format!("schedule.{}: {e}", job.name())))?,
            );
        }
        Ok(Runner {
            tz,
            schedules,
            digest_zones: std::sync::Mutex::new(vec![tz]),
            store,
            links: Links::for_emails(&config).map(Arc::new),
            config: Arc::new(config),
            pipeline: Arc::new(pipeline),
            renderer: Arc::new(renderer),
            sender: tokio::sync::OnceCell::new(),
            instance,
            cancel: CancellationToken::new(),
        })
    }

    /// A runner for a new configuration (a reload), validated as
    /// `atsd check-config` does, templates included. It shares this one's
    /// database, instance name and shutdown signal; the jobs running on this
    /// one finish with the old configuration.
    pub fn reconfigured(&self, config: Config) -> Result<Runner> {
        if config.database.url != self.config.database.url {
            tracing::warn!(
                "database.url changed: the daemon keeps its database until it is restarted"
            );
        }
        if config.http.as_ref().map(|h| &h.listen) != self.config.http.as_ref().map(|h| &h.listen) {
            tracing::warn!("http.listen changed: the listener moves when the daemon is restarted");
        }
        let mut next = Runner::new(self.store.clone(), config, self.instance.clone())?;
        next.check_templates()?;
        next.cancel = self.cancel.clone();
        Ok(next)
    }

    /// Every template renders in every locale and uses only known variables.
    pub fn check_templates(&self) -> Result<()> {
        crate::selfservice::Links::from_config(&self.config)?;
        let problems = self.renderer.check_all(&self.config.org.default_locale);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::input(format!(
                "templates: {} problem(s):\n  {}",
                problems.len(),
                problems.join("\n  ")
            )))
        }
    }

    /// What a move made at `now` with this configuration needs.
    pub fn ctx(&self, now: DateTime<Utc>) -> Ctx<'_> {
        Ctx::new(
            &self.config,
            &self.pipeline,
            &self.renderer,
            self.links.as_deref(),
            now,
        )
    }

    /// The schedule's time zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.tz
    }

    pub fn cron(&self, job: Job) -> &CronExpr {
        &self.schedules[job as usize]
    }

    /// Reads again the time zones of the people, in which the digest runs
    /// as well as in the schedule's.
    pub async fn refresh_zones(&self) -> Result<()> {
        let zones = digest::zones(&self.store, self.tz).await?;
        if let Ok(mut z) = self.digest_zones.lock() {
            *z = zones;
        }
        Ok(())
    }

    fn zones(&self, job: Job) -> Vec<chrono_tz::Tz> {
        match job {
            Job::Digest => self
                .digest_zones
                .lock()
                .map(|z| z.clone())
                .unwrap_or_else(|_| vec![self.tz]),
            _ => vec![self.tz],
        }
    }

    /// The latest occurrence of `job` at or before `now`: the one to run now.
    pub fn due_occurrence(&self, job: Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.due_occurrences(job, now).pop()
    }

    /// The latest occurrence at or before `now` in each time zone the job
    /// runs in, oldest first and each once (the digest has one per zone of
    /// its people; the other jobs one).
    pub fn due_occurrences(&self, job: Job, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut v: Vec<DateTime<Utc>> = self
            .zones(job)
            .into_iter()
            .filter_map(|tz| self.cron(job).latest_at_or_before(now, tz))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The first occurrence of `job` after `now` (in any of its time zones).
    pub fn next_occurrence(&self, job: Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.zones(job)
            .into_iter()
            .filter_map(|tz| self.cron(job).next_after(now, tz))
            .min()
    }

    /// A job's work for `occurrence` at `now`, without the job-run bookkeeping.
    pub async fn work(
        &self,
        job: Job,
        occurrence: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<JobReport> {
        match job {
            Job::Poll => {
                let r = crate::poll::poller::run(&self.store, &self.ctx(now), &[]).await?;
                // the interviewers' busy feeds are polled with the postings
                let feeds =
                    crate::workflow::offers::refresh_feeds(&self.store, &self.config, None, now)
                        .await?;
                Ok(JobReport::Poll(PollReport {
                    busy_feeds: feeds.len(),
                    busy_feed_errors: feeds.iter().filter(|(_, r)| r.is_err()).count(),
                    polled: r.outcomes.len(),
                    requests: r.requests,
                    closed: r.closed.len(),
                    notices: r.notices,
                    errors: r
                        .outcomes
                        .iter()
                        .filter(|o| o.outcome.starts_with("error"))
                        .count(),
                }))
            }
            Job::Advance => {
                let r = advance::Advance {
                    store: &self.store,
                    ctx: self.ctx(now),
                    dry_run: false,
                }
                .run(&self.cancel)
                .await?;
                Ok(JobReport::Advance(r))
            }
            Job::Dispatch => {
                // email, then the outgoing webhooks, which run even when the
                // mail settings are broken
                let mail = self.dispatch_mail(now).await;
                let hooks =
                    crate::webhooks::run(&self.store, &self.config, now, &self.cancel).await?;
                Ok(JobReport::Dispatch(DispatchReport {
                    mail: mail?,
                    webhooks: self
                        .config
                        .webhooks
                        .iter()
                        .any(|w| !w.out.is_empty())
                        .then_some(hooks),
                }))
            }
            Job::Digest => {
                let r = digest::Digest {
                    store: &self.store,
                    config: &self.config,
                    pipeline: &self.pipeline,
                    renderer: &self.renderer,
                    cron: self.cron(Job::Digest),
                    tz: self.tz,
                    occurrence,
                    now,
                    dry_run: false,
                }
                .run()
                .await?;
                Ok(JobReport::Digest(r))
            }
            Job::Retention => {
                let r = retention::Retention {
                    store: &self.store,
                    config: &self.config,
                    pipeline: &self.pipeline,
                    now,
                    dry_run: false,
                }
                .run()
                .await?;
                Ok(JobReport::Retention(r))
            }
        }
    }

    async fn dispatch_mail(&self, now: DateTime<Utc>) -> Result<crate::mail::dispatch::Report> {
        let sender = self
            .sender
            .get_or_try_init(|| async {
                Sender::from_config(&self.config, crate::store::sqlite_dir(self.store.url()))
                    .map(Arc::new)
            })
            .await?
            .clone();
        crate::mail::dispatch::run(
            &self.store,
            &self.config,
            sender,
            now,
            crate::mail::dispatch::LEASE,
            &self.cancel,
        )
        .await
    }

    /// Claims `occurrence` of `job` and runs it, recording the run.
    pub async fn run_occurrence(
        &self,
        job: Job,
        occurrence: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Ran> {
        let (claim, _interrupted) =
            runs::claim(&self.store, job, occurrence, now, &self.instance).await?;
        let claimed = match claim {
            runs::Claim::Run(c) => c,
            runs::Claim::AlreadyRan(run) => return Ok(Ran::AlreadyRan { run }),
            runs::Claim::Busy => return Ok(Ran::Busy),
        };
        let resumed = claimed.resumed;
        let started = std::time::Instant::now();
        let result = self.work(job, occurrence, now).await;
        let finished_at = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
        let (run, counts, error) = match result {
            Ok(report) => {
                let run =
                    runs::finish(&self.store, claimed, Ok(&report.to_json()), finished_at).await?;
                (run, Some(report), None)
            }
            Err(e) => {
                let msg = e.to_string();
                let run = runs::finish(&self.store, claimed, Err(&msg), finished_at).await?;
                (run, None, Some(msg))
            }
        };
        tracing::info!(
            job = job.name(),
            run = run.id,
            occurrence = %occurrence,
            outcome = run.outcome.as_deref().unwrap_or("-"),
            counts = %counts.as_ref().map(JobReport::to_json).unwrap_or_default(),
            seconds = started.elapsed().as_secs_f64(),
            "job run"
        );
        Ok(Ran::Ran {
            run,
            resumed,
            error,
            counts,
        })
    }
}
