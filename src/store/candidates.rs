//! Candidates, unique by email (case-insensitive).

use crate::candidate_fields;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::candidate;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

/// A candidate as given at intake; already validated by [`crate::candidate_fields`].
#[derive(Clone, Debug, Default)]
pub struct CandidateInput {
    pub name: String,
    pub email: String,
    pub locale: Option<String>,
    pub timezone: Option<String>,
}

impl CandidateInput {
    /// Validates and normalises raw input; the error names the field.
    pub fn parse(
        name: &str,
        email: &str,
        locale: Option<&str>,
        timezone: Option<&str>,
    ) -> Result<CandidateInput, Vec<(&'static str, String)>> {
        let mut errs = Vec::new();
        let name = candidate_fields::name(name)
            .map_err(|e| errs.push(("name", e)))
            .unwrap_or_default();
        let email = candidate_fields::email(email)
            .map_err(|e| errs.push(("email", e)))
            .unwrap_or_default();
        let locale = match locale.map(str::trim).filter(|s| !s.is_empty()) {
            Some(l) => candidate_fields::locale(l)
                .map(Some)
                .map_err(|e| errs.push(("locale", e)))
                .unwrap_or(None),
            None => None,
        };
        let timezone = match timezone.map(str::trim).filter(|s| !s.is_empty()) {
            Some(t) => candidate_fields::timezone(t)
                .map(Some)
                .map_err(|e| errs.push(("timezone", e)))
                .unwrap_or(None),
            None => None,
        };
        if errs.is_empty() {
            Ok(CandidateInput {
                name,
                email,
                locale,
                timezone,
            })
        } else {
            Err(errs)
        }
    }
}

pub async fn find_by_email<C: ConnectionTrait>(
    c: &C,
    email: &str,
) -> Result<Option<candidate::Model>> {
    Ok(candidate::Entity::find()
        .filter(candidate::Column::EmailKey.eq(candidate_fields::email_key(email)))
        .one(c)
        .await?)
}

/// The candidate with this email, created if new. An existing candidate keeps
/// their name; a locale or time zone given now replaces the stored one.
pub async fn find_or_create<C: ConnectionTrait>(
    c: &C,
    input: &CandidateInput,
    now: DateTime<Utc>,
) -> Result<candidate::Model> {
    if let Some(existing) = find_by_email(c, &input.email).await? {
        if existing.anonymized_at.is_some() {
            return Err(Error::Refused(format!(
                "candidate {} was anonymized; their record cannot take new applications",
                existing.id
            )));
        }
        let mut am: candidate::ActiveModel = existing.clone().into();
        let mut dirty = false;
        if input.locale.is_some() && input.locale != existing.locale {
            am.locale = Set(input.locale.clone());
            dirty = true;
        }
        if input.timezone.is_some() && input.timezone != existing.timezone {
            am.timezone = Set(input.timezone.clone());
            dirty = true;
        }
        if !dirty {
            return Ok(existing);
        }
        am.updated_at = Set(now);
        return Ok(am.update(c).await?);
    }
    Ok(candidate::ActiveModel {
        name: Set(input.name.clone()),
        email: Set(input.email.clone()),
        email_key: Set(candidate_fields::email_key(&input.email)),
        locale: Set(input.locale.clone()),
        timezone: Set(input.timezone.clone()),
        on_hold: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(c)
    .await?)
}

/// A candidate's address and the key they are found by with it.
pub async fn change_email<C: ConnectionTrait>(
    c: &C,
    found: candidate::Model,
    new_email: &str,
    now: DateTime<Utc>,
) -> Result<candidate::Model> {
    let mut am: candidate::ActiveModel = found.into();
    am.email = Set(new_email.to_string());
    am.email_key = Set(candidate_fields::email_key(new_email));
    am.updated_at = Set(now);
    Ok(am.update(c).await?)
}

/// A posting both candidates applied to: `(posting, application of a,
/// application of b)`.
pub async fn shared_posting<C: ConnectionTrait>(
    c: &C,
    a: i64,
    b: i64,
) -> Result<Option<(i64, i64, i64)>> {
    let r = c
        .query_one_raw(super::sql(
            c.get_database_backend(),
            "SELECT x.posting_id AS p, x.id AS a, y.id AS b FROM applications x \
             JOIN applications y ON y.posting_id = x.posting_id \
             WHERE x.candidate_id = ? AND y.candidate_id = ? ORDER BY x.posting_id LIMIT 1",
            vec![a.into(), b.into()],
        ))
        .await?;
    Ok(match r {
        Some(r) => Some((
            r.try_get("", "p")?,
            r.try_get("", "a")?,
            r.try_get("", "b")?,
        )),
        None => None,
    })
}

/// Moves every application of `other` to `keep`, carries a hold over,
/// re-addresses the emails still waiting for `other`'s address to
/// `keep`'s, and deletes `other`: `(applications moved, emails
/// re-addressed)`.
pub async fn merge_into<C: ConnectionTrait>(
    c: &C,
    keep: &candidate::Model,
    other: &candidate::Model,
    now: DateTime<Utc>,
) -> Result<(u64, u64)> {
    use entity::{application, outbox};
    use sea_orm::sea_query::{Expr, ExprTrait, Func};
    let apps: Vec<i64> = application::Entity::find()
        .filter(application::Column::CandidateId.eq(other.id))
        .all(c)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let moved = application::Entity::update_many()
        .col_expr(application::Column::CandidateId, Expr::value(keep.id))
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .filter(application::Column::CandidateId.eq(other.id))
        .exec(c)
        .await?
        .rows_affected;
    let waiting = [
        outbox::Status::Pending.as_str(),
        outbox::Status::Held.as_str(),
    ];
    let emails = outbox::Entity::update_many()
        .col_expr(outbox::Column::Recipient, Expr::value(keep.email.clone()))
        .col_expr(outbox::Column::UpdatedAt, Expr::value(now))
        .filter(outbox::Column::ApplicationId.is_in(apps))
        .filter(outbox::Column::Status.is_in(waiting))
        .filter(
            Func::lower(Expr::col(outbox::Column::Recipient))
                .eq(candidate_fields::email_key(&other.email)),
        )
        .exec(c)
        .await?
        .rows_affected;
    if other.on_hold && !keep.on_hold {
        let mut am: candidate::ActiveModel = keep.clone().into();
        am.on_hold = Set(true);
        am.hold_reason = Set(other.hold_reason.clone());
        am.updated_at = Set(now);
        am.update(c).await?;
    }
    candidate::Entity::delete_by_id(other.id).exec(c).await?;
    Ok((moved, emails))
}

/// A candidate by id.
pub async fn find<C: ConnectionTrait>(c: &C, id: i64) -> Result<Option<candidate::Model>> {
    Ok(candidate::Entity::find_by_id(id).one(c).await?)
}

/// The candidates with these ids (one query), by id.
pub async fn by_ids<C: ConnectionTrait>(
    c: &C,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, candidate::Model>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(candidate::Entity::find()
        .filter(candidate::Column::Id.is_in(ids.iter().copied()))
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect())
}
