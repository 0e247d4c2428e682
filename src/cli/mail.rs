//! `atsd mail list|preview|retry`.

use super::CmdResult;
use super::env::Env;
use super::output::{clip, opt, print_json, print_table, table, time};
use crate::error::Error;
use entity::outbox::Status;
use std::path::Path;

pub(super) async fn mail_list(env: &Env, status: Option<&str>) -> CmdResult {
    let store = env.store().await?;
    // clap allows only the statuses' words
    let status = status.and_then(Status::parse);
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
        let note = match (e.status, &e.last_error) {
            (Status::Sent, _) | (_, None) => opt(&e.subject),
            (_, Some(err)) => err.clone(),
        };
        t.add_row(vec![
            e.id.to_string(),
            e.status.to_string(),
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

pub(super) async fn mail_preview(
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
        .map(|l| crate::candidate_fields::locale(l).map_err(Error::Input))
        .transpose()?;
    let (ctx, cand_locale) = match application {
        Some(id) => {
            let store = env.store().await?;
            crate::workflow::preview_context(store.conn(), &env.ctx(), id).await?
        }
        None => (crate::templates::sample_context(), None),
    };
    let default = &env.config().org.default_locale;
    let wanted = locale.or(cand_locale).unwrap_or_else(|| default.clone());
    let ctx = if application.is_none() {
        crate::templates::sample_for(&wanted)
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

pub(super) async fn mail_retry(env: &Env, id: i64) -> CmdResult {
    let store = env.store().await?;
    let txn = store.begin_write().await?;
    let row = crate::workflow::audited::resend(&txn, id, None, &super::actor(), env.now).await?;
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
