//! Bulk intake: posting files (`atsd posting import`) and application CSV
//! (`atsd application import`). Both validate everything first and write in
//! one transaction, so a bad file or row changes nothing; every problem is
//! listed with its file, line or field.

use crate::config::EmailChoice;
use crate::error::{Error, Result};
use crate::posting::file::{self, PostingInput};
use crate::posting::{ApiBases, recognize};
use crate::store::Store;
use crate::store::applications;
use crate::store::candidates::{self, CandidateInput};
use crate::store::people::{self, TeamSpec};
use crate::store::postings::{self, NewPosting, Upserted};
use crate::workflow::{self, Ctx, NewApplication};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Most problems listed before the rest are summarised.
const MAX_LISTED: usize = 200;

fn progress(len: usize, show: bool, what: &str) -> ProgressBar {
    if !show || len < 50 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template(&format!("{what} {{bar:40}} {{pos}}/{{len}} ({{eta}} left)"))
    {
        pb.set_style(style);
    }
    pb
}

fn refuse(mut errs: Vec<String>, what: &str) -> Error {
    let n = errs.len();
    if n > MAX_LISTED {
        errs.truncate(MAX_LISTED);
        errs.push(format!("... and {} more", n - MAX_LISTED));
    }
    Error::input(format!(
        "{what}: {n} problem{} found, nothing was imported:\n  {}",
        if n == 1 { "" } else { "s" },
        errs.join("\n  ")
    ))
}

