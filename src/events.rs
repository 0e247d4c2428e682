//! The events atsd records (pure): their types, which of them a filter
//! takes, and what a move's event carries. The event log itself, written in
//! the transaction of the change and read by the feed and the outgoing
//! webhooks, is [`crate::store::events`].

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Every event type, for `--type` and the webhooks' `events` list.
pub const TYPES: &[&str] = &[
    CREATED,
    MOVED,
    "email.sent",
    "email.dead",
    "posting.status_changed",
    "job.failed",
    "interview.scheduled",
    "interview.rescheduled",
    "interview.cancelled",
    "interview.feedback",
    "interview.offered",
    "interview.replied",
    "email.bounced",
    "application.replied",
    // what a person does besides moves, each naming them (`actor`)
    "candidate.held",
    "candidate.unheld",
    "posting.team_changed",
    "email.resent",
    "candidate.email_changed",
    "candidate.merged",
    "candidate.erased",
    "candidate.exported",
    "data_request.opened",
    "data_request.extended",
    "data_request.closed",
    "inbound.released",
    "inbound.dropped",
];

/// An application's first transition.
pub const CREATED: &str = "application.created";
/// Any later transition.
pub const MOVED: &str = "application.moved";

/// Whether `kind` is one of `types` (all when empty); `application.*`
/// stands for every type under `application.`.
pub fn matches(types: &[String], kind: &str) -> bool {
    types.is_empty()
        || types.iter().any(|t| match t.strip_suffix(".*") {
            Some(prefix) => kind
                .strip_prefix(prefix)
                .is_some_and(|r| r.starts_with('.')),
            None => t == kind,
        })
}

/// Checks a list of event types as given on the command line or in the
/// config, naming the first unknown one.
pub fn check_types(types: &[String]) -> std::result::Result<(), String> {
    for t in types {
        let known = match t.strip_suffix(".*") {
            Some(prefix) => TYPES.iter().any(|k| k.split('.').next() == Some(prefix)),
            None => TYPES.contains(&t.as_str()),
        };
        if !known {
            return Err(format!(
                "unknown event type `{t}` (types: {}, or a prefix such as application.*)",
                TYPES.join(", ")
            ));
        }
    }
    Ok(())
}

/// What a move's event carries: each JSON key, and the column of the move
/// it holds (a transition's, and the application's posting). One list for
/// the two ways a move's event is made — here, for one move, and by the
/// database from the rows of a batch (`store::events::record_moves`) — so
/// that both are the same JSON.
pub const MOVE_FIELDS: [(&str, &str); 7] = [
    ("actor", "actor"),
    ("application_id", "application_id"),
    ("from", "from_stage"),
    ("posting_id", "posting_id"),
    ("reason", "reason"),
    ("to", "to_stage"),
    ("transition_id", "transition_id"),
];

/// A transition, as its event tells it: `application.created` for the
/// first, `application.moved` for the others.
#[derive(Clone, Copy, Debug)]
pub struct Move<'a> {
    pub application_id: i64,
    pub posting_id: i64,
    pub transition_id: i64,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub reason: Option<&'a str>,
    pub actor: &'a str,
    pub at: DateTime<Utc>,
}

impl Move<'_> {
    pub fn kind(&self) -> &'static str {
        if self.from.is_some() { MOVED } else { CREATED }
    }

    /// The event's data, key by key as [`MOVE_FIELDS`] lists them.
    pub fn data(&self) -> Value {
        let column = |name: &str| -> Value {
            match name {
                "actor" => self.actor.into(),
                "application_id" => self.application_id.into(),
                "from_stage" => self.from.into(),
                "posting_id" => self.posting_id.into(),
                "reason" => self.reason.into(),
                "to_stage" => self.to.into(),
                "transition_id" => self.transition_id.into(),
                _ => Value::Null,
            }
        };
        Value::Object(
            MOVE_FIELDS
                .iter()
                .map(|(key, col)| (key.to_string(), column(col)))
                .collect::<Map<String, Value>>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_carries_every_field_of_the_list_and_nothing_null_by_mistake() {
        let m = Move {
            application_id: 1,
            posting_id: 2,
            transition_id: 3,
            from: Some("applied"),
            to: "screening",
            reason: Some("fit"),
            actor: "cli:ann",
            at: Utc::now(),
        };
        let d = m.data();
        assert_eq!(d.as_object().unwrap().len(), MOVE_FIELDS.len());
        for (key, _) in MOVE_FIELDS {
            assert!(!d[key].is_null(), "{key} is null: its column is not read");
        }
        assert_eq!(m.kind(), MOVED);
        assert_eq!(Move { from: None, ..m }.kind(), CREATED);
    }

    #[test]
    fn types_match_exactly_or_by_prefix() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches(&[], "email.sent"));
        assert!(matches(&t(&["email.sent"]), "email.sent"));
        assert!(!matches(&t(&["email.sent"]), "email.dead"));
        assert!(matches(&t(&["application.*"]), "application.moved"));
        assert!(!matches(&t(&["app.*"]), "application.moved"));
        assert!(check_types(&t(&["application.*", "job.failed"])).is_ok());
        let e = check_types(&t(&["email.lost"])).unwrap_err();
        assert!(e.contains("`email.lost`"), "{e}");
        assert!(check_types(&t(&["nope.*"])).is_err());
    }
}
