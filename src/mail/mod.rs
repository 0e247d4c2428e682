//! Candidate and recruiter email. This module decides which emails a move
//! causes ([`stage_email`]), renders them ([`render`]) into outbox rows
//! ([`draft`]) inside the move's transaction.

pub mod dispatch;
pub mod render;
pub mod smtp;

use crate::config::{Config, EmailSpec};
use chrono::{DateTime, Utc};
use render::{Context, Renderer};

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
/// `[templates] dir` provides?
pub fn template_exists(config: &Config, name: &str) -> bool {
    BUILTIN_TEMPLATES.contains(&name) || Renderer::new(config.templates.dir.as_deref()).exists(name)
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

/// Renders `spec` for `to` on entering `stage` at `now` into an outbox row.
/// A template that cannot be rendered is an error, so the move that caused
/// it fails as a whole instead of sending a blank.
pub fn draft(
    config: &Config,
    renderer: &Renderer,
    spec: &EmailSpec,
    to: &Recipient<'_>,
    ctx: &Context,
    stage: &str,
    now: DateTime<Utc>,
) -> Result<Draft, String> {
    let wanted = to.locale.unwrap_or(&config.org.default_locale);
    let r = renderer.render(&spec.template, wanted, &config.org.default_locale, ctx)?;
    Ok(Draft {
        recipient: to.email.to_string(),
        recipient_name: Some(to.name.to_string()),
        template: spec.template.clone(),
        locale: r.locale,
        stage: Some(stage.to_string()),
        send_after: spec.delay.map(|d| now + d.chrono()),
        subject: Some(r.subject),
        body_text: Some(r.text),
        body_html: Some(r.html),
    })
}

/// The domain of atsd's Message-IDs: the sender's.
pub fn message_domain(config: &Config) -> &str {
    config
        .mail
        .from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| !d.is_empty())
        .unwrap_or("atsd.invalid")
}

/// A stable, globally unique Message-ID for the `n`th email of a transition.
pub fn message_id(config: &Config, transition_id: i64, n: usize) -> String {
    message_id_at(message_domain(config), transition_id, n)
}

/// [`message_id`] with the domain already known.
pub fn message_id_at(domain: &str, transition_id: i64, n: usize) -> String {
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
    fn delayed_drafts_carry_send_after_and_the_rendered_parts() {
        let c = Config::default();
        let now = Utc::now();
        let spec = stage_email(&c, "rejected", &EmailChoice::StageDefault).unwrap();
        let to = Recipient {
            email: "a@b.org",
            name: "A",
            locale: Some("de-CH"),
        };
        let r = Renderer::new(None);
        let d = draft(
            &c,
            &r,
            &spec,
            &to,
            &render::sample_context(),
            "rejected",
            now,
        )
        .unwrap();
        assert_eq!(d.send_after, Some(now + chrono::Duration::days(2)));
        assert_eq!(d.locale, "de");
        assert_eq!(
            d.subject.as_deref(),
            Some("Ihre Bewerbung als Senior Platform Engineer")
        );
        assert!(d.body_html.unwrap().contains("<html lang=\"de\">"));
    }

    #[test]
    fn message_ids_use_the_sender_domain() {
        let c = Config::default();
        assert_eq!(message_id(&c, 7, 0), "<atsd.t7.0@example.org>");
    }
}
