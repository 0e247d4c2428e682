//! The OpenAPI document at /v1/openapi.json, and the API fuzzed against it
//! by schemathesis (PyPI), an independent tool: no 5xx, every answer's
//! status, content type, headers and body as the document says, bad input
//! refused, and no operation served without its token.

use crate::api::Api;
use crate::common::{Env, http};
use crate::smtp::free_port;
use crate::tools::{Tool, needs};
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
    let token = env
        .ok(&["token", "create", "fuzz", "--scope", "recruiter"])
        .trim()
        .to_string();
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
    let out = Command::new(crate::tools::python_tool("schemathesis"))
        .args(["run", &format!("http://127.0.0.1:{port}/v1/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", &examples])
        .args(["--exclude-checks", "positive_data_acceptance"])
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
    let log = api.stop();
    assert!(!log.contains("panicked"), "{log}");
}
