//! The leased queue under the email outbox and the webhook deliveries
//! (`store::lease`), on the engine under test: what a claim takes, what it
//! reports as taken over, that concurrent claims never share a row, and that
//! an outcome lands only on a row still being worked.

use crate::common::Env;
use atsd::store::Store;
use atsd::store::lease::{AfterFailure, Backoff, Queue};
use chrono::{DateTime, Duration, Utc};
use entity::outbox;
use sea_orm::ConnectionTrait;
use std::collections::HashSet;

const OUTBOX: Queue = atsd::store::outbox::QUEUE;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// An outbox row in `status`, due at `due`, leased until `lease`.
async fn row(
    store: &Store,
    n: i64,
    status: &str,
    due: DateTime<Utc>,
    lease: Option<DateTime<Utc>>,
) {
    store
        .conn()
        .execute_raw(atsd::store::sql(
            store.backend(),
            "INSERT INTO outbox (id, recipient, template, locale, message_id, status, attempts, \
             next_attempt_at, lease_until, created_at, updated_at) \
             VALUES (?, ?, 'offer', 'en', ?, ?, 1, ?, ?, ?, ?)",
            vec![
                n.into(),
                format!("c{n}@example.org").into(),
                format!("<m{n}@example.org>").into(),
                status.into(),
                due.into(),
                lease.into(),
                due.into(),
                due.into(),
            ],
        ))
        .await
        .unwrap();
}

