//! The `digest` job: one `recruiter_digest` per person per occurrence of the
//! digest's cron expression **in that person's time zone** (a person without
//! one uses `[schedule] timezone`), listing only the postings on their team;
//! and one to each `[recruiters] emails` address, at the occurrences in the
//! schedule's time zone, for the postings that have no active recruiter.
//! Each lists the applications that arrived since the recipient's previous
//! occurrence, the stale ones per stage (the report's thresholds: the
//! shortest stale rule of a stage, else 14 days), the postings that closed
//! since, and the candidates' addresses that bounced for good since (with
//! the emails held for them); each section at most [`DIGEST_LINES`] lines,
//! then "and N more" with a link to the board. Nothing is sent to someone with nothing
//! to hear. Each email's Message-ID names the occurrence and the recipient,
//! so running an occurrence again (after an interruption) queues nothing
//! twice. The data is read once per run, whatever the number of people.

use crate::config::{Config, EmailSpec};
use crate::error::{Error, Result};
use crate::mail::{self, Recipient};
use crate::pipeline::Pipeline;
use crate::schedule::CronExpr;
use crate::store::moves::{self as bulk, BulkEmail};
use crate::store::people;
use crate::store::{Store, digest as store_digest};
use crate::templates::{
    self, Context, DIGEST_LINES, DigestApplication, DigestBounce, DigestCtx, DigestQuarantine,
    DigestSender, DigestStale, Renderer,
};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

/// How many messages with forged tags since the last digest make a surge
/// the digest names (a sender over the per-sender rate always does).
pub const FORGED_SURGE: u64 = 10;

/// The stale threshold of stages without a stale rule (as `atsd report`).
pub const DEFAULT_STALE: Duration = Duration::days(14);

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The earliest `since` of the recipients due at this occurrence.
    pub since: Option<DateTime<Utc>>,
    pub new_applications: usize,
    pub stale: u64,
    pub closed_postings: usize,
    /// Candidates' addresses that bounced for good since.
    pub bounced: usize,
    /// Recipients due at this occurrence (people and fallback addresses).
    pub recipients: usize,
    /// Emails queued (one per recipient with something to say).
    pub queued: u64,
    /// Nothing new, nothing stale, nothing closed for anyone: no email.
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
    /// The digest's cron expression and the schedule's time zone.
    pub cron: &'a CronExpr,
    pub tz: Tz,
    /// The occurrence this digest is for.
    pub occurrence: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub dry_run: bool,
}

/// Someone this occurrence is for.
struct Due<'p> {
    /// None for a `[recruiters] emails` address.
    person: Option<&'p entity::person::Model>,
    email: &'p str,
    /// Their n-th place in `[recruiters] emails` (fallback addresses).
    n: usize,
    tz: Tz,
    since: DateTime<Utc>,
    postings: HashSet<i64>,
}

struct NewApp {
    posting: i64,
    created: DateTime<Utc>,
    line: DigestApplication,
}