#[derive(Clone, Debug, Serialize)]
pub struct ImportedPosting {
    pub id: i64,
    pub url: String,
    pub origin: String,
    #[serde(flatten)]
    pub outcome: Upserted,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PostingSummary {
    pub files: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub postings: Vec<ImportedPosting>,
}

/// Turns a file's posting into the row to store, recognising its URL.
pub fn to_new_posting(p: &PostingInput, bases: &ApiBases) -> Result<NewPosting, String> {
    let rec = recognize(&p.url, bases).map_err(|e| format!("{}: field `url`: {e}", p.origin))?;
    let (source, board, external_id) = match &p.source_hint {
        Some((hint, id)) if rec.source != *hint => (hint.to_string(), None, Some(id.clone())),
        _ => (rec.source.to_string(), rec.board, rec.external_id),
    };
    if let Some(a) = &p.apply_url
        && let Err(e) = recognize(a, bases)
    {
        return Err(format!("{}: field `applyUrl`: {e}", p.origin));
    }
    Ok(NewPosting {
        url: rec.url,
        source,
        board,
        external_id,
        title: Some(p.title.clone()),
        company: p.company.clone(),
        location: p.location.clone(),
        description: p.description.clone(),
        apply_url: p.apply_url.clone(),
        posted_at: p.posted_at,
        status: p.status,
        raw: Some(p.raw.clone()),
    })
}

/// A posting file's team, every address checked against the people: an
/// unknown or removed one is an error naming the file and line.
async fn team_of(
    store: &Store,
    origin: &str,
    team: &file::FileTeam,
) -> std::result::Result<TeamSpec, Vec<String>> {
    let mut spec = TeamSpec::default();
    let mut errs = Vec::new();
    for (field, email, line) in &team.members {
        match people::require(store.conn(), email).await {
            Ok(_) => {}
            Err(e) => {
                errs.push(format!("{origin}:{line}: field `{field}`: {e}"));
                continue;
            }
        }
        match *field {
            "recruiter" => spec.recruiter = Some(email.clone()),
            "hiringManagers" => spec.hiring_managers.push(email.clone()),
            _ => spec.coordinators.push(email.clone()),
        }
    }
    if errs.is_empty() { Ok(spec) } else { Err(errs) }
}

/// `atsd posting import PATH...`
// Stays whole: one file's rows checked and written in order in one transaction, with the progress and the report.
pub async fn postings(
    store: &Store,
    paths: &[PathBuf],
    bases: &ApiBases,
    now: DateTime<Utc>,
    show_progress: bool,
) -> Result<PostingSummary> {
    let files = file::collect(paths).map_err(Error::Input)?;
    if files.is_empty() {
        return Err(Error::input(format!(
            "no posting files found in {} (looked for .{})",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            file::EXTENSIONS.join(", .")
        )));
    }
    let pb = progress(files.len(), show_progress, "reading");
    let mut errs = Vec::new();
    let mut rows: Vec<(String, NewPosting, Option<TeamSpec>)> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for f in &files {
        pb.inc(1);
        let text = match std::fs::read(f) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(e) => {
                    errs.push(format!(
                        "{}: not UTF-8 text (byte {})",
                        f.display(),
                        e.utf8_error().valid_up_to()
                    ));
                    continue;
                }
            },
            Err(e) => {
                errs.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        match file::parse(f, &text) {
            Ok(inputs) => {
                for i in inputs {
                    match to_new_posting(&i, bases) {
                        Ok(np) => {
                            if let Some(first) = seen.insert(np.url.clone(), i.origin.clone()) {
                                errs.push(format!(
                                    "{}: URL {} is also in {first}",
                                    i.origin, np.url
                                ));
                            }
                            let team = match &i.team {
                                Some(t) => match team_of(store, &i.origin, t).await {
                                    Ok(spec) => Some(spec),
                                    Err(mut e) => {
                                        errs.append(&mut e);
                                        None
                                    }
                                },
                                None => None,
                            };
                            rows.push((i.origin.clone(), np, team));
                        }
                        Err(e) => errs.push(e),
                    }
                }
            }
            Err(e) => errs.push(e),
        }
    }
    pb.finish_and_clear();
    if !errs.is_empty() {
        return Err(refuse(errs, "posting import"));
    }
    let pb = progress(rows.len(), show_progress, "importing");
    let txn = store.begin_write().await?;
    let mut summary = PostingSummary {
        files: files.len(),
        ..Default::default()
    };
    for (origin, np, team) in rows {
        pb.inc(1);
        let (m, outcome) = postings::upsert(&txn, &np, "import", now).await?;
        // `published: true|false` in the front matter
        if let Some(on) = np.raw.as_ref().and_then(crate::careers::front_published)
            && on != m.published_at.is_some()
        {
            crate::store::careers::set_published(&txn, m.id, on, now).await?;
        }
        if let Some(team) = &team {
            people::set_team(&txn, m.id, team, now).await?;
        }
        match &outcome {
            Upserted::Created => summary.created += 1,
            Upserted::Updated(_) => summary.updated += 1,
            Upserted::Unchanged => summary.unchanged += 1,
        }
        summary.postings.push(ImportedPosting {
            id: m.id,
            url: m.url,
            origin,
            outcome,
        });
    }
    txn.commit().await?;
    pb.finish_and_clear();
    Ok(summary)
}

/// One data row of an application CSV, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsvRow {
    pub line: u64,
    pub posting: String,
    pub name: String,
    pub email: String,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub stage: Option<String>,
    pub applied_at: Option<String>,
}

pub const CSV_COLUMNS: [&str; 7] = [
    "posting",
    "name",
    "email",
    "locale",
    "timezone",
    "stage",
    "applied_at",
];

/// The most unreadable lines of a CSV named one by one; the rest are
/// counted.
pub const MAX_ERRORS: usize = 100;

