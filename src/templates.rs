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

/// The three parts of one email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The locale whose templates were used (after fallback).
    pub locale: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CandidateCtx {
    pub name: String,
    pub first_name: String,
    pub email: String,
    /// The candidate's signed privacy link ("see what we hold about you",
    /// "delete my data"): set only on emails to the candidate, and then
    /// added by [`Renderer::render`] at the end of every part, whatever the
    /// template (so that no email to a candidate goes without it).
    #[serde(skip)]
    pub privacy_url: Option<String>,
}

/// A data-subject request, in the emails that answer it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RequestCtx {
    pub id: i64,
    /// access or erasure
    pub kind: String,
    /// When it was received, in the recipient's locale and time zone.
    pub received: String,
    /// The download link of an access request's export (single use).
    pub download_url: Option<String>,
    /// Until when that link works, formatted likewise.
    pub expires: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PostingCtx {
    pub title: String,
    pub company: Option<String>,
    pub location: Option<String>,
    pub url: String,
}

impl PostingCtx {
    pub fn of(p: &entity::posting::Model) -> PostingCtx {
        PostingCtx {
            title: p.title.clone(),
            company: p.company.clone(),
            location: p.location.clone(),
            url: p.url.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ApplicationCtx {
    pub id: i64,
    pub stage: String,
    pub stage_label: String,
    pub previous_stage: Option<String>,
    /// The application date, formatted for the recipient's locale and time zone.
    pub applied_on: String,
    /// When it entered its stage, formatted likewise.
    pub stage_since: String,
    /// The candidate's signed link to withdraw (with `[http] public_url`,
    /// in an active stage).
    pub withdraw_url: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct OrgCtx {
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestApplication {
    pub candidate: String,
    pub posting: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestStale {
    pub stage: String,
    pub count: u64,
    /// The posting the count is for (a digest lists them per posting).
    pub posting: Option<String>,
}

/// A candidate's address that bounced for good since the last digest.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestBounce {
    pub candidate: String,
    pub address: String,
    pub posting: String,
    /// The report's status code (e.g. 5.1.1), when it gave one.
    pub status: Option<String>,
    /// Emails to the address waiting, held, until it is corrected.
    pub held: u64,
}

/// Mail atsd did not trust since the last digest, when there was more of
/// it than usual: forged tags by the dozen, or a sender over the rate.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestQuarantine {
    /// Messages quarantined since.
    pub total: u64,
    /// Of them, with a tag that is not atsd's.
    pub forged: u64,
    /// Messages not kept: their senders were over the per-sender rate.
    pub refused: u64,
    /// Those senders, most refused first (at most [`DIGEST_LINES`]).
    pub senders: Vec<DigestSender>,
}

/// An open data-subject request due within 7 days, or overdue.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestRequest {
    pub id: i64,
    /// access, erasure, rectification, restriction, objection
    pub kind: String,
    /// GDPR or CCPA
    pub law: String,
    /// The due date in the recipient's locale and zone.
    pub due: String,
    pub overdue: bool,
}

/// A sender of mail not kept in quarantine.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestSender {
    pub sender: String,
    pub refused: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestCtx {
    pub period: String,
    /// At most [`DIGEST_LINES`] of them; `new_total` counts all.
    pub new_applications: Vec<DigestApplication>,
    pub new_total: u64,
    /// The lines left out of the section (0 when none were).
    pub new_more: u64,
    pub stale: Vec<DigestStale>,
    pub stale_total: u64,
    /// At most [`DIGEST_LINES`] of them; `closed_total` counts all.
    pub closed_postings: Vec<String>,
    pub closed_total: u64,
    pub closed_more: u64,
    /// Stale lines (posting and stage) left out.
    pub stale_more: u64,
    /// At most [`DIGEST_LINES`] of them; `bounced_total` counts all.
    pub bounced: Vec<DigestBounce>,
    pub bounced_total: u64,
    pub bounced_more: u64,
    /// The board's list of postings, where the lines left out are
    /// (with `[http] public_url`).
    pub board_url: Option<String>,
    /// A surge of mail that was not trusted, when there was one.
    pub quarantine: Option<DigestQuarantine>,
    /// Data-subject requests due within 7 days or overdue, soonest first.
    pub requests: Vec<DigestRequest>,
}

/// A posting's close, as its team's notice tells it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClosedCtx {
    /// When atsd confirmed the close, in the recipient's locale and zone.
    pub at: String,
    /// Its applications still in an active stage.
    pub active: u64,
    /// The posting's board page (with `[http] public_url`).
    pub board_url: Option<String>,
}

/// An interview, as its invitation, update, cancellation or reminder tells
/// it to one recipient.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InterviewCtx {
    pub title: String,
    /// The start in the recipient's locale and time zone, with the zone.
    pub when: String,
    pub minutes: i32,
    pub location: Option<String>,
    pub video_url: Option<String>,
    /// The interviewers' names.
    pub interviewers: Vec<String>,
    /// A change of an invitation sent before (rescheduled).
    pub update: bool,
    /// The email goes to an interviewer (else to the candidate).
    pub for_interviewer: bool,
    /// The recipient's name (an interviewer's).
    pub recipient: String,
    /// The application's board page (interviewers, with `[http] public_url`).
    pub board_url: Option<String>,
    /// The interview's id (for the command line).
    pub id: i64,
    /// The signed single-use feedback link (feedback requests, with
    /// `[http] public_url` and a link key).
    pub feedback_url: Option<String>,
    /// The signed booking link of slots offered to the candidate
    /// (`interview_slots`).
    pub booking_url: Option<String>,
    /// Until when the booking link works, in the recipient's locale and
    /// time zone.
    pub booking_until: String,
}

/// Most lines in each section of a digest.
pub const DIGEST_LINES: usize = 25;

/// Everything a template may use.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Context {
    pub candidate: CandidateCtx,
    pub posting: PostingCtx,
    pub application: ApplicationCtx,
    pub reason: String,
    pub org: OrgCtx,
    pub digest: DigestCtx,
    pub closed: ClosedCtx,
    pub interview: InterviewCtx,
    pub reply: ReplyCtx,
    pub request: RequestCtx,
}

