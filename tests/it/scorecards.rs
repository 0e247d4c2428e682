//! Scorecards (issue 35, parts 4 and 5): a posting's attributes in
//! categories, focus attributes per interview, a rating per attribute from
//! each interviewer, key take-aways, private notes that never reach the
//! board, Greenhouse's recommendation values, a coordinator entering one on
//! an interviewer's behalf; the feedback link's form; the board's matrix
//! shown to whoever is not blind; Harvest's shape of it all.

use crate::api::Api;
use crate::common::{Env, dump_tables, http};
use crate::daemon::rows;
use crate::interviews::{at, feedback_link, form, link_env};
use crate::recruiter_board::{get, session};
use crate::smtp::free_port;

const PRIVATE: &str = "Private-Heron-42 reminds me of my cousin";
const TAKEAWAY: &str = "Tamarind-9 plated faster than anyone";

#[test]
fn posting_files_carry_a_scorecard_and_a_bad_one_is_refused_naming_the_field() {
    let env = Env::new();
    env.write(
        "jobs/a.md",
        "---\ntitle: Baker\nurl: https://boards.greenhouse.io/acme/jobs/11\nscorecard:\n  Skills: [Dough, Ovens]\n  Personality traits: [Calm]\n---\nBread.\n",
    );
    env.ok(&["posting", "import", env.path("jobs").to_str().unwrap()]);
    let card = env.json(&["posting", "scorecard", "1", "--json"]);
    assert_eq!(
        card["scorecard"],
        serde_json::json!([
            {"category": "Skills", "attributes": ["Dough", "Ovens"]},
            {"category": "Personality traits", "attributes": ["Calm"]}
        ])
    );
    env.write(
        "bad/b.md",
        "---\ntitle: Barista\nurl: https://boards.greenhouse.io/acme/jobs/12\nscorecard:\n  Skills: [Milk, Milk]\n---\nCoffee.\n",
    );
    let before = dump_tables(&env);
    let err = env.fails(2, &["posting", "import", env.path("bad").to_str().unwrap()]);
    assert!(
        err.contains("b.md") && err.contains("`scorecard.Skills`") && err.contains("named twice"),
        "{err}"
    );
    assert_eq!(dump_tables(&env), before, "a refused file changes nothing");
    // set by hand, then back to the front matter's
    env.ok(&[
        "posting",
        "scorecard",
        "1",
        "--attribute",
        "Qualifications: Food safety",
    ]);
    let shown = env.ok(&["posting", "scorecard", "1"]);
    assert_eq!(shown.trim(), "Qualifications: Food safety");
    env.ok(&["posting", "scorecard", "1", "--clear"]);
    assert!(
        env.ok(&["posting", "scorecard", "1"])
            .contains("Skills: Dough, Ovens")
    );
    let bad = env.fails(
        2,
        &["posting", "scorecard", "1", "--attribute", "Skills: A, A"],
    );
    assert!(bad.contains("`A` is named twice"), "{bad}");
}

