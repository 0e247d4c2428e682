//! `atsd posting add|import|poll|list|show`.

use super::CmdResult;
use super::env::Env;
use super::output::{clip, opt, opt_time, print_json, print_table, table, time};
use crate::error::{Error, Result};
use crate::import;
use crate::posting::Status;
use crate::posting::recognize;
use crate::store::postings::{self, NewPosting, Upserted};
use serde_json::json;
use std::path::PathBuf;

pub(super) async fn posting_add(env: &Env, url: &str, title: Option<String>) -> CmdResult {
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

pub(super) async fn posting_import(env: &Env, paths: &[PathBuf]) -> CmdResult {
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

pub(super) async fn posting_poll(env: &Env, ids: &[i64]) -> CmdResult {
    let store = env.store().await?;
    let r = crate::poll::poller::run(&store, &env.ctx(), ids).await?;
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

pub(super) fn parse_status(s: Option<&str>) -> Result<Option<Status>> {
    s.map(|s| s.parse::<Status>().map_err(Error::Input))
        .transpose()
}

pub(super) async fn posting_list(
    env: &Env,
    status: Option<&str>,
    owner: Option<&str>,
) -> CmdResult {
    let status = parse_status(status)?;
    let store = env.store().await?;
    let mut list = postings::list(store.conn(), status).await?;
    if let Some(email) = owner {
        let p = crate::store::people::require(store.conn(), email).await?;
        let ids = crate::store::people::postings_of(store.conn(), p.id).await?;
        list.retain(|x| ids.binary_search(&x.id).is_ok());
    }
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

/// `posting publish|unpublish`: on or off the careers board.
pub(super) async fn posting_publish(env: &Env, reference: &str, on: bool) -> CmdResult {
    let store = env.store().await?;
    let p = postings::find(store.conn(), reference).await?;
    if on && p.status == "closed" {
        return Err(crate::Error::Refused(format!(
            "posting {} is closed: a closed posting is not published",
            p.id
        )));
    }
    let p = if p.published_at.is_some() == on {
        p
    } else {
        let txn = store.begin_write().await?;
        let p = crate::store::careers::set_published(&txn, p.id, on, env.now).await?;
        txn.commit().await?;
        p
    };
    if env.json {
        return print_json(&json!({"posting": p}));
    }
    match (on, env.config().careers.as_ref()) {
        (true, Some(c)) => println!(
            "posting {} published on board {}: {}/careers/jobs/{}",
            p.id,
            c.board,
            crate::careers::greenhouse::public_base(env.config()),
            p.id
        ),
        (true, None) => println!(
            "posting {} published (no [careers] is configured: nothing serves the board yet)",
            p.id
        ),
        (false, _) => println!("posting {} is not published", p.id),
    }
    Ok(())
}

pub(super) async fn posting_scorecard(
    env: &Env,
    reference: &str,
    attributes: &[String],
    clear: bool,
) -> CmdResult {
    use crate::interviews::scorecard::{self, Scorecard};
    let store = env.store().await?;
    let mut p = postings::find(store.conn(), reference).await?;
    if clear || !attributes.is_empty() {
        let card = if clear {
            None
        } else {
            let card = Scorecard::from_specs(attributes)?;
            Some(serde_json::to_string(&card).map_err(|e| crate::Error::Other(e.to_string()))?)
        };
        let txn = store.begin_write().await?;
        p = postings::set_scorecard(&txn, p, card, env.now).await?;
        txn.commit().await?;
    }
    let card = scorecard::of_posting(&p);
    if env.json {
        return print_json(&json!({"posting_id": p.id, "scorecard": card}));
    }
    if card.is_empty() {
        println!(
            "posting {}: no scorecard (atsd posting scorecard {} --attribute \"Skills: …\")",
            p.id, p.id
        );
    }
    for c in &card.0 {
        println!("{}: {}", c.category, c.attributes.join(", "));
    }
    Ok(())
}

pub(super) async fn posting_show(env: &Env, reference: &str) -> CmdResult {
    let store = env.store().await?;
    let p = postings::find(store.conn(), reference).await?;
    let history = postings::history_of(store.conn(), p.id).await?;
    let team = crate::store::people::team(store.conn(), p.id).await?;
    let api_url = recognize(&p.url, &env.bases()).ok().and_then(|r| r.api_url);
    if env.json {
        return print_json(
            &json!({"posting": p, "api_url": api_url, "team": team, "history": history}),
        );
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
    if team.is_empty() {
        println!("team: none (reminders and digest lines go to [recruiters] emails)");
    } else {
        println!("team:");
        super::people::print_team(&team);
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
