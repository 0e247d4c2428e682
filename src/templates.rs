//! The email templates and their rendering (SPEC §1 "Email"), used by the
//! moves that queue email and by the configuration's checks. Templates are
//! minijinja files
//! under `templates/{locale}/`: `NAME.subject.txt`, `NAME.txt` and `NAME.html`
//! (which extends `templates/layout.html`). The built-in set is compiled into
//! the binary; a configured `[templates] dir` overrides it file by file.
//! Undefined variables are errors, HTML templates are auto-escaped (by file
//! type, never switched off), and a locale falls back `de-CH` → `de` →
//! `[org] default_locale` → `en`.

use chrono::{DateTime, Utc};
use include_dir::{Dir, include_dir};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

mod context;
mod sample;

pub use context::*;
pub use sample::*;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");
/// The recruiter board's pages (`templates/board/`), beside the locales.
const NOT_A_LOCALE: &str = "board";

/// Templates built into the binary (SPEC §1 "Email").
pub const BUILTIN_TEMPLATES: [&str; 17] = [
    "application_received",
    "stage_changed",
    "interview_invitation",
    "offer",
    "rejection",
    "posting_closed",
    "recruiter_reminder",
    "recruiter_digest",
    "recruiter_posting_closed",
    "interview_request",
    "interview_cancel",
    "interview_reminder",
    "interview_feedback_request",
    "candidate_reply",
    "data_export",
    "data_erased",
    "interview_slots",
];

/// Is `name` a template atsd can render: a built-in one, or one that the
/// override folder `dir` (`[templates] dir`) provides?
pub fn exists(dir: Option<&Path>, name: &str) -> bool {
    BUILTIN_TEMPLATES.contains(&name) || Renderer::new(dir).exists(name)
}

#[derive(Serialize)]
struct Full<'a> {
    #[serde(flatten)]
    ctx: &'a Context,
    locale: &'a str,
    subject: &'a str,
}

/// `de-CH` → `["de-CH", "de", default, "en"]`, without repeats.
pub fn fallback_chain(locale: &str, default: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    push(locale);
    if let Some((lang, _)) = locale.split_once('-') {
        push(lang);
    }
    push(default);
    if let Some((lang, _)) = default.split_once('-') {
        push(lang);
    }
    push("en");
    out
}

fn date_pattern(locale: &str) -> &'static str {
    match locale.split('-').next().unwrap_or("en") {
        "de" => "%-d. %B %Y",
        "es" | "pt" => "%-d de %B de %Y",
        "fr" | "it" | "nl" => "%-d %B %Y",
        _ if locale == "en-US" => "%B %-d, %Y",
        _ => "%-d %B %Y",
    }
}

fn chrono_locale(locale: &str) -> chrono::Locale {
    let under = locale.replace('-', "_");
    let lang = locale.split('-').next().unwrap_or("en");
    for candidate in [
        under,
        format!("{lang}_{}", lang.to_ascii_uppercase()),
        "en_US".into(),
    ] {
        if let Ok(l) = chrono::Locale::try_from(candidate.as_str()) {
            return l;
        }
    }
    chrono::Locale::POSIX
}

/// A date for `locale` in the time zone `tz` (IANA; UTC when unknown).
pub fn format_date(t: DateTime<Utc>, locale: &str, tz: Option<&str>) -> String {
    let tz: chrono_tz::Tz = tz.and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::UTC);
    t.with_timezone(&tz)
        .format_localized(date_pattern(locale), chrono_locale(locale))
        .to_string()
}

/// A date and time for `locale` in the time zone `tz` (IANA; UTC when
/// unknown), on the 24-hour clock, with the zone's abbreviation:
/// `8 January 2030, 10:00 CET`.
pub fn format_time(t: DateTime<Utc>, locale: &str, tz: Option<&str>) -> String {
    let zone: chrono_tz::Tz = tz.and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::UTC);
    let local = t.with_timezone(&zone);
    format!(
        "{}, {}",
        format_date(t, locale, Some(zone.name())),
        local.format("%H:%M %Z")
    )
}

/// A stage's name as a candidate reads it: the built-in stages are
/// translated; configured ones are shown with spaces for `_` and `-`.
pub fn stage_label(stage: &str, locale: &str) -> String {
    let lang = locale.split('-').next().unwrap_or("en");
    let t = match (lang, stage) {
        ("de", "applied") => "Bewerbung eingegangen",
        ("de", "screening") => "Vorauswahl",
        ("de", "interview") => "Gespräch",
        ("de", "offer") => "Angebot",
        ("de", "hired") => "eingestellt",
        ("de", "rejected") => "abgesagt",
        ("de", "withdrawn") => "zurückgezogen",
        ("es", "applied") => "candidatura recibida",
        ("es", "screening") => "preselección",
        ("es", "interview") => "entrevista",
        ("es", "offer") => "oferta",
        ("es", "hired") => "contratación",
        ("es", "rejected") => "descartada",
        ("es", "withdrawn") => "retirada",
        _ => return stage.replace(['_', '-'], " "),
    };
    t.to_string()
}

