//! The rules' moves and reminders, many at a time: each decided by the rules
//! ([`crate::rules`]) and rendered here with the same email, Message-ID and
//! template context as a single move ([`super::email`]), then written in one
//! transaction of a few set-based statements ([`crate::store::moves`]) with
//! the same meaning as a single move row by row: an application moved by
//! someone else since it was read is skipped, the delayed emails of the
//! stage left are cancelled, each move has its transition and event.

use super::{Ctx, email};
use crate::error::Result;
use crate::mail;
use crate::rules::Action;
use crate::store::moves::{self, BulkEmail, BulkMove};
use crate::store::{Store, id_list};
use chrono::{DateTime, Utc};
use entity::{application, candidate, posting};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the rules do to one batch of applications, rendered and ready to
/// write.
#[derive(Default)]
pub struct Batch {
    /// Each move with the name of the rule that made it.
    pub moves: Vec<(String, BulkMove)>,
    /// Each remind rule that acted, with its reminders (one per recruiter).
    pub reminders: Vec<Reminded>,
    /// The moves and reminders in the order of the applications decided
    /// on: (a move?, its index in `moves` or `reminders`).
    order: Vec<(bool, usize)>,
    /// The interviews of applications moved to a terminal stage, to cancel
    /// if the move is made: (actor, application id, the cancellation).
    pub cancels: Vec<(String, i64, super::interviews::PlannedCancel)>,
}

/// A reminder rule that acted on one application.
pub struct Reminded {
    pub rule: String,
    pub application_id: i64,
    pub stage: String,
    pub emails: Vec<BulkEmail>,
}

impl Batch {
    /// Renders what `decided` says to do with each application (its
    /// candidate and posting looked up in `cands` and `posts`; one missing,
    /// the application is left alone).
    pub fn render(
        ctx: &Ctx<'_>,
        decided: &[(&application::Model, Action<'_>)],
        cands: &HashMap<i64, candidate::Model>,
        posts: &HashMap<i64, posting::Model>,
        teams: &email::Teams,
        open: &super::interviews::Open,
    ) -> Result<Batch> {
        let mut batch = Batch::default();
        for (app, action) in decided {
            let (Some(cand), Some(post)) =
                (cands.get(&app.candidate_id), posts.get(&app.posting_id))
            else {
                continue;
            };
            match action {
                Action::Move { rule, to } => {
                    let moved = application::Model {
                        stage: to.to_string(),
                        entered_stage_at: ctx.now,
                        ..(*app).clone()
                    };
                    let email = email::for_move(
                        ctx,
                        &moved,
                        cand,
                        post,
                        Some(&app.stage),
                        rule.reason.as_deref(),
                        &rule.email,
                    )?;
                    if ctx.pipeline().is_terminal(to) {
                        for p in open.plan(ctx, &moved, cand, post, to)? {
                            batch.cancels.push((rule.actor(), app.id, p));
                        }
                    }
                    batch.order.push((true, batch.moves.len()));
                    batch.moves.push((
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
                    let emails = email::reminders(
                        ctx,
                        app,
                        cand,
                        post,
                        teams.get(&post.id).map(Vec::as_slice).unwrap_or_default(),
                        rule.reason.as_deref(),
                    )?
                    .into_iter()
                    .map(|(message_id, draft)| BulkEmail {
                        application_id: Some(app.id),
                        message_id,
                        draft,
                    })
                    .collect();
                    batch.order.push((false, batch.reminders.len()));
                    batch.reminders.push(Reminded {
                        rule: rule.name.clone(),
                        application_id: app.id,
                        stage: app.stage.clone(),
                        emails,
                    });
                }
            }
        }
        Ok(batch)
    }

    /// The moves and reminders in the order of the applications decided on.
    pub fn in_order(&self) -> impl Iterator<Item = Either<'_>> {
        self.order.iter().map(|(is_move, i)| {
            if *is_move {
                let (rule, m) = &self.moves[*i];
                Either::Move(rule, m)
            } else {
                Either::Remind(&self.reminders[*i])
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.reminders.is_empty()
    }
}

/// A move or a reminder of a [`Batch`].
pub enum Either<'a> {
    Move(&'a str, &'a BulkMove),
    Remind(&'a Reminded),
}

/// What writing one batch did.
#[derive(Debug, Default)]
pub struct Written {
    pub moved: u64,
    pub reminders: u64,
    pub emails: u64,
    /// Applications moved by someone else since they were read: skipped.
    pub conflicts: Vec<i64>,
    pub cancelled_emails: u64,
    pub by_rule: BTreeMap<String, u64>,
    /// Moves made, by the reason written on their transitions.
    pub by_reason: BTreeMap<String, u64>,
}

/// Writes one batch in one transaction. `domain` names the emails
/// (`mail::message_id`).
pub async fn write(store: Store, domain: String, now: DateTime<Utc>, b: Batch) -> Result<Written> {
    let mut w = Written::default();
    if b.is_empty() {
        return Ok(w);
    }
    // every statement of a batch finds its rows by key, a few thousand of
    // tables that may hold millions
    let txn = store.begin_keyed_batch().await?;
    let mut moved = HashSet::new();
    #[allow(clippy::type_complexity)]
    let (rules_of, all_moves): (Vec<(String, Option<String>, i64)>, Vec<BulkMove>) = b
        .moves
        .into_iter()
        .map(|(rule, m)| ((rule, m.reason.clone(), m.application_id), m))
        .unzip();
    // everything a batch sends, the rules sent (RFC 3834: auto-generated)
    let all_moves = all_moves.into_iter().map(|mut m| {
        if let Some(d) = m.email.as_mut() {
            d.auto_submitted = true;
        }
        m
    });
    let mut rest = all_moves.peekable();
    while rest.peek().is_some() {
        let chunk: Vec<BulkMove> = rest
            .by_ref()
            .take(moves::moves_per_call(store.backend()))
            .collect();
        let applied = moves::apply_moves(&txn, chunk, now, &|t| {
            mail::message_id::of_transition(&domain, t, 0)
        })
        .await?;
        moved.extend(applied.moved.iter().copied());
        w.conflicts.extend(applied.conflicts);
        w.cancelled_emails += applied.cancelled_emails;
        w.emails += applied.emails;
    }
    let mut reminded_rules = Vec::new();
    let mut all_reminders: Vec<BulkEmail> = Vec::new();
    for r in b.reminders {
        if !r.emails.is_empty() {
            reminded_rules.push(r.rule);
        }
        all_reminders.extend(r.emails);
    }
    for e in &mut all_reminders {
        e.draft.auto_submitted = true;
    }
    w.emails += moves::queue_emails(&txn, all_reminders, now).await?;
    // an application the rules finished has no interview left on anyone's
    // calendar (only those whose move was made)
    let cancels: Vec<(String, super::interviews::PlannedCancel)> = b
        .cancels
        .into_iter()
        .filter(|(_, app, _)| moved.contains(app))
        .map(|(actor, _, p)| (actor, p))
        .collect();
    w.emails += super::interviews::write_cancels(&txn, cancels, now).await?;
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
