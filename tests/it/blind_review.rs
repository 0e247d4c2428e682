//! Blind review on the recruiter board (issue 35, part 5): until an
//! interviewer has given their own feedback on an application, no page of
//! the board they can open shows anyone else's; afterwards they see all.
//! Recruiters who do not interview see everything.

use crate::api::Api;
use crate::common::Env;
use crate::recruiter_board::{get, session};
use crate::smtp::free_port;
use chrono::{Duration, SecondsFormat};

const PHRASE: &str = "Quokka-7 remembered every queue";

#[test]
fn an_interviewer_sees_nobody_elses_feedback_until_they_give_theirs() {
    let port = free_port();
    let env = Env::with_config(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[interviews]\nstage = \"interview\"\n\
         [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n"
    ));
    env.add_posting(1, "Cook");
    for (email, name) in [
        ("rae@example.org", "Rae Interviewer"),
        ("sam@example.org", "Sam Interviewer"),
        ("lee@example.org", "Lee Recruiter"),
    ] {
        env.ok(&["person", "add", email, "--name", name]);
    }
    let token = |name: &str, person: &str| {
        env.ok(&[
            "token",
            "create",
            name,
            "--scope",
            "recruiter",
            "--person",
            person,
        ])
        .trim()
        .to_string()
    };
    let (rae, sam, lee) = (
        token("rae", "rae@example.org"),
        token("sam", "sam@example.org"),
        token("lee", "lee@example.org"),
    );
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Ada Candidate",
        "--email",
        "ada@example.org",
    ]);
    let now = crate::clock::now();
    let iso = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    env.ok(&[
        "--now",
        &iso(now - Duration::days(3)),
        "interview",
        "schedule",
        "1",
        "--at",
        &iso(now - Duration::days(1)),
        "--interviewer",
        "rae@example.org",
        "--interviewer",
        "sam@example.org",
    ]);
    env.ok(&[
        "interview",
        "feedback",
        "1",
        "--by",
        "rae@example.org",
        "--recommendation",
        "strong_yes",
        "--note",
        PHRASE,
    ]);
    let api = Api::start(&env, port);
    let pages = [
        "/board",
        "/board?owner=all",
        "/board/postings/1",
        "/board/postings/1/applications?stage=interview",
        "/board/applications/1",
        "/board/interviews",
        "/board/outbox",
        "/board/jobs",
        "/board/requests",
    ];
    let seen = |cookie: &str| -> String {
        pages
            .iter()
            .map(|p| {
                let a = get(port, p, Some(cookie));
                assert_eq!(a.status, 200, "{p}: {}", a.body);
                a.body
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Sam interviewed and has not said: nothing of Rae's, on any page
    let sam_cookie = session(port, &sam);
    let before = seen(&sam_cookie);
    assert!(
        !before.contains(PHRASE),
        "Sam sees Rae's note before giving his"
    );
    assert!(
        !before.contains("strong yes"),
        "Sam sees Rae's recommendation"
    );
    assert!(
        before.contains("shown once you give yours"),
        "the page says why"
    );
    // Rae sees her own; Lee, who does not interview, sees it
    assert!(seen(&session(port, &rae)).contains(PHRASE));
    assert!(seen(&session(port, &lee)).contains(PHRASE));
    // once Sam has given his, he sees Rae's
    env.ok(&[
        "interview",
        "feedback",
        "1",
        "--by",
        "sam@example.org",
        "--recommendation",
        "no",
        "--note",
        "slow at the pass",
    ]);
    let after = seen(&sam_cookie);
    assert!(after.contains(PHRASE), "after his feedback Sam sees Rae's");
    assert!(after.contains("slow at the pass"));

    // the scorecards, as Greenhouse Harvest shapes them (issue 35, part 6)
    let reader = env
        .ok(&["token", "create", "reports", "--scope", "read"])
        .trim()
        .to_string();
    let bearer = format!("Bearer {reader}");
    let api_get = |path: &str| {
        crate::common::http(port, "GET", path, &[("Authorization", &bearer)], b"").unwrap()
    };
    let all = api_get("/v1/scorecards");
    assert_eq!(all.status, 200, "{}", all.body);
    let cards = all.json();
    let cards = cards.as_array().unwrap();
    assert_eq!(cards.len(), 2, "{cards:?}");
    let rae_card = &cards[0];
    assert_eq!(rae_card["overall_recommendation"], "strong_yes");
    assert_eq!(rae_card["application_id"], 1);
    assert_eq!(rae_card["candidate_id"], 1);
    assert_eq!(rae_card["interviewer"]["name"], "Rae Interviewer");
    assert_eq!(rae_card["interviewer"]["first_name"], "Rae");
    assert_eq!(rae_card["interviewer"]["last_name"], "Interviewer");
    assert_eq!(rae_card["submitted_by"], rae_card["interviewer"]);
    assert_eq!(rae_card["interview_step"]["id"], 1);
    assert_eq!(rae_card["questions"][0]["question"], "Key Take-Aways");
    assert_eq!(rae_card["questions"][0]["answer"], PHRASE);
    assert_eq!(rae_card["attributes"], serde_json::json!([]));
    assert_eq!(
        rae_card["ratings"],
        serde_json::json!({"definitely_not": [], "no": [], "mixed": [], "yes": [], "strong_yes": []})
    );
    for k in [
        "id",
        "updated_at",
        "created_at",
        "interview",
        "interviewed_at",
        "submitted_at",
    ] {
        assert!(!rae_card[k].is_null(), "{k}: {rae_card}");
    }
    assert_eq!(cards[1]["overall_recommendation"], "no");
    assert_eq!(
        api_get("/v1/scorecards?application_id=1")
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        api_get("/v1/scorecards?application_id=99").json(),
        serde_json::json!([])
    );
    assert_eq!(api_get("/v1/scorecards?application_id=abc").status, 422);
    assert_eq!(
        crate::common::http(port, "GET", "/v1/scorecards", &[], b"")
            .unwrap()
            .status,
        401
    );
    api.stop();
}
