//! What an inbound message is: a bounce of one of atsd's emails, a reply or
//! a calendar answer on an application, or something to quarantine — by
//! its verified addresses, its report and its headers.

use super::*;

/// What a message is, by its addresses, its report and its headers.
///
/// With `[mail.inbound]` configured only verified mail acts (README
/// "Inbound mail"): a bounce through a VERP address or an ENVID whose tag
/// is atsd's, or through a returned Message-ID whose report names that
/// email's own recipient; a reply or a calendar answer through a tagged
/// reply address. Anything else is quarantined with its reason.
// Stays whole: the decision ladder, the strongest verified evidence first; each rung returns.
pub(super) async fn classify<C: ConnectionTrait>(
    c: &C,
    tags: Option<Tags<'_>>,
    m: &Reading,
    envelope_to: &[String],
) -> Result<Plan> {
    let report = &m.report;
    if report.is_none()
        && let Some(reply) = &m.calendar
    {
        return calendar(c, tags, m, reply.clone()).await;
    }
    let addressed = tags.and_then(|t| m.addresses.iter().find_map(|a| t.read(a)));
    match addressed {
        Some(Addressed::Forged(a)) => Ok(Plan::Quarantine(
            "forged_tag",
            format!("the tag of {a} is not atsd's: forged, or altered on the way"),
        )),
        Some(Addressed::Bounce(id)) => {
            let Some(row) = store::outbox::find(c, id).await? else {
                return Ok(Plan::Quarantine(
                    "unknown_target",
                    format!("the bounce address names email {id}, which is not in the outbox"),
                ));
            };
            if let Some(r) = report {
                // a report without recipient blocks says it in words, if at all
                let words = if r.recipients.is_empty() {
                    free_text_delivery(m, &row.recipient)
                } else {
                    None
                };
                let delivery = words.unwrap_or_else(|| pick(&r.recipients, &row.recipient));
                return Ok(Plan::Bounce {
                    row: Box::new(row),
                    delivery,
                    how: "its VERP address and its delivery report",
                });
            }
            if m.auto_reply && !m.looks_like_bounce {
                return Ok(Plan::AutoReply {
                    application_id: row.application_id,
                    outbox_id: Some(row.id),
                });
            }
            match free_text_delivery(m, &row.recipient) {
                Some(d) => Ok(Plan::Bounce {
                    row: Box::new(row),
                    delivery: d,
                    how: "its VERP address and its text",
                }),
                None => Ok(Plan::Quarantine(
                    "misdirected",
                    format!(
                        "mail to the bounce address of email {id} that reads as no delivery report"
                    ),
                )),
            }
        }
        Some(Addressed::Answer {
            application,
            person: Some(person),
        }) => Ok(Plan::Quarantine(
            "misdirected",
            format!(
                "a letter to the calendar address of person {person} on application {application}: \
             only calendars answer there"
            ),
        )),
        Some(
            Addressed::Reply(id)
            | Addressed::Answer {
                application: id,
                person: None,
            },
        ) => {
            let Some(app) = store::applications::find_for_id(c, id).await? else {
                return Ok(Plan::Quarantine(
                    "unknown_target",
                    format!("the reply address names application {id}, which does not exist"),
                ));
            };
            if report.is_some() || m.looks_like_bounce {
                return Ok(Plan::Quarantine(
                    "misdirected",
                    format!("a delivery report sent to the reply address of application {id}"),
                ));
            }
            if m.auto_reply {
                return Ok(Plan::AutoReply {
                    application_id: Some(app.id),
                    outbox_id: None,
                });
            }
            Ok(Plan::Reply { app })
        }
        None => {
            if let Some(r) = report {
                // the envelope id atsd sent (ENVID), given back by the report
                if let (Some(t), Some(envid)) = (tags, &r.envelope_id) {
                    match t.read_envelope_id(envid) {
                        Some(Addressed::Forged(what)) => {
                            return Ok(Plan::Quarantine(
                                "forged_tag",
                                format!(
                                    "the tag of {what} is not atsd's: forged, or altered on the way"
                                ),
                            ));
                        }
                        Some(Addressed::Bounce(id)) => {
                            if let Some(row) = store::outbox::find(c, id).await? {
                                let delivery = pick(&r.recipients, &row.recipient);
                                return Ok(Plan::Bounce {
                                    row: Box::new(row),
                                    delivery,
                                    how: "its delivery report's Original-Envelope-Id",
                                });
                            }
                        }
                        _ => {}
                    }
                }
                let by_id = match &r.returned_message_id {
                    Some(mid) => by_message_id(c, mid).await?,
                    None => None,
                };
                // atsd's Message-IDs can be guessed: the report must name
                // the very address that email went to
                if let Some(row) = by_id
                    && let Some(delivery) = r.recipients.iter().find(|d| {
                        d.recipient
                            .as_deref()
                            .is_some_and(|a| a.eq_ignore_ascii_case(&row.recipient))
                    })
                {
                    return Ok(Plan::Bounce {
                        delivery: delivery.clone(),
                        row: Box::new(row),
                        how: "its delivery report and the returned Message-ID",
                    });
                }
                return Ok(Plan::Quarantine(
                    "unverified_bounce",
                    "a delivery report that names no email atsd sent to the address it reports on"
                        .into(),
                ));
            }
            if m.looks_like_bounce {
                for mid in &m.quoted_ids {
                    if let Some(row) = by_message_id(c, mid).await?
                        && m.lower_text.contains(&row.recipient.to_lowercase())
                        && let Some(d) = free_text_delivery(m, &row.recipient)
                    {
                        return Ok(Plan::Bounce {
                            row: Box::new(row),
                            delivery: d,
                            how: "a Message-ID atsd wrote and the address in its text",
                        });
                    }
                }
                return Ok(Plan::Quarantine(
                    "unverified_bounce",
                    "looks like a delivery report but names no email atsd sent".into(),
                ));
            }
            if m.auto_reply {
                return Ok(Plan::AutoReply {
                    application_id: None,
                    outbox_id: None,
                });
            }
            let _ = envelope_to;
            Ok(Plan::Quarantine(
                "untagged",
                match tags {
                    Some(_) => {
                        "addressed to no reply or bounce address of [mail.inbound] domain".into()
                    }
                    None => "[mail.inbound] is not configured: nothing can be matched".into(),
                },
            ))
        }
    }
}

