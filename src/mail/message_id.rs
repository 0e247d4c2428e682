//! Every Message-ID atsd gives an email, in one place. Each is made from
//! what caused the email (a transition, a stay in a stage, a digest's
//! occurrence) and the sender's domain, so it is the same every time the
//! email is queued or sent: queuing it twice is impossible (the outbox's
//! unique key), and a resend after a crash carries the first one's ID.

use crate::config::Config;
use chrono::{DateTime, Utc};

/// The domain of atsd's Message-IDs: the sender's.
pub fn domain(config: &Config) -> &str {
    config
        .mail
        .from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| !d.is_empty())
        .unwrap_or("atsd.invalid")
}

/// The `n`th email of a transition (the email a move sends).
pub fn message_id(config: &Config, transition_id: i64, n: usize) -> String {
    of_transition(domain(config), transition_id, n)
}

/// [`message_id`] with the domain already known.
pub fn of_transition(domain: &str, transition_id: i64, n: usize) -> String {
    format!("<atsd.t{transition_id}.{n}@{domain}>")
}

/// The `n`th recruiter's reminder about one stay in a stage (application
/// and version).
pub fn of_reminder(domain: &str, application_id: i64, version: i32, n: usize) -> String {
    format!("<atsd.a{application_id}.v{version}.remind{n}@{domain}>")
}

/// A reminder about one stay in a stage to one person of the posting's team.
pub fn of_reminder_to(domain: &str, application_id: i64, version: i32, person_id: i64) -> String {
    format!("<atsd.a{application_id}.v{version}.remind.p{person_id}@{domain}>")
}

/// An interview's email to one recipient: `kind` is `req` (an invitation
/// or its update), `cancel` or `remind`; `who` is `c` (the candidate) or
/// `p<person id>`. Every email of interview N starts `<atsd.iN.`.
pub fn of_interview(
    domain: &str,
    interview_id: i64,
    sequence: i32,
    kind: &str,
    who: &str,
) -> String {
    format!("<atsd.i{interview_id}.s{sequence}.{kind}.{who}@{domain}>")
}

/// A posting's close, told to one person of its team.
pub fn of_close_notice(
    domain: &str,
    posting_id: i64,
    closed_at: DateTime<Utc>,
    person_id: i64,
) -> String {
    format!(
        "<atsd.posting{posting_id}.closed.{}.p{person_id}@{domain}>",
        closed_at.format("%Y%m%dT%H%M%SZ")
    )
}

/// The answer to data request `request_id`: `what` is `export` (an access
/// request's download link) or `erased` (an erasure is done).
pub fn of_request(domain: &str, request_id: i64, what: &str) -> String {
    format!("<atsd.r{request_id}.{what}@{domain}>")
}

/// One person's digest of one occurrence.
pub fn of_person_digest(domain: &str, occurrence: DateTime<Utc>, person_id: i64) -> String {
    format!(
        "<atsd.digest.{}.p{person_id}@{domain}>",
        occurrence.format("%Y%m%dT%H%M%SZ")
    )
}

/// The `n`th recruiter's digest of one occurrence of the digest job.
pub fn of_digest(domain: &str, occurrence: DateTime<Utc>, n: usize) -> String {
    format!(
        "<atsd.digest.{}.{n}@{domain}>",
        occurrence.format("%Y%m%dT%H%M%SZ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_use_the_sender_domain() {
        let c = Config::default();
        assert_eq!(message_id(&c, 7, 0), "<atsd.t7.0@example.org>");
        let at = DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            of_digest(domain(&c), at, 1),
            "<atsd.digest.20261120T090000Z.1@example.org>"
        );
        assert_eq!(of_reminder("d.org", 4, 2, 0), "<atsd.a4.v2.remind0@d.org>");
    }
}