/// The first word of a name, for a friendly salutation.
pub fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or(name).to_string()
}

pub struct Renderer {
    env: Environment<'static>,
    dir: Option<PathBuf>,
    /// Which locale each `(template, locale, default)` resolved to. Like the
    /// compiled templates the environment keeps, it lasts as long as this
    /// renderer (a reload makes a new one): looking a file up, on disk or in
    /// the built-in set, cost as much as rendering the email.
    resolved: std::sync::Mutex<HashMap<(String, String, String), Option<String>>>,
}

fn builtin(name: &str) -> Option<String> {
    BUILTIN
        .get_file(name)
        .and_then(|f| f.contents_utf8())
        .map(str::to_string)
}

impl Renderer {
    /// Built-in templates, overridden file by file from `dir`.
    pub fn new(dir: Option<&Path>) -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") || name.ends_with(".htm") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        let over = dir.map(Path::to_path_buf);
        let loader_dir = over.clone();
        env.set_loader(move |name| {
            if name.split('/').any(|p| p == ".." || p.is_empty()) {
                return Ok(None);
            }
            if let Some(d) = &loader_dir {
                let p = d.join(name);
                if p.is_file() {
                    return std::fs::read_to_string(&p).map(Some).map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::TemplateNotFound,
                            format!("cannot read {}: {e}", p.display()),
                        )
                    });
                }
            }
            Ok(builtin(name))
        });
        Renderer {
            env,
            dir: over,
            resolved: Default::default(),
        }
    }

    fn has(&self, path: &str) -> bool {
        self.dir.as_ref().is_some_and(|d| d.join(path).is_file())
            || BUILTIN.get_file(path).is_some()
    }

    /// Is there a template `name` in some locale?
    pub fn exists(&self, name: &str) -> bool {
        self.locales()
            .iter()
            .any(|l| self.has(&format!("{l}/{name}.subject.txt")))
    }

    /// Every locale folder, built-in or overriding.
    pub fn locales(&self) -> Vec<String> {
        let mut set = BTreeSet::new();
        for d in BUILTIN.dirs() {
            if let Some(n) = d.path().file_name().and_then(|n| n.to_str())
                && n != NOT_A_LOCALE
            {
                set.insert(n.to_string());
            }
        }
        if let Some(dir) = &self.dir
            && let Ok(rd) = std::fs::read_dir(dir)
        {
            for e in rd.flatten() {
                if e.path().is_dir()
                    && let Some(n) = e.file_name().to_str()
                    && n != NOT_A_LOCALE
                {
                    set.insert(n.to_string());
                }
            }
        }
        set.into_iter().collect()
    }

    /// Every template name, built-in or overriding.
    pub fn names(&self) -> Vec<String> {
        let mut set: BTreeSet<String> = BUILTIN_TEMPLATES.iter().map(|s| s.to_string()).collect();
        if let Some(dir) = &self.dir {
            for l in self.locales() {
                if let Ok(rd) = std::fs::read_dir(dir.join(&l)) {
                    for e in rd.flatten() {
                        if let Some(n) = e
                            .file_name()
                            .to_str()
                            .and_then(|f| f.strip_suffix(".subject.txt"))
                        {
                            set.insert(n.to_string());
                        }
                    }
                }
            }
        }
        set.into_iter().collect()
    }

    /// The locale `name` will be rendered in for a recipient who wants `locale`.
    pub fn resolve_locale(&self, name: &str, locale: &str, default: &str) -> Option<String> {
        let key = (name.to_string(), locale.to_string(), default.to_string());
        if let Ok(memo) = self.resolved.lock()
            && let Some(found) = memo.get(&key)
        {
            return found.clone();
        }
        let found = fallback_chain(locale, default)
            .into_iter()
            .find(|l| self.has(&format!("{l}/{name}.subject.txt")));
        if let Ok(mut memo) = self.resolved.lock() {
            memo.insert(key, found.clone());
        }
        found
    }

    fn one(&self, path: &str, value: minijinja::Value) -> Result<String, String> {
        let t = self
            .env
            .get_template(path)
            .map_err(|e| describe(path, &e))?;
        t.render(value).map_err(|e| describe(path, &e))
    }

    /// Renders `name` for `locale` (with fallback).
    pub fn render(
        &self,
        name: &str,
        locale: &str,
        default: &str,
        ctx: &Context,
    ) -> Result<Rendered, String> {
        let loc = self
            .resolve_locale(name, locale, default)
            .ok_or_else(|| format!("template `{name}` does not exist in any locale"))?;
        let base = minijinja::Value::from(minijinja::value::Serde(ctx));
        let subject = self.one(&format!("{loc}/{name}.subject.txt"), base.clone())?;
        let subject: String = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let full = minijinja::Value::from(minijinja::value::Serde(Full {
            ctx,
            locale: &loc,
            subject: &subject,
        }));
        let mut text = self.one(&format!("{loc}/{name}.txt"), full.clone())?;
        let mut html = self.one(&format!("{loc}/{name}.html"), full)?;
        if let Some(url) = &ctx.candidate.privacy_url {
            text.push_str(&crate::selfservice::privacy::footer_text(&loc, url));
            let footer = crate::selfservice::privacy::footer_html(&loc, url);
            // inside the layout's column when the page has one
            let at = html
                .rfind("</div>")
                .filter(|d| {
                    html[*d..]
                        .trim_start_matches("</div>")
                        .trim_start()
                        .starts_with("</body>")
                })
                .or_else(|| html.rfind("</body>"))
                .unwrap_or(html.len());
            html.insert_str(at, &footer);
        }
        Ok(Rendered {
            subject,
            text,
            html,
            locale: loc,
        })
    }

    /// Renders every template in every locale with sample data; each problem
    /// names the template, the locale and, for unknown variables, the variable.
    pub fn check_all(&self, default_locale: &str) -> Vec<String> {
        let known = known_variables();
        let mut errs = Vec::new();
        for name in self.names() {
            for loc in self.locales() {
                let parts = ["subject.txt", "txt", "html"];
                let present: Vec<&str> = parts
                    .iter()
                    .copied()
                    .filter(|p| self.has(&format!("{loc}/{name}.{p}")))
                    .collect();
                if present.is_empty() {
                    continue;
                }
                for p in parts {
                    let path = format!("{loc}/{name}.{p}");
                    if !present.contains(&p) {
                        errs.push(format!("template {name} ({loc}): {path} is missing"));
                        continue;
                    }
                    if let Ok(t) = self.env.get_template(&path) {
                        for v in t.undeclared_variables(true) {
                            if !known.contains(v.as_str()) {
                                errs.push(format!(
                                    "template {name} ({loc}): {path} uses unknown variable `{v}`"
                                ));
                            }
                        }
                    }
                }
                if let Err(e) = self.render(&name, &loc, default_locale, &sample_for(&loc)) {
                    errs.push(format!("template {name} ({loc}): {e}"));
                }
            }
            if self
                .resolve_locale(&name, default_locale, default_locale)
                .is_none()
            {
                errs.push(format!(
                    "template {name}: no version in the default locale `{default_locale}` or en"
                ));
            }
        }
        errs.sort();
        errs.dedup();
        errs
    }
}