/// A candidate's reply, forwarded to the posting's recruiter.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReplyCtx {
    /// The sender as the message gives it.
    pub from: String,
    /// The sender, when it is not the candidate's address on file (the
    /// forward's Reply-To is that address all the same).
    pub other_sender: Option<String>,
    /// The reply's own subject.
    pub subject: String,
    /// When it was written, in the recipient's locale and time zone.
    pub date: String,
    /// Its text (HTML turned into text), at most 64 KiB.
    pub text: String,
    /// Attachments, not kept: "name (size)".
    pub attachments: Vec<String>,
    /// The application's board page (with `[http] public_url`).
    pub board_url: Option<String>,
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

/// The variables a template may use, as `a` and `a.b`.
pub fn known_variables() -> BTreeSet<&'static str> {
    [
        "candidate",
        "candidate.name",
        "candidate.first_name",
        "candidate.email",
        "posting",
        "posting.title",
        "posting.company",
        "posting.location",
        "posting.url",
        "application",
        "application.id",
        "application.stage",
        "application.stage_label",
        "application.previous_stage",
        "application.applied_on",
        "application.stage_since",
        "application.withdraw_url",
        "reason",
        "org",
        "org.name",
        "locale",
        "subject",
        "digest",
        "digest.period",
        "digest.new_applications",
        "digest.stale",
        "digest.stale_total",
        "digest.closed_postings",
        "digest.new_total",
        "digest.new_more",
        "digest.closed_total",
        "digest.closed_more",
        "digest.stale_more",
        "digest.bounced",
        "digest.bounced_total",
        "digest.bounced_more",
        "digest.board_url",
        "digest.quarantine",
        "digest.requests",
        "closed",
        "closed.at",
        "closed.active",
        "closed.board_url",
        "interview",
        "interview.title",
        "interview.when",
        "interview.minutes",
        "interview.location",
        "interview.video_url",
        "interview.interviewers",
        "interview.update",
        "interview.for_interviewer",
        "interview.recipient",
        "interview.board_url",
        "interview.id",
        "interview.feedback_url",
        "interview.booking_url",
        "interview.booking_until",
        "reply",
        "reply.from",
        "reply.other_sender",
        "reply.subject",
        "reply.date",
        "reply.text",
        "reply.attachments",
        "reply.board_url",
        "request",
        "request.id",
        "request.kind",
        "request.received",
        "request.download_url",
        "request.expires",
    ]
    .into_iter()
    .collect()
}

/// Fixed data for previews, snapshots and `check-config`, with dates and
/// stage names as `locale` writes them.
pub fn sample_for(locale: &str) -> Context {
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    };
    let mut c = sample_context();
    c.application.applied_on =
        format_date(at("2026-11-02T10:00:00Z"), locale, Some("Europe/Berlin"));
    c.application.stage_since =
        format_date(at("2026-11-24T15:00:00Z"), locale, Some("Europe/Berlin"));
    c.application.stage_label = stage_label("interview", locale);
    c.digest.period = format_date(at("2026-11-25T09:00:00Z"), locale, Some("Europe/Berlin"));
    c.closed.at = c.digest.period.clone();
    c.interview.when = format_time(at("2030-01-08T09:00:00Z"), locale, Some("Europe/Berlin"));
    c.interview.booking_until =
        format_time(at("2030-01-06T09:00:00Z"), locale, Some("Europe/Berlin"));
    c.request.received = format_date(at("2026-11-25T09:00:00Z"), locale, Some("Europe/Berlin"));
    c.request.expires = format_time(at("2026-12-02T09:00:00Z"), locale, Some("Europe/Berlin"));
    c
}

