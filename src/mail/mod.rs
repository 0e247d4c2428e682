//! Candidate and recruiter email. This module decides which emails a move
//! causes ([`stage_email`]) and turns them into outbox rows ([`draft`]);
//! rendering the templates into those rows, and sending them, arrive with the
//! email issue at the one seam marked below.

use crate::config::{Config, EmailSpec};
use chrono::{DateTime, Utc};

/// Templates built into the binary (SPEC §1 "Email").
pub const BUILTIN_TEMPLATES: [&str; 8] = [
    "application_received",
    "stage_changed",
    "interview_invitation",
    "offer",
    "rejection",
    "posting_closed",
    "recruiter_reminder",
    "recruiter_digest",
];

/// Is `name` a template atsd can render: a built-in one, or one the configured
/// `[templates] dir` provides (any file named `NAME.*` there)?
pub fn template_exists(config: &Config, name: &str) -> bool {
    if BUILTIN_TEMPLATES.contains(&name) {
        return true;
    }
    let Some(dir) = &config.templates.dir else {
        return false;
    };
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten().any(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|f| f.split('.').next())
                    .is_some_and(|stem| stem == name)
            })
        })
        .unwrap_or(false)
}

/// What email a move should send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EmailChoice {
    /// The email of the stage entered, from `[pipeline.emails]`.
    #[default]
    StageDefault,
    /// No email (`--no-email`, or a rule's `email = ""`).
    None,
    /// This one instead of the stage's (a rule's `email`).
    Template(EmailSpec),
}

/// The email (template and delay) that entering `stage` sends under `choice`.
pub fn stage_email(config: &Config, stage: &str, choice: &EmailChoice) -> Option<EmailSpec> {
    let spec = match choice {
        EmailChoice::None => return None,
        EmailChoice::Template(spec) => spec.clone(),
        EmailChoice::StageDefault => config.pipeline.emails.get(stage)?.clone(),
    };
    (!spec.is_none()).then_some(spec)
}

/// An outbox row before it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub template: String,
    pub locale: String,
    /// The stage whose entry caused the email.
    pub stage: Option<String>,
    pub send_after: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
}

/// Who the email is to and what it is about.
pub struct Recipient<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub locale: Option<&'a str>,
}

/// Builds the outbox row for `spec` sent to `to` on entering `stage` at `now`.
pub fn draft(
    config: &Config,
    spec: &EmailSpec,
    to: &Recipient<'_>,
    stage: &str,
    now: DateTime<Utc>,
) -> Draft {
    let locale = to
        .locale
        .map(str::to_string)
        .unwrap_or_else(|| config.org.default_locale.clone());
    // SEAM (email issue): render `spec.template` for `locale` with the
    // candidate, posting and application here, inside the move's transaction,
    // and fill subject/body_text/body_html. Until then the row carries the
    // template name and locale only.
    Draft {
        recipient: to.email.to_string(),
        recipient_name: Some(to.name.to_string()),
        template: spec.template.clone(),
        locale,
        stage: Some(stage.to_string()),
        send_after: spec.delay.map(|d| now + d.chrono()),
        subject: None,
        body_text: None,
        body_html: None,
    }
}

/// A stable, globally unique Message-ID for the `n`th email of a transition.
pub fn message_id(config: &Config, transition_id: i64, n: usize) -> String {
    let domain = config
        .mail
        .from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| !d.is_empty())
        .unwrap_or("atsd.invalid");
    format!("<atsd.t{transition_id}.{n}@{domain}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_emails_follow_the_config_and_the_choice() {
        let c = Config::default();
        assert_eq!(
            stage_email(&c, "applied", &EmailChoice::StageDefault).map(|s| s.template),
            Some("application_received".into())
        );
        assert_eq!(
            stage_email(&c, "screening", &EmailChoice::StageDefault),
            None
        );
        assert_eq!(stage_email(&c, "applied", &EmailChoice::None), None);
        assert_eq!(
            stage_email(&c, "rejected", &EmailChoice::Template(EmailSpec::new(""))),
            None
        );
        let r = stage_email(&c, "rejected", &EmailChoice::StageDefault).unwrap();
        assert_eq!(r.delay.map(|d| d.to_string()), Some("2d".into()));
    }

    #[test]
    fn delayed_drafts_carry_send_after() {
        let c = Config::default();
        let now = Utc::now();
        let spec = stage_email(&c, "rejected", &EmailChoice::StageDefault).unwrap();
        let d = draft(
            &c,
            &spec,
            &Recipient {
                email: "a@b.org",
                name: "A",
                locale: None,
            },
            "rejected",
            now,
        );
        assert_eq!(d.send_after, Some(now + chrono::Duration::days(2)));
        assert_eq!(d.locale, "en");
    }

    #[test]
    fn message_ids_use_the_sender_domain() {
        let c = Config::default();
        assert_eq!(message_id(&c, 7, 0), "<atsd.t7.0@example.org>");
    }
}
