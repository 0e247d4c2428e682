//! [`MAP`]: every table and column of the schema, whose, and what
//! forgetting a candidate does to it.

use super::{Column, Forget, Rows, Table, Whose};

const fn c(name: &'static str, whose: Whose, forget: Forget) -> Column {
    Column {
        name,
        whose,
        forget,
    }
}

/// A column of nobody's data, kept.
const fn k(name: &'static str) -> Column {
    c(name, Whose::Nobody, Forget::Keep("no personal data"))
}

use Forget::{Clear, Keep, Redact, Scrub, Set};
use Whose::{Candidate, Nobody, Person, Sender};

/// An outbox row of theirs that went to them: to their address now, or to
/// any other address that is neither a person's on the hiring side nor a
/// recruiters' email (digests, reminders, forwarded replies).
pub(super) const TO_THEM: &str = "(LOWER(recipient) IN ({addresses}) OR (template NOT LIKE 'recruiter_%' \
     AND template <> 'candidate_reply' AND LOWER(recipient) NOT IN (SELECT email_key FROM people)))";

const OUTBOX_OF_APPS: &str =
    "outbox_id IN (SELECT id FROM outbox WHERE application_id IN ({applications}))";

/// Every table and column of the schema, with its fate.
pub const MAP: &[Table] = &[
    Table {
        name: "candidates",
        rows: Rows::Own("id IN ({candidates})"),
        delete: false,
        columns: &[
            k("id"),
            c("name", Candidate, Redact),
            c(
                "email",
                Candidate,
                Set("'anonymized-' || CAST(id AS TEXT) || '@anonymized.invalid'"),
            ),
            c(
                "email_key",
                Candidate,
                Set("'anonymized:' || CAST(id AS TEXT)"),
            ),
            c("locale", Candidate, Clear),
            c("timezone", Candidate, Clear),
            c("on_hold", Nobody, Keep("whether retention may forget them")),
            c("hold_reason", Candidate, Clear),
            c("anonymized_at", Nobody, Set("?")),
            k("created_at"),
            c("updated_at", Nobody, Set("?")),
        ],
    },
    Table {
        name: "applications",
        rows: Rows::Own("candidate_id IN ({candidates})"),
        delete: false,
        columns: &[
            k("id"),
            k("candidate_id"),
            k("posting_id"),
            c(
                "stage",
                Candidate,
                Keep("a stage name: the report counts it"),
            ),
            c(
                "entered_stage_at",
                Candidate,
                Keep("a time: the report counts it"),
            ),
            c(
                "applied_at",
                Candidate,
                Keep("a time: the report counts it"),
            ),
            k("version"),
            k("created_at"),
            k("updated_at"),
        ],
    },
    Table {
        name: "transitions",
        rows: Rows::Own("application_id IN ({applications})"),
        delete: false,
        columns: &[
            k("id"),
            k("application_id"),
            c("from_stage", Candidate, Keep("a stage name")),
            c("to_stage", Candidate, Keep("a stage name")),
            // a rule's reason is a configuration code; a person's may quote them
            c(
                "reason",
                Candidate,
                Set(
                    "CASE WHEN reason IS NULL OR actor LIKE 'rule:%' THEN reason ELSE '[anonymized]' END",
                ),
            ),
            c("actor", Person, Keep("who moved them: the hiring side")),
            c("at", Candidate, Keep("a time: the report counts it")),
            k("stage_entered_at"),
        ],
    },
    Table {
        name: "outbox",
        rows: Rows::Own("application_id IN ({applications})"),
        delete: false,
        columns: &[
            k("id"),
            k("application_id"),
            k("transition_id"),
            k("stage"),
            // the emails to them (at any address they had); emails about
            // them to recruiters and interviewers keep their recipient
            c(
                "recipient",
                Candidate,
                Set("CASE WHEN {to_them} THEN 'anonymized@anonymized.invalid' ELSE recipient END"),
            ),
            c(
                "recipient_name",
                Candidate,
                Set("CASE WHEN {to_them} THEN NULL ELSE recipient_name END"),
            ),
            k("template"),
            c("locale", Candidate, Keep("a language code")),
            c(
                "message_id",
                Nobody,
                Keep("atsd's own ids: row numbers and a domain"),
            ),
            c(
                "status",
                Nobody,
                Set("CASE WHEN status IN ('pending', 'sending') THEN 'cancelled' ELSE status END"),
            ),
            k("attempts"),
            k("next_attempt_at"),
            k("send_after"),
            k("lease_until"),
            c(
                "last_error",
                Candidate,
                Set("CASE WHEN last_error IS NULL THEN NULL ELSE '[anonymized]' END"),
            ),
            k("data_at"),
            k("sent_at"),
            k("created_at"),
            c("updated_at", Nobody, Set("?")),
            k("auto_submitted"),
            c("reply_to", Candidate, Clear),
            c("reply_to_name", Candidate, Clear),
        ],
    },
    Table {
        name: "outbox_bodies",
        rows: Rows::Own(OUTBOX_OF_APPS),
        delete: false,
        columns: &[
            k("outbox_id"),
            c("subject", Candidate, Redact),
            c("body_text", Candidate, Set("''")),
            c("body_html", Candidate, Set("''")),
            c("calendar", Candidate, Clear),
        ],
    },
    Table {
        name: "outbox_bodies",
        rows: Rows::Mentions(
            "outbox_id IN (SELECT id FROM outbox WHERE template = 'recruiter_digest')",
        ),
        delete: false,
        columns: &[
            c("subject", Candidate, Scrub),
            c("body_text", Candidate, Scrub),
            c("body_html", Candidate, Scrub),
        ],
    },
    Table {
        name: "events",
        rows: Rows::Own("application_id IN ({applications}) OR {candidate_in_data}"),
        delete: false,
        columns: &[
            k("id"),
            k("type"),
            k("at"),
            k("tx"),
            // reasons, notes, errors, addresses: the personal keys
            c("data", Candidate, Scrub),
            k("application_id"),
        ],
    },
    Table {
        name: "interviews",
        rows: Rows::Own("application_id IN ({applications})"),
        delete: false,
        columns: &[
            k("id"),
            k("application_id"),
            k("uid"),
            // `--title` is free text, and may name them
            c("title", Candidate, Redact),
            c("starts_at", Candidate, Keep("a time")),
            c("timezone", Candidate, Keep("the interview's zone")),
            k("minutes"),
            c("location", Nobody, Keep("the company's room or address")),
            c("video_url", Nobody, Keep("the company's meeting link")),
            k("sequence"),
            k("status"),
            c("cancel_reason", Candidate, Clear),
            k("created_at"),
            k("updated_at"),
            c(
                "candidate_partstat",
                Candidate,
                Keep("accepted or declined"),
            ),
            c("focus", Nobody, Keep("names of the posting's attributes")),
        ],
    },
    Table {
        name: "interview_offers",
        rows: Rows::Own("application_id IN ({applications})"),
        delete: false,
        columns: &[
            k("id"),
            k("application_id"),
            k("interviewers"),
            k("minutes"),
            c("from_at", Candidate, Keep("a time")),
            c("until_at", Candidate, Keep("a time")),
            k("buffer_minutes"),
            k("notice_minutes"),
            // `--title` is free text, and may name them
            c("title", Candidate, Redact),
            c("location", Nobody, Keep("the company's room or address")),
            c("video_url", Nobody, Keep("the company's meeting link")),
            c("focus", Nobody, Keep("names of the posting's attributes")),
            k("status"),
            k("interview_id"),
            k("created_by"),
            k("created_at"),
            k("expires_at"),
        ],
    },
    Table {
        name: "interview_people",
        rows: Rows::Own(
            "interview_id IN (SELECT id FROM interviews WHERE application_id IN ({applications}))",
        ),
        delete: false,
        columns: &[
            k("id"),
            k("interview_id"),
            k("person_id"),
            c(
                "recommendation",
                Candidate,
                Keep("a rating without words: the hiring team's counts"),
            ),
            // what an interviewer wrote about them
            c("note", Candidate, Clear),
            k("feedback_at"),
            c("partstat", Person, Keep("the interviewer's answer")),
            c(
                "ratings",
                Candidate,
                Keep("ratings without words: the hiring team's counts"),
            ),
            c("private_note", Candidate, Clear),
            k("submitted_by"),
        ],
    },
    Table {
        name: "inbound_messages",
        rows: Rows::Own(
            "application_id IN ({applications}) OR LOWER(failed_recipient) IN ({addresses}) \
             OR {address_in:sender} OR outbox_id IN (SELECT id FROM outbox WHERE application_id IN ({applications}))",
        ),
        delete: false,
        columns: &[
            k("id"),
            // the message's own Message-ID and a hash
            c(
                "dedupe_key",
                Candidate,
                Set("'anonymized:' || CAST(id AS TEXT)"),
            ),
            c("message_id", Candidate, Clear),
            k("kind"),
            k("status"),
            k("application_id"),
            k("outbox_id"),
            c("envelope_to", Nobody, Keep("atsd's own tagged addresses")),
            c("sender", Candidate, Clear),
            c("subject", Candidate, Redact),
            k("sent_at"),
            c("body_text", Candidate, Clear),
            c("attachments", Candidate, Clear),
            c("failed_recipient", Candidate, Clear),
            k("dsn_action"),
            k("dsn_status"),
            c("diagnostic", Candidate, Clear),
            c("why", Candidate, Clear),
            k("reason"),
            c("raw", Candidate, Clear),
            k("size"),
            k("received_at"),
            k("read_at"),
        ],
    },
    Table {
        name: "application_forms",
        rows: Rows::Own("application_id IN ({applications})"),
        delete: true,
        columns: &[
            k("application_id"),
            c("phone", Candidate, Clear),
            // what they answered: free text about themselves
            c("answers", Candidate, Set("'{}'")),
            c("source", Nobody, Keep("a job board's or campaign's token")),
            c(
                "consent",
                Candidate,
                Keep("which consents were given: yes or no"),
            ),
            k("created_at"),
        ],
    },
    Table {
        name: "application_files",
        rows: Rows::Own("application_id IN ({applications})"),
        delete: true,
        columns: &[
            k("id"),
            k("application_id"),
            k("field"),
            c("name", Candidate, Set("'[anonymized]'")),
            k("media_type"),
            k("size"),
            // the file itself is deleted from disk with the row
            c("sha256", Candidate, Keep("a digest; the file is deleted")),
            k("created_at"),
        ],
    },
    Table {
        name: "undeliverable_addresses",
        rows: Rows::Own("address IN ({addresses})"),
        delete: true,
        columns: &[
            c("address", Candidate, Clear),
            k("outbox_id"),
            k("inbound_id"),
            k("dsn_status"),
            c("diagnostic", Candidate, Clear),
            k("since"),
        ],
    },
    Table {
        name: "quarantine_senders",
        rows: Rows::Own("sender IN ({addresses})"),
        delete: true,
        columns: &[
            c("sender", Sender, Clear),
            k("window_start"),
            k("kept"),
            k("refused"),
            k("last_at"),
        ],
    },
    Table {
        name: "idempotency_keys",
        rows: Rows::Own("{address_in:body}"),
        delete: true,
        columns: &[
            k("id"),
            k("token_id"),
            c("key", Nobody, Keep("the client's key")),
            k("request_hash"),
            k("status"),
            // the stored answer of an API call may name them
            c("body", Candidate, Clear),
            k("created_at"),
        ],
    },
    Table {
        name: "data_requests",
        rows: Rows::Own("candidate_id IN ({candidates}) OR LOWER(email) IN ({addresses})"),
        delete: false,
        columns: &[
            k("id"),
            k("candidate_id"),
            c("email", Candidate, Redact),
            k("kind"),
            k("law"),
            k("state"),
            k("outcome"),
            k("received_at"),
            k("due_at"),
            k("acknowledge_by"),
            k("extended_at"),
            c(
                "extension_reason",
                Nobody,
                Keep("the hiring side's reason: the record that the law was kept"),
            ),
            k("closed_at"),
            c(
                "close_reason",
                Nobody,
                Keep("the hiring side's answer: the record that the request was answered"),
            ),
            c("note", Candidate, Clear),
            k("created_at"),
            c(
                "link_nonce",
                Nobody,
                Keep("a random link id: spent links stay spent"),
            ),
            c(
                "export_nonce",
                Nobody,
                Keep("a random link id: spent links stay spent"),
            ),
            k("downloaded_at"),
        ],
    },
    Table {
        name: "self_service_uses",
        rows: Rows::Own("application_id IN ({applications})"),
        delete: false,
        columns: &[
            c(
                "nonce",
                Nobody,
                Keep("a random link id: spent links stay spent"),
            ),
            k("application_id"),
            c("used_at", Candidate, Keep("a time")),
        ],
    },
    Table {
        name: "availability",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("person_id"),
            c("weekly", Person, Keep("the hiring side")),
            c("busy_feed", Person, Keep("the hiring side's secret")),
            c("busy_times", Person, Keep("the hiring side")),
            k("busy_fetched_at"),
            c("busy_error", Person, Keep("the hiring side")),
            k("updated_at"),
        ],
    },
    Table {
        name: "people",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("id"),
            c("email", Person, Keep("the hiring side")),
            c("email_key", Person, Keep("the hiring side")),
            c("name", Person, Keep("the hiring side")),
            c("timezone", Person, Keep("the hiring side")),
            c("locale", Person, Keep("the hiring side")),
            k("active"),
            k("created_at"),
            k("updated_at"),
            k("deactivated_at"),
        ],
    },
    Table {
        name: "posting_team",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("id"),
            k("posting_id"),
            k("person_id"),
            k("role"),
            k("created_at"),
        ],
    },
    Table {
        name: "api_tokens",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("id"),
            c("name", Person, Keep("the token's holder")),
            k("scope"),
            k("hash"),
            k("prefix"),
            k("created_at"),
            k("last_used_at"),
            k("revoked_at"),
            k("person_id"),
        ],
    },
    Table {
        name: "board_sessions",
        rows: Rows::None,
        delete: false,
        columns: &[k("hash"), k("token_id"), k("created_at"), k("expires_at")],
    },
    Table {
        name: "postings",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("id"),
            k("url"),
            k("source"),
            k("board"),
            k("external_id"),
            k("title"),
            k("company"),
            k("location"),
            k("description"),
            k("apply_url"),
            k("posted_at"),
            k("status"),
            k("status_changed_at"),
            k("board_missing"),
            k("etag"),
            k("last_modified"),
            k("last_polled_at"),
            k("consecutive_not_found"),
            k("last_not_found_at"),
            k("consecutive_errors"),
            k("next_poll_at"),
            k("last_error"),
            k("raw"),
            k("created_at"),
            k("updated_at"),
            k("published_at"),
            k("first_published_at"),
            k("scorecard"),
        ],
    },
    Table {
        name: "posting_history",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("id"),
            k("posting_id"),
            k("at"),
            k("field"),
            k("old_value"),
            k("new_value"),
            k("note"),
        ],
    },
    Table {
        name: "job_runs",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("id"),
            k("job"),
            k("scheduled_for"),
            k("started_at"),
            k("finished_at"),
            k("outcome"),
            c("counts", Nobody, Keep("numbers of rows")),
            k("instance"),
            c("error", Nobody, Keep("a job's error names rows by id")),
            k("attempts"),
        ],
    },
    Table {
        name: "webhook_endpoints",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("name"),
            k("url"),
            k("cursor_tx"),
            k("cursor_id"),
            k("created_at"),
        ],
    },
    Table {
        name: "webhook_deliveries",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("id"),
            k("endpoint"),
            c(
                "event_id",
                Nobody,
                Keep("the payload is the event's, scrubbed with it"),
            ),
            k("status"),
            k("attempts"),
            k("next_attempt_at"),
            k("lease_until"),
            k("last_error"),
            k("last_status"),
            k("delivered_at"),
            k("created_at"),
            k("updated_at"),
        ],
    },
    Table {
        name: "webhooks_in",
        rows: Rows::None,
        delete: false,
        columns: &[
            k("id"),
            k("source"),
            k("event_id"),
            k("action"),
            k("received_at"),
        ],
    },
    Table {
        name: "stage_totals",
        rows: Rows::None,
        delete: false,
        columns: &[k("id"), k("posting_id"), k("stage"), k("n")],
    },
    Table {
        name: "stage_days",
        rows: Rows::None,
        delete: false,
        columns: &[k("id"), k("posting_id"), k("stage"), k("day"), k("n")],
    },
    Table {
        name: "send_rate",
        rows: Rows::None,
        delete: false,
        columns: &[k("id"), k("tokens"), k("updated_ms")],
    },
    Table {
        name: "seaql_migrations",
        rows: Rows::None,
        delete: false,
        columns: &[k("version"), k("applied_at")],
    },
];
