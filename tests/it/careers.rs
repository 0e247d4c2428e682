//! The careers site and Greenhouse's Job Board API on their own listener,
//! with the real daemon over loopback (issue 34): the board in Greenhouse's
//! shapes, read by atsd's own poller; applications by multipart and JSON
//! and through the form, each an application like `atsd apply`'s; and every
//! refusal (missing fields, a file too big, an executable named `.pdf`, a
//! closed job, a bad key, another site, a bot, too many) leaving every
//! table as it was.

use crate::api::Api;
use crate::common::{Answer, Env, http};
use crate::daemon::rows;
use crate::smtp::free_port;
use base64::Engine;
use serde_json::{Value, json};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

pub(crate) struct Site {
    pub(crate) env: Env,
    pub(crate) api: Api,
    /// The careers listener.
    pub(crate) port: u16,
    /// The main listener (the board, the API).
    board: u16,
    /// Line Cook, published by its front matter.
    pub(crate) published: i64,
    /// Waiter, not published.
    pub(crate) hidden: i64,
}

const COOK: &str = "---
title: Line Cook
companyName: Example Kitchen
url: https://jobs.example.org/cook
location: Berlin
published: true
departments: [Kitchen]
offices: [Berlin, Hamburg]
metadata:
  Shift: Early
  Hours: 40
requisitionId: REQ-7
employmentType: FULL_TIME
validThrough: 2031-01-31
questions:
  - label: Why cooking?
    type: long_text
    required: true
  - label: Work permit?
    type: yes_no
    required: true
  - label: Shifts
    type: multi_select
    options: [Early, Late, Night]
  - label: Food safety certificate
    type: file
---
We cook **fresh** food.

<script>alert(1)</script>
";

const WAITER: &str = "---
title: Waiter
url: https://jobs.example.org/waiter
location: Berlin
---
Serve tables.
";

pub(crate) fn site(extra: &str) -> Site {
    let port = free_port();
    let careers = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n\
         [careers]\nboard = \"examplecorp\"\nlisten = \"127.0.0.1:{careers}\"\nfiles_dir = \"files\"\n{extra}\n\
         [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n\
         [poll]\nallow_private_addresses = true\nclose_after_not_found = 1\n\
         [poll.sources.greenhouse]\napi_base = \"http://127.0.0.1:{careers}\"\n"
    ));
    env.write("cook.md", COOK);
    env.write("waiter.md", WAITER);
    let out = env.json(&["posting", "import", "cook.md", "waiter.md"]);
    let ids: Vec<i64> = out["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    let api = Api::start(&env, port);
    let t = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", careers)).is_err() {
        assert!(
            t.elapsed().as_secs() < 30,
            "the careers listener did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Site {
        env,
        api,
        port: careers,
        board: port,
        published: ids[0],
        hidden: ids[1],
    }
}

fn get(port: u16, path: &str) -> Answer {
    http(port, "GET", path, &[], b"").unwrap()
}

fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "atsd-test-boundary-7f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (k, name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn basic(token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{token}:"))
    )
}

/// Every table's rows that an application writes, for "nothing changed".
fn written(env: &Env) -> Vec<Vec<String>> {
    rows(
        env,
        "SELECT 'a', COUNT(*) FROM applications UNION ALL SELECT 'c', COUNT(*) FROM candidates \
         UNION ALL SELECT 'o', COUNT(*) FROM outbox UNION ALL SELECT 'f', COUNT(*) FROM application_forms \
         UNION ALL SELECT 'x', COUNT(*) FROM application_files UNION ALL SELECT 'e', COUNT(*) FROM events",
    )
}

