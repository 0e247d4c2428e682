//! `atsd candidate hold|unhold|show|set-email|merge`.

use super::env::Env;
use super::output::{print_json, print_table, table, time};
use super::{CandidateCmd, CmdResult};
use crate::error::Error;
use crate::jobs::retention;
use crate::store::applications;
use crate::workflow::identity;
use serde_json::json;

pub(super) async fn command(env: &Env, cmd: CandidateCmd) -> CmdResult {
    match cmd {
        CandidateCmd::Hold { email, reason } => hold(env, &email, true, reason).await,
        CandidateCmd::Unhold { email } => hold(env, &email, false, None).await,
        CandidateCmd::Show { email } => show(env, &email).await,
        CandidateCmd::SetEmail { email, new_email } => set_email(env, &email, &new_email).await,
        CandidateCmd::Merge { keep, other } => merge(env, &keep, &other).await,
        CandidateCmd::Erase { email, request } => erase(env, &email, request).await,
        CandidateCmd::Export { email, out, schema } => export(env, email, out, schema).await,
    }
}

async fn set_email(env: &Env, email: &str, new_email: &str) -> CmdResult {
    let store = env.store().await?;
    let txn = store.begin_write().await?;
    let done = identity::set_email(&txn, email, new_email, &super::actor(), env.now).await?;
    txn.commit().await?;
    if env.json {
        return print_json(&json!({"candidate": done.candidate, "released": done.released}));
    }
    println!(
        "candidate {}: {} → {}; {} held email(s) will go to the new address",
        done.candidate.id, done.old, done.candidate.email, done.released
    );
    Ok(())
}

async fn export(
    env: &Env,
    email: Option<String>,
    out: Option<std::path::PathBuf>,
    schema: bool,
) -> CmdResult {
    if schema {
        return print_json(&crate::store::personal::export_schema());
    }
    let email = email.unwrap_or_default();
    let store = env.store().await?;
    let doc = crate::workflow::requests::export(&store, &email, &super::actor(), env.now).await?;
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::Other(format!("cannot write the export: {e}")))?;
    match out {
        None => {
            println!("{text}");
        }
        Some(path) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
            let rows: usize = doc["tables"]
                .as_object()
                .map(|t| t.values().filter_map(|v| v.as_array()).map(Vec::len).sum())
                .unwrap_or(0);
            eprintln!(
                "candidate {}: {rows} row(s) written to {}",
                doc["candidate_id"],
                path.display()
            );
        }
    }
    Ok(())
}

async fn erase(env: &Env, email: &str, request: Option<i64>) -> CmdResult {
    let store = env.store().await?;
    let done = crate::workflow::requests::erase(
        &store,
        &env.ctx(),
        &env.pipeline,
        email,
        request,
        "erased",
        &super::actor(),
    )
    .await?;
    if env.json {
        return print_json(&done);
    }
    println!(
        "candidate {} erased: everything atsd held of them is forgotten ({} email(s) scrubbed, {} interview(s) cancelled for the interviewers){}",
        done.candidate_id,
        done.outbox_rows,
        done.interviews_cancelled,
        done.request
            .as_ref()
            .map(|r| format!("; data request {} closed", r.id))
            .unwrap_or_default()
    );
    Ok(())
}

async fn merge(env: &Env, keep: &str, other: &str) -> CmdResult {
    let store = env.store().await?;
    let txn = store.begin_write().await?;
    let done = identity::merge(&txn, keep, other, &super::actor(), env.now).await?;
    txn.commit().await?;
    if env.json {
        return print_json(&done);
    }
    println!(
        "candidate {} merged into candidate {} <{}>: {} application(s), {} waiting email(s) now to {}",
        done.merged_id,
        done.kept.id,
        done.kept.email,
        done.applications,
        done.emails,
        done.kept.email
    );
    Ok(())
}

async fn hold(env: &Env, email: &str, on: bool, reason: Option<String>) -> CmdResult {
    if let Some(r) = &reason
        && r.chars().any(|c| c.is_control())
    {
        return Err(Error::input("--reason: control characters are not allowed"));
    }
    let store = env.store().await?;
    let c = retention::hold(&store, email, on, reason, &super::actor(), env.now).await?;
    if env.json {
        return print_json(&c);
    }
    if on {
        println!(
            "candidate {} <{}> is on hold: retention leaves them alone{}",
            c.id,
            c.email,
            c.hold_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    } else {
        println!("candidate {} <{}> is no longer on hold", c.id, c.email);
    }
    Ok(())
}

async fn show(env: &Env, email: &str) -> CmdResult {
    let store = env.store().await?;
    let c = crate::store::candidates::find_by_email(store.conn(), email)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no candidate with email {email}")))?;
    let apps: Vec<applications::Row> = applications::list(store.conn(), None, None)
        .await?
        .into_iter()
        .filter(|a| a.application.candidate_id == c.id)
        .collect();
    let active = apps
        .iter()
        .any(|a| env.pipeline.is_active(&a.application.stage));
    let last = apps.iter().map(|a| a.application.entered_stage_at).max();
    let retention = if c.anonymized_at.is_some() {
        "anonymized".to_string()
    } else if c.on_hold {
        format!(
            "on hold{}",
            c.hold_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    } else if active || apps.is_empty() {
        "not due: an application is still active".to_string()
    } else {
        let at = last.unwrap_or(env.now) + env.config().retention.anonymize_after.chrono();
        format!("anonymized by the first retention run after {}", time(&at))
    };
    if env.json {
        return print_json(&json!({"candidate": c, "applications": apps, "retention": retention}));
    }
    println!("candidate {}: {} <{}>", c.id, c.name, c.email);
    println!(
        "locale {}, time zone {}",
        c.locale.as_deref().unwrap_or("-"),
        c.timezone.as_deref().unwrap_or("-")
    );
    println!("retention: {retention}");
    let mut t = table(["APPLICATION", "POSTING", "STAGE", "SINCE"]);
    for a in &apps {
        t.add_row(vec![
            a.application.id.to_string(),
            format!("{} {}", a.application.posting_id, a.posting_title),
            a.application.stage.clone(),
            time(&a.application.entered_stage_at),
        ]);
    }
    println!();
    print_table(&t);
    Ok(())
}
