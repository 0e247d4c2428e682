//! The `advance` job: applies the automation rules ([`crate::rules`]) at the
//! run's time. Applications are read in batches by id (keyset pagination,
//! so memory does not grow with their number), the rules decide on each row,
//! the emails are rendered, and each batch is written in one transaction of
//! a few set-based statements ([`crate::store::bulk`]). A batch is all or
//! nothing; a crash between batches leaves finished batches done and the
//! rest for the next run, which finds exactly what is left.

use crate::config::{Config, EmailSpec};
use crate::error::{Error, Result};
use crate::mail::{self, Draft, Recipient, render::Renderer};
use crate::pipeline::Pipeline;
use crate::rules::{self, Action, Facts, Rule};
use crate::store::applications::{Ctx, context};
use crate::store::bulk::{self, BulkEmail, BulkMove};
use crate::store::{Store, id_list, sql};
use chrono::{DateTime, Utc};
use entity::{application, candidate, posting};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, Value};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use tokio_util::sync::CancellationToken;

/// Applications read, decided and written per transaction (in statements
/// of up to [`bulk::moves_per_call`] moves on SQLite, one on PostgreSQL).
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
    pub config: &'a Config,
    pub pipeline: &'a Pipeline,
    pub renderer: &'a Renderer,
    pub now: DateTime<Utc>,
    /// Print what would happen and change nothing.
    pub dry_run: bool,
}

/// One batch, decided and rendered, ready to write.
#[derive(Default)]
struct Prepared {
    moves: Vec<(String, BulkMove)>,
    reminders: Vec<(String, Vec<BulkEmail>)>,
    planned: Vec<Planned>,
}

/// What writing one batch did.
#[derive(Default)]
struct Written {
    moved: u64,
    reminders: u64,
    emails: u64,
    conflicts: Vec<i64>,
    cancelled_emails: u64,
    by_rule: BTreeMap<String, u64>,
    by_reason: BTreeMap<String, u64>,
}

impl Written {
    fn add_to(self, r: &mut Report) {
        r.moved += self.moved;
        r.reminders += self.reminders;
        r.emails += self.emails;
        r.conflicts += self.conflicts.len() as u64;
        r.cancelled_emails += self.cancelled_emails;
        for (k, v) in self.by_rule {
            *r.by_rule.entry(k).or_default() += v;
        }
        for (k, v) in self.by_reason {
            *r.by_reason.entry(k).or_default() += v;
        }
    }
}

struct Row {
    app: application::Model,
    closed_at: Option<DateTime<Utc>>,
    reminded: bool,
}

