//! `ATSD_*` environment overrides. Every canonical key `section.key` can be set
//! as `ATSD_SECTION_KEY` (dots become underscores, upper case), e.g.
//! `ATSD_DATABASE_URL`, `ATSD_POLL_CONCURRENCY`, `ATSD_MAIL_SMTP_HOST`.
//! Variables that name no key (such as a password variable) are left alone.

use super::Config;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    List,
}

/// Every scalar or list key that an environment variable can set: every
/// such key of [`Config`] but those in [`NOT_FROM_ENV`]. A test holds the
/// two lists to the config's types in both directions.
pub const ENV_KEYS: &[(&str, Kind)] = &[
    ("database.url", Kind::Str),
    ("org.name", Kind::Str),
    ("org.default_locale", Kind::Str),
    ("pipeline.stages", Kind::List),
    ("pipeline.extra_moves", Kind::List),
    ("recruiters.emails", Kind::List),
    ("interviews.stage", Kind::Str),
    ("retention.anonymize_after", Kind::Str),
    ("retention.events_after", Kind::Str),
    ("retention.quarantine_after", Kind::Str),
    ("retention.idempotency_after", Kind::Str),
    ("retention.request_law", Kind::Str),
    ("schedule.timezone", Kind::Str),
    ("schedule.poll", Kind::Str),
    ("schedule.advance", Kind::Str),
    ("schedule.dispatch", Kind::Str),
    ("schedule.digest", Kind::Str),
    ("schedule.retention", Kind::Str),
    ("poll.concurrency", Kind::Int),
    ("poll.per_host", Kind::Int),
    ("poll.timeout", Kind::Str),
    ("poll.close_after_not_found", Kind::Int),
    ("poll.confirm_interval", Kind::Str),
    ("poll.allow_private_addresses", Kind::Bool),
    ("poll.max_body", Kind::Str),
    ("poll.allow_addresses", Kind::List),
    ("poll.sources.greenhouse.api_base", Kind::Str),
    ("poll.sources.lever.api_base", Kind::Str),
    ("poll.sources.ashby.api_base", Kind::Str),
    ("mail.transport", Kind::Str),
    ("mail.from", Kind::Str),
    ("mail.reply_to", Kind::Str),
    ("mail.max_attempts", Kind::Int),
    ("mail.rate_per_second", Kind::Int),
    ("mail.record", Kind::Str),
    ("mail.smtp.host", Kind::Str),
    ("mail.smtp.port", Kind::Int),
    ("mail.smtp.tls", Kind::Str),
    ("mail.smtp.username", Kind::Str),
    ("mail.smtp.password_env", Kind::Str),
    ("mail.smtp.password_file", Kind::Str),
    ("mail.smtp.ca_file", Kind::Str),
    ("mail.smtp.pool_size", Kind::Int),
    ("mail.smtp.timeout", Kind::Str),
    ("mail.smtp.allow_plaintext_auth", Kind::Bool),
    ("mail.file.dir", Kind::Str),
    ("mail.inbound.domain", Kind::Str),
    ("mail.inbound.key_file", Kind::Str),
    ("mail.inbound.max_size", Kind::Str),
    ("mail.inbound.lmtp_listen", Kind::Str),
    ("mail.inbound.quarantine_max_messages", Kind::Int),
    ("mail.inbound.quarantine_max_size", Kind::Str),
    ("mail.inbound.quarantine_per_sender", Kind::Int),
    ("templates.dir", Kind::Str),
    ("http.listen", Kind::Str),
    ("http.rate_limit", Kind::Int),
    ("http.cors_origins", Kind::List),
    ("http.public_url", Kind::Str),
    ("http.link_key_file", Kind::Str),
    ("http.link_ttl", Kind::Str),
    ("http.board_auth", Kind::Str),
    ("careers.board", Kind::Str),
    ("careers.listen", Kind::Str),
    ("careers.public_url", Kind::Str),
    ("careers.files_dir", Kind::Str),
    ("careers.max_file", Kind::Str),
    ("careers.rate_per_minute", Kind::Int),
    ("careers.forwarded_for", Kind::Bool),
    ("webhooks.greenhouse.secret_file", Kind::Str),
    ("log.format", Kind::Str),
];

