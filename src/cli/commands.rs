//! One function per subcommand.

use super::output::{clip, opt, opt_time, print_json, print_table, table, time};
use super::{
    ApplicationCmd, ApplyArgs, Cli, CmdResult, Command, MailCmd, PostingCmd, ReportArgs,
    ReportFormat,
};
use crate::config::{self, Config, Loaded};
use crate::error::{Error, Result};
use crate::mail::EmailChoice;
use crate::pipeline::Pipeline;
use crate::poll::{ApiBases, recognize};
use crate::posting::Status;
use crate::store::applications::{self, Ctx, MoveRequest, NewApplication};
use crate::store::candidates::CandidateInput;
use crate::store::postings::{self, NewPosting, Upserted};
use crate::store::{self, Store, stats};
use crate::{import, report, schedule};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// What every command starts from.
pub(super) struct Env {
    pub(super) renderer: crate::mail::render::Renderer,
    pub(super) json: bool,
    database: Option<String>,
    pub(super) now: DateTime<Utc>,
    loaded: Loaded,
    pub(super) pipeline: Pipeline,
}

impl Env {
    pub(super) fn config(&self) -> &Config {
        &self.loaded.config
    }

    fn url(&self) -> String {
        store::resolve_url(self.database.as_deref(), self.config())
    }

    pub(super) async fn store(&self) -> Result<Store> {
        Store::open(&self.url()).await
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            config: self.config(),
            pipeline: &self.pipeline,
            renderer: &self.renderer,
            now: self.now,
        }
    }

    fn bases(&self) -> ApiBases {
        ApiBases::from(&self.config().poll.sources)
    }

    fn progress(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }
}

pub(super) async fn dispatch(cli: Cli) -> CmdResult {
    if let Command::Init { dir, force } = &cli.command {
        return init(&cli, dir.as_deref(), *force).await;
    }
    let loaded = Config::load(cli.config.as_deref())?;
    let pipeline = loaded
        .config
        .pipeline()
        .map_err(|e| Error::input(e.to_string()))?;
    let env = Env {
        renderer: crate::mail::render::Renderer::new(loaded.config.templates.dir.as_deref()),
        json: cli.json,
        database: cli.database.clone(),
        now: super::now_or(cli.now),
        loaded,
        pipeline,
    };
    match cli.command {
        Command::Init { .. } => unreachable!("handled above"),
        Command::Migrate => migrate(&env).await,
        Command::CheckConfig => check_config(&env),
        Command::Posting(cmd) => match cmd {
            PostingCmd::Add { url, title } => posting_add(&env, &url, title).await,
            PostingCmd::Import { paths } => posting_import(&env, &paths).await,
            PostingCmd::Poll { ids } => posting_poll(&env, &ids).await,
            PostingCmd::List { status } => posting_list(&env, status.as_deref()).await,
            PostingCmd::Show { posting } => posting_show(&env, &posting).await,
        },
        Command::Apply(args) => apply(&env, &args).await,
        Command::Application(cmd) => match cmd {
            ApplicationCmd::Import { file, send_emails } => {
                application_import(&env, &file, send_emails).await
            }
            ApplicationCmd::List { posting, stage } => {
                application_list(&env, posting.as_deref(), stage.as_deref()).await
            }
            ApplicationCmd::Show { id } => application_show(&env, id).await,
            ApplicationCmd::Move {
                id,
                stage,
                reason,
                no_email,
                expect_version,
            } => application_move(&env, id, &stage, reason, no_email, expect_version).await,
        },
        Command::Report(args) => report_cmd(&env, &args).await,
        Command::Tick { jobs, dry_run } => super::jobs::tick(&env, &jobs, dry_run).await,
        Command::Run => super::jobs::run_daemon(&env).await,
        Command::Candidate(cmd) => super::candidates::command(&env, cmd).await,
        Command::Mail(cmd) => match cmd {
            MailCmd::List { status } => mail_list(&env, status.as_deref()).await,
            MailCmd::Preview {
                template,
                application,
                locale,
                html,
            } => {
                mail_preview(
                    &env,
                    &template,
                    application,
                    locale.as_deref(),
                    html.as_deref(),
                )
                .await
            }
            MailCmd::Retry { id } => mail_retry(&env, id).await,
        },
        Command::Status => status(&env).await,
    }
}

