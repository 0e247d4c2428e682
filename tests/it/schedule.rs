//! atsd's cron occurrences against an independent implementation, Python's
//! `croniter` (PyPI, installed by `cargo xtask setup`), over many expressions, zones and
//! instants, so that "crontab semantics" stays what operators know. The one
//! deliberate difference (a repeated local time runs once) is applied in the
//! oracle script, `tests/cron_oracle.py`. The other (croniter reads `*/2` in
//! the day of month as a restriction; crontab, and atsd, as a star) is kept
//! out of the list and tested in `src/schedule/cron_expr.rs`.

use crate::tools::{Tool, needs};
use atsd::schedule::parse_cron;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

const EXPRESSIONS: &[&str] = &[
    "* * * * *",
    "*/15 * * * *",
    "*/5 * * * *",
    "0 * * * *",
    "30 2 * * *",
    "0 1 * * *",
    "15 3 * * *",
    "0 9 * * MON-FRI",
    "0 9 * * 1-5",
    "0 9 * * 0",
    "0 9 * * 7",
    "0 9 * * 5-7",
    "0 9 1 * MON",
    "0 0 1-7 * 1",
    "0 0 13 * FRI",
    "0 12 1,15 * *",
    "0 0 29 2 *",
    "0 0 L * *",
    "45 23 31 * *",
    "0 0 1 1 *",
    "0 6,18 * * SAT,SUN",
    "10-20/5 4 * * *",
    "0 0 * 3,10 SUN",
    "30 1 * * *",
    "0 2 * * *",
    "59 1 * * *",
    "0 9 1-7 * MON",
];

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
];

const INSTANTS: &[&str] = &[
    "2026-11-26T10:07:00Z",
    "2026-12-31T23:59:30Z",
    "2027-02-27T12:00:00Z",
    "2027-03-13T12:00:00Z",
    "2027-03-28T00:15:00Z",
    "2027-03-28T00:59:00Z",
    "2027-04-02T15:00:00Z",
    "2027-10-30T22:00:00Z",
    "2027-10-31T00:45:00Z",
    "2027-11-06T23:00:00Z",
    "2027-11-07T05:30:00Z",
    "2028-02-28T10:00:00Z",
];

#[test]
fn cron_next_runs_agree_with_croniter() {
    needs!(Tool::Croniter);
    // "0 0 L * *" is not crontab: the cron crate refuses it, and so does atsd
    let exprs: Vec<&str> = EXPRESSIONS
        .iter()
        .copied()
        .filter(|e| {
            let ok = parse_cron(e).is_ok();
            if !ok {
                assert_eq!(*e, "0 0 L * *", "{e} should parse");
            }
            ok
        })
        .collect();
    let mut cases = Vec::new();
    for e in &exprs {
        for z in ZONES {
            for i in INSTANTS {
                cases.push(json!({"expr": e, "tz": z, "after": i}));
            }
        }
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cron_oracle.py");
    let python = crate::tools::python();
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the croniter oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Vec<Option<String>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(expected.len(), cases.len());
    let mut differ = Vec::new();
    for (c, want) in cases.iter().zip(&expected) {
        let e = c["expr"].as_str().unwrap();
        let tz: Tz = c["tz"].as_str().unwrap().parse().unwrap();
        let after: DateTime<Utc> = c["after"].as_str().unwrap().parse().unwrap();
        let got = parse_cron(e)
            .unwrap()
            .next_after(after, tz)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        if &got != want {
            differ.push(format!(
                "{e:<18} {:<20} after {}: atsd {got:?}, croniter {want:?}",
                c["tz"].as_str().unwrap(),
                c["after"].as_str().unwrap()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} next runs differ:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
}
