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
