//! `/metrics`: Prometheus metrics through `prometheus-client`, in the
//! Prometheus text format or OpenMetrics as the scraper asks
//! ([`super::exposition`]).
//!
//! Two kinds of figures:
//! - **what this daemon did**, as counters and histograms fed by the end of
//!   each job run: moves by reason, emails by outcome, polls by outcome, job
//!   runs by outcome and their durations;
//! - **the state of the database**, shared by every instance, read at each
//!   scrape: outbox depth by status, postings by status, the last successful
//!   run of each job.

use super::exposition::{Exposition, to_prometheus_text};
use crate::daemon::JobEnd;
use crate::error::Result;
use crate::jobs::{Job, JobReport, PollReport};
use crate::store::{Store, stats};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobOutcome {
    job: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: String,
}

fn job_duration_histogram() -> Histogram {
    // 10 ms … about 45 min
    Histogram::new(exponential_buckets(0.01, 3.0, 15))
}

pub struct Metrics {
    registry: Registry,
    moves: Family<Reason, Counter>,
    reminders: Counter,
    emails: Family<Outcome, Counter>,
    polls: Family<Outcome, Counter>,
    job_runs: Family<JobOutcome, Counter>,
    job_seconds: Family<JobLabel, Histogram, fn() -> Histogram>,
    outbox: Family<Status, Gauge>,
    postings: Family<Status, Gauge>,
    webhooks: Family<Status, Gauge>,
    last_success: Family<JobLabel, Gauge>,
    quarantined: Family<Reason, Gauge>,
    quarantined_bytes: Family<Reason, Gauge>,
    quarantine_refused: Gauge,
    data_requests: Family<State, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    // Stays whole: the registration of every metric, one after the other.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let moves = Family::<Reason, Counter>::default();
        registry.register(
            "atsd_moves",
            "Applications moved by this daemon's rules, by the reason written on the transition",
            moves.clone(),
        );
        let reminders = Counter::default();
        registry.register(
            "atsd_reminders",
            "Stale-application reminders queued by this daemon",
            reminders.clone(),
        );
        let emails = Family::<Outcome, Counter>::default();
        registry.register(
            "atsd_emails",
            "Emails handled by this daemon's dispatcher: sent, retried, dead, released (handed back unsent), recovered (taken over unsent from a dispatcher that stopped), possible_duplicate",
            emails.clone(),
        );
        let polls = Family::<Outcome, Counter>::default();
        registry.register(
            "atsd_polls",
            "Postings polled by this daemon: ok, error, closed (a confirmed close)",
            polls.clone(),
        );
        let job_runs = Family::<JobOutcome, Counter>::default();
        registry.register(
            "atsd_job_runs",
            "Job runs and extra dispatch passes of this daemon, by outcome",
            job_runs.clone(),
        );
        let job_seconds: Family<JobLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(job_duration_histogram);
        registry.register(
            "atsd_job_run_duration_seconds",
            "How long this daemon's job runs took",
            job_seconds.clone(),
        );
        let outbox = Family::<Status, Gauge>::default();
        registry.register(
            "atsd_outbox_emails",
            "Emails in the outbox by status (the whole database)",
            outbox.clone(),
        );
        let postings = Family::<Status, Gauge>::default();
        registry.register(
            "atsd_postings",
            "Postings by status (the whole database)",
            postings.clone(),
        );
        let webhooks = Family::<Status, Gauge>::default();
        registry.register(
            "atsd_webhook_deliveries",
            "Outgoing webhook deliveries by status (the whole database)",
            webhooks.clone(),
        );
        let last_success = Family::<JobLabel, Gauge>::default();
        registry.register(
            "atsd_job_last_success_timestamp_seconds",
            "When the last successful run of each job finished, any instance (Unix time)",
            last_success.clone(),
        );
        let quarantined = Family::<Reason, Gauge>::default();
        registry.register(
            "atsd_inbound_quarantined",
            "Inbound messages in quarantine by reason (the whole database)",
            quarantined.clone(),
        );
        let quarantined_bytes = Family::<Reason, Gauge>::default();
        registry.register(
            "atsd_inbound_quarantined_bytes",
            "Bytes of the inbound messages in quarantine by reason (the whole database)",
            quarantined_bytes.clone(),
        );
        let quarantine_refused = Gauge::default();
        registry.register(
            "atsd_inbound_quarantine_refused",
            "Inbound messages not kept in quarantine because their sender was over \
             quarantine_per_sender, of the senders heard from in the last day",
            quarantine_refused.clone(),
        );
        let data_requests = Family::<State, Gauge>::default();
        registry.register(
            "atsd_data_requests",
            "Open data-subject requests: open, due_soon (within 7 days), overdue",
            data_requests.clone(),
        );
        registry.register(
            "atsd_build",
            "The running version",
            Info::new(Build {
                version: env!("CARGO_PKG_VERSION").to_string(),
            }),
        );
        Metrics {
            registry,
            moves,
            reminders,
            emails,
            polls,
            job_runs,
            job_seconds,
            outbox,
            postings,
            webhooks,
            last_success,
            quarantined,
            quarantined_bytes,
            quarantine_refused,
            data_requests,
        }
    }

    /// Counts what a job run did.
    pub fn record(&self, end: &JobEnd<'_>) {
        self.job_runs
            .get_or_create(&JobOutcome {
                job: end.job.name().into(),
                outcome: end.outcome.into(),
            })
            .inc();
        self.job_seconds
            .get_or_create(&JobLabel {
                job: end.job.name().into(),
            })
            .observe(end.elapsed.as_secs_f64());
        let count = |family: &Family<Outcome, Counter>, outcome: &str, n: u64| {
            family
                .get_or_create(&Outcome {
                    outcome: outcome.into(),
                })
                .inc_by(n);
        };
        // a failed run counts nothing, but its outcomes are shown (at 0)
        match end.job {
            Job::Advance => {
                if let Some(JobReport::Advance(r)) = end.counts {
                    for (reason, n) in &r.by_reason {
                        self.moves
                            .get_or_create(&Reason {
                                reason: reason.clone(),
                            })
                            .inc_by(*n);
                    }
                    self.reminders.inc_by(r.reminders);
                }
            }
            Job::Dispatch => {
                let none = crate::mail::dispatch::Report::default();
                let m = match end.counts {
                    Some(JobReport::Dispatch(r)) => &r.mail,
                    _ => &none,
                };
                for (outcome, n) in [
                    ("sent", m.sent),
                    ("retried", m.retried),
                    ("dead", m.dead),
                    ("released", m.released),
                    ("recovered", m.recovered),
                    ("possible_duplicate", m.possible_duplicates),
                ] {
                    count(&self.emails, outcome, n as u64);
                }
            }
            Job::Poll => {
                let none = PollReport::default();
                let r = match end.counts {
                    Some(JobReport::Poll(r)) => r,
                    _ => &none,
                };
                for (outcome, n) in [
                    ("ok", r.polled.saturating_sub(r.errors)),
                    ("error", r.errors),
                    ("closed", r.closed),
                ] {
                    count(&self.polls, outcome, n as u64);
                }
            }
            Job::Digest | Job::Retention => {}
        }
    }

    /// Reads the database's figures, then writes every metric as text in
    /// the format asked for.
    pub async fn render(&self, store: &Store, format: Exposition) -> Result<String> {
        self.read_database(store).await?;
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| crate::Error::Other(format!("cannot encode the metrics: {e}")))?;
        Ok(match format {
            Exposition::OpenMetrics => out,
            Exposition::Prometheus => to_prometheus_text(&out),
        })
    }

    async fn read_database(&self, store: &Store) -> Result<()> {
        let db = store.conn();
        let outbox = stats::by_status(db, stats::Counted::Outbox).await?;
        let postings = stats::by_status(db, stats::Counted::Postings).await?;
        let webhooks = stats::by_status(db, stats::Counted::WebhookDeliveries).await?;
        let last = stats::last_successes(db).await?;
        // every status is shown, at 0 when there is none
        for s in entity::outbox::Status::ALL.map(entity::outbox::Status::as_str) {
            self.outbox
                .get_or_create(&Status { status: s.into() })
                .set(0);
        }
        for s in ["unknown", "open", "closed"] {
            self.postings
                .get_or_create(&Status { status: s.into() })
                .set(0);
        }
        for s in ["pending", "sending", "delivered", "dead"] {
            self.webhooks
                .get_or_create(&Status { status: s.into() })
                .set(0);
        }
        for (family, rows) in [
            (&self.outbox, outbox),
            (&self.postings, postings),
            (&self.webhooks, webhooks),
        ] {
            for (status, n) in rows {
                family.get_or_create(&Status { status }).set(n);
            }
        }
        for reason in crate::inbound::quarantine::REASONS {
            let label = Reason {
                reason: reason.into(),
            };
            self.quarantined.get_or_create(&label).set(0);
            self.quarantined_bytes.get_or_create(&label).set(0);
        }
        for (reason, n, bytes) in crate::store::inbound::quarantine_by_reason(db).await? {
            let label = Reason { reason };
            self.quarantined.get_or_create(&label).set(n);
            self.quarantined_bytes.get_or_create(&label).set(bytes);
        }
        let day_ago = chrono::Utc::now() - chrono::Duration::days(1);
        let refused = crate::store::inbound::refused_senders(db, day_ago).await?;
        self.quarantine_refused
            .set(refused.iter().map(|(_, n, _)| n).sum::<i64>());
        let (open, soon, overdue) = crate::store::requests::counts(db, chrono::Utc::now()).await?;
        for (state, n) in [("open", open), ("due_soon", soon), ("overdue", overdue)] {
            self.data_requests
                .get_or_create(&State {
                    state: state.into(),
                })
                .set(n);
        }
        for (job, at) in last {
            self.last_success
                .get_or_create(&JobLabel { job })
                .set(at.timestamp());
        }
        Ok(())
    }
}
