//! The `retention` job (SPEC §1 "retention"): candidates whose applications
//! have all been terminal for longer than `[retention] anonymize_after` are
//! anonymized, everywhere their personal data was copied — as the map of
//! personal data says ([`crate::store::personal::MAP`]: every table and
//! column, whose, and what forgetting does to it). The candidate's key
//! becomes `anonymized:ID`, which no address can ever match again (a new
//! application with the old address creates a new candidate); pending
//! emails are cancelled; the `file` transport's `.eml` files of their
//! emails are deleted, and digests that named them written again from the
//! scrubbed rows.
//!
//! Transitions keep their stage, time and actor, so `atsd report` counts the
//! same. The clock restarts when a candidate is reconsidered (their
//! application leaves its terminal stage); `atsd candidate hold` exempts one.
//! Quarantined mail, finished webhook deliveries and old events have their
//! own clocks (`quarantine_after`, `events_after`).

use crate::config::Config;
use crate::error::Result;
use crate::mail::{compose, transport};
use crate::pipeline::Pipeline;
use crate::store::retention as store_retention;
use crate::store::{Store, personal};
use chrono::{DateTime, Utc};
use entity::{candidate, outbox};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use std::path::PathBuf;

/// Candidates anonymized per transaction.
const BATCH: usize = 200;
/// What replaces personal text.
pub use crate::store::personal::REDACTED;

pub use crate::store::retention::Due;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub anonymized: u64,
    pub outbox_rows: u64,
    pub files_removed: u64,
    pub held: u64,
    /// Events older than `events_after` deleted, and finished webhook
    /// deliveries with them.
    pub events_removed: u64,
    pub deliveries_removed: u64,
    /// Quarantined inbound messages older than `quarantine_after` deleted.
    pub quarantine_removed: u64,
    /// Erasure notices sent since the last run whose address was forgotten.
    pub notices_forgotten: u64,
    /// Idempotency keys older than `idempotency_after` deleted.
    pub idempotency_removed: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_anonymize: Vec<Due>,
}

/// What the file transport holds of forgotten people.
pub(crate) struct Files {
    rows: Vec<outbox::Model>,
    digests: Vec<outbox::Model>,
}

pub struct Retention<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub pipeline: &'a Pipeline,
    pub now: DateTime<Utc>,
    pub dry_run: bool,
}

