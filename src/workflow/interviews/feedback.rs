//! Interviewers' scorecards: by the command line, the API or their signed
//! link (once), their feedback requests stopped.

use super::*;

/// An interviewer's scorecard as given: the overall recommendation, a
/// rating per attribute (`attribute`, `rating`), the key take-aways, the
/// private notes, and the coordinator entering it for them (an address).
#[derive(Clone, Debug, Default)]
pub struct Feedback {
    pub recommendation: String,
    pub ratings: Vec<(String, String)>,
    pub note: Option<String>,
    pub private_note: Option<String>,
    pub on_behalf_by: Option<String>,
}

/// Records an interviewer's feedback (`--by` their address).
pub async fn feedback(
    store: &store::Store,
    id: i64,
    by: &str,
    f: &Feedback,
    via: &str,
    now: DateTime<Utc>,
) -> Result<(interview::Model, Vec<Interviewer>)> {
    let txn = store.begin_write().await?;
    let p = people::require(&txn, by).await?;
    let iv = feedback_in(&txn, id, &p, f, via, now, false).await?;
    txn.commit().await?;
    let who = store_iv::interviewers(store.conn(), &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok((iv, who))
}

/// Records `p`'s feedback on interview `id` inside the caller's
/// transaction: the recommendation and note, their feedback requests not
/// yet sent cancelled, the event (`via`: `cli`, `api`, `link`). With
/// `first_only` an interviewer who already gave feedback is refused
/// (`Error::Conflict`) by the update itself, not by an earlier read.
pub async fn feedback_in<C: ConnectionTrait>(
    c: &C,
    id: i64,
    p: &entity::person::Model,
    f: &Feedback,
    via: &str,
    now: DateTime<Utc>,
    first_only: bool,
) -> Result<interview::Model> {
    let recommendation = crate::interviews::scorecard::recommendation(&f.recommendation)?;
    let note = checked_text("--note", f.note.as_deref(), NOTE_CHARS)?;
    let private_note = checked_text("--private-note", f.private_note.as_deref(), NOTE_CHARS)?;
    let iv = store_iv::find(c, id).await?;
    if iv.status == store_iv::CANCELLED {
        return Err(Error::Refused(format!(
            "interview {id} was cancelled: it takes no feedback"
        )));
    }
    let app = applications::find(c, iv.application_id).await?;
    let (_, posting) = applications::candidate_and_posting(c, &app).await?;
    let ratings = crate::interviews::scorecard::of_posting(&posting).check_ratings(&f.ratings)?;
    let coordinator = match f.on_behalf_by.as_deref() {
        Some(by) => Some(
            people::require(c, by)
                .await
                .map_err(|e| Error::input(format!("--coordinator: {e}")))?,
        ),
        None => None,
    };
    let row = store_iv::FeedbackRow {
        recommendation,
        ratings: &ratings,
        note: note.as_deref(),
        private_note: private_note.as_deref(),
        submitted_by: coordinator.as_ref().map(|x| x.id).filter(|x| *x != p.id),
    };
    if !store_iv::set_feedback(c, id, p.id, &row, now, first_only).await? {
        return Err(Error::Conflict(format!(
            "{} already gave feedback on interview {id}",
            p.email
        )));
    }
    stop_feedback_requests(c, id, p.id, now).await?;
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            "interview.feedback",
            now,
            json!({
                "interview_id": iv.id,
                "application_id": app.id,
                "posting_id": app.posting_id,
                "by": format!("person:{}", p.email),
                "via": via,
                "recommendation": recommendation,
                "ratings": ratings,
                "note": note,
                "entered_by": coordinator.map(|x| format!("person:{}", x.email)),
                "at": now,
            }),
        )],
    )
    .await?;
    Ok(iv)
}

/// What became of feedback sent through a signed link.
#[derive(Debug)]
pub enum LinkFeedback {
    Done(Box<(interview::Model, entity::person::Model)>),
    Refused(crate::selfservice::Refusal),
}

/// Records feedback sent through an interviewer's signed link: the link's
/// nonce and the feedback in one transaction, so that the link works once;
/// an interviewer who already gave feedback finds every link used.
pub async fn feedback_by_link(
    store: &store::Store,
    claim: &crate::selfservice::FeedbackClaim,
    f: &Feedback,
    now: DateTime<Utc>,
) -> Result<LinkFeedback> {
    use crate::selfservice::Refusal;
    let txn = store.begin_write().await?;
    let (iv, person, given) = match link_target(&txn, claim).await? {
        Ok(x) => x,
        Err(r) => return Ok(LinkFeedback::Refused(r)),
    };
    if given {
        return Ok(LinkFeedback::Refused(Refusal::Used));
    }
    if !applications::record_link_use(&txn, &claim.nonce, iv.application_id, now).await? {
        return Ok(LinkFeedback::Refused(Refusal::Used));
    }
    // two of the interviewer's links posted at the same instant both get
    // here; the update records only the first (the book's "Interviews" chapter in docs/)
    let f = Feedback {
        on_behalf_by: None,
        ..f.clone()
    };
    let iv = match feedback_in(&txn, iv.id, &person, &f, "link", now, true).await {
        Err(Error::Conflict(_)) => return Ok(LinkFeedback::Refused(Refusal::Used)),
        other => other?,
    };
    txn.commit().await?;
    Ok(LinkFeedback::Done(Box::new((iv, person))))
}

/// The interview and interviewer a feedback link names, and whether they
/// already gave feedback; a refusal when the link cannot be used.
pub async fn link_target<C: ConnectionTrait>(
    c: &C,
    claim: &crate::selfservice::FeedbackClaim,
) -> Result<
    std::result::Result<
        (interview::Model, entity::person::Model, bool),
        crate::selfservice::Refusal,
    >,
> {
    use crate::selfservice::Refusal;
    let Some(iv) = store_iv::get(c, claim.interview_id).await? else {
        return Ok(Err(Refusal::Invalid));
    };
    let who = store_iv::interviewers(c, &[iv.id])
        .await?
        .remove(&iv.id)
        .unwrap_or_default();
    let Some(me) = who
        .into_iter()
        .find(|x| x.person.id == claim.person_id && x.person.active)
    else {
        return Ok(Err(Refusal::Invalid));
    };
    if iv.status == store_iv::CANCELLED {
        return Ok(Err(Refusal::Closed));
    }
    let used = applications::link_used(c, &claim.nonce).await?;
    let given = me.feedback_at.is_some() || used;
    Ok(Ok((iv, me.person, given)))
}

/// Cancels the feedback requests to `person_id` on `interview_id` that are
/// still waiting: their feedback is in.
pub(super) async fn stop_feedback_requests<C: ConnectionTrait>(
    c: &C,
    interview_id: i64,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let me = format!(".p{person_id}@");
    let ids: Vec<i64> = store_iv::emails(c, interview_id)
        .await?
        .into_iter()
        .filter(|r| {
            r.status == entity::outbox::Status::Pending
                && r.template == "interview_feedback_request"
                && r.message_id.contains(&me)
        })
        .map(|r| r.id)
        .collect();
    cancel_rows(c, &ids, "their feedback was recorded", now).await?;
    Ok(ids.len() as u64)
}
