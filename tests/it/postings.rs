//! Posting import and `posting add|list|show`.

use crate::common::{Env, NOW, count_sync, examples, seed_file};

#[test]
fn the_seed_posting_imports_as_specified() {
    let env = Env::new();
    let seed = seed_file().display().to_string();
    let v = env.json(&["--now", NOW, "posting", "import", &seed]);
    assert_eq!(v["created"], 1);
    let id = v["postings"][0]["id"].as_i64().unwrap();
    let show = env.json(&["posting", "show", &id.to_string()]);
    let p = &show["posting"];
    assert_eq!(p["source"], "greenhouse");
    assert_eq!(p["board"], "wikimedia");
    assert_eq!(p["external_id"], "2976623");
    assert_eq!(p["title"], "Systems Architect, Data");
    assert_eq!(p["company"], "Wikimedia Foundation");
    assert_eq!(p["location"], "Remote");
    assert!(
        p["posted_at"].as_str().unwrap().starts_with("2021-03-26"),
        "{}",
        p["posted_at"]
    );
    assert_eq!(p["status"], "closed");
    assert_eq!(
        show["api_url"],
        "https://boards-api.greenhouse.io/v1/boards/wikimedia/jobs/2976623"
    );
    assert_eq!(show["history"][0]["field"], "status");
    assert_eq!(show["history"][0]["new_value"], "closed");
    // the human view shows the same
    let out = env.ok(&[
        "posting",
        "show",
        "https://boards.greenhouse.io/wikimedia/jobs/2976623",
    ]);
    assert!(
        out.contains("Systems Architect, Data") && out.contains("closed"),
        "{out}"
    );
}

#[test]
fn reimport_updates_and_never_duplicates() {
    let env = Env::new();
    let seed = std::fs::read_to_string(seed_file()).unwrap();
    let f = env.write("postings/seed.md", &seed);
    let path = f.display().to_string();
    env.ok(&["--now", NOW, "posting", "import", &path]);
    let v = env.json(&["--now", NOW, "posting", "import", &path]);
    assert_eq!(v["unchanged"], 1);
    assert_eq!(count_sync(&env, "postings"), 1);

    std::fs::write(
        &f,
        seed.replace(
            "title: \"Systems Architect, Data\"",
            "title: \"Principal Systems Architect\"",
        ),
    )
    .unwrap();
    let v = env.json(&["--now", "2026-11-26T09:00:00Z", "posting", "import", &path]);
    assert_eq!(v["updated"], 1);
    assert_eq!(v["postings"][0]["changed"][0], "title");
    assert_eq!(count_sync(&env, "postings"), 1);
    let show = env.json(&["posting", "show", "1"]);
    assert_eq!(show["posting"]["title"], "Principal Systems Architect");
    let hist = show["history"].as_array().unwrap();
    let change = hist
        .iter()
        .find(|h| h["field"] == "title")
        .expect("title change recorded");
    assert_eq!(change["old_value"], "Systems Architect, Data");
    assert_eq!(change["new_value"], "Principal Systems Architect");
}

#[test]
fn a_bad_file_is_named_and_changes_nothing() {
    let env = Env::new();
    env.write("in/good.md", &std::fs::read_to_string(seed_file()).unwrap());
    env.write(
        "in/sub/bad.md",
        "---\ntitle: \"Broken\"\nurl: \"https://boards.greenhouse.io/acme/jobs/1\"\ntimestamp: \"last week\"\n---\nbody\n",
    );
    env.write("in/sub/notes.pdf", "ignored: not a posting extension");
    let dir = env.path("in").display().to_string();
    let err = env.fails(2, &["posting", "import", &dir]);
    assert!(
        err.contains("bad.md") && err.contains("field `timestamp`"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(count_sync(&env, "postings"), 0);
    // a bad URL is a field error too
    env.write(
        "in/sub/bad.md",
        "---\ntitle: \"X\"\nurl: \"file:///etc/passwd\"\n---\n",
    );
    let err = env.fails(2, &["posting", "import", &dir]);
    assert!(
        err.contains("field `url`") && err.contains("scheme `file`"),
        "{err}"
    );
    assert_eq!(count_sync(&env, "postings"), 0);
}

#[test]
fn examples_import_cleanly_with_greenhouse_json() {
    let env = Env::new();
    let ex = examples();
    let v = env.json(&[
        "posting",
        "import",
        &ex.join("postings").display().to_string(),
        &ex.join("greenhouse-jobs.json").display().to_string(),
    ]);
    assert_eq!(v["created"], 5);
    let list = env.json(&["posting", "list"]);
    let by_url = |u: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["url"] == u)
            .cloned()
            .unwrap()
    };
    let gh = by_url("https://boards.greenhouse.io/examplecorp/jobs/4410055");
    assert_eq!(gh["title"], "Engineering Manager, Payments");
    assert_eq!(gh["location"], "Zurich, Switzerland");
    assert_eq!(
        gh["posted_at"].as_str().unwrap()[..19],
        *"2026-10-01T13:00:00"
    );
    assert_eq!(
        gh["description"],
        "<p>Lead the team that moves our customers&#39; money.</p>"
    );
    let careers = by_url("https://careers.example.com/jobs?gh_jid=4410077");
    assert_eq!(careers["source"], "greenhouse");
    assert_eq!(careers["external_id"], "4410077");
    assert!(careers["board"].is_null());
    let lever = by_url("https://jobs.lever.co/examplecorp/6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e");
    assert_eq!(lever["source"], "lever");
    let closed = env.json(&["posting", "list", "--status", "closed"]);
    assert_eq!(closed.as_array().unwrap().len(), 1);
    assert_eq!(closed[0]["title"], "Customer Support Lead");
}

#[test]
fn posting_add_is_idempotent_across_url_forms() {
    let env = Env::new();
    let out = env.add_posting(123, "Welder");
    assert_eq!(out.trim(), "1");
    for form in [
        "https://boards.greenhouse.io/acme/jobs/123#app",
        "https://job-boards.greenhouse.io/acme/jobs/123",
        "https://boards.greenhouse.io/embed/job_app?for=acme&token=123",
        "https://boards-api.greenhouse.io/v1/boards/acme/jobs/123",
    ] {
        let v = env.json(&["posting", "add", form]);
        assert_eq!(v["id"], 1, "{form}");
    }
    assert_eq!(count_sync(&env, "postings"), 1);
    let err = env.fails(2, &["posting", "add", "gopher://example.org/1"]);
    assert!(err.contains("scheme `gopher`"), "{err}");
    let err = env.fails(
        2,
        &[
            "posting",
            "add",
            "https://boards.greenhouse.io/embed/job_app?token=9",
        ],
    );
    assert!(err.contains("for="), "{err}");
    assert_eq!(count_sync(&env, "postings"), 1);
    let err = env.fails(2, &["posting", "show", "99"]);
    assert!(err.contains("no posting with id 99"), "{err}");
}

#[test]
fn posting_list_is_an_aligned_table() {
    let env = Env::new();
    env.ok(&[
        "posting",
        "add",
        "https://jobs.lever.co/acme/11111111-2222-3333-4444-555555555555",
        "--title",
        "Baker",
    ]);
    env.ok(&[
        "posting",
        "add",
        "https://example.org/careers/chef",
        "--title",
        "Chef",
    ]);
    let out = env.ok(&["posting", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS") && lines[0].contains("TITLE")
    );
    let col = lines[0].find("TITLE").unwrap();
    assert_eq!(&lines[1][col..col + 5], "Baker");
    assert_eq!(&lines[2][col..col + 4], "Chef");
}
