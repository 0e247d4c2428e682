//! The event log: every transition, email outcome, posting status change and
//! failed job run is written here in the transaction that made it, and read
//! back in order by the feed (`atsd events`) and the outgoing webhooks.
//!
//! Order and resuming: on SQLite the single writer commits in id order, so
//! "after id N" is exact. On PostgreSQL ids are taken before commit, so a
//! transaction may commit an event with a lower id after a reader has passed
//! it; every event therefore carries its writing transaction (`tx`), readers
//! walk `(tx, id)` and take an event only once every transaction older than
//! the oldest still running has ended. A long transaction delays the feed by
//! its length; nothing is skipped.

use super::rows::Cell;
use super::sql;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult};
use serde::Serialize;

/// An event to write.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: &'static str,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl NewEvent {
    pub fn new(kind: &'static str, at: DateTime<Utc>, data: serde_json::Value) -> NewEvent {
        debug_assert!(crate::events::TYPES.contains(&kind), "{kind}");
        NewEvent { kind, at, data }
    }

    /// A move's event.
    pub fn of_move(m: &crate::events::Move<'_>) -> NewEvent {
        NewEvent::new(m.kind(), m.at, m.data())
    }

    /// The application the event is about (its data's `application_id`).
    fn application_id(&self) -> Option<i64> {
        self.data.get("application_id").and_then(|v| v.as_i64())
    }
}

/// The events of moves just written, one row each: `(transition_id,
/// application_id, posting_id, from_stage, to_stage, reason, actor, at)`,
/// as cells. The JSON is [`crate::events::Move`]'s, key by key from
/// [`crate::events::MOVE_FIELDS`], built by the database in one statement
/// however many there are (`json_object` on SQLite, `json_build_object` on
/// PostgreSQL) from the rows sent, without reading the transitions back.
pub(crate) async fn record_moves<C: ConnectionTrait>(c: &C, rows: Vec<Vec<Cell>>) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    super::notify(c, super::EVENTS_CHANNEL).await?;
    let b = c.get_database_backend();
    let object = if b == DbBackend::Postgres {
        "json_build_object"
    } else {
        "json_object"
    };
    let (cte, values) = super::rows::rows_cte(
        b,
        "m",
        &[
            ("transition_id", "bigint"),
            ("application_id", "bigint"),
            ("posting_id", "bigint"),
            ("from_stage", "text"),
            ("to_stage", "text"),
            ("reason", "text"),
            ("actor", "text"),
            ("at", "timestamptz"),
        ],
        rows,
    );
    let data: Vec<String> = crate::events::MOVE_FIELDS
        .iter()
        .map(|(key, column)| format!("'{key}', m.{column}"))
        .collect();
    c.execute_raw(sql(
        b,
        &format!(
            "{cte} INSERT INTO events (type, at, data, application_id) \
             SELECT CASE WHEN m.from_stage IS NULL THEN '{}' ELSE '{}' END, m.at, \
             CAST({object}({}) AS text), m.application_id FROM m ORDER BY m.transition_id",
            crate::events::CREATED,
            crate::events::MOVED,
            data.join(", ")
        ),
        values,
    ))
    .await?;
    Ok(())
}

/// `email.sent` for the outbox rows among `ids` marked sent at `at`, made
/// by the database from the rows (the dispatcher records thousands a
/// second): the same JSON as the dispatcher's `email.dead`, without `error`.
pub async fn record_sent<C: ConnectionTrait>(c: &C, ids: &[i64], at: DateTime<Utc>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    super::notify(c, super::EVENTS_CHANNEL).await?;
    let b = c.get_database_backend();
    let object = if b == DbBackend::Postgres {
        "json_build_object"
    } else {
        "json_object"
    };
    c.execute_raw(sql(
        b,
        &format!(
            "INSERT INTO events (type, at, data, application_id) \
             SELECT 'email.sent', ?, CAST({object}('application_id', application_id, 'email_id', id, \
             'message_id', message_id, 'template', template) AS text), application_id \
             FROM outbox WHERE id IN ({}) AND status = 'sent' AND sent_at = ? ORDER BY id",
            super::id_list(ids)
        ),
        vec![at.into(), at.into()],
    ))
    .await?;
    Ok(())
}

/// Writes `events` inside the caller's transaction (and tells the daemons'
/// webhooks, on PostgreSQL, when it commits).
pub async fn record<C: ConnectionTrait>(c: &C, events: Vec<NewEvent>) -> Result<()> {
    let b = c.get_database_backend();
    if events.is_empty() {
        return Ok(());
    }
    super::notify(c, super::EVENTS_CHANNEL).await?;
    if let [e] = events.as_slice() {
        // one event (a move, a new application): a plain insert, which
        // PostgreSQL plans faster than the array form below
        c.execute_raw(sql(
            b,
            "INSERT INTO events (type, at, data, application_id) VALUES (?, ?, ?, ?)",
            vec![
                e.kind.into(),
                e.at.into(),
                e.data.to_string().into(),
                e.application_id().into(),
            ],
        ))
        .await?;
        return Ok(());
    }
    const COLUMNS: [(&str, &str); 4] = [
        ("type", "text"),
        ("at", "timestamptz"),
        ("data", "text"),
        ("application_id", "bigint"),
    ];
    let rows: Vec<Vec<Cell>> = events
        .into_iter()
        .map(|e| {
            vec![
                Cell::S(Some(e.kind.to_string())),
                Cell::T(Some(e.at)),
                Cell::S(Some(e.data.to_string())),
                Cell::I(e.application_id()),
            ]
        })
        .collect();
    super::rows::insert_all(c, "events", &COLUMNS, rows).await
}

