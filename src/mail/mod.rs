//! Candidate and recruiter email: a template rendered into an outbox row
//! ([`draft`]) inside the transaction of the move that causes it, each
//! email's Message-ID ([`mod@message_id`]), and the dispatcher that sends the
//! outbox ([`dispatch`]): a row as a message ([`compose`]), through SMTP,
//! files or the log ([`transport`], [`smtp`]).

pub mod compose;
pub mod dispatch;
pub mod message_id;
pub mod smtp;
pub mod tags;
pub mod transport;

pub use message_id::message_id;

#[cfg(test)]
use crate::config::EmailChoice;
use crate::config::{Config, EmailSpec};
use crate::store::outbox::Draft;
use crate::templates::{Context, Renderer};
use chrono::{DateTime, Utc};

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
        calendar: None,
        auto_submitted: false,
        reply_to: None,
        reply_to_name: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delayed_drafts_carry_send_after_and_the_rendered_parts() {
        let c = Config::default();
        let now = Utc::now();
        let spec = c
            .stage_email("rejected", &EmailChoice::StageDefault)
            .unwrap();
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
            &crate::templates::sample_context(),
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
}
