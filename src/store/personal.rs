//! The map of personal data: for every table and column the migrations
//! create, whether it holds personal data, whose, and what forgetting a
//! candidate does to it. Anonymization (`retention`), erasure (`candidate
//! erase`) and the export (`candidate export`) are all driven by [`MAP`];
//! there is no second list. `tests/it/privacy.rs` reads the live schema of a
//! migrated database on both engines and fails, naming it, when a column is
//! not here: the next table cannot be forgotten.
//!
//! A table may appear more than once, each entry one set of rows: the
//! candidate's own rows (`Rows::Own`), or rows of other people's that
//! mention them (`Rows::Mentions`: a recruiter's digest names them).

use super::{id_list, sql};
use crate::error::Result;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

/// What replaces personal text.
pub const REDACTED: &str = "[anonymized]";

/// Whose personal data a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whose {
    /// Nobody's: ids, stages, times, configuration, atsd's own text.
    Nobody,
    /// The candidate's: forgotten with them, and in their export.
    Candidate,
    /// A person's on the hiring side (recruiters, interviewers, tokens):
    /// kept while they work here; `atsd person remove` deactivates them.
    Person,
    /// Whoever sent mail atsd quarantined: forgotten by `[retention]
    /// quarantine_after`, and with the candidate when it was them.
    Sender,
}

/// What forgetting the candidate does to one column of their rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forget {
    /// Kept as it is, and why.
    Keep(&'static str),
    /// Set to NULL.
    Clear,
    /// Set to `[anonymized]`.
    Redact,
    /// Set to an SQL expression of the row, the same on both engines;
    /// each `?` in it is the time of the forgetting, and the subjects are
    /// put in as in [`Rows::Own`].
    Set(&'static str),
    /// Rewritten in Rust: a JSON payload's personal keys, or the
    /// candidate's name and address where others' text mentions them.
    Scrub,
}

/// Which rows of a table an entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// No row is any candidate's: nothing here is forgotten with one.
    None,
    /// The candidate's own rows: an SQL condition in which
    /// `{candidates}`, `{applications}` and `{addresses}` are the
    /// candidate's ids, their applications' ids and their addresses
    /// (lower-cased, quoted), and `{address_in:COLUMN}` is true when the
    /// column's text contains one of the addresses.
    Own(&'static str),
    /// Rows of other people that mention the candidate (their name or
    /// address is replaced where it is written); not in their export.
    Mentions(&'static str),
}

/// One column and its fate.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub whose: Whose,
    pub forget: Forget,
}

/// One set of rows of a table.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub name: &'static str,
    pub rows: Rows,
    /// Forgetting deletes these rows (their columns' `forget` then says
    /// what the row held).
    pub delete: bool,
    pub columns: &'static [Column],
}

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
const TO_THEM: &str = "(LOWER(recipient) IN ({addresses}) OR (template NOT LIKE 'recruiter_%' \
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

/// Whom a forgetting is about: candidates, their applications, their
/// addresses (lower-cased) and names.
#[derive(Clone, Debug, Default)]
pub struct Subjects {
    pub candidates: Vec<i64>,
    pub applications: Vec<i64>,
    pub addresses: Vec<String>,
    pub names: Vec<String>,
}

