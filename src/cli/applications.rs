//! `atsd apply` and `atsd application import|list|show|move`.

use super::env::Env;
use super::output::{clip, opt, opt_time, print_json, print_table, table, time};
use super::{ApplyArgs, CmdResult};
use crate::config::EmailChoice;
use crate::error::{Error, Result};
use crate::import;
use crate::store::Store;
use crate::store::applications;
use crate::store::candidates::CandidateInput;
use crate::store::postings;
use crate::workflow::{self, MoveRequest, NewApplication};
use std::path::Path;

pub(super) fn input_error(errs: Vec<(&'static str, String)>) -> Error {
    Error::input(
        errs.into_iter()
            .map(|(f, e)| format!("--{f}: {e}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

pub(super) async fn apply(env: &Env, a: &ApplyArgs) -> CmdResult {
    let input = CandidateInput::parse(
        &a.name,
        &a.email,
        a.locale.as_deref(),
        a.timezone.as_deref(),
    )
    .map_err(input_error)?;
    let store = env.store().await?;
    let new = NewApplication {
        stage: None,
        applied_at: None,
        actor: super::actor(),
        reason: None,
        email: if a.no_email {
            EmailChoice::None
        } else {
            EmailChoice::StageDefault
        },
    };
    let created = workflow::apply(&store, &env.ctx(), &a.posting, &input, &new).await?;
    for w in &created.warnings {
        eprintln!("warning: {w}");
    }
    if env.json {
        return print_json(&created);
    }
    println!("{}", created.application.id);
    eprintln!(
        "application {}: {} <{}> applied to posting {}, stage {}; {}",
        created.application.id,
        created.candidate.name,
        created.candidate.email,
        created.application.posting_id,
        created.application.stage,
        emails_note(&created.emails)
    );
    Ok(())
}

pub(super) fn emails_note(emails: &[crate::store::outbox::Email]) -> String {
    if emails.is_empty() {
        return "no email".into();
    }
    emails
        .iter()
        .map(|e| match e.send_after {
            Some(t) => format!("email {} queued for {}", e.template, time(&t)),
            None => format!("email {} queued", e.template),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) async fn application_import(env: &Env, file: &Path, send_emails: bool) -> CmdResult {
    let store = env.store().await?;
    let s = import::applications(
        &store,
        &env.ctx(),
        file,
        &super::actor(),
        send_emails,
        env.progress(),
    )
    .await?;
    if env.json {
        return print_json(&s);
    }
    println!(
        "imported {} application(s) ({} new candidate(s)); {} email(s) queued",
        s.rows, s.candidates_created, s.emails_queued
    );
    Ok(())
}

pub(super) async fn posting_id(store: &Store, reference: Option<&str>) -> Result<Option<i64>> {
    match reference {
        Some(r) => Ok(Some(postings::find(store.conn(), r).await?.id)),
        None => Ok(None),
    }
}

pub(super) async fn application_list(
    env: &Env,
    posting: Option<&str>,
    stage: Option<&str>,
) -> CmdResult {
    if let Some(s) = stage
        && !env.pipeline.contains(s)
    {
        return Err(Error::input(format!(
            "--stage: unknown stage `{s}` (stages: {})",
            env.pipeline.stages().collect::<Vec<_>>().join(", ")
        )));
    }
    let store = env.store().await?;
    let pid = posting_id(&store, posting).await?;
    let rows = applications::list(store.conn(), pid, stage).await?;
    if env.json {
        return print_json(&rows);
    }
    let mut t = table([
        "ID",
        "POSTING",
        "STAGE",
        "SINCE",
        "CANDIDATE",
        "EMAIL",
        "VERSION",
    ]);
    for r in &rows {
        t.add_row(vec![
            r.application.id.to_string(),
            format!(
                "{} {}",
                r.application.posting_id,
                clip(&r.posting_title, 30)
            ),
            r.application.stage.clone(),
            time(&r.application.entered_stage_at),
            clip(&r.candidate_name, 30),
            r.candidate_email.clone(),
            r.application.version.to_string(),
        ]);
    }
    print_table(&t);
    Ok(())
}

pub(super) async fn application_show(env: &Env, id: i64) -> CmdResult {
    let store = env.store().await?;
    let d = applications::detail(store.conn(), id).await?;
    if env.json {
        return print_json(&d);
    }
    let a = &d.application;
    for (k, v) in [
        ("application", a.id.to_string()),
        (
            "candidate",
            format!("{} <{}>", d.candidate.name, d.candidate.email),
        ),
        ("locale", opt(&d.candidate.locale)),
        ("time zone", opt(&d.candidate.timezone)),
        ("posting", format!("{} {}", d.posting.id, d.posting.title)),
        (
            "stage",
            format!("{} since {}", a.stage, time(&a.entered_stage_at)),
        ),
        ("applied", time(&a.applied_at)),
        ("version", a.version.to_string()),
        ("allowed moves", {
            let m = env.pipeline.allowed_from(&a.stage);
            if m.is_empty() {
                "none (terminal)".into()
            } else {
                m.join(", ")
            }
        }),
    ] {
        println!("{k:<14} {v}");
    }
    println!();
    println!("transitions:");
    let mut t = table(["AT", "FROM", "TO", "REASON", "ACTOR"]);
    for tr in &d.transitions {
        t.add_row(vec![
            time(&tr.at),
            opt(&tr.from_stage),
            tr.to_stage.clone(),
            opt(&tr.reason),
            tr.actor.clone(),
        ]);
    }
    print_table(&t);
    println!();
    println!("emails:");
    let mut t = table([
        "ID",
        "TEMPLATE",
        "TO",
        "STATUS",
        "SEND AFTER",
        "ATTEMPTS",
        "LAST ERROR",
    ]);
    for e in &d.emails {
        t.add_row(vec![
            e.id.to_string(),
            e.template.clone(),
            e.recipient.clone(),
            e.status.to_string(),
            opt_time(&e.send_after),
            e.attempts.to_string(),
            clip(&opt(&e.last_error), 40),
        ]);
    }
    print_table(&t);
    Ok(())
}

pub(super) async fn application_move(
    env: &Env,
    id: i64,
    stage: &str,
    reason: Option<String>,
    no_email: bool,
    expect_version: Option<i32>,
) -> CmdResult {
    let store = env.store().await?;
    let req = MoveRequest {
        application_id: id,
        to: stage.to_string(),
        reason: reason.filter(|r| !r.trim().is_empty()),
        actor: super::actor(),
        email: if no_email {
            EmailChoice::None
        } else {
            EmailChoice::StageDefault
        },
        expected_version: expect_version,
    };
    let m = workflow::move_application(&store, &env.ctx(), &req).await?;
    if env.json {
        return print_json(&m);
    }
    println!(
        "application {}: {} -> {} (version {}); {}",
        m.application.id,
        opt(&m.transition.from_stage),
        m.transition.to_stage,
        m.application.version,
        emails_note(&m.emails)
    );
    Ok(())
}