/// Reads the CSV (header `posting,name,email[,locale,timezone,stage,applied_at]`).
/// Pure; every problem is returned with its line.
pub fn parse_csv(origin: &str, text: &str) -> Result<Vec<CsvRow>, Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The csv crate's line numbers skip blank lines; count from the byte
    // offset, going on from the last record's (positions only grow), so
    // that a file is counted once however many records it holds.
    let mut counted = (0usize, 1u64);
    let mut line_at = |byte: u64| -> u64 {
        let end = (byte as usize).min(text.len());
        let (from, lines) = if end >= counted.0 { counted } else { (0, 1) };
        let lines = lines
            + text.as_bytes()[from..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
        counted = (end, lines);
        // a record starts after any blank lines the reader skipped
        let skipped = text.as_bytes()[end..]
            .iter()
            .take_while(|b| **b == b'\n' || **b == b'\r')
            .filter(|b| **b == b'\n')
            .count();
        lines + skipped as u64
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .map_err(|e| vec![format!("{origin}: line 1: cannot read the header: {e}")])?
        .clone();
    let mut idx: HashMap<&str, usize> = HashMap::new();
    let mut errs = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        match CSV_COLUMNS.iter().find(|c| **c == h) {
            Some(c) => {
                if idx.insert(c, i).is_some() {
                    errs.push(format!("{origin}: line 1: column `{c}` appears twice"));
                }
            }
            None => errs.push(format!(
                "{origin}: line 1: unknown column `{h}` (columns: {})",
                CSV_COLUMNS.join(",")
            )),
        }
    }
    for req in ["posting", "name", "email"] {
        if !idx.contains_key(req) {
            errs.push(format!(
                "{origin}: line 1: the header lacks the column `{req}`"
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut rows = Vec::new();
    let mut more_errors = 0u64;
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_at(p.byte())).unwrap_or(0);
                if errs.len() < MAX_ERRORS {
                    errs.push(format!("{origin}: line {line}: {e}"));
                } else {
                    more_errors += 1;
                }
                continue;
            }
        };
        let line = rec.position().map(|p| line_at(p.byte())).unwrap_or(0);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let get = |c: &str| idx.get(c).and_then(|i| rec.get(*i)).map(str::to_string);
        let opt = |c: &str| get(c).filter(|s| !s.is_empty());
        rows.push(CsvRow {
            line,
            posting: get("posting").unwrap_or_default(),
            name: get("name").unwrap_or_default(),
            email: get("email").unwrap_or_default(),
            locale: opt("locale"),
            timezone: opt("timezone"),
            stage: opt("stage"),
            applied_at: opt("applied_at"),
        });
    }
    if more_errors > 0 {
        errs.push(format!(
            "{origin}: and {more_errors} more line(s) that cannot be read"
        ));
    }
    if errs.is_empty() { Ok(rows) } else { Err(errs) }
}

/// `2026-03-01` (midnight UTC) or an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| format!("`{s}` is not a date (2026-03-01) or an RFC 3339 time"))
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ApplicationSummary {
    pub rows: usize,
    pub candidates_created: usize,
    pub applications: Vec<i64>,
    pub emails_queued: usize,
}

