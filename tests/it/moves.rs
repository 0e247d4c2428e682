//! Moves through the library: one transaction each, compare-and-swap under
//! concurrency, and the SQLite settings that make concurrent writers safe.

use crate::common::{Env, count};
use atsd::Error;
use atsd::config::Config;
use atsd::config::EmailChoice;
use atsd::store::Store;
use atsd::store::candidates::CandidateInput;
use atsd::store::postings::{self, NewPosting};
use atsd::templates::Renderer;
use atsd::workflow::{self as applications, Ctx, MoveRequest, NewApplication};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};
use std::sync::Arc;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn seed(store: &Store, ctx: &Ctx<'_>, n: usize) -> Vec<i64> {
    let txn = store.begin_write().await.unwrap();
    postings::upsert(
        &txn,
        &NewPosting {
            url: "https://boards.greenhouse.io/acme/jobs/1".into(),
            source: "greenhouse".into(),
            board: Some("acme".into()),
            external_id: Some("1".into()),
            title: Some("Welder".into()),
            ..Default::default()
        },
        "test",
        ctx.now(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let input = CandidateInput::parse(
            &format!("Candidate {i}"),
            &format!("c{i}@example.org"),
            None,
            None,
        )
        .unwrap();
        let new = NewApplication {
            stage: None,
            applied_at: None,
            actor: "cli:test".into(),
            reason: None,
            email: EmailChoice::StageDefault,
        };
        ids.push(
            applications::apply(store, ctx, "1", &input, &new)
                .await
                .unwrap()
                .application
                .id,
        );
    }
    ids
}

fn req(id: i64, to: &str, expected: Option<i32>) -> MoveRequest {
    MoveRequest {
        application_id: id,
        to: to.into(),
        reason: None,
        actor: "cli:test".into(),
        email: EmailChoice::StageDefault,
        expected_version: expected,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_email_insert_rolls_the_whole_move_back() {
    let env = Env::new();
    let store = env.store().await;
    let config = Config::default();
    let pipeline = config.pipeline().unwrap();
    let renderer = Renderer::new(None);
    let ctx = Ctx::new(&config, &pipeline, &renderer, None, now());
    let ids = seed(&store, &ctx, 1).await;
    applications::move_application(&store, &ctx, &req(ids[0], "screening", None))
        .await
        .unwrap();
    let transitions_before = count(&store, "transitions").await;
    let outbox_before = count(&store, "outbox").await;

    // Occupy the Message-ID the next move's email will get, so that its
    // insert fails after the stage update and the transition insert.
    let next_transition: i64 = store
        .conn()
        .query_one_raw(Statement::from_string(
            store.backend(),
            "SELECT MAX(id) + 1 AS n FROM transitions",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap();
    let mid = atsd::mail::message_id(&config, next_transition, 0);
    store
        .execute_unprepared(&format!(
            "INSERT INTO outbox (recipient, template, locale, message_id, status, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ('x@example.org', 'offer', 'en', '{mid}', 'sent', 1, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
        ))
        .await
        .unwrap();

    let err = applications::move_application(&store, &ctx, &req(ids[0], "interview", None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Db(_)), "{err}");
    let d = atsd::store::applications::detail(store.conn(), ids[0])
        .await
        .unwrap();
    assert_eq!(d.application.stage, "screening", "stage rolled back");
    assert_eq!(d.application.version, 2, "version rolled back");
    assert_eq!(
        count(&store, "transitions").await,
        transitions_before,
        "no transition left"
    );
    assert_eq!(
        count(&store, "outbox").await,
        outbox_before + 1,
        "only the blocker row"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_moves_of_one_application_exactly_one_wins() {
    let env = Env::new();
    let store = Arc::new(env.store().await);
    let config = Arc::new(Config::default());
    let pipeline = Arc::new(config.pipeline().unwrap());
    let renderer = Arc::new(Renderer::new(None));
    let ctx = Ctx::new(&config, &pipeline, &renderer, None, now());
    let ids = seed(&store, &ctx, 1).await;
    let id = ids[0];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, config, pipeline, renderer) = (
            store.clone(),
            config.clone(),
            pipeline.clone(),
            renderer.clone(),
        );
        let to = if i % 2 == 0 { "screening" } else { "rejected" };
        tasks.push(tokio::spawn(async move {
            let ctx = Ctx::new(&config, &pipeline, &renderer, None, now());
            applications::move_application(&store, &ctx, &req(id, to, Some(1))).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(Error::Conflict(msg)) => {
                assert!(msg.contains(&format!("application {id}")), "{msg}")
            }
            Err(e) => panic!("a losing move must fail as a conflict, got: {e}"),
        }
    }
    assert_eq!(wins, 1);
    let d = atsd::store::applications::detail(store.conn(), id)
        .await
        .unwrap();
    assert_eq!(d.application.version, 2);
    assert_eq!(d.transitions.len(), 2, "creation + exactly one move");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_writers_all_succeed() {
    // Read-then-write transactions from several connections at once: with a
    // deferred BEGIN, SQLite would fail some at once with "database is locked".
    let env = Env::new();
    let store = Arc::new(env.store().await);
    let config = Arc::new(Config::default());
    let pipeline = Arc::new(config.pipeline().unwrap());
    let renderer = Arc::new(Renderer::new(None));
    let ctx = Ctx::new(&config, &pipeline, &renderer, None, now());
    let ids = seed(&store, &ctx, 24).await;
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let (store, config, pipeline, renderer) = (
            store.clone(),
            config.clone(),
            pipeline.clone(),
            renderer.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let ctx = Ctx::new(&config, &pipeline, &renderer, None, now());
            applications::move_application(&store, &ctx, &req(id, "screening", None)).await?;
            applications::move_application(&store, &ctx, &req(id, "interview", None)).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(count(&store, "transitions").await, 24 * 3);
    // 24 application_received + 24 interview_invitation
    assert_eq!(count(&store, "outbox").await, 48);
}

#[tokio::test]
async fn sqlite_connections_use_wal_full_sync_and_foreign_keys() {
    let env = Env::new();
    if env.db.is_postgres() {
        return; // SQLite settings only
    }
    let store = env.store().await;
    let pragma = |p: &'static str| {
        let store = &store;
        async move {
            let row = store
                .conn()
                .query_one_raw(Statement::from_string(
                    store.backend(),
                    format!("PRAGMA {p}"),
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .unwrap()
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("synchronous").await, "2");
    assert_eq!(pragma("foreign_keys").await, "1");
    // foreign keys are enforced
    let err = store
        .execute_unprepared(
            "INSERT INTO applications (candidate_id, posting_id, stage, entered_stage_at, applied_at, version, created_at, updated_at) \
             VALUES (99, 99, 'applied', '2026-01-01', '2026-01-01', 1, '2026-01-01', '2026-01-01')",
        )
        .await;
    assert!(err.is_err());
}

/// One row of text columns (NULL as `None`), by a query.
async fn texts(store: &Store, q: &str, columns: &[&str]) -> Vec<Option<String>> {
    let row = store
        .conn()
        .query_one_raw(Statement::from_string(store.backend(), q.to_string()))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("a row for {q}"));
    columns
        .iter()
        .map(|c| row.try_get::<Option<String>>("", c).unwrap())
        .collect()
}

/// Queuing is idempotent by Message-ID: in a batch where one email was
/// queued before, that one is skipped and keeps its first words, and every
/// other email gets its own body (on SQLite the batch numbers its rows
/// itself, so this is where a body could land on the wrong row).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queuing_skips_an_email_queued_before_and_gives_each_other_its_own_body() {
    use atsd::store::moves::{BulkEmail, queue_emails};
    use atsd::store::outbox::Draft;
    let env = Env::new();
    let store = env.store().await;
    let email = |id: &str, words: &str| BulkEmail {
        application_id: None,
        message_id: format!("<{id}@example.org>"),
        draft: Draft {
            recipient: "recruiting@example.org".into(),
            recipient_name: None,
            template: "recruiter_digest".into(),
            locale: "en".into(),
            stage: None,
            send_after: None,
            subject: Some(format!("{words} subject")),
            body_text: Some(format!("{words} text")),
            body_html: Some(format!("<p>{words} html</p>")),
            calendar: None,
            auto_submitted: true,
            reply_to: None,
            reply_to_name: None,
        },
    };
    let txn = store.begin_write().await.unwrap();
    let n = queue_emails(&txn, vec![email("m2", "first m2")], now())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(n, 1);
    let txn = store.begin_write().await.unwrap();
    let n = queue_emails(
        &txn,
        vec![
            email("m1", "m1"),
            email("m2", "second m2"),
            email("m3", "m3"),
        ],
        now(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(n, 2, "m2 was queued before");
    assert_eq!(count(&store, "outbox").await, 3);
    assert_eq!(count(&store, "outbox_bodies").await, 3);
    for (id, words) in [("m1", "m1"), ("m2", "first m2"), ("m3", "m3")] {
        let q = format!(
            "SELECT b.subject, b.body_text, b.body_html FROM outbox o \
             JOIN outbox_bodies b ON b.outbox_id = o.id WHERE o.message_id = '<{id}@example.org>'"
        );
        assert_eq!(
            texts(&store, &q, &["subject", "body_text", "body_html"]).await,
            [
                Some(format!("{words} subject")),
                Some(format!("{words} text")),
                Some(format!("<p>{words} html</p>"))
            ],
            "the body of {id}"
        );
    }
}

/// The rules' set-based writes send a value that every row shares once and
/// the others per row: each moved application must still get its own
/// reason, actor, stage, recipient, locale, delay and words, NULLs where its
/// own are missing, and a move whose version changed is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_rule_moves_writes_each_rows_own_values() {
    use atsd::store::moves::{BulkMove, apply_moves};
    use atsd::store::outbox::Draft;
    let env = Env::new();
    let store = env.store().await;
    let config = Config::default();
    let pipeline = config.pipeline().unwrap();
    let renderer = Renderer::new(None);
    let ctx = Ctx::new(&config, &pipeline, &renderer, None, now());
    let ids = seed(&store, &ctx, 4).await;
    let later = now() + chrono::Duration::days(2);
    let draft = |name: Option<&str>, locale: &str, after, subject: &str| Draft {
        recipient: format!("{subject}@example.org"),
        recipient_name: name.map(str::to_string),
        template: "rejection".into(),
        locale: locale.into(),
        stage: Some("rejected".into()),
        send_after: after,
        subject: Some(subject.into()),
        body_text: Some(format!("text of {subject}")),
        body_html: Some(format!("<p>html of {subject}</p>")),
        calendar: None,
        auto_submitted: false,
        reply_to: None,
        reply_to_name: None,
    };
    let mv =
        |i: usize, to: &str, version: i32, reason: Option<&str>, actor: &str, email| BulkMove {
            application_id: ids[i],
            posting_id: 1,
            version,
            from: "applied".into(),
            entered: now(),
            to: to.into(),
            reason: reason.map(str::to_string),
            actor: actor.into(),
            email,
        };
    let moves = vec![
        mv(
            0,
            "rejected",
            1,
            Some("no_response"),
            "rule:a",
            Some(draft(Some("Ann"), "en", Some(later), "s1")),
        ),
        mv(
            1,
            "rejected",
            1,
            None,
            "rule:b",
            Some(draft(None, "de", None, "s2")),
        ),
        mv(2, "screening", 1, Some("fit"), "rule:a", None),
        mv(
            3,
            "rejected",
            7,
            Some("no_response"),
            "rule:a",
            Some(draft(None, "en", None, "s4")),
        ),
    ];
    let at = now() + chrono::Duration::hours(1);
    let txn = store.begin_write().await.unwrap();
    let applied = apply_moves(&txn, moves, at, &|t| format!("<bulk.t{t}@example.org>"))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let mut moved = applied.moved.clone();
    moved.sort();
    assert_eq!(moved, ids[..3].to_vec());
    assert_eq!(
        applied.conflicts,
        vec![ids[3]],
        "the stale version is skipped"
    );
    assert_eq!(applied.emails, 2);

    let transition = |app: i64| {
        format!(
            "SELECT to_stage, reason, actor FROM transitions WHERE application_id = {app} AND from_stage IS NOT NULL"
        )
    };
    let cols = ["to_stage", "reason", "actor"];
    assert_eq!(
        texts(&store, &transition(ids[0]), &cols).await,
        [
            Some("rejected".into()),
            Some("no_response".into()),
            Some("rule:a".into())
        ]
    );
    assert_eq!(
        texts(&store, &transition(ids[1]), &cols).await,
        [Some("rejected".into()), None, Some("rule:b".into())]
    );
    assert_eq!(
        texts(&store, &transition(ids[2]), &cols).await,
        [
            Some("screening".into()),
            Some("fit".into()),
            Some("rule:a".into())
        ]
    );
    assert_eq!(
        texts(
            &store,
            &format!("SELECT stage FROM applications WHERE id = {}", ids[3]),
            &["stage"]
        )
        .await,
        [Some("applied".into())],
        "the skipped application stays"
    );

    let email = |app: i64| {
        format!(
            "SELECT o.recipient, o.recipient_name, o.locale, o.message_id, \
             CASE WHEN o.send_after IS NULL THEN NULL ELSE 'later' END AS delayed, b.subject, b.body_text \
             FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id \
             JOIN transitions t ON t.id = o.transition_id \
             WHERE o.application_id = {app} AND o.template = 'rejection'"
        )
    };
    let cols = [
        "recipient",
        "recipient_name",
        "locale",
        "delayed",
        "subject",
        "body_text",
    ];
    assert_eq!(
        texts(&store, &email(ids[0]), &cols).await,
        [
            Some("s1@example.org".into()),
            Some("Ann".into()),
            Some("en".into()),
            Some("later".into()),
            Some("s1".into()),
            Some("text of s1".into())
        ]
    );
    assert_eq!(
        texts(&store, &email(ids[1]), &cols).await,
        [
            Some("s2@example.org".into()),
            None,
            Some("de".into()),
            None,
            Some("s2".into()),
            Some("text of s2".into())
        ]
    );
    // each email is named after its own transition
    for app in &ids[..2] {
        let got = texts(&store, &email(*app), &["message_id"]).await;
        let t = texts(&store, &format!("SELECT CAST(id AS TEXT) AS id FROM transitions WHERE application_id = {app} AND from_stage IS NOT NULL"), &["id"]).await;
        assert_eq!(
            got[0],
            Some(format!("<bulk.t{}@example.org>", t[0].as_deref().unwrap()))
        );
    }

    // and each move's event carries its own reason (null when none)
    let event = |app: i64| {
        format!(
            "SELECT data FROM events WHERE type = 'application.moved' AND application_id = {app}"
        )
    };
    let data = |s: Option<String>| serde_json::from_str::<serde_json::Value>(&s.unwrap()).unwrap();
    let e0 = data(texts(&store, &event(ids[0]), &["data"]).await.remove(0));
    let e1 = data(texts(&store, &event(ids[1]), &["data"]).await.remove(0));
    let e2 = data(texts(&store, &event(ids[2]), &["data"]).await.remove(0));
    assert_eq!(
        (
            e0["reason"].as_str(),
            e0["actor"].as_str(),
            e0["to"].as_str()
        ),
        (Some("no_response"), Some("rule:a"), Some("rejected"))
    );
    assert_eq!(
        (e1["reason"].is_null(), e1["actor"].as_str()),
        (true, Some("rule:b"))
    );
    assert_eq!(
        (e2["to"].as_str(), e2["application_id"].as_i64()),
        (Some("screening"), Some(ids[2]))
    );
    assert_eq!(
        scalar_count(
            &store,
            &format!(
                "SELECT COUNT(*) AS n FROM events WHERE application_id = {}",
                ids[3]
            )
        )
        .await,
        1,
        "the skipped application has only its creation event"
    );
}

async fn scalar_count(store: &Store, q: &str) -> i64 {
    store
        .conn()
        .query_one_raw(Statement::from_string(store.backend(), q.to_string()))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap()
}
