//! Outgoing webhooks: atsd's events delivered to the `[[webhooks.out]]`
//! endpoints with the email outbox's promises. Each endpoint reads the event
//! log with a cursor of its own ([`fan_out`]): the events it wants become
//! delivery rows, and the cursor moves, in one transaction. Deliveries are
//! then claimed with a lease, POSTed (signed per Standard Webhooks), and
//! marked `delivered` only after a 2xx answer; other answers and errors are
//! retried with backoff until `max_attempts`, then `dead` (`atsd webhook
//! retry` sends them again). A crash leaves a claimed row to be taken over
//! after its lease: a receiver may then see an event twice, with the same
//! `webhook-id`, which is what the specification asks receivers to dedupe by.
//! The poller's SSRF guard applies to the endpoints' addresses.

pub mod sign;

use crate::config::{Config, OutWebhookConfig};
use crate::error::{Error, Result};
use crate::poll::guard::Guard;
use crate::poll::http::HttpOptions;
use crate::store::Store;
use crate::store::events::{self, Event};
use crate::store::lease::{AfterFailure, Backoff, Queue};
use crate::store::webhooks as store_hooks;
use chrono::{DateTime, Duration, Utc};
use entity::webhook_delivery;
use serde::Serialize;
use sign::Secret;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How long a claimed delivery is ours before another dispatcher may take it.
pub const LEASE: Duration = Duration::minutes(2);
/// Deliveries claimed at once, and sent at once.
const BATCH: usize = 200;
const CONCURRENCY: usize = 8;
/// Events read per step of the fan-out.
const FAN_OUT_PAGE: u64 = 1000;
/// At most this much of an error answer is kept.
const ERROR_BODY: usize = 200;

/// What one run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Delivery rows made from new events.
    pub queued: u64,
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
    /// Endpoints not served this run, with why (an unreadable secret).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// The body of one delivery: the event as the feed prints it.
pub fn payload(e: &Event) -> Vec<u8> {
    serde_json::to_vec(e).unwrap_or_default()
}

/// The `webhook-id` of an event: the same on every attempt and endpoint.
pub fn message_id(event_id: i64) -> String {
    format!("evt_{event_id}")
}

/// Delivers every due event to every configured endpoint, until nothing is
/// due at `now` or `stop` is cancelled.
pub async fn run(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<Report> {
    let mut report = Report::default();
    let hooks: Vec<&OutWebhookConfig> = config.webhooks.iter().flat_map(|w| &w.out).collect();
    if hooks.is_empty() {
        return Ok(report);
    }
    let mut ready: HashMap<String, (OutWebhookConfig, Secret)> = HashMap::new();
    for h in &hooks {
        match Secret::read(&h.secret_file) {
            Ok(s) => {
                ready.insert(h.name.clone(), ((*h).clone(), s));
            }
            Err(e) => {
                tracing::error!(endpoint = %h.name, error = %e, "webhooks: endpoint skipped");
                report.skipped.push(format!("{}: {e}", h.name));
            }
        }
    }
    for h in &hooks {
        report.queued += fan_out(store, h, now).await?;
    }
    let guard = Arc::new(guard(config)?);
    let timeout = hooks
        .iter()
        .map(|h| h.timeout.std())
        .max()
        .unwrap_or_default();
    let client = crate::poll::http::client(
        guard.clone(),
        &HttpOptions {
            timeout,
            connect_timeout: timeout.min(std::time::Duration::from_secs(5)),
            max_body: 0,
            follow_redirects: false,
        },
    )
    .map_err(Error::Other)?;
    let names: Vec<String> = ready.keys().cloned().collect();
    let ready = Arc::new(ready);
    while !stop.is_cancelled() {
        let claimed = claim(store, &names, now, BATCH).await?;
        if claimed.is_empty() {
            break;
        }
        let ids: Vec<i64> = claimed.iter().map(|d| d.event_id).collect();
        let by_id: HashMap<i64, Event> = events::by_ids(store.conn(), &ids)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut set = tokio::task::JoinSet::new();
        for d in claimed {
            let Some(event) = by_id.get(&d.event_id).cloned() else {
                continue;
            };
            let (client, ready, guard, sem) =
                (client.clone(), ready.clone(), guard.clone(), sem.clone());
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let outcome = match ready.get(&d.endpoint) {
                    Some((hook, secret)) => deliver(&client, &guard, hook, secret, &event).await,
                    None => Err((None, "the endpoint is no longer configured".into())),
                };
                (d, outcome)
            });
        }
        let mut outcomes = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(o) = r {
                outcomes.push(o);
            }
        }
        record(store, &ready, outcomes, now, &mut report).await?;
    }
    Ok(report)
}

fn guard(config: &Config) -> Result<Guard> {
    Ok(crate::poll::poller::Settings::from_config(config)?.guard)
}

