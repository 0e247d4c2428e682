//! What the job boards answer, parsed into typed structs (JOB-BOARDS.md).
//! Every field is optional except the job's id and title; unknown fields are
//! ignored; instants are stored in UTC. Pure.

use crate::posting::file::describe;
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

/// What a board says about one job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobInfo {
    pub id: String,
    pub title: String,
    pub location: Option<String>,
    pub company: Option<String>,
    /// `first_published` (Greenhouse), `createdAt` (Lever), `publishedAt` (Ashby).
    pub posted_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
    pub url: Option<String>,
}

/// Why a body could not be understood.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("unexpected JSON: {0}")]
    Shape(String),
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        _ => None,
    }
}

fn rfc3339(v: Option<&Value>) -> Option<DateTime<Utc>> {
    text(v)
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.with_timezone(&Utc))
}

fn id_of(v: Option<&Value>) -> Result<String, ParseError> {
    match v {
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(other) => Err(ParseError::Shape(format!("`id` is {other}"))),
        None => Err(ParseError::Shape("`id` is missing".into())),
    }
}

fn title_of(v: Option<&Value>) -> Result<String, ParseError> {
    text(v).ok_or_else(|| ParseError::Shape("`title` is missing or not text".into()))
}

fn parse_json(body: &[u8]) -> Result<Value, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))
}

/// One Greenhouse job object (`/v1/boards/{board}/jobs/{id}` or a list entry).
pub fn greenhouse_job(v: &Value) -> Result<JobInfo, ParseError> {
    let Value::Object(m) = v else {
        return Err(ParseError::Shape("a job is not an object".into()));
    };
    let gh_id = match m.get("id") {
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(other) => return Err(ParseError::Shape(format!("`id` is {other}, not a number"))),
        None => return Err(ParseError::Shape("`id` is missing".into())),
    };
    Ok(JobInfo {
        id: gh_id,
        title: title_of(m.get("title"))?,
        location: m.get("location").and_then(|l| text(l.get("name"))),
        company: text(m.get("company_name")),
        posted_at: rfc3339(m.get("first_published")),
        description: text(m.get("content"))
            .map(|c| crate::posting::file::decode_greenhouse_content(&c)),
        url: text(m.get("absolute_url")),
    })
}

pub fn greenhouse_single(body: &[u8]) -> Result<JobInfo, ParseError> {
    greenhouse_job(&parse_json(body)?)
}

/// `{"jobs": [...], "meta": {...}}`; a malformed entry spoils the whole list
/// (an absent job must not be concluded from a list we could not read).
pub fn greenhouse_list(body: &[u8]) -> Result<Vec<JobInfo>, ParseError> {
    let v = parse_json(body)?;
    match v.get("jobs") {
        Some(Value::Array(jobs)) => jobs.iter().map(greenhouse_job).collect(),
        Some(other) => Err(ParseError::Shape(format!("`jobs` is {}", describe(other)))),
        None => Err(ParseError::Shape("no `jobs` list".into())),
    }
}

/// One Lever posting.
pub fn lever_posting(v: &Value) -> Result<JobInfo, ParseError> {
    let Value::Object(m) = v else {
        return Err(ParseError::Shape("a posting is not an object".into()));
    };
    let cats = m.get("categories");
    Ok(JobInfo {
        id: id_of(m.get("id"))?.to_ascii_lowercase(),
        title: title_of(m.get("text"))?,
        location: cats.and_then(|c| text(c.get("location"))),
        company: None,
        posted_at: m
            .get("createdAt")
            .and_then(Value::as_i64)
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        description: text(m.get("descriptionPlain")).or_else(|| text(m.get("description"))),
        url: text(m.get("hostedUrl")),
    })
}

pub fn lever_single(body: &[u8]) -> Result<JobInfo, ParseError> {
    lever_posting(&parse_json(body)?)
}

/// Lever's list is a bare array.
pub fn lever_list(body: &[u8]) -> Result<Vec<JobInfo>, ParseError> {
    match parse_json(body)? {
        Value::Array(items) => items.iter().map(lever_posting).collect(),
        other => Err(ParseError::Shape(format!(
            "the list is {}",
            describe(&other)
        ))),
    }
}

#[derive(Deserialize)]
struct AshbyBoard {
    jobs: Vec<Value>,
}

