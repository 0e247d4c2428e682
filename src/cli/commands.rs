//! The dispatch to each noun's module (every command starts from
//! [`super::env::Env`]),
//! and the commands that belong to no noun: init, migrate, check-config,
//! report, status.

use super::env::Env;
use super::output::{print_json, print_table, table, time};
use super::{
    ApplicationCmd, Cli, CmdResult, Command, MailCmd, PostingCmd, ReportArgs, ReportFormat,
};
use crate::config::{self, Config};
use crate::error::Error;
use crate::store::{self, Store, stats};
use crate::{report, schedule};
use serde_json::json;
use std::path::{Path, PathBuf};

// Stays whole: a dispatch, one arm per command.
pub(super) async fn dispatch(cli: Cli, verbose: u8) -> CmdResult {
    use crate::logging::{Style, init as init_logging};
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = super::examples::command();
            clap_complete::generate(*shell, &mut cmd, "atsd", &mut std::io::stdout());
            return Ok(());
        }
        Command::Man => {
            let cmd = super::examples::command();
            return clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(|e| Error::io("cannot write the man page", e));
        }
        _ => {}
    }
    if let Command::Init { dir, force } = &cli.command {
        init_logging(verbose, Style::from_env(Default::default()));
        return init(&cli, dir.as_deref(), *force).await;
    }
    let loaded = match Config::load(cli.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            init_logging(verbose, Style::from_env(Default::default()));
            return Err(e);
        }
    };
    init_logging(verbose, Style::from_env(loaded.config.log.format));
    let pipeline = loaded
        .config
        .pipeline()
        .map_err(|e| Error::input(e.to_string()))?;
    let env = Env::new(
        loaded,
        pipeline,
        cli.json,
        cli.database.clone(),
        super::now_or(cli.now),
    );
    match cli.command {
        Command::Init { .. } | Command::Completions { .. } | Command::Man => {
            unreachable!("handled above")
        }
        Command::Backup { file } => backup(&env, &file).await,
        Command::Token(cmd) => super::tokens::token(&env, cmd).await,
        Command::Person(cmd) => super::people::command(&env, cmd).await,
        Command::Interview(cmd) => super::interviews::command(&env, cmd).await,
        Command::Events {
            since,
            follow,
            types,
        } => super::events::events(&env, since, follow, &types).await,
        Command::Webhook(cmd) => super::events::webhook(&env, cmd).await,
        Command::CopyDatabase { to } => copy_database(&env, &to).await,
        Command::Migrate => migrate(&env).await,
        Command::CheckConfig => check_config(&env),
        Command::Posting(cmd) => match cmd {
            PostingCmd::Add { url, title } => super::postings::posting_add(&env, &url, title).await,
            PostingCmd::Import { paths } => super::postings::posting_import(&env, &paths).await,
            PostingCmd::Poll { ids } => super::postings::posting_poll(&env, &ids).await,
            PostingCmd::List { status, owner } => {
                super::postings::posting_list(&env, status.as_deref(), owner.as_deref()).await
            }
            PostingCmd::Assign {
                posting,
                recruiter,
                hiring_managers,
                coordinators,
            } => {
                let team = crate::store::people::TeamSpec {
                    recruiter,
                    hiring_managers,
                    coordinators,
                };
                super::people::assign(&env, &posting, &team).await
            }
            PostingCmd::Show { posting } => super::postings::posting_show(&env, &posting).await,
            PostingCmd::Publish { posting } => {
                super::postings::posting_publish(&env, &posting, true).await
            }
            PostingCmd::Unpublish { posting } => {
                super::postings::posting_publish(&env, &posting, false).await
            }
            PostingCmd::Scorecard {
                posting,
                attributes,
                clear,
            } => super::postings::posting_scorecard(&env, &posting, &attributes, clear).await,
        },
        Command::Apply(args) => super::applications::apply(&env, &args).await,
        Command::Application(cmd) => match cmd {
            ApplicationCmd::Import { file, send_emails } => {
                super::applications::application_import(&env, &file, send_emails).await
            }
            ApplicationCmd::List { posting, stage } => {
                super::applications::application_list(&env, posting.as_deref(), stage.as_deref())
                    .await
            }
            ApplicationCmd::Show { id } => super::applications::application_show(&env, id).await,
            ApplicationCmd::Move {
                id,
                stage,
                reason,
                no_email,
                expect_version,
            } => {
                super::applications::application_move(
                    &env,
                    id,
                    &stage,
                    reason,
                    no_email,
                    expect_version,
                )
                .await
            }
        },
        Command::Report(args) => report_cmd(&env, &args).await,
        Command::Tick { jobs, dry_run } => super::jobs::tick(&env, &jobs, dry_run).await,
        Command::Run => super::jobs::run_daemon(&env).await,
        Command::Candidate(cmd) => super::candidates::command(&env, cmd).await,
        Command::Request(cmd) => super::requests::command(&env, cmd).await,
        Command::Mail(cmd) => match cmd {
            MailCmd::List { status } => super::mail::mail_list(&env, status.as_deref()).await,
            MailCmd::Preview {
                template,
                application,
                locale,
                html,
            } => {
                super::mail::mail_preview(
                    &env,
                    &template,
                    application,
                    locale.as_deref(),
                    html.as_deref(),
                )
                .await
            }
            MailCmd::Retry { id } => super::mail::mail_retry(&env, id).await,
            MailCmd::Receive { recipients, file } => {
                super::inbound::receive(&env, &recipients, file.as_deref()).await
            }
            MailCmd::Inspect { file } => super::inbound::inspect(&env, file.as_deref()),
            MailCmd::Inbound {
                kind,
                application,
                limit,
            } => super::inbound::list(&env, kind.as_deref(), application, limit).await,
            MailCmd::Quarantine(q) => super::inbound::quarantine(&env, q).await,
            MailCmd::Undeliverable(u) => super::inbound::undeliverable(&env, u).await,
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

async fn backup(env: &Env, file: &Path) -> CmdResult {
    let store = env.store().await?;
    let b = store::backup::backup(&store, file).await?;
    if env.json {
        return print_json(&b);
    }
    println!(
        "backup written: {} ({}, integrity {})",
        b.file.display(),
        bytesize::ByteSize(b.bytes),
        b.integrity
    );
    Ok(())
}

async fn copy_database(env: &Env, to: &str) -> CmdResult {
    let from = env.store().await?;
    if store::redact(to) == store::redact(from.url()) {
        return Err(Error::input("the target is the database being copied"));
    }
    let target = Store::open(to).await?;
    let show = env.progress();
    let copied = store::copy::copy(&from, &target, |table, n| {
        if show {
            eprint!("\r{table}: {n} row(s)   ");
        }
    })
    .await?;
    if show {
        eprintln!();
    }
    if env.json {
        let tables: serde_json::Map<String, serde_json::Value> = copied
            .iter()
            .map(|(t, n)| ((*t).to_string(), json!(n)))
            .collect();
        return print_json(&json!({"to": store::redact(to), "tables": tables}));
    }
    for (t, n) in &copied {
        println!("{t}: {n} row(s)");
    }
    println!("copied into {}", store::redact(to));
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
    crate::selfservice::Links::from_config(c)?;
    if let Some(i) = &c.mail.inbound {
        i.check_key()?;
    }
    for w in c.webhooks.iter().flat_map(|w| &w.out) {
        crate::webhooks::sign::Secret::read(&w.secret_file)
            .map_err(|e| Error::input(format!("webhooks.out ({}).secret_file: {e}", w.name)))?;
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

// Stays whole: the report's formats, one arm each.
async fn report_cmd(env: &Env, args: &ReportArgs) -> CmdResult {
    let store = env.store().await?;
    let pid = super::applications::posting_id(&store, args.posting.as_deref()).await?;
    let owned = match &args.owner {
        Some(email) => {
            let p = store::people::require(store.conn(), email).await?;
            Some(store::people::postings_of(store.conn(), p.id).await?)
        }
        None => None,
    };
    if args.format == ReportFormat::Html && !env.json {
        let html = crate::recruiter_board::report_html(
            &store,
            env.config(),
            &env.pipeline,
            pid,
            owned.as_deref(),
            args.stale_after.chrono(),
            env.now,
        )
        .await?;
        match &args.output {
            Some(path) => {
                // a half-written report never replaces a whole one
                let tmp = path.with_extension("html.tmp");
                std::fs::write(&tmp, html.as_bytes())
                    .and_then(|()| std::fs::rename(&tmp, path))
                    .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
                eprintln!("wrote {} ({} bytes)", path.display(), html.len());
            }
            None => print!("{html}"),
        }
        return Ok(());
    }
    if args.output.is_some() {
        return Err(Error::input(
            "--output is for --format html (the other formats go to stdout)",
        ));
    }
    let data = stats::report_data(store.conn(), pid).await?;
    let th = report::stale_thresholds(env.config(), &env.pipeline, args.stale_after.chrono());
    let mut r = report::build(&data, &env.pipeline, &th, env.now);
    if let Some(owned) = &owned {
        r.postings
            .retain(|p| owned.binary_search(&p.posting_id).is_ok());
    }
    let format = if env.json {
        ReportFormat::Json
    } else {
        args.format
    };
    match format {
        // (`--json` wins over `--format html`)
        ReportFormat::Json | ReportFormat::Html => print_json(&r),
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
    crate::selfservice::Links::from_config(c)?;
    if let Some(i) = &c.mail.inbound {
        i.check_key()?;
    }
    for w in c.webhooks.iter().flat_map(|w| &w.out) {
        crate::webhooks::sign::Secret::read(&w.secret_file)
            .map_err(|e| Error::input(format!("webhooks.out ({}).secret_file: {e}", w.name)))?;
    }
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