impl Digest<'_> {
    /// Whether `occurrence` is an occurrence of the digest in `tz`, and if
    /// so, the one before it (else a day before).
    fn due_in(&self, tz: Tz) -> Option<DateTime<Utc>> {
        let o = self.occurrence;
        (self.cron.latest_at_or_before(o, tz) == Some(o)).then(|| {
            self.cron
                .latest_at_or_before(o - Duration::seconds(1), tz)
                .unwrap_or(o - Duration::days(1))
        })
    }

    // Stays whole: one pass over the people due, each digest queued in the transaction that records it.
    pub async fn run(&self) -> Result<Report> {
        let mut report = Report::default();
        let owners = people::owners(self.store).await?;
        let mut due: Vec<Due<'_>> = Vec::new();
        for (pid, postings) in &owners.by_person {
            let Some(p) = owners.people.get(pid) else {
                continue;
            };
            // nobody gets the digest of an occurrence from before they were
            // added (a zone's first occurrence is otherwise "missed" and
            // would arrive late at the next tick)
            if p.created_at > self.occurrence {
                continue;
            }
            let tz = p
                .timezone
                .as_deref()
                .and_then(|t| Tz::from_str(t).ok())
                .unwrap_or(self.tz);
            if let Some(since) = self.due_in(tz) {
                due.push(Due {
                    person: Some(p),
                    email: &p.email,
                    n: 0,
                    tz,
                    since,
                    postings: postings.iter().copied().collect(),
                });
            }
        }
        if !owners.unowned.is_empty()
            && let Some(since) = self.due_in(self.tz)
        {
            if self.config.recruiters.emails.is_empty() {
                report.no_recruiters = true;
            }
            let unowned: HashSet<i64> = owners.unowned.iter().copied().collect();
            for (n, to) in self.config.recruiters.emails.iter().enumerate() {
                due.push(Due {
                    person: None,
                    email: to,
                    n,
                    tz: self.tz,
                    since,
                    postings: unowned.clone(),
                });
            }
        }
        report.recipients = due.len();
        let Some(since) = due.iter().map(|d| d.since).min() else {
            report.nothing_to_say = !report.no_recruiters;
            return Ok(report);
        };
        report.since = Some(since);
        let data = self.read(since).await?;
        report.new_applications = data.new.len();
        report.stale = data.stale.values().flatten().map(|(_, _, n)| n).sum();
        report.closed_postings = data.closed.len();
        report.bounced = data.bounced.len();
        let spec = EmailSpec::new("recruiter_digest");
        let domain = mail::message_id::domain(self.config);
        let board_url = self
            .config
            .http
            .as_ref()
            .and_then(|h| h.public_url.as_deref())
            .map(|u| format!("{}/board", u.trim_end_matches('/')));
        let mut emails = Vec::new();
        for d in &due {
            let Some(digest) = self.digest_for(d, &data, board_url.clone()) else {
                continue;
            };
            let locale = d
                .person
                .and_then(|p| p.locale.as_deref())
                .unwrap_or(&self.config.org.default_locale);
            let ctx = Context {
                org: templates::OrgCtx {
                    name: self.config.org.name.clone(),
                },
                digest: DigestCtx {
                    period: templates::format_date(self.occurrence, locale, Some(d.tz.name())),
                    ..digest
                },
                ..Context::default()
            };
            let who = Recipient {
                email: d.email,
                name: d.person.map(|p| p.name.as_str()).unwrap_or(""),
                locale: d.person.and_then(|p| p.locale.as_deref()),
            };
            let mut draft =
                mail::draft(self.config, self.renderer, &spec, &who, &ctx, "", self.now)
                    .map_err(|e| Error::Render(format!("email `recruiter_digest`: {e}")))?;
            if d.person.is_none() {
                draft.recipient_name = None;
            }
            draft.stage = None;
            draft.auto_submitted = true;
            emails.push(BulkEmail {
                application_id: None,
                message_id: match d.person {
                    Some(p) => mail::message_id::of_person_digest(domain, self.occurrence, p.id),
                    None => mail::message_id::of_digest(domain, self.occurrence, d.n),
                },
                draft,
            });
        }
        if emails.is_empty() {
            report.nothing_to_say = !report.no_recruiters;
            return Ok(report);
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

    /// One recipient's sections, or none when every one is empty.
    fn digest_for(&self, d: &Due<'_>, data: &Data, board_url: Option<String>) -> Option<DigestCtx> {
        let locale = d
            .person
            .and_then(|p| p.locale.as_deref())
            .unwrap_or(&self.config.org.default_locale);
        let new: Vec<&NewApp> = data
            .new
            .iter()
            .filter(|a| a.created > d.since && d.postings.contains(&a.posting))
            .collect();
        // per stage, then posting title
        let mut stale: BTreeMap<(usize, &str, i64), u64> = BTreeMap::new();
        for p in &d.postings {
            if let Some(by_stage) = data.stale.get(p) {
                for (stage, title, n) in by_stage {
                    *stale.entry((*stage, title.as_str(), *p)).or_default() += n;
                }
            }
        }
        let closed: Vec<&(i64, DateTime<Utc>, String)> = data
            .closed
            .iter()
            .filter(|(p, at, _)| *at > d.since && d.postings.contains(p))
            .collect();
        let bounced: Vec<&DigestBounce> = data
            .bounced
            .iter()
            .filter(|(p, at, _)| *at > d.since && d.postings.contains(p))
            .map(|(_, _, b)| b)
            .collect();
        let quarantine = surge(data, d.since);
        if new.is_empty()
            && stale.is_empty()
            && closed.is_empty()
            && bounced.is_empty()
            && quarantine.is_none()
            && data.requests.is_empty()
        {
            return None;
        }
        let active = self.pipeline.active();
        let stale_total: u64 = stale.values().sum();
        let stale_more = stale.len().saturating_sub(DIGEST_LINES) as u64;
        let stale: Vec<DigestStale> = stale
            .into_iter()
            .take(DIGEST_LINES)
            .map(|((i, title, _), count)| DigestStale {
                stage: active[i].clone(),
                count,
                posting: Some(title.to_string()),
            })
            .collect();
        Some(DigestCtx {
            period: String::new(),
            new_total: new.len() as u64,
            new_more: new.len().saturating_sub(DIGEST_LINES) as u64,
            new_applications: new
                .iter()
                .take(DIGEST_LINES)
                .map(|a| a.line.clone())
                .collect(),
            stale_total,
            stale_more,
            stale,
            closed_total: closed.len() as u64,
            closed_more: closed.len().saturating_sub(DIGEST_LINES) as u64,
            closed_postings: closed
                .iter()
                .take(DIGEST_LINES)
                .map(|c| c.2.clone())
                .collect(),
            bounced_total: bounced.len() as u64,
            bounced_more: bounced.len().saturating_sub(DIGEST_LINES) as u64,
            bounced: bounced.into_iter().take(DIGEST_LINES).cloned().collect(),
            board_url,
            quarantine,
            requests: data
                .requests
                .iter()
                .map(|r| templates::DigestRequest {
                    id: r.id,
                    kind: r.kind.clone(),
                    law: r.law.to_uppercase(),
                    due: templates::format_date(r.due_at, locale, Some(d.tz.name())),
                    overdue: r.due_at < self.now,
                })
                .collect(),
        })
    }

    /// Everything any recipient's digest may list, read once.
    async fn read(&self, since: DateTime<Utc>) -> Result<Data> {
        let c = self.store.conn();
        let new: Vec<NewApp> = store_digest::new_applications(c, since, self.now)
            .await?
            .into_iter()
            .map(|r| NewApp {
                posting: r.posting_id,
                created: r.created_at,
                line: DigestApplication {
                    candidate: r.name,
                    posting: r.title,
                },
            })
            .collect();
        let thresholds = crate::report::stale_thresholds(self.config, self.pipeline, DEFAULT_STALE);
        let mut stale: HashMap<i64, Vec<(usize, String, u64)>> = HashMap::new();
        for (i, stage) in self.pipeline.active().iter().enumerate() {
            let t = thresholds.get(stage).copied().unwrap_or(DEFAULT_STALE);
            for r in store_digest::waiting_since(c, stage, self.now - t).await? {
                stale
                    .entry(r.posting_id)
                    .or_default()
                    .push((i, r.title, r.n as u64));
            }
        }
        let closed: Vec<_> = store_digest::closed_postings(c, since, self.now)
            .await?
            .into_iter()
            .map(|r| (r.id, r.status_changed_at, r.title))
            .collect();
        // an address marked undeliverable by a bounce of an email about an
        // application (a cleared mark is no longer news)
        let bounced: Vec<_> = store_digest::bounced(c, since, self.now)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.posting_id,
                    r.since,
                    DigestBounce {
                        candidate: r.name,
                        address: r.address,
                        posting: r.title,
                        status: r.dsn_status,
                        held: r.held as u64,
                    },
                )
            })
            .collect();
        let quarantined = crate::store::inbound::quarantined_between(c, since, self.now).await?;
        let refused = crate::store::inbound::refused_senders(c, since).await?;
        // open data requests due within 7 days, and overdue ones
        let requests = crate::store::requests::list(
            c,
            false,
            Some(self.now + Duration::days(crate::requests::DUE_SOON_DAYS)),
        )
        .await?;
        Ok(Data {
            new,
            stale,
            closed,
            bounced,
            quarantined,
            refused,
            requests,
        })
    }
}