/// Fixed data for previews and `check-config`.
pub fn sample_context() -> Context {
    Context {
        candidate: CandidateCtx {
            name: "Zoë Müller".into(),
            first_name: "Zoë".into(),
            email: "zoe.mueller@example.net".into(),
            privacy_url: None,
        },
        posting: PostingCtx {
            title: "Senior Platform Engineer".into(),
            company: Some("Example Corp".into()),
            location: Some("Berlin".into()),
            url: "https://boards.greenhouse.io/examplecorp/jobs/4410021".into(),
        },
        application: ApplicationCtx {
            id: 42,
            stage: "interview".into(),
            stage_label: "interview".into(),
            previous_stage: Some("screening".into()),
            applied_on: "2 November 2026".into(),
            stage_since: "24 November 2026".into(),
            withdraw_url: Some("https://atsd.example.org/self-service/withdraw/7.1798790400.bm9uY2Vub25jZQ.c2lnbmF0dXJl".into()),
        },
        reason: "strong portfolio".into(),
        org: OrgCtx {
            name: "Example Org".into(),
        },
        digest: DigestCtx {
            period: "25 November 2026".into(),
            new_applications: vec![DigestApplication {
                candidate: "Łukasz Nowak".into(),
                posting: "Data Analyst, Growth".into(),
            }],
            stale: vec![DigestStale {
                stage: "screening".into(),
                count: 2,
                posting: Some("Data Analyst, Growth".into()),
            }],
            stale_total: 2,
            closed_postings: vec!["Customer Support Lead".into()],
            new_total: 27,
            new_more: 26,
            closed_total: 1,
            closed_more: 0,
            stale_more: 0,
            bounced: vec![DigestBounce {
                candidate: "María Gómez".into(),
                address: "maria@mail.example.net".into(),
                posting: "Data Analyst, Growth".into(),
                status: Some("5.1.1".into()),
                held: 1,
            }],
            bounced_total: 1,
            bounced_more: 0,
            board_url: Some("https://atsd.example.org/board".into()),
            requests: vec![DigestRequest {
                id: 3,
                kind: "access".into(),
                law: "GDPR".into(),
                due: "30 November 2026".into(),
                overdue: false,
            }],
            quarantine: Some(DigestQuarantine {
                total: 41,
                forged: 38,
                refused: 120,
                senders: vec![DigestSender {
                    sender: "mailer-daemon@mx.example.net".into(),
                    refused: 120,
                }],
            }),
        },
        closed: ClosedCtx {
            at: "25 November 2026".into(),
            active: 3,
            board_url: Some("https://atsd.example.org/board/postings/7".into()),
        },
        interview: InterviewCtx {
            title: "Interview: Senior Platform Engineer".into(),
            when: "8 January 2030, 10:00 CET".into(),
            minutes: 45,
            location: Some("Room 4, Example Corp, Berlin".into()),
            video_url: Some("https://meet.example.org/abc-defg".into()),
            interviewers: vec!["Ada Lovelace".into(), "Grace Hopper".into()],
            update: false,
            for_interviewer: false,
            recipient: "Ada Lovelace".into(),
            board_url: None,
            id: 1,
            feedback_url: Some(
                "https://atsd.example.org/self-service/feedback/f1-1.1893456000.bm9uY2U.c2ln".into(),
            ),
            booking_url: Some(
                "https://atsd.example.org/self-service/book/b1.1893456000.bm9uY2U.c2ln".into(),
            ),
            booking_until: String::new(),
        },
        reply: ReplyCtx {
            from: "Zoë Müller <zoe@example.org>".into(),
            other_sender: None,
            subject: "Re: Your application for Senior Platform Engineer".into(),
            date: "26 November 2026, 10:15 CET".into(),
            text: "Thank you! I am available on Tuesday.\n\n> earlier text".into(),
            attachments: vec!["cv.pdf (48 KiB)".into()],
            board_url: Some("https://atsd.example.org/board/applications/1".into()),
        },
        request: RequestCtx {
            id: 3,
            kind: "access".into(),
            received: "25 November 2026".into(),
            download_url: Some(
                "https://atsd.example.org/self-service/export/x3.1796202000.bm9uY2U.c2ln".into(),
            ),
            expires: "2 December 2026, 10:00 CET".into(),
        },
    }
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