/// `atsd application import FILE.csv`: validates every row, then imports all
/// of them in one transaction (or nothing).
// Stays whole: one file's rows checked and written in order in one transaction, with the progress and the report.
pub async fn applications(
    store: &Store,
    ctx: &Ctx<'_>,
    path: &std::path::Path,
    actor: &str,
    send_emails: bool,
    show_progress: bool,
) -> Result<ApplicationSummary> {
    let origin = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(format!("cannot read {origin}"), e))?;
    let rows = parse_csv(&origin, &text).map_err(|e| refuse(e, "application import"))?;
    if rows.is_empty() {
        return Err(Error::input(format!(
            "{origin}: no data rows after the header"
        )));
    }

    // Validate every row against the pipeline and the database before writing.
    let mut errs = Vec::new();
    let mut posting_cache: HashMap<String, Result<entity::posting::Model, String>> = HashMap::new();
    let mut pairs: HashMap<(String, i64), u64> = HashMap::new();
    struct Valid {
        input: CandidateInput,
        posting: entity::posting::Model,
        stage: Option<String>,
        applied_at: Option<DateTime<Utc>>,
    }
    let mut valid = Vec::with_capacity(rows.len());
    let pb = progress(rows.len(), show_progress, "checking");
    for r in &rows {
        pb.inc(1);
        let at = |field: &str, msg: &str| format!("{origin}: line {}: {field}: {msg}", r.line);
        let mut row_ok = true;
        let input = match CandidateInput::parse(
            &r.name,
            &r.email,
            r.locale.as_deref(),
            r.timezone.as_deref(),
        ) {
            Ok(i) => Some(i),
            Err(es) => {
                for (field, e) in es {
                    errs.push(at(field, &e));
                }
                row_ok = false;
                None
            }
        };
        let posting = if r.posting.is_empty() {
            errs.push(at("posting", "empty: give a posting id or URL"));
            None
        } else {
            let key = r.posting.clone();
            if !posting_cache.contains_key(&key) {
                let res = postings::find(store.conn(), &key)
                    .await
                    .map_err(|e| e.to_string());
                posting_cache.insert(key.clone(), res);
            }
            match &posting_cache[&key] {
                Ok(p) => Some(p.clone()),
                Err(e) => {
                    errs.push(at("posting", e));
                    None
                }
            }
        };
        if let Some(s) = &r.stage
            && !ctx.pipeline().contains(s)
        {
            errs.push(at(
                "stage",
                &format!(
                    "unknown stage `{s}` (stages: {})",
                    ctx.pipeline().stages().collect::<Vec<_>>().join(", ")
                ),
            ));
            row_ok = false;
        }
        let applied_at = match r.applied_at.as_deref().map(parse_time) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                errs.push(at("applied_at", &e));
                row_ok = false;
                None
            }
            None => None,
        };
        let (Some(input), Some(posting)) = (input, posting) else {
            continue;
        };
        let key = (crate::candidate_fields::email_key(&input.email), posting.id);
        if let Some(first) = pairs.insert(key, r.line) {
            errs.push(at(
                "email",
                &format!(
                    "{} applies to posting {} twice (also line {first})",
                    input.email, posting.id
                ),
            ));
            continue;
        }
        if let Some(c) = candidates::find_by_email(store.conn(), &input.email).await? {
            if c.anonymized_at.is_some() {
                errs.push(at("email", &format!("candidate {} was anonymized", c.id)));
                continue;
            }
            if applications::find_for(store.conn(), c.id, posting.id)
                .await?
                .is_some()
            {
                errs.push(at(
                    "email",
                    &format!(
                        "{} has already applied to posting {}",
                        input.email, posting.id
                    ),
                ));
                continue;
            }
        }
        if row_ok {
            valid.push(Valid {
                input,
                posting,
                stage: r.stage.clone(),
                applied_at,
            });
        }
    }
    pb.finish_and_clear();
    if !errs.is_empty() {
        return Err(refuse(errs, &format!("application import of {origin}")));
    }

    let pb = progress(valid.len(), show_progress, "importing");
    let txn = store.begin_write().await?;
    let mut summary = ApplicationSummary {
        rows: valid.len(),
        ..Default::default()
    };
    let mut new_candidates = HashSet::new();
    for v in valid {
        pb.inc(1);
        let existed = candidates::find_by_email(&txn, &v.input.email)
            .await?
            .is_some();
        let cand = candidates::find_or_create(&txn, &v.input, ctx.now()).await?;
        if !existed {
            new_candidates.insert(cand.id);
        }
        let created = workflow::create_in(
            &txn,
            ctx,
            &v.posting,
            &cand,
            &NewApplication {
                stage: v.stage,
                applied_at: v.applied_at,
                actor: actor.to_string(),
                reason: Some("imported".into()),
                email: if send_emails {
                    EmailChoice::StageDefault
                } else {
                    EmailChoice::None
                },
            },
        )
        .await?;
        summary.emails_queued += created.emails.len();
        summary.applications.push(created.application.id);
    }
    txn.commit().await?;
    pb.finish_and_clear();
    summary.candidates_created = new_candidates.len();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_their_line_numbers() {
        let rows = parse_csv(
            "a.csv",
            "posting,name,email,locale\n1,Ada,ada@example.org,de-CH\n\n2,\"Lovelace, Ada\",l@example.org,\n3,\"Multi\nLine\",m@example.org,\n4,Last,z@example.org,\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[3].line, 7);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].locale.as_deref(), Some("de-CH"));
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].name, "Lovelace, Ada");
        assert_eq!(rows[1].locale, None);
    }

    #[test]
    fn csv_header_problems_are_named() {
        let e = parse_csv("a.csv", "posting,name,mail\n").unwrap_err();
        assert!(
            e.iter().any(|m| m.contains("unknown column `mail`")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("lacks the column `email`")),
            "{e:?}"
        );
        let e = parse_csv("a.csv", "posting,name,email\n1,A,a@b.org,extra\n").unwrap_err();
        assert!(e[0].contains("line 2"), "{e:?}");
    }

    proptest::proptest! {
        #[test]
        fn csv_parsing_never_panics(body in "\\PC{0,300}") {
            let _ = parse_csv("a.csv", &format!("posting,name,email\n{body}"));
            let _ = parse_csv("a.csv", &body);
        }

        /// Adversarial files — quotes that never close, lines of the
        /// wrong width, runs of blank lines, repeated many times —: no
        /// panic, at most [`MAX_ERRORS`] lines named (then a count), and
        /// each line number the one counted from the file's start, as the
        /// first (quadratic) counter did.
        #[test]
        fn adversarial_csv_is_counted_once_and_numbered_right(
            units in proptest::collection::vec(
                proptest::sample::select(vec!["1,a,b\n", "1,a\n", "\"", "\"\"", ",", "\n", "\r\n", "\n\n", "x"]),
                0..400,
            ),
            times in 1usize..40,
        ) {
            let body: String = units.concat().repeat(times);
            let text = format!("posting,name,email\n{body}");
            match parse_csv("a.csv", &text) {
                Ok(rows) => {
                    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
                    proptest::prop_assert_eq!(lines, lines_from_start(&text));
                }
                Err(errs) => {
                    proptest::prop_assert!(errs.len() <= MAX_ERRORS + 1, "{}", errs.len());
                    for e in &errs {
                        proptest::prop_assert!(e.starts_with("a.csv: "), "{e}");
                    }
                }
            }
        }
    }

    /// The rows' lines as the first counter gave them: each counted from
    /// the file's start (quadratic, but right).
    fn lines_from_start(text: &str) -> Vec<u64> {
        let line_at = |byte: u64| -> u64 {
            let end = (byte as usize).min(text.len());
            let skipped = text.as_bytes()[end..]
                .iter()
                .take_while(|b| **b == b'\n' || **b == b'\r')
                .filter(|b| **b == b'\n')
                .count();
            text.as_bytes()[..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64
                + 1
                + skipped as u64
        };
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(false)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        rdr.records()
            .filter_map(|r| r.ok())
            .filter(|r| !r.iter().all(str::is_empty))
            .map(|r| r.position().map(|p| line_at(p.byte())).unwrap_or(0))
            .collect()
    }

    #[test]
    fn line_numbers_count_on_across_blank_lines_and_quoted_breaks() {
        let text = "posting,name,email\n1,a,b\n\n\n1,\"x\ny\",c\n1,d,e\n";
        let rows = parse_csv("a.csv", text).expect("readable");
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 5, 7]);
        // many bad lines: the first 100 named, the rest counted
        let bad = format!("posting,name,email\n{}", "1,a\n".repeat(250));
        let errs = parse_csv("a.csv", &bad).expect_err("bad lines");
        assert_eq!(errs.len(), MAX_ERRORS + 1);
        assert!(errs[0].contains("line 2"), "{}", errs[0]);
        assert_eq!(
            errs[MAX_ERRORS],
            "a.csv: and 150 more line(s) that cannot be read"
        );
    }

    #[test]
    fn times_accept_dates_and_rfc3339() {
        assert_eq!(
            parse_time("2026-03-01").unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-03-01T10:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-03-01T08:00:00+00:00"
        );
        assert!(parse_time("March 1st").is_err());
    }
}
