//! Checks the configuration as a whole: what serde's types cannot say.

use super::{Config, EmailChoice, EmailSpec};
use crate::{candidate_fields, pipeline::Pipeline, schedule, templates};
use std::str::FromStr;

impl Config {
    /// The email (template and delay) that entering `stage` sends under
    /// `choice`.
    pub fn stage_email(&self, stage: &str, choice: &EmailChoice) -> Option<EmailSpec> {
        let spec = match choice {
            EmailChoice::None => return None,
            EmailChoice::Template(spec) => spec.clone(),
            EmailChoice::StageDefault => self.pipeline.emails.get(stage)?.clone(),
        };
        (!spec.is_none()).then_some(spec)
    }

    /// The pipeline this configuration describes.
    pub fn pipeline(&self) -> Result<Pipeline, crate::pipeline::ConfigError> {
        Pipeline::new(&self.pipeline.stages, &self.pipeline.extra_moves)
    }

    /// Every problem found, each naming the key at fault.
    // Stays whole: the configuration's checks section by section in the file's order, each error naming its key.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        let pipeline = match self.pipeline() {
            Ok(p) => Some(p),
            Err(e) => {
                errs.push(e.to_string());
                None
            }
        };
        let known_stage = |key: &str, stage: &str, errs: &mut Vec<String>| {
            if let Some(p) = &pipeline
                && !p.contains(stage)
            {
                errs.push(format!(
                    "{key}: unknown stage `{stage}` (stages: {})",
                    p.stages().collect::<Vec<_>>().join(", ")
                ));
            }
        };
        let known_template = |key: &str, name: &str, errs: &mut Vec<String>| {
            if !name.is_empty() && !templates::exists(self.templates.dir.as_deref(), name) {
                errs.push(format!(
                    "{key}: template `{name}` does not exist (built-in: {})",
                    templates::BUILTIN_TEMPLATES.join(", ")
                ));
            }
        };

        if let Some(c) = &self.careers {
            if c.listen.parse::<std::net::SocketAddr>().is_err() {
                errs.push(format!(
                    "careers.listen: `{}` is not an address such as 127.0.0.1:9188",
                    c.listen
                ));
            }
            if c.board.is_empty()
                || c.board.len() > 100
                || !c
                    .board
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                errs.push(format!(
                    "careers.board: `{}` is not a board token (letters, digits, - and _)",
                    c.board
                ));
            }
            if let Some(u) = &c.public_url
                && !(u.starts_with("https://") || u.starts_with("http://"))
            {
                errs.push(format!("careers.public_url: `{u}` is not an http(s) URL"));
            }
            if c.max_file.0 == 0 || c.max_file.0 > 100 * 1024 * 1024 {
                errs.push(format!(
                    "careers.max_file: {} is not between 1 byte and 100 MiB",
                    c.max_file
                ));
            }
            if let Some(h) = &self.http
                && h.listen == c.listen
            {
                errs.push(format!(
                    "careers.listen: `{}` is http.listen too: the careers site needs a listener of its own",
                    c.listen
                ));
            }
        }
        if !crate::requests::LAWS.contains(&self.retention.request_law.as_str()) {
            errs.push(format!(
                "retention.request_law: `{}` is not one of {}",
                self.retention.request_law,
                crate::requests::LAWS.join(", ")
            ));
        }

        for (stage, spec) in &self.pipeline.emails {
            let key = format!("pipeline.emails.{stage}");
            known_stage(&key, stage, &mut errs);
            known_template(&key, &spec.template, &mut errs);
        }

        let mut names = std::collections::BTreeSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let key = format!("rules[{i}] ({})", r.name);
            if r.name.trim().is_empty() {
                errs.push(format!("rules[{i}]: name is empty"));
            } else if !names.insert(r.name.as_str()) {
                errs.push(format!("{key}: rule name `{}` is used twice", r.name));
            }
            if let Some(s) = &r.stage {
                known_stage(&format!("{key}.stage"), s, &mut errs);
            }
            if let Some(s) = &r.move_to {
                known_stage(&format!("{key}.move_to"), s, &mut errs);
            }
            if let Some(e) = &r.email {
                known_template(&format!("{key}.email"), &e.template, &mut errs);
            }
            match r.on.as_deref() {
                Some("posting_closed") => {
                    if r.move_to.is_none() {
                        errs.push(format!("{key}: on = \"posting_closed\" needs move_to"));
                    }
                    if r.stage.is_some() || r.after.is_some() || r.remind {
                        errs.push(format!(
                            "{key}: on = \"posting_closed\" takes move_to, reason, email and grace, not stage/after/remind"
                        ));
                    }
                }
                Some(other) => errs.push(format!(
                    "{key}.on: unknown event `{other}` (known: posting_closed)"
                )),
                None => {
                    if r.stage.is_none() || r.after.is_none() {
                        errs.push(format!(
                            "{key}: a stale rule needs stage and after (or on = \"posting_closed\")"
                        ));
                    }
                    match (r.remind, &r.move_to) {
                        (true, Some(_)) => errs.push(format!(
                            "{key}: give either remind = true or move_to, not both"
                        )),
                        (false, None) => errs.push(format!(
                            "{key}: a stale rule needs move_to or remind = true"
                        )),
                        _ => {}
                    }
                    if r.grace.is_some() {
                        errs.push(format!("{key}.grace: only posting_closed rules take grace"));
                    }
                }
            }
            if let (Some(p), Some(from), Some(to)) = (&pipeline, &r.stage, &r.move_to)
                && p.contains(from)
                && p.contains(to)
                && let Err(e) = p.check(from, to)
            {
                errs.push(format!("{key}: {e}"));
            }
        }

        if let Some(stage) = &self.interviews.stage {
            known_stage("interviews.stage", stage, &mut errs);
            if let Some(p) = &pipeline
                && p.contains(stage)
                && !p.is_active(stage)
            {
                errs.push(format!(
                    "interviews.stage: `{stage}` is a terminal stage; name an active one"
                ));
            }
        }

        for (i, e) in self.recruiters.emails.iter().enumerate() {
            if let Err(m) = candidate_fields::email(e) {
                errs.push(format!("recruiters.emails[{i}]: {m}"));
            }
        }

        if let Err(m) = chrono_tz::Tz::from_str(&self.schedule.timezone) {
            errs.push(format!(
                "schedule.timezone: `{}` is not an IANA time zone ({m})",
                self.schedule.timezone
            ));
        }
        for (job, expr) in self.schedule.jobs() {
            if let Err(m) = schedule::parse_cron(expr) {
                errs.push(format!("schedule.{job}: {m}"));
            }
        }

        if let Err(m) = candidate_fields::locale(&self.org.default_locale) {
            errs.push(format!("org.default_locale: {m}"));
        }

        let p = &self.poll;
        for (key, v) in [
            ("poll.concurrency", p.concurrency),
            ("poll.per_host", p.per_host),
            ("poll.close_after_not_found", p.close_after_not_found),
        ] {
            if v == 0 {
                errs.push(format!("{key}: must be at least 1"));
            }
        }
        for (i, a) in p.allow_addresses.iter().enumerate() {
            if a.parse::<std::net::SocketAddr>().is_err() {
                errs.push(format!(
                    "poll.allow_addresses[{i}]: `{a}` is not an ip:port address"
                ));
            }
        }
        if p.timeout.std().is_zero() {
            errs.push("poll.timeout: must be more than 0s".into());
        }
        for (name, src) in [
            ("greenhouse", &p.sources.greenhouse),
            ("lever", &p.sources.lever),
            ("ashby", &p.sources.ashby),
        ] {
            match url::Url::parse(&src.api_base) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => errs.push(format!(
                    "poll.sources.{name}.api_base: `{}` is not an http(s) URL",
                    src.api_base
                )),
            }
        }

        let m = &self.mail;
        if let Err(e) = lettre::message::Mailbox::from_str(&m.from) {
            errs.push(format!("mail.from: `{}` is not an address ({e})", m.from));
        }
        if let Some(r) = &m.reply_to
            && let Err(e) = lettre::message::Mailbox::from_str(r)
        {
            errs.push(format!("mail.reply_to: `{r}` is not an address ({e})"));
        }
        if m.max_attempts == 0 {
            errs.push("mail.max_attempts: must be at least 1".into());
        }
        if let Some(i) = &m.inbound {
            let d = i.domain.trim();
            let plausible = !d.is_empty()
                && d.contains('.')
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !plausible {
                errs.push(format!(
                    "mail.inbound.domain: `{}` is not a domain such as jobs.example.org",
                    i.domain
                ));
            }
            if i.max_size.0 < 1024 {
                errs.push(format!(
                    "mail.inbound.max_size: {} is too small to take a message",
                    i.max_size
                ));
            }
            if let Some(l) = &i.lmtp_listen {
                match l.parse::<std::net::SocketAddr>() {
                    Ok(a) if a.ip().is_loopback() => {}
                    Ok(a) => errs.push(format!(
                        "mail.inbound.lmtp_listen: `{a}` is not a loopback address: LMTP has no authentication, serve it on 127.0.0.1 or ::1"
                    )),
                    Err(_) => errs.push(format!(
                        "mail.inbound.lmtp_listen: `{l}` is not an address such as 127.0.0.1:2424"
                    )),
                }
            }
        }
        if m.smtp.pool_size == 0 {
            errs.push("mail.smtp.pool_size: must be at least 1".into());
        }
        if m.transport == super::Transport::Smtp
            && m.smtp.tls == super::Tls::None
            && m.smtp.username.is_some()
            && !m.smtp.allow_plaintext_auth
            && !is_loopback_host(&m.smtp.host)
        {
            errs.push(format!(
                "mail.smtp: tls = \"none\" with a username would send the password in clear to `{}`: \
                 use tls = \"starttls\" or \"tls\", or set allow_plaintext_auth = true for a relay \
                 on a network you trust",
                m.smtp.host
            ));
        }
        if let Some(p) = &m.smtp.password_file
            && p.exists()
            && let Err(e) = crate::secret_file::check_permissions(p, "mail.smtp.password_file")
        {
            errs.push(e);
        }
        if let Some(ca) = &m.smtp.ca_file
            && let Err(e) = crate::tls::read_ca_file(ca)
        {
            errs.push(format!("mail.smtp.ca_file: {e}"));
        }

        if let Some(dir) = &self.templates.dir
            && !dir.is_dir()
        {
            errs.push(format!(
                "templates.dir: {} is not a directory",
                dir.display()
            ));
        }
        if let Some(h) = &self.http {
            match h.listen.parse::<std::net::SocketAddr>() {
                Err(_) => errs.push(format!(
                    "http.listen: `{}` is not an address such as 127.0.0.1:9187",
                    h.listen
                )),
                // with the proxy in charge of who sees the board, nothing
                // but the proxy may reach the listener
                Ok(a) if h.board_auth == super::BoardAuth::Proxy && !a.ip().is_loopback() => {
                    errs.push(format!(
                        "http.board_auth: `proxy` needs http.listen on a loopback address (for the reverse proxy on this host), not `{}`",
                        h.listen
                    ))
                }
                Ok(_) => {}
            }
        }
        for o in self.http.iter().flat_map(|h| &h.cors_origins) {
            let ok = url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.path() == "/"
                    && !o.ends_with('/')
            });
            if !ok {
                errs.push(format!(
                    "http.cors_origins: `{o}` is not an origin such as https://careers.example.org"
                ));
            }
        }
        if let Some(u) = self.http.as_ref().and_then(|h| h.public_url.as_ref()) {
            let ok = url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if !ok {
                errs.push(format!(
                    "http.public_url: `{u}` is not an http or https URL such as https://atsd.example.org"
                ));
            }
        }
        let mut hooks = std::collections::BTreeSet::new();
        for (i, w) in self.webhooks.iter().flat_map(|w| &w.out).enumerate() {
            let key = format!("webhooks.out[{i}] ({})", w.name);
            if w.name.trim().is_empty() {
                errs.push(format!("webhooks.out[{i}]: name is empty"));
            } else if !hooks.insert(w.name.as_str()) {
                errs.push(format!("{key}: name `{}` is used twice", w.name));
            }
            match url::Url::parse(&w.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => errs.push(format!(
                    "{key}.url: `{}` is not an http or https URL",
                    w.url
                )),
            }
            if let Err(e) = crate::events::check_types(&w.events) {
                errs.push(format!("{key}.events: {e}"));
            }
            if w.max_attempts == 0 {
                errs.push(format!("{key}.max_attempts: must be at least 1"));
            }
        }
        if let Some(g) = self.webhooks.as_ref().and_then(|w| w.greenhouse.as_ref())
            && g.secret_file.exists()
            && let Err(e) = crate::secret_file::check_permissions(
                &g.secret_file,
                "webhooks.greenhouse.secret_file",
            )
        {
            errs.push(e);
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// `localhost`, or an address of the loopback range.
fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_emails_follow_the_config_and_the_choice() {
        let c = Config::default();
        assert_eq!(
            c.stage_email("applied", &EmailChoice::StageDefault)
                .map(|s| s.template),
            Some("application_received".into())
        );
        assert_eq!(c.stage_email("screening", &EmailChoice::StageDefault), None);
        assert_eq!(c.stage_email("applied", &EmailChoice::None), None);
        assert_eq!(
            c.stage_email("rejected", &EmailChoice::Template(EmailSpec::new(""))),
            None
        );
        let r = c
            .stage_email("rejected", &EmailChoice::StageDefault)
            .unwrap();
        assert_eq!(r.delay.map(|d| d.to_string()), Some("2d".into()));
    }

    fn errors(toml: &str) -> Vec<String> {
        Config::parse(toml, "x").unwrap().validate().unwrap_err()
    }

    #[test]
    fn pipeline_problems_are_named() {
        let e = errors("[pipeline]\nstages = [\"applied\", \"applied\"]\n");
        assert!(e[0].contains("`applied` is listed twice"), "{e:?}");
        let e = errors("[pipeline]\nextra_moves = [\"screening -> ofer\"]\n");
        assert!(e[0].contains("`ofer`"), "{e:?}");
        let e = errors("[pipeline.emails]\nscreening = \"no_such_template\"\n");
        assert!(
            e[0].contains("pipeline.emails.screening") && e[0].contains("no_such_template"),
            "{e:?}"
        );
        let e = errors("[pipeline.emails]\nphone = \"offer\"\n");
        assert!(e[0].contains("unknown stage `phone`"), "{e:?}");
    }

    #[test]
    fn rule_problems_are_named() {
        let e = errors(
            "[[rules]]\nname = \"r\"\nstage = \"applied\"\nafter = \"3d\"\nmove_to = \"hired\"\n",
        );
        assert!(
            e[0].contains("rules[0] (r)") && e[0].contains("cannot move"),
            "{e:?}"
        );
        let e = errors("[[rules]]\nname = \"r\"\nstage = \"applied\"\nafter = \"3d\"\n");
        assert!(e[0].contains("move_to or remind"), "{e:?}");
        let e =
            errors("[[rules]]\nname = \"r\"\non = \"posting_opened\"\nmove_to = \"rejected\"\n");
        assert!(e[0].contains("posting_opened"), "{e:?}");
    }

    #[test]
    fn cron_and_timezone_problems_are_named() {
        let e = errors("[schedule]\npoll = \"every minute\"\ntimezone = \"Europe/Zurch\"\n");
        assert!(
            e.iter().any(|m| m.starts_with("schedule.timezone")),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m.starts_with("schedule.poll")), "{e:?}");
    }

    #[test]
    fn the_spec_example_rules_validate() {
        let c = Config::parse(
            r#"
[[rules]]
name = "stale-applied"
stage = "applied"
after = "30d"
move_to = "rejected"
reason = "no_response"

[[rules]]
name = "nudge-screening"
stage = "screening"
after = "5d"
remind = true

[[rules]]
name = "posting-closed"
on = "posting_closed"
move_to = "rejected"
reason = "posting_closed"
email = "posting_closed"
grace = "0s"
"#,
            "x",
        )
        .unwrap();
        c.validate().unwrap();
    }
}