fn answers(cook: &Value) -> Vec<(String, String)> {
    let q = |label: &str| -> String {
        cook["questions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["label"] == label)
            .unwrap_or_else(|| panic!("no question {label}"))["fields"][0]["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    vec![
        (q("Why cooking?"), "I love it.".into()),
        (q("Work permit?"), "1".into()),
        (format!("{}[]", q("Shifts")), "1".into()),
        (format!("{}[]", q("Shifts")), "3".into()),
    ]
}

#[test]
fn the_board_answers_in_greenhouses_shapes_and_atsds_own_poller_reads_it() {
    let s = site("");
    let p = s.port;
    let list = get(p, "/v1/boards/examplecorp/jobs");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.headers
            .contains("cache-control: max-age=0, private, must-revalidate"),
        "{}",
        list.headers
    );
    let v = list.json();
    assert_eq!(v["meta"]["total"], 1, "only the published one: {v}");
    let j = &v["jobs"][0];
    assert_eq!(j["id"], s.published);
    assert_eq!(j["internal_job_id"], s.published);
    assert_eq!(j["title"], "Line Cook");
    assert_eq!(j["location"], json!({"name": "Berlin"}));
    assert_eq!(j["requisition_id"], "REQ-7");
    assert_eq!(j["company_name"], "Example Kitchen");
    assert_eq!(
        j["absolute_url"],
        format!("http://127.0.0.1:{p}/careers/jobs/{}", s.published)
    );
    assert!(chrono::DateTime::parse_from_rfc3339(j["updated_at"].as_str().unwrap()).is_ok());
    assert!(chrono::DateTime::parse_from_rfc3339(j["first_published"].as_str().unwrap()).is_ok());
    let meta = |name: &str| -> Value {
        j["metadata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no metadata {name}: {j}"))
    };
    assert_eq!(meta("Shift")["value"], "Early");
    assert_eq!(meta("Shift")["value_type"], "short_text");
    assert_eq!(meta("Hours")["value"], 40);
    assert_eq!(meta("Hours")["value_type"], "number");
    assert!(meta("Shift")["id"].is_u64());
    assert_eq!(j["data_compliance"][0]["type"], "gdpr");
    assert_eq!(j["data_compliance"][0]["retention_period"], 365);
    assert!(
        j.get("content").is_none(),
        "no content without ?content=true"
    );

    // content: escaped once, sanitized; departments and offices
    let full = get(p, "/v1/boards/examplecorp/jobs?content=true").json();
    let c = full["jobs"][0]["content"].as_str().unwrap();
    assert!(
        c.contains("&lt;p&gt;We cook &lt;strong&gt;fresh&lt;/strong&gt; food.&lt;/p&gt;"),
        "{c}"
    );
    assert!(!c.contains("script"), "{c}");
    assert_eq!(full["jobs"][0]["departments"][0]["name"], "Kitchen");
    assert_eq!(full["jobs"][0]["offices"].as_array().unwrap().len(), 2);

    // one job, with its questions, with and without a trailing slash
    let path = format!("/v1/boards/examplecorp/jobs/{}?questions=true", s.published);
    let one = get(p, &path).json();
    assert_eq!(one, get(p, &path.replace("?", "/?")).json());
    let labels: Vec<&str> = one["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels[..6],
        [
            "First Name",
            "Last Name",
            "Email",
            "Phone",
            "Resume/CV",
            "Cover Letter"
        ]
    );
    let types: Vec<&str> = one["questions"].as_array().unwrap()[6..]
        .iter()
        .map(|q| q["fields"][0]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "textarea",
            "multi_value_single_select",
            "multi_value_multi_select",
            "input_file"
        ]
    );
    assert_eq!(
        one["questions"][0]["fields"][0],
        json!({"name": "first_name", "type": "input_text", "values": []})
    );

    // what is not shown is "Job not found", as Greenhouse says it
    for bad in [
        format!("/v1/boards/examplecorp/jobs/{}", s.hidden),
        "/v1/boards/examplecorp/jobs/999999".into(),
        "/v1/boards/examplecorp/jobs/abc".into(),
        format!("/v1/boards/othercorp/jobs/{}", s.published),
        "/v1/boards/othercorp/jobs".into(),
    ] {
        let a = get(p, &bad);
        assert_eq!(a.status, 404, "{bad}");
        assert_eq!(
            a.json(),
            json!({"status": 404, "error": "Job not found"}),
            "{bad}"
        );
    }

    // a client that has the answer gets 304
    let etag = list
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an ETag")
        .trim()
        .to_string();
    let again = http(
        p,
        "GET",
        "/v1/boards/examplecorp/jobs",
        &[("If-None-Match", &etag)],
        b"",
    )
    .unwrap();
    assert_eq!(again.status, 304, "{}", again.headers);
    assert!(again.body.is_empty());

    // departments and offices, with their jobs
    let d = get(p, "/v1/boards/examplecorp/departments").json();
    assert_eq!(d["departments"][0]["name"], "Kitchen");
    assert_eq!(d["departments"][0]["jobs"][0]["id"], s.published);
    let did = d["departments"][0]["id"].as_u64().unwrap();
    assert_eq!(
        get(p, &format!("/v1/boards/examplecorp/departments/{did}")).json()["name"],
        "Kitchen"
    );
    let o = get(p, "/v1/boards/examplecorp/offices").json();
    let names: Vec<&str> = o["offices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Berlin", "Hamburg"]);
    assert_eq!(
        o["offices"][0]["departments"][0]["jobs"][0]["id"],
        s.published
    );
    assert_eq!(
        get(p, "/v1/boards/examplecorp").json()["name"],
        "Example Org"
    );

    // the listener serves the careers site and nothing else
    for other in [
        "/board",
        "/board/login",
        "/metrics",
        "/healthz",
        "/v1/applications",
        "/v1/openapi.json",
    ] {
        assert_eq!(get(p, other).status, 404, "{other} on the careers listener");
    }

    // atsd's own poller watches atsd's own board, and sees the job close
    s.env.ok(&[
        "posting",
        "add",
        &format!(
            "https://boards.greenhouse.io/examplecorp/jobs/{}",
            s.published
        ),
    ]);
    let polled = s.env.json(&["posting", "poll"]);
    assert_eq!(polled["outcomes"][0]["outcome"], "open", "{polled}");
    let status = |env: &Env| {
        rows(
            env,
            "SELECT status FROM postings WHERE url LIKE 'https://boards.greenhouse.io/%'",
        )[0][0]
            .clone()
    };
    assert_eq!(status(&s.env), "open");
    s.env
        .ok(&["posting", "unpublish", &s.published.to_string()]);
    assert_eq!(
        get(p, &format!("/v1/boards/examplecorp/jobs/{}", s.published)).status,
        404,
        "on the first request after"
    );
    let watched = polled["outcomes"][0]["id"].to_string();
    let again = s.env.json(&["posting", "poll", &watched]);
    assert_eq!(status(&s.env), "closed", "{again}");
    s.api.stop();
}