/// The keys no environment variable sets: each is a list of tables or a
/// table of entries named by the operator, which a flat `ATSD_…` name cannot
/// spell.
pub const NOT_FROM_ENV: &[&str] = &["pipeline.emails", "rules", "webhooks.out"];

/// The environment variable that sets `key`.
pub fn env_var_for(key: &str) -> String {
    format!("ATSD_{}", key.replace('.', "_").to_ascii_uppercase())
}

fn value_for(var: &str, key: &str, kind: Kind, raw: &str) -> Result<toml::Value> {
    let bad = |what: &str| {
        Error::input(format!(
            "environment variable {var}={raw:?}: {key} expects {what}"
        ))
    };
    Ok(match kind {
        Kind::Str => toml::Value::String(raw.to_string()),
        Kind::Int => toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(bad("true or false")),
        },
        Kind::List => {
            let t = raw.trim();
            if t.starts_with('[') {
                let doc: toml::Table = format!("v = {t}")
                    .parse()
                    .map_err(|_| bad("a TOML array or a comma-separated list"))?;
                doc.get("v").cloned().ok_or_else(|| bad("a list"))?
            } else {
                toml::Value::Array(
                    t.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_string()))
                        .collect(),
                )
            }
        }
    })
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut cur = table;
    for p in parts {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => cur = t,
            _ => unreachable!("entry was made a table above"),
        }
    }
    cur.insert(last.to_string(), value);
}

