//! The recruiter board in a real browser: Debian's Chromium driven by
//! playwright-core (`tests/node/board.mjs`), on a seeded database of
//! either engine. It signs in through the form, loads every page at desktop
//! size and 320 px wide (screenshots in `target/board-screenshots/`), runs
//! axe-core's WCAG 2.0/2.1/2.2 A and AA rules on each (zero violations),
//! checks the focus ring, has Lighthouse score each (100 in performance,
//! accessibility, best practices and SEO, its desktop preset; the reports
//! beside the screenshots), moves an application through the board's form
//! and has an altered form refused (both pages axe-clean, the refusal at
//! 320 px), and opens the HTML report with every request refused: none may
//! leave it. The candidates' privacy page and download page (signed links,
//! no session) are held to the same checks.

use crate::api::Api;
use crate::common::{Env, seed_applications};
use crate::smtp::free_port;
use crate::tools::{Tool, needs};
use chrono::{Duration, SecondsFormat, Utc};
use std::path::Path;

#[test]
fn every_board_page_passes_axe_and_reflows_in_chromium() {
    needs!(Tool::Browser);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let port = free_port();
    let careers = free_port();
    let env = Env::with_config(&format!(
        "[careers]\nboard = \"examplecorp\"\nlisten = \"127.0.0.1:{careers}\"\nfiles_dir = \"files\"\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\"\nlink_key_file = \"link.key\"\n[schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n\n\
         [[rules]]\nname = \"stale-screening\"\nstage = \"screening\"\nafter = \"5d\"\nremind = true\n"
    ));
    env.write("link.key", "a-test-key-of-more-than-32-bytes-0123456789\n");
    for (i, title) in ["Senior Platform Engineer", "Line Cook"].iter().enumerate() {
        env.add_posting(i as u32 + 1, title);
    }
    let now = crate::clock::now();
    let t = |d: Duration| (now - d).to_rfc3339_opts(SecondsFormat::Secs, true);
    seed_applications(&env, 1, 40, "applied", &t(Duration::days(20)));
    seed_applications(&env, 1, 3, "applied", &t(Duration::hours(3)));
    seed_applications(&env, 1, 6, "screening", &t(Duration::days(7)));
    seed_applications(&env, 1, 2, "interview", &t(Duration::days(2)));
    seed_applications(&env, 1, 5, "rejected", &t(Duration::days(1)));
    seed_applications(&env, 2, 4, "applied", &t(Duration::days(1)));
    // a history for the funnel and the days in stage: a few moves by hand
    env.ok(&[
        "application",
        "move",
        "1",
        "screening",
        "--reason",
        "looks good",
    ]);
    env.ok(&[
        "application",
        "move",
        "1",
        "rejected",
        "--reason",
        "no visa",
    ]);
    // a recruiter in New York who owns the first posting: her session
    // opens on it, and its pages carry the forms that act
    env.ok(&[
        "person",
        "add",
        "rae@example.org",
        "--name",
        "Rae Recruiter",
        "--timezone",
        "America/New_York",
    ]);
    env.ok(&["posting", "assign", "1", "--recruiter", "rae@example.org"]);
    let token = env
        .ok(&[
            "token",
            "create",
            "board",
            "--scope",
            "recruiter",
            "--person",
            "rae@example.org",
        ])
        .trim()
        .to_string();
    // interviews: one that took place, with Rae's feedback, and one to
    // come (application 4's page, its card, the week's list)
    let iso = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    for (booked, at) in [
        (now - Duration::days(5), now - Duration::days(3)),
        (now, now + Duration::days(2)),
    ] {
        env.ok(&[
            "--now",
            &iso(booked),
            "interview",
            "schedule",
            "4",
            "--at",
            &iso(at),
            "--interviewer",
            "rae@example.org",
            "--video-url",
            "https://meet.example.org/abc",
        ]);
    }
    env.ok(&[
        "interview",
        "feedback",
        "1",
        "--by",
        "rae@example.org",
        "--recommendation",
        "yes",
        "--note",
        "clear and kind",
    ]);
    // a data request, overdue, for the requests page
    env.ok(&[
        "request",
        "open",
        "--email",
        "someone@example.net",
        "--kind",
        "access",
        "--law",
        "gdpr",
        "--received-at",
        "2020-01-06",
    ]);
    let report = env.path("report.html");
    std::fs::write(&report, env.ok(&["report", "--format", "html"])).unwrap();
    let engine = if env.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let out = root.join("target/board-screenshots").join(engine);
    // the candidates' privacy pages: the choice (Lea's link, unused) and
    // the download (Max asked for his data)
    let api = Api::start(&env, port);
    let link = |email: &str, kind: &str| -> String {
        let body = crate::daemon::rows(
            &env,
            &format!(
                "SELECT b.body_text FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
                 WHERE o.recipient = '{email}' ORDER BY o.id DESC LIMIT 1"
            ),
        );
        let text = &body[0][0];
        let at = text
            .find(&format!("/self-service/{kind}/"))
            .unwrap_or_else(|| panic!("no {kind} link in {text}"));
        text[at..].split_whitespace().next().unwrap().to_string()
    };
    env.ok(&[
        "apply",
        "2",
        "--name",
        "Lea Vogt",
        "--email",
        "lea@example.org",
        "--locale",
        "de",
    ]);
    env.ok(&[
        "apply",
        "2",
        "--name",
        "Max Roe",
        "--email",
        "max@example.org",
    ]);
    let privacy = link("lea@example.org", "privacy");
    let max = link("max@example.org", "privacy");
    let asked = crate::common::http(
        port,
        "POST",
        &max,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"kind=access",
    )
    .expect("an answer");
    assert_eq!(asked.status, 200, "{}", asked.body);
    let download = link("max@example.org", "export");
    // the careers site: a published posting with questions
    env.write(
        "careers.md",
        "---\ntitle: Pastry Chef\nurl: https://jobs.example.org/pastry\nlocation: Berlin\npublished: true\n\
         departments: [Kitchen]\nemploymentType: FULL_TIME\nquestions:\n  - label: Why pastry?\n    type: long_text\n    required: true\n\
         \x20 - label: Work permit?\n    type: yes_no\n    required: true\n  - label: Shifts\n    type: multi_select\n    options: [Early, Late]\n---\n\
         We bake **every** morning.\n",
    );
    let job = env.json(&["posting", "import", "careers.md"])["postings"][0]["id"]
        .as_i64()
        .unwrap();
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", careers)).is_err() {
        assert!(
            t0.elapsed().as_secs() < 30,
            "the careers listener did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let questions = crate::common::http(
        careers,
        "GET",
        &format!("/v1/boards/examplecorp/jobs/{job}?questions=true"),
        &[],
        b"",
    )
    .expect("the job")
    .json();
    let field = |label: &str| -> String {
        questions["questions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["label"] == label)
            .unwrap()["fields"][0]["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let why = field("Why pastry?");
    let permit = field("Work permit?");
    assert!(download.starts_with("/self-service/export/"), "{download}");
    // the interviews' pages: Lea's booking link (Sam's slots, in German)
    // and Sam's feedback link with the posting's scorecard
    env.ok(&[
        "person",
        "add",
        "sam@example.org",
        "--name",
        "Sam Sous",
        "--timezone",
        "Europe/Berlin",
    ]);
    env.ok(&[
        "person",
        "availability",
        "sam@example.org",
        "--weekly",
        "Mon-Fri 09:00-17:00",
    ]);
    env.ok(&[
        "posting",
        "scorecard",
        "2",
        "--attribute",
        "Skills: Knife skills, Sauces",
        "--attribute",
        "Personality traits: Calm",
    ]);
    let app_of = |email: &str| {
        crate::daemon::rows(
            &env,
            &format!("SELECT a.id FROM applications a JOIN candidates c ON c.id = a.candidate_id WHERE c.email = '{email}'"),
        )[0][0]
            .clone()
    };
    env.ok(&[
        "interview",
        "offer",
        &app_of("lea@example.org"),
        "--interviewer",
        "sam@example.org",
    ]);
    let book = link("lea@example.org", "book");
    env.ok(&[
        "interview",
        "schedule",
        &app_of("max@example.org"),
        "--at",
        &(now + Duration::days(3)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "--interviewer",
        "sam@example.org",
        "--focus",
        "Sauces",
    ]);
    let feedback = link("sam@example.org", "feedback");
    let config = serde_json::json!({
        "base": format!("http://127.0.0.1:{port}"),
        "token": token,
        "pages": [
            "/board",
            "/board?owner=all",
            "/board?status=unknown",
            "/board/postings/1",
            "/board/postings/1?stale=1",
            "/board/postings/1/applications?stage=applied",
            "/board/applications/1",
            // in an active stage: the move form
            "/board/applications/4",
            "/board/interviews",
            "/board/requests",
            "/board/outbox",
            "/board/jobs",
            privacy,
            download,
            book,
            feedback,
        ],
        "report": report,
        "out": out,
        "act": {"moved": "/board/applications/2", "to": "screening", "refused": "/board/applications/3"},
        "careers": {
            "base": format!("http://127.0.0.1:{careers}"),
            "pages": ["/careers", format!("/careers/jobs/{job}")],
            "apply": format!("/careers/jobs/{job}"),
            "texts": {why: "Because of the mornings."},
            "check": [format!("{permit}-1")],
            "pdf": b"%PDF-1.4\n%%EOF\n".to_vec(),
        },
    });
    let cfg = env.write("browser.json", &config.to_string());
    let run = std::process::Command::new("node")
        .arg(root.join("tests/node/board.mjs"))
        .arg(&cfg)
        .env("ATSD_CHROMIUM", crate::tools::chromium())
        .current_dir(root.join("tests/node"))
        .output()
        .expect("run node (Debian's nodejs)");
    api.stop();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "the browser found:\n{stderr}\n{stdout}"
    );
    // every page was seen, with no violation
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("\"axe_violations\":0"))
            .count(),
        19,
        "{stdout}"
    );
    // a move through the form, and a refused one, both without a violation
    assert!(
        stdout.contains("{\"act\":\"move\",\"notice\":1,\"refused_status\":403,\"act_axe\":0}"),
        "{stdout}"
    );
    // Lighthouse: 100 in each category on the sign-in page and every page
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains(
                "\"lighthouse\":{\"performance\":100,\"accessibility\":100,\"best-practices\":100,\"seo\":100,"
            ))
            .count(),
        19,
        "{stdout}"
    );
    assert!(stdout.contains("\"requests_out\":0"), "{stdout}");
    // an application through the careers form, with a resume, at 320 px
    assert!(
        stdout.contains("{\"act\":\"apply\",\"landed\":\"/careers/thanks\",\"act_axe\":0}"),
        "{stdout}"
    );
    let kept = crate::daemon::rows(&env, "SELECT f.name, f.media_type FROM application_files f");
    assert_eq!(kept, [["lea.pdf", "application/pdf"]], "{kept:?}");
    assert!(out.join("board-postings-1-320.png").is_file());
}
