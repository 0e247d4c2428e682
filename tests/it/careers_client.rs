//! A Greenhouse Job Board client written by others reads atsd's board with
//! only its base URL changed (issue 34): ats-scrapers' GreenhouseScraper
//! (tests/greenhouse_client.py) lists the board with `content=true` and
//! parses every job as it parses boards-api.greenhouse.io's; publishing and
//! unpublishing show in what it reads on its next request.

use crate::careers::site;
use crate::tools::{Tool, needs, python};
use serde_json::Value;

/// What the client read, one object per job.
fn client_reads(port: u16) -> Vec<Value> {
    let out = std::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/greenhouse_client.py"
        ))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("examplecorp")
        .output()
        .expect("run tests/greenhouse_client.py");
    assert!(
        out.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs: Value = serde_json::from_slice(&out.stdout).expect("the client's JSON");
    jobs.as_array().expect("a list of jobs").clone()
}

fn titles(jobs: &[Value]) -> Vec<&str> {
    let mut t: Vec<&str> = jobs.iter().filter_map(|j| j["title"].as_str()).collect();
    t.sort_unstable();
    t
}

#[test]
fn a_greenhouse_client_written_by_others_lists_and_reads_atsds_board() {
    needs!(Tool::GreenhouseClient);
    let s = site("");
    let jobs = client_reads(s.port);
    assert_eq!(jobs.len(), 1, "only the published posting: {jobs:?}");
    let cook = &jobs[0];
    assert_eq!(cook["id"], s.published.to_string());
    assert_eq!(cook["title"], "Line Cook");
    assert_eq!(cook["location"], "Berlin");
    assert_eq!(cook["department"], "Kitchen");
    assert_eq!(cook["requisition_id"], "REQ-7");
    assert_eq!(
        cook["url"],
        format!("http://127.0.0.1:{}/careers/jobs/{}", s.port, s.published)
    );
    // the client unescapes `content` once, as it does Greenhouse's: the
    // description arrives as the sanitized HTML of the posting's Markdown
    let description = cook["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("<p>We cook <strong>fresh</strong> food.</p>"),
        "{description}"
    );
    assert!(!description.contains("script"), "{description}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(cook["posted_at"].as_str().unwrap_or_default())
            .is_ok(),
        "first_published read as a date: {cook}"
    );
    assert_eq!(
        cook["raw"]["offices"],
        serde_json::json!(["Berlin", "Hamburg"])
    );
    assert_eq!(cook["raw"]["internal_job_id"], s.published);
    let shift = cook["raw"]["metadata"]
        .as_array()
        .and_then(|m| m.iter().find(|f| f["name"] == "Shift"))
        .unwrap_or_else(|| panic!("no Shift in the metadata: {cook}"));
    assert_eq!(shift["value"], "Early");

    // what the recruiter publishes and unpublishes is what the client reads
    s.env.ok(&["posting", "publish", &s.hidden.to_string()]);
    assert_eq!(titles(&client_reads(s.port)), ["Line Cook", "Waiter"]);
    s.env
        .ok(&["posting", "unpublish", &s.published.to_string()]);
    assert_eq!(titles(&client_reads(s.port)), ["Waiter"]);
    s.api.stop();
}
