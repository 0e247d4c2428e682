//! People on the hiring side and the teams that own postings: `atsd person
//! add|list|show|remove`, `atsd posting assign`, the team columns of posting
//! files, and the lookups that route reminders and digests. A person is
//! never deleted: removing one deactivates them (history keeps the name),
//! revokes their tokens, and their postings fall back to `[recruiters]
//! emails` until someone else is assigned. Every routing query here reads
//! active people only.

use super::{Store, id_list, sql};
use crate::candidate_fields;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use entity::{api_token, person, posting_team};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A person's part in a posting's team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// One per posting: owns its reminders and digest lines.
    Recruiter,
    HiringManager,
    /// Gets the reminders with the recruiter.
    Coordinator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Recruiter, Role::HiringManager, Role::Coordinator];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Recruiter => "recruiter",
            Role::HiringManager => "hiring_manager",
            Role::Coordinator => "coordinator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role hears of its postings' stale applications.
    pub fn reminded(self) -> bool {
        matches!(self, Role::Recruiter | Role::Coordinator)
    }
}

/// What `atsd person add` (and the API) give for a person.
#[derive(Clone, Debug, Default)]
pub struct PersonInput {
    pub email: String,
    pub name: String,
    pub timezone: Option<String>,
    pub locale: Option<String>,
}

impl PersonInput {
    /// Every field checked, each error naming the value.
    pub fn validate(&self) -> Result<PersonInput> {
        let mut errs = Vec::new();
        let email = candidate_fields::email(&self.email)
            .map_err(|e| errs.push(e))
            .unwrap_or_default();
        let name = candidate_fields::name(&self.name)
            .map_err(|e| errs.push(e))
            .unwrap_or_default();
        let timezone = match self.timezone.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => {
                candidate_fields::timezone(t).map_err(|e| errs.push(e)).ok()
            }
            _ => None,
        };
        let locale = match self.locale.as_deref().map(str::trim) {
            Some(l) if !l.is_empty() => candidate_fields::locale(l).map_err(|e| errs.push(e)).ok(),
            _ => None,
        };
        if !errs.is_empty() {
            return Err(Error::input(errs.join("; ")));
        }
        Ok(PersonInput {
            email,
            name,
            timezone,
            locale,
        })
    }
}

/// Adds a person, or brings a removed one back with what is given now.
/// Refused when an active person has the address already.
pub async fn add(store: &Store, input: &PersonInput, now: DateTime<Utc>) -> Result<person::Model> {
    let p = input.validate()?;
    let existing = find_any(store.conn(), &p.email).await?;
    match existing {
        Some(e) if e.active => Err(Error::input(format!(
            "a person with the address `{}` exists already ({})",
            e.email, e.name
        ))),
        Some(e) => {
            let mut a: person::ActiveModel = e.into();
            a.email = Set(p.email);
            a.name = Set(p.name);
            a.timezone = Set(p.timezone);
            a.locale = Set(p.locale);
            a.active = Set(true);
            a.deactivated_at = Set(None);
            a.updated_at = Set(now);
            Ok(a.update(store.conn()).await?)
        }
        None => Ok(person::ActiveModel {
            email_key: Set(candidate_fields::email_key(&p.email)),
            email: Set(p.email),
            name: Set(p.name),
            timezone: Set(p.timezone),
            locale: Set(p.locale),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            deactivated_at: Set(None),
            ..Default::default()
        }
        .insert(store.conn())
        .await?),
    }
}

/// The person with this address, active or not.
pub async fn find_any<C: ConnectionTrait>(c: &C, email: &str) -> Result<Option<person::Model>> {
    Ok(person::Entity::find()
        .filter(person::Column::EmailKey.eq(candidate_fields::email_key(email)))
        .one(c)
        .await?)
}

/// The active person with this address, or an error that says how to add them.
pub async fn require<C: ConnectionTrait>(c: &C, email: &str) -> Result<person::Model> {
    match find_any(c, email).await? {
        Some(p) if p.active => Ok(p),
        Some(p) => Err(Error::input(format!(
            "`{}` was removed; add them again with `atsd person add`",
            p.email
        ))),
        None => Err(Error::NotFound(format!(
            "no person `{}` (add them with `atsd person add {} --name NAME`)",
            email.trim(),
            email.trim()
        ))),
    }
}

pub async fn by_id<C: ConnectionTrait>(c: &C, id: i64) -> Result<Option<person::Model>> {
    Ok(person::Entity::find_by_id(id).one(c).await?)
}

