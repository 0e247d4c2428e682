//! `atsd tick` and `atsd run`: the scheduled jobs, once or as a daemon.

use super::CmdResult;
use super::env::Env;
use super::output::{opt, print_json, time};
use crate::error::Error;
use crate::jobs::{Job, JobReport, Ran, Runner, runs};
use serde_json::json;

// Stays whole: one tick's jobs in their order, each arm printing its line.
pub(super) async fn tick(env: &Env, names: &[String], dry_run: bool) -> CmdResult {
    let mut jobs: Vec<Job> = Vec::new();
    for n in names {
        let j = Job::parse(n)?;
        if !jobs.contains(&j) {
            jobs.push(j);
        }
    }
    if jobs.is_empty() {
        jobs = Job::ALL.to_vec();
    }
    let store = env.store().await?;
    let runner = Runner::new(store, env.config().clone(), runs::instance_name())?;
    runner.refresh_zones().await?;
    if dry_run {
        return tick_dry_run(env, &runner, &jobs).await;
    }
    let mut out = serde_json::Map::new();
    let mut failed = Vec::new();
    for job in jobs {
        let name = job.name();
        // the digest's earlier occurrences (in other people's time zones)
        // not yet run are run first, each shown with what it did (the line
        // of the last one would otherwise say nothing was sent when an
        // earlier one sent a digest)
        let mut due = runner.due_occurrences(job, env.now);
        let last = due.pop();
        for o in due {
            match runner.run_occurrence(job, o, env.now).await? {
                Ran::Ran { error: Some(e), .. } => {
                    eprintln!("error: job {name} ({}) failed: {e}", time(&o));
                    failed.push(name);
                }
                Ran::Ran {
                    counts: Some(r), ..
                } if !env.json => println!("{name} ({}): {}", time(&o), summary(&r)),
                _ => {}
            }
        }
        let Some(occurrence) = last else {
            if !env.json {
                println!(
                    "{name}: `{}` has had no occurrence yet; skipped",
                    job.schedule(env.config())
                );
            }
            out.insert(name.into(), json!({"skipped": "no occurrence yet"}));
            continue;
        };
        let when = time(&occurrence);
        let ran = runner.run_occurrence(job, occurrence, env.now).await?;
        let (report, run, note) = match ran {
            Ran::Ran {
                run,
                resumed,
                error,
                counts,
            } => {
                if let Some(e) = &error {
                    eprintln!("error: job {name} ({when}) failed: {e}");
                    failed.push(name);
                }
                let note = if resumed {
                    format!("{when}, redone after an interrupted run")
                } else {
                    when.clone()
                };
                (counts, Some(run), note)
            }
            // dispatch shares the outbox's leases with every other dispatcher,
            // so it runs whenever asked; its occurrence is recorded once
            Ran::AlreadyRan { .. } | Ran::Busy if job == Job::Dispatch => {
                let report = runner.work(job, env.now, env.now).await?;
                (
                    Some(report),
                    None,
                    format!("extra pass; {when} already claimed"),
                )
            }
            Ran::AlreadyRan { run } => {
                let outcome = run.outcome.clone().unwrap_or_default();
                if !env.json {
                    println!(
                        "{name} ({when}): already ran ({outcome}, {}); skipped",
                        run.instance
                    );
                }
                out.insert(name.into(), json!({"skipped": "already ran", "run": run}));
                continue;
            }
            Ran::Busy => {
                if !env.json {
                    println!("{name} ({when}): running in another process; skipped");
                }
                out.insert(name.into(), json!({"skipped": "running elsewhere"}));
                continue;
            }
        };
        if !env.json
            && let Some(r) = &report
        {
            println!("{name} ({note}): {}", summary(r));
        }
        if let Some(JobReport::Dispatch(d)) = &report
            && let Some(why) = &d.mail.unavailable
        {
            eprintln!("warning: mail transport unavailable, sending stopped: {why}");
        }
        let mut counts = report.as_ref().map(JobReport::to_json).unwrap_or_default();
        if let Some(obj) = counts.as_object_mut() {
            if let Some(r) = run {
                obj.insert("run".into(), serde_json::to_value(&r).unwrap_or_default());
            }
        } else if let Some(r) = run {
            counts = json!({"run": r});
        }
        out.insert(name.into(), counts);
    }
    if env.json {
        print_json(&out)?;
    }
    if !failed.is_empty() {
        return Err(Error::Reported(format!(
            "{} failed (the other jobs ran)",
            failed.join(", ")
        )));
    }
    Ok(())
}