impl Advance<'_> {
    /// The `WHERE` that finds the applications some rule may act on.
    fn filter(&self, rules: &[Rule]) -> (String, Vec<Value>) {
        let mut parts = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        for stage in self.pipeline.active() {
            if let Some(cutoff) = rules::stale_cutoff(rules, stage, self.now) {
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
                .pipeline
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
        let reminded = if reminders {
            "EXISTS (SELECT 1 FROM outbox o WHERE o.application_id = a.id AND o.template = 'recruiter_reminder' \
             AND o.stage = a.stage AND o.created_at >= a.entered_stage_at)"
        } else {
            "(1 = 0)"
        };
        let mut values: Vec<Value> = vec![after_id.into()];
        values.extend(filter.1.iter().cloned());
        let rows = self
            .store
            .conn()
            .query_all_raw(sql(
                self.store.backend(),
                &format!(
                    "SELECT a.id, a.candidate_id, a.posting_id, a.stage, a.entered_stage_at, a.applied_at, \
                     a.version, a.created_at, a.updated_at, \
                     CASE WHEN p.status = 'closed' THEN COALESCE(p.status_changed_at, p.created_at) END AS closed_at, \
                     {reminded} AS reminded \
                     FROM applications a JOIN postings p ON p.id = a.posting_id \
                     WHERE a.id > ? AND ({}) ORDER BY a.id LIMIT {BATCH}",
                    filter.0
                ),
                values,
            ))
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Row {
                    app: application::Model {
                        id: r.try_get("", "id")?,
                        candidate_id: r.try_get("", "candidate_id")?,
                        posting_id: r.try_get("", "posting_id")?,
                        stage: r.try_get("", "stage")?,
                        entered_stage_at: r.try_get("", "entered_stage_at")?,
                        applied_at: r.try_get("", "applied_at")?,
                        version: r.try_get("", "version")?,
                        created_at: r.try_get("", "created_at")?,
                        updated_at: r.try_get("", "updated_at")?,
                    },
                    closed_at: r.try_get("", "closed_at")?,
                    reminded: r.try_get("", "reminded")?,
                })
            })
            .collect::<std::result::Result<_, sea_orm::DbErr>>()
            .map_err(Error::from)
    }

    /// Runs the rules over every application they may act on.
    pub async fn run(&self, cancel: &CancellationToken) -> Result<Report> {
        let rules = rules::from_config(self.config);
        let mut report = Report::default();
        let filter = self.filter(&rules);
        if filter.0.is_empty() {
            return Ok(report);
        }
        let reminders = rules.iter().any(|r| !r.moves());
        if reminders && self.config.recruiters.emails.is_empty() {
            tracing::warn!(
                "a remind rule is configured but [recruiters] emails is empty: no reminders are sent"
            );
        }
        // while one batch is written, the next is read, decided and rendered
        let mut after = 0i64;
        let mut ready: Option<Prepared> = None;
        loop {
            if cancel.is_cancelled() {
                report.stopped = true;
                break;
            }
            // the write runs on a task of its own, so that rendering here
            // does not hold up its statements
            let write = ready.take().map(|p| {
                tokio::spawn(write(
                    self.store.clone(),
                    mail::message_domain(self.config).to_string(),
                    self.now,
                    p,
                ))
            });
            let next = self.prepare(&rules, after, &filter, reminders).await;
            if let Some(w) = write {
                w.await
                    .map_err(|e| Error::Other(format!("writing a batch failed: {e}")))??
                    .add_to(&mut report);
            }
            let Some((last, examined, prepared)) = next? else {
                break;
            };
            after = last;
            report.examined += examined;
            if self.dry_run {
                report.moved += prepared.moves.len() as u64;
                report.reminders += prepared
                    .reminders
                    .iter()
                    .filter(|(_, e)| !e.is_empty())
                    .count() as u64;
                report.planned.extend(prepared.planned);
            } else {
                ready = Some(prepared);
            }
        }
        if let Some(p) = ready {
            write(
                self.store.clone(),
                mail::message_domain(self.config).to_string(),
                self.now,
                p,
            )
            .await?
            .add_to(&mut report);
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
        let mut planned = Vec::new();
        let mut actions = Vec::new();
        for r in &rows {
            let facts = Facts {
                stage: &r.app.stage,
                entered_stage_at: r.app.entered_stage_at,
                posting_closed_at: r.closed_at,
                reminded: r.reminded,
            };
            if let Some(a) = rules::decide(rules, self.pipeline, &facts, self.now) {
                actions.push((r, a));
            }
        }
        if actions.is_empty() {
            return Ok(Some((last, examined, Prepared::default())));
        }
        let c = self.store.conn();
        let cand_ids: Vec<i64> = actions.iter().map(|(r, _)| r.app.candidate_id).collect();
        let cands: HashMap<i64, candidate::Model> = candidate::Entity::find()
            .filter(Expr::cust(format!("id IN ({})", id_list(&dedup(cand_ids)))))
            .all(c)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let post_ids: Vec<i64> = actions.iter().map(|(r, _)| r.app.posting_id).collect();
        let posts: HashMap<i64, posting::Model> = posting::Entity::find()
            .filter(Expr::cust(format!("id IN ({})", id_list(&dedup(post_ids)))))
            .all(c)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let ctx = Ctx {
            config: self.config,
            pipeline: self.pipeline,
            renderer: self.renderer,
            now: self.now,
        };
        let mut moves = Vec::new();
        let mut reminders = Vec::new();
        for (row, action) in &actions {
            // a version changed since this read is a move someone else
            // made: the compare-and-swap skips it
            let app = &row.app;
            let Some(cand) = cands.get(&app.candidate_id) else {
                continue;
            };
            let Some(post) = posts.get(&app.posting_id) else {
                continue;
            };
            match action {
                Action::Move { rule, to } => {
                    let moved = application::Model {
                        stage: to.to_string(),
                        entered_stage_at: self.now,
                        ..app.clone()
                    };
                    let email = match mail::stage_email(self.config, to, &rule.email) {
                        Some(spec) if cand.anonymized_at.is_none() => {
                            let tctx = context(
                                &ctx,
                                &moved,
                                cand,
                                post,
                                Some(&app.stage),
                                rule.reason.as_deref(),
                            );
                            let to_whom = Recipient {
                                email: &cand.email,
                                name: &cand.name,
                                locale: cand.locale.as_deref(),
                            };
                            Some(self.draft(&spec, &to_whom, &tctx, to, app.id)?)
                        }
                        _ => None,
                    };
                    if self.dry_run {
                        planned.push(Planned {
                            application_id: app.id,
                            rule: rule.name.clone(),
                            action: "move",
                            from: app.stage.clone(),
                            to: Some(to.to_string()),
                            emails: email
                                .iter()
                                .map(|d| format!("{} → {}", d.template, d.recipient))
                                .collect(),
                        });
                    }
                    moves.push((
                        rule.name.clone(),
                        BulkMove {
                            application_id: app.id,
                            posting_id: app.posting_id,
                            version: app.version,
                            from: app.stage.clone(),
                            entered: app.entered_stage_at,
                            to: to.to_string(),
                            reason: rule.reason.clone(),
                            actor: rule.actor(),
                            email,
                        },
                    ));
                }
                Action::Remind { rule } => {
                    let tctx = context(&ctx, app, cand, post, None, rule.reason.as_deref());
                    let spec = EmailSpec::new("recruiter_reminder");
                    let mut emails = Vec::new();
                    for (n, to) in self.config.recruiters.emails.iter().enumerate() {
                        let to_whom = Recipient {
                            email: to,
                            name: "",
                            locale: None,
                        };
                        let mut d = self.draft(&spec, &to_whom, &tctx, &app.stage, app.id)?;
                        d.recipient_name = None;
                        emails.push(BulkEmail {
                            application_id: Some(app.id),
                            message_id: reminder_id(self.config, app.id, app.version, n),
                            draft: d,
                        });
                    }
                    if self.dry_run {
                        planned.push(Planned {
                            application_id: app.id,
                            rule: rule.name.clone(),
                            action: "remind",
                            from: app.stage.clone(),
                            to: None,
                            emails: emails
                                .iter()
                                .map(|e| format!("{} → {}", e.draft.template, e.draft.recipient))
                                .collect(),
                        });
                    }
                    reminders.push((rule.name.clone(), emails));
                }
            }
        }
        Ok(Some((
            last,
            examined,
            Prepared {
                moves,
                reminders,
                planned,
            },
        )))
    }

    fn draft(
        &self,
        spec: &EmailSpec,
        to: &Recipient<'_>,
        tctx: &crate::mail::render::Context,
        stage: &str,
        app: i64,
    ) -> Result<Draft> {
        mail::draft(self.config, self.renderer, spec, to, tctx, stage, self.now).map_err(|e| {
            Error::Other(format!(
                "email `{}` for application {app}: {e}",
                spec.template
            ))
        })
    }
}