/// One event as the feed and the webhooks carry it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// Where a reader stands: after the event `(tx, id)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub tx: i64,
    pub id: i64,
}

#[derive(FromQueryResult)]
struct Row {
    id: i64,
    kind: String,
    at: DateTime<Utc>,
    tx: i64,
    data: String,
}

/// The newest event's id (0: none yet).
pub async fn last_id<C: ConnectionTrait>(c: &C) -> Result<i64> {
    let r = c
        .query_one_raw(sql(
            c.get_database_backend(),
            "SELECT COALESCE(MAX(id), 0) AS n FROM events",
            vec![],
        ))
        .await?;
    Ok(match r {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    })
}

/// The position just after event `id` (0: the beginning).
pub async fn position_of<C: ConnectionTrait>(c: &C, id: i64) -> Result<Position> {
    if id <= 0 {
        return Ok(Position::default());
    }
    let row = c
        .query_one_raw(sql(
            c.get_database_backend(),
            "SELECT tx FROM events WHERE id = ?",
            vec![id.into()],
        ))
        .await?;
    match row {
        Some(r) => Ok(Position {
            tx: r.try_get("", "tx")?,
            id,
        }),
        None => {
            // removed by retention (older than what is kept): the reader
            // missed nothing still here, so it starts at the oldest kept
            let oldest = c
                .query_one_raw(sql(
                    c.get_database_backend(),
                    "SELECT MIN(id) AS id FROM events",
                    vec![],
                ))
                .await?
                .and_then(|r| r.try_get::<Option<i64>>("", "id").ok().flatten());
            match oldest {
                Some(o) if id < o => {
                    tracing::warn!(
                        "events up to {} were removed by retention ([retention] events_after); \
                         starting at the oldest kept, {o}",
                        o - 1
                    );
                    Ok(Position::default())
                }
                _ => Err(Error::NotFound(format!("no event {id} yet"))),
            }
        }
    }
}

/// The position after the last event readable now: where a reader that
/// wants only new events starts.
pub async fn end<C: ConnectionTrait>(c: &C) -> Result<Position> {
    let b = c.get_database_backend();
    let q = if b == DbBackend::Postgres {
        format!("SELECT tx, id FROM events WHERE {VISIBLE} ORDER BY tx DESC, id DESC LIMIT 1")
    } else {
        "SELECT tx, id FROM events ORDER BY id DESC LIMIT 1".to_string()
    };
    Ok(match c.query_one_raw(sql(b, &q, vec![])).await? {
        Some(r) => Position {
            tx: r.try_get("", "tx")?,
            id: r.try_get("", "id")?,
        },
        None => Position::default(),
    })
}

/// Only the events of transactions older than every running one.
const VISIBLE: &str = "tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// Up to `limit` events after `from`, in order, and the position after the
/// last one looked at (events of other types than `types` are passed over).
pub async fn after<C: ConnectionTrait>(
    c: &C,
    from: Position,
    types: &[String],
    limit: u64,
) -> Result<(Vec<Event>, Position)> {
    let b = c.get_database_backend();
    let stmt = if b == DbBackend::Postgres {
        sql(
            b,
            &format!(
                "SELECT id, type AS kind, at, tx, data FROM events WHERE (tx > ? OR (tx = ? AND id > ?)) \
                 AND {VISIBLE} ORDER BY tx, id LIMIT {limit}"
            ),
            vec![from.tx.into(), from.tx.into(), from.id.into()],
        )
    } else {
        sql(
            b,
            &format!(
                "SELECT id, type AS kind, at, tx, data FROM events WHERE id > ? ORDER BY id LIMIT {limit}"
            ),
            vec![from.id.into()],
        )
    };
    let rows = Row::find_by_statement(stmt).all(c).await?;
    let mut at = from;
    let mut out = Vec::new();
    for r in rows {
        at = Position { tx: r.tx, id: r.id };
        if !crate::events::matches(types, &r.kind) {
            continue;
        }
        let data = serde_json::from_str(&r.data)
            .map_err(|e| Error::Integrity(format!("event {} holds bad JSON: {e}", r.id)))?;
        out.push(Event {
            id: r.id,
            kind: r.kind,
            timestamp: r.at,
            data,
        });
    }
    Ok((out, at))
}

/// The events with these ids, in id order (the webhook deliveries' payloads).
pub async fn by_ids<C: ConnectionTrait>(c: &C, ids: &[i64]) -> Result<Vec<Event>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = Row::find_by_statement(sql(
        c.get_database_backend(),
        &format!(
            "SELECT id, type AS kind, at, tx, data FROM events WHERE id IN ({}) ORDER BY id",
            super::id_list(ids)
        ),
        vec![],
    ))
    .all(c)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Event {
                id: r.id,
                data: serde_json::from_str(&r.data)
                    .map_err(|e| Error::Integrity(format!("event {} holds bad JSON: {e}", r.id)))?,
                kind: r.kind,
                timestamp: r.at,
            })
        })
        .collect()
}