/// An iTIP reply: to an interview of atsd's, from one of its attendees.
/// With `[mail.inbound]` configured it acts only when it came to the tagged
/// address that attendee's own invitation named (a candidate holds hers,
/// not her interviewer's), from the attendee it answers for (the `From`
/// address is the `ATTENDEE`), with a SEQUENCE not older than the
/// interview's: an invitation that was moved since is answered anew.
// Stays whole: a calendar answer's checks in order (tag, method, UID, attendee), each refusal returning its reason.
pub(super) async fn calendar<C: ConnectionTrait>(
    c: &C,
    tags: Option<Tags<'_>>,
    m: &Reading,
    reply: crate::inbound::itip::Reply,
) -> Result<Plan> {
    let Some(iv) = crate::store::interviews::by_uid(c, &reply.uid).await? else {
        return Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply about {}, no interview of atsd's",
                reply.uid
            ),
        ));
    };
    // with tags, the address it came to says who may answer through it:
    // an attendee's own (`Some(Some(person))` an interviewer's,
    // `Some(None)` the candidate's, or the application's reply address,
    // which invitations named before each attendee had their own)
    let through: Option<Option<i64>> = match tags {
        None => None,
        Some(t) => match m.addresses.iter().find_map(|a| t.read(a)) {
            Some(Addressed::Answer {
                application,
                person,
            }) if application == iv.application_id => Some(person),
            Some(Addressed::Reply(app)) if app == iv.application_id => Some(None),
            None => {
                return Ok(Plan::Quarantine(
                    "calendar",
                    format!(
                        "a calendar reply about interview {} that came to no tagged address",
                        iv.id
                    ),
                ));
            }
            _ => {
                return Ok(Plan::Quarantine(
                    "calendar",
                    format!(
                        "a calendar reply about interview {} sent to another application's or a forged address",
                        iv.id
                    ),
                ));
            }
        },
    };
    let from = m.sender.as_ref().map(|s| s.address.as_str()).unwrap_or("");
    if !from.eq_ignore_ascii_case(&reply.attendee) {
        return Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply for {} sent by {}: only an attendee answers for themselves",
                reply.attendee,
                if from.is_empty() { "nobody" } else { from }
            ),
        ));
    }
    if reply.sequence < i64::from(iv.sequence) {
        return Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply to SEQUENCE {} of interview {}, which is at {} since: stale",
                reply.sequence, iv.id, iv.sequence
            ),
        ));
    }
    let app = applications::find(c, iv.application_id).await?;
    let (cand, _) = applications::candidate_and_posting(c, &app).await?;
    // an answer only through the address of the attendee it answers for
    let not_theirs = |person: Option<i64>| through.is_some_and(|t| t != person);
    if cand.email.eq_ignore_ascii_case(&reply.attendee) {
        if not_theirs(None) {
            return Ok(Plan::Quarantine(
                "calendar",
                format!(
                    "a calendar reply for the candidate of interview {} through an interviewer's address",
                    iv.id
                ),
            ));
        }
        return Ok(Plan::Calendar {
            interview: Box::new(iv),
            person_id: None,
            reply,
        });
    }
    let who = crate::store::interviews::interviewers(c, &[iv.id])
        .await?
        .remove(&iv.id)
        .unwrap_or_default();
    match who
        .iter()
        .find(|x| x.person.email.eq_ignore_ascii_case(&reply.attendee))
    {
        Some(x) if not_theirs(Some(x.person.id)) => Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply for {} through another attendee's address of interview {}",
                reply.attendee, iv.id
            ),
        )),
        Some(x) => Ok(Plan::Calendar {
            interview: Box::new(iv),
            person_id: Some(x.person.id),
            reply,
        }),
        None => Ok(Plan::Quarantine(
            "calendar",
            format!(
                "a calendar reply from {}, who is not invited to interview {}",
                reply.attendee, iv.id
            ),
        )),
    }
}

/// The report's block for `recipient`, else its first, else a failure
/// with no details.
pub(super) fn pick(blocks: &[Delivery], recipient: &str) -> Delivery {
    blocks
        .iter()
        .find(|d| {
            d.recipient
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(recipient))
        })
        .or_else(|| blocks.first())
        .cloned()
        .unwrap_or(Delivery {
            recipient: Some(recipient.to_lowercase()),
            action: Some("failed".into()),
            ..Default::default()
        })
}

/// A failure read from a report's free text (no RFC 3464 part): permanent
/// with a 5.x.x status or a 5xx reply, temporary with 4.x.x; `None` when
/// the text says neither.
pub(super) fn free_text_delivery(m: &Reading, recipient: &str) -> Option<Delivery> {
    let (status, line) = m.text_failure.clone()?;
    let permanent = status.starts_with('5');
    Some(Delivery {
        recipient: Some(recipient.to_lowercase()),
        action: Some(if permanent { "failed" } else { "delayed" }.into()),
        status: Some(status),
        diagnostic: line,
    })
}

pub(super) async fn by_message_id<C: ConnectionTrait>(
    c: &C,
    mid: &str,
) -> Result<Option<outbox::Model>> {
    store::outbox::by_message_id(c, mid).await
}