/// One POST: `Ok(status)` for a 2xx, else the status (if any) and why.
async fn deliver(
    client: &reqwest::Client,
    guard: &Guard,
    hook: &OutWebhookConfig,
    secret: &Secret,
    event: &Event,
) -> std::result::Result<u16, (Option<u16>, String)> {
    let url = url::Url::parse(&hook.url).map_err(|e| (None, format!("bad URL: {e}")))?;
    guard
        .check_url(&url)
        .map_err(|e| (None, format!("refused: {e}")))?;
    let body = payload(event);
    let id = message_id(event.id);
    // the time of sending, not the job's clock: receivers check it
    let ts = Utc::now().timestamp();
    let answer = client
        .post(url)
        .timeout(hook.timeout.std())
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", secret.sign(&id, ts, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| (None, crate::poll::http::classify(&e).to_string()))?;
    let status = answer.status().as_u16();
    if answer.status().is_success() {
        return Ok(status);
    }
    // the start of the answer only, however much the receiver sends
    let mut answer = answer;
    let mut head = Vec::new();
    while head.len() < ERROR_BODY * 4 {
        match answer.chunk().await {
            Ok(Some(c)) => head.extend_from_slice(&c),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut short: String = text.chars().take(ERROR_BODY).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    Err((Some(status), format!("HTTP {status}: {}", short.trim())))
}

/// Makes delivery rows for the events `hook` wants that it has not seen
/// ([`store::webhooks::fan_out`]).
pub async fn fan_out(store: &Store, hook: &OutWebhookConfig, now: DateTime<Utc>) -> Result<u64> {
    store_hooks::fan_out(
        store,
        &hook.name,
        &hook.url,
        &hook.events,
        FAN_OUT_PAGE,
        now,
    )
    .await
}

/// The deliveries as a leased queue.
const DELIVERIES: Queue = Queue {
    table: "webhook_deliveries",
    mark: None,
};

/// Claims up to `limit` due deliveries of these endpoints, leased until
/// `now + LEASE`; a delivery taken over from a lease that ran out is
/// reported (its endpoint may get the event twice, with the same
/// `webhook-id`).
async fn claim(
    store: &Store,
    endpoints: &[String],
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<webhook_delivery::Model>> {
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; endpoints.len()].join(", ");
    let values: Vec<sea_orm::Value> = endpoints.iter().map(|e| e.clone().into()).collect();
    let c = DELIVERIES
        .claim::<webhook_delivery::Entity>(
            store,
            (&format!("endpoint IN ({marks})"), values),
            "event_id, id",
            limit,
            now,
            LEASE,
        )
        .await?;
    for id in &c.taken_over {
        tracing::warn!(
            delivery = id,
            "lease expired while delivering: retrying; the endpoint may get this event twice"
        );
    }
    Ok(c.rows)
}

type Outcome = (
    webhook_delivery::Model,
    std::result::Result<u16, (Option<u16>, String)>,
);

/// Writes a batch's outcomes in one transaction (only rows still ours).
async fn record(
    store: &Store,
    ready: &HashMap<String, (OutWebhookConfig, Secret)>,
    outcomes: Vec<Outcome>,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<()> {
    let txn = store.begin_write().await?;
    for (d, outcome) in outcomes {
        let max = ready.get(&d.endpoint).map_or(1, |(h, _)| h.max_attempts);
        let (status, next, code, error) = match outcome {
            Ok(code) => ("delivered", now, Some(code), None),
            Err((code, e)) => match Backoff::MAIL.after_failure(d.attempts, max, d.id, now) {
                AfterFailure::Dead => (
                    "dead",
                    now,
                    code,
                    Some(format!("{e} (gave up after {} attempts)", d.attempts)),
                ),
                AfterFailure::Retry(at) => ("pending", at, code, Some(e)),
            },
        };
        let changed = DELIVERIES
            .record_if_ours(
                &txn,
                &[d.id],
                "status = ?, next_attempt_at = ?, last_status = ?, last_error = ?, \
                 lease_until = NULL, delivered_at = ?, updated_at = ?",
                vec![
                    status.into(),
                    next.into(),
                    code.map(i32::from).into(),
                    error.clone().into(),
                    (status == "delivered").then_some(now).into(),
                    now.into(),
                ],
            )
            .await?;
        if changed != 1 {
            continue;
        }
        match status {
            "delivered" => report.delivered += 1,
            "dead" => {
                report.dead += 1;
                tracing::error!(endpoint = %d.endpoint, event = d.event_id, delivery = d.id,
                    error = error.as_deref().unwrap_or(""), "webhook delivery dead");
            }
            _ => {
                report.retried += 1;
                tracing::warn!(endpoint = %d.endpoint, event = d.event_id, delivery = d.id,
                    attempt = d.attempts, error = error.as_deref().unwrap_or(""), "webhook delivery failed; retried later");
            }
        }
    }
    txn.commit().await?;
    Ok(())
}

pub use store_hooks::{Listed, list, retry};