impl Retention<'_> {
    /// Who is due: every application terminal since before the cutoff, not held.
    pub async fn due(&self) -> Result<Vec<Due>> {
        let cutoff = self.now - self.config.retention.anonymize_after.chrono();
        store_retention::due(self.store.conn(), self.pipeline.active(), cutoff).await
    }

    pub async fn run(&self) -> Result<Report> {
        let due = self.due().await?;
        let held = store_retention::held(self.store.conn()).await?;
        let mut report = Report {
            held,
            ..Report::default()
        };
        if self.dry_run {
            report.would_anonymize = due;
            return Ok(report);
        }
        for chunk in due.chunks(BATCH) {
            self.anonymize(chunk, &mut report).await?;
        }
        self.prune_events(&mut report).await?;
        let notices = store_retention::forget_sent_notices(self.store.conn(), self.now).await?;
        report.notices_forgotten = notices.len() as u64;
        if let Some(dir) = self.outbox_dir() {
            for mid in &notices {
                if std::fs::remove_file(dir.join(compose::eml_file_name(mid))).is_ok() {
                    report.files_removed += 1;
                }
            }
        }
        let cutoff = self.now - self.config.retention.quarantine_after.chrono();
        report.quarantine_removed =
            crate::store::inbound::expire_quarantine(self.store.conn(), cutoff).await?;
        report.idempotency_removed = crate::store::idempotency::expire(
            self.store.conn(),
            self.now - self.config.retention.idempotency_after.chrono(),
        )
        .await?;
        // the board's kept counts, folded (the board folds them too)
        crate::store::board::fold_totals(self.store.conn()).await?;
        // a sender's count is forgotten a day after it went quiet
        crate::store::inbound::forget_quarantine_senders(
            self.store.conn(),
            self.now - chrono::Duration::days(1),
        )
        .await?;
        if report.quarantine_removed > 0 {
            tracing::info!(
                messages = report.quarantine_removed,
                "old quarantined mail removed"
            );
        }
        Ok(report)
    }

    /// Deletes the events older than `events_after` that no delivery still
    /// waits for, and the finished deliveries of that age.
    async fn prune_events(&self, report: &mut Report) -> Result<()> {
        let cutoff = self.now - self.config.retention.events_after.chrono();
        let txn = self.store.begin_write().await?;
        let (deliveries, events) = store_retention::prune_events(&txn, cutoff).await?;
        report.deliveries_removed += deliveries;
        report.events_removed += events;
        txn.commit().await?;
        if report.events_removed > 0 {
            tracing::info!(
                events = report.events_removed,
                deliveries = report.deliveries_removed,
                "old events removed"
            );
        }
        Ok(())
    }

    async fn anonymize(&self, people: &[Due], report: &mut Report) -> Result<()> {
        let txn = self.store.begin_write().await?;
        let files = self.anonymize_in(&txn, people, report).await?;
        txn.commit().await?;
        self.clean_files(files, report).await
    }

    /// Forgets `people` inside the caller's transaction, everywhere the map
    /// of personal data says; what the file transport holds of them, to
    /// clean once the transaction committed ([`Self::clean_files`]).
    pub(crate) async fn anonymize_in<C: ConnectionTrait>(
        &self,
        txn: &C,
        people: &[Due],
        report: &mut Report,
    ) -> Result<Files> {
        let ids: Vec<i64> = people.iter().map(|p| p.candidate_id).collect();
        let apps = store_retention::applications_of(txn, &ids).await?;
        // the rows and files to scrub, read before they change
        let first_seen = people
            .iter()
            .map(|p| p.first_seen)
            .min()
            .unwrap_or(self.now);
        let (rows, digests) = store_retention::emails_naming(txn, &apps, first_seen).await?;
        // everything the map of personal data says is theirs
        let who = personal::Subjects {
            candidates: ids.clone(),
            applications: apps.clone(),
            addresses: people.iter().map(|p| p.email.to_lowercase()).collect(),
            names: people.iter().map(|p| p.name.clone()).collect(),
        };
        for (table, n) in personal::forget(txn, &who, self.now).await? {
            if table == "outbox" {
                report.outbox_rows += n;
            }
        }
        report.anonymized += people.len() as u64;
        for p in people {
            tracing::info!(candidate = p.candidate_id, "candidate anonymized");
        }
        Ok(Files { rows, digests })
    }

    /// The file transport's copies of forgotten emails: deleted, and the
    /// digests that named them written again from their scrubbed rows.
    pub(crate) async fn clean_files(&self, files: Files, report: &mut Report) -> Result<()> {
        // the files their applications brought: deleted once no row names them
        let kept = crate::careers::files::dir(self.config, self.store.url());
        if kept.is_dir() {
            let conn = self.store.conn().clone();
            report.files_removed += crate::careers::files::collect_garbage(&kept, |sha| {
                let c = conn.clone();
                async move { crate::store::careers::digest_held(&c, &sha).await }
            })
            .await;
        }
        if let Some(dir) = self.outbox_dir() {
            for r in &files.rows {
                let path = dir.join(compose::eml_file_name(&r.message_id));
                if std::fs::remove_file(&path).is_ok() {
                    report.files_removed += 1;
                }
            }
            self.rewrite_digests(&dir, &files.digests).await?;
        }
        Ok(())
    }

    fn outbox_dir(&self) -> Option<PathBuf> {
        let dir = transport::file_dir(self.config, crate::store::sqlite_dir(self.store.url()));
        dir.is_dir().then_some(dir)
    }

    /// Writes the `.eml` files of digests again from their scrubbed rows.
    async fn rewrite_digests(
        &self,
        dir: &std::path::Path,
        digests: &[outbox::Model],
    ) -> Result<()> {
        for d in digests {
            let path = dir.join(compose::eml_file_name(&d.message_id));
            if !path.is_file() {
                continue;
            }
            let Some(body) = crate::store::outbox::bodies(self.store.conn(), &[d.id])
                .await?
                .remove(&d.id)
            else {
                continue;
            };
            let date = d.sent_at.unwrap_or(d.created_at);
            match compose::compose(self.config, d, &body, date) {
                Ok(msg) => {
                    std::fs::write(&path, msg.formatted()).map_err(|e| {
                        crate::Error::io(format!("cannot rewrite {}", path.display()), e)
                    })?;
                }
                Err(e) => {
                    tracing::warn!(outbox = d.id, error = %e, "cannot rewrite a digest file; removing it");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(())
    }
}

/// Puts a candidate on hold (exempt from retention), or takes them off it.
///
/// One transaction: the candidate's hold and its event (`candidate.held`
/// or `candidate.unheld`), naming `actor`.
pub async fn hold(
    store: &Store,
    email: &str,
    on: bool,
    reason: Option<String>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<candidate::Model> {
    let txn = store.begin_write().await?;
    let c = crate::store::candidates::find_by_email(&txn, email)
        .await?
        .ok_or_else(|| crate::Error::NotFound(format!("no candidate with email {email}")))?;
    let c = store_retention::set_hold(&txn, c, on, reason.clone(), now).await?;
    crate::store::events::record(
        &txn,
        vec![crate::store::events::NewEvent::new(
            if on {
                "candidate.held"
            } else {
                "candidate.unheld"
            },
            now,
            serde_json::json!({
                "candidate_id": c.id,
                "actor": actor,
                "reason": if on { reason } else { None },
                "at": now,
            }),
        )],
    )
    .await?;
    txn.commit().await?;
    tracing::info!(candidate = c.id, actor, on, "retention hold changed");
    Ok(c)
}