async fn init(cli: &Cli, dir: Option<&Path>, force: bool) -> CmdResult {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let path = dir.join("atsd.toml");
    if path.exists() && !force {
        return Err(Error::input(format!(
            "{} already exists; use --force to overwrite it",
            path.display()
        )));
    }
    std::fs::write(&path, config::EXAMPLE)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    let loaded = Config::load(Some(&path))?;
    let url = store::resolve_url(cli.database.as_deref(), &loaded.config);
    let store = Store::open(&url).await?;
    let version = store.schema_version().await?;
    if cli.json {
        print_json(&json!({"config": path, "database": url, "schema_version": version}))
    } else {
        println!("wrote {}", path.display());
        println!("database {url} (schema {version})");
        Ok(())
    }
}

async fn migrate(env: &Env) -> CmdResult {
    let store = Store::connect_only(&env.url()).await?;
    let applied = store.migrate().await?;
    let version = store.schema_version().await?;
    if env.json {
        return print_json(&json!({"applied": applied, "schema_version": version}));
    }
    for m in &applied {
        println!("applied {m}");
    }
    println!("schema version {version}");
    Ok(())
}

fn check_config(env: &Env) -> CmdResult {
    let c = env.config();
    let problems = env.renderer.check_all(&c.org.default_locale);
    if !problems.is_empty() {
        return Err(Error::input(format!(
            "templates: {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )));
    }
    let tz = c.schedule.tz()?;
    let mut jobs = Vec::new();
    for (job, expr) in c.schedule.jobs() {
        let cron = schedule::parse_cron(expr).map_err(Error::Input)?;
        jobs.push((
            job,
            expr.to_string(),
            cron.next_after(env.now, tz).map(|t| t.to_rfc3339()),
        ));
    }
    let source = env
        .loaded
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in defaults".into());
    let moves: Vec<String> = env
        .pipeline
        .moves()
        .map(|(a, b)| format!("{a} -> {b}"))
        .collect();
    if env.json {
        return print_json(&json!({
            "ok": true,
            "config": source,
            "env_overrides": env.loaded.env_overrides,
            "stages": env.pipeline.stages().collect::<Vec<_>>(),
            "moves": moves,
            "rules": c.rules.iter().map(|r| &r.name).collect::<Vec<_>>(),
            "templates": env.renderer.names(),
            "locales": env.renderer.locales(),
            "schedule": jobs.iter().map(|(j, e, n)| json!({"job": j, "cron": e, "next": n})).collect::<Vec<_>>(),
        }));
    }
    println!("config OK: {source}");
    if !env.loaded.env_overrides.is_empty() {
        println!("overridden by: {}", env.loaded.env_overrides.join(", "));
    }
    println!(
        "stages: {}",
        env.pipeline.stages().collect::<Vec<_>>().join(" → ")
    );
    println!("moves: {}", moves.join(", "));
    println!(
        "rules: {}",
        if c.rules.is_empty() {
            "none".into()
        } else {
            c.rules
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let mut t = table(["JOB", "SCHEDULE", "NEXT RUN"]);
    for (job, expr, next) in jobs {
        t.add_row(vec![
            job.to_string(),
            expr,
            next.unwrap_or_else(|| "never".into()),
        ]);
    }
    print_table(&t);
    Ok(())
}

async fn posting_add(env: &Env, url: &str, title: Option<String>) -> CmdResult {
    let rec = recognize(url, &env.bases()).map_err(Error::Input)?;
    if let Some(t) = &title
        && t.trim().is_empty()
    {
        return Err(Error::input("--title is empty"));
    }
    let store = env.store().await?;
    let txn = store.begin_write().await?;
    let np = NewPosting {
        url: rec.url.clone(),
        source: rec.source.to_string(),
        board: rec.board.clone(),
        external_id: rec.external_id.clone(),
        title: title.map(|t| t.trim().to_string()),
        ..Default::default()
    };
    let (m, outcome) = postings::upsert(&txn, &np, "add", env.now).await?;
    txn.commit().await?;
    if env.json {
        return print_json(
            &json!({"id": m.id, "url": m.url, "source": m.source, "board": m.board,
            "external_id": m.external_id, "api_url": rec.api_url, "outcome": outcome}),
        );
    }
    println!("{}", m.id);
    let what = match outcome {
        Upserted::Created => "added",
        Upserted::Updated(_) => "updated",
        Upserted::Unchanged => "already known as",
    };
    eprintln!(
        "{what} posting {}: {} {}",
        m.id,
        m.source,
        match (&m.board, &m.external_id) {
            (Some(b), Some(e)) => format!("board {b}, job {e}"),
            (None, Some(e)) => format!("job {e} (board unknown)"),
            _ => m.url.clone(),
        }
    );
    Ok(())
}

async fn posting_import(env: &Env, paths: &[PathBuf]) -> CmdResult {
    let store = env.store().await?;
    let s = import::postings(&store, paths, &env.bases(), env.now, env.progress()).await?;
    if env.json {
        return print_json(&s);
    }
    let mut t = table(["ID", "OUTCOME", "URL", "FILE"]);
    for p in &s.postings {
        let outcome = match &p.outcome {
            Upserted::Created => "created".to_string(),
            Upserted::Updated(f) => format!("updated ({})", f.join(", ")),
            Upserted::Unchanged => "unchanged".to_string(),
        };
        t.add_row(vec![
            p.id.to_string(),
            outcome,
            p.url.clone(),
            p.origin.clone(),
        ]);
    }
    print_table(&t);
    println!(
        "{} file(s): {} created, {} updated, {} unchanged",
        s.files, s.created, s.updated, s.unchanged
    );
    Ok(())
}

async fn posting_poll(env: &Env, ids: &[i64]) -> CmdResult {
    let store = env.store().await?;
    let r = crate::poll::poller::run(&store, env.config(), ids, env.now).await?;
    if env.json {
        return print_json(&r);
    }
    let mut t = table(["ID", "OUTCOME", "STATUS", "URL"]);
    for o in &r.outcomes {
        t.add_row(vec![
            o.id.to_string(),
            clip(&o.outcome, 90),
            o.status.clone(),
            o.url.clone(),
        ]);
    }
    if !r.outcomes.is_empty() {
        print_table(&t);
    }
    println!(
        "{} posting(s) polled with {} request(s); {} closed",
        r.outcomes.len(),
        r.requests,
        r.closed.len()
    );
    Ok(())
}

fn parse_status(s: Option<&str>) -> Result<Option<Status>> {
    s.map(|s| s.parse::<Status>().map_err(Error::Input))
        .transpose()
}

async fn posting_list(env: &Env, status: Option<&str>) -> CmdResult {
    let status = parse_status(status)?;
    let store = env.store().await?;
    let list = postings::list(store.conn(), status).await?;
    if env.json {
        return print_json(&list);
    }
    let mut t = table([
        "ID", "STATUS", "SOURCE", "BOARD", "TITLE", "COMPANY", "LOCATION", "POSTED",
    ]);
    for p in &list {
        t.add_row(vec![
            p.id.to_string(),
            format!(
                "{}{}",
                p.status,
                if p.board_missing {
                    " (board missing)"
                } else {
                    ""
                }
            ),
            p.source.clone(),
            opt(&p.board),
            clip(if p.title.is_empty() { "-" } else { &p.title }, 48),
            clip(&opt(&p.company), 30),
            clip(&opt(&p.location), 24),
            p.posted_at
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    print_table(&t);
    Ok(())
}

async fn posting_show(env: &Env, reference: &str) -> CmdResult {
    let store = env.store().await?;
    let p = postings::find(store.conn(), reference).await?;
    let history = postings::history_of(store.conn(), p.id).await?;
    let api_url = recognize(&p.url, &env.bases()).ok().and_then(|r| r.api_url);
    if env.json {
        return print_json(&json!({"posting": p, "api_url": api_url, "history": history}));
    }
    let rows: Vec<(&str, String)> = vec![
        ("id", p.id.to_string()),
        (
            "title",
            if p.title.is_empty() {
                "-".into()
            } else {
                p.title.clone()
            },
        ),
        ("company", opt(&p.company)),
        ("location", opt(&p.location)),
        ("url", p.url.clone()),
        ("apply url", opt(&p.apply_url)),
        ("source", p.source.clone()),
        ("board", opt(&p.board)),
        ("external id", opt(&p.external_id)),
        ("api url", opt(&api_url)),
        (
            "status",
            format!(
                "{}{}",
                p.status,
                if p.board_missing {
                    " (board missing)"
                } else {
                    ""
                }
            ),
        ),
        ("status since", opt_time(&p.status_changed_at)),
        ("posted", opt_time(&p.posted_at)),
        ("last polled", opt_time(&p.last_polled_at)),
        ("next poll", opt_time(&p.next_poll_at)),
        ("not found in a row", p.consecutive_not_found.to_string()),
        ("errors in a row", p.consecutive_errors.to_string()),
        ("last error", opt(&p.last_error)),
    ];
    for (k, v) in rows {
        println!("{k:<19} {v}");
    }
    println!();
    println!("history:");
    let mut t = table(["AT", "FIELD", "FROM", "TO", "NOTE"]);
    for h in &history {
        t.add_row(vec![
            time(&h.at),
            h.field.clone(),
            clip(&opt(&h.old_value), 40),
            clip(&opt(&h.new_value), 40),
            opt(&h.note),
        ]);
    }
    print_table(&t);
    Ok(())
}

fn input_error(errs: Vec<(&'static str, String)>) -> Error {
    Error::input(
        errs.into_iter()
            .map(|(f, e)| format!("--{f}: {e}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

async fn apply(env: &Env, a: &ApplyArgs) -> CmdResult {
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
    let created = applications::apply(&store, &env.ctx(), &a.posting, &input, &new).await?;
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

fn emails_note(emails: &[crate::store::outbox::Email]) -> String {
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

async fn application_import(env: &Env, file: &Path, send_emails: bool) -> CmdResult {
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

async fn posting_id(store: &Store, reference: Option<&str>) -> Result<Option<i64>> {
    match reference {
        Some(r) => Ok(Some(postings::find(store.conn(), r).await?.id)),
        None => Ok(None),
    }
}

async fn application_list(env: &Env, posting: Option<&str>, stage: Option<&str>) -> CmdResult {
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

async fn application_show(env: &Env, id: i64) -> CmdResult {
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
            e.status.clone(),
            opt_time(&e.send_after),
            e.attempts.to_string(),
            clip(&opt(&e.last_error), 40),
        ]);
    }
    print_table(&t);
    Ok(())
}

async fn application_move(
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
    let m = applications::move_application(&store, &env.ctx(), &req).await?;
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

async fn report_cmd(env: &Env, args: &ReportArgs) -> CmdResult {
    let store = env.store().await?;
    let pid = posting_id(&store, args.posting.as_deref()).await?;
    let data = stats::report_data(store.conn(), pid).await?;
    let th = report::stale_thresholds(env.config(), &env.pipeline, args.stale_after.chrono());
    let r = report::build(&data, &env.pipeline, &th, env.now);
    let format = if env.json {
        ReportFormat::Json
    } else {
        args.format
    };
    match format {
        ReportFormat::Json => print_json(&r),
        ReportFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            let io = |e: csv::Error| Error::Other(format!("cannot write CSV: {e}"));
            w.write_record([
                "posting_id",
                "title",
                "status",
                "stage",
                "count",
                "reached",
                "conversion",
                "median_seconds",
                "stale",
            ])
            .map_err(io)?;
            for p in &r.postings {
                for s in &p.stages {
                    w.write_record([
                        p.posting_id.to_string(),
                        p.title.clone(),
                        p.status.clone(),
                        s.stage.clone(),
                        s.count.to_string(),
                        s.reached.to_string(),
                        s.conversion.map(|c| format!("{c:.4}")).unwrap_or_default(),
                        s.median_seconds.map(|m| m.to_string()).unwrap_or_default(),
                        s.stale.to_string(),
                    ])
                    .map_err(io)?;
                }
            }
            w.flush().map_err(|e| Error::io("cannot write CSV", e))?;
            Ok(())
        }
        ReportFormat::Table => {
            if r.postings.is_empty() {
                println!("no postings");
            }
            for (i, p) in r.postings.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                println!(
                    "posting {} {}{} [{}] — {} application(s)",
                    p.posting_id,
                    p.title,
                    p.company
                        .as_ref()
                        .map(|c| format!(" at {c}"))
                        .unwrap_or_default(),
                    p.status,
                    p.applications
                );
                let mut t = table(["STAGE", "NOW", "REACHED", "TO NEXT", "MEDIAN TIME", "STALE"]);
                for s in &p.stages {
                    t.add_row(vec![
                        s.stage.clone(),
                        s.count.to_string(),
                        s.reached.to_string(),
                        s.conversion
                            .map(|c| format!("{:.0}%", c * 100.0))
                            .unwrap_or_else(|| "-".into()),
                        s.median_seconds
                            .map(report::human_duration)
                            .unwrap_or_else(|| "-".into()),
                        if s.terminal {
                            "-".into()
                        } else {
                            s.stale.to_string()
                        },
                    ]);
                }
                print_table(&t);
            }
            Ok(())
        }
    }
}

async fn status(env: &Env) -> CmdResult {
    let store = env.store().await?;
    let c = env.config();
    let tz = c.schedule.tz()?;
    let mut jobs = Vec::new();
    for (job, expr) in c.schedule.jobs() {
        let last = stats::last_run(store.conn(), job).await?;
        let next = schedule::parse_cron(expr)
            .ok()
            .and_then(|cr| cr.next_after(env.now, tz));
        jobs.push((job, expr.to_string(), last, next));
    }
    let outbox = stats::outbox_by_status(store.conn()).await?;
    let posts = stats::postings_by_status(store.conn()).await?;
    let mut stages = stats::applications_by_stage(store.conn()).await?;
    let order: Vec<&str> = env.pipeline.stages().collect();
    stages.sort_by_key(|(s, _)| order.iter().position(|o| o == s).unwrap_or(usize::MAX));
    if env.json {
        return print_json(&json!({
            "database": store.url().split('?').next(),
            "schema_version": store.schema_version().await?,
            "jobs": jobs.iter().map(|(j, e, last, next)| json!({
                "job": j, "schedule": e,
                "last_run": last.as_ref().map(|l| json!({"scheduled_for": l.scheduled_for, "finished_at": l.finished_at, "outcome": l.outcome})),
                "next_run": next})).collect::<Vec<_>>(),
            "outbox": outbox.iter().map(|(s, n)| (s.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "postings": posts.iter().map(|(s, n)| (s.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "applications": stages.iter().map(|(s, n)| (s.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
        }));
    }
    let mut t = table(["JOB", "SCHEDULE", "LAST RUN", "OUTCOME", "NEXT RUN"]);
    for (job, expr, last, next) in &jobs {
        t.add_row(vec![
            job.to_string(),
            expr.clone(),
            last.as_ref()
                .map(|l| time(&l.scheduled_for))
                .unwrap_or_else(|| "never".into()),
            last.as_ref()
                .and_then(|l| l.outcome.clone())
                .unwrap_or_else(|| "-".into()),
            next.as_ref().map(time).unwrap_or_else(|| "-".into()),
        ]);
    }
    print_table(&t);
    let line = |what: &str, v: &[(String, i64)]| {
        let parts: Vec<String> = v.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!(
            "{what:<13} {}",
            if parts.is_empty() {
                "none".into()
            } else {
                parts.join(", ")
            }
        );
    };
    println!();
    line("outbox", &outbox);
    line("postings", &posts);
    line("applications", &stages);
    Ok(())
}

async fn mail_list(env: &Env, status: Option<&str>) -> CmdResult {
    let store = env.store().await?;
    let rows = crate::store::outbox::list(store.conn(), status).await?;
    if env.json {
        return print_json(&rows);
    }
    let mut t = table([
        "ID",
        "STATUS",
        "TEMPLATE",
        "LOCALE",
        "TO",
        "DUE",
        "ATTEMPTS",
        "SUBJECT / LAST ERROR",
    ]);
    for e in &rows {
        let note = match (&e.status[..], &e.last_error) {
            ("sent", _) | (_, None) => opt(&e.subject),
            (_, Some(err)) => err.clone(),
        };
        t.add_row(vec![
            e.id.to_string(),
            e.status.clone(),
            e.template.clone(),
            e.locale.clone(),
            e.recipient.clone(),
            time(&e.next_attempt_at),
            e.attempts.to_string(),
            clip(&note, 60),
        ]);
    }
    print_table(&t);
    Ok(())
}

async fn mail_preview(
    env: &Env,
    template: &str,
    application: Option<i64>,
    locale: Option<&str>,
    html: Option<&Path>,
) -> CmdResult {
    if !env.renderer.exists(template) {
        return Err(Error::input(format!(
            "unknown template `{template}` (templates: {})",
            env.renderer.names().join(", ")
        )));
    }
    let locale = locale
        .map(|l| crate::intake::locale(l).map_err(Error::Input))
        .transpose()?;
    let (ctx, cand_locale) = match application {
        Some(id) => {
            let store = env.store().await?;
            applications::preview_context(store.conn(), &env.ctx(), id).await?
        }
        None => (crate::mail::render::sample_context(), None),
    };
    let default = &env.config().org.default_locale;
    let wanted = locale.or(cand_locale).unwrap_or_else(|| default.clone());
    let ctx = if application.is_none() {
        crate::mail::render::sample_for(&wanted)
    } else {
        ctx
    };
    let r = env
        .renderer
        .render(template, &wanted, default, &ctx)
        .map_err(Error::Input)?;
    if let Some(path) = html {
        std::fs::write(path, &r.html)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }
    if env.json {
        return print_json(&r);
    }
    println!("Locale: {}", r.locale);
    println!("Subject: {}", r.subject);
    println!();
    print!("{}", r.text);
    Ok(())
}

async fn mail_retry(env: &Env, id: i64) -> CmdResult {
    let store = env.store().await?;
    let txn = store.begin_write().await?;
    let row = crate::store::outbox::retry(&txn, id, env.now).await?;
    store::notify_outbox(&txn).await?;
    txn.commit().await?;
    if env.json {
        return print_json(&row);
    }
    println!(
        "email {} to {} is pending again, due {}",
        row.id,
        row.recipient,
        time(&row.next_attempt_at)
    );
    Ok(())
}
