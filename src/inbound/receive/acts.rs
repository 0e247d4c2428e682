//! What a classified message does: a permanent bounce marks the address
//! undeliverable and holds what waits for it; a reply is forwarded to the
//! recruiters.

use super::*;

/// A permanent bounce: the row `bounced`, the address undeliverable, the
/// emails waiting for it held, the event. How many were held.
pub(super) async fn bounce<C: ConnectionTrait>(
    c: &C,
    sent: &outbox::Model,
    d: &Delivery,
    inbound_id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let why = format!(
        "bounced at {}: {} {}",
        now.to_rfc3339(),
        d.status.as_deref().unwrap_or("(no status)"),
        d.diagnostic
            .as_deref()
            .map(|x| clip(x, 500))
            .unwrap_or_default()
    );
    store::outbox::mark_bounced(c, sent.id, &why, now).await?;
    let held = store_in::mark_undeliverable(
        c,
        &sent.recipient,
        Some(sent.id),
        Some(inbound_id),
        d.status.as_deref(),
        d.diagnostic.as_deref(),
        now,
    )
    .await?;
    store::events::record(
        c,
        vec![store::events::NewEvent::new(
            "email.bounced",
            now,
            json!({
                "outbox_id": sent.id,
                "application_id": sent.application_id,
                "message_id": sent.message_id,
                "template": sent.template,
                "status": d.status,
                "action": d.action,
                "held": held,
                "inbound_id": inbound_id,
                "at": now,
            }),
        )],
    )
    .await?;
    Ok(held)
}

/// Forwards a reply to the posting's recruiter (else the `[recruiters]`
/// list): the candidate as Reply-To, the reply's subject. The addresses.
// Stays whole: the forward's headers and body built in the message's order.
pub(super) async fn forward<C: ConnectionTrait>(
    c: &C,
    ctx: &Ctx<'_>,
    app: &application::Model,
    m: &Reading,
    inbound_id: i64,
) -> Result<Vec<String>> {
    let (cand, posting) = applications::candidate_and_posting(c, app).await?;
    let team = store::people::teams(c, &[posting.id], true)
        .await?
        .remove(&posting.id)
        .unwrap_or_default();
    let mut to: Vec<(String, String, Option<String>, Option<String>)> = team
        .iter()
        .filter(|(r, _)| *r == store::people::Role::Recruiter)
        .map(|(_, p)| {
            (
                p.email.clone(),
                p.name.clone(),
                p.locale.clone(),
                p.timezone.clone(),
            )
        })
        .collect();
    if to.is_empty() {
        to = ctx
            .config()
            .recruiters
            .emails
            .iter()
            .map(|e| (e.clone(), String::new(), None, None))
            .collect();
    }
    let mut tctx = crate::workflow::email::context(ctx, app, &cand, &posting, None, None);
    // the recruiter answers the address on file, whoever wrote the reply:
    // one who holds the reply address cannot make the recruiter answer them
    let other_sender = m
        .sender
        .as_ref()
        .filter(|s| !s.address.eq_ignore_ascii_case(&cand.email))
        .map(|s| s.shown());
    let subject = m
        .subject
        .as_deref()
        .map(|s| clip(s, 500))
        .unwrap_or_else(|| format!("Reply from {}", cand.name));
    let public = ctx
        .config()
        .http
        .as_ref()
        .and_then(|h| h.public_url.as_deref())
        .map(|u| u.trim_end_matches('/').to_string());
    let written = m.sent_at.unwrap_or(ctx.now());
    let domain = mail::message_id::domain(ctx.config());
    let spec = crate::config::EmailSpec::new("candidate_reply");
    let mut sent = Vec::new();
    for (n, (email, name, locale, tz)) in to.iter().enumerate() {
        let loc = locale
            .as_deref()
            .unwrap_or(&ctx.config().org.default_locale);
        tctx.reply = templates::ReplyCtx {
            from: m
                .sender
                .as_ref()
                .map(|s| s.shown())
                .unwrap_or_else(|| cand.email.clone()),
            other_sender: other_sender.clone(),
            subject: subject.clone(),
            date: templates::format_time(
                written,
                loc,
                tz.as_deref()
                    .or(Some(ctx.config().schedule.timezone.as_str())),
            ),
            text: m.text.clone(),
            attachments: m.attachments.iter().map(attachment_line).collect(),
            board_url: public
                .as_ref()
                .map(|u| format!("{u}/board/applications/{}", app.id)),
        };
        let who = Recipient {
            email,
            name,
            locale: locale.as_deref(),
        };
        let mut d = mail::draft(
            ctx.config(),
            ctx.renderer(),
            &spec,
            &who,
            &tctx,
            "",
            ctx.now(),
        )
        .map_err(|e| {
            Error::Render(format!(
                "email `candidate_reply` for application {}: {e}",
                app.id
            ))
        })?;
        d.stage = None;
        d.reply_to = Some(cand.email.clone());
        d.reply_to_name = Some(cand.name.clone()).filter(|n| !n.is_empty());
        if name.is_empty() {
            d.recipient_name = None;
        }
        let id = format!("<atsd.r{inbound_id}.{n}@{domain}>");
        store::outbox::queue(c, Some(app.id), None, id, d, ctx.now()).await?;
        sent.push(email.clone());
    }
    Ok(sent)
}
