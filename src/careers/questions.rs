//! A posting's questions on the careers site: the standard ones (first
//! name, last name, email, phone, resume, cover letter) and the custom ones
//! of its front matter (`questions:`), in Greenhouse's Job Board API shape,
//! and the check of an application's answers against them. Greenhouse does
//! not enforce required questions; atsd does.

use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

/// The kinds of custom question a front matter may ask.
pub const KINDS: [&str; 6] = [
    "short_text",
    "long_text",
    "yes_no",
    "single_select",
    "multi_select",
    "file",
];

/// The longest answer kept (characters).
pub const MAX_ANSWER: usize = 10_000;

/// A custom question.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    /// `question_<id>` in forms and the API.
    pub id: u32,
    pub label: String,
    pub kind: String,
    pub required: bool,
    pub options: Vec<String>,
    pub description: Option<String>,
}

impl Question {
    pub fn field(&self) -> String {
        format!("question_{}", self.id)
    }
}

/// A stable id from a label (FNV-1a), so that reordering the questions or
/// editing another one keeps every answer's field name.
pub fn id_of(label: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in label.trim().to_lowercase().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    // positive in every client's integer type, and never 0
    (h & 0x3fff_ffff).max(1)
}

/// The custom questions of a front matter (`raw`), checked: each a mapping
/// with `label` and `type` (one of [`KINDS`]), `required` (default false),
/// `options` for the selects, optional `id` and `description`. The error
/// names the question and the field.
// Stays whole: one arm per question type, in the front matter's order.
pub fn parse(raw: &Json) -> Result<Vec<Question>, String> {
    let Some(list) = raw.get("questions") else {
        return Ok(Vec::new());
    };
    let Json::Array(list) = list else {
        return Err("field `questions`: expected a list of questions".into());
    };
    let mut out: Vec<Question> = Vec::new();
    for (n, q) in list.iter().enumerate() {
        let at = format!("questions[{n}]");
        let Json::Object(m) = q else {
            return Err(format!(
                "field `{at}`: expected a mapping with label and type"
            ));
        };
        for k in m.keys() {
            if !["id", "label", "type", "required", "options", "description"].contains(&k.as_str())
            {
                return Err(format!(
                    "field `{at}`: unknown key `{k}` (keys: id, label, type, required, options, description)"
                ));
            }
        }
        let label = match m.get("label") {
            Some(Json::String(s)) if !s.trim().is_empty() && s.chars().count() <= 500 => {
                s.trim().to_string()
            }
            _ => {
                return Err(format!(
                    "field `{at}.label`: expected a text of 1 to 500 characters"
                ));
            }
        };
        let kind = match m.get("type") {
            Some(Json::String(s)) if KINDS.contains(&s.as_str()) => s.clone(),
            other => {
                return Err(format!(
                    "field `{at}.type`: {} is not one of {}",
                    other
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "nothing".into()),
                    KINDS.join(", ")
                ));
            }
        };
        let required = match m.get("required") {
            None | Some(Json::Null) => false,
            Some(Json::Bool(b)) => *b,
            Some(other) => {
                return Err(format!(
                    "field `{at}.required`: {other} is not true or false"
                ));
            }
        };
        let options: Vec<String> = match m.get("options") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(a)) => a
                .iter()
                .map(|o| match o {
                    Json::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    Json::Number(n) => Ok(n.to_string()),
                    other => Err(format!("field `{at}.options`: {other} is not a text")),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("field `{at}.options`: {other} is not a list")),
        };
        let selects = kind == "single_select" || kind == "multi_select";
        if selects && options.len() < 2 {
            return Err(format!(
                "field `{at}.options`: a {kind} question needs at least two options"
            ));
        }
        if !selects && !options.is_empty() {
            return Err(format!(
                "field `{at}.options`: a {kind} question has no options"
            ));
        }
        let id = match m.get("id") {
            None | Some(Json::Null) => id_of(&label),
            Some(Json::Number(n)) => n
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("field `{at}.id`: {n} is not a positive whole number"))?,
            Some(other) => return Err(format!("field `{at}.id`: {other} is not a number")),
        };
        if let Some(dup) = out.iter().find(|q| q.id == id) {
            return Err(format!(
                "field `{at}`: its id {id} is the id of `{}` too: give one of them an `id`",
                dup.label
            ));
        }
        let description = match m.get("description") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.trim().to_string()),
            Some(other) => return Err(format!("field `{at}.description`: {other} is not a text")),
        };
        out.push(Question {
            id,
            label,
            kind,
            required,
            options,
            description,
        });
    }
    Ok(out)
}

