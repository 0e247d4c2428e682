//! The HTTP listener (`[http] listen`, off by default): `GET /healthz` and
//! `GET /metrics` for the operator, and the API under `/v1`
//! ([`crate::api`]), served by axum on hyper. Bounded: at
//! most [`MAX_CONNECTIONS`] connections at once, request heads of at most
//! 16 KiB read within 10 s, bodies of at most 16 KiB, each connection closed
//! after a minute.

use super::Health;
use super::exposition::Exposition;
use super::metrics::Metrics;
use crate::error::{Error, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const MAX_CONNECTIONS: usize = 64;
const MAX_HEAD: usize = 16 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct AppState {
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
    pub current: Arc<crate::jobs::Current>,
    /// `[http] cors_origins` at start (a change takes a restart).
    pub cors_origins: Vec<String>,
}

/// Binds the listener; the error names the address.
pub async fn bind(listen: &str) -> Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .map_err(|e| Error::io(format!("cannot listen on http.listen `{listen}`"), e))
}

pub fn router(state: AppState) -> Router {
    let cors = state.cors_origins.clone();
    let api = crate::api::router(crate::api::ApiState {
        store: state.health.store.clone(),
        current: state.current.clone(),
        limiter: Arc::default(),
        intake: crate::api::intake::Queue::start(state.health.store.clone()),
    });
    // CORS only for the origins configured (none by default: a browser page
    // on another site cannot call the API)
    let api = if cors.is_empty() {
        api
    } else {
        let origins: Vec<axum::http::HeaderValue> =
            cors.iter().filter_map(|o| o.parse().ok()).collect();
        api.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    axum::http::HeaderName::from_static("idempotency-key"),
                ])
                .max_age(Duration::from_secs(600)),
        )
    };
    let board = crate::recruiter_board::router(crate::recruiter_board::BoardState {
        store: state.health.store.clone(),
        current: state.current.clone(),
        charts: Arc::default(),
    });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_HEAD))
        .with_state(state)
        .merge(board)
        .merge(api)
}

/// Serves until `cancel`.
pub async fn serve(listener: TcpListener, state: AppState, cancel: CancellationToken) {
    serve_router(listener, router(state), cancel).await
}

/// Serves `app` with the listener's bounds (connections, head size and
/// time, connection lifetime) until `cancel`; the benchmarks serve their
/// reference files beside the real routes through it.
pub async fn serve_router(listener: TcpListener, app: Router, cancel: CancellationToken) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // too many open files and the like: pause rather than spin
                    tracing::warn!(error = %e, "http: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // the peer's address, for whoever limits by it (the careers site)
        let service = TowerToHyperService::new(tower::Layer::layer(
            &axum::Extension(axum::extract::ConnectInfo(peer)),
            app.clone(),
        ));
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = cancel.cancelled() => {}
                r = tokio::time::timeout(CONNECTION_LIFETIME, conn) => {
                    if let Ok(Err(e)) = r {
                        tracing::debug!(%peer, error = %e, "http: connection ended with an error");
                    }
                }
            }
        });
    }
}

async fn healthz(State(s): State<AppState>) -> Response {
    let report = s.health.check().await;
    let code = if report.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(report)).into_response()
}

async fn metrics(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Exposition::negotiate(accept);
    match s.metrics.render(&s.health.store, format).await {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, format.content_type()),
                (header::VARY, "Accept"),
            ],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "http: cannot read the metrics from the database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot read the metrics from the database: {e}\n"),
            )
                .into_response()
        }
    }
}

/// Whether a request comes from another site, by what the browser says
/// (`Sec-Fetch-Site`, else `Origin` against `Host`): every form that acts
/// (the board's, the self-service pages', the careers site's) refuses one.
pub fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    let text = |h| headers.get(h).map(|v| v.to_str().unwrap_or("?"));
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return true;
    }
    match text(header::ORIGIN.as_str()) {
        None => false,
        Some(origin) => {
            let host = text(header::HOST.as_str()).unwrap_or("");
            let origin_host = url::Url::parse(origin).ok().and_then(|u| {
                let h = u.host_str()?.to_string();
                Some(match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h,
                })
            });
            origin_host.is_none_or(|o| !o.eq_ignore_ascii_case(host))
        }
    }
}