async fn status_of(store: &Store, id: i64) -> (String, i64) {
    let r = store
        .conn()
        .query_one_raw(atsd::store::sql(
            store.backend(),
            "SELECT status, CAST(attempts AS BIGINT) AS attempts FROM outbox WHERE id = ?",
            vec![id.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    (
        r.try_get("", "status").unwrap(),
        r.try_get("", "attempts").unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_takes_what_is_due_and_what_a_dead_worker_left() {
    let env = Env::new();
    let store = env.store().await;
    let now = at("2026-12-01T10:00:00Z");
    row(&store, 1, "pending", now - Duration::minutes(1), None).await; // due
    row(&store, 2, "pending", now + Duration::minutes(1), None).await; // not yet
    row(&store, 3, "sending", now, Some(now - Duration::seconds(1))).await; // its worker died
    row(&store, 4, "sending", now, Some(now + Duration::minutes(4))).await; // being sent
    row(&store, 5, "sent", now - Duration::hours(1), None).await;
    row(&store, 6, "dead", now - Duration::hours(1), None).await;
    // its worker died after the message began to go out
    row(&store, 9, "sending", now, Some(now - Duration::seconds(1))).await;
    OUTBOX.mark(store.conn(), &[9], now).await.unwrap();
    let lease = Duration::minutes(5);
    let c = OUTBOX
        .claim::<outbox::Entity>(&store, ("", vec![]), "id", 10, now, lease)
        .await
        .unwrap();
    let got: Vec<i64> = c.rows.iter().map(|r| r.id).collect();
    assert_eq!(got, vec![1, 3, 9]);
    assert_eq!(
        c.taken_over,
        vec![9],
        "the row a dead worker had begun to send is reported"
    );
    assert_eq!(
        c.recovered,
        vec![3],
        "the one it never began goes again quietly"
    );
    for r in &c.rows {
        assert_eq!(r.status, outbox::Status::Sending);
        assert_eq!(r.lease_until, Some(now + lease));
        assert_eq!(r.data_at, None, "a new attempt, not marked yet");
    }
    let attempts: Vec<i32> = c.rows.iter().map(|r| r.attempts).collect();
    assert_eq!(
        attempts,
        vec![2, 1, 2],
        "an attempt is counted, but not twice for a row never tried"
    );
    // nothing is due twice
    let again = OUTBOX
        .claim::<outbox::Entity>(&store, ("", vec![]), "id", 10, now, lease)
        .await
        .unwrap();
    assert!(again.rows.is_empty(), "{:?}", again.rows);
    // a filter and a limit
    row(&store, 7, "pending", now, None).await;
    row(&store, 8, "pending", now, None).await;
    let one = OUTBOX
        .claim::<outbox::Entity>(
            &store,
            ("recipient <> ?", vec!["c7@example.org".into()]),
            "id",
            1,
            now,
            lease,
        )
        .await
        .unwrap();
    assert_eq!(one.rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_take_one_row_twice() {
    let env = Env::new();
    let store = env.store().await;
    let now = at("2026-12-01T10:00:00Z");
    for n in 1..=300 {
        row(&store, n, "pending", now, None).await;
    }
    let mut claims = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let store = store.clone();
        claims.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let c = OUTBOX
                    .claim::<outbox::Entity>(
                        &store,
                        ("", vec![]),
                        "id",
                        7,
                        now,
                        Duration::minutes(5),
                    )
                    .await
                    .unwrap();
                if c.rows.is_empty() {
                    return mine;
                }
                mine.extend(c.rows.into_iter().map(|r| r.id));
            }
        });
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    while let Some(ids) = claims.join_next().await {
        for id in ids.unwrap() {
            total += 1;
            assert!(seen.insert(id), "row {id} claimed twice");
        }
    }
    assert_eq!(total, 300, "every row claimed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outcomes_land_only_on_rows_still_being_worked_and_a_release_uncounts_the_attempt() {
    let env = Env::new();
    let store = env.store().await;
    let now = at("2026-12-01T10:00:00Z");
    row(&store, 1, "pending", now, None).await;
    row(&store, 2, "pending", now, None).await;
    let c = OUTBOX
        .claim::<outbox::Entity>(&store, ("", vec![]), "id", 10, now, Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(c.rows.len(), 2);
    // another worker took row 1 over and recorded it sent
    store
        .execute_unprepared("UPDATE outbox SET status = 'sent' WHERE id = 1")
        .await
        .unwrap();
    let changed = OUTBOX
        .record_if_ours(
            store.conn(),
            &[1, 2],
            "status = 'dead', updated_at = ?",
            vec![now.into()],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(
        status_of(&store, 1).await.0,
        "sent",
        "left as the other worker recorded it"
    );
    assert_eq!(status_of(&store, 2).await.0, "dead");

    row(&store, 3, "pending", now, None).await;
    OUTBOX
        .claim::<outbox::Entity>(&store, ("", vec![]), "id", 10, now, Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(status_of(&store, 3).await, ("sending".into(), 2));
    OUTBOX.release(store.conn(), &[3], now).await.unwrap();
    assert_eq!(
        status_of(&store, 3).await,
        ("pending".into(), 1),
        "handed back, its attempt not counted"
    );
}

#[test]
fn a_failed_attempt_waits_longer_each_time_then_is_dead() {
    let now = at("2026-12-01T10:00:00Z");
    let wait = |n| match Backoff::MAIL.after_failure(n, 8, 42, now) {
        AfterFailure::Retry(t) => t - now,
        AfterFailure::Dead => panic!("attempt {n} is not the last"),
    };
    assert!(wait(1) < wait(2) && wait(2) < wait(3), "the wait grows");
    assert!(
        wait(7) <= Duration::hours(6) + Duration::hours(6) / 5,
        "within its cap"
    );
    assert_eq!(
        Backoff::MAIL.after_failure(8, 8, 42, now),
        AfterFailure::Dead
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_renewed_lease_keeps_a_row_from_being_taken_over() {
    let env = Env::new();
    let store = env.store().await;
    let now = at("2026-12-01T10:00:00Z");
    row(&store, 1, "pending", now, None).await;
    let lease = Duration::seconds(30);
    OUTBOX
        .claim::<outbox::Entity>(&store, ("", vec![]), "id", 10, now, lease)
        .await
        .unwrap();
    // 20 s later the worker renews; 40 s later the first lease is over
    OUTBOX
        .renew(store.conn(), &[1], now + Duration::seconds(50))
        .await
        .unwrap();
    let later = now + Duration::seconds(40);
    let c = OUTBOX
        .claim::<outbox::Entity>(&store, ("", vec![]), "id", 10, later, lease)
        .await
        .unwrap();
    assert!(c.rows.is_empty(), "still the worker's: {:?}", c.rows);
    let c = OUTBOX
        .claim::<outbox::Entity>(
            &store,
            ("", vec![]),
            "id",
            10,
            now + Duration::seconds(51),
            lease,
        )
        .await
        .unwrap();
    assert_eq!(c.recovered, vec![1], "once the renewed lease is over");
}
