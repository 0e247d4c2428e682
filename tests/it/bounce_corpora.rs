//! Bounces read like an expert (issue 36): two public corpora of delivery
//! reports, each read by atsd and by flufl.bounce (tests/bounce_oracle.py),
//! file by file. flufl.bounce 6.0.0's own corpus (from its source package,
//! fetched by `cargo xtask setup`), and the part of Sisimai's set of emails
//! (github.com/sisimai/set-of-emails, BSD 2-Clause, tests/fixtures/sisimai
//! with its LICENSE) that is not RFC 3464 by flufl's reading: the messages
//! in which flufl names an address failed for good or only for now.
//!
//! Never a crash or a retry asked for; never an address flufl does not
//! name; every standard report's address found; of the non-standard
//! permanent failures, at least 80 % read as permanent when they come back
//! to an email's VERP address; and none of flufl's temporary failures read
//! as permanent.

use crate::common::{Env, scalar};
use crate::inbound::inbound_env;
use crate::smtp::free_port;
use crate::tools::{Tool, needs, python};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `atsd <args>` with the file on standard input: (exit code, stdout).
fn with_stdin(env: &Env, args: &[&str], file: &Path) -> (i32, String) {
    let out = env
        .std_cmd()
        .args(args)
        .stdin(std::fs::File::open(file).expect("a corpus file"))
        .output()
        .expect("run atsd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// What flufl.bounce names in a file: (permanent, temporary, permanent by
/// its RFC 3464 reader, temporary by it).
type Named = [BTreeSet<String>; 4];

fn oracle(files: &[PathBuf]) -> BTreeMap<String, Named> {
    let out = std::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/bounce_oracle.py"
        ))
        .args(files)
        .output()
        .expect("run tests/bounce_oracle.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let set = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_lowercase))
            .collect()
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("oracle JSON");
            assert!(v.get("error").is_none(), "the oracle failed: {v}");
            (
                v["file"].as_str().unwrap_or_default().to_string(),
                [
                    set(&v["permanent"]),
                    set(&v["temporary"]),
                    set(&v["dsn_permanent"]),
                    set(&v["dsn_temporary"]),
                ],
            )
        })
        .collect()
}

/// atsd's reading of a corpus beside flufl's.
#[derive(Debug, Default)]
struct Tally {
    /// With a delivery-status part, by atsd's reading.
    reports: usize,
    /// flufl's RFC 3464 reader names a failed address; atsd finds it.
    standard: usize,
    found: usize,
    /// Found, and read as not (yet) permanent (`Action: failed` with a
    /// 4.x.x status: the message expired, the address is not proven dead).
    milder: Vec<String>,
    /// Non-standard permanent failures by flufl; recognised by atsd.
    other: usize,
    recognised: usize,
    missed: Vec<String>,
    /// Temporary-only by flufl (non-standard): read as permanent by atsd.
    temporary: usize,
    /// What must never be.
    wrong: Vec<String>,
}