pub(super) async fn run_daemon(env: &Env) -> CmdResult {
    use crate::service::{self, Health, Service, http, metrics::Metrics};
    use std::sync::Arc;
    // everything is checked before READY=1: the schema (migrated by
    // opening), the configuration, the templates, the HTTP listener
    if let Some(i) = &env.config().mail.inbound {
        i.check_key()?;
    }
    let store = env.store().await?;
    let runner = Runner::new(store.clone(), env.config().clone(), runs::instance_name())?;
    runner.check_templates()?;
    let runner = Arc::new(runner);
    let health = Arc::new(Health::new(store, runner.instance.clone()));
    let metrics = Arc::new(Metrics::new());
    let current = Arc::new(crate::jobs::Current::default());
    if let Some(h) = &env.config().http {
        let listener = http::bind(&h.listen).await?;
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| h.listen.clone());
        tracing::info!(listen = %addr, "serving /healthz and /metrics");
        let state = http::AppState {
            health: health.clone(),
            metrics: metrics.clone(),
            current: current.clone(),
            cors_origins: h.cors_origins.clone(),
        };
        tokio::spawn(http::serve(listener, state, runner.cancel.clone()));
    }
    if let Some(listen) = env
        .config()
        .mail
        .inbound
        .as_ref()
        .and_then(|i| i.lmtp_listen.clone())
    {
        let listener = crate::inbound::lmtp::bind(&listen).await?;
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or(listen);
        tracing::info!(listen = %addr, "serving LMTP for inbound mail");
        let lmtp = crate::inbound::lmtp::Lmtp {
            store: runner.store.clone(),
            current: current.clone(),
        };
        tokio::spawn(crate::inbound::lmtp::serve(
            listener,
            lmtp,
            runner.cancel.clone(),
        ));
    }
    if let Some(c) = &env.config().careers {
        let listener = http::bind(&c.listen)
            .await
            .map_err(|e| crate::Error::input(format!("careers.listen: {e}")))?;
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| c.listen.clone());
        tracing::info!(listen = %addr, board = %c.board, "serving the careers site and the Job Board API");
        let state = crate::careers::http::CareersState {
            store: runner.store.clone(),
            current: current.clone(),
            intake: crate::api::intake::Queue::start(runner.store.clone()),
            cache: Arc::default(),
            limiter: Arc::default(),
            max_body: crate::careers::http::max_body(env.config()),
        };
        let app = crate::careers::http::router(state.clone(), state.max_body);
        tokio::spawn(http::serve_router(listener, app, runner.cancel.clone()));
    }
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    service::handle_signals(runner.cancel.clone(), reload_tx);
    let reloads = crate::daemon::Reloads {
        requests: reload_rx,
        load: env.reloader(),
    };
    let life = Arc::new(Service::new(health, metrics, current));
    // with --now the daemon lives in a simulated present that starts then
    let clock = crate::daemon::Clock::starting_at(env.now);
    crate::daemon::run(runner, clock, life, Some(reloads)).await
}

/// One line about what a job run did.
fn summary(report: &JobReport) -> String {
    match report {
        JobReport::Poll(r) => {
            let mut s = format!(
                "{} posting(s), {} request(s), {} closed, {} error(s)",
                r.polled, r.requests, r.closed, r.errors
            );
            if r.notices > 0 {
                s.push_str(&format!(", {} close notice(s) to their teams", r.notices));
            }
            s
        }
        JobReport::Advance(r) => {
            let mut s = format!(
                "{} moved, {} reminder(s), {} email(s) queued",
                r.moved, r.reminders, r.emails
            );
            if r.conflicts > 0 {
                s.push_str(&format!(
                    ", {} skipped (moved by someone else first)",
                    r.conflicts
                ));
            }
            if r.cancelled_emails > 0 {
                s.push_str(&format!(
                    ", {} delayed email(s) cancelled",
                    r.cancelled_emails
                ));
            }
            if r.stopped {
                s.push_str(", stopped early (the rest is left for the next run)");
            }
            s
        }
        JobReport::Dispatch(d) => {
            let r = &d.mail;
            let mut s = format!("{} sent, {} to retry, {} dead", r.sent, r.retried, r.dead);
            if r.possible_duplicates > 0 {
                s.push_str(&format!(
                    ", {} possibly sent twice (expired lease)",
                    r.possible_duplicates
                ));
            }
            if r.recovered > 0 {
                s.push_str(&format!(
                    ", {} taken over unsent from a dispatcher that stopped",
                    r.recovered
                ));
            }
            if r.released > 0 {
                s.push_str(&format!(", {} left for the next run", r.released));
            }
            s
        }
        JobReport::Digest(r) => {
            if r.nothing_to_say {
                "nothing new, nothing stale, nothing closed, nothing bounced: no digest sent".into()
            } else if r.no_recruiters {
                "no [recruiters] emails configured: no digest sent".into()
            } else {
                let mut line = format!(
                    "{} digest(s) queued: {} new application(s), {} stale, {} posting(s) closed",
                    r.queued, r.new_applications, r.stale, r.closed_postings
                );
                if r.bounced > 0 {
                    line.push_str(&format!(", {} address(es) bounced", r.bounced));
                }
                line
            }
        }
        JobReport::Retention(r) => {
            let mut line = format!(
                "{} candidate(s) anonymized ({} email(s) scrubbed, {} file(s) removed), {} on hold",
                r.anonymized, r.outbox_rows, r.files_removed, r.held
            );
            if r.quarantine_removed > 0 {
                line.push_str(&format!(
                    ", {} old quarantined message(s) removed",
                    r.quarantine_removed
                ));
            }
            if r.events_removed > 0 {
                line.push_str(&format!(", {} old event(s) removed", r.events_removed));
            }
            if r.idempotency_removed > 0 {
                line.push_str(&format!(
                    ", {} old idempotency key(s) removed",
                    r.idempotency_removed
                ));
            }
            line
        }
    }
}

