//! The poller's HTTP client: one `reqwest::Client`, reused, with connect and
//! total timeouts, `User-Agent: atsd/<version>`, gzip, a redirect cap that
//! checks every hop against the SSRF guard, a DNS resolver that filters
//! refused addresses, no system proxy, conditional requests, and a body-size
//! cap enforced while streaming.

use super::guard::{Guard, GuardedResolver};
use chrono::{DateTime, Duration, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use std::sync::Arc;
use url::Url;

pub const USER_AGENT: &str = concat!("atsd/", env!("CARGO_PKG_VERSION"));
pub const MAX_REDIRECTS: usize = 5;

#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub timeout: std::time::Duration,
    pub connect_timeout: std::time::Duration,
    pub max_body: u64,
    pub follow_redirects: bool,
}

/// An answer, read in full (up to the cap).
#[derive(Clone, Debug)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub location: Option<String>,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Fetched {
    pub fn is_json(&self) -> bool {
        match &self.content_type {
            Some(ct) => ct.contains("json"),
            // some answers carry no content type: look at the body
            None => matches!(
                self.body.iter().find(|b| !b.is_ascii_whitespace()),
                Some(b'{') | Some(b'[')
            ),
        }
    }
}

/// Why no answer could be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("too many redirects (more than {MAX_REDIRECTS})")]
    Redirects,
    #[error("body larger than {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Other(String),
}

/// Builds the one client the poller uses.
pub fn client(guard: Arc<Guard>, opts: &HttpOptions) -> Result<reqwest::Client, String> {
    crate::tls::install_crypto();
    let hop_guard = guard.clone();
    let follow = opts.follow_redirects;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if !follow {
            return attempt.stop();
        }
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(FetchError::Redirects);
        }
        let target = attempt.url().to_string();
        match hop_guard.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(FetchError::Refused(format!("redirect to {target}: {e}"))),
        }
    });
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(opts.connect_timeout)
        .timeout(opts.timeout)
        .read_timeout(opts.timeout)
        .gzip(true)
        .no_proxy()
        .redirect(policy)
        .dns_resolver(Arc::new(GuardedResolver { guard }))
        .pool_max_idle_per_host(8)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// `Retry-After` in seconds or as an HTTP date, or a Harvest-style
/// `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset: <epoch>`.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = get("retry-after") {
        if let Ok(secs) = v.parse::<i64>() {
            return Some(Duration::seconds(secs.clamp(0, 86_400)));
        }
        if let Ok(t) = DateTime::parse_from_rfc2822(v) {
            return Some((t.with_timezone(&Utc) - now).max(Duration::zero()));
        }
    }
    if get("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = get("x-ratelimit-reset").and_then(|r| r.parse::<i64>().ok())
        && let Some(t) = DateTime::from_timestamp(reset, 0)
    {
        return Some((t - now).clamp(Duration::zero(), Duration::days(1)));
    }
    None
}

/// What went wrong with a request, in words.
pub fn classify(e: &reqwest::Error) -> FetchError {
    // errors raised by our redirect policy come back wrapped
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(fe) = s.downcast_ref::<FetchError>() {
            return fe.clone();
        }
        src = s.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    if msg.contains("refused addresses") || msg.contains("refused (allow_private_addresses") {
        return FetchError::Refused(msg);
    }
    if e.is_connect() || e.is_request() {
        FetchError::Connect(msg)
    } else {
        FetchError::Other(msg)
    }
}

/// GET `url`, conditional on the validators given, reading at most `max_body` bytes.
pub async fn get(
    client: &reqwest::Client,
    guard: &Guard,
    url: &Url,
    etag: Option<&str>,
    last_modified: Option<&str>,
    max_body: u64,
    now: DateTime<Utc>,
) -> Result<Fetched, FetchError> {
    guard.check_url(url).map_err(FetchError::Refused)?;
    let mut req = client.get(url.clone()).header(
        header::ACCEPT,
        "application/json, text/html;q=0.5, */*;q=0.1",
    );
    if let Some(e) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    if let Some(lm) = last_modified.and_then(|l| HeaderValue::from_str(l).ok()) {
        req = req.header(header::IF_MODIFIED_SINCE, lm);
    }
    let mut resp = req.send().await.map_err(|e| classify(&e))?;
    let h = resp.headers();
    let text = |name: header::HeaderName| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut out = Fetched {
        status: resp.status().as_u16(),
        content_type: text(header::CONTENT_TYPE).map(|c| c.to_ascii_lowercase()),
        etag: text(header::ETAG),
        last_modified: text(header::LAST_MODIFIED),
        location: text(header::LOCATION),
        retry_after: retry_after(h, now),
        body: Vec::new(),
    };
    if let Some(len) = resp.content_length()
        && len > max_body
    {
        return Err(FetchError::TooLarge(max_body));
    }
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
        if out.body.len() as u64 + chunk.len() as u64 > max_body {
            return Err(FetchError::TooLarge(max_body));
        }
        out.body.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        h.insert("Retry-After", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::seconds(7)));
        h.insert(
            "Retry-After",
            HeaderValue::from_static("Wed, 25 Nov 2026 09:02:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::seconds(120)));
        let mut h = HeaderMap::new();
        h.insert("X-Ratelimit-Remaining", HeaderValue::from_static("0"));
        h.insert(
            "X-RateLimit-Reset",
            HeaderValue::from_str(&(now.timestamp() + 30).to_string()).unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::seconds(30)));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