#[test]
fn interviewers_rate_attributes_blind_and_the_board_shows_the_matrix_without_private_notes() {
    let port = free_port();
    let env = link_env(port);
    env.ok(&[
        "person",
        "add",
        "cora@example.org",
        "--name",
        "Cora Coordinator",
    ]);
    env.ok(&[
        "person",
        "add",
        "lee@example.org",
        "--name",
        "Lee Recruiter",
    ]);
    env.ok(&[
        "posting",
        "scorecard",
        "1",
        "--attribute",
        "Skills: Knife skills, Sauces",
        "--attribute",
        "Personality traits: Calm under pressure",
    ]);
    // a focus that is not on the card is refused, nothing booked
    let before = dump_tables(&env);
    let err = env.fails(
        2,
        &[
            "--now",
            "2030-01-01T09:00:00Z",
            "interview",
            "schedule",
            "1",
            "--at",
            "2030-01-08T10:00",
            "--interviewer",
            "ada@example.org",
            "--focus",
            "Juggling",
        ],
    );
    assert!(
        err.contains("--focus: Juggling not on the posting's scorecard"),
        "{err}"
    );
    assert_eq!(dump_tables(&env), before);
    at(
        "2030-01-01T09:00:00Z",
        &env,
        &[
            "interview",
            "schedule",
            "1",
            "--at",
            "2030-01-08T10:00",
            "--interviewer",
            "ada@example.org",
            "--interviewer",
            "grace@example.org",
            "--focus",
            "Sauces",
        ],
    );
    let grace_link = feedback_link(&env, "grace@example.org");
    let api = Api::start(&env, port);

    // a bad rating is refused, naming it, with nothing changed
    let before = dump_tables(&env);
    for (args, says) in [
        (
            vec!["--rate", "Juggling=yes"],
            "`Juggling` is not on the posting's scorecard",
        ),
        (
            vec!["--rate", "Sauces=great"],
            "`great` is not one of definitely_not, no, mixed, yes, strong_yes",
        ),
        (vec!["--rate", "Sauces"], "is not ATTRIBUTE=RATING"),
        (vec!["--coordinator", "nobody@example.org"], "--coordinator"),
    ] {
        let mut a = vec![
            "interview",
            "feedback",
            "1",
            "--by",
            "ada@example.org",
            "--recommendation",
            "yes",
        ];
        a.extend(args);
        let e = env.fails(2, &a);
        assert!(e.contains(says), "{says}: {e}");
    }
    assert_eq!(dump_tables(&env), before);

    // Cora enters Ada's scorecard for her; strong_no is Greenhouse's definitely_not
    env.ok(&[
        "interview",
        "feedback",
        "1",
        "--by",
        "ada@example.org",
        "--coordinator",
        "cora@example.org",
        "--recommendation",
        "strong_no",
        "--rate",
        "Knife skills=mixed",
        "--rate",
        "Sauces=definitely_not",
        "--note",
        TAKEAWAY,
        "--private-note",
        PRIVATE,
    ]);
    assert_eq!(
        rows(
            &env,
            "SELECT recommendation, submitted_by FROM interview_people WHERE person_id = \
             (SELECT id FROM people WHERE email = 'ada@example.org')"
        ),
        [["definitely_not", "3"]]
    );

    // Grace, blind: her form has the card (the focus marked) and nobody's feedback
    let page = get(port, &grace_link, None);
    assert_eq!(page.status, 200, "{}", page.body);
    for want in [
        "name=\"rate.Knife skills\"",
        "name=\"rate.Calm under pressure\"",
        "Sauces <strong>(focus of this interview)</strong>",
        "name=\"private_note\"",
        "value=\"no_decision\"",
    ] {
        assert!(page.body.contains(want), "{want}: {}", page.body);
    }
    for hidden in [TAKEAWAY, PRIVATE, "Definitely not</li>"] {
        assert!(
            !page.body.contains(hidden),
            "Grace sees {hidden} before hers"
        );
    }
    // nor the board
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
    let grace_cookie = session(port, &token("grace", "grace@example.org"));
    let lee_cookie = session(port, &token("lee", "lee@example.org"));
    let grace_sees = get(port, "/board/applications/1", Some(&grace_cookie)).body;
    assert!(!grace_sees.contains(TAKEAWAY) && !grace_sees.contains("Scorecards"));
    // Lee, a recruiter who does not interview: the matrix, never the private note
    let lee_sees = get(port, "/board/applications/1", Some(&lee_cookie)).body;
    for want in [
        "Scorecards",
        "Ada Lovelace<br><small>entered by Cora Coordinator</small>",
        "<th scope=\"row\">Sauces</th><td class=\"rating-definitely_not\">definitely not</td>",
        "<th scope=\"row\">Knife skills</th><td class=\"rating-mixed\">mixed</td>",
        "<strong>definitely not</strong>",
    ] {
        assert!(lee_sees.contains(want), "{want}:\n{lee_sees}");
    }
    assert!(!lee_sees.contains(PRIVATE), "a private note on the board");

    // Grace submits through her link: a bad rating changes nothing
    let before = dump_tables(&env);
    let bad = form(
        port,
        &grace_link,
        &[],
        "recommendation=yes&rate.Sauces=superb",
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("superb"), "{}", bad.body);
    assert_eq!(dump_tables(&env), before);
    let done = form(
        port,
        &grace_link,
        &[],
        "recommendation=strong_yes&rate.Sauces=strong_yes&rate.Knife+skills=yes&rate.Calm+under+pressure=&note=Great+sauces&private_note=hush",
    );
    assert_eq!(done.status, 200, "{}", done.body);
    // now she sees everyone's: Ada's take-aways, never Ada's private note
    assert!(done.body.contains(TAKEAWAY), "{}", done.body);
    assert!(!done.body.contains(PRIVATE), "{}", done.body);
    let grace_sees = get(port, "/board/applications/1", Some(&grace_cookie)).body;
    assert!(grace_sees.contains(TAKEAWAY) && grace_sees.contains("Scorecards"));
    assert!(
        grace_sees.contains("<th scope=\"row\">Calm under pressure</th><td>—</td><td>—</td>"),
        "{grace_sees}"
    );
    for p in [
        "/board/applications/1",
        "/board/interviews",
        "/board/postings/1",
        "/board",
    ] {
        let body = get(port, p, Some(&lee_cookie)).body;
        assert!(
            !body.contains(PRIVATE) && !body.contains("hush"),
            "{p} shows a private note"
        );
    }

    // Harvest's scorecards: attributes, ratings, both notes, who entered it
    let reader = env
        .ok(&["token", "create", "reports", "--scope", "read"])
        .trim()
        .to_string();
    let bearer = format!("Bearer {reader}");
    let cards = http(
        port,
        "GET",
        "/v1/scorecards",
        &[("Authorization", &bearer)],
        b"",
    )
    .unwrap()
    .json();
    let ada = &cards[0];
    assert_eq!(ada["overall_recommendation"], "definitely_not");
    assert_eq!(ada["interviewer"]["name"], "Ada Lovelace");
    assert_eq!(ada["submitted_by"]["name"], "Cora Coordinator");
    assert_eq!(
        ada["attributes"],
        serde_json::json!([
            {"name": "Knife skills", "type": "Skills", "note": null, "rating": "mixed"},
            {"name": "Sauces", "type": "Skills", "note": null, "rating": "definitely_not"}
        ])
    );
    assert_eq!(
        ada["ratings"],
        serde_json::json!({"definitely_not": ["Sauces"], "no": [], "mixed": ["Knife skills"], "yes": [], "strong_yes": []})
    );
    assert_eq!(
        ada["questions"],
        serde_json::json!([
            {"id": null, "question": "Key Take-Aways", "answer": TAKEAWAY},
            {"id": null, "question": "Private Notes", "answer": PRIVATE}
        ])
    );
    let grace = &cards[1];
    assert_eq!(grace["submitted_by"], grace["interviewer"]);
    assert_eq!(
        grace["ratings"]["strong_yes"],
        serde_json::json!(["Sauces"])
    );
    assert_eq!(grace["ratings"]["yes"], serde_json::json!(["Knife skills"]));
    api.stop();
}

