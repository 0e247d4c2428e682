//! Errors as RFC 9457 problem details (`application/problem+json`), each bad
//! field named in `errors`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem: what went wrong, and each bad field.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: Some(detail.into()),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 422 naming each bad field.
    pub fn fields(errors: Vec<(&str, String)>) -> Problem {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the request has invalid fields",
        );
        p.errors = errors
            .into_iter()
            .map(|(field, message)| FieldError {
                field: field.to_string(),
                message,
            })
            .collect();
        p
    }

    /// 401: no token, an unknown one or a revoked one (which, is not said).
    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "a valid API token is needed: Authorization: Bearer <token>",
        )
    }

    /// 403: the token's scope does not allow this.
    pub fn forbidden() -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "this token may not do that")
    }

    /// The API's answer to an error of the library: `refused` is the status
    /// for [`crate::Error::Refused`] (409 for a second application, 422 for a
    /// move the pipeline forbids).
    pub fn from_error(e: &crate::Error, refused: StatusCode) -> Problem {
        use crate::Error;
        match e {
            Error::Input(m) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, m.clone()),
            Error::NotFound(m) => Problem::new(StatusCode::NOT_FOUND, m.clone()),
            Error::Refused(m) => Problem::new(refused, m.clone()),
            Error::Conflict(m) => Problem::new(StatusCode::CONFLICT, m.clone()),
            other => {
                tracing::error!(error = %other, "api: request failed");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the request failed; the server log has the details",
                )
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_else(|_| "{}".into());
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}
