//! What a person does besides moves, each with its event naming them
//! (`actor`: `cli:<user>`, `token:<name>`, `board:<person>`) in the
//! change's own transaction: a team edit, an email sent again, a
//! quarantined message released or dropped. The board and the command line
//! both come here, so neither can forget the audit. Holds are
//! [`crate::jobs::retention::hold`]'s.

use crate::error::{Error, Result};
use crate::store::{self, people};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::json;

/// Replaces a posting's team and records `posting.team_changed`.
pub async fn change_team<C: ConnectionTrait>(
    c: &C,
    posting_id: i64,
    spec: &people::TeamSpec,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<people::Member>> {
    let members = people::set_team(c, posting_id, spec, now).await?;
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            "posting.team_changed",
            now,
            json!({
                "posting_id": posting_id,
                "recruiter": spec.recruiter,
                "hiring_managers": spec.hiring_managers,
                "coordinators": spec.coordinators,
                "actor": actor,
                "at": now,
            }),
        )],
    )
    .await?;
    tracing::info!(posting = posting_id, actor, "a posting's team changed");
    Ok(members)
}

/// Sends an email again from a fresh attempt count (`of_application`: only
/// if it is that application's, and dead, as the board asks) and records
/// `email.resent`; the dispatcher is woken.
pub async fn resend<C: ConnectionTrait>(
    c: &C,
    id: i64,
    of_application: Option<i64>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<entity::outbox::Model> {
    if let Some(app) = of_application {
        let row = store::outbox::find(c, id)
            .await?
            .filter(|r| r.application_id == Some(app))
            .ok_or_else(|| Error::NotFound(format!("application {app} has no email {id}")))?;
        if row.status != entity::outbox::Status::Dead {
            return Err(Error::Refused(format!(
                "email {id} is {}; only a dead email can be sent again",
                row.status
            )));
        }
    }
    let row = store::outbox::retry(c, id, now).await?;
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            "email.resent",
            now,
            json!({
                "outbox_id": row.id,
                "application_id": row.application_id,
                "template": row.template,
                "actor": actor,
                "at": now,
            }),
        )],
    )
    .await?;
    store::notify_outbox(c).await?;
    tracing::info!(outbox = row.id, application = ?row.application_id, actor, "an email is sent again");
    Ok(row)
}
