//! Posting files: Markdown (or `.txt`) with a YAML front matter, and
//! Greenhouse job JSON (one job, or `{"jobs": [...]}`). Pure: text in,
//! postings out; every error names the file and the line or field at fault.

use super::Source;
use super::Status;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};

/// One posting read from a file, before it is matched against the database.
#[derive(Clone, Debug, PartialEq)]
pub struct PostingInput {
    /// `path` or `path#jobs[3]`: where it came from, for messages.
    pub origin: String,
    pub url: String,
    pub title: String,
    pub company: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub apply_url: Option<String>,
    pub posted_at: Option<DateTime<Utc>>,
    /// `Some(Closed)` when the file says the posting is archived.
    pub status: Option<Status>,
    /// For Greenhouse JSON: the source and job id, which the URL (a company
    /// careers page) may not tell.
    pub source_hint: Option<(Source, String)>,
    /// Everything the file said, for `posting show`.
    pub raw: Json,
    /// The hiring team the front matter names (`recruiter:`,
    /// `hiringManagers:`, `coordinators:`), if any.
    pub team: Option<FileTeam>,
}

/// A posting file's team: who, by role, and where each address was written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileTeam {
    /// `(field, address, line)`, in the file's order.
    pub members: Vec<(&'static str, String, usize)>,
}

/// The front matter's team fields: a recruiter (one address) and lists of
/// hiring managers and coordinators (a list, or one address); each address
/// with the line it is on.
fn team_fields(
    name: &str,
    text: &str,
    map: &Map<String, Json>,
) -> Result<Option<FileTeam>, String> {
    let mut team = FileTeam::default();
    for key in ["recruiter", "hiringManagers", "coordinators"] {
        let values: Vec<&str> = match map.get(key) {
            None | Some(Json::Null) => continue,
            Some(Json::String(s)) => vec![s.as_str()],
            Some(Json::Array(items)) if key != "recruiter" => {
                let mut v = Vec::new();
                for i in items {
                    match i {
                        Json::String(s) => v.push(s.as_str()),
                        other => {
                            return Err(format!(
                                "{name}:{}: field `{key}`: expected email addresses, got {}",
                                line_of(text, key, None),
                                describe(other)
                            ));
                        }
                    }
                }
                v
            }
            Some(other) => {
                return Err(format!(
                    "{name}:{}: field `{key}`: expected {}, got {}",
                    line_of(text, key, None),
                    if key == "recruiter" {
                        "one email address"
                    } else {
                        "a list of email addresses"
                    },
                    describe(other)
                ));
            }
        };
        for v in values {
            let line = line_of(text, key, Some(v));
            let email = crate::candidate_fields::email(v)
                .map_err(|e| format!("{name}:{line}: field `{key}`: {e}"))?;
            team.members.push((key, email, line));
        }
    }
    Ok((!team.members.is_empty()).then_some(team))
}

/// The line (1-based) where the front matter's `key` is written, or the
/// first line from there on that holds `value`.
fn line_of(text: &str, key: &str, value: Option<&str>) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        .unwrap_or(0);
    match value {
        None => start + 1,
        Some(v) => lines
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, l)| l.contains(v.trim()))
            .map(|(i, _)| i + 1)
            .unwrap_or(start + 1),
    }
}

/// Extensions imported from a folder.
pub const EXTENSIONS: [&str; 4] = ["md", "markdown", "txt", "json"];