/// The Greenhouse field type of a custom question.
fn field_type(kind: &str) -> &'static str {
    match kind {
        "long_text" => "textarea",
        "yes_no" | "single_select" => "multi_value_single_select",
        "multi_select" => "multi_value_multi_select",
        "file" => "input_file",
        _ => "input_text",
    }
}

/// The values of a select: yes/no as Greenhouse writes them (1 and 0), an
/// option its position from 1.
fn values(q: &Question) -> Vec<Json> {
    match q.kind.as_str() {
        "yes_no" => vec![
            json!({"label": "No", "value": 0}),
            json!({"label": "Yes", "value": 1}),
        ],
        "single_select" | "multi_select" => q
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| json!({"label": o, "value": i + 1}))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every question of a job, the standard ones first, as Greenhouse's Job
/// Board API lists them (`?questions=true`).
pub fn greenhouse(custom: &[Question]) -> Vec<Json> {
    let standard = |label: &str, required: bool, fields: Vec<(&str, &str)>| {
        json!({
            "required": required,
            "label": label,
            "description": null,
            "fields": fields.into_iter().map(|(n, t)| json!({"name": n, "type": t, "values": []})).collect::<Vec<_>>(),
        })
    };
    let mut out = vec![
        standard("First Name", true, vec![("first_name", "input_text")]),
        standard("Last Name", true, vec![("last_name", "input_text")]),
        standard("Email", true, vec![("email", "input_text")]),
        standard("Phone", false, vec![("phone", "input_text")]),
        standard(
            "Resume/CV",
            false,
            vec![("resume", "input_file"), ("resume_text", "textarea")],
        ),
        standard(
            "Cover Letter",
            false,
            vec![
                ("cover_letter", "input_file"),
                ("cover_letter_text", "textarea"),
            ],
        ),
    ];
    for q in custom {
        out.push(json!({
            "required": q.required,
            "label": q.label,
            "description": q.description,
            "fields": [{"name": q.field(), "type": field_type(&q.kind), "values": values(q)}],
        }));
    }
    out
}

/// One answer as a form or the API gave it: texts (a multi select gives
/// several), or a file (checked elsewhere).
#[derive(Clone, Debug, Default)]
pub struct Given {
    pub texts: Vec<String>,
    pub file: bool,
}

/// Checks the answers to the custom questions; what is kept of them
/// (`{label: answer}`), or each problem naming its field.
// Stays whole: one arm per question type, each answer checked against its type.
pub fn check(
    custom: &[Question],
    given: &BTreeMap<String, Given>,
) -> Result<BTreeMap<String, Json>, Vec<(String, String)>> {
    let mut kept = BTreeMap::new();
    let mut errs = Vec::new();
    for q in custom {
        let field = q.field();
        let g = given.get(&field).cloned().unwrap_or_default();
        let texts: Vec<&str> = g
            .texts
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect();
        if q.kind == "file" {
            if q.required && !g.file {
                errs.push((field, format!("`{}` needs a file", q.label)));
            }
            continue;
        }
        if texts.is_empty() {
            if q.required {
                errs.push((field, format!("`{}` is required", q.label)));
            }
            continue;
        }
        let one = |errs: &mut Vec<(String, String)>| -> Option<&str> {
            if texts.len() > 1 {
                errs.push((field.clone(), "takes one answer".into()));
                return None;
            }
            Some(texts[0])
        };
        match q.kind.as_str() {
            "short_text" | "long_text" => {
                let Some(t) = one(&mut errs) else { continue };
                let limit = if q.kind == "short_text" {
                    500
                } else {
                    MAX_ANSWER
                };
                if t.chars().count() > limit {
                    errs.push((field, format!("is longer than {limit} characters")));
                } else if t
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
                {
                    errs.push((field, "holds control characters".into()));
                } else {
                    kept.insert(q.label.clone(), Json::String(t.to_string()));
                }
            }
            "yes_no" => {
                let Some(t) = one(&mut errs) else { continue };
                match t {
                    "1" | "yes" | "Yes" | "true" => {
                        kept.insert(q.label.clone(), json!("Yes"));
                    }
                    "0" | "no" | "No" | "false" => {
                        kept.insert(q.label.clone(), json!("No"));
                    }
                    other => {
                        errs.push((field, format!("`{}` is not 1 (yes) or 0 (no)", clip(other))))
                    }
                }
            }
            _ => {
                if q.kind == "single_select" && texts.len() > 1 {
                    errs.push((field, "takes one answer".into()));
                    continue;
                }
                let mut picked = Vec::new();
                for t in &texts {
                    match t
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| i.checked_sub(1))
                        .and_then(|i| q.options.get(i))
                    {
                        Some(o) => picked.push(Json::String(o.clone())),
                        None => errs.push((
                            field.clone(),
                            format!(
                                "`{}` is not one of the options 1 to {}",
                                clip(t),
                                q.options.len()
                            ),
                        )),
                    }
                }
                let v = if q.kind == "single_select" {
                    picked.into_iter().next().unwrap_or(Json::Null)
                } else {
                    Json::Array(picked)
                };
                kept.insert(q.label.clone(), v);
            }
        }
    }
    if errs.is_empty() { Ok(kept) } else { Err(errs) }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs() -> Vec<Question> {
        parse(&json!({"questions": [
            {"label": "Why us?", "type": "long_text", "required": true},
            {"label": "Work permit?", "type": "yes_no", "required": true},
            {"label": "Shift", "type": "single_select", "options": ["Early", "Late"]},
            {"label": "Languages", "type": "multi_select", "options": ["de", "en", "es"]},
            {"label": "Portfolio", "type": "file"},
        ]}))
        .unwrap()
    }

    fn given(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Given> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Given {
                        texts: v.iter().map(|s| s.to_string()).collect(),
                        file: false,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn questions_keep_their_ids_whatever_their_order() {
        let q = qs();
        assert_eq!(q[0].id, id_of("Why us?"));
        assert_eq!(q[0].id, id_of(" why US? "));
        assert_ne!(q[0].id, q[1].id);
        let gh = greenhouse(&q);
        assert_eq!(gh.len(), 11);
        assert_eq!(gh[7]["fields"][0]["type"], "multi_value_single_select");
        assert_eq!(
            gh[7]["fields"][0]["values"][1],
            json!({"label": "Yes", "value": 1})
        );
        assert_eq!(gh[9]["fields"][0]["type"], "multi_value_multi_select");
        assert_eq!(gh[10]["fields"][0]["type"], "input_file");
    }

    #[test]
    fn bad_question_lists_are_named() {
        for (raw, says) in [
            (json!({"questions": "x"}), "expected a list"),
            (
                json!({"questions": [{"label": "a", "type": "essay"}]}),
                "questions[0].type",
            ),
            (
                json!({"questions": [{"label": "a", "type": "single_select", "options": ["x"]}]}),
                "at least two",
            ),
            (
                json!({"questions": [{"label": "a", "type": "yes_no", "colour": 1}]}),
                "unknown key `colour`",
            ),
            (
                json!({"questions": [{"label": "a", "type": "yes_no"}, {"label": "A", "type": "yes_no"}]}),
                "give one of them an `id`",
            ),
        ] {
            let e = parse(&raw).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn answers_are_checked_and_kept_by_label() {
        let q = qs();
        let f = |q: &Question| q.field();
        let ok = check(
            &q,
            &given(&[
                (&f(&q[0]), &["Because."]),
                (&f(&q[1]), &["1"]),
                (&f(&q[2]), &["2"]),
                (&f(&q[3]), &["1", "3"]),
            ]),
        )
        .unwrap();
        assert_eq!(ok["Why us?"], "Because.");
        assert_eq!(ok["Work permit?"], "Yes");
        assert_eq!(ok["Shift"], "Late");
        assert_eq!(ok["Languages"], json!(["de", "es"]));
        let errs = check(&q, &given(&[(&f(&q[1]), &["maybe"]), (&f(&q[2]), &["9"])])).unwrap_err();
        let text = format!("{errs:?}");
        assert!(text.contains("`Why us?` is required"), "{text}");
        assert!(text.contains("not 1 (yes) or 0 (no)"), "{text}");
        assert!(text.contains("not one of the options 1 to 2"), "{text}");
    }
}
