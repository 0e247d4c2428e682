//! The `digest` job: one `recruiter_digest` per recruiter address per run —
//! the applications that arrived since the previous digest, the stale ones
//! per stage (the report's thresholds: the shortest stale rule of a stage,
//! else 14 days), and the postings that closed since. Nothing is sent when
//! there is nothing to say, and the run's counts say so. Each email's
//! Message-ID names the occurrence, so running an occurrence again (after an
//! interruption) queues nothing twice.

use crate::config::{Config, EmailSpec};
use crate::error::{Error, Result};
use crate::mail::{self, Recipient};
use crate::pipeline::Pipeline;
use crate::store::moves::{self as bulk, BulkEmail};
use crate::store::{Store, sql};
use crate::templates::{self, Context, DigestApplication, DigestCtx, DigestStale, Renderer};
use chrono::{DateTime, Duration, Utc};
use entity::job_run;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

/// The stale threshold of stages without a stale rule (as `atsd report`).
pub const DEFAULT_STALE: Duration = Duration::days(14);

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub since: Option<DateTime<Utc>>,
    pub new_applications: usize,
    pub stale: u64,
    pub closed_postings: usize,
    /// Emails queued (one per recruiter address).
    pub queued: u64,
    /// Nothing new, nothing stale, nothing closed: no email.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nothing_to_say: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_recruiters: bool,
}

pub struct Digest<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub pipeline: &'a Pipeline,
    pub renderer: &'a Renderer,
    /// The occurrence this digest is for.
    pub occurrence: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub dry_run: bool,
}

impl Digest<'_> {
    /// When the previous digest ran (its occurrence), else a day ago.
    async fn since(&self) -> Result<DateTime<Utc>> {
        let prev = job_run::Entity::find()
            .filter(job_run::Column::Job.eq("digest"))
            .filter(job_run::Column::Outcome.eq("ok"))
            .filter(job_run::Column::ScheduledFor.lt(self.occurrence))
            .order_by_desc(job_run::Column::ScheduledFor)
            .one(self.store.conn())
            .await?;
        Ok(prev
            .map(|r| r.scheduled_for)
            .unwrap_or(self.occurrence - Duration::days(1)))
    }

    pub async fn run(&self) -> Result<Report> {
        let c = self.store.conn();
        let b = self.store.backend();
        let since = self.since().await?;
        let mut report = Report {
            since: Some(since),
            ..Report::default()
        };
        let rows = c
            .query_all_raw(sql(
                b,
                "SELECT c.name, p.title FROM applications a JOIN candidates c ON c.id = a.candidate_id \
                 JOIN postings p ON p.id = a.posting_id WHERE a.created_at > ? AND a.created_at <= ? ORDER BY a.id",
                vec![since.into(), self.now.into()],
            ))
            .await?;
        let mut new_applications = Vec::with_capacity(rows.len());
        for r in rows {
            new_applications.push(DigestApplication {
                candidate: r.try_get("", "name")?,
                posting: r.try_get("", "title")?,
            });
        }
        let thresholds = crate::report::stale_thresholds(self.config, self.pipeline, DEFAULT_STALE);
        let mut stale = Vec::new();
        for stage in self.pipeline.active() {
            let t = thresholds.get(stage).copied().unwrap_or(DEFAULT_STALE);
            let n: i64 = c
                .query_one_raw(sql(
                    b,
                    "SELECT COUNT(*) AS n FROM applications WHERE stage = ? AND entered_stage_at <= ?",
                    vec![stage.clone().into(), (self.now - t).into()],
                ))
                .await?
                .map(|r| r.try_get("", "n"))
                .transpose()?
                .unwrap_or(0);
            if n > 0 {
                stale.push(DigestStale {
                    stage: stage.clone(),
                    count: n as u64,
                });
            }
        }
        let rows = c
            .query_all_raw(sql(
                b,
                "SELECT title FROM postings WHERE status = 'closed' AND status_changed_at > ? AND status_changed_at <= ? ORDER BY id",
                vec![since.into(), self.now.into()],
            ))
            .await?;
        let mut closed = Vec::new();
        for r in rows {
            closed.push(r.try_get::<String>("", "title")?);
        }
        report.new_applications = new_applications.len();
        report.stale = stale.iter().map(|s| s.count).sum();
        report.closed_postings = closed.len();
        if new_applications.is_empty() && stale.is_empty() && closed.is_empty() {
            report.nothing_to_say = true;
            return Ok(report);
        }
        if self.config.recruiters.emails.is_empty() {
            report.no_recruiters = true;
            return Ok(report);
        }
        let locale = &self.config.org.default_locale;
        let ctx = Context {
            org: templates::OrgCtx {
                name: self.config.org.name.clone(),
            },
            digest: DigestCtx {
                period: templates::format_date(
                    self.occurrence,
                    locale,
                    Some(&self.config.schedule.timezone),
                ),
                stale_total: report.stale,
                new_applications,
                stale,
                closed_postings: closed,
            },
            ..Context::default()
        };
        let spec = EmailSpec::new("recruiter_digest");
        let mut emails = Vec::new();
        for (n, to) in self.config.recruiters.emails.iter().enumerate() {
            let who = Recipient {
                email: to,
                name: "",
                locale: None,
            };
            let mut d = mail::draft(self.config, self.renderer, &spec, &who, &ctx, "", self.now)
                .map_err(|e| Error::Render(format!("email `recruiter_digest`: {e}")))?;
            d.recipient_name = None;
            d.stage = None;
            emails.push(BulkEmail {
                application_id: None,
                message_id: mail::message_id::of_digest(
                    mail::message_id::domain(self.config),
                    self.occurrence,
                    n,
                ),
                draft: d,
            });
        }
        if self.dry_run {
            report.queued = emails.len() as u64;
            return Ok(report);
        }
        let txn = self.store.begin_write().await?;
        report.queued = bulk::queue_emails(&txn, emails, self.now).await?;
        if report.queued > 0 {
            crate::store::notify_outbox(&txn).await?;
        }
        txn.commit().await?;
        Ok(report)
    }
}