/// The files `paths` name: files as given, folders walked recursively
/// (hidden entries skipped, only [`EXTENSIONS`]), in a stable order.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            for entry in walkdir::WalkDir::new(p)
                .follow_links(true)
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                })
            {
                let entry = entry.map_err(|e| format!("{}: {e}", p.display()))?;
                let ext = entry
                    .path()
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase);
                if entry.file_type().is_file()
                    && ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
                {
                    found.push(entry.into_path());
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Reads one file's postings.
pub fn parse(path: &Path, text: &str) -> Result<Vec<PostingInput>, String> {
    let name = path.display().to_string();
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let start = body.trim_start();
    if start.starts_with("---") {
        parse_front_matter(&name, body).map(|p| vec![p])
    } else if start.starts_with('{') || start.starts_with('[') {
        parse_greenhouse_json(&name, body)
    } else if start.is_empty() {
        Err(format!("{name}: the file is empty"))
    } else {
        Err(format!(
            "{name}: not a posting file: expected a YAML front matter starting with `---` or Greenhouse job JSON"
        ))
    }
}

/// The biggest front matter read (a posting's is a few hundred bytes).
pub const FRONT_MATTER_MAX: usize = 64 * 1024;
/// The deepest `[`/`{` nesting a front matter may have.
pub const FLOW_DEPTH_MAX: usize = 32;

/// What the YAML reader would take long over, refused in one pass before
/// it reads anything: a front matter over [`FRONT_MATTER_MAX`], flow
/// collections nested deeper than [`FLOW_DEPTH_MAX`] (64 KiB of `[` took the
/// reader 7 s), and aliases (`*name`: each may stand for all that its
/// anchor holds, expanded again and again; a posting has no use for them).
fn guard_front_matter(name: &str, yaml: &str) -> Result<(), String> {
    if yaml.len() > FRONT_MATTER_MAX {
        return Err(format!(
            "{name}: the front matter is {} KiB; at most {} KiB is read",
            yaml.len().div_ceil(1024),
            FRONT_MATTER_MAX / 1024
        ));
    }
    // flow collections may span lines: the depth goes on from line to line
    let mut depth = 0usize;
    for (n, line) in yaml.lines().enumerate() {
        // the YAML starts on the file's second line
        let at = n + 2;
        let (mut quote, mut prev) = (None::<char>, ' ');
        // the last character that was not a space, and how many there were
        let (mut last, mut seen) = (None::<char>, 0usize);
        let mut chars = line.chars().peekable();
        while let Some(ch) = chars.next() {
            match (quote, ch) {
                (Some('"'), '\\') => {
                    chars.next();
                }
                (Some(q), ch) if ch == q => quote = None,
                (Some(_), _) => {}
                (None, '#') if prev == ' ' => break,
                (None, '"' | '\'') if matches!(prev, ' ' | '[' | '{' | ',' | ':') => {
                    quote = Some(ch)
                }
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > FLOW_DEPTH_MAX {
                        return Err(format!(
                            "{name}:{at}: invalid front matter: lists or mappings nested more than {FLOW_DEPTH_MAX} deep"
                        ));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                (None, '*') => {
                    // an alias starts a node: first on its line, after `: `,
                    // after a list's `- `, or inside `[…]`/`{…}`
                    let node_start = match last {
                        None => true,
                        Some(':') | Some('-') => prev == ' ' && (last == Some(':') || seen == 1),
                        Some('[') | Some('{') => true,
                        Some(',') => depth > 0,
                        _ => false,
                    };
                    if node_start
                        && chars
                            .peek()
                            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                    {
                        return Err(format!(
                            "{name}:{at}: invalid front matter: aliases (`*name`) are not read in a posting's front matter; write the value out"
                        ));
                    }
                }
                _ => {}
            }
            if !ch.is_whitespace() {
                last = Some(ch);
                seen += 1;
            }
            prev = ch;
        }
    }
    Ok(())
}

fn yaml_to_json(v: &serde_norway::Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

/// Markdown with a YAML front matter between two `---` lines; the rest is the description.
// Stays whole: one check per front-matter field, each naming the file, line and field.
fn parse_front_matter(name: &str, text: &str) -> Result<PostingInput, String> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() != "---" {
        return Err(format!(
            "{name}:1: the front matter must open with a line `---`"
        ));
    }
    let mut yaml = String::new();
    let mut closed = false;
    let mut consumed = first.len();
    for line in lines.by_ref() {
        consumed += line.len();
        if line.trim_end() == "---" || line.trim_end() == "..." {
            closed = true;
            break;
        }
        yaml.push_str(line);
    }
    if !closed {
        return Err(format!(
            "{name}: the front matter opened on line 1 is never closed with `---`"
        ));
    }
    let description = text[consumed..].trim();
    guard_front_matter(name, &yaml)?;
    let value: serde_norway::Value =
        serde_norway::from_str(&yaml).map_err(|e| match e.location() {
            // the YAML starts on the file's second line
            Some(loc) => format!("{name}:{}: invalid front matter: {e}", loc.line() + 1),
            None => format!("{name}: invalid front matter: {e}"),
        })?;
    let raw = yaml_to_json(&value);
    let Json::Object(map) = raw.clone() else {
        return Err(format!(
            "{name}: the front matter must be a mapping of keys to values"
        ));
    };
    let f = Fields { name, map: &map };
    let title = f.req_str("title")?;
    let url = f.req_str("url")?;
    let posted_at = match map.get("timestamp") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) => {
            let ms = n.as_i64().ok_or_else(|| {
                f.bad(
                    "timestamp",
                    "milliseconds since 1970 as a whole number",
                    &Json::Number(n.clone()),
                )
            })?;
            Some(
                Utc.timestamp_millis_opt(ms)
                    .single()
                    .ok_or_else(|| format!("{name}: field `timestamp`: {ms} is out of range"))?,
            )
        }
        Some(other) => {
            return Err(f.bad("timestamp", "milliseconds since 1970 as a number", other));
        }
    };
    let archived = match map.get("archived") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Json::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => false,
        Some(other) => return Err(f.bad("archived", "\"true\" or \"false\"", other)),
    };
    if let Some(v) = map.get("featured")
        && !(v.is_number() || v.is_null())
    {
        return Err(f.bad("featured", "a number", v));
    }
    let team = team_fields(name, text, &map)?;
    crate::careers::check_front_matter(&raw).map_err(|e| format!("{name}: {e}"))?;
    crate::interviews::scorecard::Scorecard::from_front_matter(&raw)
        .map_err(|e| format!("{name}: {e}"))?;
    for key in [
        "hashtags",
        "jobType",
        "summary",
        "summaryBackup",
        "host",
        "companyWebsite",
    ] {
        f.opt_str(key)?;
    }
    Ok(PostingInput {
        origin: name.to_string(),
        url,
        title,
        company: f.opt_str("companyName")?,
        location: f.opt_str("location")?,
        description: (!description.is_empty()).then(|| description.to_string()),
        apply_url: f.opt_str("applyUrl")?,
        posted_at,
        status: archived.then_some(Status::Closed),
        source_hint: None,
        raw,
        team,
    })
}