#[test]
fn applications_through_the_api_are_applications_and_refusals_change_nothing() {
    let s = site("");
    let (p, env) = (s.port, &s.env);
    let token = env
        .ok(&["token", "create", "site", "--scope", "intake"])
        .trim()
        .to_string();
    let reader = env
        .ok(&["token", "create", "reader", "--scope", "read"])
        .trim()
        .to_string();
    let cook = get(
        p,
        &format!("/v1/boards/examplecorp/jobs/{}?questions=true", s.published),
    )
    .json();
    let path = format!("/v1/boards/examplecorp/jobs/{}", s.published);
    let auth = basic(&token);
    let mut fields: Vec<(String, String)> = vec![
        ("first_name".into(), "Zoë".into()),
        ("last_name".into(), "Quell".into()),
        ("email".into(), "zoe@example.org".into()),
        ("phone".into(), "+49 30 5550 1234".into()),
        ("mapped_url_token".into(), "linkedin".into()),
    ];
    fields.extend(answers(&cook));
    let as_ref = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    let send = |f: &[(String, String)], files: &[(&str, &str, &[u8])], auth: &str| {
        let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (ct, body) = multipart(&refs, files);
        http(
            p,
            "POST",
            &path,
            &[("Content-Type", &ct), ("Authorization", auth)],
            &body,
        )
        .unwrap()
    };

    // refusals first: each answered, nothing written
    let before = written(env);
    let missing: Vec<(String, String)> = as_ref(&fields)
        .into_iter()
        .filter(|(k, _)| k != "first_name")
        .collect();
    let a = send(&missing, &[], &auth);
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("first_name"), "{}", a.body);
    let no_answer: Vec<(String, String)> = as_ref(&fields)
        .into_iter()
        .filter(|(_, v)| v != "I love it.")
        .collect();
    let a = send(&no_answer, &[], &auth);
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("`Why cooking?` is required"), "{}", a.body);
    let a = send(
        &fields,
        &[("resume", "cv.pdf", b"MZ\x90\x00 an executable")],
        &auth,
    );
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body
            .contains("is not a PDF, DOCX, ODT, RTF or plain text"),
        "{}",
        a.body
    );
    let big = vec![b'a'; 25 << 20];
    let a = send(&fields, &[("resume", "big.txt", &big)], &auth);
    assert!(
        a.status == 400 || a.status == 413,
        "{}: {}",
        a.status,
        a.body
    );
    // a header through a name: refused, naming the field
    let injected: Vec<(String, String)> = as_ref(&fields)
        .into_iter()
        .map(|(k, v)| {
            if k == "first_name" {
                (k, "Eve\r\nBcc: all@example.org".into())
            } else {
                (k, v)
            }
        })
        .collect();
    let a = send(&injected, &[], &auth);
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("first_name"), "{}", a.body);
    for bad in [basic("not-a-token"), basic(&reader), "Bearer x".to_string()] {
        assert_eq!(send(&fields, &[], &bad).status, 401, "{bad}");
    }
    assert_eq!(
        http(
            p,
            "POST",
            &format!("/v1/boards/examplecorp/jobs/{}", s.hidden),
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &auth)
            ],
            b"{}"
        )
        .unwrap()
        .status,
        404
    );
    assert_eq!(written(env), before, "nothing changed");
    assert!(
        !env.path("files").exists()
            || std::fs::read_dir(env.path("files"))
                .unwrap()
                .next()
                .is_none()
    );

    // by multipart, with a resume whose name is a path
    let a = send(&fields, &[("resume", "../../etc/cv.pdf", PDF)], &auth);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json(), json!({"success": "Candidate saved successfully"}));
    let app = rows(
        env,
        "SELECT a.id, c.name, c.email FROM applications a JOIN candidates c ON c.id = a.candidate_id",
    );
    assert_eq!(app.len(), 1);
    assert_eq!(app[0][1..], ["Zoë Quell", "zoe@example.org"]);
    let form = rows(env, "SELECT phone, source, answers FROM application_forms");
    assert_eq!(form[0][..2], ["+49 30 5550 1234", "linkedin"]);
    let kept: Value = serde_json::from_str(&form[0][2]).unwrap();
    assert_eq!(kept["Why cooking?"], "I love it.");
    assert_eq!(kept["Work permit?"], "Yes");
    assert_eq!(kept["Shifts"], json!(["Early", "Night"]));
    let file = rows(
        env,
        "SELECT field, name, media_type, size, sha256 FROM application_files",
    );
    assert_eq!(
        file[0][..4],
        [
            "resume",
            "cv.pdf",
            "application/pdf",
            &PDF.len().to_string()
        ]
    );
    let sha = &file[0][4];
    assert_eq!(
        std::fs::read(env.path(&format!("files/{}/{sha}", &sha[..2]))).unwrap(),
        PDF
    );
    // the acknowledgement, as `atsd apply` sends it
    let mail = rows(env, "SELECT template, recipient FROM outbox");
    assert_eq!(mail, [["application_received", "zoe@example.org"]]);
    let moved = rows(
        env,
        "SELECT COUNT(*) FROM events WHERE type LIKE 'application.%'",
    );
    assert_eq!(moved[0][0], "1");

    // the same person again: the same answer, no second application
    let a = send(&fields, &[], &auth);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(rows(env, "SELECT COUNT(*) FROM applications")[0][0], "1");

    // by JSON, with the resume as base64, and an Idempotency-Key
    let body = json!({
        "first_name": "Ada", "last_name": "Byron", "email": "ada@example.org",
        "resume_content": base64::engine::general_purpose::STANDARD.encode(PDF),
        "resume_content_filename": "ada.pdf",
        answers(&cook)[0].0.clone(): "Why not.",
        answers(&cook)[1].0.clone(): 0,
        "data_compliance": {"gdpr_consent_given": true},
    })
    .to_string();
    let h = [
        ("Content-Type", "application/json"),
        ("Authorization", auth.as_str()),
        ("Idempotency-Key", "k1"),
    ];
    assert_eq!(
        http(p, "POST", &path, &h, body.as_bytes()).unwrap().status,
        200
    );
    assert_eq!(
        http(p, "POST", &path, &h, body.as_bytes()).unwrap().status,
        200
    );
    assert_eq!(rows(env, "SELECT COUNT(*) FROM applications")[0][0], "2");
    let consent = rows(
        env,
        "SELECT consent FROM application_forms ORDER BY application_id DESC LIMIT 1",
    );
    assert_eq!(consent[0][0], "data_compliance[gdpr_consent_given]=1");
    assert_eq!(
        rows(env, "SELECT COUNT(DISTINCT sha256) FROM application_files")[0][0],
        "1",
        "the same bytes are kept once"
    );

    // the board shows the form and serves the file to a read session
    let board = s.board;
    let cookie = crate::recruiter_board::session(board, &reader);
    let page = crate::recruiter_board::get(board, "/board/applications/1", Some(&cookie));
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in [
        "+49 30 5550 1234",
        "linkedin",
        "Why cooking?",
        "I love it.",
        "Early, Night",
        "cv.pdf",
    ] {
        assert!(
            page.body.contains(shown),
            "{shown} not on the page: {}",
            page.body
        );
    }
    let at = page
        .body
        .find("/board/applications/1/files/")
        .expect("a file link");
    let link: String = page.body[at..].split('"').next().unwrap().to_string();
    let f = crate::recruiter_board::get(board, &link, Some(&cookie));
    assert_eq!(f.status, 200);
    assert!(
        f.headers.contains("content-type: application/pdf"),
        "{}",
        f.headers
    );
    assert!(
        f.headers
            .contains("content-disposition: attachment; filename=\"cv.pdf\""),
        "{}",
        f.headers
    );
    assert!(f.body.starts_with("%PDF-1.4"));
    assert_eq!(
        crate::recruiter_board::get(board, &link, None).status,
        303,
        "no session, no file"
    );
    assert_eq!(
        crate::recruiter_board::get(board, "/board/applications/2/files/1", Some(&cookie)).status,
        404,
        "another application's"
    );

    // erased, her file goes with her
    env.ok(&["candidate", "erase", "zoe@example.org"]);
    assert_eq!(
        rows(env, "SELECT COUNT(*) FROM application_forms")[0][0],
        "1"
    );
    assert!(
        env.path(&format!("files/{}/{sha}", &sha[..2])).exists(),
        "Ada's copy keeps the file"
    );
    env.ok(&["candidate", "erase", "ada@example.org"]);
    assert_eq!(
        rows(env, "SELECT COUNT(*) FROM application_files")[0][0],
        "0"
    );
    assert!(
        !env.path(&format!("files/{}/{sha}", &sha[..2])).exists(),
        "no one holds it: deleted"
    );
    s.api.stop();
}

