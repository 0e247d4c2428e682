//! Quick start: what atsd does, offline, on the embedded default (SQLite, no
//! server, nobody emailed). It starts a small stand-in for the Greenhouse and
//! Lever job-board APIs on loopback, imports the example postings and
//! applications, and then lets a few days pass with `atsd tick` at advancing
//! `--now` times: the postings are polled, one of them closes on the board,
//! stale applications are rejected, the recruiters are reminded and sent a
//! digest, and every email lands as an `.eml` file. Then `atsd status`,
//! the report (also as a self-contained HTML page) and the event feed, and
//! finally the same jobs as a service for a few seconds: `atsd run` answering
//! `/healthz`, `/metrics` and the recruiter board (`/board`) on loopback,
//! stopped by SIGTERM.
//!
//!     cargo run --example quickstart
//!
//! Everything lands in `target/quickstart/`; each run starts afresh. Every
//! step is the real `atsd` command line.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// One GET over loopback: (status, body).
fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    request(port, "GET", path, &[], "").map(|(status, _, body)| (status, body))
}

/// One HTTP/1.1 request over loopback: (status, head, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String, String)> {
    use std::io::Read;
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((status, head.to_string(), body.to_string()))
}

/// The recruiter board while the daemon runs: Lena's recruiter token,
/// signed in once; her session opens on her own posting, in German, and she
/// moves a candidate on from the application page's form.
fn look_at_the_board(dir: &Path, port: u16) -> String {
    let url = format!("sqlite://{}/atsd.db?mode=rwc", dir.display());
    let token = tokio::runtime::Runtime::new().ok().and_then(|rt| {
        rt.block_on(async {
            let store = atsd::store::Store::open(&url).await.ok()?;
            let lena = atsd::store::people::require(store.conn(), "lena@example.org")
                .await
                .ok()?;
            let now = chrono::Utc::now();
            let scope = atsd::store::tokens::Scope::Recruiter;
            atsd::store::tokens::create_for(&store, "lena-board", scope, Some(lena.id), now)
                .await
                .ok()
                .map(|t| t.0)
        })
    });
    let Some(token) = token else {
        eprintln!("quickstart: cannot create a token for the board");
        std::process::exit(1);
    };
    println!(
        "\n$ atsd token create lena-board --scope recruiter --person lena@example.org   # then open http://127.0.0.1:{port}/board and sign in with it"
    );
    let form = format!("token={token}");
    let cookie = request(
        port,
        "POST",
        "/board/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    )
    .ok()
    .and_then(|(_, head, _)| {
        head.lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .map(String::from)
    });
    let Some(cookie) = cookie else {
        eprintln!("quickstart: the board did not open a session");
        std::process::exit(1);
    };
    let page = |path: &str| match request(port, "GET", path, &[("Cookie", &cookie)], "") {
        Ok((200, _, page)) => page,
        other => {
            eprintln!("quickstart: the board's {path} answered {other:?}");
            std::process::exit(1);
        }
    };
    let home = page("/board");
    let titles: Vec<&str> = home
        .split("<th scope=\"row\"><a href=\"/board/postings/")
        .skip(1)
        .filter_map(|r| r.split("\">").nth(1)?.split("</a>").next())
        .collect();
    println!(
        "GET /board → her postings only ({}), in {}",
        titles.join(", "),
        if home.contains("lang=\"de\"") {
            "German"
        } else {
            "the default language"
        }
    );
    let posting = page("/board/postings/1");
    let columns = posting.matches("<section class=\"column\"").count();
    let waiting: Vec<&str> = posting
        .split("<li class=\"card stale\">")
        .skip(1)
        .filter_map(|c| c.split("\">").nth(1)?.split("</a>").next())
        .collect();
    println!(
        "GET /board/postings/1 → {} KB: {columns} stage columns, {} charts; waiting too long: {}",
        posting.len() / 1024,
        posting.matches("role=\"img\"").count(),
        if waiting.is_empty() {
            "nobody".to_string()
        } else {
            waiting.join(", ")
        }
    );
    // María's address bounced, Alan replied: both on their pages (Lena
    // reads all postings' applications)
    let maria = page("/board/applications/4");
    let alan = page("/board/applications/7");
    println!(
        "GET /board/applications/4 → {}\nGET /board/applications/7 → {}",
        if maria.contains("Die Adresse ist seit") {
            "her address marked undeliverable, the bounce in her thread"
        } else {
            "no undeliverable mark (!)"
        },
        if alan.contains("I can start in January") {
            "his reply in the thread: \"Thank you! I can start in January, …\""
        } else {
            "no reply (!)"
        }
    );
    // the application page's move form: its form token, then a POST as
    // the browser sends it
    let app = page("/board/applications/2");
    let Some(form_token) = app
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
    else {
        eprintln!("quickstart: application 2's page has no form");
        std::process::exit(1);
    };
    let body = format!("form_token={form_token}&to=interview&reason=strong+screening+call");
    match request(
        port,
        "POST",
        "/board/applications/2/move",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &body,
    ) {
        Ok((303, _, _)) => println!(
            "POST /board/applications/2/move (to=interview, with the page's form token) → 303: moved"
        ),
        other => {
            eprintln!("quickstart: the board's move answered {other:?}");
            std::process::exit(1);
        }
    }
    cookie
}

/// The text of an HTML fragment, its tags dropped and its spaces folded.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Structured interviews, before the service starts: Sam and Lena say
/// when they can interview, the posting gets a scorecard, Grace applies to
/// it and Sam offers her the times at which both are free (from today on:
/// the link is booked while the service runs, by today's clock). Grace's
/// new application.
fn offer_a_panel(dir: &Path) -> i64 {
    say(
        "structured interviews: Sam and Lena give their weekly hours, each in their own zone; the posting gets a scorecard",
    );
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let now = now.as_str();
    atsd(
        dir,
        &[
            "--now",
            now,
            "person",
            "availability",
            "lena@example.org",
            "--weekly",
            "Mon-Fri 09:00-17:00",
        ],
    );
    atsd(
        dir,
        &[
            "--now",
            now,
            "person",
            "availability",
            "sam@example.org",
            "--weekly",
            "Mon-Thu 08:00-14:00",
            "--weekly",
            "Fri 08:00-12:00",
        ],
    );
    atsd(
        dir,
        &[
            "--now",
            now,
            "posting",
            "scorecard",
            "1",
            "--attribute",
            "Skills: Distributed systems, Rust",
            "--attribute",
            "Personality traits: Clear communication",
        ],
    );
    say(
        "Grace applies to the platform role; Sam offers her a panel with Lena: one link to every time both are free",
    );
    atsd(
        dir,
        &[
            "--now",
            now,
            "apply",
            "1",
            "--name",
            "Grace Hopper",
            "--email",
            "grace@example.net",
            "--timezone",
            "America/Chicago",
        ],
    );
    let url = format!("sqlite://{}/atsd.db?mode=rwc", dir.display());
    let app = tokio::runtime::Runtime::new().ok().and_then(|rt| {
        rt.block_on(async {
            let store = atsd::store::Store::open(&url).await.ok()?;
            let cand = atsd::store::candidates::find_by_email(store.conn(), "grace@example.net")
                .await
                .ok()??;
            atsd::store::applications::of_candidate(store.conn(), cand.id)
                .await
                .ok()?
                .into_iter()
                .max()
        })
    });
    let Some(app) = app else {
        eprintln!("quickstart: Grace's application is not there");
        std::process::exit(1);
    };
    atsd(
        dir,
        &[
            "--now",
            now,
            "interview",
            "offer",
            &app.to_string(),
            "--interviewer",
            "sam@example.org",
            "--interviewer",
            "lena@example.org",
            "--duration",
            "45m",
            "--focus",
            "Rust",
        ],
    );
    atsd(dir, &["--now", now, "tick", "dispatch"]);
    app
}

/// While the service runs: Grace books the first time through her link;
/// Sam and Lena fill their scorecards; Lena's board shows the matrix.
fn book_and_score(dir: &Path, port: u16, cookie: &str, grace: i64) {
    say("Grace opens her link (the times in her zone, Chicago) and books the first one");
    // the offer's email (Message-ID <atsd.o1.slots@…>), quoted-printable
    let link = std::fs::read_to_string(dir.join("outbox/_atsd.o1.slots@example.org_.eml"))
        .ok()
        .and_then(|eml| {
            let text = eml.replace("=\r\n", "");
            let at = text.find("/self-service/book/")?;
            Some(text[at..].split_whitespace().next()?.to_string())
        });
    let Some(link) = link else {
        eprintln!("quickstart: no booking link in Grace's email");
        std::process::exit(1);
    };
    let page = match get(port, &link) {
        Ok((200, page)) => page,
        other => {
            eprintln!("quickstart: the booking page answered {other:?}");
            std::process::exit(1);
        }
    };
    let first: Vec<String> = page
        .split("<label style=\"display:block\" for=\"s")
        .skip(1)
        .take(3)
        .map(|l| text_of(&format!("<{l}")))
        .collect();
    println!(
        "\n$ open http://127.0.0.1:{port}{}…   # the first times offered\n  {}",
        &link[..link.len().min(30)],
        first.join("\n  ")
    );
    let Some(slot) = page
        .split("name=\"slot\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
    else {
        eprintln!("quickstart: no time offered to Grace");
        std::process::exit(1);
    };
    match request(
        port,
        "POST",
        &link,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("action=book&slot={slot}"),
    ) {
        Ok((200, _, page)) => {
            let booked = page
                .split("<p>")
                .find(|p| p.contains("booked for"))
                .map(text_of)
                .unwrap_or_default();
            println!("POST (action=book) → 200: {booked}");
        }
        other => {
            eprintln!("quickstart: booking answered {other:?}");
            std::process::exit(1);
        }
    }
    atsd(
        dir,
        &["interview", "list", "--application", &grace.to_string()],
    );
    say("Sam and Lena fill their scorecards (Sam's private note never reaches the board)");
    for (who, rec, ratings, note) in [
        (
            "sam@example.org",
            "strong_yes",
            [
                "Distributed systems=strong_yes",
                "Rust=yes",
                "Clear communication=yes",
            ],
            "Designed the retry path on the whiteboard.",
        ),
        (
            "lena@example.org",
            "yes",
            [
                "Distributed systems=yes",
                "Rust=mixed",
                "Clear communication=strong_yes",
            ],
            "Explains trade-offs plainly.",
        ),
    ] {
        let mut a = vec![
            "interview",
            "feedback",
            "2",
            "--by",
            who,
            "--recommendation",
            rec,
            "--note",
            note,
        ];
        for r in &ratings {
            a.extend(["--rate", r]);
        }
        if who == "sam@example.org" {
            a.extend(["--private-note", "Reminds me of a former colleague."]);
        }
        atsd(dir, &a);
    }
    let page = match request(
        port,
        "GET",
        &format!("/board/applications/{grace}"),
        &[("Cookie", cookie)],
        "",
    ) {
        Ok((200, _, page)) => page,
        other => {
            eprintln!("quickstart: the board's application page answered {other:?}");
            std::process::exit(1);
        }
    };
    let Some(table) = page
        .split("<h2 id=\"scorecards\">")
        .nth(1)
        .and_then(|r| r.split("</table>").next())
    else {
        eprintln!("quickstart: no scorecard matrix on Grace's page");
        std::process::exit(1);
    };
    println!("\nGET /board/applications/{grace} → the scorecard matrix (Lena's board, in German):");
    for row in table.split("<tr>").skip(1) {
        let cells: Vec<String> = row
            .split("</th>")
            .flat_map(|c| c.split("</td>"))
            .map(text_of)
            .filter(|c| !c.is_empty())
            .collect();
        println!("  {}", cells.join(" | "));
    }
}

/// `atsd run` for a few seconds: what an operator's systemd service does.
fn run_as_a_service(dir: &Path, port: u16, careers: u16, grace: i64) {
    say(
        "the same jobs as a service: `atsd run` (under systemd: atsd.service, see deploy/README.md)",
    );
    let d = dir.to_path_buf();
    let daemon = std::thread::spawn(move || {
        atsd(&d, &["--now", "2026-11-27T12:10:00Z", "run"]);
    });
    let started = std::time::Instant::now();
    let health = loop {
        match get(port, "/healthz") {
            Ok((200, body)) => break body,
            _ if started.elapsed() > std::time::Duration::from_secs(30) => {
                eprintln!("quickstart: the daemon did not answer on 127.0.0.1:{port}");
                std::process::exit(1);
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    println!("\n$ curl 127.0.0.1:{port}/healthz\n{health}");
    if let Ok((_, metrics)) = get(port, "/metrics") {
        println!("\n$ curl 127.0.0.1:{port}/metrics   # a few of the lines");
        for line in metrics.lines().filter(|l| {
            l.starts_with("atsd_outbox_emails{")
                || l.starts_with("atsd_postings{")
                || l.starts_with("atsd_build_info")
        }) {
            println!("{line}");
        }
    }
    let cookie = look_at_the_board(dir, port);
    careers_site(careers);
    book_and_score(dir, port, &cookie, grace);
    println!("\n$ kill -TERM <atsd run>   # systemctl stop atsd");
    let me = std::process::id().to_string();
    if let Err(e) = std::process::Command::new("kill")
        .args(["-TERM", &me])
        .status()
    {
        eprintln!("quickstart: cannot signal the daemon: {e}");
        std::process::exit(1);
    }
    let _ = daemon.join();
    println!("the daemon finished its work in hand and stopped");
}

/// The careers site on its own listener: the board through Greenhouse's
/// Job Board API, and an application through the careers form with a
/// resume (what a candidate's browser sends).
fn careers_site(port: u16) {
    say("the careers site on its own listener: Greenhouse's Job Board API and the apply form");
    let list = match get(port, "/v1/boards/examplecorp/jobs") {
        Ok((200, body)) => body,
        other => {
            eprintln!("quickstart: the careers board did not answer: {other:?}");
            std::process::exit(1);
        }
    };
    let v: serde_json::Value = serde_json::from_str(&list).unwrap_or_default();
    println!("\n$ curl 127.0.0.1:{port}/v1/boards/examplecorp/jobs   # as Greenhouse answers");
    println!("meta.total: {}", v["meta"]["total"]);
    for j in v["jobs"].as_array().into_iter().flatten() {
        println!(
            "  {} {} ({}) {}",
            j["id"], j["title"], j["location"]["name"], j["absolute_url"]
        );
    }
    let boundary = "quickstart-boundary";
    let mut body = String::new();
    for (k, val) in [
        ("first_name", "Jo"),
        ("last_name", "Park"),
        ("email", "jo.park@example.net"),
        ("phone", "+1 555 0100"),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{val}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"resume\"; filename=\"jo-park.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4\n% Jo Park, data analyst\n%%EOF\n\r\n--{boundary}--\r\n"
    ));
    let ct = format!("multipart/form-data; boundary={boundary}");
    match request(
        port,
        "POST",
        "/careers/jobs/2",
        &[("Content-Type", &ct)],
        &body,
    ) {
        Ok((303, head, _)) => {
            let to = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("location: ")
                        .or_else(|| l.strip_prefix("Location: "))
                })
                .unwrap_or("?");
            println!(
                "\nPOST /careers/jobs/2 (the form, with jo-park.pdf) → 303 {to}: Jo Park applied"
            );
        }
        other => {
            eprintln!("quickstart: the careers form did not take the application: {other:?}");
            std::process::exit(1);
        }
    }
}

/// A header's RFC 2047 encoded words (`=?utf-8?b?…?=`) as text.
fn decode_words(v: &str) -> String {
    use base64::Engine;
    v.split(' ')
        .map(|w| {
            w.strip_prefix("=?utf-8?b?")
                .and_then(|b| b.strip_suffix("?="))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| w.to_string())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quoted-printable decoded (RFC 2045 §6.7): soft line breaks dropped, `=XX`
/// turned back into the byte.
fn unquote(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The candidate's invitation as their mail client gets it: the headers,
/// the text, and the calendar part every client reads.
fn show_invitation(dir: &Path, file: &str) {
    use base64::Engine;
    let Ok(text) = std::fs::read_to_string(dir.join("outbox").join(file)) else {
        eprintln!("quickstart: no {file}");
        std::process::exit(1);
    };
    println!("\n$ cat outbox/{file}   # the parts, decoded");
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    for l in head.lines().filter(|l| {
        l.starts_with("To:") || l.starts_with("Subject:") || l.starts_with("Content-Type:")
    }) {
        println!("{l}");
    }
    for part in text.split("\r\n--=_").skip(1) {
        let (h, body) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
        if h.contains("Content-Type: text/plain") {
            println!("\n[text/plain]\n{}", unquote(body).trim_end());
        } else if h.contains("Content-Type: text/calendar") {
            let ct = h
                .lines()
                .find(|l| l.starts_with("Content-Type:"))
                .unwrap_or("");
            let raw: String = body.split_whitespace().collect();
            let ics = base64::engine::general_purpose::STANDARD
                .decode(raw.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            println!(
                "\n[{}]\n{}",
                ct.trim_start_matches("Content-Type: "),
                ics.replace("\r\n", "\n").trim_end()
            );
        } else if h.contains("invite.ics") {
            println!("\n[attachment invite.ics: the same calendar object]");
        }
    }
}

/// Each digest written as an `.eml` file: to whom, when, and about what.
fn show_digests(dir: &Path) {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    println!("\n$ head outbox/*digest*.eml   # To, Date and Subject of each digest");
    for f in files {
        if !f.to_string_lossy().contains("digest") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        // the head, its folded lines joined
        let head = text
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .replace("\r\n ", " ");
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| decode_words(v.trim()))
                .unwrap_or_default()
        };
        println!(
            "To: {} | Date: {} | Subject: {}",
            header("To:"),
            header("Date:"),
            header("Subject:")
        );
    }
}

/// The newest digest that names an undeliverable address: its section.
fn show_bounce_in_digest(dir: &Path) {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let section = files.iter().rev().find_map(|f| {
        let name = f.file_name()?.to_string_lossy().into_owned();
        if !name.contains("digest") {
            return None;
        }
        let raw = std::fs::read(f).ok()?;
        let msg = mail_parser::MessageParser::default().parse(&raw)?;
        let text = msg.body_text(0)?.replace("\r\n", "\n");
        // the section runs from its heading to the blank line after it
        let start = text
            .find("E-Mails kamen zurück")
            .or(text.find("Emails that bounced"))?;
        let section = text[start..].split("\n\n").next()?.to_string();
        Some((name, section))
    });
    match section {
        Some((name, section)) => {
            println!("\noutbox/{name}, the bounce section of its text:\n{section}")
        }
        None => println!("\nno digest names an undeliverable address (!)"),
    }
}

/// The first .eml file to `to`: its name, and the value of `header`.
fn eml_to(dir: &Path, to: &str, header: &str) -> Option<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files.into_iter().find_map(|p| {
        let text = std::fs::read_to_string(&p).ok()?;
        let head = text.split("\r\n\r\n").next()?;
        head.lines()
            .find(|l| l.starts_with("To:") && l.contains(to))?;
        let value = head
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{header}: ")))?
            .trim()
            .to_string();
        Some((p.file_name()?.to_string_lossy().into_owned(), value))
    })
}

/// A bounce from María's mail system and a reply from Alan, each through
/// `atsd mail receive` (what an MTA's pipe runs).
fn mail_comes_back(dir: &Path) {
    say(
        "mail comes back: María's mailbox is gone. Her mail system's report goes to the bounce address of the very email it returns (its Return-Path)",
    );
    let Some((file, return_path)) = eml_to(dir, "maria@example.net", "Return-Path") else {
        eprintln!("quickstart: no email to María with a Return-Path");
        std::process::exit(1);
    };
    let verp = return_path.trim_matches(['<', '>']).to_string();
    let message_id = eml_to(dir, "maria@example.net", "Message-ID")
        .map(|(_, id)| id)
        .unwrap_or_default();
    println!("\n$ grep -m1 Return-Path outbox/{file}\nReturn-Path: {return_path}");
    let bounce = format!(
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n\
         To: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0100\r\nMessage-ID: <report-1@mx.example.net>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n\
         --R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n\
         Final-Recipient: rfc822; maria@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <maria@example.net>: Recipient address rejected: User unknown\r\n\r\n\
         --R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\n\r\n--R--\r\n"
    );
    let reply_to = eml_to(dir, "alan@example.net", "Reply-To").map(|(_, r)| r);
    let Some(reply_to) = reply_to else {
        eprintln!("quickstart: no email to Alan with a Reply-To");
        std::process::exit(1);
    };
    let reply = format!(
        "From: Alan Turing <alan@example.net>\r\nTo: {reply_to}\r\n\
         Subject: Re: Your application\r\nDate: Fri, 27 Nov 2026 10:30:00 +0000\r\n\
         Message-ID: <alan-1@example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Thank you! I can start in January, and I am free for a call any afternoon.\r\n"
    );
    for (name, text) in [("bounce.eml", &bounce), ("reply.eml", &reply)] {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            eprintln!("quickstart: cannot write {name}: {e}");
            std::process::exit(1);
        }
    }
    let bounce_file = dir.join("bounce.eml").display().to_string();
    atsd(
        dir,
        &[
            "--now",
            "2026-11-27T12:01:00Z",
            "mail",
            "receive",
            "--recipient",
            &verp,
            "--file",
            &bounce_file,
        ],
    );
    atsd(dir, &["mail", "undeliverable", "list"]);
    say(&format!(
        "Alan answers his acknowledgement: its Reply-To, {reply_to}, is his application's own address; the reply joins it and goes on to the recruiters"
    ));
    let reply_file = dir.join("reply.eml").display().to_string();
    atsd(
        dir,
        &[
            "--now",
            "2026-11-27T12:02:00Z",
            "mail",
            "receive",
            "--recipient",
            &reply_to,
            "--file",
            &reply_file,
        ],
    );
    atsd(dir, &["mail", "inbound"]);
}

/// What atsd holds about a person: an access request answered with an
/// export, an erasure request answered at once.
fn privacy(dir: &Path) {
    let now = "2026-11-27T13:00:00Z";
    say(
        "María asks what atsd holds about her (GDPR, access): due the same date next month, moved off the weekend (27 December is a Sunday), in [schedule] timezone",
    );
    atsd(
        dir,
        &[
            "--now",
            now,
            "request",
            "open",
            "--email",
            "maria@example.net",
            "--kind",
            "access",
            "--law",
            "gdpr",
        ],
    );
    let export = dir.join("maria-export.json");
    atsd(
        dir,
        &[
            "--now",
            now,
            "candidate",
            "export",
            "maria@example.net",
            "--out",
            &export.display().to_string(),
        ],
    );
    atsd(
        dir,
        &[
            "--now",
            now,
            "request",
            "close",
            "1",
            "--outcome",
            "done",
            "--reason",
            "export sent by email",
        ],
    );
    say(
        "Alan asks to be forgotten (erasure): forgotten now, everywhere the map of personal data says; downstream systems learn that candidate 7 was erased, not who",
    );
    atsd(
        dir,
        &[
            "--now",
            now,
            "request",
            "open",
            "--email",
            "alan@example.net",
            "--kind",
            "erasure",
            "--law",
            "gdpr",
        ],
    );
    atsd(
        dir,
        &[
            "--now",
            now,
            "candidate",
            "erase",
            "alan@example.net",
            "--request",
            "2",
        ],
    );
    atsd(dir, &["--now", now, "request", "list", "--all"]);
}

fn say(text: &str) {
    println!("\n# {text}");
}

/// The jobs the stand-in board lists for examplecorp on Greenhouse.
fn greenhouse_jobs(payments_open: bool) -> Vec<serde_json::Value> {
    let mut jobs = vec![serde_json::json!({
        "id": 4410021,
        "title": "Senior Platform Engineer",
        "absolute_url": "https://boards.greenhouse.io/examplecorp/jobs/4410021",
        "location": {"name": "Berlin, Germany"},
        "company_name": "Example Corp",
        "first_published": "2026-10-15T09:00:00-04:00",
        "updated_at": "2026-11-19T08:12:44-05:00",
    })];
    if payments_open {
        jobs.push(serde_json::json!({
            "id": 4410055,
            "title": "Engineering Manager, Payments",
            "absolute_url": "https://boards.greenhouse.io/examplecorp/jobs/4410055",
            "location": {"name": "Zurich, Switzerland"},
            "company_name": "Example Corp",
            "first_published": "2026-10-01T09:00:00-04:00",
            "updated_at": "2026-11-19T08:12:44-05:00",
        }));
    }
    jobs
}

fn answer(stream: &mut TcpStream, payments_open: bool) -> std::io::Result<()> {
    let mut line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut line)?;
    // skip the headers
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let jobs = greenhouse_jobs(payments_open);
    let (status, body) = if path == "/v1/boards/examplecorp/jobs" {
        let total = jobs.len();
        (
            "200 OK",
            serde_json::json!({"jobs": jobs, "meta": {"total": total}}),
        )
    } else if let Some(id) = path.strip_prefix("/v1/boards/examplecorp/jobs/") {
        match jobs
            .into_iter()
            .find(|j| j["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(id))
        {
            Some(j) => ("200 OK", j),
            None => (
                "404 Not Found",
                serde_json::json!({"status": 404, "error": "Job not found"}),
            ),
        }
    } else if path == "/v0/postings/examplecorp/6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e" {
        (
            "200 OK",
            serde_json::json!({
                "id": "6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e",
                "text": "Data Analyst, Growth",
                "categories": {"location": "Remote (EU)"},
                "hostedUrl": "https://jobs.lever.co/examplecorp/6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e",
            }),
        )
    } else {
        (
            "404 Not Found",
            serde_json::json!({"status": 404, "error": "Job not found"}),
        )
    };
    let body = body.to_string();
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// A stand-in for boards-api.greenhouse.io and api.lever.co on loopback.
fn start_board(payments_open: Arc<AtomicBool>) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let open = payments_open.load(Ordering::SeqCst);
            if let Err(e) = answer(&mut stream, open) {
                eprintln!("stand-in board: {e}");
            }
        }
    });
    Ok(port)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join("quickstart");
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("quickstart: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let payments_open = Arc::new(AtomicBool::new(true));
    let port = match start_board(payments_open.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("quickstart: cannot start the stand-in job board: {e}");
            std::process::exit(1);
        }
    };
    let http_port = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => {
            eprintln!("quickstart: no free port on loopback: {e}");
            std::process::exit(1);
        }
    };
    let careers_port = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => {
            eprintln!("quickstart: no free port on loopback: {e}");
            std::process::exit(1);
        }
    };
    let ex = root.join("examples");
    let p = |rel: &str| ex.join(rel).display().to_string();

    say("a fresh atsd: the commented config and the SQLite database");
    atsd(&dir, &["init", &dir.display().to_string()]);
    // the stand-in board on loopback instead of the real APIs, and the rules
    let config = format!(
        r#"
[org]
name = "Example Corp"

[[rules]]                         # no answer for two weeks: reject
name = "stale-applied"
stage = "applied"
after = "14d"
move_to = "rejected"
reason = "no_response"

[[rules]]                         # five days in screening: remind the recruiters
name = "nudge-screening"
stage = "screening"
after = "5d"
remind = true

[[rules]]                         # the job is gone from the board: tell its candidates
name = "posting-closed"
on = "posting_closed"
move_to = "rejected"
reason = "posting_closed"
email = "posting_closed"

[recruiters]
emails = ["recruiting@example.org"]

[interviews]                      # scheduling an interview moves the application to this stage
stage = "interview"

[mail.inbound]                    # mail that comes back: bounces and replies find their email
domain = "jobs.example.org"       # envelope sender bounces+<id>-<tag>@…, Reply-To reply+<application>-<tag>@…
key_file = "inbound.key"          # the tags' key (systemd: the credential inbound-key)

[http]                            # `atsd run` serves /healthz and /metrics here
listen = "127.0.0.1:{http_port}"
public_url = "http://127.0.0.1:{http_port}/"   # the signed links in emails (withdraw, privacy, booking, feedback)
link_key_file = "link.key"

[careers]                         # the careers site and Greenhouse's Job Board API, a listener of their own
board = "examplecorp"
listen = "127.0.0.1:{careers_port}"

[poll]
allow_addresses = ["127.0.0.1:{port}"]
[poll.sources.greenhouse]
api_base = "http://127.0.0.1:{port}"
[poll.sources.lever]
api_base = "http://127.0.0.1:{port}"
"#
    );
    // a key is private to its owner (atsd refuses one others can read)
    for (file, text) in [
        (
            "inbound.key",
            "quick-start-inbound-key-not-a-secret-0123456789\n",
        ),
        (
            "link.key",
            "quick-start-link-key-not-a-secret-0123456789abc\n",
        ),
    ] {
        use std::os::unix::fs::OpenOptionsExt;
        let key = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(dir.join(file))
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = key {
            eprintln!("quickstart: cannot write {file}: {e}");
            std::process::exit(1);
        }
    }
    if let Err(e) = std::fs::write(dir.join("atsd.toml"), config) {
        eprintln!("quickstart: cannot write atsd.toml: {e}");
        std::process::exit(1);
    }
    println!(
        "\n(atsd.toml now has three rules, a recruiter and the stand-in board at 127.0.0.1:{port})"
    );
    atsd(&dir, &["check-config"]);

    say("Friday 20 November: postings and applications arrive");
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-20T08:00:00Z",
            "posting",
            "import",
            &p("postings/platform-engineer.md"),
            &p("postings/data-analyst.md"),
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-20T08:00:00Z",
            "posting",
            "add",
            "https://boards.greenhouse.io/examplecorp/jobs/4410055",
            "--title",
            "Engineering Manager, Payments",
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-20T08:05:00Z",
            "application",
            "import",
            &p("applications.csv"),
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-20T08:30:00Z",
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
            "2026-11-20T08:45:00Z",
            "application",
            "move",
            "3",
            "offer",
            "--reason",
            "great final round",
        ],
    );

    say("what the 09:00 run would do (nothing changes)");
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-20T09:00:00Z",
            "tick",
            "advance",
            "--dry-run",
        ],
    );
    say("the 09:00 run: every job once, each claimed as a job run");
    atsd(&dir, &["--now", "2026-11-20T09:00:00Z", "tick"]);

    say("Saturday: the payments job disappears from the board");
    payments_open.store(false, Ordering::SeqCst);
    atsd(&dir, &["--now", "2026-11-21T09:00:00Z", "tick", "poll"]);
    say("a second 'not found' at least 10 minutes later confirms the close");
    atsd(&dir, &["--now", "2026-11-21T09:30:00Z", "tick"]);

    say("Wednesday 25 November: more stale applications, the delayed rejections go out");
    atsd(&dir, &["--now", "2026-11-25T09:00:00Z", "tick"]);

    atsd(&dir, &["--now", "2026-11-25T09:05:00Z", "tick", "dispatch"]);

    say("where everything stands");
    atsd(
        &dir,
        &["--now", "2026-11-25T09:05:00Z", "application", "list"],
    );
    atsd(&dir, &["--now", "2026-11-25T09:05:00Z", "mail", "list"]);
    atsd(&dir, &["--now", "2026-11-25T09:05:00Z", "posting", "list"]);
    atsd(&dir, &["--now", "2026-11-25T09:05:00Z", "status"]);
    atsd(&dir, &["--now", "2026-11-25T09:05:00Z", "report"]);
    let report = dir.join("report.html");
    say("the same report as one web page with charts, for a browser or an email attachment");
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-25T09:05:00Z",
            "report",
            "--format",
            "html",
            "--output",
            &report.display().to_string(),
        ],
    );
    say(
        "the event feed: every move of the week as JSON lines (what [[webhooks.out]] endpoints receive, signed)",
    );
    atsd(&dir, &["events", "--type", "application.moved"]);
    say("the hiring team: two recruiters in two time zones, each owning a posting");
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-25T09:05:00Z",
            "person",
            "add",
            "lena@example.org",
            "--name",
            "Lena Berg",
            "--timezone",
            "Europe/Berlin",
            "--locale",
            "de",
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-25T09:05:00Z",
            "person",
            "add",
            "sam@example.org",
            "--name",
            "Sam Ortiz",
            "--timezone",
            "America/New_York",
        ],
    );
    for (posting, who) in [("1", "lena@example.org"), ("2", "sam@example.org")] {
        atsd(
            &dir,
            &[
                "--now",
                "2026-11-25T09:05:00Z",
                "posting",
                "assign",
                posting,
                "--recruiter",
                who,
            ],
        );
    }
    atsd(&dir, &["posting", "list", "--owner", "lena@example.org"]);
    say(
        "the digest's `0 9 * * MON-FRI` is read in each person's own zone: 14:00 UTC is 09:00 in New York",
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-25T14:00:00Z",
            "tick",
            "digest",
            "dispatch",
        ],
    );
    say(
        "Thursday 08:00 UTC is 09:00 in Berlin: Lena's, in German; at 09:00 UTC the [recruiters] list's covers only postings nobody owns (nothing new there today: none sent)",
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-26T08:00:00Z",
            "tick",
            "digest",
            "dispatch",
        ],
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-26T09:00:00Z",
            "tick",
            "digest",
            "dispatch",
        ],
    );
    show_digests(&dir);

    say(
        "an interview: Sam schedules Grace Hopper's with Lena and himself; everyone gets a calendar invitation",
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-26T10:00:00Z",
            "interview",
            "schedule",
            "6",
            "--at",
            "2026-12-01T15:00",
            "--timezone",
            "Europe/Berlin",
            "--duration",
            "45m",
            "--interviewer",
            "sam@example.org",
            "--interviewer",
            "lena@example.org",
            "--video-url",
            "https://meet.example.org/grace-hopper",
        ],
    );
    atsd(&dir, &["--now", "2026-11-26T10:00:00Z", "tick", "dispatch"]);
    show_invitation(&dir, "_atsd.i1.s0.req.c@example.org_.eml");
    say(
        "moved by an hour: the same UID with SEQUENCE 1 goes to everyone, the reminders are planned again",
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-27T09:00:00Z",
            "interview",
            "reschedule",
            "1",
            "--at",
            "2026-12-01T16:00",
        ],
    );
    atsd(&dir, &["--now", "2026-11-27T09:00:00Z", "tick", "dispatch"]);
    say(
        "Grace withdraws from the process: rejecting the application cancels the interview on every calendar",
    );
    atsd(
        &dir,
        &[
            "--now",
            "2026-11-27T12:00:00Z",
            "application",
            "move",
            "6",
            "rejected",
            "--reason",
            "accepted another offer",
            "--no-email",
        ],
    );
    atsd(&dir, &["--now", "2026-11-27T12:00:00Z", "tick", "dispatch"]);
    atsd(
        &dir,
        &["--now", "2026-11-27T12:00:00Z", "interview", "show", "1"],
    );
    mail_comes_back(&dir);
    say(
        "a tick before the service starts: every job catches up on what did not run this morning (the day's digests come late), so that the service has nothing left to send",
    );
    atsd(&dir, &["--now", "2026-11-27T12:05:00Z", "tick"]);
    // the digest job runs after dispatch within a tick: what it queued goes now
    atsd(&dir, &["--now", "2026-11-27T12:06:00Z", "tick", "dispatch"]);
    say("Lena's digest of the day (09:00 in Berlin, late) names María's address, which bounced");
    show_bounce_in_digest(&dir);
    say("two postings go on the careers board");
    atsd(
        &dir,
        &["--now", "2026-11-27T12:07:00Z", "posting", "publish", "1"],
    );
    atsd(
        &dir,
        &["--now", "2026-11-27T12:07:00Z", "posting", "publish", "2"],
    );
    let grace = offer_a_panel(&dir);
    run_as_a_service(&dir, http_port, careers_port, grace);
    say("the move Lena made on the board, in the application's history: the actor is her");
    atsd(&dir, &["application", "show", "2"]);
    privacy(&dir);

    let emails = std::fs::read_dir(dir.join("outbox"))
        .map(|rd| rd.flatten().count())
        .unwrap_or(0);
    println!(
        "\n{emails} emails were written as .eml files to {}; the database and config are in {}",
        dir.join("outbox").display(),
        dir.display()
    );
    println!(
        "what each step did: docs/src/quick-start.md; the whole book: `mdbook build docs`, then target/book/index.html"
    );
}
