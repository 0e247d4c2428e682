//! A command-line tool's manners (issue 37, part 4): a closed pipe ends a
//! command quietly, killed by SIGPIPE as Unix tools are (141 in a shell),
//! with no panic and no backtrace; every command's help shows an example.

use crate::common::{Env, seed_applications};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

/// Runs `atsd args`, reads one line of its output and closes the pipe, as
/// `| head -1` does: (the line, how it ended, what it said on stderr).
fn first_line_only(env: &Env, args: &[&str]) -> (String, std::process::ExitStatus, String) {
    let mut child = env
        .std_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start atsd");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("a first line");
    drop(out);
    let done = child.wait_with_output().expect("atsd ends");
    (
        line,
        done.status,
        String::from_utf8_lossy(&done.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let env = Env::new();
    env.add_posting(1, "Line Cook");
    // far more than a pipe holds (64 KiB): the writer meets the closed end
    seed_applications(&env, 1, 3000, "applied", "2026-11-01T09:00:00Z");
    for args in [
        vec!["application", "list", "--posting", "1"],
        vec!["completions", "bash"],
        vec!["application", "list", "--posting", "1", "--json"],
    ] {
        let (line, status, stderr) = first_line_only(&env, &args);
        assert!(!line.is_empty(), "{args:?}: no first line");
        assert_eq!(
            status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {status:?}\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?} said:\n{stderr}"
        );
    }
}

#[test]
fn every_command_shows_an_example_in_its_help() {
    let env = Env::new();
    for args in [
        vec!["--help"],
        vec!["interview", "offer", "--help"],
        vec!["mail", "quarantine", "--help"],
        vec!["candidate", "show", "--help"],
    ] {
        let help = env.ok(&args);
        assert!(help.contains("Example"), "{args:?}:\n{help}");
        assert!(help.contains("\n  atsd "), "{args:?}:\n{help}");
    }
}
