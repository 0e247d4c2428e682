//! API tokens: `atsd token create|list|revoke`, and the lookup every API
//! request makes. A token is `atsd_` and 64 hex digits from the system's
//! random source; only its SHA-256 is stored, so the database never holds a
//! working token. Lookups are by that hash.

use super::Store;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::api_token;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr,
};
use std::fmt::Write;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read everything the API shows.
    Read,
    /// Create applications (a careers page).
    Intake,
    /// Everything: read, create, move, add postings.
    Recruiter,
    /// Data-subject requests and candidates' exports, and nothing else:
    /// no other scope includes it.
    Privacy,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Intake, Scope::Recruiter, Scope::Read, Scope::Privacy];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Intake => "intake",
            Scope::Recruiter => "recruiter",
            Scope::Privacy => "privacy",
        }
    }

    pub fn parse(s: &str) -> Result<Scope> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                Error::input(format!(
                    "unknown scope `{s}` (scopes: intake, recruiter, read, privacy)"
                ))
            })
    }

    /// Whether a token of this scope may do what `needed` asks.
    pub fn allows(self, needed: Scope) -> bool {
        match needed {
            Scope::Recruiter => self == Scope::Recruiter,
            Scope::Intake => matches!(self, Scope::Intake | Scope::Recruiter),
            Scope::Read => matches!(self, Scope::Read | Scope::Recruiter),
            Scope::Privacy => self == Scope::Privacy,
        }
    }
}

/// `bytes` in lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 in hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// 32 bytes from the system's random source, in hex (64 digits).
pub fn random_hex() -> Result<String> {
    let mut b = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| Error::Other("the system's random source failed".into()))?;
    Ok(hex(&b))
}

fn new_secret() -> Result<String> {
    Ok(format!("atsd_{}", random_hex()?))
}

/// Creates a token; returns it (the only time it is seen) and its row.
pub async fn create(
    store: &Store,
    name: &str,
    scope: Scope,
    now: DateTime<Utc>,
) -> Result<(String, api_token::Model)> {
    create_for(store, name, scope, None, now).await
}

/// Creates a token that belongs to a person (`atsd token create --person`):
/// moves made with it name that person, and it stops working when they are
/// removed.
pub async fn create_for(
    store: &Store,
    name: &str,
    scope: Scope,
    person_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(String, api_token::Model)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(Error::input(
            "a token name is 1 to 100 characters, without control characters",
        ));
    }
    if find(store, name).await?.is_some() {
        return Err(Error::input(format!(
            "a token named `{name}` exists already"
        )));
    }
    let secret = new_secret()?;
    let row = api_token::ActiveModel {
        name: Set(name.to_string()),
        scope: Set(scope.as_str().to_string()),
        hash: Set(sha256(secret.as_bytes())),
        prefix: Set(secret.chars().take(12).collect()),
        created_at: Set(now),
        last_used_at: Set(None),
        revoked_at: Set(None),
        person_id: Set(person_id),
        ..Default::default()
    }
    .insert(store.conn())
    .await?;
    Ok((secret, row))
}

pub async fn find(store: &Store, name: &str) -> Result<Option<api_token::Model>> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::Name.eq(name))
        .one(store.conn())
        .await?)
}

pub async fn list(store: &Store) -> Result<Vec<api_token::Model>> {
    Ok(api_token::Entity::find()
        .order_by_asc(api_token::Column::Id)
        .all(store.conn())
        .await?)
}

/// The actor a move made with this token records: the token's person
/// (`person:<email>`), else the token (`api:<name>`).
pub async fn actor(store: &Store, t: &api_token::Model) -> Result<String> {
    if let Some(id) = t.person_id
        && let Some(p) = super::people::by_id(store.conn(), id).await?
    {
        return Ok(format!("person:{}", p.email));
    }
    Ok(format!("api:{}", t.name))
}

/// Revokes the token named `name`: every request with it fails from now on.
pub async fn revoke(store: &Store, name: &str, now: DateTime<Utc>) -> Result<api_token::Model> {
    let Some(t) = find(store, name).await? else {
        return Err(Error::NotFound(format!("no token named `{name}`")));
    };
    if t.revoked_at.is_some() {
        return Ok(t);
    }
    let mut a: api_token::ActiveModel = t.into();
    a.revoked_at = Set(Some(now));
    Ok(a.update(store.conn()).await?)
}

/// The live token whose secret is `secret`, if any; notes when it was last
/// used (at most once a minute, so that requests do not all write).
pub async fn authenticate(
    store: &Store,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<api_token::Model>> {
    if !secret.starts_with("atsd_") || secret.len() > 200 {
        return Ok(None);
    }
    let Some(t) = api_token::Entity::find()
        .filter(api_token::Column::Hash.eq(sha256(secret.as_bytes())))
        .one(store.conn())
        .await?
    else {
        return Ok(None);
    };
    if t.revoked_at.is_some() {
        return Ok(None);
    }
    if let Some(p) = t.person_id
        && !super::people::by_id(store.conn(), p)
            .await?
            .is_some_and(|p| p.active)
    {
        return Ok(None);
    }
    if t.last_used_at
        .is_none_or(|u| now - u > chrono::Duration::minutes(1))
    {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(t.id))
            .exec(store.conn())
            .await?;
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_allow_what_they_say() {
        use Scope::*;
        assert!(Recruiter.allows(Recruiter) && Recruiter.allows(Intake) && Recruiter.allows(Read));
        assert!(Intake.allows(Intake) && !Intake.allows(Read) && !Intake.allows(Recruiter));
        assert!(Read.allows(Read) && !Read.allows(Intake) && !Read.allows(Recruiter));
        assert_eq!(Scope::parse("read").unwrap(), Read);
        assert!(
            Scope::parse("admin")
                .unwrap_err()
                .to_string()
                .contains("admin")
        );
    }

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 5 + 64);
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
