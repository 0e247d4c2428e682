//! Greenhouse's webhooks in: `POST /v1/webhooks/greenhouse`.
//!
//! The `Signature: sha256 <hex>` header is the HMAC-SHA256 of the raw body
//! with the secret of `[webhooks.greenhouse] secret_file`; it is checked in
//! constant time before the body is parsed, and a bad or missing one gets 401.
//! Each `Greenhouse-Event-ID` acts once (a repeated delivery is answered 200
//! and does nothing). A `job_post_updated` with `live: false`, a
//! `job_post_deleted` or a `job_deleted` for a posting atsd knows starts an
//! immediate poll of that posting, after the answer: the webhook alone never
//! closes anything; the poll's confirmation rules do. The ping is answered 200.

use super::problem::Problem;
use super::{ApiState, runner};
use crate::store::webhooks as hooks;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The largest webhook body read (Greenhouse's job posts carry their HTML).
pub const MAX_BODY: usize = 1024 * 1024;

/// Whether `signature` (`sha256 <hex>`) is the HMAC-SHA256 of `body` under
/// `secret`; compared in constant time.
pub fn signed(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.trim().strip_prefix("sha256 ") else {
        return false;
    };
    let Some(tag) = decode_hex(hex.trim()) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::verify(&key, body, &tag).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The Greenhouse job post ids a delivery says are offline, if any.
pub fn offline_job_posts(v: &Value) -> Vec<String> {
    let id = |x: &Value| match x {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let p = &v["payload"];
    match v["action"].as_str().unwrap_or_default() {
        "job_post_updated" if p["job_post"]["live"] == Value::Bool(false) => {
            id(&p["job_post"]["id"]).into_iter().collect()
        }
        "job_post_deleted" => id(&p["job_post"]["id"]).into_iter().collect(),
        "job_deleted" => {
            let mut ids: Vec<String> = p["job"]["job_posts"]
                .as_array()
                .map(|a| a.iter().filter_map(|jp| id(&jp["id"])).collect())
                .unwrap_or_default();
            ids.extend(id(&p["job"]["id"]));
            ids
        }
        _ => Vec::new(),
    }
}

/// Greenhouse's web hooks.
///
/// `POST /v1/webhooks/greenhouse` (no token): checked by their HMAC
/// signature over the raw body; a repeated `Greenhouse-Event-ID` acts once.
#[utoipa::path(post, path = "/v1/webhooks/greenhouse", tag = "webhooks",
    request_body(content = Object, description = "Greenhouse's web hook, as it sends it", content_type = "application/json"),
    params(
        ("Signature" = String, Header, description = "`sha256 <hex>`: the HMAC-SHA256 of the raw body with the shared secret"),
        ("Greenhouse-Event-ID" = Option<String>, Header, description = "A repeated id acts once"),
    ),
    responses(
        (status = 200, description = "Taken (or a repeat, ignored; or the ping)", body = Object),
        (status = 400, description = "Signed, but not JSON", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Bad or missing signature", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "[webhooks.greenhouse] is not configured", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 16 KiB", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable: retry later", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn greenhouse(State(s): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&s, &headers, &body).await {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(p) => p.into_response(),
    }
}

async fn handle(s: &ApiState, headers: &HeaderMap, body: &[u8]) -> Result<Value, Problem> {
    let r = runner(s)?;
    let Some(cfg) = r
        .config
        .webhooks
        .as_ref()
        .and_then(|w| w.greenhouse.as_ref())
    else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Greenhouse webhooks are not configured ([webhooks.greenhouse])",
        ));
    };
    let secret = crate::secret_file::read(&cfg.secret_file, "webhooks.greenhouse.secret_file")
        .map_err(|e| {
            tracing::error!(error = %e, "webhooks: cannot read the Greenhouse secret");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the webhook secret cannot be read",
            )
        })?;
    let secret = secret.trim_end_matches(['\r', '\n']).to_string();
    let signature = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !signed(secret.as_bytes(), body, signature) {
        tracing::warn!(
            "webhooks: a Greenhouse delivery with a bad or missing signature was refused"
        );
        return Err(Problem::new(StatusCode::UNAUTHORIZED, "bad signature"));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, format!("not JSON: {e}")))?;
    let action = v["action"].as_str().unwrap_or("unknown").to_string();
    if action == "ping" {
        return Ok(json!({"ok": true, "action": "ping"}));
    }
    let event_id = headers
        .get("greenhouse-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| crate::store::tokens::sha256(body));
    let fresh = hooks::record_incoming(
        &s.store,
        "greenhouse",
        &event_id,
        &action,
        chrono::Utc::now(),
    )
    .await
    .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?;
    if !fresh {
        tracing::info!(event = %event_id, "webhooks: Greenhouse delivery seen before; ignored");
        return Ok(json!({"ok": true, "duplicate": true}));
    }
    let ids = offline_job_posts(&v);
    let postings = if ids.is_empty() {
        Vec::new()
    } else {
        hooks::postings_of(&s.store, "greenhouse", ids)
            .await
            .map_err(|e| Problem::from_error(&e, StatusCode::CONFLICT))?
    };
    tracing::info!(event = %event_id, action = %action, postings = ?postings, "webhooks: Greenhouse delivery");
    if !postings.is_empty() {
        // answered at once; the confirming poll runs after
        let (store, runner, ids) = (s.store.clone(), r.clone(), postings.clone());
        tokio::spawn(async move {
            let ctx = runner.ctx(chrono::Utc::now());
            match crate::poll::poller::run(&store, &ctx, &ids).await {
                Ok(rep) => {
                    for o in &rep.outcomes {
                        tracing::info!(posting = o.id, outcome = %o.outcome, "webhooks: confirming poll");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhooks: the confirming poll failed"),
            }
        });
    }
    Ok(json!({"ok": true, "action": action, "polling": postings}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_the_hmac_of_the_exact_body() {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        let body = br#"{"action":"ping"}"#;
        let tag = ring::hmac::sign(&key, body);
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert!(signed(b"s3cret", body, &format!("sha256 {hex}")));
        assert!(!signed(
            b"s3cret",
            br#"{"action":"pinG"}"#,
            &format!("sha256 {hex}")
        ));
        assert!(!signed(b"other", body, &format!("sha256 {hex}")));
        assert!(!signed(b"s3cret", body, &hex));
        assert!(!signed(b"s3cret", body, "sha256 zz"));
        assert!(!signed(b"s3cret", body, ""));
    }

    #[test]
    fn offline_posts_are_read_from_each_action() {
        let v = json!({"action": "job_post_updated", "payload": {"job_post": {"id": 127817, "live": false}}});
        assert_eq!(offline_job_posts(&v), vec!["127817"]);
        let v = json!({"action": "job_post_updated", "payload": {"job_post": {"id": 127817, "live": true}}});
        assert!(offline_job_posts(&v).is_empty());
        let v = json!({"action": "job_post_deleted", "payload": {"job_post": {"id": "5"}}});
        assert_eq!(offline_job_posts(&v), vec!["5"]);
        let v = json!({"action": "job_deleted", "payload": {"job": {"id": 9, "job_posts": [{"id": 1}, {"id": 2}]}}});
        assert_eq!(offline_job_posts(&v), vec!["1", "2", "9"]);
        assert!(offline_job_posts(&json!({"action": "candidate_hired"})).is_empty());
        assert!(offline_job_posts(&json!(null)).is_empty());
    }
}
