//! `atsd mail receive|inbound|quarantine|undeliverable` and `atsd candidate
//! set-email`: mail that comes back ([`crate::inbound`]).

use super::env::Env;
use super::output::{clip, opt, print_json, print_table, table, time};
use super::{CmdResult, QuarantineCmd, UndeliverableCmd};
use crate::error::Error;
use crate::inbound::quarantine;
use crate::inbound::receive::{self as rx, Received};
use crate::store::{self, inbound as store_in};
use std::io::Read;

/// The size cap without `[mail.inbound]` (bytes).
const DEFAULT_MAX: u64 = 10 * 1024 * 1024;

/// The message in `file`, else on standard input, at most
/// `mail.inbound.max_size`.
fn read_message(env: &Env, file: Option<&std::path::Path>) -> crate::error::Result<Vec<u8>> {
    let max = env
        .config()
        .mail
        .inbound
        .as_ref()
        .map_or(DEFAULT_MAX, |i| i.max_size.0);
    let mut raw = Vec::new();
    match file {
        Some(f) => std::fs::File::open(f)
            .and_then(|h| h.take(max + 1).read_to_end(&mut raw))
            .map_err(|e| Error::io(format!("cannot read {}", f.display()), e))?,
        None => std::io::stdin()
            .lock()
            .take(max + 1)
            .read_to_end(&mut raw)
            .map_err(|e| {
                Error::TryAgain(format!("cannot read the message on standard input: {e}"))
            })?,
    };
    if raw.len() as u64 > max {
        return Err(Error::TooBig(format!(
            "the message is over mail.inbound.max_size ({}): refused, nothing stored",
            crate::config::Size(max)
        )));
    }
    Ok(raw)
}

