//! Untrusted-input benchmark: how long each reader of outside input other
//! than mail (`benches/inbound_read.rs` has mail) takes on adversarial
//! input from 64 KiB to 10 MiB, beside an ordinary input of the same size
//! read by the same reader in the same run (`plain`, the reference):
//!
//! - `csv`: `atsd application import`'s reader (`import::parse_csv`);
//! - `posting`: a posting file's YAML front matter (`posting::file::parse`;
//!   front matters over 64 KiB are refused unread, so past 64 KiB its
//!   columns time the refusal);
//! - `greenhouse`: a job board's JSON (`poll::job_boards::greenhouse_list`);
//! - `ics`: a calendar answer (`inbound::itip::parse`);
//! - `form`: a form body (`url::form_urlencoded`, what axum's `Form` uses).
//!
//! Linear reading shows as a flat time per MiB down each column.
//!
//!     cargo bench --bench untrusted_read
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

use std::path::Path;
use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [
    32 * 1024,
    64 * 1024,
    1024 * 1024,
    4 * 1024 * 1024,
    10 * 1024 * 1024,
];

/// `unit` repeated to about `size` bytes, between `head` and `tail`.
fn fill(head: &str, unit: &str, tail: &str, size: usize) -> String {
    let mut s = String::with_capacity(size + head.len() + tail.len());
    s.push_str(head);
    while s.len() < size {
        s.push_str(unit);
    }
    s.push_str(tail);
    s
}

/// The inputs of one reader: (kind, input of about `size` bytes).
fn inputs(reader: &str, size: usize) -> Vec<(&'static str, String)> {
    match reader {
        "csv" => vec![
            (
                "plain",
                fill(
                    "posting,name,email\n",
                    "1,Ada Lovelace,ada@example.net\n",
                    "",
                    size,
                ),
            ),
            // every line has one field too many: an error per line
            (
                "bad_lines",
                fill("posting,name,email\n", "1,a,b,c\n", "", size),
            ),
            // one quoted field that never closes
            (
                "unclosed",
                fill("posting,name,email\n1,\"", "a,\"\"b\n", "", size),
            ),
            (
                "blank",
                fill("posting,name,email\n", "\n\r\n", "1,a,b\n", size),
            ),
        ],
        "posting" => vec![
            (
                "plain",
                fill(
                    "---\ntitle: Engineer\ncompanyName: Example\nurl: https://boards.greenhouse.io/example/jobs/1\n---\n",
                    "The quick brown fox jumps over the lazy dog.\n",
                    "",
                    size,
                ),
            ),
            // anchors and aliases: each list refers to the one before
            ("aliases", {
                let mut s = String::from("---\ntitle: t\na0: &a0 [x, x, x, x, x, x, x, x]\n");
                let mut i = 1;
                while s.len() < size {
                    s.push_str(&format!(
                        "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}]\n",
                        p = i - 1
                    ));
                    i += 1;
                }
                s.push_str("---\n");
                s
            }),
            // flow collections inside each other, beyond the guard's depth
            ("nested", fill("---\ntitle: t\nx: ", "[", "\n---\n", size)),
            // as deep as the guard lets through, line after line
            ("deep_ok", {
                let mut s = String::from("---\ntitle: t\nurl: https://example.org/j\n");
                let mut i = 0;
                while s.len() < size {
                    s.push_str(&format!("k{i}: {}a{}\n", "[".repeat(32), "]".repeat(32)));
                    i += 1;
                }
                s.push_str("---\n");
                s
            }),
            (
                "long_line",
                fill("---\ntitle: \"", "\\u00e9\\\"", "\"\n---\n", size),
            ),
        ],
        "greenhouse" => vec![
            (
                "plain",
                fill(
                    "{\"jobs\":[",
                    "{\"id\":1,\"title\":\"Engineer\",\"absolute_url\":\"https://boards.greenhouse.io/e/jobs/1\",\"updated_at\":\"2026-01-01T00:00:00Z\",\"location\":{\"name\":\"Berlin\"}},",
                    "{\"id\":2,\"title\":\"t\",\"absolute_url\":\"https://boards.greenhouse.io/e/jobs/2\"}]}",
                    size,
                ),
            ),
            // one job's content of escaped, double-escaped entities
            (
                "entities",
                fill(
                    "{\"jobs\":[{\"id\":1,\"title\":\"t\",\"absolute_url\":\"https://boards.greenhouse.io/e/jobs/1\",\"content\":\"",
                    "&amp;lt;b&amp;gt;&#x26;&lt;\\u0026",
                    "\"}]}",
                    size,
                ),
            ),
            ("nested", fill("{\"jobs\":", "[", "", size)),
            (
                "keys",
                fill("{\"jobs\":[{", "\"k\":0,", "\"id\":1}]}", size),
            ),
        ],
        "ics" => vec![
            (
                "plain",
                fill(
                    "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:atsd-1@example.org\r\nSEQUENCE:0\r\n\
                     ATTENDEE;PARTSTAT=ACCEPTED:mailto:ada@example.org\r\n",
                    "COMMENT:The quick brown fox jumps over the lazy dog again.\r\n",
                    "END:VEVENT\r\nEND:VCALENDAR\r\n",
                    size,
                ),
            ),
            // a line folded after every character
            (
                "folded",
                fill(
                    "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:a\r\nCOMMENT:x",
                    "\r\n x",
                    "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                    size,
                ),
            ),
            // parameters without end
            (
                "params",
                fill(
                    "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nATTENDEE",
                    ";X=\"a;b:c\"",
                    ":mailto:a@b\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                    size,
                ),
            ),
        ],
        _ => vec![
            (
                "plain",
                fill("", "recommendation=yes&note=clear+thinker&", "", size),
            ),
            ("percent", fill("note=", "%25%C3%A9%2", "", size)),
            ("pairs", fill("", "&=&a&", "", size)),
        ],
    }
}

