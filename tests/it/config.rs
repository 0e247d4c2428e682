//! Configuration: check-config, init, unknown keys, environment overrides.

use crate::common::{Env, NOW};

#[test]
fn check_config_accepts_the_defaults_and_the_example() {
    let env = Env::new();
    let v = env.json(&["check-config"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["stages"][0], "applied");
    assert_eq!(v["stages"].as_array().unwrap().len(), 7);
    let example = Env::with_config(atsd::config::EXAMPLE);
    let out = example.ok(&["--now", NOW, "check-config"]);
    assert!(out.contains("config OK"), "{out}");
    assert!(
        out.contains("2026-11-25T09:15:00+00:00"),
        "next poll run shown: {out}"
    );
}

#[test]
fn unknown_key_is_refused_with_file_line_and_key() {
    let env =
        Env::with_config("[org]\nname = \"Acme\"\n\n[poll]\nconcurrency = 4\ntimeout_ms = 5\n");
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("atsd.toml"), "{err}");
    assert!(err.contains("line 6"), "{err}");
    assert!(err.contains("timeout_ms"), "{err}");
    // and every other command refuses to run on it, changing nothing
    let err = env.fails(
        2,
        &["posting", "add", "https://boards.greenhouse.io/a/jobs/1"],
    );
    assert!(err.contains("timeout_ms"), "{err}");
}

#[test]
fn bad_pipeline_cron_and_templates_are_named() {
    let env =
        Env::with_config("[pipeline]\nstages = [\"applied\", \"screening\", \"screening\"]\n");
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("`screening` is listed twice"), "{err}");

    let env = Env::with_config("[pipeline]\nextra_moves = [\"screening -> phone\"]\n");
    let err = env.fails(2, &["check-config"]);
    assert!(err.contains("unknown stage `phone`"), "{err}");

    let env = Env::with_config("[pipeline.emails]\ninterview = \"interview_invite\"\n");
    let err = env.fails(2, &["check-config"]);
    assert!(
        err.contains("pipeline.emails.interview") && err.contains("interview_invite"),
        "{err}"
    );

    let env = Env::with_config("[schedule]\npoll = \"*/15 * * *\"\ndigest = \"0 9 * * MON-FRI\"\n");
    let err = env.fails(2, &["check-config"]);
    assert!(
        err.contains("schedule.poll") && err.contains("4 fields"),
        "{err}"
    );
}

#[test]
fn environment_overrides_the_file_and_bad_values_name_the_variable() {
    let env = Env::with_config("[schedule]\npoll = \"*/15 * * * *\"\n");
    let v: serde_json::Value = {
        let out = env
            .cmd()
            .env("ATSD_SCHEDULE_POLL", "*/5 * * * *")
            .args(["--json", "check-config"])
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(v["schedule"][0]["cron"], "*/5 * * * *");
    assert_eq!(v["env_overrides"][0], "ATSD_SCHEDULE_POLL");

    let out = env
        .cmd()
        .env("ATSD_POLL_CONCURRENCY", "lots")
        .args(["check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ATSD_POLL_CONCURRENCY") && err.contains("lots"),
        "{err}"
    );
}

#[test]
fn init_writes_the_commented_config_and_creates_the_database() {
    let env = Env::new();
    let dir = env.path("site");
    let site = dir.display().to_string();
    // init uses its own config, not the test's: run the binary bare
    let run = |args: &[&str]| {
        let mut c = assert_cmd::Command::from_std(crate::common::atsd_bin());
        c.current_dir(env.dir.path())
            .env_remove("ATSD_DATABASE_URL")
            .env_remove("ATSD_CONFIG");
        c.args(args).output().unwrap()
    };
    let out = run(&["init", &site]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("atsd.toml")).unwrap();
    assert!(text.contains("close_after_not_found = 2"));
    assert!(
        dir.join("atsd.db").is_file(),
        "database created beside the config"
    );
    // a second init does not clobber the file
    let out = run(&["init", &site]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    // the written file is what the commands read
    let cfg = dir.join("atsd.toml").display().to_string();
    let out = run(&["--config", &cfg, "migrate"]);
    assert!(out.status.success());
    // the newest migration of migration/src
    let newest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migration/src"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with('m') && n.ends_with(".rs"))
        .max()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "schema version {}",
            newest.trim_end_matches(".rs")
        )),
        "{stdout}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    env.fails(2, &["posting", "frobnicate"]);
    env.fails(2, &["--now", "yesterday", "status"]);
    env.fails(2, &["application", "move", "not-a-number", "screening"]);
}

/// The packaged config is `atsd init`'s, except that the database lives in
/// the service's state directory rather than beside the file (in /etc).
#[test]
fn the_deployed_example_is_the_built_in_one_with_the_database_in_var_lib() {
    let deployed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/atsd.toml");
    let deployed = std::fs::read_to_string(deployed).unwrap();
    let expected = atsd::config::EXAMPLE.replace(
        "url = \"sqlite://atsd.db?mode=rwc\"",
        "# Installed by the .deb: the state directory of atsd.service (StateDirectory=atsd).\n\
         url = \"sqlite:///var/lib/atsd/atsd.db?mode=rwc\"",
    );
    assert_ne!(expected, atsd::config::EXAMPLE, "the url line moved");
    assert_eq!(deployed, expected);
    let c = atsd::config::Config::parse(&deployed, "deploy/atsd.toml").unwrap();
    assert_eq!(
        c.database.url.as_deref(),
        Some("sqlite:///var/lib/atsd/atsd.db?mode=rwc")
    );
}

/// Several processes starting at once on a brand-new database (a timer's
/// tick and a recruiter's command, say) all find one schema, migrated once.
#[test]
fn processes_starting_together_migrate_a_new_database_once() {
    let env = crate::common::Env::new();
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.std_cmd()
                .args(["migrate"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // each migration applied once
    assert_eq!(
        crate::common::count_sync(&env, "seaql_migrations") as usize,
        <migration::Migrator as migration::MigratorTrait>::migrations().len()
    );
    env.ok(&["posting", "add", "https://boards.greenhouse.io/acme/jobs/1"]);
}