fn read_corpus(env: &Env, files: &[PathBuf]) -> Tally {
    let named = oracle(files);
    let mut t = Tally::default();
    for f in files {
        let name = f.display().to_string();
        let short = name.rsplit('/').next().unwrap_or_default().to_string();
        let (code, text) = with_stdin(env, &["--json", "mail", "inspect"], f);
        assert_eq!(code, 0, "{name}: {text}");
        let seen: serde_json::Value = serde_json::from_str(&text).expect("inspect JSON");
        // and taken whole: never a crash, never a retry asked for
        let (code, taken) = with_stdin(env, &["mail", "receive"], f);
        assert_eq!(code, 0, "{name}: {taken}");
        let [perm, temp, dsn_perm, dsn_temp] = named.get(&name).cloned().unwrap_or_default();
        let recipients = seen["recipients"].as_array().cloned().unwrap_or_default();
        let address = |r: &serde_json::Value| r["address"].as_str().map(str::to_lowercase);
        let atsd_failed: BTreeSet<String> = recipients
            .iter()
            .filter(|r| r["permanent"] == true)
            .filter_map(address)
            .collect();
        let atsd_all: BTreeSet<String> = recipients.iter().filter_map(address).collect();
        for a in &atsd_failed {
            if !perm.contains(a) && !temp.contains(a) {
                t.wrong.push(format!(
                    "{name}: atsd reads {a} as failed, flufl names {perm:?} {temp:?}"
                ));
            }
        }
        if seen["report"] == true {
            t.reports += 1;
        }
        // arriving on an email's VERP address, a message that is no
        // standard report is a bounce unless it is an auto-reply that looks
        // like none; its words say whether it failed for good
        // (a report without recipient blocks is read by its words, and
        // failed for good when they say nothing: src/inbound/receive/classify.rs)
        let status = seen["text_status"].as_str().unwrap_or("");
        let auto = seen["auto_reply"] == true && seen["looks_like_bounce"] != true;
        let by_text = if seen["report"] == true {
            recipients.is_empty() && (status.is_empty() || status.starts_with('5'))
        } else {
            !auto && status.starts_with('5')
        };
        if !dsn_perm.is_empty() {
            t.standard += 1;
            if dsn_perm.is_subset(&atsd_all) {
                t.found += 1;
                if !dsn_perm.is_subset(&atsd_failed) {
                    t.milder.push(short);
                }
            } else {
                t.wrong.push(format!(
                    "{name}: flufl's RFC 3464 reader names {dsn_perm:?}, atsd reads {atsd_all:?}"
                ));
            }
        } else if !perm.is_empty() {
            t.other += 1;
            if by_text || !atsd_failed.is_empty() {
                t.recognised += 1;
            } else {
                let status = if status.is_empty() {
                    "no status"
                } else {
                    status
                };
                t.missed.push(format!("{short} ({status})"));
            }
        } else if !temp.is_empty() && dsn_temp.is_empty() {
            t.temporary += 1;
            if by_text || !atsd_failed.is_empty() {
                t.wrong.push(format!(
                    "{name}: flufl reads {temp:?} as failed for now, atsd for good"
                ));
            }
        }
    }
    println!("{t:#?}");
    t
}

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// Nothing atsd sent is named by the corpora: nothing was marked.
fn nothing_marked(env: &Env) {
    assert_eq!(
        scalar(env, "SELECT COUNT(*) FROM undeliverable_addresses"),
        0
    );
    assert_eq!(
        scalar(
            env,
            "SELECT COUNT(*) FROM inbound_messages WHERE kind = 'bounce'"
        ),
        0
    );
}

/// Nothing wrong, at least 80 % of the non-standard permanent failures
/// recognised, nothing marked.
fn as_flufl_reads_it(env: &Env, t: &Tally) {
    assert!(t.wrong.is_empty(), "{}", t.wrong.join("\n"));
    assert!(
        t.recognised * 5 >= t.other * 4,
        "{} of {} non-standard permanent failures recognised; missed: {:?}",
        t.recognised,
        t.other,
        t.missed
    );
    nothing_marked(env);
}

#[test]
fn flufl_bounces_corpus_is_read_as_flufl_reads_it() {
    needs!(Tool::Bounces);
    let env = inbound_env(free_port());
    let files = files_in(&crate::tools::bounce_corpus(), "txt");
    assert_eq!(files.len(), 117, "flufl.bounce 6.0.0's corpus");
    let t = read_corpus(&env, &files);
    assert!(t.standard >= 10 && t.found == t.standard, "{t:?}");
    assert!(t.milder.len() <= 2, "{:?}", t.milder);
    assert!(t.other >= 80, "{t:?}");
    as_flufl_reads_it(&env, &t);
}

#[test]
fn sisimais_set_of_emails_is_read_as_flufl_reads_it() {
    needs!(Tool::Bounces);
    let env = inbound_env(free_port());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sisimai");
    let files = files_in(&dir, "eml");
    assert_eq!(files.len(), 168, "the non-RFC 3464 part of Sisimai's set");
    let t = read_corpus(&env, &files);
    assert!(t.other >= 150 && t.temporary >= 5, "{t:?}");
    as_flufl_reads_it(&env, &t);
}
