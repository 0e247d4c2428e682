//! The README's first command, `cargo run --example quickstart`, keeps
//! telling its story: cargo builds the examples before it runs the tests, so
//! this runs that very program.

#[test]
fn the_quick_start_runs_to_the_end() {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/it-… → target/debug/examples/quickstart
    let Some(quickstart) = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("examples").join("quickstart"))
        .filter(|p| p.exists())
    else {
        eprintln!("the quickstart example was not built (cargo test --test it alone); skipped");
        return;
    };
    // the story on the suite's clock: it must not depend on the date
    let out = crate::clock::apply(&mut std::process::Command::new(&quickstart))
        .env_remove("ATSD_CONFIG")
        .env_remove("ATSD_DATABASE_URL")
        .output()
        .expect("run the quick start");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shown in [
        "1 closed",
        "posting_closed",
        "\"status\":\"ok\"",
        "atsd_postings{status=\"closed\"} 1",
        "the daemon finished its work in hand and stopped",
        // the careers site: the board as Greenhouse answers, an application through the form
        "meta.total: 2",
        "2 \"Data Analyst, Growth\" (\"Remote (EU)\")",
        "POST /careers/jobs/2 (the form, with jo-park.pdf) → 303 /careers/thanks: Jo Park applied",
        // Alan's two (his acknowledgement, his reply's forward) went with him;
        // Grace's acknowledgement, her offer of slots and Jo's came
        "23 emails were written as .eml files",
        // a panel offered, booked through the link, both scorecards on the board
        "(America/Chicago, UTC-0",
        "POST (action=book) → 200: Your interview is booked for",
        "Merkmal | Sam Ortiz | Lena Berg",
        "Distributed systems | unbedingt ja | ja",
        "Gesamtempfehlung | unbedingt ja | ja",
        // an access request answered with an export, an erasure at once
        "due: 2026-12-28 23:59 (open)",
        "candidate export maria@example.net --out",
        "candidate 7 erased",
        "2   erasure  gdpr  [anonymized]",
        // mail comes back: a bounce marks María's address, Alan's reply joins his application
        "a permanent bounce of email 8 to maria@example.net (5.1.1",
        "maria@example.net  2026-11-27 12:01  5.1.1",
        "a reply on application 7: stored, forwarded to recruiting@example.org",
        "GET /board/applications/4 → her address marked undeliverable",
        // and in her recruiter's digest, which the catch-up tick says it sent
        "digest (2026-11-27 08:00): 1 digest(s) queued: 0 new application(s), 1 stale, 0 posting(s) closed, 1 address(es) bounced",
        "E-Mails kamen zurück (Adresse unzustellbar): 1\n  - María García <maria@example.net>: Senior Platform Engineer (5.1.1)",
        "GET /board/applications/7 → his reply in the thread",
        // an interview scheduled, moved, and cancelled by the rejection
        "[text/calendar; method=REQUEST; charset=utf-8]",
        "UID:atsd-interview-1@example.org",
        "interview 1 rescheduled",
        "why          the application moved to rejected",
        // two recruiters in two zones, each their own digest at 09:00 theirs
        "To: \"Sam Ortiz\" <sam@example.org> | Date: Wed, 25 Nov 2026 14:00:00 +0000",
        "To: \"Lena Berg\" <lena@example.org> | Date: Thu, 26 Nov 2026 08:00:00 +0000 | Subject: Recruiting-Überblick",
        "GET /board → her postings only (Senior Platform Engineer), in German",
        "→ 303: moved",
        "person:lena@example.org",
    ] {
        assert!(text.contains(shown), "`{shown}` missing from:\n{text}");
    }
}