struct Fields<'a> {
    name: &'a str,
    map: &'a Map<String, Json>,
}

/// What kind of JSON value `v` is, for error messages.
pub(crate) fn describe(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("the boolean {b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the text {s:?}"),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "a mapping".into(),
    }
}

impl Fields<'_> {
    fn bad(&self, key: &str, expected: &str, got: &Json) -> String {
        format!(
            "{}: field `{key}`: expected {expected}, got {}",
            self.name,
            describe(got)
        )
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, String> {
        match self.map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Some(other) => Err(self.bad(key, "text", other)),
        }
    }

    fn req_str(&self, key: &str) -> Result<String, String> {
        self.opt_str(key)?
            .ok_or_else(|| format!("{}: field `{key}` is missing or empty", self.name))
    }
}

/// Greenhouse's `content` is HTML with its tags escaped as entities; decode
/// once (only when it is escaped), then it is untrusted HTML.
pub fn decode_greenhouse_content(s: &str) -> String {
    if s.contains("&lt;") {
        html_escape::decode_html_entities(s).into_owned()
    } else {
        s.to_string()
    }
}

fn parse_greenhouse_json(name: &str, text: &str) -> Result<Vec<PostingInput>, String> {
    let doc: Json = serde_json::from_str(text)
        .map_err(|e| format!("{name}:{}:{}: invalid JSON: {e}", e.line(), e.column()))?;
    match &doc {
        Json::Object(m) if m.contains_key("jobs") => match m.get("jobs") {
            Some(Json::Array(jobs)) => jobs
                .iter()
                .enumerate()
                .map(|(i, j)| greenhouse_job(&format!("{name}#jobs[{i}]"), j))
                .collect(),
            Some(other) => Err(format!(
                "{name}: field `jobs`: expected a list of jobs, got {}",
                describe(other)
            )),
            None => unreachable!("checked above"),
        },
        Json::Object(_) => greenhouse_job(name, &doc).map(|p| vec![p]),
        other => Err(format!(
            "{name}: expected a Greenhouse job object or {{\"jobs\": [...]}}, got {}",
            describe(other)
        )),
    }
}

