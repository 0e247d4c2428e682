//! The careers board in the shapes of Greenhouse's Job Board API
//! (`developers.greenhouse.io/job-board.html`): the same fields, nesting,
//! types and escaping, so that a client written for Greenhouse reads atsd
//! with its base URL changed. `content` is HTML escaped as entities once,
//! as Greenhouse sends it.

use super::{Job, id_of, questions};
use crate::config::Config;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

/// A time as Greenhouse writes it (RFC 3339 with its offset).
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The base jobs' `absolute_url`s are made from.
pub fn public_base(config: &Config) -> String {
    config
        .careers
        .as_ref()
        .map(|c| {
            c.public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", c.listen))
        })
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string()
}

/// What Greenhouse's `data_compliance` says, from the retention settings:
/// GDPR, with the period candidates' data is kept (in days).
pub fn data_compliance(config: &Config) -> Json {
    let days = config.retention.anonymize_after.chrono().num_days();
    json!([{
        "type": "gdpr",
        "requires_consent": false,
        "requires_processing_consent": false,
        "requires_retention_consent": false,
        "retention_period": days,
        "demographic_data_consent_applies": false,
    }])
}

fn metadata(j: &Job) -> Json {
    if j.metadata.is_empty() {
        return Json::Null;
    }
    Json::Array(
        j.metadata
            .iter()
            .map(|(name, value)| {
                let value_type = match value {
                    Json::Number(_) => "number",
                    Json::Bool(_) => "yes_no",
                    _ => "short_text",
                };
                json!({"id": id_of(name), "name": name, "value": value, "value_type": value_type})
            })
            .collect(),
    )
}

fn department(name: &str) -> Json {
    json!({"id": id_of(name), "name": name, "parent_id": null, "child_ids": []})
}

fn office(name: &str) -> Json {
    json!({"id": id_of(name), "name": name, "location": name, "parent_id": null, "child_ids": []})
}

/// One job of `/jobs`: with `content`, its departments and offices too.
pub fn job(config: &Config, j: &Job, content: bool) -> Json {
    let p = &j.posting;
    let mut v = json!({
        "absolute_url": format!("{}/careers/jobs/{}", public_base(config), p.id),
        "data_compliance": data_compliance(config),
        "internal_job_id": p.id,
        "location": {"name": p.location.clone().unwrap_or_default()},
        "metadata": metadata(j),
        "id": p.id,
        "updated_at": time(p.updated_at),
        "requisition_id": j.requisition_id,
        "title": p.title,
        "company_name": p.company.clone().unwrap_or_else(|| config.org.name.clone()),
        "first_published": p.first_published_at.map(time),
        "language": config.org.default_locale.split(['-', '_']).next().unwrap_or("en"),
    });
    if content {
        // entities for &, <, > and ", as Greenhouse escapes its content
        v["content"] = Json::String(
            html_escape::encode_double_quoted_attribute(&j.content_html()).replace('>', "&gt;"),
        );
        v["departments"] = Json::Array(j.departments.iter().map(|d| department(d)).collect());
        v["offices"] = Json::Array(j.offices.iter().map(|o| office(o)).collect());
    }
    v
}

/// `GET /v1/boards/{board}/jobs[?content=true]`.
pub fn jobs(config: &Config, live: &[Job], content: bool) -> Json {
    json!({
        "jobs": live.iter().map(|j| job(config, j, content)).collect::<Vec<_>>(),
        "meta": {"total": live.len()},
    })
}

/// `GET /v1/boards/{board}/jobs/{id}[?questions=true&pay_transparency=true]`.
pub fn one_job(config: &Config, j: &Job, with_questions: bool, pay: bool) -> Json {
    let mut v = job(config, j, true);
    if with_questions {
        v["questions"] = Json::Array(questions::greenhouse(&j.questions));
        v["location_questions"] = json!([]);
        v["compliance"] = Json::Null;
        v["demographic_questions"] = Json::Null;
    }
    if pay {
        v["pay_input_ranges"] = json!([]);
    }
    v
}

/// `GET /v1/boards/{board}`.
pub fn board(config: &Config) -> Json {
    json!({"name": config.org.name, "content": ""})
}

/// `GET /v1/boards/{board}/departments`: every department of a live job,
/// each with its jobs (and "No Department" for the jobs of none).
pub fn departments(config: &Config, live: &[Job]) -> Json {
    let mut by: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for j in live {
        if j.departments.is_empty() {
            by.entry(String::new())
                .or_default()
                .push(job(config, j, false));
        }
        for d in &j.departments {
            by.entry(d.clone()).or_default().push(job(config, j, false));
        }
    }
    json!({"departments": by.into_iter().map(|(name, jobs)| dept_with(&name, jobs)).collect::<Vec<_>>()})
}

fn dept_with(name: &str, jobs: Vec<Json>) -> Json {
    if name.is_empty() {
        return json!({"id": 0, "name": "No Department", "parent_id": null, "child_ids": [], "jobs": jobs});
    }
    let mut d = department(name);
    d["jobs"] = Json::Array(jobs);
    d
}

/// `GET /v1/boards/{board}/departments/{id}`.
pub fn department_by_id(config: &Config, live: &[Job], id: u32) -> Option<Json> {
    let all = departments(config, live);
    all["departments"]
        .as_array()?
        .iter()
        .find(|d| d["id"].as_u64() == Some(u64::from(id)))
        .cloned()
}

/// `GET /v1/boards/{board}/offices`: every office of a live job, each with
/// its departments and their jobs.
pub fn offices(config: &Config, live: &[Job]) -> Json {
    let mut by: BTreeMap<String, BTreeMap<String, Vec<Json>>> = BTreeMap::new();
    for j in live {
        let offices = if j.offices.is_empty() {
            vec![String::new()]
        } else {
            j.offices.clone()
        };
        let depts = if j.departments.is_empty() {
            vec![String::new()]
        } else {
            j.departments.clone()
        };
        for o in &offices {
            for d in &depts {
                by.entry(o.clone())
                    .or_default()
                    .entry(d.clone())
                    .or_default()
                    .push(job(config, j, false));
            }
        }
    }
    let list: Vec<Json> = by
        .into_iter()
        .map(|(name, depts)| {
            let mut o = if name.is_empty() {
                json!({"id": 0, "name": "No Office", "location": null, "parent_id": null, "child_ids": []})
            } else {
                office(&name)
            };
            o["departments"] = Json::Array(
                depts
                    .into_iter()
                    .map(|(d, jobs)| dept_with(&d, jobs))
                    .collect(),
            );
            o
        })
        .collect();
    json!({"offices": list})
}

/// `GET /v1/boards/{board}/offices/{id}`.
pub fn office_by_id(config: &Config, live: &[Job], id: u32) -> Option<Json> {
    let all = offices(config, live);
    all["offices"]
        .as_array()?
        .iter()
        .find(|o| o["id"].as_u64() == Some(u64::from(id)))
        .cloned()
}

/// Greenhouse's answer for a job it does not show.
pub fn not_found() -> Json {
    json!({"status": 404, "error": "Job not found"})
}
