//! The API's OpenAPI 3.1 document, generated from the handlers' and types'
//! annotations (utoipa) and served at `/v1/openapi.json`.

use super::problem::{FieldError, Problem};
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// A posting named by its id or by its URL.
#[derive(ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum PostingRef {
    Id(i64),
    Url(String),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "atsd",
        description = "The HTTP API of atsd, the applicant tracking workflow daemon: intake, \
                       moves, postings, people, interviews and the report. Every request carries a token \
                       (`atsd token create NAME --scope intake|recruiter|read`).",
        contact(name = "atsd developers", email = "atsd@example.org"),
    ),
    servers(
        (url = "http://127.0.0.1:9187", description = "A daemon on its default `[http] listen`: use your own's address"),
    ),
    tags(
        (name = "applications", description = "Candidates' applications and their moves through the pipeline"),
        (name = "postings", description = "Job postings, known by their URL"),
        (name = "people", description = "The people on the hiring side"),
        (name = "interviews", description = "Interviews with calendar invitations (iMIP): scheduled, moved, cancelled, with feedback"),
        (name = "report", description = "The pipeline report"),
        (name = "privacy", description = "Data-subject requests and candidates' exports (token scope privacy only)"),
        (name = "webhooks", description = "Web hooks that job boards send to atsd"),
    ),
    paths(
        super::application_routes::create_application,
        super::application_routes::list_applications,
        super::application_routes::get_application,
        super::application_routes::move_application,
        super::postings::list_postings,
        super::postings::add_posting,
        super::postings::set_posting_team,
        super::postings::list_people,
        super::interviews::schedule,
        super::interviews::list,
        super::interviews::get_interview,
        super::interviews::reschedule,
        super::interviews::cancel,
        super::interviews::feedback,
        super::scorecards::list,
        super::offers::offer,
        super::postings::report,
        super::privacy::open,
        super::privacy::list,
        super::privacy::export,
        super::webhooks::greenhouse,
    ),
    components(schemas(Problem, FieldError, PostingRef)),
    modifiers(&Bearer),
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = doc.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The document as JSON.
pub fn json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// `GET /v1/openapi.json`: no token needed.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_path() {
        let doc: serde_json::Value = serde_json::from_str(&json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
        for p in [
            "/v1/applications",
            "/v1/applications/{id}",
            "/v1/applications/{id}/moves",
            "/v1/postings",
            "/v1/report",
        ] {
            assert!(doc["paths"][p].is_object(), "{p} missing");
        }
        let body = &doc["components"]["schemas"]["NewApplicationBody"];
        assert_eq!(body["additionalProperties"], false, "{body}");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