/// `atsd mail inspect`: what atsd reads in a message, nothing stored.
pub(super) fn inspect(env: &Env, file: Option<&std::path::Path>) -> CmdResult {
    use crate::inbound::{bounce_text, dsn};
    let raw = read_message(env, file)?;
    let Some(msg) = mail_parser::MessageParser::default()
        .parse(&raw)
        .filter(|m| !m.headers().is_empty())
    else {
        let out = serde_json::json!({"message": false});
        if env.json {
            return print_json(&out);
        }
        println!("not a message: no headers could be read");
        return Ok(());
    };
    let report = dsn::read(&msg);
    let text = msg
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned());
    let out = serde_json::json!({
        "message": true,
        "report": report.is_some(),
        "envelope_id": report.as_ref().and_then(|r| r.envelope_id.clone()),
        "returned_message_id": report.as_ref().and_then(|r| r.returned_message_id.clone())
            .or_else(|| dsn::returned_message_id(&msg)),
        "recipients": report.as_ref().map(|r| r.recipients.iter().map(|d| serde_json::json!({
            "address": d.recipient,
            "action": d.action,
            "status": d.status,
            "diagnostic": d.diagnostic,
            "permanent": d.permanent(),
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "looks_like_bounce": dsn::looks_like_bounce(&msg),
        "text_status": bounce_text::text_failure(msg.subject().unwrap_or(""), &text),
        "auto_reply": rx::auto_reply(&msg),
    });
    if env.json {
        return print_json(&out);
    }
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}

pub(super) async fn receive(
    env: &Env,
    recipients: &[String],
    file: Option<&std::path::Path>,
) -> CmdResult {
    let raw = read_message(env, file)?;
    let taken = async {
        let store = env.store().await?;
        rx::receive(&store, &env.ctx(), &raw, recipients).await
    }
    .await
    .map_err(|e| match e {
        Error::TooBig(_) | Error::TryAgain(_) => e,
        other => Error::TryAgain(format!(
            "the message was not stored ({other}); the mail system should try again"
        )),
    })?;
    tracing::info!(
        id = taken.id,
        kind = %taken.kind,
        status = %taken.status,
        duplicate = taken.duplicate,
        "inbound message: {}",
        taken.note
    );
    print_received(env, &taken)
}

fn print_received(env: &Env, r: &Received) -> CmdResult {
    if env.json {
        return print_json(r);
    }
    println!("{}", r.note);
    Ok(())
}

pub(super) async fn list(
    env: &Env,
    kind: Option<&str>,
    application: Option<i64>,
    limit: u64,
) -> CmdResult {
    let store = env.store().await?;
    let rows = store_in::list(store.conn(), kind, application, limit).await?;
    if env.json {
        return print_json(&rows);
    }
    let mut t = table([
        "ID",
        "RECEIVED",
        "KIND",
        "STATUS",
        "APPLICATION",
        "FROM",
        "SUBJECT / WHY",
    ]);
    for r in &rows {
        t.add_row(vec![
            r.id.to_string(),
            time(&r.received_at),
            r.kind.to_string(),
            r.status.to_string(),
            r.application_id
                .map(|a| a.to_string())
                .unwrap_or_else(|| "–".into()),
            clip(&opt(&r.sender), 30),
            clip(
                &r.why
                    .clone()
                    .or_else(|| r.subject.clone())
                    .unwrap_or_default(),
                60,
            ),
        ]);
    }
    print_table(&t);
    Ok(())
}

pub(super) async fn quarantine(env: &Env, cmd: QuarantineCmd) -> CmdResult {
    let store = env.store().await?;
    match cmd {
        QuarantineCmd::List => list(env, Some("quarantined"), None, 500).await,
        QuarantineCmd::Show { id } => {
            let m = quarantine::quarantined(&store, id).await?;
            if env.json {
                return print_json(&serde_json::json!({
                    "message": m,
                    "raw": m.raw.as_deref().map(|r| String::from_utf8_lossy(r).into_owned()),
                }));
            }
            println!(
                "inbound message {} (quarantined {})",
                m.id,
                time(&m.received_at)
            );
            println!("why: {}", opt(&m.why));
            println!("from: {}", opt(&m.sender));
            println!("to: {}", opt(&m.envelope_to));
            println!("subject: {}", opt(&m.subject));
            println!("size: {} bytes\n", m.size);
            let raw = m
                .raw
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            // the headers and the start of the body, without control characters
            let shown: String = raw
                .chars()
                .take(4000)
                .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
                .collect();
            println!("{shown}");
            Ok(())
        }
        QuarantineCmd::Release { id } => {
            let r = quarantine::release(&store, &env.ctx(), id, &super::actor()).await?;
            print_received(env, &r)
        }
        QuarantineCmd::Drop { id } => {
            quarantine::drop(&store, id, &super::actor(), env.now).await?;
            if env.json {
                return print_json(&serde_json::json!({"dropped": id}));
            }
            println!("inbound message {id} dropped");
            Ok(())
        }
    }
}

pub(super) async fn undeliverable(env: &Env, cmd: UndeliverableCmd) -> CmdResult {
    let store = env.store().await?;
    match cmd {
        UndeliverableCmd::List => {
            let rows = store_in::undeliverables(store.conn()).await?;
            if env.json {
                return print_json(&rows);
            }
            let mut t = table(["ADDRESS", "SINCE", "STATUS", "EMAIL", "DIAGNOSTIC"]);
            for r in &rows {
                t.add_row(vec![
                    r.address.clone(),
                    time(&r.since),
                    opt(&r.dsn_status),
                    r.outbox_id
                        .map(|o| o.to_string())
                        .unwrap_or_else(|| "–".into()),
                    clip(&opt(&r.diagnostic), 60),
                ]);
            }
            print_table(&t);
            Ok(())
        }
        UndeliverableCmd::Clear { address } => {
            let txn = store.begin_write().await?;
            if store_in::undeliverable(&txn, &address).await?.is_none() {
                return Err(Error::NotFound(format!(
                    "{address} is not marked undeliverable (atsd mail undeliverable list)"
                )));
            }
            let n = store_in::release(&txn, &address, None, env.now).await?;
            if n > 0 {
                store::notify_outbox(&txn).await?;
            }
            txn.commit().await?;
            if env.json {
                return print_json(&serde_json::json!({"address": address, "released": n}));
            }
            println!("{address} is no longer marked undeliverable; {n} held email(s) will be sent");
            Ok(())
        }
    }
}
