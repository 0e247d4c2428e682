//! A candidate withdraws through their signed link: the link's nonce is
//! recorded and the application moved to `withdrawn` in one transaction, so
//! that the link works once and a refused move records nothing.

use super::{Ctx, MoveRequest, Moved, move_in};
use crate::config::EmailChoice;
use crate::error::{Error, Result};
use crate::selfservice::{Claim, REASON, Refusal};
use crate::store::{self, Store};

/// What became of a withdraw request.
#[derive(Debug)]
pub enum Withdrawn {
    Done(Box<Moved>),
    Refused(Refusal),
}

/// Withdraws the application of a checked link.
pub async fn withdraw(store: &Store, ctx: &Ctx<'_>, claim: &Claim) -> Result<Withdrawn> {
    let txn = store.begin_write().await?;
    let fresh =
        store::applications::record_link_use(&txn, &claim.nonce, claim.application_id, ctx.now())
            .await?;
    if !fresh {
        txn.rollback().await?;
        return Ok(Withdrawn::Refused(Refusal::Used));
    }
    let req = MoveRequest {
        application_id: claim.application_id,
        to: "withdrawn".into(),
        reason: Some(REASON.into()),
        actor: "candidate".into(),
        email: EmailChoice::StageDefault,
        expected_version: None,
    };
    match move_in(&txn, ctx, &req).await {
        Ok(m) => {
            if !m.emails.is_empty() {
                store::notify_outbox(&txn).await?;
            }
            txn.commit().await?;
            Ok(Withdrawn::Done(Box::new(m)))
        }
        Err(Error::Refused(_) | Error::NotFound(_) | Error::Conflict(_)) => {
            txn.rollback().await?;
            Ok(Withdrawn::Refused(Refusal::Closed))
        }
        Err(e) => Err(e),
    }
}
