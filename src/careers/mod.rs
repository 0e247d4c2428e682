//! The careers site (SPEC: issue 34): postings published on a named board
//! (`[careers] board`), listed and read through Greenhouse's Job Board API
//! in its own shapes ([`greenhouse`]) and on server-rendered pages
//! ([`pages`]), and applied to through either, with files kept by their
//! bytes' digest ([`files`]). Everything here is served on `[careers]
//! listen`, a listener of its own ([`http`]).
//!
//! What a posting shows beyond its row comes from its front matter, kept
//! as `raw`: `departments`, `offices` (else its location), `metadata` (a
//! mapping of name to value), `questions` ([`questions`]), `requisitionId`,
//! `employmentType`, `validThrough`; `published: true|false` publishes or
//! withdraws it when the file is imported.

pub mod apply;
pub mod files;
pub mod greenhouse;
pub mod http;
pub mod pages;
pub mod questions;
pub mod submit;

use chrono::{DateTime, Utc};
use entity::posting;
use serde_json::Value as Json;

/// schema.org's employment types, the values `employmentType` may take.
pub const EMPLOYMENT_TYPES: [&str; 8] = [
    "FULL_TIME",
    "PART_TIME",
    "CONTRACTOR",
    "TEMPORARY",
    "INTERN",
    "VOLUNTEER",
    "PER_DIEM",
    "OTHER",
];

/// Checks a front matter's careers fields; the error names the field.
pub fn check_front_matter(raw: &Json) -> Result<(), String> {
    if let Some(v) = raw.get("published")
        && !matches!(v, Json::Bool(_) | Json::Null)
    {
        return Err(format!("field `published`: {v} is not true or false"));
    }
    for key in ["departments", "offices"] {
        names(raw, key)?;
    }
    match raw.get("metadata") {
        None | Some(Json::Null) => {}
        Some(Json::Object(m)) => {
            for (k, v) in m {
                if !(v.is_string() || v.is_number() || v.is_boolean() || v.is_null()) {
                    return Err(format!(
                        "field `metadata.{k}`: expected a text, number or true/false"
                    ));
                }
            }
        }
        Some(other) => return Err(format!("field `metadata`: {other} is not a mapping")),
    }
    match raw.get("employmentType") {
        None | Some(Json::Null) => {}
        Some(Json::String(s)) if EMPLOYMENT_TYPES.contains(&s.as_str()) => {}
        Some(other) => {
            return Err(format!(
                "field `employmentType`: {other} is not one of {}",
                EMPLOYMENT_TYPES.join(", ")
            ));
        }
    }
    match raw.get("validThrough") {
        None | Some(Json::Null) => {}
        Some(Json::String(s)) if crate::import::parse_time(s).is_ok() => {}
        Some(other) => {
            return Err(format!(
                "field `validThrough`: {other} is not a date or an RFC 3339 time"
            ));
        }
    }
    match raw.get("requisitionId") {
        None | Some(Json::Null) | Some(Json::String(_)) | Some(Json::Number(_)) => {}
        Some(other) => return Err(format!("field `requisitionId`: {other} is not a text")),
    }
    questions::parse(raw)?;
    Ok(())
}

/// `published:` in a front matter: `Some(true)` publishes on import,
/// `Some(false)` withdraws, none leaves it as it is.
pub fn front_published(raw: &Json) -> Option<bool> {
    raw.get("published").and_then(Json::as_bool)
}

/// A list of names (`departments`, `offices`): a text or a list of texts.
fn names(raw: &Json, key: &str) -> Result<Vec<String>, String> {
    match raw.get(key) {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::String(s)) if !s.trim().is_empty() => Ok(vec![s.trim().to_string()]),
        Some(Json::Array(a)) => a
            .iter()
            .map(|v| match v {
                Json::String(s) if !s.trim().is_empty() && s.chars().count() <= 200 => {
                    Ok(s.trim().to_string())
                }
                other => Err(format!("field `{key}`: {other} is not a name")),
            })
            .collect(),
        Some(other) => Err(format!(
            "field `{key}`: {other} is not a name or a list of names"
        )),
    }
}

/// A published posting as the careers site shows it.
#[derive(Clone, Debug)]
pub struct Job {
    pub posting: posting::Model,
    pub departments: Vec<String>,
    pub offices: Vec<String>,
    /// `(name, value)`, by name.
    pub metadata: Vec<(String, Json)>,
    pub questions: Vec<questions::Question>,
    pub requisition_id: Option<String>,
    pub employment_type: Option<String>,
    pub valid_through: Option<DateTime<Utc>>,
}

