//! `cargo xtask`: the project's own commands (the alias is in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask setup` installs the outside tools the tests talk to (a real
//!   SMTP server, reference parsers and verifiers, a browser, linters), each
//!   where it belongs: Python packages in a project-local virtual environment,
//!   npm modules with `npm ci`, Debian packages only where nothing else
//!   serves. Run again, it checks and returns in a second or two.
//! - `cargo xtask test` does the set-up, then runs `cargo test --workspace`
//!   with the tools' locations, on SQLite, PostgreSQL or both.
//! - `cargo xtask tools` says which tool is where, and what is missing.
//!
//! std only, so that a new machine builds it in seconds.

mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask <command>

  setup [--bench]            install the tests' outside tools (idempotent); --bench:
                             the benchmarks' too (smtp-sink, smtp-source, wrk)
  test [options] [-- ARGS]   set up, then run the test suite (ARGS go to cargo test)
      --engine sqlite|postgres|all   which database engine(s) to test (default: sqlite)
      --postgres-url URL             the PostgreSQL server for --engine postgres|all
                                     (default: $ATSD_TEST_DATABASE_URL, else
                                     postgres://postgres@127.0.0.1:5432/postgres)
  tools                      list the outside tools: where each is, and what is missing
";

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ws = match Workspace::find() {
        Ok(ws) => ws,
        Err(e) => return fail(&e),
    };
    let result = match args.first().map(String::as_str) {
        Some("setup") => match &args[1..] {
            [] => tools::setup(&ws, false),
            [b] if b == "--bench" => tools::setup(&ws, true),
            _ => Err(format!("setup takes only --bench\n{USAGE}")),
        },
        Some("test") => TestArgs::parse(&args[1..]).and_then(|t| test(&ws, &t)),
        Some("tools") => tools::list(&ws),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &str) -> ExitCode {
    eprintln!("xtask: {}", e.trim_end());
    ExitCode::FAILURE
}

/// The repository: its root, and where the installed tools live.
pub struct Workspace {
    pub root: PathBuf,
    /// `target/tools`: the virtual environment and the unpacked Debian
    /// binaries (`cargo clean` removes them; the next set-up puts them back)
    pub tools: PathBuf,
}

impl Workspace {
    fn find() -> Result<Workspace, String> {
        // xtask/ is one level below the root, whatever the current folder
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("xtask is not inside the repository")?
            .to_path_buf();
        Ok(Workspace {
            tools: root.join("target").join("tools"),
            root,
        })
    }

    /// The environment the tests read the tools' locations from
    /// (tests/it/tools.rs reads the same names).
    pub fn test_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ATSD_TEST_TOOLS", self.tools.display().to_string()),
            // a missing tool fails its test instead of skipping it
            ("ATSD_TEST_REQUIRE_TOOLS", "1".into()),
        ]
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, PartialEq)]
struct TestArgs {
    engines: Vec<Engine>,
    postgres_url: String,
    cargo_args: Vec<String>,
}

impl TestArgs {
    fn parse(args: &[String]) -> Result<TestArgs, String> {
        let mut engines = vec![Engine::Sqlite];
        let mut postgres_url = std::env::var("ATSD_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_PG.to_string());
        let mut cargo_args = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (a.as_str(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .ok_or(format!("{name} needs a value\n{USAGE}"))
            };
            match flag {
                "--engine" => {
                    engines = match value("--engine")?.as_str() {
                        "sqlite" => vec![Engine::Sqlite],
                        "postgres" => vec![Engine::Postgres],
                        "all" => vec![Engine::Sqlite, Engine::Postgres],
                        other => {
                            return Err(format!(
                                "--engine {other}: expected sqlite, postgres or all"
                            ));
                        }
                    }
                }
                "--postgres-url" => postgres_url = value("--postgres-url")?,
                "--" => {
                    cargo_args.extend(it.by_ref().cloned());
                }
                other => return Err(format!("unknown option `{other}`\n{USAGE}")),
            }
        }
        Ok(TestArgs {
            engines,
            postgres_url,
            cargo_args,
        })
    }
}

fn test(ws: &Workspace, args: &TestArgs) -> Result<(), String> {
    tools::setup(ws, false)?;
    if args.engines.contains(&Engine::Postgres) {
        tools::postgres_answers(&args.postgres_url)?;
    }
    let mut failed = Vec::new();
    for engine in &args.engines {
        let (name, url) = match engine {
            Engine::Sqlite => ("SQLite", None),
            Engine::Postgres => ("PostgreSQL", Some(args.postgres_url.as_str())),
        };
        println!("\n== tests on {name}");
        let started = Instant::now();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["test", "--workspace", "--locked"])
            .args(&args.cargo_args)
            .current_dir(&ws.root)
            .envs(ws.test_env());
        match url {
            Some(u) => cmd.env("ATSD_TEST_DATABASE_URL", u),
            None => cmd.env_remove("ATSD_TEST_DATABASE_URL"),
        };
        let ok = cmd
            .status()
            .map_err(|e| format!("cannot run cargo test: {e}"))?
            .success();
        println!(
            "== tests on {name}: {} in {:.0?}",
            if ok { "passed" } else { "FAILED" },
            started.elapsed()
        );
        if !ok {
            failed.push(name);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("tests failed on {}", failed.join(" and ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<TestArgs, String> {
        TestArgs::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn test_arguments_choose_engines_and_pass_the_rest_to_cargo() {
        let t = parse(&["--engine", "all", "--", "mail::", "--nocapture"]).unwrap();
        assert_eq!(t.engines, vec![Engine::Sqlite, Engine::Postgres]);
        assert_eq!(t.cargo_args, vec!["mail::", "--nocapture"]);
        let t = parse(&["--engine=postgres", "--postgres-url=postgres://x@h/db"]).unwrap();
        assert_eq!(t.engines, vec![Engine::Postgres]);
        assert_eq!(t.postgres_url, "postgres://x@h/db");
        assert_eq!(parse(&[]).unwrap().engines, vec![Engine::Sqlite]);
    }

    #[test]
    fn bad_test_arguments_name_the_value() {
        let e = parse(&["--engine", "mysql"]).unwrap_err();
        assert!(e.contains("--engine mysql"), "{e}");
        let e = parse(&["--frobnicate"]).unwrap_err();
        assert!(e.contains("`--frobnicate`"), "{e}");
        let e = parse(&["--engine"]).unwrap_err();
        assert!(e.contains("needs a value"), "{e}");
    }
}