/// Everyone, active first, by address; removed people only with `all`.
pub async fn list(store: &Store, all: bool) -> Result<Vec<person::Model>> {
    let mut q = person::Entity::find();
    if !all {
        q = q.filter(person::Column::Active.eq(true));
    }
    Ok(q.order_by_desc(person::Column::Active)
        .order_by_asc(person::Column::EmailKey)
        .all(store.conn())
        .await?)
}

/// Removes a person: inactive from now on, their tokens revoked (so their
/// board sessions end too), their postings falling back to `[recruiters]
/// emails` (the team rows stay, for history, and count again if they are
/// added back).
pub async fn remove(store: &Store, email: &str, now: DateTime<Utc>) -> Result<person::Model> {
    let Some(p) = find_any(store.conn(), email).await? else {
        return Err(Error::NotFound(format!("no person `{}`", email.trim())));
    };
    if !p.active {
        return Ok(p);
    }
    let txn = store.begin_write().await?;
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now))
        .filter(api_token::Column::PersonId.eq(p.id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    let mut a: person::ActiveModel = p.into();
    a.active = Set(false);
    a.deactivated_at = Set(Some(now));
    a.updated_at = Set(now);
    let p = a.update(&txn).await?;
    txn.commit().await?;
    Ok(p)
}

/// A posting's team as given (`atsd posting assign`, the API, a posting file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeamSpec {
    pub recruiter: Option<String>,
    pub hiring_managers: Vec<String>,
    pub coordinators: Vec<String>,
}

impl TeamSpec {
    pub fn is_empty(&self) -> bool {
        self.recruiter.is_none() && self.hiring_managers.is_empty() && self.coordinators.is_empty()
    }

    fn members(&self) -> Vec<(Role, &str)> {
        let mut out = Vec::new();
        if let Some(r) = &self.recruiter {
            out.push((Role::Recruiter, r.as_str()));
        }
        out.extend(
            self.hiring_managers
                .iter()
                .map(|e| (Role::HiringManager, e.as_str())),
        );
        out.extend(
            self.coordinators
                .iter()
                .map(|e| (Role::Coordinator, e.as_str())),
        );
        out
    }
}

/// One member of a team, as shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub role: &'static str,
    pub email: String,
    pub name: String,
    pub active: bool,
}

/// Replaces the team of `posting_id` with `spec`, inside the caller's
/// transaction. Every address must be an active person; all are checked
/// before anything changes, and the error lists each unknown one.
pub async fn set_team<C: ConnectionTrait>(
    c: &C,
    posting_id: i64,
    spec: &TeamSpec,
    now: DateTime<Utc>,
) -> Result<Vec<Member>> {
    let mut resolved = Vec::new();
    let mut errs = Vec::new();
    for (role, email) in spec.members() {
        match require(c, email).await {
            Ok(p) => resolved.push((role, p)),
            Err(e) => errs.push(format!("{}: {e}", role.as_str())),
        }
    }
    if !errs.is_empty() {
        return Err(Error::input(errs.join("; ")));
    }
    posting_team::Entity::delete_many()
        .filter(posting_team::Column::PostingId.eq(posting_id))
        .exec(c)
        .await?;
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for (role, p) in &resolved {
        if seen.insert((*role, p.id)) {
            rows.push(posting_team::ActiveModel {
                posting_id: Set(posting_id),
                person_id: Set(p.id),
                role: Set(role.as_str().to_string()),
                created_at: Set(now),
                ..Default::default()
            });
        }
    }
    if !rows.is_empty() {
        posting_team::Entity::insert_many(rows)
            .exec_without_returning(c)
            .await?;
    }
    team(c, posting_id).await
}

/// A posting's team (removed people included, marked), recruiter first.
pub async fn team<C: ConnectionTrait>(c: &C, posting_id: i64) -> Result<Vec<Member>> {
    Ok(teams(c, &[posting_id], false)
        .await?
        .remove(&posting_id)
        .unwrap_or_default()
        .into_iter()
        .map(|(role, p)| Member {
            role: role.as_str(),
            email: p.email,
            name: p.name,
            active: p.active,
        })
        .collect())
}

