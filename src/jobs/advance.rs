//! The `advance` job: applies the automation rules ([`crate::rules`]) at the
//! run's time. Applications are read in batches by id (keyset pagination,
//! so memory does not grow with their number), the rules decide on each row,
//! and each batch is rendered and written by [`crate::workflow::batch`] in
//! one transaction of a few set-based statements. A batch is all or
//! nothing; a crash between batches leaves finished batches done and the
//! rest for the next run, which finds exactly what is left.

use crate::error::{Error, Result};
use crate::mail;
use crate::rules::{self, Facts, Rule};
use crate::store::{Store, applications, candidates, postings};
use crate::workflow::Ctx;
use crate::workflow::batch::{self, Batch, Either, Written};
use entity::{application, posting};
use sea_orm::Value;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use tokio_util::sync::CancellationToken;

/// Applications read, decided and written per transaction (in statements
/// of up to [`crate::store::moves::moves_per_call`] moves on SQLite, one on
/// PostgreSQL).
pub const BATCH: usize = 5000;

/// One thing the rules do (printed by `--dry-run`).
#[derive(Clone, Debug, Serialize)]
pub struct Planned {
    pub application_id: i64,
    pub rule: String,
    pub action: &'static str,
    pub from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `template → recipient` of each email it queues.
    pub emails: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub examined: u64,
    pub moved: u64,
    pub reminders: u64,
    pub emails: u64,
    /// Moves skipped because someone moved the application first.
    pub conflicts: u64,
    pub cancelled_emails: u64,
    pub by_rule: BTreeMap<String, u64>,
    /// Moves made, by the reason written on their transitions.
    pub by_reason: BTreeMap<String, u64>,
    /// Stopped early (shutdown): the rest is left for the next run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<Planned>,
}

/// What the advance job needs.
pub struct Advance<'a> {
    pub store: &'a Store,
    /// The configuration, templates and links of the moves, and the run's time.
    pub ctx: Ctx<'a>,
    /// Print what would happen and change nothing.
    pub dry_run: bool,
}

/// One batch, decided and rendered, ready to write.
#[derive(Default)]
struct Prepared {
    batch: Batch,
    planned: Vec<Planned>,
}

fn add_to(w: Written, r: &mut Report) {
    r.moved += w.moved;
    r.reminders += w.reminders;
    r.emails += w.emails;
    r.conflicts += w.conflicts.len() as u64;
    r.cancelled_emails += w.cancelled_emails;
    for (k, v) in w.by_rule {
        *r.by_rule.entry(k).or_default() += v;
    }
    for (k, v) in w.by_reason {
        *r.by_reason.entry(k).or_default() += v;
    }
}

type Row = applications::RuleRow;