#[test]
fn the_careers_pages_list_filter_and_take_applications_through_their_form() {
    let s = site("rate_per_minute = 2");
    let (p, env) = (s.port, &s.env);
    let list = get(p, "/careers");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains("Line Cook") && !list.body.contains("Waiter"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("<script"));
    let none = get(p, "/careers?department=Bar");
    assert!(
        !none.body.contains("Line Cook") && none.body.contains("No open positions"),
        "{}",
        none.body
    );
    assert!(get(p, "/careers?q=fresh+food").body.contains("Line Cook"));
    assert!(!get(p, "/careers?q=sushi").body.contains("Line Cook"));
    let de = http(
        p,
        "GET",
        "/careers",
        &[("Accept-Language", "de-DE,de;q=0.9")],
        b"",
    )
    .unwrap();
    assert!(
        de.body.contains("<html lang=\"de\"") && de.body.contains("Offene Stellen"),
        "{}",
        de.body
    );

    let page = get(p, &format!("/careers/jobs/{}", s.published));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("enctype=\"multipart/form-data\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("for 365 days after it is decided"),
        "the consent names the retention: {}",
        page.body
    );
    let ld_at =
        page.body.find("application/ld+json\">").expect("JSON-LD") + "application/ld+json\">".len();
    let ld: Value = serde_json::from_str(
        &page.body[ld_at..page.body[ld_at..].find("</script>").unwrap() + ld_at],
    )
    .unwrap();
    assert_eq!(ld["@type"], "JobPosting");
    assert_eq!(ld["title"], "Line Cook");
    assert_eq!(ld["employmentType"], "FULL_TIME");
    assert_eq!(ld["hiringOrganization"]["name"], "Example Kitchen");
    assert_eq!(ld["jobLocation"]["address"]["addressLocality"], "Berlin");
    assert!(
        ld["validThrough"]
            .as_str()
            .unwrap()
            .starts_with("2031-01-31")
    );
    assert!(ld["datePosted"].is_string());
    assert_eq!(get(p, &format!("/careers/jobs/{}", s.hidden)).status, 404);

    let cook = get(
        p,
        &format!("/v1/boards/examplecorp/jobs/{}?questions=true", s.published),
    )
    .json();
    let mut fields: Vec<(String, String)> = vec![
        ("first_name".into(), "Lea".into()),
        ("last_name".into(), "<b>Vogt</b>".into()),
        ("email".into(), "lea@example.org".into()),
    ];
    fields.extend(answers(&cook));
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (ct, body) = multipart(&refs, &[("resume", "lea.pdf", PDF)]);
    let path = format!("/careers/jobs/{}", s.published);
    // from another site: refused, nothing written
    let before = written(env);
    let a = http(
        p,
        "POST",
        &path,
        &[
            ("Content-Type", &ct),
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(written(env), before);
    // a bot fills the honeypot: thanked, nothing written
    let mut bot = refs.clone();
    bot.push(("website", "http://spam.example"));
    let (bct, bbody) = multipart(&bot, &[]);
    let a = http(p, "POST", &path, &[("Content-Type", &bct)], &bbody).unwrap();
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(written(env), before);
    // a person: thanked, and an application with the name shown as text
    let a = http(
        p,
        "POST",
        &path,
        &[("Content-Type", &ct), ("Sec-Fetch-Site", "same-origin")],
        &body,
    )
    .unwrap();
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(
        a.headers.contains("location: /careers/thanks"),
        "{}",
        a.headers
    );
    assert_eq!(
        rows(env, "SELECT c.name FROM candidates c")[0][0],
        "Lea <b>Vogt</b>"
    );
    let shown = env.ok(&["application", "show", "1"]);
    assert!(shown.contains("Lea <b>Vogt</b>"), "{shown}");
    let body_html = rows(env, "SELECT b.body_html FROM outbox_bodies b")[0][0].clone();
    assert!(
        !body_html.contains("<b>Vogt"),
        "escaped in the email: {body_html}"
    );
    // the third from one address within the minute: 429 with Retry-After
    let a = http(p, "POST", &path, &[("Content-Type", &ct)], &body).unwrap();
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.headers.contains("retry-after: "), "{}", a.headers);
    // a problem is shown beside what was typed
    let s2 = site("");
    let missing: Vec<(&str, &str)> = refs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "email")
        .collect();
    let (mct, mbody) = multipart(&missing, &[]);
    let a = http(
        s2.port,
        "POST",
        &format!("/careers/jobs/{}", s2.published),
        &[("Content-Type", &mct)],
        &mbody,
    )
    .unwrap();
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body.contains("role=\"alert\"") && a.body.contains("email"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("value=\"&lt;b&gt;Vogt&lt;/b&gt;\""),
        "{}",
        a.body
    );
    assert!(!a.body.contains("<b>Vogt"), "{}", a.body);
    s2.api.stop();
    s.api.stop();
}

