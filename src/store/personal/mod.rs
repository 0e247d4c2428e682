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

mod map;
use Forget::{Clear, Keep, Redact, Scrub, Set};
pub use map::MAP;
use map::TO_THEM;

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
        "description": "The answer to a data-subject access request (GDPR Art. 15 and 20): every row the map of personal data (src/store/personal/map.rs) marks as the candidate's. Made by `atsd candidate export`.",
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