fn read(reader: &str, input: &str) {
    match reader {
        "csv" => {
            let _ = std::hint::black_box(atsd::import::parse_csv("bench.csv", input));
        }
        "posting" => {
            let _ = std::hint::black_box(atsd::posting::file::parse(Path::new("bench.md"), input));
        }
        "greenhouse" => {
            let _ = std::hint::black_box(atsd::poll::job_boards::greenhouse_list(input.as_bytes()));
        }
        "ics" => {
            let _ = std::hint::black_box(atsd::inbound::itip::parse(input));
        }
        _ => {
            let n = url::form_urlencoded::parse(input.as_bytes()).count();
            std::hint::black_box(n);
        }
    }
}

/// The best of a few runs.
fn time(reader: &str, input: &str) -> Duration {
    let runs = if input.len() > 4 * 1024 * 1024 { 3 } else { 5 };
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            read(reader, input);
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut worst = (Duration::ZERO, String::new());
    for reader in ["csv", "posting", "greenhouse", "ics", "form"] {
        if !only.is_empty() && !only.iter().any(|o| o == reader) {
            continue;
        }
        println!("\n{reader}: best of 3-5 runs, ms (ms per MiB)");
        let kinds: Vec<&str> = inputs(reader, 1).iter().map(|(k, _)| *k).collect();
        print!("{:>9}", "size");
        for k in &kinds {
            print!(" {k:>18}");
        }
        println!();
        for size in SIZES {
            print!("{:>6} KiB", size / 1024);
            for (k, input) in inputs(reader, size) {
                let t = time(reader, &input);
                let per_mib = t.as_secs_f64() * 1000.0 / (input.len() as f64 / 1048576.0);
                print!(" {:>9.1} ({:>6.1})", t.as_secs_f64() * 1000.0, per_mib);
                if size == SIZES[SIZES.len() - 1] && k != "plain" && t > worst.0 {
                    worst = (t, format!("{reader} {k}"));
                }
            }
            println!();
        }
    }
    println!(
        "\nslowest adversarial 10 MiB input: {} in {:.0} ms (the goal: under 1 s)",
        worst.1,
        worst.0.as_secs_f64() * 1000.0
    );
}