fn describe(path: &str, e: &minijinja::Error) -> String {
    let mut msg = path.to_string();
    if let Some(line) = e.line() {
        msg.push_str(&format!(":{line}"));
    }
    msg.push_str(&format!(": {}", e.kind()));
    if let Some(d) = e.detail() {
        msg.push_str(&format!(" ({d})"));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_goes_region_language_default_english() {
        assert_eq!(fallback_chain("de-CH", "es"), ["de-CH", "de", "es", "en"]);
        assert_eq!(fallback_chain("en", "en"), ["en"]);
        let r = Renderer::new(None);
        assert_eq!(
            r.resolve_locale("offer", "de-CH", "en").as_deref(),
            Some("de")
        );
        assert_eq!(
            r.resolve_locale("offer", "pt-BR", "es").as_deref(),
            Some("es")
        );
        assert_eq!(
            r.resolve_locale("offer", "pt-BR", "fr").as_deref(),
            Some("en")
        );
    }

    #[test]
    fn every_builtin_template_renders_in_every_locale() {
        let r = Renderer::new(None);
        assert_eq!(r.locales(), ["de", "en", "es"]);
        assert_eq!(r.check_all("en"), Vec::<String>::new());
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let r = Renderer::new(None);
        let mut ctx = sample_context();
        ctx.candidate.first_name = "<script>alert(1)</script>".into();
        let out = r.render("application_received", "en", "en", &ctx).unwrap();
        assert!(out.html.contains("&lt;script&gt;"), "{}", out.html);
        assert!(!out.html.contains("<script"));
        assert!(out.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn dates_follow_the_locale_and_time_zone() {
        let t = DateTime::parse_from_rfc3339("2026-11-05T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_date(t, "en", None), "5 November 2026");
        assert_eq!(
            format_date(t, "de-CH", Some("Europe/Zurich")),
            "6. November 2026"
        );
        assert_eq!(
            format_date(t, "es", Some("Europe/Madrid")),
            "6 de noviembre de 2026"
        );
        assert_eq!(
            format_date(t, "en-US", Some("America/New_York")),
            "November 5, 2026"
        );
    }

    #[test]
    fn an_override_with_an_unknown_variable_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("en")).unwrap();
        std::fs::write(dir.path().join("en/offer.txt"), "Hi {{ candidate.nmae }}\n").unwrap();
        let r = Renderer::new(Some(dir.path()));
        let errs = r.check_all("en");
        assert!(
            errs.iter()
                .any(|e| e.contains("offer (en)") && e.contains("`candidate.nmae`")),
            "{errs:?}"
        );
        // other templates still come from the built-in set
        assert!(r.render("rejection", "en", "en", &sample_context()).is_ok());
    }
}