#[test]
fn a_bad_careers_field_in_a_posting_file_is_named_and_nothing_is_imported() {
    let env = Env::new();
    env.write(
        "bad.md",
        "---\ntitle: Cook\nurl: https://jobs.example.org/cook\nquestions:\n  - label: Why?\n    type: essay\n---\nx\n",
    );
    env.write("good.md", WAITER);
    let err = env.fails(2, &["posting", "import", "good.md", "bad.md"]);
    assert!(
        err.contains("bad.md") && err.contains("questions[0].type") && err.contains("essay"),
        "{err}"
    );
    assert_eq!(rows(&env, "SELECT COUNT(*) FROM postings")[0][0], "0");
    // published by command
    env.ok(&["posting", "import", "good.md"]);
    env.ok(&["posting", "publish", "1"]);
    assert!(rows(&env, "SELECT published_at FROM postings")[0][0].starts_with("20"));
}

#[test]
fn bodies_over_the_cap_are_refused_before_they_are_read_whole() {
    let s = site("max_file = \"1MiB\"");
    let token = s
        .env
        .ok(&["token", "create", "site", "--scope", "intake"])
        .trim()
        .to_string();
    let path = format!("/v1/boards/examplecorp/jobs/{}", s.published);
    let before = written(&s.env);
    // 1 MiB files, base64 in JSON: the cap is three of them and room
    let big = format!("{{\"first_name\":\"{}\"}}", "a".repeat(4 << 20));
    let a = http(
        s.port,
        "POST",
        &path,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &basic(&token)),
        ],
        big.as_bytes(),
    )
    .unwrap();
    assert_eq!(a.status, 413, "{}", a.body);
    let (ct, body) = multipart(
        &[("first_name", "A")],
        &[("resume", "cv.pdf", &vec![b'%'; 4 << 20])],
    );
    let a = http(
        s.port,
        "POST",
        &format!("/careers/jobs/{}", s.published),
        &[("Content-Type", &ct)],
        &body,
    )
    .unwrap();
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(written(&s.env), before);
    s.api.stop();
}