impl Subjects {
    /// An entry's condition with the subjects put in.
    pub fn condition(&self, template: &str) -> String {
        let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let list = |v: &[i64]| {
            if v.is_empty() {
                "NULL".to_string()
            } else {
                id_list(v)
            }
        };
        let addresses = if self.addresses.is_empty() {
            "NULL".to_string()
        } else {
            self.addresses
                .iter()
                .map(|a| quoted(a))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut out = template
            .replace("{to_them}", TO_THEM)
            .replace("{candidates}", &list(&self.candidates))
            .replace("{applications}", &list(&self.applications))
            .replace("{addresses}", &addresses);
        let in_data = if self.candidates.is_empty() {
            "1 = 0".to_string()
        } else {
            let ors: Vec<String> = self
                .candidates
                .iter()
                .flat_map(|id| {
                    [
                        format!("data LIKE '%\"candidate_id\":{id},%'"),
                        format!("data LIKE '%\"candidate_id\":{id}}}%'"),
                    ]
                })
                .collect();
            format!("({})", ors.join(" OR "))
        };
        out = out.replace("{candidate_in_data}", &in_data);
        while let Some(start) = out.find("{address_in:") {
            let Some(len) = out[start..].find('}') else {
                break;
            };
            let column = out[start + "{address_in:".len()..start + len].to_string();
            let cond = if self.addresses.is_empty() {
                "1 = 0".to_string()
            } else {
                let ors: Vec<String> = self
                    .addresses
                    .iter()
                    .map(|a| {
                        let pattern = a
                            .replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_");
                        format!(
                            "LOWER({column}) LIKE {} ESCAPE '\\'",
                            quoted(&format!("%{pattern}%"))
                        )
                    })
                    .collect();
                format!("({})", ors.join(" OR "))
            };
            out.replace_range(start..start + len + 1, &cond);
        }
        out
    }
}

/// The keys of an event's JSON that may carry personal data; a rule's
/// `reason` is a configuration code and stays.
pub const EVENT_KEYS: [&str; 10] = [
    "reason",
    "error",
    "note",
    "recipient",
    "address",
    "email",
    "name",
    "diagnostic",
    "subject",
    "sender",
];

/// Forgets `who` everywhere the map says, inside the caller's transaction:
/// one statement per entry (a delete, or an update of its columns), and
/// the scrubbers for JSON payloads and others' text. How many rows each
/// table had changed.
pub async fn forget<C: ConnectionTrait>(
    c: &C,
    who: &Subjects,
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, u64)>> {
    let b = c.get_database_backend();
    let mut changed = Vec::new();
    for t in MAP {
        let (own, template) = match t.rows {
            Rows::None => continue,
            Rows::Own(w) => (true, w),
            Rows::Mentions(w) => (false, w),
        };
        let cond = who.condition(template);
        if t.delete {
            let n = c
                .execute_raw(sql(
                    b,
                    &format!("DELETE FROM {} WHERE {cond}", t.name),
                    vec![],
                ))
                .await?
                .rows_affected();
            changed.push((t.name, n));
            continue;
        }
        let mut sets = Vec::new();
        let mut values = Vec::new();
        for col in t.columns {
            let expr = match col.forget {
                Keep(_) => continue,
                Clear => "NULL".to_string(),
                Redact => format!("'{REDACTED}'"),
                Set(e) => {
                    for _ in e.matches('?') {
                        values.push(now.into());
                    }
                    who.condition(e)
                }
                Scrub => continue,
            };
            sets.push(format!("{} = {expr}", col.name));
        }
        if !sets.is_empty() && own {
            let n = c
                .execute_raw(sql(
                    b,
                    &format!("UPDATE {} SET {} WHERE {cond}", t.name, sets.join(", ")),
                    values,
                ))
                .await?
                .rows_affected();
            changed.push((t.name, n));
        }
        let scrubbed: Vec<&str> = t
            .columns
            .iter()
            .filter(|col| col.forget == Scrub)
            .map(|col| col.name)
            .collect();
        if scrubbed.is_empty() {
            continue;
        }
        let n = if own {
            scrub_json(c, t.name, &scrubbed, &cond).await?
        } else {
            scrub_mentions(c, t.name, &scrubbed, &cond, who).await?
        };
        changed.push((t.name, n));
    }
    Ok(changed)
}

/// The rows of `table` matching `cond`, by their first column: each JSON
/// column's personal keys ([`EVENT_KEYS`]) redacted.
async fn scrub_json<C: ConnectionTrait>(
    c: &C,
    table: &str,
    columns: &[&str],
    cond: &str,
) -> Result<u64> {
    let b = c.get_database_backend();
    let mut n = 0;
    for column in columns {
        let rows = c
            .query_all_raw(sql(
                b,
                &format!("SELECT id, {column} AS v FROM {table} WHERE {cond}"),
                vec![],
            ))
            .await?;
        for r in rows {
            let id: i64 = r.try_get("", "id")?;
            let text: String = r.try_get("", "v")?;
            let Ok(mut data) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let by_rule = data
                .get("actor")
                .and_then(|a| a.as_str())
                .is_some_and(|a| a.starts_with("rule:"));
            let mut changed = false;
            for key in EVENT_KEYS {
                if key == "reason" && by_rule {
                    continue;
                }
                if data.get(key).is_some_and(|v| !v.is_null() && v != REDACTED) {
                    data[key] = REDACTED.into();
                    changed = true;
                }
            }
            if changed {
                c.execute_raw(sql(
                    b,
                    &format!("UPDATE {table} SET {column} = ? WHERE id = ?"),
                    vec![data.to_string().into(), id.into()],
                ))
                .await?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Others' text that mentions them: their names and addresses, as written
/// and HTML-escaped, replaced by `[anonymized]`.
async fn scrub_mentions<C: ConnectionTrait>(
    c: &C,
    table: &str,
    columns: &[&str],
    cond: &str,
    who: &Subjects,
) -> Result<u64> {
    let b = c.get_database_backend();
    let mut words: Vec<String> = Vec::new();
    for w in who.names.iter().chain(&who.addresses) {
        if w.trim().is_empty() {
            continue;
        }
        words.push(w.clone());
        let escaped = html_escape::encode_safe(w).to_string();
        if escaped != *w {
            words.push(escaped);
        }
    }
    let mut n = 0;
    for w in words {
        let sets: Vec<String> = columns
            .iter()
            .map(|col| format!("{col} = REPLACE({col}, ?, ?)"))
            .collect();
        let mut values = Vec::new();
        for _ in columns {
            values.push(w.clone().into());
            values.push(REDACTED.into());
        }
        n += c
            .execute_raw(sql(
                b,
                &format!("UPDATE {table} SET {} WHERE {cond}", sets.join(", ")),
                values,
            ))
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// The tables and columns the map names (for the schema check).
pub fn columns()
-> std::collections::BTreeMap<&'static str, std::collections::BTreeSet<&'static str>> {
    let mut all: std::collections::BTreeMap<_, std::collections::BTreeSet<_>> = Default::default();
    for t in MAP {
        all.entry(t.name)
            .or_default()
            .extend(t.columns.iter().map(|c| c.name));
    }
    all
}

/// The columns of an entry that go in a person's export: theirs, and
/// nobody's (the ids, stages and times that say what theirs mean); never
/// the hiring side's or strangers'.
fn exported(t: &Table) -> Vec<&'static str> {
    t.columns
        .iter()
        .filter(|c| matches!(c.whose, Whose::Candidate | Whose::Nobody))
        .map(|c| c.name)
        .collect()
}

/// The tables of an export: every entry of the map with the candidate's
/// own rows (mentions in others' text are not theirs).
fn export_tables() -> impl Iterator<Item = (&'static Table, &'static str)> {
    MAP.iter().filter_map(|t| match t.rows {
        Rows::Own(w) => Some((t, w)),
        _ => None,
    })
}

/// Everything the map marks as the candidate's, one JSON document:
/// `{"format", "candidate_id", "generated_at", "tables": {table: [row…]}}`,
/// each row an object of the exported columns (times as RFC 3339, bytes as
/// text, JSON text as it was stored).
pub async fn export<C: ConnectionTrait>(
    c: &C,
    who: &Subjects,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let b = c.get_database_backend();
    let mut tables = serde_json::Map::new();
    for (t, template) in export_tables() {
        let cols = exported(t);
        let rows = c
            .query_all_raw(sql(
                b,
                &format!(
                    "SELECT {} FROM {} WHERE {}",
                    cols.join(", "),
                    t.name,
                    who.condition(template)
                ),
                vec![],
            ))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = serde_json::Map::new();
            for (i, col) in cols.iter().enumerate() {
                row.insert(col.to_string(), cell(&r, i));
            }
            out.push(serde_json::Value::Object(row));
        }
        tables.insert(t.name.to_string(), serde_json::Value::Array(out));
    }
    Ok(serde_json::json!({
        "format": EXPORT_FORMAT,
        "candidate_id": who.candidates.first(),
        "generated_at": now,
        "tables": tables,
    }))
}

/// The export's format name and version.
pub const EXPORT_FORMAT: &str = "atsd.candidate-export/1";

/// One value of a row as JSON, whatever the engine stored.
fn cell(r: &sea_orm::QueryResult, i: usize) -> serde_json::Value {
    use serde_json::Value as J;
    // integers first: SQLite would read one as a time
    if let Ok(v) = r.try_get_by_index::<Option<i64>>(i) {
        return v.map_or(J::Null, J::from);
    }
    if let Ok(v) = r.try_get_by_index::<Option<i32>>(i) {
        return v.map_or(J::Null, J::from);
    }
    if let Ok(v) = r.try_get_by_index::<Option<DateTime<Utc>>>(i) {
        return v.map_or(J::Null, |t| J::String(t.to_rfc3339()));
    }
    if let Ok(v) = r.try_get_by_index::<Option<bool>>(i) {
        return v.map_or(J::Null, J::Bool);
    }
    if let Ok(v) = r.try_get_by_index::<Option<String>>(i) {
        return v.map_or(J::Null, J::String);
    }
    if let Ok(v) = r.try_get_by_index::<Option<Vec<u8>>>(i) {
        return v.map_or(J::Null, |b| {
            J::String(String::from_utf8_lossy(&b).into_owned())
        });
    }
    if let Ok(v) = r.try_get_by_index::<Option<f64>>(i) {
        return v.map_or(J::Null, J::from);
    }
    J::Null
}

/// The export's JSON Schema (draft 2020-12), made from the map: each
/// table an array of objects with exactly the exported columns.
/// `schemas/candidate-export.schema.json` is this, checked by a test.
pub fn export_schema() -> serde_json::Value {
    use serde_json::json;
    let scalar = json!({"type": ["string", "integer", "number", "boolean", "null"]});
    let mut tables = serde_json::Map::new();
    let mut names = Vec::new();
    for (t, _) in export_tables() {
        let cols = exported(t);
        let props: serde_json::Map<String, serde_json::Value> = cols
            .iter()
            .map(|c| (c.to_string(), scalar.clone()))
            .collect();
        tables.insert(
            t.name.to_string(),
            json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": props,
                    "required": cols,
                    "additionalProperties": false
                }
            }),
        );
        names.push(t.name);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://atsd.example.org/schemas/candidate-export.schema.json",
        "title": "What atsd holds about a candidate",
        "description": "The answer to a data-subject access request (GDPR Art. 15 and 20): every row the map of personal data (src/store/personal.rs) marks as the candidate's. Made by `atsd candidate export`.",
        "type": "object",
        "required": ["format", "candidate_id", "generated_at", "tables"],
        "additionalProperties": false,
        "properties": {
            "format": {"const": EXPORT_FORMAT},
            "candidate_id": {"type": "integer"},
            "generated_at": {"type": "string", "format": "date-time"},
            "tables": {
                "type": "object",
                "required": names,
                "additionalProperties": false,
                "properties": tables
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_put_the_subjects_in_and_escape_them() {
        let who = Subjects {
            candidates: vec![3],
            applications: vec![5, 6],
            addresses: vec!["o'brien_1@example.net".into()],
            names: vec![],
        };
        assert_eq!(who.condition("id IN ({candidates})"), "id IN (3)");
        assert_eq!(
            who.condition("application_id IN ({applications})"),
            "application_id IN (5,6)"
        );
        assert_eq!(
            who.condition("address IN ({addresses})"),
            "address IN ('o''brien_1@example.net')"
        );
        assert_eq!(
            who.condition("{address_in:body}"),
            "(LOWER(body) LIKE '%o''brien\\_1@example.net%' ESCAPE '\\')"
        );
        assert!(
            who.condition("{candidate_in_data}")
                .contains("data LIKE '%\"candidate_id\":3,%'")
        );
        let nobody = Subjects::default();
        assert_eq!(
            nobody.condition("id IN ({candidates}) OR {address_in:x}"),
            "id IN (NULL) OR 1 = 0"
        );
    }

    #[test]
    fn every_personal_column_of_a_forgotten_table_is_forgotten_or_says_why_not() {
        for t in MAP {
            for col in t.columns {
                if let Keep(why) = col.forget {
                    assert!(!why.is_empty(), "{}.{}", t.name, col.name);
                }
                if matches!(t.rows, Rows::None) {
                    assert!(
                        matches!(col.forget, Keep(_)),
                        "{}.{}: no rows to forget",
                        t.name,
                        col.name
                    );
                }
            }
        }
    }
}
