//! Fuzzing every parser of outside input: posting files (front matter,
//! Markdown, Greenhouse JSON), the Greenhouse, Lever and Ashby API answers,
//! application CSV, posting URLs, the config file, template overrides, and
//! the candidate fields of `apply`.
//!
//! The toolchain here is stable only (no `cargo fuzz`), so this is a
//! mutation fuzzer on proptest: each case takes a file of `tests/fuzz/corpus/`
//! and applies random edits (bytes flipped, inserted, deleted, duplicated,
//! syntax tokens spliced in, the end cut off), then feeds it to the parser.
//! A case passes when the parser returns — a value or an error with a
//! message — without panicking, and without allocating more than
//! [`ALLOC_LIMIT`] at once (a counting global allocator measures each case).
//!
//! CI runs `ATSD_FUZZ_CASES` cases per target (256 by default, a few seconds);
//! a long run is one command:
//!
//!     ATSD_FUZZ_CASES=200000 cargo test --release --test fuzz -- --nocapture
//!
//! A failing case prints the input that broke it (proptest shrinks it first).
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod alloc;

/// The most a single case may have allocated at once on its thread.
const ALLOC_LIMIT: usize = 64 * 1024 * 1024;

fn cases() -> u32 {
    std::env::var("ATSD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| {
            let p = e.path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

/// Syntax that makes parsers take other paths.
const TOKENS: &[&str] = &[
    "---\n",
    "\n",
    "\r\n",
    "\r",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    ",",
    "=",
    "#",
    "\\",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "- ",
    "&lt;",
    "&#x0;",
    "<",
    ">",
    "\0",
    "\u{202e}",
    "\u{feff}",
    "é",
    "😀",
    "null",
    "true",
    "-1",
    "1e309",
    "99999999999999999999",
    "0x",
    "%",
    "%00",
    "//",
    "://",
    "@",
    "?",
    "&",
    "[[rules]]\n",
    "[pipeline]\n",
    "\"\"\"",
    "*",
    "|",
    ">-\n",
    "&anchor ",
    "*anchor",
    "!!binary ",
    "~",
    "\t",
];

#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, usize),
    InsertBytes(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize, u8),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Flip(p, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Edit::Insert(p, t)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(p, b)| Edit::InsertBytes(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), 1usize..256, 1u8..8).prop_map(|(p, n, k)| Edit::Duplicate(p, n, k)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
        match e {
            Edit::Flip(p, x) if !b.is_empty() => {
                let i = p % b.len();
                b[i] = *x;
            }
            Edit::Flip(..) => {}
            Edit::Insert(p, t) => {
                let i = at(*p, b.len());
                b.splice(i..i, TOKENS[*t].bytes());
            }
            Edit::InsertBytes(p, x) => {
                let i = at(*p, b.len());
                b.splice(i..i, x.iter().copied());
            }
            Edit::Delete(p, n) => {
                let i = at(*p, b.len());
                let j = (i + n).min(b.len());
                b.drain(i..j);
            }
            Edit::Duplicate(p, n, k) => {
                let i = at(*p, b.len());
                let j = (i + n).min(b.len());
                let piece: Vec<u8> = b[i..j].to_vec();
                for _ in 0..*k {
                    b.splice(j..j, piece.iter().copied());
                }
            }
            Edit::Truncate(p) => {
                let i = at(*p, b.len());
                b.truncate(i);
            }
        }
    }
    b
}

/// Runs `check` on mutated corpus files of `target`; reports the slowest case.
fn fuzz(target: &str, check: impl Fn(&Path, &[u8])) {
    let files = corpus(target);
    let n = files.len();
    let strategy = (0..n, proptest::collection::vec(edit(), 0..10));
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let slowest = std::cell::Cell::new((Duration::ZERO, 0usize));
    let peak_alloc = std::cell::Cell::new(0usize);
    let started = Instant::now();
    let result = runner.run(&strategy, |(i, edits)| {
        let (path, seed) = &files[i];
        let input = apply(seed.clone(), &edits);
        alloc::reset_peak();
        let t = Instant::now();
        check(path, &input);
        let took = t.elapsed();
        let peak = alloc::peak();
        if took > slowest.get().0 {
            slowest.set((took, input.len()));
        }
        peak_alloc.set(peak_alloc.get().max(peak));
        prop_assert!(
            peak <= ALLOC_LIMIT,
            "{} bytes allocated at once for an input of {} bytes",
            peak,
            input.len()
        );
        Ok(())
    });
    eprintln!(
        "fuzz {target}: {} cases in {:.1?}; slowest {:.1?} (input of {} bytes); most allocated at once {} KiB",
        cases(),
        started.elapsed(),
        slowest.get().0,
        slowest.get().1,
        peak_alloc.get() / 1024
    );
    if let Err(e) = result {
        panic!("fuzz {target}: {e}");
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An error must say something.
fn says<T, E: std::fmt::Display>(r: Result<T, E>) {
    if let Err(e) = r {
        assert!(
            !e.to_string().trim().is_empty(),
            "an error without a message"
        );
    }
}

#[test]
fn posting_files() {
    fuzz("posting", |path, input| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        says(atsd::posting::file::parse(
            Path::new(&format!("fuzz/{name}")),
            &text(input),
        ));
    });
}

#[test]
fn job_board_answers() {
    fuzz("board", |_, input| {
        use atsd::poll::job_boards::*;
        says(greenhouse_single(input));
        says(greenhouse_list(input));
        says(lever_single(input));
        says(lever_list(input));
        says(ashby_list(input));
    });
}

#[test]
fn application_csv() {
    fuzz("csv", |_, input| {
        if let Err(errs) = atsd::import::parse_csv("fuzz.csv", &text(input)) {
            assert!(!errs.is_empty() && errs.iter().all(|e| !e.is_empty()));
        }
    });
}

#[test]
fn posting_urls() {
    let bases = atsd::posting::ApiBases::default();
    fuzz("url", |_, input| {
        for line in text(input).lines() {
            says(atsd::posting::recognize(line, &bases));
        }
    });
}

#[test]
fn config_files() {
    fuzz("config", |_, input| {
        if let Ok(c) = atsd::config::Config::parse(&text(input), "fuzz.toml") {
            if let Err(errs) = c.validate() {
                assert!(errs.iter().all(|e| !e.is_empty()));
            }
            says(c.pipeline());
            says(c.schedule.tz());
        }
    });
}

#[test]
fn template_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let en = dir.path().join("en");
    std::fs::create_dir_all(&en).unwrap();
    for (p, b) in corpus("template") {
        std::fs::write(en.join(p.file_name().unwrap()), b).unwrap();
    }
    fuzz("template", |path, input| {
        let target = en.join(path.file_name().unwrap());
        let original = std::fs::read(&target).unwrap();
        std::fs::write(&target, input).unwrap();
        let r = atsd::templates::Renderer::new(Some(dir.path()));
        let problems = r.check_all("en");
        assert!(problems.iter().all(|p| !p.is_empty()));
        says(r.render("rejection", "en", "en", &atsd::templates::sample_for("en")));
        std::fs::write(&target, original).unwrap();
    });
}

#[test]
fn candidate_fields() {
    let mut runner = TestRunner::new(Config {
        cases: cases() * 4,
        failure_persistence: None,
        ..Config::default()
    });
    let field = proptest::string::string_regex("(?s).{0,300}").unwrap();
    runner
        .run(&field, |s| {
            says(atsd::candidate_fields::name(&s));
            says(atsd::candidate_fields::email(&s));
            says(atsd::candidate_fields::locale(&s));
            says(atsd::candidate_fields::timezone(&s));
            says(atsd::import::parse_time(&s));
            Ok(())
        })
        .unwrap();
}
