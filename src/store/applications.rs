//! Applications and their transitions: reading, inserting, and the
//! compare-and-swap on `version` that every move goes through. What a move
//! is — the pipeline's decision, its email, its event, all in one
//! transaction — is [`crate::workflow`]'s.

use super::outbox::Email;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::{application, candidate, outbox, posting, transition};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use std::collections::HashMap;

/// How many applications of each of `posting_ids` are in one of `stages`.
pub async fn counts_in<C: ConnectionTrait>(
    c: &C,
    posting_ids: &[i64],
    stages: &[String],
) -> Result<HashMap<i64, u64>> {
    let mut out = HashMap::new();
    if posting_ids.is_empty() || stages.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(i64, i64)> = application::Entity::find()
        .select_only()
        .column(application::Column::PostingId)
        .column_as(application::Column::Id.count(), "n")
        .filter(application::Column::PostingId.is_in(posting_ids.iter().copied()))
        .filter(application::Column::Stage.is_in(stages.iter().cloned()))
        .group_by(application::Column::PostingId)
        .into_tuple()
        .all(c)
        .await?;
    for (p, n) in rows {
        out.insert(p, u64::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

/// An application by id.
pub async fn find<C: ConnectionTrait>(c: &C, id: i64) -> Result<application::Model> {
    application::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application with id {id}")))
}

/// An application by id, if there is one.
pub async fn find_for_id<C: ConnectionTrait>(c: &C, id: i64) -> Result<Option<application::Model>> {
    Ok(application::Entity::find_by_id(id).one(c).await?)
}

/// Up to `limit` applications after id `after`, in id order, of one posting
/// and one stage if given (the API's pages).
pub async fn page<C: ConnectionTrait>(
    c: &C,
    after: i64,
    limit: u64,
    posting: Option<i64>,
    stage: Option<&str>,
) -> Result<Vec<application::Model>> {
    use sea_orm::QuerySelect;
    let mut find = application::Entity::find()
        .filter(application::Column::Id.gt(after))
        .order_by_asc(application::Column::Id)
        .limit(limit);
    if let Some(p) = posting {
        find = find.filter(application::Column::PostingId.eq(p));
    }
    if let Some(st) = stage {
        find = find.filter(application::Column::Stage.eq(st));
    }
    Ok(find.all(c).await?)
}

/// The applications `ids` with their candidates (a candidate anonymized
/// away is `None`).
pub async fn with_candidates<C: ConnectionTrait>(
    c: &C,
    ids: &[i64],
) -> Result<Vec<(application::Model, Option<candidate::Model>)>> {
    Ok(application::Entity::find()
        .filter(application::Column::Id.is_in(ids.iter().copied()))
        .find_also_related(candidate::Entity)
        .all(c)
        .await?)
}

/// Application `id` with its candidate, if there is such an application.
pub async fn with_candidate<C: ConnectionTrait>(
    c: &C,
    id: i64,
) -> Result<Option<(application::Model, Option<candidate::Model>)>> {
    Ok(with_candidates(c, &[id]).await?.into_iter().next())
}

/// Whether the single-use link `nonce` has been used.
pub async fn link_used<C: ConnectionTrait>(c: &C, nonce: &str) -> Result<bool> {
    Ok(
        entity::self_service_use::Entity::find_by_id(nonce.to_string())
            .one(c)
            .await?
            .is_some(),
    )
}

/// The application of this candidate for this posting, if any.
pub async fn find_for<C: ConnectionTrait>(
    c: &C,
    candidate_id: i64,
    posting_id: i64,
) -> Result<Option<application::Model>> {
    Ok(application::Entity::find()
        .filter(application::Column::CandidateId.eq(candidate_id))
        .filter(application::Column::PostingId.eq(posting_id))
        .one(c)
        .await?)
}

/// The candidate and the posting of an application.
pub async fn candidate_and_posting<C: ConnectionTrait>(
    c: &C,
    app: &application::Model,
) -> Result<(candidate::Model, posting::Model)> {
    let cand = candidate::Entity::find_by_id(app.candidate_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::Integrity(format!("application {} has no candidate", app.id)))?;
    let posting = posting::Entity::find_by_id(app.posting_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::Integrity(format!("application {} has no posting", app.id)))?;
    Ok((cand, posting))
}

/// A new application in `stage`, version 1.
pub async fn insert<C: ConnectionTrait>(
    c: &C,
    candidate_id: i64,
    posting_id: i64,
    stage: &str,
    applied_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<application::Model> {
    Ok(application::ActiveModel {
        candidate_id: Set(candidate_id),
        posting_id: Set(posting_id),
        stage: Set(stage.to_string()),
        entered_stage_at: Set(applied_at),
        applied_at: Set(applied_at),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(c)
    .await?)
}

/// A transition to write.
pub struct NewTransition<'a> {
    pub application_id: i64,
    /// None for an application's first.
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub reason: Option<&'a str>,
    pub actor: &'a str,
    pub at: DateTime<Utc>,
    /// When the stay this transition ends began.
    pub stage_entered_at: Option<DateTime<Utc>>,
}

pub async fn insert_transition<C: ConnectionTrait>(
    c: &C,
    t: &NewTransition<'_>,
) -> Result<transition::Model> {
    Ok(transition::ActiveModel {
        application_id: Set(t.application_id),
        from_stage: Set(t.from.map(String::from)),
        to_stage: Set(t.to.to_string()),
        reason: Set(t.reason.map(String::from)),
        actor: Set(t.actor.to_string()),
        at: Set(t.at),
        stage_entered_at: Set(t.stage_entered_at),
        ..Default::default()
    }
    .insert(c)
    .await?)
}

/// Moves `app` to `to` at `now` if it still has the version it was read
/// with: the application as it is now, or None when another writer moved it
/// first (nothing changed).
pub async fn compare_and_swap<C: ConnectionTrait>(
    c: &C,
    app: &application::Model,
    to: &str,
    now: DateTime<Utc>,
) -> Result<Option<application::Model>> {
    let res = application::Entity::update_many()
        .col_expr(application::Column::Stage, Expr::value(to.to_string()))
        .col_expr(application::Column::EnteredStageAt, Expr::value(now))
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            application::Column::Version,
            Expr::col(application::Column::Version).add(1),
        )
        .filter(application::Column::Id.eq(app.id))
        .filter(application::Column::Version.eq(app.version))
        .exec(c)
        .await?;
    Ok((res.rows_affected == 1).then(|| application::Model {
        stage: to.to_string(),
        entered_stage_at: now,
        updated_at: now,
        version: app.version + 1,
        ..app.clone()
    }))
}

/// What the rules know of an application besides its own row
/// (`rules::Facts`), as SQL over `applications a JOIN postings p`: when its
/// posting closed (from the moment its status changed), and whether a
/// reminder was queued during its current stay in its stage. The advance
/// job reads them for many applications in its query, the board for one
/// ([`rule_facts`]): one definition.
pub const POSTING_CLOSED_AT_SQL: &str =
    "CASE WHEN p.status = 'closed' THEN COALESCE(p.status_changed_at, p.created_at) END";
/// See [`POSTING_CLOSED_AT_SQL`].
pub const REMINDED_SQL: &str = "EXISTS (SELECT 1 FROM outbox o WHERE o.application_id = a.id \
     AND o.template = 'recruiter_reminder' AND o.stage = a.stage AND o.created_at >= a.entered_stage_at)";

/// When the posting of application `id` closed, and whether it was reminded
/// of during its current stay ([`POSTING_CLOSED_AT_SQL`], [`REMINDED_SQL`]).
pub async fn rule_facts<C: ConnectionTrait>(
    c: &C,
    id: i64,
) -> Result<(Option<DateTime<Utc>>, bool)> {
    let row = c
        .query_one_raw(super::sql(
            c.get_database_backend(),
            &format!(
                "SELECT {POSTING_CLOSED_AT_SQL} AS closed_at, {REMINDED_SQL} AS reminded \
                 FROM applications a JOIN postings p ON p.id = a.posting_id WHERE a.id = ?"
            ),
            vec![id.into()],
        ))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application with id {id}")))?;
    Ok((row.try_get("", "closed_at")?, row.try_get("", "reminded")?))
}

/// An application with the facts the rules decide on ([`rule_facts`] for many).
pub struct RuleRow {
    pub app: application::Model,
    pub closed_at: Option<DateTime<Utc>>,
    pub reminded: bool,
}

/// Up to `limit` applications after `after_id` (keyset pagination) that
/// match `filter` (a `WHERE` over `a` and `p` with its `?` values), with
/// the facts the rules decide on; `reminders` false skips the reminder
/// lookup.
pub async fn rule_batch<C: ConnectionTrait>(
    c: &C,
    after_id: i64,
    filter: &(String, Vec<sea_orm::Value>),
    reminders: bool,
    limit: usize,
) -> Result<Vec<RuleRow>> {
    let reminded = if reminders { REMINDED_SQL } else { "(1 = 0)" };
    let mut values: Vec<sea_orm::Value> = vec![after_id.into()];
    values.extend(filter.1.iter().cloned());
    let rows = c
        .query_all_raw(super::sql(
            c.get_database_backend(),
            &format!(
                "SELECT a.id, a.candidate_id, a.posting_id, a.stage, a.entered_stage_at, a.applied_at, \
                 a.version, a.created_at, a.updated_at, \
                 {POSTING_CLOSED_AT_SQL} AS closed_at, {reminded} AS reminded \
                 FROM applications a JOIN postings p ON p.id = a.posting_id \
                 WHERE a.id > ? AND ({}) ORDER BY a.id LIMIT {limit}",
                filter.0
            ),
            values,
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(RuleRow {
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

/// Records the use of a self-service link's nonce: true the first time,
/// false when it was used before (the link works once).
pub async fn record_link_use<C: ConnectionTrait>(
    c: &C,
    nonce: &str,
    application_id: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(c.execute_raw(super::sql(
        c.get_database_backend(),
        "INSERT INTO self_service_uses (nonce, application_id, used_at) VALUES (?, ?, ?) \
         ON CONFLICT (nonce) DO NOTHING",
        vec![nonce.into(), application_id.into(), now.into()],
    ))
    .await?
    .rows_affected()
        == 1)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub application: application::Model,
    pub candidate: candidate::Model,
    pub posting: posting::Model,
    pub transitions: Vec<transition::Model>,
    pub emails: Vec<Email>,
}

pub async fn detail<C: ConnectionTrait>(c: &C, id: i64) -> Result<Detail> {
    let application = application::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application with id {id}")))?;
    let candidate = candidate::Entity::find_by_id(application.candidate_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::Integrity(format!("application {id} has no candidate")))?;
    let posting = posting::Entity::find_by_id(application.posting_id)
        .one(c)
        .await?
        .ok_or_else(|| Error::Integrity(format!("application {id} has no posting")))?;
    let transitions = transition::Entity::find()
        .filter(transition::Column::ApplicationId.eq(id))
        .order_by_asc(transition::Column::At)
        .order_by_asc(transition::Column::Id)
        .all(c)
        .await?;
    let rows = outbox::Entity::find()
        .filter(outbox::Column::ApplicationId.eq(id))
        .order_by_asc(outbox::Column::Id)
        .all(c)
        .await?;
    let emails = super::outbox::with_bodies(c, rows, true).await?;
    Ok(Detail {
        application,
        candidate,
        posting,
        transitions,
        emails,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub application: application::Model,
    pub candidate_name: String,
    pub candidate_email: String,
    pub posting_title: String,
}

pub async fn list<C: ConnectionTrait>(
    c: &C,
    posting_id: Option<i64>,
    stage: Option<&str>,
) -> Result<Vec<Row>> {
    let mut q = application::Entity::find().order_by_asc(application::Column::Id);
    if let Some(p) = posting_id {
        q = q.filter(application::Column::PostingId.eq(p));
    }
    if let Some(s) = stage {
        q = q.filter(application::Column::Stage.eq(s));
    }
    let apps = q.all(c).await?;
    let cand_ids: Vec<i64> = apps.iter().map(|a| a.candidate_id).collect();
    let post_ids: Vec<i64> = apps.iter().map(|a| a.posting_id).collect();
    // in chunks: SQLite allows at most 32,766 bound values per statement
    let mut cands: HashMap<i64, candidate::Model> = HashMap::new();
    for chunk in dedup(cand_ids).chunks(5000) {
        for m in candidate::Entity::find()
            .filter(candidate::Column::Id.is_in(chunk.to_vec()))
            .all(c)
            .await?
        {
            cands.insert(m.id, m);
        }
    }
    let mut posts: HashMap<i64, String> = HashMap::new();
    for chunk in dedup(post_ids).chunks(5000) {
        for m in posting::Entity::find()
            .filter(posting::Column::Id.is_in(chunk.to_vec()))
            .all(c)
            .await?
        {
            posts.insert(m.id, m.title);
        }
    }
    Ok(apps
        .into_iter()
        .map(|a| {
            let cand = cands.get(&a.candidate_id);
            Row {
                candidate_name: cand.map(|c| c.name.clone()).unwrap_or_default(),
                candidate_email: cand.map(|c| c.email.clone()).unwrap_or_default(),
                posting_title: posts.get(&a.posting_id).cloned().unwrap_or_default(),
                application: a,
            }
        })
        .collect())
}

fn dedup(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v.dedup();
    v
}

/// The ids of a candidate's applications.
pub async fn of_candidate<C: ConnectionTrait>(c: &C, candidate_id: i64) -> Result<Vec<i64>> {
    Ok(application::Entity::find()
        .filter(application::Column::CandidateId.eq(candidate_id))
        .all(c)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect())
}