/// Applies the overrides found in `vars` on top of the file `text` (already
/// parsed into `config`). Returns the names of the variables used.
pub(super) fn apply(
    config: &mut Config,
    text: &str,
    vars: &[(String, String)],
) -> Result<Vec<String>> {
    let mut used = Vec::new();
    let mut table: Option<toml::Table> = None;
    for (key, kind) in ENV_KEYS {
        let var = env_var_for(key);
        let Some((_, raw)) = vars.iter().find(|(k, _)| *k == var) else {
            continue;
        };
        let t = match &mut table {
            Some(t) => t,
            None => table.insert(
                text.parse::<toml::Table>()
                    .map_err(|e| Error::input(format!("config: {e}")))?,
            ),
        };
        set_path(t, key, value_for(&var, key, *kind, raw)?);
        used.push(var);
    }
    if let Some(t) = table {
        *config = toml::Value::Table(t).try_into().map_err(|e| {
            Error::input(format!(
                "configuration with overrides from {}: {e}",
                used.join(", ")
            ))
        })?;
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    /// A configuration with every key set. Every struct is written out
    /// field by field (no `..Default::default()`), so that a key added to
    /// the config does not compile here until it is set, and then the test
    /// below asks for it in `ENV_KEYS` or `NOT_FROM_ENV`.
    // Stays whole: a test table naming every key once.
    fn every_key_set() -> Config {
        let spec = EmailSpec {
            template: "rejection".into(),
            delay: Some(Dur::days(2)),
        };
        Config {
            database: DatabaseConfig {
                url: Some("sqlite://atsd.db".into()),
            },
            org: OrgConfig {
                name: "Org".into(),
                default_locale: "en".into(),
            },
            pipeline: PipelineConfig {
                stages: vec!["applied".into()],
                extra_moves: vec![],
                emails: BTreeMap::from([("rejected".to_string(), spec.clone())]),
            },
            rules: vec![RuleConfig {
                name: "r".into(),
                stage: Some("applied".into()),
                after: Some(Dur::days(1)),
                move_to: Some("rejected".into()),
                reason: Some("x".into()),
                remind: false,
                on: Some("posting_closed".into()),
                email: Some(spec),
                grace: Some(Dur::days(1)),
            }],
            recruiters: RecruitersConfig {
                emails: vec!["r@example.org".into()],
            },
            interviews: InterviewsConfig {
                stage: Some("interview".into()),
            },
            retention: RetentionConfig {
                anonymize_after: Dur::days(1),
                events_after: Dur::days(1),
                quarantine_after: Dur::days(1),
                idempotency_after: Dur::days(1),
                request_law: "ccpa".into(),
            },
            schedule: ScheduleConfig {
                timezone: "UTC".into(),
                poll: "* * * * *".into(),
                advance: "* * * * *".into(),
                dispatch: "* * * * *".into(),
                digest: "* * * * *".into(),
                retention: "* * * * *".into(),
            },
            poll: PollConfig {
                concurrency: 1,
                per_host: 1,
                timeout: Dur::secs(1),
                close_after_not_found: 1,
                confirm_interval: Dur::secs(1),
                allow_private_addresses: true,
                max_body: Size(1),
                allow_addresses: vec!["127.0.0.1:1".into()],
                sources: SourcesConfig {
                    greenhouse: SourceConfig {
                        api_base: "http://x".into(),
                    },
                    lever: SourceConfig {
                        api_base: "http://x".into(),
                    },
                    ashby: SourceConfig {
                        api_base: "http://x".into(),
                    },
                },
            },
            mail: MailConfig {
                transport: Transport::Smtp,
                from: "a@example.org".into(),
                reply_to: Some("b@example.org".into()),
                inbound: Some(crate::config::InboundConfig {
                    domain: "jobs.example.org".into(),
                    key_file: Some(PathBuf::from("k")),
                    max_size: crate::config::Size(1024),
                    lmtp_listen: Some("127.0.0.1:2424".into()),
                    quarantine_max_messages: 1,
                    quarantine_max_size: crate::config::Size(1),
                    quarantine_per_sender: 1,
                    key: None,
                }),
                max_attempts: 1,
                rate_per_second: 1,
                record: Record::Batched,
                smtp: SmtpConfig {
                    host: "h".into(),
                    port: 1,
                    tls: Tls::None,
                    username: Some("u".into()),
                    password_env: Some("P".into()),
                    password_file: Some(PathBuf::from("p")),
                    ca_file: Some(PathBuf::from("c")),
                    pool_size: 1,
                    timeout: Dur::secs(1),
                    allow_plaintext_auth: true,
                },
                file: FileTransportConfig {
                    dir: PathBuf::from("d"),
                },
            },
            templates: TemplatesConfig {
                dir: Some(PathBuf::from("t")),
            },
            http: Some(HttpConfig {
                listen: "127.0.0.1:1".into(),
                rate_limit: 1,
                cors_origins: vec!["https://x".into()],
                public_url: Some("https://x".into()),
                link_key_file: Some(PathBuf::from("k")),
                link_ttl: Dur::days(1),
                board_auth: BoardAuth::Proxy,
            }),
            webhooks: Some(WebhooksConfig {
                greenhouse: Some(GreenhouseWebhookConfig {
                    secret_file: PathBuf::from("s"),
                }),
                out: vec![OutWebhookConfig {
                    name: "n".into(),
                    url: "https://x".into(),
                    secret_file: PathBuf::from("s"),
                    events: vec!["email.sent".into()],
                    max_attempts: 1,
                    timeout: Dur::secs(1),
                }],
            }),
            careers: Some(crate::config::CareersConfig {
                board: "b".into(),
                listen: "127.0.0.1:1".into(),
                public_url: Some("https://x".into()),
                files_dir: Some(PathBuf::from("f")),
                max_file: crate::config::Size(1),
                rate_per_minute: 1,
                forwarded_for: true,
            }),
            log: LogConfig {
                format: LogFormat::Json,
            },
        }
    }

    /// The keys under `prefix` of a serialized config, and the kind of each.
    fn leaves(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, Kind>) {
        let kind = match v {
            toml::Value::Table(t) => {
                if NOT_FROM_ENV.contains(&prefix) {
                    out.insert(prefix.to_string(), Kind::Str);
                    return;
                }
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&key, v, out);
                }
                return;
            }
            toml::Value::Integer(_) => Kind::Int,
            toml::Value::Boolean(_) => Kind::Bool,
            toml::Value::Array(_) => Kind::List,
            _ => Kind::Str,
        };
        out.insert(prefix.to_string(), kind);
    }

    #[test]
    fn env_keys_are_every_key_of_the_config_and_nothing_else() {
        let mut found = BTreeMap::new();
        leaves(
            "",
            &toml::Value::try_from(every_key_set()).unwrap(),
            &mut found,
        );
        for k in NOT_FROM_ENV {
            assert!(found.remove(*k).is_some(), "{k} is not a key of the config");
        }
        let listed: BTreeMap<String, Kind> = ENV_KEYS
            .iter()
            .map(|(k, kind)| (k.to_string(), *kind))
            .collect();
        let missing: Vec<&String> = found.keys().filter(|k| !listed.contains_key(*k)).collect();
        let unknown: Vec<&String> = listed.keys().filter(|k| !found.contains_key(*k)).collect();
        assert!(
            missing.is_empty(),
            "keys no environment variable can set: {missing:?}"
        );
        assert!(
            unknown.is_empty(),
            "ENV_KEYS that are not keys of the config: {unknown:?}"
        );
        for (k, kind) in &found {
            assert_eq!(listed[k], *kind, "the kind of {k}");
        }
    }

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn env_names_follow_the_keys() {
        assert_eq!(env_var_for("database.url"), "ATSD_DATABASE_URL");
        assert_eq!(
            env_var_for("poll.sources.greenhouse.api_base"),
            "ATSD_POLL_SOURCES_GREENHOUSE_API_BASE"
        );
    }

    #[test]
    fn overrides_win_over_the_file_and_keep_the_rest() {
        let text = "[poll]\nconcurrency = 4\nper_host = 2\n";
        let mut c = Config::parse(text, "x").unwrap();
        let used = apply(
            &mut c,
            text,
            &vars(&[
                ("ATSD_POLL_CONCURRENCY", "9"),
                ("ATSD_RECRUITERS_EMAILS", "a@x.org, b@x.org"),
                ("ATSD_SMTP_PASSWORD", "secret"),
            ]),
        )
        .unwrap();
        assert_eq!(c.poll.concurrency, 9);
        assert_eq!(c.poll.per_host, 2);
        assert_eq!(c.recruiters.emails, vec!["a@x.org", "b@x.org"]);
        assert_eq!(used.len(), 2);
    }

    #[test]
    fn a_bad_override_names_the_variable() {
        let mut c = Config::default();
        let err = apply(&mut c, "", &vars(&[("ATSD_POLL_CONCURRENCY", "many")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ATSD_POLL_CONCURRENCY"), "{err}");
        let err = apply(&mut c, "", &vars(&[("ATSD_POLL_TIMEOUT", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ATSD_POLL_TIMEOUT") && err.contains("soon"),
            "{err}"
        );
    }

    #[test]
    fn every_env_key_exists_in_the_example_file() {
        let example: toml::Table = super::super::EXAMPLE.parse().unwrap();
        for (key, _) in ENV_KEYS {
            let mut cur = &example;
            let parts: Vec<&str> = key.split('.').collect();
            for (i, p) in parts.iter().enumerate() {
                if i + 1 == parts.len() {
                    // optional keys are present but commented out in the example
                    let commented = super::super::EXAMPLE.contains(&format!("# {p} ="))
                        || super::super::EXAMPLE.contains(&format!("#{p} ="));
                    assert!(cur.contains_key(*p) || commented, "{key} missing");
                } else {
                    match cur.get(*p) {
                        Some(toml::Value::Table(t)) => cur = t,
                        _ => {
                            assert!(
                                super::super::EXAMPLE
                                    .contains(&format!("[{}", parts[..=i].join("."))),
                                "{key} missing"
                            );
                            break;
                        }
                    }
                }
            }
        }
    }
}
