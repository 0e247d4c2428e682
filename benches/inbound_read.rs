//! Inbound reading benchmark: how long atsd takes to read one hostile
//! message (`atsd::inbound::read`: the dedupe key, the MIME parse, the
//! delivery report, the calendar, the quoted Message-IDs, the free text's
//! failure, the text and attachments), from 64 KiB to the 10 MiB size cap,
//! for each kind of `benches/support/hostile.rs`; beside it, in the same
//! run, an ordinary text message of the same size (`plain`), the
//! reference. Linear reading shows as a flat time per MiB down each column.
//!
//!     cargo bench --bench inbound_read
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

#[path = "support/hostile.rs"]
mod hostile;

use atsd::inbound::read::{Key, read};
use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [
    64 * 1024,
    256 * 1024,
    1024 * 1024,
    4 * 1024 * 1024,
    10 * 1024 * 1024,
];

/// The best of a few runs (the first warms the allocator).
fn time(raw: &[u8]) -> Duration {
    let runs = if raw.len() > 4 * 1024 * 1024 { 3 } else { 5 };
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            let key = Key::of(raw);
            let r = read(raw, &["jobs@example.org".into()], "example.org");
            std::hint::black_box((key, r));
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    println!("inbound read: best of 3-5 runs, ms (ms per MiB)\n");
    print!("{:>9}", "size");
    for k in hostile::KINDS {
        print!(" {k:>17}");
    }
    println!();
    let mut worst_10mib = Duration::ZERO;
    for size in SIZES {
        print!("{:>6} KiB", size / 1024);
        for k in hostile::KINDS {
            let raw = hostile::message(k, size);
            let t = time(&raw);
            let per_mib = t.as_secs_f64() * 1000.0 / (raw.len() as f64 / 1048576.0);
            print!(" {:>8.1} ({:>6.1})", t.as_secs_f64() * 1000.0, per_mib);
            if size == SIZES[SIZES.len() - 1] && k != "plain" {
                worst_10mib = worst_10mib.max(t);
            }
        }
        println!();
    }
    println!(
        "\nslowest hostile 10 MiB message: {:.0} ms (the goal: under 1 s)",
        worst_10mib.as_secs_f64() * 1000.0
    );
}