/// Ashby's `{"apiVersion": "1", "jobs": [...]}`.
pub fn ashby_list(body: &[u8]) -> Result<Vec<JobInfo>, ParseError> {
    let board: AshbyBoard =
        serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    board
        .jobs
        .iter()
        .map(|j| {
            Ok(JobInfo {
                id: id_of(j.get("id"))?.to_ascii_lowercase(),
                title: title_of(j.get("title"))?,
                location: text(j.get("location")),
                company: None,
                posted_at: rfc3339(j.get("publishedAt")),
                description: text(j.get("descriptionPlain")),
                url: text(j.get("jobUrl")),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JOB: &str = r#"{"id": 127817, "internal_job_id": null, "title": "Vault Designer",
        "updated_at": "2024-04-01T14:32:15-04:00", "first_published": "2024-03-01T09:00:00-05:00",
        "requisition_id": null, "location": {"name": "NYC"}, "absolute_url": "https://boards.greenhouse.io/vaulttec/jobs/127817",
        "metadata": [{"id": 1, "name": "x", "value": 3, "value_type": "number"}, {"id": 2, "name": "y", "value": ["a"], "value_type": "multi"}],
        "content": "&lt;p&gt;Design vaults&lt;/p&gt;", "data_compliance": [], "surprise": {"nested": true}}"#;

    #[test]
    fn greenhouse_job_with_variants() {
        let j = greenhouse_single(JOB.as_bytes()).unwrap();
        assert_eq!(j.id, "127817");
        assert_eq!(j.title, "Vault Designer");
        assert_eq!(j.location.as_deref(), Some("NYC"));
        assert_eq!(
            j.posted_at.unwrap().to_rfc3339(),
            "2024-03-01T14:00:00+00:00"
        );
        assert_eq!(j.description.as_deref(), Some("<p>Design vaults</p>"));
        let no_first = JOB.replace("\"first_published\": \"2024-03-01T09:00:00-05:00\",", "");
        assert_eq!(
            greenhouse_single(no_first.as_bytes()).unwrap().posted_at,
            None
        );
        let z = JOB
            .replace("-05:00", "Z")
            .replace("\"metadata\": [", "\"metadata\": null, \"m2\": [");
        assert!(greenhouse_single(z.as_bytes()).is_ok());
    }

    #[test]
    fn greenhouse_bad_bodies_are_errors() {
        assert!(matches!(
            greenhouse_single(b"{\"id\": 1, \"ti"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            greenhouse_single(b"<html>maintenance</html>"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            greenhouse_single(b"{}"),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            greenhouse_single(br#"{"id":"abc","title":"x"}"#),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            greenhouse_list(br#"{"jobs":"bad"}"#),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(greenhouse_list(b"{}"), Err(ParseError::Shape(_))));
        assert_eq!(
            greenhouse_list(br#"{"jobs":[],"meta":{"total":0}}"#).unwrap(),
            vec![]
        );
    }

    #[test]
    fn lever_and_ashby() {
        let l = lever_list(br#"[{"id":"AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee","text":"Baker","categories":{"location":"Paris"},"createdAt":1700000000000}]"#).unwrap();
        assert_eq!(l[0].id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
        assert_eq!(l[0].location.as_deref(), Some("Paris"));
        assert_eq!(lever_list(b"[]").unwrap(), vec![]);
        assert!(lever_list(br#"{"ok":false,"error":"Document not found"}"#).is_err());
        let a = ashby_list(br#"{"apiVersion":"1","jobs":[{"id":"11111111-2222-3333-4444-555555555555","title":"Chef","isListed":false,"isRemote":null,"location":"Remote"}]}"#).unwrap();
        assert_eq!(a[0].title, "Chef");
    }

    proptest! {
        /// Adversarial JSON — arrays inside arrays past serde_json's
        /// recursion limit, escapes and entities, keys without end —
        /// repeated many times: an error or jobs, never a panic.
        #[test]
        fn adversarial_json_is_refused_or_read(
            units in proptest::collection::vec(
                proptest::sample::select(vec!["[", "{", "\"k\":0,", "\"\\u00e9\"", "&amp;lt;", ",", "]", "}", "null"]),
                0..300,
            ),
            times in 1usize..60,
        ) {
            let body: String = units.concat().repeat(times);
            for text in [format!("{{\"jobs\":[{body}]}}"), format!("{{\"jobs\":{body}"), body.clone()] {
                let _ = greenhouse_list(text.as_bytes());
                let _ = greenhouse_single(text.as_bytes());
                let _ = lever_list(text.as_bytes());
                let _ = ashby_list(text.as_bytes());
            }
        }

        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = greenhouse_single(&body);
            let _ = greenhouse_list(&body);
            let _ = lever_list(&body);
            let _ = lever_single(&body);
            let _ = ashby_list(&body);
        }

        #[test]
        fn json_shaped_noise_never_panics(s in r#"\{"(id|title|jobs|location)": ?(\d{1,5}|"[a-z]{0,5}"|null|\[\]|\{\}), ?"(title|content|first_published)": ?("[^"\\]{0,10}"|\d+|null)\}"#) {
            let _ = greenhouse_single(s.as_bytes());
            let _ = greenhouse_list(s.as_bytes());
        }
    }
}