struct Data {
    new: Vec<NewApp>,
    /// Per posting: (index of the active stage, its title, stale applications).
    stale: HashMap<i64, Vec<(usize, String, u64)>>,
    closed: Vec<(i64, DateTime<Utc>, String)>,
    /// (posting, when the address was marked, the line)
    bounced: Vec<(i64, DateTime<Utc>, DigestBounce)>,
    /// When each message was quarantined, and its reason's code.
    quarantined: Vec<(DateTime<Utc>, Option<String>)>,
    /// (sender, messages not kept, last heard)
    refused: Vec<(String, i64, DateTime<Utc>)>,
    /// Open data requests due within 7 days or overdue, soonest first.
    requests: Vec<entity::data_request::Model>,
}

/// The quarantine's surge since `since`, if there was one: at least
/// [`FORGED_SURGE`] forged tags, or a sender over the per-sender rate.
fn surge(data: &Data, since: DateTime<Utc>) -> Option<DigestQuarantine> {
    let recent = data.quarantined.iter().filter(|(at, _)| *at > since);
    let (mut total, mut forged) = (0u64, 0u64);
    for (_, reason) in recent {
        total += 1;
        forged += u64::from(reason.as_deref() == Some("forged_tag"));
    }
    let senders: Vec<DigestSender> = data
        .refused
        .iter()
        .filter(|(_, _, at)| *at > since)
        .map(|(sender, n, _)| DigestSender {
            sender: sender.clone(),
            refused: u64::try_from(*n).unwrap_or(0),
        })
        .collect();
    if forged < FORGED_SURGE && senders.is_empty() {
        return None;
    }
    Some(DigestQuarantine {
        total,
        forged,
        refused: senders.iter().map(|s| s.refused).sum(),
        senders: senders.into_iter().take(DIGEST_LINES).collect(),
    })
}

/// The distinct time zones the digest runs in: the schedule's and every
/// active person's.
pub async fn zones(store: &Store, schedule: Tz) -> Result<Vec<Tz>> {
    let mut out = vec![schedule];
    for z in people::time_zones(store).await? {
        if let Ok(tz) = Tz::from_str(&z)
            && !out.contains(&tz)
        {
            out.push(tz);
        }
    }
    Ok(out)
}
