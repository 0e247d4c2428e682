//! The recorder: what the workers ask (marks and outcomes) committed in
//! order, each or batched, and the events of what was sent.

use super::*;

/// The recorder: commits what the workers asked — marks and outcomes — in
/// the order they asked it. Each: a commit as soon as anything waits, with
/// whatever every connection asked meanwhile (group commit). Batched:
/// outcomes gathered for up to 100 ms, or until half the connections'
/// windows are used.
pub(super) fn spawn_recorder(
    store: Store,
    clock: Clock,
    pace: Pace,
    held: Arc<Held>,
    mut asks: mpsc::UnboundedReceiver<Ask>,
) -> tokio::task::JoinHandle<Result<Report>> {
    tokio::spawn(async move {
        let mut report = Report::default();
        let mut open = true;
        while open {
            let mut batch = Vec::new();
            match asks.recv().await {
                Some(a) => batch.push(a),
                None => break,
            }
            match pace.record {
                Record::Each => {
                    while let Ok(a) = asks.try_recv() {
                        batch.push(a);
                    }
                }
                Record::Batched => {
                    let until = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
                    while batch.len() < pace.flush_at {
                        match tokio::time::timeout_at(until, asks.recv()).await {
                            Ok(Some(a)) => batch.push(a),
                            Ok(None) => {
                                open = false;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
            let recorded = record(&store, clock.now(), &batch).await;
            let ok = recorded.is_ok();
            let mut done = Vec::new();
            for a in batch {
                match a {
                    Ask::Mark(_, tx) => {
                        let _ = tx.send(ok);
                    }
                    // committed: the slot goes back, the row is no longer held
                    Ask::Done(row, o, _slot) => {
                        held.remove(row.id);
                        done.push((row, o));
                    }
                }
            }
            recorded?;
            report_outcomes(&done, &mut report);
        }
        Ok(report)
    })
}

pub(super) fn report_outcomes(done: &[(Box<outbox::Model>, Outcome)], report: &mut Report) {
    for (row, o) in done {
        match o {
            Outcome::Sent => report.sent += 1,
            Outcome::Retry(e, _) => {
                report.retried += 1;
                tracing::debug!(outbox = row.id, to = %row.recipient, "the recipient of the email below");
                tracing::warn!(outbox = row.id, attempt = row.attempts, error = %e, "send failed; will retry");
            }
            Outcome::Dead(e) => {
                report.dead += 1;
                tracing::debug!(outbox = row.id, to = %row.recipient, "the recipient of the email below");
                tracing::error!(outbox = row.id, attempt = row.attempts, error = %e, "send failed for good; the email is dead");
            }
            Outcome::Released => {
                report.released += 1;
                tracing::debug!(
                    outbox = row.id,
                    "lease half over before sending: handed back"
                );
            }
        }
    }
}

/// Up to how many asks go through the one-statement commit (its `CASE`s
/// test each row against the whole list; a batched commit of hundreds is
/// faster as separate statements).
const FEW: usize = 64;

/// Writes the marks and outcomes asked for in one transaction. If this
/// fails the marked rows' bodies are not sent, the others stay `sending`
/// and are taken over after their lease: we stop rather than spam.
pub(super) async fn record(store: &Store, now: DateTime<Utc>, batch: &[Ask]) -> Result<()> {
    let mut marks = Vec::new();
    let mut sent = Vec::new();
    let mut released = Vec::new();
    for a in batch {
        match a {
            Ask::Mark(id, _) => marks.push(*id),
            Ask::Done(row, Outcome::Sent, _) => sent.push(row.id),
            Ask::Done(row, Outcome::Released, _) => released.push(row.id),
            Ask::Done(..) => {}
        }
    }
    if batch.len() <= FEW
        && batch
            .iter()
            .all(|a| matches!(a, Ask::Mark(..) | Ask::Done(_, Outcome::Sent, _)))
    {
        // the common commit of `record = "each"`: a few sends and marks
        return crate::store::outbox::record_sent_and_marks(store, &sent, &marks, now).await;
    }
    let txn = store.begin_write().await?;
    let mut events = Vec::new();
    if !sent.is_empty() {
        OUTBOX
            .record_if_ours(
                &txn,
                &sent,
                "status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL, updated_at = ?",
                vec![now.into(), now.into()],
            )
            .await?;
        // their events, made by the database from the rows this update
        // turned `sent` (a row another dispatcher recorded has its own
        // `sent_at`)
        crate::store::events::record_sent(&txn, &sent, now).await?;
    }
    // handed back unsent: the claim's attempt did not happen
    OUTBOX.release(&txn, &released, now).await?;
    for a in batch {
        let Ask::Done(row, o, _) = a else { continue };
        let (status, next, err) = match o {
            Outcome::Retry(e, at) => (Status::Pending, *at, e),
            Outcome::Dead(e) => (Status::Dead, now, e),
            Outcome::Released | Outcome::Sent => continue,
        };
        let changed = OUTBOX
            .record_if_ours(
                &txn,
                &[row.id],
                "status = ?, next_attempt_at = ?, last_error = ?, lease_until = NULL, data_at = NULL, updated_at = ?",
                vec![
                    status.as_str().into(),
                    next.into(),
                    err.clone().into(),
                    now.into(),
                ],
            )
            .await?;
        if status == Status::Dead && changed == 1 {
            events.push(email_event(row, Some(err), now));
        }
    }
    OUTBOX.mark(&txn, &marks, now).await?;
    crate::store::events::record(&txn, events).await?;
    txn.commit().await?;
    Ok(())
}

/// `email.dead` (with the last error). No address or name: the application
/// id leads to them for those allowed to see them. (`email.sent` is made by
/// the database, [`crate::store::events::record_sent`], in the same shape.)
pub(super) fn email_event(
    row: &outbox::Model,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> crate::store::events::NewEvent {
    let mut data = serde_json::json!({
        "email_id": row.id,
        "application_id": row.application_id,
        "template": row.template,
        "message_id": row.message_id,
    });
    if let Some(e) = error {
        data["error"] = e.into();
    }
    crate::store::events::NewEvent::new("email.dead", at, data)
}