#[test]
fn the_migration_renames_strong_no_to_greenhouse_s_definitely_not() {
    use migration::MigratorTrait;
    use sea_orm::ConnectionTrait;
    let dir = tempfile::tempdir().expect("a folder");
    let db = crate::common::TestDb::new(dir.path());
    crate::common::block_on(async {
        let conn = sea_orm::Database::connect(&db.url).await.expect("connect");
        // every migration before the one that renames
        let before = migration::Migrator::migrations()
            .iter()
            .position(|m| m.name() == "m20261207_000015_structured_interviews")
            .expect("the migration of structured interviews");
        migration::Migrator::up(&conn, Some(before as u32))
            .await
            .expect("the migrations before");
        // two rows alone, without the interview and people they name (one
        // statement string: the same connection of the pool)
        let no_keys = match conn.get_database_backend() {
            sea_orm::DbBackend::Postgres => "SET session_replication_role = replica",
            _ => "PRAGMA foreign_keys = OFF",
        };
        conn.execute_unprepared(&format!(
            "{no_keys}; INSERT INTO interview_people (interview_id, person_id, recommendation) \
             VALUES (1, 1, 'strong_no'), (1, 2, 'yes')"
        ))
        .await
        .expect("old feedback");
        migration::Migrator::up(&conn, None).await.expect("migrate");
        let got: Vec<String> = conn
            .query_all_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT recommendation FROM interview_people ORDER BY person_id",
            ))
            .await
            .expect("read")
            .iter()
            .map(|r| r.try_get::<String>("", "recommendation").expect("text"))
            .collect();
        assert_eq!(got, ["definitely_not", "yes"]);
    });
}
