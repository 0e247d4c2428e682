//! The OpenAPI document at /v1/openapi.json, checked by two independent
//! tools: Spectral (npm) lints it with its `spectral:oas` rules (no error, no
//! warning), and schemathesis (PyPI) fuzzes the API against it: no 5xx,
//! every answer's status, content type, headers and body as the document
//! says, bad input refused, no operation served without its token, and its
//! stateful phase following the document's links to every operation that a
//! token may call, with real ids.

use crate::api::Api;
use crate::common::{Env, http};
use crate::smtp::free_port;
use crate::tools::{Tool, needs};
use std::collections::BTreeMap;
use std::process::Command;

#[test]
fn the_api_matches_its_openapi_document_under_schemathesis() {
    needs!(Tool::Schemathesis);
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\nrate_limit = 0\n[mail]\ntransport = \"log\"\n\
         [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\n\
         [webhooks.greenhouse]\nsecret_file = \"gh.secret\"\n"
    ));
    env.write("gh.secret", "a shared secret\n");
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
    env.ok(&["apply", "1", "--name", "Ada", "--email", "ada@example.org"]);
    let token = env.token("fuzz", "recruiter");
    let api = Api::start(&env, port);

    let doc = http(port, "GET", "/v1/openapi.json", &[], b"").unwrap();
    assert_eq!(doc.status, 200);
    let d = doc.json();
    assert!(d["openapi"].as_str().unwrap().starts_with("3.1"), "{d}");
    assert!(d["paths"]["/v1/applications/{id}/moves"]["post"].is_object());

    let examples = std::env::var("ATSD_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    // positive_data_acceptance is left out: atsd checks more than a schema
    // can say (a URL must be a job posting it recognizes, a stage one of the
    // pipeline's, a cursor one it issued), so schema-valid data is often,
    // rightly, a 422
    let base = format!("http://127.0.0.1:{port}");
    let out = Command::new(crate::tools::python_tool("schemathesis"))
        .args(["run", &format!("{base}/v1/openapi.json")])
        // the document's server is the default [http] listen, not this one
        .args(["--url", &base])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", &examples])
        .args(["--exclude-checks", "positive_data_acceptance"])
        // the privacy operations take only a privacy token (403 to this
        // one): privacy::the_privacy_api… calls them with theirs
        .args(["--exclude-tag", "privacy"])
        .args(["--seed", "20261126"])
        .env("NO_COLOR", "1")
        // its cache (.schemathesis/) goes to the test's folder, not the repo
        .current_dir(env.dir.path())
        .output()
        .expect("run schemathesis (cargo xtask setup installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("passed"), "{text}");
    println!("{text}");

    // the stateful phase alone, recorded: the links from POST
    // /v1/applications and POST /v1/postings lead it to every operation of
    // applications and postings a token may call (the Greenhouse web hook
    // takes a signature instead), and to an application that exists
    let har = env.path("stateful.har");
    let out = Command::new(crate::tools::python_tool("schemathesis"))
        .args(["run", &format!("{base}/v1/openapi.json"), "--url", &base])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", &examples, "--seed", "20261126"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        // the privacy operations take only a privacy token (403 to this
        // one): privacy::the_privacy_api… calls them with theirs
        .args(["--exclude-tag", "privacy"])
        .args(["--phases", "stateful", "--report", "har"])
        // the interview operations are fuzzed above; here they would share
        // the examples with the application links this phase is for (a
        // fuzzed interview never exists: its interviewers are nobody)
        .args(["--exclude-path-regex", "^/v1/interviews"])
        .arg("--report-har-path")
        .arg(&har)
        .env("NO_COLOR", "1")
        .current_dir(env.dir.path())
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let reached = stateful_requests(&har);
    println!("stateful phase, requests per operation (status: count): {reached:?}");
    for op in [
        "POST /v1/applications",
        "GET /v1/applications",
        "GET /v1/applications/{id}",
        "POST /v1/applications/{id}/moves",
        "GET /v1/postings",
        "POST /v1/postings",
        "GET /v1/report",
    ] {
        assert!(
            reached.contains_key(op),
            "{op} never reached: {reached:?}\n{text}"
        );
    }
    assert!(
        reached["GET /v1/applications/{id}"].contains_key(&200),
        "no link led to a real application: {reached:?}"
    );
    let log = api.stop();
    assert!(!log.contains("panicked"), "{log}");
}

/// Requests of a schemathesis HAR file per operation: {"METHOD /path
/// template": {status: count}}.
fn stateful_requests(har: &std::path::Path) -> BTreeMap<String, BTreeMap<u64, usize>> {
    let har: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(har).expect("the HAR report")).unwrap();
    let mut by_op: BTreeMap<String, BTreeMap<u64, usize>> = BTreeMap::new();
    for e in har["log"]["entries"].as_array().unwrap() {
        let url = url::Url::parse(e["request"]["url"].as_str().unwrap()).unwrap();
        let segments: Vec<&str> = url.path().split('/').collect();
        // ["", "v1", "applications", id, "moves"]
        let path = match segments.as_slice() {
            ["", "v1", "applications", _, "moves"] => "/v1/applications/{id}/moves".to_string(),
            ["", "v1", "applications", _] => "/v1/applications/{id}".to_string(),
            _ => url.path().to_string(),
        };
        let op = format!("{} {path}", e["request"]["method"].as_str().unwrap());
        let status = e["response"]["status"].as_u64().unwrap();
        *by_op.entry(op).or_default().entry(status).or_default() += 1;
    }
    by_op
}

#[test]
fn the_openapi_document_passes_spectral_without_a_warning() {
    needs!(Tool::Spectral);
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("openapi.json");
    std::fs::write(&doc, atsd::api::openapi::json()).unwrap();
    let ruleset =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/.spectral.yaml");
    let out = Command::new(crate::tools::spectral())
        .arg("lint")
        .arg(&doc)
        .arg("--ruleset")
        .arg(&ruleset)
        .args(["--format", "json", "--fail-severity", "hint", "--quiet"])
        .output()
        .expect("run spectral");
    let text = String::from_utf8_lossy(&out.stdout);
    let results: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "spectral printed no JSON ({e}): {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        results,
        serde_json::json!([]),
        "spectral:oas found:\n{results:#}"
    );
    assert!(out.status.success(), "{text}");
}
