//! An application as Greenhouse's Job Board API takes one (`POST
//! /v1/boards/{board}/jobs/{id}`, as JSON or `multipart/form-data`) and as
//! the careers page's form sends it: read into a [`Submission`], then
//! checked against the job ([`check`]) into what is written. Every problem
//! names its field; nothing is kept before all of them pass.

use super::{Job, files, questions};
use crate::store::candidates::CandidateInput;
use base64::Engine;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The hidden field a person never fills in (the form hides it; a bot
/// that fills every field fills it too).
pub const HONEYPOT: &str = "website";

/// A file as it came.
#[derive(Clone, Debug)]
pub struct Upload {
    pub field: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// An application as it came: its text fields (a field may come several
/// times: `question_7[]`) and its files.
#[derive(Clone, Debug, Default)]
pub struct Submission {
    pub texts: BTreeMap<String, Vec<String>>,
    pub uploads: Vec<Upload>,
}

impl Submission {
    fn text(&self, field: &str) -> Option<&str> {
        self.texts
            .get(field)
            .and_then(|v| v.first())
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// Adds a text field (`name[]` is `name`, given again).
    pub fn push_text(&mut self, field: &str, value: String) {
        let field = field.strip_suffix("[]").unwrap_or(field);
        self.texts.entry(field.to_string()).or_default().push(value);
    }

    /// Whether the honeypot was filled in.
    pub fn is_bot(&self) -> bool {
        self.text(HONEYPOT).is_some()
    }

    /// Reads Greenhouse's JSON body: texts, numbers and lists of them;
    /// `{field}_content` (base64) with `{field}_content_filename` is a file.
    pub fn from_json(body: &Json) -> Result<Submission, (String, String)> {
        let Json::Object(m) = body else {
            return Err(("body".into(), "expected a JSON object of fields".into()));
        };
        let mut s = Submission::default();
        for (k, v) in m {
            if k.ends_with("_content_filename") {
                continue;
            }
            if let Some(field) = k.strip_suffix("_content") {
                let Json::String(b64) = v else {
                    return Err((k.clone(), "expected the file in base64".into()));
                };
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| (k.clone(), "is not base64".to_string()))?;
                let name = m
                    .get(&format!("{k}_filename"))
                    .and_then(Json::as_str)
                    .unwrap_or("file");
                s.uploads.push(Upload {
                    field: field.to_string(),
                    name: name.to_string(),
                    bytes,
                });
                continue;
            }
            if k.ends_with("_url") || k.ends_with("_url_filename") {
                return Err((
                    k.clone(),
                    "files by URL are not fetched: send the file as _content".into(),
                ));
            }
            let one = |v: &Json| -> Result<String, (String, String)> {
                match v {
                    Json::String(t) => Ok(t.clone()),
                    Json::Number(n) => Ok(n.to_string()),
                    Json::Bool(b) => Ok(if *b { "1" } else { "0" }.into()),
                    _ => Err((
                        k.clone(),
                        "expected a text, a number or a list of them".into(),
                    )),
                }
            };
            match v {
                Json::Null => {}
                Json::Array(a) => {
                    for x in a {
                        let t = one(x)?;
                        s.push_text(k, t);
                    }
                }
                Json::Object(inner) if k == "data_compliance" => {
                    for (ik, iv) in inner {
                        let t = one(iv)?;
                        s.push_text(&format!("data_compliance[{ik}]"), t);
                    }
                }
                other => {
                    let t = one(other)?;
                    s.push_text(k, t);
                }
            }
        }
        Ok(s)
    }
}

/// What an application keeps once checked.
#[derive(Clone, Debug)]
pub struct Checked {
    pub candidate: CandidateInput,
    pub phone: Option<String>,
    /// `{label: answer}`.
    pub answers: BTreeMap<String, Json>,
    pub source: Option<String>,
    pub consent: Option<String>,
    /// Each file with its type by its bytes.
    pub files: Vec<(Upload, &'static str)>,
}

/// Checks a submission against `job`: the standard fields, the files
/// (their bytes' type, at most `max_file` bytes), the custom questions
/// (required ones included). Every problem, each naming its field.
// Stays whole: one check per field of Greenhouse's application, in the API's order, each naming its field.
pub fn check(job: &Job, s: &Submission, max_file: u64) -> Result<Checked, Vec<(String, String)>> {
    let mut errs: Vec<(String, String)> = Vec::new();
    let first = s.text("first_name").unwrap_or("");
    let last = s.text("last_name").unwrap_or("");
    for (f, v) in [
        ("first_name", first),
        ("last_name", last),
        ("email", s.text("email").unwrap_or("")),
    ] {
        if v.is_empty() {
            errs.push((f.into(), "is required".into()));
        }
    }
    let candidate = if errs.is_empty() {
        match CandidateInput::parse(
            &format!("{first} {last}"),
            s.text("email").unwrap_or(""),
            s.text("locale"),
            None,
        ) {
            Ok(c) => Some(c),
            Err(e) => {
                errs.extend(e.into_iter().map(|(f, m)| {
                    let f = if f == "name" { "first_name" } else { f };
                    (f.to_string(), m)
                }));
                None
            }
        }
    } else {
        None
    };
    let phone = s.text("phone").map(str::to_string);
    if let Some(p) = &phone
        && (p.chars().count() > 40
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().x/".contains(c)))
    {
        errs.push((
            "phone".into(),
            "is not a phone number (digits, spaces, + - ( ) . / x)".into(),
        ));
    }
    let source = s.text("mapped_url_token").map(str::to_string);
    if let Some(t) = &source
        && (t.len() > 100
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        errs.push((
            "mapped_url_token".into(),
            "is not a token (letters, digits, _ and -)".into(),
        ));
    }
    let consent: Vec<String> = s
        .texts
        .iter()
        .filter(|(k, _)| k.starts_with("data_compliance["))
        .map(|(k, v)| format!("{k}={}", v.join(",")))
        .collect();
    // files: where they may go, what they are
    let file_fields: Vec<String> = job
        .questions
        .iter()
        .filter(|q| q.kind == "file")
        .map(questions::Question::field)
        .chain(["resume".to_string(), "cover_letter".to_string()])
        .collect();
    let mut files = Vec::new();
    let mut given: BTreeMap<String, questions::Given> = BTreeMap::new();
    for u in &s.uploads {
        if !file_fields.contains(&u.field) {
            errs.push((u.field.clone(), "takes no file".into()));
            continue;
        }
        if u.bytes.len() as u64 > max_file {
            errs.push((
                u.field.clone(),
                format!("the file is larger than {}", crate::config::Size(max_file)),
            ));
            continue;
        }
        if u.bytes.is_empty() {
            continue;
        }
        match files::sniff(&u.bytes) {
            Some(t) => {
                given.entry(u.field.clone()).or_default().file = true;
                files.push((
                    Upload {
                        field: u.field.clone(),
                        name: files::clean_name(&u.name),
                        bytes: u.bytes.clone(),
                    },
                    t,
                ));
            }
            None => errs.push((
                u.field.clone(),
                format!(
                    "`{}` is not a {}",
                    files::clean_name(&u.name),
                    files::ACCEPTED
                ),
            )),
        }
    }
    // a resume or cover letter as text becomes a text file
    for (field, text_field) in [
        ("resume", "resume_text"),
        ("cover_letter", "cover_letter_text"),
    ] {
        if let Some(t) = s.text(text_field)
            && !files.iter().any(|(u, _)| u.field == field)
        {
            if t.len() as u64 > max_file {
                errs.push((text_field.into(), "is too long".into()));
            } else {
                files.push((
                    Upload {
                        field: field.into(),
                        name: format!("{field}.txt"),
                        bytes: t.as_bytes().to_vec(),
                    },
                    "text/plain",
                ));
            }
        }
    }
    for (k, v) in &s.texts {
        if k.starts_with("question_") {
            given.entry(k.clone()).or_default().texts = v.clone();
        }
    }
    let answers = match questions::check(&job.questions, &given) {
        Ok(a) => a,
        Err(e) => {
            errs.extend(e);
            BTreeMap::new()
        }
    };
    match candidate {
        Some(candidate) if errs.is_empty() => Ok(Checked {
            candidate,
            phone,
            answers,
            source,
            consent: (!consent.is_empty()).then(|| consent.join("; ")),
            files,
        }),
        _ => Err(errs),
    }
}
