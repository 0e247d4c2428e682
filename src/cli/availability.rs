//! `atsd person availability` (weekly windows, a busy feed) and `atsd
//! interview offer|slots` (the slots a whole panel is free, offered to the
//! candidate through a signed booking link).

use super::CmdResult;
use super::env::Env;
use super::output::print_json;
use crate::error::{Error, Result};
use crate::interviews::availability::Window;
use crate::store::{availability as store_av, people};
use crate::workflow::offers::{self, OfferRequest};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

/// `atsd person availability EMAIL [--weekly …] [--busy-feed URL |
/// --no-busy-feed] [--refresh]`.
// Stays whole: one command's three steps in order: set, read the feed, show.
pub(super) async fn person(
    env: &Env,
    email: &str,
    weekly: &[String],
    busy_feed: Option<&str>,
    no_busy_feed: bool,
    refresh: bool,
) -> CmdResult {
    let store = env.store().await?;
    let p = people::require(store.conn(), email).await?;
    let weekly = if weekly.is_empty() {
        None
    } else {
        let windows: Vec<Window> = weekly
            .iter()
            .map(|w| Window::parse(w))
            .collect::<Result<_>>()?;
        let specs: Vec<String> = windows.iter().map(Window::spec).collect();
        Some(serde_json::to_string(&specs).map_err(|e| Error::Other(e.to_string()))?)
    };
    let feed = match (busy_feed, no_busy_feed) {
        (Some(u), _) => Some(Some(offers::check_feed_url(env.config(), u)?.to_string())),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let had_feed = feed.as_ref().is_some_and(Option::is_some);
    if weekly.is_some() || feed.is_some() {
        let txn = store.begin_write().await?;
        store_av::set(
            &txn,
            p.id,
            store_av::Change {
                weekly,
                busy_feed: feed,
            },
            env.now,
        )
        .await?;
        txn.commit().await?;
    }
    let mut fetched = None;
    if refresh || had_feed {
        fetched = offers::refresh_feeds(&store, env.config(), Some(&[p.id]), env.now)
            .await?
            .into_iter()
            .next()
            .map(|(_, r)| r);
    }
    let row = store_av::get(store.conn(), p.id).await?;
    let windows: Vec<String> = row
        .as_ref()
        .map(|r| offers::weekly_of(&r.weekly))
        .transpose()?
        .unwrap_or_default()
        .iter()
        .map(Window::spec)
        .collect();
    let tz = p
        .timezone
        .clone()
        .unwrap_or_else(|| env.config().schedule.timezone.clone());
    let feed_state = row.as_ref().filter(|r| r.busy_feed.is_some()).map(|r| {
        json!({
            "set": true,
            "fetched_at": r.busy_fetched_at,
            "busy_times": r.busy_times.as_deref()
                .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(t).ok())
                .map(|v| v.len()),
            "error": r.busy_error,
        })
    });
    if env.json {
        return print_json(&json!({
            "person": p.email,
            "timezone": tz,
            "weekly": windows,
            "busy_feed": feed_state,
        }));
    }
    println!("{} ({}), in {tz}:", p.name, p.email);
    if windows.is_empty() {
        println!("  no weekly windows (--weekly \"Mon-Fri 09:00-17:00\")");
    }
    for w in &windows {
        println!("  {w}");
    }
    match (&row, &fetched) {
        (_, Some(Err(e))) => println!("  busy feed: set; could not be read: {e}"),
        (_, Some(Ok(n))) => println!("  busy feed: set; read now, {n} busy times ahead"),
        (Some(r), None) if r.busy_feed.is_some() => println!(
            "  busy feed: set; {}",
            match (&r.busy_fetched_at, &r.busy_error) {
                (_, Some(e)) => format!("last read failed: {e}"),
                (Some(at), None) => format!("read {}", at.to_rfc3339()),
                (None, None) => "not read yet".into(),
            }
        ),
        _ => println!("  no busy feed"),
    }
    if let Some(Err(e)) = fetched {
        return Err(Error::Refused(format!(
            "the busy feed could not be read: {e}"
        )));
    }
    Ok(())
}

fn print_slots(slots: &[DateTime<Utc>], tz: Tz) {
    for s in slots.iter().take(10) {
        println!(
            "  {}",
            s.with_timezone(&tz).format("%a %Y-%m-%d %H:%M %Z (UTC%:z)")
        );
    }
    if slots.len() > 10 {
        println!("  … and {} more", slots.len() - 10);
    }
}

/// `atsd interview offer APP --interviewer … [--between …]`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn offer(
    env: &Env,
    application: i64,
    interviewers: Vec<String>,
    duration: &str,
    between_arg: Option<&str>,
    timezone: Option<&str>,
    buffer: &str,
    notice: &str,
    place: (Option<String>, Option<String>, Option<String>),
    focus: Vec<String>,
) -> CmdResult {
    let store = env.store().await?;
    let app = crate::store::applications::find(store.conn(), application).await?;
    let (cand, _) = crate::store::applications::candidate_and_posting(store.conn(), &app).await?;
    let zone = timezone
        .map(String::from)
        .or(cand.timezone.clone())
        .unwrap_or_else(|| env.config().schedule.timezone.clone());
    let tz = crate::interviews::zone(&zone)?;
    let range = between_arg.map(|b| offers::between(b, tz)).transpose()?;
    // the panel's feeds, read now (a failure is said, the last read used)
    let ids: Vec<i64> = {
        let mut v = Vec::new();
        for e in &interviewers {
            if let Some(p) = people::find_any(store.conn(), e).await? {
                v.push(p.id);
            }
        }
        v
    };
    for (who, r) in offers::refresh_feeds(&store, env.config(), Some(&ids), env.now).await? {
        if let Err(e) = r {
            eprintln!(
                "warning: person {who}'s busy feed could not be read ({e}); its last reading is used"
            );
        }
    }
    let (location, video_url, title) = place;
    let req = OfferRequest {
        application_id: application,
        interviewers,
        minutes: i32::try_from(crate::interviews::minutes(duration)?).unwrap_or(i32::MAX),
        between: range,
        buffer_minutes: crate::interviews::span_minutes("--buffer", buffer)?,
        notice_minutes: crate::interviews::span_minutes("--notice", notice)?,
        title,
        location,
        video_url,
        focus,
        actor: super::actor(),
    };
    let out = offers::offer(&store, &env.ctx(), &req).await?;
    if env.json {
        return print_json(&out);
    }
    println!("{}", out.offer.id);
    eprintln!(
        "offer {}: {} slot(s) free now; {} emailed the link (until {}):\n  {}",
        out.offer.id,
        out.slots.len(),
        cand.email,
        out.offer.expires_at.to_rfc3339(),
        out.link
    );
    print_slots(&out.slots, tz);
    Ok(())
}

/// `atsd interview slots OFFER`.
pub(super) async fn slots(env: &Env, offer: i64) -> CmdResult {
    let store = env.store().await?;
    let t = offers::target(store.conn(), offer)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no offer with id {offer}")))?;
    let slots = offers::slots_of(
        store.conn(),
        env.config(),
        &t.offer,
        env.now,
        t.offer.interview_id,
    )
    .await?;
    if env.json {
        return print_json(&json!({"offer": t.offer, "slots": slots}));
    }
    let tz = crate::interviews::zone(
        t.candidate
            .timezone
            .as_deref()
            .unwrap_or(&env.config().schedule.timezone),
    )?;
    println!(
        "offer {} ({}): {} slot(s) free now",
        offer,
        t.offer.status,
        slots.len()
    );
    print_slots(&slots, tz);
    Ok(())
}