/// Writes one prepared batch in one transaction.
async fn write(store: Store, domain: String, now: DateTime<Utc>, p: Prepared) -> Result<Written> {
    let mut w = Written::default();
    if p.moves.is_empty() && p.reminders.is_empty() {
        return Ok(w);
    }
    let txn = store.begin_write().await?;
    if store.backend() == sea_orm::DbBackend::Postgres {
        // every statement of a batch finds its rows by key, a few thousand
        // of tables that may hold millions: a sequential scan or a hash of a
        // whole table is never the right plan, though the planner, with
        // statistics older than the rows this run writes, may think so
        txn.execute_unprepared("SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off")
            .await?;
    }
    let mut moved = std::collections::HashSet::new();
    #[allow(clippy::type_complexity)]
    let (rules_of, all_moves): (Vec<(String, Option<String>, i64)>, Vec<BulkMove>) = p
        .moves
        .into_iter()
        .map(|(rule, m)| ((rule, m.reason.clone(), m.application_id), m))
        .unzip();
    let mut rest = all_moves.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<BulkMove> = rest
            .by_ref()
            .take(bulk::moves_per_call(store.backend()))
            .collect();
        let applied =
            bulk::apply_moves(&txn, chunk, now, &|t| mail::message_id_at(&domain, t, 0)).await?;
        moved.extend(applied.moved.iter().copied());
        w.conflicts.extend(applied.conflicts);
        w.cancelled_emails += applied.cancelled_emails;
        w.emails += applied.emails;
    }
    let mut reminded_rules = Vec::new();
    let mut all_reminders: Vec<BulkEmail> = Vec::new();
    for (rule, e) in p.reminders {
        if !e.is_empty() {
            reminded_rules.push(rule);
        }
        all_reminders.extend(e);
    }
    w.emails += bulk::queue_emails(&txn, all_reminders, now).await?;
    if w.emails > 0 {
        crate::store::notify_outbox(&txn).await?;
    }
    txn.commit().await?;
    for (rule, reason, app) in rules_of {
        if moved.contains(&app) {
            *w.by_rule.entry(rule).or_default() += 1;
            *w.by_reason
                .entry(reason.unwrap_or_else(|| "none".into()))
                .or_default() += 1;
        }
    }
    for rule in reminded_rules {
        *w.by_rule.entry(rule).or_default() += 1;
        w.reminders += 1;
    }
    if !w.conflicts.is_empty() {
        tracing::info!(applications = %id_list(&w.conflicts),
            "moved by someone else since they were read; the rules skipped them");
    }
    w.moved = moved.len() as u64;
    Ok(w)
}

/// The Message-ID of the `n`th recruiter's reminder about one stage visit
/// (application and version): queuing it twice is impossible.
pub fn reminder_id(config: &Config, app: i64, version: i32, n: usize) -> String {
    let domain = mail::message_domain(config);
    format!("<atsd.a{app}.v{version}.remind{n}@{domain}>")
}

fn dedup(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v.dedup();
    v
}
