//! `atsd request open|list|show|extend|close`.

use super::env::Env;
use super::output::{opt, print_json, print_table, table, time};
use super::{CmdResult, RequestCmd};
use crate::error::Error;
use crate::requests::urgency;
use crate::store::requests as store_rq;
use crate::workflow::requests as wf;
use entity::data_request;

// Stays whole: a dispatch, one arm per subcommand.
pub(super) async fn command(env: &Env, cmd: RequestCmd) -> CmdResult {
    let store = env.store().await?;
    match cmd {
        RequestCmd::Open {
            email,
            kind,
            law,
            received_at,
            note,
        } => {
            let received_at = match received_at {
                Some(t) => crate::import::parse_time(&t)
                    .map_err(|e| Error::input(format!("--received-at: {e}")))?,
                None => env.now,
            };
            let txn = store.begin_write().await?;
            let r = wf::open(
                &txn,
                env.config(),
                wf::Open {
                    email: &email,
                    kind: &kind,
                    law: &law,
                    received_at,
                    note: note.as_deref(),
                    link_nonce: None,
                },
                &super::actor(),
                env.now,
            )
            .await?;
            txn.commit().await?;
            shown(env, &r, "opened")
        }
        RequestCmd::List {
            due_within,
            overdue,
            all,
        } => {
            let before = if overdue {
                Some(env.now)
            } else {
                due_within.map(|d| {
                    env.now + chrono::Duration::from_std(d.into()).unwrap_or(chrono::Duration::MAX)
                })
            };
            let rows = store_rq::list(store.conn(), all, before).await?;
            if env.json {
                let v: Vec<serde_json::Value> = rows.iter().map(|r| json_of(r, env)).collect();
                return print_json(&v);
            }
            if rows.is_empty() {
                println!("no data requests{}", if all { "" } else { " open" });
                return Ok(());
            }
            let mut t = table(["ID", "KIND", "LAW", "EMAIL", "RECEIVED", "DUE", "STATE"]);
            for r in &rows {
                t.add_row(vec![
                    r.id.to_string(),
                    r.kind.clone(),
                    r.law.clone(),
                    r.email.clone(),
                    time(&r.received_at),
                    time(&r.due_at),
                    state(r, env),
                ]);
            }
            print_table(&t);
            Ok(())
        }
        RequestCmd::Show { id } => {
            let r = store_rq::find(store.conn(), id).await?;
            shown(env, &r, "")
        }
        RequestCmd::Extend { id, reason } => {
            let txn = store.begin_write().await?;
            let r = wf::extend(&txn, env.config(), id, &reason, &super::actor(), env.now).await?;
            txn.commit().await?;
            shown(env, &r, "extended")
        }
        RequestCmd::Close {
            id,
            outcome,
            reason,
        } => {
            let done = wf::close_request(
                &store,
                &env.ctx(),
                &env.pipeline,
                id,
                &outcome,
                &reason,
                &super::actor(),
            )
            .await?;
            if let Some(e) = &done.erased
                && !env.json
            {
                println!(
                    "candidate {} erased: everything atsd held of them is forgotten ({} email(s) scrubbed, {} interview(s) cancelled for the interviewers); they are told at the address they asked from",
                    e.candidate_id, e.outbox_rows, e.interviews_cancelled
                );
            }
            shown(env, &done.request, "closed")
        }
    }
}

/// `open`, `due_soon`, `overdue`, or `closed (outcome)`.
fn state(r: &data_request::Model, env: &Env) -> String {
    if r.state == "open" {
        urgency(r.due_at, env.now).to_string()
    } else {
        format!("closed ({})", r.outcome.as_deref().unwrap_or("-"))
    }
}

fn json_of(r: &data_request::Model, env: &Env) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["urgency"] = serde_json::Value::String(state(r, env));
    v
}

fn shown(env: &Env, r: &data_request::Model, what: &str) -> CmdResult {
    if env.json {
        return print_json(&json_of(r, env));
    }
    let verb = if what.is_empty() {
        String::new()
    } else {
        format!(" {what}")
    };
    println!(
        "data request {}{verb}: {} under {} for {}",
        r.id,
        r.kind,
        r.law.to_uppercase(),
        r.email
    );
    println!("received: {}", time(&r.received_at));
    println!("due: {} ({})", time(&r.due_at), state(r, env));
    if let Some(a) = &r.acknowledge_by {
        println!("acknowledge by: {}", time(a));
    }
    if let Some(e) = &r.extended_at {
        println!("extended {}: {}", time(e), opt(&r.extension_reason));
    }
    if let Some(c) = &r.closed_at {
        println!("closed {}: {}", time(c), opt(&r.close_reason));
    }
    if let Some(n) = &r.note {
        println!("note: {n}");
    }
    Ok(())
}