impl Job {
    /// A posting's careers view. Fields the import checked; anything that
    /// no longer reads (an older row) is left out rather than refused.
    pub fn of(posting: posting::Model) -> Job {
        let raw = posting.raw.clone().unwrap_or(Json::Null);
        let departments = names(&raw, "departments").unwrap_or_default();
        let mut offices = names(&raw, "offices").unwrap_or_default();
        if offices.is_empty()
            && let Some(l) = &posting.location
        {
            offices.push(l.clone());
        }
        let metadata = match raw.get("metadata") {
            Some(Json::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        };
        let requisition_id = match raw.get("requisitionId") {
            Some(Json::String(s)) => Some(s.clone()),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Job {
            departments,
            offices,
            metadata,
            questions: questions::parse(&raw).unwrap_or_default(),
            requisition_id,
            employment_type: raw
                .get("employmentType")
                .and_then(Json::as_str)
                .map(String::from),
            valid_through: raw
                .get("validThrough")
                .and_then(Json::as_str)
                .and_then(|s| crate::import::parse_time(s).ok()),
            posting,
        }
    }

    /// Open and published: shown and applied to.
    pub fn is_live(&self) -> bool {
        self.posting.published_at.is_some() && self.posting.status != "closed"
    }

    /// The description as safe HTML: the Markdown body rendered, then
    /// sanitized (no script, no style, no event handlers; links get
    /// `rel="noopener noreferrer"`).
    pub fn content_html(&self) -> String {
        let md = self.posting.description.as_deref().unwrap_or("");
        let mut html = String::new();
        let parser = pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::empty());
        pulldown_cmark::html::push_html(&mut html, parser);
        ammonia::clean(&html)
    }

    /// The description as plain text (for search and JSON-LD's fallback).
    pub fn content_text(&self) -> String {
        ammonia::Builder::empty()
            .clean(&self.content_html())
            .to_string()
    }
}

/// A stable id for a department or an office, from its name (FNV-1a), so
/// that clients may keep it.
pub fn id_of(name: &str) -> u32 {
    questions::id_of(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn careers_fields_are_checked_by_name() {
        assert!(check_front_matter(&json!({"published": true, "departments": ["Kitchen"], "offices": "Berlin", "metadata": {"Shift": "Early", "Hours": 40}, "employmentType": "FULL_TIME", "validThrough": "2027-01-31"})).is_ok());
        for (raw, says) in [
            (json!({"published": "yes"}), "`published`"),
            (json!({"departments": [1]}), "`departments`"),
            (json!({"metadata": {"a": [1]}}), "`metadata.a`"),
            (json!({"employmentType": "GIG"}), "`employmentType`"),
            (json!({"validThrough": "soon"}), "`validThrough`"),
        ] {
            let e = check_front_matter(&raw).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn descriptions_are_sanitized() {
        let mut p = posting::Model {
            id: 1,
            url: "u".into(),
            source: "generic".into(),
            board: None,
            external_id: None,
            title: "t".into(),
            company: None,
            location: Some("Berlin".into()),
            description: Some(
                "# Cook\n\n<script>alert(1)</script>\n\n[site](https://x.example) <img src=x onerror=alert(1)>".into(),
            ),
            apply_url: None,
            posted_at: None,
            status: "open".into(),
            status_changed_at: None,
            board_missing: false,
            etag: None,
            last_modified: None,
            last_polled_at: None,
            consecutive_not_found: 0,
            last_not_found_at: None,
            consecutive_errors: 0,
            next_poll_at: None,
            last_error: None,
            raw: None,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
            published_at: None,
            first_published_at: None,
            scorecard: None,
        };
        let j = Job::of(p.clone());
        let h = j.content_html();
        assert!(h.contains("<h1>Cook</h1>"), "{h}");
        assert!(!h.contains("script") && !h.contains("onerror"), "{h}");
        assert!(h.contains("rel=\"noopener noreferrer\""), "{h}");
        assert_eq!(j.offices, ["Berlin"]);
        assert!(!j.is_live());
        p.published_at = Some(DateTime::UNIX_EPOCH);
        assert!(Job::of(p).is_live());
    }
}