impl Advance<'_> {
    /// The `WHERE` that finds the applications some rule may act on.
    fn filter(&self, rules: &[Rule]) -> (String, Vec<Value>) {
        let mut parts = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        for stage in self.ctx.pipeline().active() {
            if let Some(cutoff) = rules::stale_cutoff(rules, stage, self.ctx.now()) {
                parts.push("(a.stage = ? AND a.entered_stage_at <= ?)".to_string());
                values.push(stage.clone().into());
                values.push(cutoff.into());
            }
        }
        if rules
            .iter()
            .any(|r| matches!(r.kind, rules::Kind::PostingClosed { .. }))
        {
            let active: Vec<String> = self
                .ctx
                .pipeline()
                .active()
                .iter()
                .map(|s| format!("'{}'", s.replace('\'', "''")))
                .collect();
            parts.push(format!(
                "(p.status = 'closed' AND a.stage IN ({}))",
                active.join(",")
            ));
        }
        (parts.join(" OR "), values)
    }

    async fn read(
        &self,
        after_id: i64,
        filter: &(String, Vec<Value>),
        reminders: bool,
    ) -> Result<Vec<Row>> {
        applications::rule_batch(self.store.conn(), after_id, filter, reminders, BATCH).await
    }

    /// Runs the rules over every application they may act on.
    pub async fn run(&self, cancel: &CancellationToken) -> Result<Report> {
        let rules = rules::from_config(self.ctx.config());
        let mut report = Report::default();
        let filter = self.filter(&rules);
        if filter.0.is_empty() {
            return Ok(report);
        }
        let reminders = rules.iter().any(|r| !r.moves());
        if reminders && self.ctx.config().recruiters.emails.is_empty() {
            tracing::warn!(
                "a remind rule is configured but [recruiters] emails is empty: postings without a recruiter get no reminders"
            );
        }
        // while one batch is written, the next is read, decided and rendered
        let domain = mail::message_id::domain(self.ctx.config()).to_string();
        let mut after = 0i64;
        let mut ready: Option<Batch> = None;
        loop {
            if cancel.is_cancelled() {
                report.stopped = true;
                break;
            }
            // the write runs on a task of its own, so that rendering here
            // does not hold up its statements
            let write = ready.take().map(|b| {
                tokio::spawn(batch::write(
                    self.store.clone(),
                    domain.clone(),
                    self.ctx.now(),
                    b,
                ))
            });
            let next = self.prepare(&rules, after, &filter, reminders).await;
            if let Some(w) = write {
                add_to(
                    w.await
                        .map_err(|e| Error::Other(format!("writing a batch failed: {e}")))??,
                    &mut report,
                );
            }
            let Some((last, examined, prepared)) = next? else {
                break;
            };
            after = last;
            report.examined += examined;
            if self.dry_run {
                report.moved += prepared.batch.moves.len() as u64;
                report.reminders += prepared
                    .batch
                    .reminders
                    .iter()
                    .filter(|r| !r.emails.is_empty())
                    .count() as u64;
                report.planned.extend(prepared.planned);
            } else {
                ready = Some(prepared.batch);
            }
        }
        if let Some(b) = ready {
            add_to(
                batch::write(self.store.clone(), domain, self.ctx.now(), b).await?,
                &mut report,
            );
        }
        Ok(report)
    }

    /// Reads the next batch after `after` and decides and renders what the
    /// rules do with it: `(last id, rows read, what to write)`, or `None` at the end.
    async fn prepare(
        &self,
        rules: &[Rule],
        after: i64,
        filter: &(String, Vec<Value>),
        with_reminders: bool,
    ) -> Result<Option<(i64, u64, Prepared)>> {
        let rows = self.read(after, filter, with_reminders).await?;
        let Some(last) = rows.last().map(|r| r.app.id) else {
            return Ok(None);
        };
        let examined = rows.len() as u64;
        let mut actions = Vec::new();
        for r in &rows {
            let facts = Facts {
                stage: &r.app.stage,
                entered_stage_at: r.app.entered_stage_at,
                posting_closed_at: r.closed_at,
                reminded: r.reminded,
            };
            if let Some(a) = rules::decide(rules, self.ctx.pipeline(), &facts, self.ctx.now()) {
                actions.push((r, a));
            }
        }
        if actions.is_empty() {
            return Ok(Some((last, examined, Prepared::default())));
        }
        let c = self.store.conn();
        let cand_ids: Vec<i64> = actions.iter().map(|(r, _)| r.app.candidate_id).collect();
        let cands = candidates::by_ids(c, &dedup(cand_ids)).await?;
        let post_ids: Vec<i64> = actions.iter().map(|(r, _)| r.app.posting_id).collect();
        let posts: HashMap<i64, posting::Model> = postings::by_ids(c, &dedup(post_ids))
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let decided: Vec<(&application::Model, rules::Action<'_>)> =
            actions.into_iter().map(|(r, a)| (&r.app, a)).collect();
        let reminding = decided
            .iter()
            .any(|(_, a)| matches!(a, rules::Action::Remind { .. }));
        let teams = if reminding {
            let ids: Vec<i64> = posts.keys().copied().collect();
            crate::store::people::teams(c, &ids, true).await?
        } else {
            Default::default()
        };
        // the interviews that a move to a terminal stage cancels
        let finishing: Vec<i64> = decided
            .iter()
            .filter(|(_, a)| {
                matches!(a, rules::Action::Move { to, .. } if self.ctx.pipeline().is_terminal(to))
            })
            .map(|(app, _)| app.id)
            .collect();
        let open = crate::workflow::interviews::Open::load(c, &finishing, self.ctx.now()).await?;
        let batch = Batch::render(&self.ctx, &decided, &cands, &posts, &teams, &open)?;
        let planned = if self.dry_run {
            plan(&batch)
        } else {
            Vec::new()
        };
        Ok(Some((last, examined, Prepared { batch, planned })))
    }
}

/// What `--dry-run` prints of a batch, in the order of the applications.
fn plan(b: &Batch) -> Vec<Planned> {
    b.in_order()
        .map(|e| match e {
            Either::Move(rule, m) => Planned {
                application_id: m.application_id,
                rule: rule.to_string(),
                action: "move",
                from: m.from.clone(),
                to: Some(m.to.clone()),
                emails: m
                    .email
                    .iter()
                    .map(|d| format!("{} → {}", d.template, d.recipient))
                    .collect(),
            },
            Either::Remind(r) => Planned {
                application_id: r.application_id,
                rule: r.rule.clone(),
                action: "remind",
                from: r.stage.clone(),
                to: None,
                emails: r
                    .emails
                    .iter()
                    .map(|e| format!("{} → {}", e.draft.template, e.draft.recipient))
                    .collect(),
            },
        })
        .collect()
}

fn dedup(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v.dedup();
    v
}
