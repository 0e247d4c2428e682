//! `atsd events` (the event feed as JSON lines) and `atsd webhook
//! list|retry|secret` (the outgoing webhooks' deliveries).

use super::env::Env;
use super::output::{opt_time, print_json, print_table, table, time};
use super::{CmdResult, WebhookCmd};
use crate::error::Error;
use crate::store::events::{self, Position};
use crate::webhooks;
use std::io::Write;

/// Events read per query.
const PAGE: u64 = 500;
/// How often `--follow` looks for new events.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

pub(super) async fn events(
    env: &Env,
    since: Option<i64>,
    follow: bool,
    types: &[String],
) -> CmdResult {
    crate::events::check_types(types).map_err(Error::Input)?;
    let store = env.store().await?;
    let mut at: Position = events::position_of(store.conn(), since.unwrap_or(0)).await?;
    let stdout = std::io::stdout();
    loop {
        let (batch, next) = events::after(store.conn(), at, types, PAGE).await?;
        let mut out = stdout.lock();
        for e in &batch {
            let line = serde_json::to_string(e)
                .map_err(|err| Error::Other(format!("cannot encode event {}: {err}", e.id)))?;
            if let Err(err) = writeln!(out, "{line}") {
                return closed_or(err);
            }
        }
        if let Err(err) = out.flush() {
            return closed_or(err);
        }
        drop(out);
        let done_page = next == at;
        at = next;
        if done_page {
            if !follow {
                return Ok(());
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    }
}

/// A reader that went away (`atsd events | head`) ends the feed quietly.
fn closed_or(e: std::io::Error) -> CmdResult {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(Error::io("cannot write the events", e))
    }
}

pub(super) async fn webhook(env: &Env, cmd: WebhookCmd) -> CmdResult {
    match cmd {
        WebhookCmd::Secret => {
            let s = webhooks::sign::Secret::generate().map_err(Error::Other)?;
            if env.json {
                return print_json(&serde_json::json!({ "secret": s }));
            }
            println!("{s}");
            Ok(())
        }
        WebhookCmd::List {
            status,
            endpoint,
            limit,
        } => {
            let store = env.store().await?;
            let rows =
                webhooks::list(&store, status.as_deref(), endpoint.as_deref(), limit).await?;
            if env.json {
                return print_json(&rows);
            }
            let mut t = table([
                "ID",
                "ENDPOINT",
                "EVENT",
                "TYPE",
                "STATUS",
                "ATTEMPTS",
                "NEXT",
                "DELIVERED",
                "LAST ERROR",
            ]);
            for r in &rows {
                t.add_row(vec![
                    r.id.to_string(),
                    r.endpoint.clone(),
                    r.event_id.to_string(),
                    r.kind.clone(),
                    r.status.clone(),
                    r.attempts.to_string(),
                    if matches!(r.status.as_str(), "pending" | "sending") {
                        time(&r.next_attempt_at)
                    } else {
                        "-".into()
                    },
                    opt_time(&r.delivered_at),
                    r.last_error.clone().unwrap_or_default(),
                ]);
            }
            print_table(&t);
            Ok(())
        }
        WebhookCmd::Retry { id, all, endpoint } => {
            if id.is_none() && !all {
                return Err(Error::input(
                    "name a delivery id, or --all for every dead delivery",
                ));
            }
            let store = env.store().await?;
            let n = webhooks::retry(&store, id, endpoint.as_deref(), env.now).await?;
            if env.json {
                return print_json(&serde_json::json!({ "retried": n }));
            }
            println!(
                "{n} dead deliver{} queued again",
                if n == 1 { "y" } else { "ies" }
            );
            Ok(())
        }
    }
}