// Stays whole: one arm per job, each saying what it would do.
async fn tick_dry_run(env: &Env, runner: &Runner, jobs: &[Job]) -> CmdResult {
    let store = &runner.store;
    let mut out = serde_json::Map::new();
    for job in jobs {
        match job {
            Job::Poll => {
                let due = crate::poll::poller::due(store, &[], env.now).await?;
                if !env.json {
                    println!("poll: would poll {} posting(s)", due.len());
                }
                out.insert(
                    "poll".into(),
                    json!({"would_poll": due.iter().map(|p| p.id).collect::<Vec<_>>()}),
                );
            }
            Job::Advance => {
                let r = crate::jobs::advance::Advance {
                    store,
                    ctx: env.ctx(),
                    dry_run: true,
                }
                .run(&tokio_util::sync::CancellationToken::new())
                .await?;
                if !env.json {
                    println!(
                        "advance: would move {} application(s) and remind about {}",
                        r.moved, r.reminders
                    );
                    for p in &r.planned {
                        let what = match &p.to {
                            Some(to) => format!("{} -> {to}", p.from),
                            None => format!("remind ({})", p.from),
                        };
                        let emails = if p.emails.is_empty() {
                            "no email".to_string()
                        } else {
                            p.emails.join(", ")
                        };
                        println!(
                            "  application {}: {what} by rule {}; {emails}",
                            p.application_id, p.rule
                        );
                    }
                }
                out.insert(
                    "advance".into(),
                    json!({"would_move": r.moved, "would_remind": r.reminders, "planned": r.planned}),
                );
            }
            Job::Dispatch => {
                let due =
                    crate::store::outbox::list(store.conn(), Some(entity::outbox::Status::Pending))
                        .await?;
                let due: Vec<_> = due
                    .into_iter()
                    .filter(|e| e.next_attempt_at <= env.now)
                    .collect();
                if !env.json {
                    println!("dispatch: would send {} email(s)", due.len());
                    for e in &due {
                        println!(
                            "  {} {} to {}: {}",
                            e.id,
                            e.template,
                            e.recipient,
                            opt(&e.subject)
                        );
                    }
                }
                out.insert(
                    "dispatch".into(),
                    json!({"would_send": due.iter().map(|e| e.id).collect::<Vec<_>>()}),
                );
            }
            Job::Digest => {
                let occurrence = runner
                    .due_occurrence(Job::Digest, env.now)
                    .unwrap_or(env.now);
                let r = crate::jobs::digest::Digest {
                    store,
                    config: env.config(),
                    pipeline: &env.pipeline,
                    renderer: &env.renderer,
                    cron: runner.cron(Job::Digest),
                    tz: runner.tz(),
                    occurrence,
                    now: env.now,
                    dry_run: true,
                }
                .run()
                .await?;
                let r = JobReport::Digest(r);
                if !env.json {
                    println!(
                        "digest: {}",
                        summary(&r).replace("queued", "would be queued")
                    );
                }
                out.insert("digest".into(), r.to_json());
            }
            Job::Retention => {
                let r = crate::jobs::retention::Retention {
                    store,
                    config: env.config(),
                    pipeline: &env.pipeline,
                    now: env.now,
                    dry_run: true,
                }
                .run()
                .await?;
                if !env.json {
                    println!(
                        "retention: would anonymize {} candidate(s) ({} on hold)",
                        r.would_anonymize.len(),
                        r.held
                    );
                    for d in &r.would_anonymize {
                        println!(
                            "  candidate {} {} <{}>: every application terminal since {}",
                            d.candidate_id,
                            d.name,
                            d.email,
                            time(&d.terminal_since)
                        );
                    }
                }
                out.insert(
                    "retention".into(),
                    serde_json::to_value(&r).unwrap_or_default(),
                );
            }
        }
    }
    if env.json {
        return print_json(&out);
    }
    Ok(())
}
