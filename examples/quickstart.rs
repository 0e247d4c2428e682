//! Quick start: the main recruiting flow on the embedded default (SQLite, no
//! server, no network). Imports the example postings and applications, moves
//! a few applications through the pipeline, writes the emails those moves
//! caused as .eml files, and prints the pipeline report.
//!
//!     cargo run --example quickstart
//!
//! Everything lands in `target/quickstart/` (database and emails); each run
//! starts afresh. Every step is the real `atsd` command line.

use std::path::Path;

fn atsd(dir: &Path, args: &[&str]) {
    let db = format!("sqlite://{}/atsd.db?mode=rwc", dir.display());
    let config = dir.join("atsd.toml");
    let mut argv = vec![
        "atsd".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--database".into(),
        db,
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    println!("\n$ atsd {}", args.join(" "));
    let code = atsd::cli::main(argv);
    if code != 0 {
        eprintln!("quickstart: `atsd {}` exited with {code}", args.join(" "));
        std::process::exit(code);
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join("quickstart");
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("quickstart: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let ex = root.join("examples");
    let p = |rel: &str| ex.join(rel).display().to_string();

    atsd(&dir, &["init", &dir.display().to_string()]);
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-20T09:00:00Z",
            "posting",
            "import",
            &p("postings"),
            &p("greenhouse-jobs.json"),
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-20T09:05:00Z",
            "application",
            "import",
            &p("applications.csv"),
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-20T10:00:00Z",
            "apply",
            "https://boards.greenhouse.io/examplecorp/jobs/4410021",
            "--name",
            "Katherine Johnson",
            "--email",
            "katherine@example.net",
            "--locale",
            "en-US",
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-21T09:00:00Z",
            "application",
            "move",
            "1",
            "screening",
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-24T15:00:00Z",
            "application",
            "move",
            "1",
            "interview",
            "--reason",
            "strong screen",
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-24T16:00:00Z",
            "application",
            "move",
            "4",
            "rejected",
            "--reason",
            "position requires German",
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-25T09:00:00Z",
            "application",
            "move",
            "6",
            "offer",
        ],
    );
    atsd(
        &dir,
        &["--now", "2026-11-25T09:00:00Z", "application", "list"],
    );
    // the default `file` transport writes each email as an .eml file; no one is emailed
    atsd(&dir, &["--now", "2026-11-25T09:00:00Z", "tick", "dispatch"]);
    atsd(&dir, &["--now", "2026-11-25T09:00:00Z", "mail", "list"]);
    atsd(&dir, &["--now", "2026-11-25T09:00:00Z", "report"]);
    atsd(&dir, &["--now", "2026-11-25T09:00:00Z", "status"]);
    println!(
        "\nDatabase, config and the emails (outbox/*.eml): {}",
        dir.display()
    );
}