fn greenhouse_job(name: &str, job: &Json) -> Result<PostingInput, String> {
    let Json::Object(map) = job else {
        return Err(format!(
            "{name}: expected a job object, got {}",
            describe(job)
        ));
    };
    let f = Fields { name, map };
    let id = match map.get("id") {
        Some(Json::Number(n)) if n.is_u64() => n.to_string(),
        Some(Json::String(s)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => {
            s.clone()
        }
        Some(other) => return Err(f.bad("id", "a numeric job id", other)),
        None => return Err(format!("{name}: field `id` is missing")),
    };
    let title = f.req_str("title")?;
    let url = f.req_str("absolute_url")?;
    let location = match map.get("location") {
        None | Some(Json::Null) => None,
        Some(Json::Object(l)) => match l.get("name") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Some(other) => return Err(f.bad("location.name", "text", other)),
        },
        Some(other) => return Err(f.bad("location", "an object with a name", other)),
    };
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
        match f.opt_str(key)? {
            None => Ok(None),
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(|d| Some(d.with_timezone(&Utc)))
                .map_err(|e| format!("{name}: field `{key}`: `{s}` is not an RFC 3339 time ({e})")),
        }
    };
    let posted_at = time("first_published")?;
    time("updated_at")?;
    Ok(PostingInput {
        origin: name.to_string(),
        url,
        title,
        company: f.opt_str("company_name")?,
        location,
        description: f.opt_str("content")?.map(|c| decode_greenhouse_content(&c)),
        apply_url: None,
        posted_at,
        status: None,
        source_hint: Some((Source::Greenhouse, id)),
        raw: job.clone(),
        team: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_LIKE: &str = r##"---
title: "Systems Architect, Data"
location: "Remote"
host: "https://boards.greenhouse.io/wikimedia"
companyName: "Wikimedia Foundation"
url: "https://boards.greenhouse.io/wikimedia/jobs/2976623"
applyUrl: "https://boards.greenhouse.io/wikimedia/jobs/2976623#app"
timestamp: 1616716800000
hashtags: "#ui/ux,#kafka"
jobType: "other"

companyWebsite: "https://boards.greenhouse.io/wikimedia"
summary: "If you have experience..."
featured: 17
archived: "true"
---

## Systems Architect, Data

Body text.
"##;

    fn p(text: &str) -> Result<Vec<PostingInput>, String> {
        parse(Path::new("x.md"), text)
    }

    #[test]
    fn front_matter_like_the_seed() {
        let v = p(SEED_LIKE).unwrap();
        let j = &v[0];
        assert_eq!(j.title, "Systems Architect, Data");
        assert_eq!(j.company.as_deref(), Some("Wikimedia Foundation"));
        assert_eq!(j.location.as_deref(), Some("Remote"));
        assert_eq!(
            j.posted_at.unwrap().to_rfc3339(),
            "2021-03-26T00:00:00+00:00"
        );
        assert_eq!(j.status, Some(Status::Closed));
        assert!(
            j.description
                .as_deref()
                .unwrap()
                .starts_with("## Systems Architect")
        );
        assert_eq!(j.raw["featured"], 17);
    }

    #[test]
    fn field_errors_name_file_and_field() {
        let e = p(&SEED_LIKE.replace("timestamp: 1616716800000", "timestamp: \"yesterday\""))
            .unwrap_err();
        assert!(e.starts_with("x.md: field `timestamp`"), "{e}");
        let e = p(&SEED_LIKE.replace("archived: \"true\"", "archived: \"maybe\"")).unwrap_err();
        assert!(e.contains("field `archived`") && e.contains("maybe"), "{e}");
        let e = p(&SEED_LIKE.replace("title: \"Systems Architect, Data\"\n", "")).unwrap_err();
        assert!(e.contains("field `title` is missing"), "{e}");
        let e = p(&SEED_LIKE.replace("featured: 17", "featured: [1]")).unwrap_err();
        assert!(e.contains("field `featured`"), "{e}");
    }

    #[test]
    fn yaml_syntax_errors_name_the_file_line() {
        let e = p("---\ntitle: \"x\"\nurl: [unclosed\n---\n").unwrap_err();
        assert!(e.starts_with("x.md:"), "{e}");
        let line: u32 = e.split(':').nth(1).unwrap().parse().unwrap();
        assert!((3..=5).contains(&line), "{e}");
        let e = p("---\ntitle: x\n").unwrap_err();
        assert!(e.contains("never closed"), "{e}");
    }

    #[test]
    fn not_archived_leaves_status_to_the_poller() {
        let v = p(&SEED_LIKE.replace("archived: \"true\"", "archived: \"false\"")).unwrap();
        assert_eq!(v[0].status, None);
    }

    #[test]
    fn greenhouse_single_job_and_list() {
        let job = r#"{"id": 4012345, "internal_job_id": null, "title": "Data Engineer",
            "updated_at": "2024-03-01T10:00:00-05:00", "first_published": "2024-02-01T09:00:00-05:00",
            "requisition_id": null, "location": {"name": "Berlin"},
            "absolute_url": "https://boards.greenhouse.io/acme/jobs/4012345",
            "company_name": "Acme", "metadata": null,
            "content": "&lt;p&gt;Hello &amp;amp; welcome&lt;/p&gt;", "extra": 1}"#;
        let v = parse(Path::new("j.json"), job).unwrap();
        assert_eq!(v[0].title, "Data Engineer");
        assert_eq!(
            v[0].posted_at.unwrap().to_rfc3339(),
            "2024-02-01T14:00:00+00:00"
        );
        assert_eq!(
            v[0].description.as_deref(),
            Some("<p>Hello &amp; welcome</p>")
        );
        assert_eq!(
            v[0].source_hint,
            Some((Source::Greenhouse, "4012345".into()))
        );
        let list = format!("{{\"jobs\": [{job}, {job}], \"meta\": {{\"total\": 2}}}}");
        assert_eq!(parse(Path::new("l.json"), &list).unwrap().len(), 2);
    }

    #[test]
    fn greenhouse_errors_name_the_job_and_field() {
        let e = parse(Path::new("l.json"), r#"{"jobs": [{"id": 1, "title": "A", "absolute_url": "https://x.org/1"}, {"id": "abc", "title": "B"}]}"#).unwrap_err();
        assert!(e.starts_with("l.json#jobs[1]: field `id`"), "{e}");
        let e = parse(Path::new("l.json"), r#"{"jobs": "bad"}"#).unwrap_err();
        assert!(e.contains("field `jobs`"), "{e}");
        let e = parse(Path::new("t.json"), "{\"id\": 1,\n \"title\": ").unwrap_err();
        assert!(e.starts_with("t.json:2:"), "{e}");
        let e = parse(Path::new("t.json"), "{}").unwrap_err();
        assert!(e.contains("field `id` is missing"), "{e}");
    }

    proptest::proptest! {
        /// Bad input is an error, never a panic.
        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC{0,200}") {
            let _ = parse(Path::new("f.md"), &s);
            let _ = parse(Path::new("f.md"), &format!("---\n{s}\n---\n"));
            let _ = parse(Path::new("f.json"), &format!("{{\"jobs\": [{s}]}}"));
        }

        /// Adversarial front matter and job JSON — anchors and aliases of
        /// aliases, flow collections inside each other, escapes — repeated
        /// many times: an error naming the file or postings, never a panic
        /// nor an expansion without end (the YAML reader refuses past its
        /// recursion and repetition limits).
        #[test]
        fn adversarial_posting_files_are_refused_or_read(
            units in proptest::collection::vec(
                proptest::sample::select(vec!["[", "{", "&a ", "*a", ", ", ": ", "- ", "\n", "\\u00e9", "\"", "'", "&lt;", "x"]),
                0..300,
            ),
            times in 1usize..60,
        ) {
            let body: String = units.concat().repeat(times);
            for text in [
                format!("---\ntitle: t\nurl: https://example.org/j\nx: {body}\n---\n"),
                format!("{{\"jobs\": [{body}]}}"),
                format!("{{\"id\": 1, \"title\": \"t\", \"absolute_url\": \"https://example.org/j\", \"content\": \"{body}\"}}"),
            ] {
                if let Err(e) = parse(Path::new("f.md"), &text) {
                    proptest::prop_assert!(e.starts_with("f.md"), "{e}");
                }
            }
        }

        #[test]
        fn any_timestamp_and_archived_value_is_handled(ts in proptest::num::i64::ANY, archived in "\\PC{0,8}") {
            let text = format!("---\ntitle: t\nurl: https://example.org/j\ntimestamp: {ts}\narchived: {archived:?}\n---\n");
            let _ = parse(Path::new("f.md"), &text);
        }
    }

    #[test]
    fn front_matter_the_yaml_reader_would_take_long_over_is_refused_naming_the_line() {
        let fm = |yaml: &str| {
            parse(
                Path::new("f.md"),
                &format!("---\ntitle: t\nurl: https://example.org/j\n{yaml}\n---\n"),
            )
        };
        let e = fm(&format!("x: {}", "[".repeat(40))).expect_err("deep");
        assert!(
            e.starts_with("f.md:4: invalid front matter: lists or mappings nested more than 32"),
            "{e}"
        );
        let e = fm(&"x: [\n".repeat(40)).expect_err("deep over lines");
        assert!(e.contains("nested more than 32"), "{e}");
        let e = fm("a: &a [x, x]\nb: [*a, *a]").expect_err("aliases");
        assert!(
            e.starts_with("f.md:5: invalid front matter: aliases"),
            "{e}"
        );
        let e = fm("a: &a x\nb: *a").expect_err("an alias value");
        assert!(e.contains("aliases"), "{e}");
        let e = fm(&format!("x: \"{}\"", "a".repeat(70 * 1024))).expect_err("big");
        assert!(e.contains("at most 64 KiB"), "{e}");
        // stars and brackets in text are text
        let ok =
            fm("location: \"[remote] *anywhere*\"\ncompanyName: Senior *Rust* - *crab* [team], x")
                .expect("text");
        assert_eq!(ok.len(), 1);
        let ok = fm("tags: [a, [b, c], {d: e}]  # a comment with *star and [[[[").expect("flow");
        assert_eq!(ok.len(), 1);
    }

    #[test]
    fn raw_content_is_not_decoded_twice() {
        assert_eq!(
            decode_greenhouse_content("<p>a &amp; b</p>"),
            "<p>a &amp; b</p>"
        );
        assert_eq!(
            decode_greenhouse_content("&amp;lt;p&amp;gt;"),
            "&amp;lt;p&amp;gt;"
        );
    }
}