/// The teams of these postings: per posting, its members by role (recruiter
/// first); only active people with `active_only`.
pub async fn teams<C: ConnectionTrait>(
    c: &C,
    posting_ids: &[i64],
    active_only: bool,
) -> Result<HashMap<i64, Vec<(Role, person::Model)>>> {
    let mut out: HashMap<i64, Vec<(Role, person::Model)>> = HashMap::new();
    if posting_ids.is_empty() {
        return Ok(out);
    }
    let mut ids = posting_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(500) {
        let rows = posting_team::Entity::find()
            .filter(Expr::cust(format!("posting_id IN ({})", id_list(chunk))))
            .all(c)
            .await?;
        let mut person_ids: Vec<i64> = rows.iter().map(|r| r.person_id).collect();
        person_ids.sort_unstable();
        person_ids.dedup();
        let people: HashMap<i64, person::Model> = if person_ids.is_empty() {
            HashMap::new()
        } else {
            person::Entity::find()
                .filter(Expr::cust(format!("id IN ({})", id_list(&person_ids))))
                .all(c)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect()
        };
        for r in rows {
            let (Some(role), Some(p)) = (Role::parse(&r.role), people.get(&r.person_id)) else {
                continue;
            };
            if active_only && !p.active {
                continue;
            }
            out.entry(r.posting_id).or_default().push((role, p.clone()));
        }
    }
    for members in out.values_mut() {
        members.sort_by(|a, b| (a.0, &a.1.email_key).cmp(&(b.0, &b.1.email_key)));
    }
    Ok(out)
}

/// The postings this person is on the team of (any role).
pub async fn postings_of<C: ConnectionTrait>(c: &C, person_id: i64) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = posting_team::Entity::find()
        .filter(posting_team::Column::PersonId.eq(person_id))
        .all(c)
        .await?
        .into_iter()
        .map(|r| r.posting_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Who gets each posting's digest lines: every active member of its team
/// (person id → posting ids), and the postings with no active recruiter
/// (they go to `[recruiters] emails`).
pub struct Owners {
    pub by_person: BTreeMap<i64, Vec<i64>>,
    pub people: HashMap<i64, person::Model>,
    pub unowned: Vec<i64>,
}

/// Every posting's owners for the digest: two queries, whatever the numbers.
pub async fn owners(store: &Store) -> Result<Owners> {
    let c = store.conn();
    let people: HashMap<i64, person::Model> = person::Entity::find()
        .filter(person::Column::Active.eq(true))
        .all(c)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let rows = c
        .query_all_raw(sql(
            store.backend(),
            "SELECT p.id AS posting_id, t.person_id, t.role FROM postings p \
             LEFT JOIN posting_team t ON t.posting_id = p.id ORDER BY p.id",
            vec![],
        ))
        .await?;
    let mut by_person: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut owned = std::collections::HashSet::new();
    let mut all = Vec::new();
    for r in rows {
        let posting: i64 = r.try_get("", "posting_id")?;
        if all.last() != Some(&posting) {
            all.push(posting);
        }
        let Some(pid) = r.try_get::<Option<i64>>("", "person_id")? else {
            continue;
        };
        if !people.contains_key(&pid) {
            continue;
        }
        let list = by_person.entry(pid).or_default();
        if list.last() != Some(&posting) {
            list.push(posting);
        }
        if r.try_get::<Option<String>>("", "role")?.as_deref() == Some("recruiter") {
            owned.insert(posting);
        }
    }
    let unowned = all.into_iter().filter(|p| !owned.contains(p)).collect();
    Ok(Owners {
        by_person,
        people,
        unowned,
    })
}

/// The time zones of the active people (as written; none for those who use
/// the schedule's).
pub async fn time_zones(store: &Store) -> Result<Vec<String>> {
    let rows = store
        .conn()
        .query_all_raw(sql(
            store.backend(),
            "SELECT DISTINCT timezone FROM people WHERE active = ? AND timezone IS NOT NULL",
            vec![true.into()],
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(r.try_get::<String>("", "timezone")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_remind_the_right_people() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("owner"), None);
        assert!(Role::Recruiter.reminded() && Role::Coordinator.reminded());
        assert!(!Role::HiringManager.reminded());
    }

    #[test]
    fn bad_people_are_refused_naming_the_value() {
        let bad = PersonInput {
            email: "not-an-address".into(),
            name: "Ada".into(),
            timezone: Some("Mars/Olympus".into()),
            locale: Some("english!".into()),
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("not-an-address"), "{e}");
        assert!(e.contains("Mars/Olympus"), "{e}");
        assert!(e.contains("english!"), "{e}");
        let good = PersonInput {
            email: " ada@example.org ".into(),
            name: " Ada ".into(),
            timezone: Some("Europe/Berlin".into()),
            locale: Some("de_de".into()),
        }
        .validate()
        .unwrap();
        assert_eq!(good.email, "ada@example.org");
        assert_eq!(good.locale.as_deref(), Some("de-DE"));
    }
}
