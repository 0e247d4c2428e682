//! Configuration (SPEC §3): defaults, then the TOML file, then `ATSD_*`
//! environment variables, then command-line flags. Unknown keys are errors that
//! name the key and the line; [`Config::validate`] checks what types cannot
//! (pipeline, rules, cron expressions, time zones, template names).

mod env;
mod mail;
mod types;
mod validate;

pub use env::{ENV_KEYS, NOT_FROM_ENV, env_var_for};
pub use mail::*;
pub use types::{Dur, EmailChoice, EmailSpec, Size};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The commented example written by `atsd init`; it holds every canonical key.
pub const EXAMPLE: &str = include_str!("atsd.example.toml");

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub org: OrgConfig,
    pub pipeline: PipelineConfig,
    pub rules: Vec<RuleConfig>,
    pub recruiters: RecruitersConfig,
    pub interviews: InterviewsConfig,
    pub retention: RetentionConfig,
    pub schedule: ScheduleConfig,
    pub poll: PollConfig,
    pub mail: MailConfig,
    pub templates: TemplatesConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<WebhooksConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub careers: Option<CareersConfig>,
    pub log: LogConfig,
}

/// `[careers]`: the careers site and Greenhouse's Job Board API, served on
/// a listener of their own so that the rest (`/v1`, `/board`, `/metrics`)
/// need not be exposed with them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareersConfig {
    /// The board's token: `/v1/boards/{board}/…`.
    pub board: String,
    /// Where the careers pages and the Job Board API listen.
    pub listen: String,
    /// The address candidates reach the careers site at (each job's
    /// `absolute_url`); else `http://{listen}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Where uploaded files are kept (content-addressed); else `files/` in
    /// `$STATE_DIRECTORY` or the database's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_dir: Option<PathBuf>,
    /// The largest file an application may bring.
    #[serde(default = "default_max_file")]
    pub max_file: Size,
    /// Applications per minute from one address (a burst of as many); 0: no limit.
    #[serde(default = "default_careers_rate")]
    pub rate_per_minute: u32,
    /// Behind a reverse proxy: the client's address is the last one of
    /// `X-Forwarded-For` (else the connection's).
    #[serde(default)]
    pub forwarded_for: bool,
}

fn default_max_file() -> Size {
    Size(10 * 1024 * 1024)
}

fn default_careers_rate() -> u32 {
    10
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greenhouse: Option<GreenhouseWebhookConfig>,
    /// `[[webhooks.out]]`: endpoints that receive atsd's events.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub out: Vec<OutWebhookConfig>,
}

/// `[[webhooks.out]]`: an endpoint that receives events, signed the way the
/// Standard Webhooks specification says with the secret in `secret_file`
/// (`whsec_` and the key in base64).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutWebhookConfig {
    /// The endpoint's name in `atsd webhook list` (and its cursor's key:
    /// renaming it starts it afresh).
    pub name: String,
    pub url: String,
    pub secret_file: PathBuf,
    /// Event types (`application.*` for a family); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Attempts before a delivery is `dead`.
    #[serde(default = "default_hook_attempts")]
    pub max_attempts: u32,
    /// How long one delivery may take.
    #[serde(default = "default_hook_timeout")]
    pub timeout: Dur,
}

fn default_hook_attempts() -> u32 {
    12
}

fn default_hook_timeout() -> Dur {
    Dur(std::time::Duration::from_secs(10))
}

/// `[webhooks.greenhouse]`: Greenhouse's webhooks in, signed with the secret
/// in `secret_file`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GreenhouseWebhookConfig {
    pub secret_file: PathBuf,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH?mode=rwc` or `postgres://...`; unset means `atsd.db` in
    /// `$STATE_DIRECTORY` or the current directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrgConfig {
    pub name: String,
    pub default_locale: String,
}

impl Default for OrgConfig {
    fn default() -> Self {
        OrgConfig {
            name: "Example Org".into(),
            default_locale: "en".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Active stages in order; the terminal stages `hired`, `rejected` and
    /// `withdrawn` follow them.
    pub stages: Vec<String>,
    /// Extra allowed moves, written `"from -> to"`.
    pub extra_moves: Vec<String>,
    /// The email sent on entering a stage.
    pub emails: BTreeMap<String, EmailSpec>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let mut emails = BTreeMap::new();
        emails.insert("applied".into(), EmailSpec::new("application_received"));
        emails.insert("interview".into(), EmailSpec::new("interview_invitation"));
        emails.insert("offer".into(), EmailSpec::new("offer"));
        emails.insert(
            "rejected".into(),
            EmailSpec {
                template: "rejection".into(),
                delay: Some(Dur::days(2)),
            },
        );
        PipelineConfig {
            stages: ["applied", "screening", "interview", "offer"]
                .map(String::from)
                .to_vec(),
            extra_moves: vec!["screening -> offer".into()],
            emails,
        }
    }
}

/// One `[[rules]]` entry. Which fields apply depends on the kind of rule:
/// stale (`stage` + `after`, then `move_to` or `remind = true`) or event
/// (`on = "posting_closed"` + `move_to`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub remind: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<Dur>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecruitersConfig {
    pub emails: Vec<String>,
}

/// `[interviews]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterviewsConfig {
    /// Scheduling an interview for an application in an earlier stage
    /// moves it here (when the pipeline allows), its stage email replaced
    /// by the invitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub anonymize_after: Dur,
    /// Events older than this are deleted (with their finished webhook
    /// deliveries), unless a delivery still waits for them.
    pub events_after: Dur,
    /// Quarantined inbound messages older than this are deleted.
    pub quarantine_after: Dur,
    /// The API's idempotency keys (and the answers stored with them, which
    /// may name a candidate) older than this are deleted: a retry within it
    /// gets the first answer.
    pub idempotency_after: Dur,
    /// The law whose clock a request opened by a candidate's own privacy
    /// link keeps (`gdpr` or `ccpa`).
    pub request_law: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            anonymize_after: Dur::days(365),
            events_after: Dur::days(365),
            quarantine_after: Dur::days(30),
            idempotency_after: Dur::days(1),
            request_law: "gdpr".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    pub timezone: String,
    pub poll: String,
    pub advance: String,
    pub dispatch: String,
    pub digest: String,
    pub retention: String,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            timezone: "UTC".into(),
            poll: "*/15 * * * *".into(),
            advance: "*/5 * * * *".into(),
            dispatch: "* * * * *".into(),
            digest: "0 9 * * MON-FRI".into(),
            retention: "0 3 * * *".into(),
        }
    }
}

impl ScheduleConfig {
    /// The schedule's time zone (validated when the configuration loads).
    pub fn tz(&self) -> Result<chrono_tz::Tz> {
        self.timezone.parse().map_err(|_| {
            Error::input(format!(
                "schedule.timezone: `{}` is not an IANA time zone",
                self.timezone
            ))
        })
    }

    /// `(job, expression)` for every scheduled job, in the order `tick` runs them.
    pub fn jobs(&self) -> [(&'static str, &str); 5] {
        [
            ("poll", &self.poll),
            ("advance", &self.advance),
            ("dispatch", &self.dispatch),
            ("digest", &self.digest),
            ("retention", &self.retention),
        ]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollConfig {
    pub concurrency: u32,
    pub per_host: u32,
    pub timeout: Dur,
    pub close_after_not_found: u32,
    pub confirm_interval: Dur,
    pub allow_private_addresses: bool,
    pub max_body: Size,
    /// Exact `ip:port` addresses allowed even when private addresses are not
    /// (a local test server, an internal proxy).
    pub allow_addresses: Vec<String>,
    pub sources: SourcesConfig,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            concurrency: 16,
            per_host: 4,
            timeout: Dur::secs(10),
            close_after_not_found: 2,
            confirm_interval: Dur::secs(600),
            allow_private_addresses: false,
            max_body: Size(2 * 1024 * 1024),
            allow_addresses: Vec::new(),
            sources: SourcesConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    pub greenhouse: SourceConfig,
    pub lever: SourceConfig,
    pub ashby: SourceConfig,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            greenhouse: SourceConfig::new("https://boards-api.greenhouse.io"),
            lever: SourceConfig::new("https://api.lever.co"),
            ashby: SourceConfig::new("https://api.ashbyhq.com"),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub api_base: String,
}

impl SourceConfig {
    fn new(base: &str) -> Self {
        SourceConfig {
            api_base: base.into(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplatesConfig {
    /// A directory whose files override the built-in templates file by file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: String,
    /// API requests per second per token (a burst of as many); 0: no limit.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    /// Web origins whose pages may call the API from a browser (CORS); none
    /// by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    /// The address candidates reach atsd at (e.g. `https://atsd.example.org`):
    /// set, candidate emails carry a self-service withdraw link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The links' signing key (else the systemd credential `link-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_key_file: Option<PathBuf>,
    /// How long a self-service link works.
    #[serde(default = "default_link_ttl")]
    pub link_ttl: Dur,
    /// Who may see the recruiter board (`/board`): holders of a `recruiter`
    /// or `read` token (a session cookie), or whoever the operator's reverse
    /// proxy lets through.
    #[serde(default)]
    pub board_auth: BoardAuth,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoardAuth {
    #[default]
    Token,
    Proxy,
}

fn default_link_ttl() -> Dur {
    Dur(std::time::Duration::from_secs(30 * 24 * 3600))
}

fn default_rate_limit() -> u32 {
    100
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Auto,
    Plain,
    Json,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// Where the configuration came from, for messages and relative paths.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub config: Config,
    /// The file read, if any (None: built-in defaults).
    pub path: Option<PathBuf>,
    /// `ATSD_*` variables that overrode keys.
    pub env_overrides: Vec<String>,
}

impl Config {
    /// Parses a configuration file's text. Errors name the file, the line and
    /// the key (unknown keys, wrong types, bad durations).
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        toml::from_str::<Config>(text).map_err(|e| Error::input(format!("{origin}: {e}")))
    }

    /// Reads the file at `path` (or the defaults when None), then applies
    /// `ATSD_*` overrides from `vars`, then validates.
    pub fn load_from(path: Option<&Path>, vars: &[(String, String)]) -> Result<Loaded> {
        let (mut config, text, path) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Error::io(format!("cannot read config {}", p.display()), e))?;
                let config = Config::parse(&text, &p.display().to_string())?;
                (config, text, Some(p.to_path_buf()))
            }
            None => (Config::default(), String::new(), None),
        };
        let env_overrides = env::apply(&mut config, &text, vars)?;
        if let Some(p) = &path {
            config.resolve_paths(p.parent().unwrap_or(Path::new(".")));
        }
        let origin = path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in defaults".into());
        config.validate().map_err(|errs| {
            Error::input(format!(
                "{origin}: invalid configuration:\n  {}",
                errs.join("\n  ")
            ))
        })?;
        // without its key (a command run outside the service, which cannot
        // read the credential), mail goes out without tagged addresses and
        // nothing coming back can be matched: a warning here, an error in
        // check-config, status and the daemon's start
        if let Some(inbound) = config.mail.inbound.as_mut()
            && let Err(e) = inbound.read_key()
        {
            tracing::warn!(error = %e, "mail goes out without bounce and reply addresses");
        }
        Ok(Loaded {
            config,
            path,
            env_overrides,
        })
    }

    /// Finds the file per SPEC §2 (`--config`, `$ATSD_CONFIG`, `./atsd.toml`,
    /// `/etc/atsd/atsd.toml`, else defaults) and loads it with the process
    /// environment.
    pub fn load(explicit: Option<&Path>) -> Result<Loaded> {
        let vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("ATSD_"))
            .collect();
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => match std::env::var_os("ATSD_CONFIG").filter(|v| !v.is_empty()) {
                Some(p) => Some(PathBuf::from(p)),
                None => ["atsd.toml", "/etc/atsd/atsd.toml"]
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| p.is_file()),
            },
        };
        if let Some(p) = &path
            && !p.exists()
        {
            return Err(Error::input(format!(
                "config file {} does not exist",
                p.display()
            )));
        }
        Config::load_from(path.as_deref(), &vars)
    }

    /// Relative paths in a config file are taken relative to the file's folder,
    /// so the file means the same thing whatever the working directory.
    fn resolve_paths(&mut self, base: &Path) {
        if let Some(url) = &self.database.url
            && let Some(rest) = url.strip_prefix("sqlite://")
        {
            let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !file.is_empty() && !file.starts_with('/') && file != ":memory:" {
                let joined = base.join(file);
                let q = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                self.database.url = Some(format!("sqlite://{}{q}", joined.display()));
            }
        }
        let gh = self
            .webhooks
            .as_mut()
            .and_then(|w| w.greenhouse.as_mut())
            .map(|g| &mut g.secret_file);
        if let Some(p) = gh
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        if let Some(p) = self.http.as_mut().and_then(|h| h.link_key_file.as_mut())
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        if let Some(p) = self.mail.inbound.as_mut().and_then(|i| i.key_file.as_mut())
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        for w in self.webhooks.iter_mut().flat_map(|w| &mut w.out) {
            if w.secret_file.is_relative() {
                w.secret_file = base.join(&w.secret_file);
            }
        }
        for path in [
            &mut self.templates.dir,
            &mut self.mail.smtp.password_file,
            &mut self.mail.smtp.ca_file,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_validates() {
        let c = Config::parse(EXAMPLE, "atsd.example.toml").unwrap();
        c.validate().unwrap();
        assert_eq!(c.mail.transport, Transport::File);
        assert_eq!(c.pipeline.stages, Config::default().pipeline.stages);
    }

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = Config::parse("[poll]\nconcurrency = 4\nconcurency = 5\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("concurency"), "{err}");
    }

    #[test]
    fn unknown_section_is_refused() {
        let err = Config::parse("[pol]\nconcurrency = 4\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pol") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn a_table_given_replaces_its_defaults_as_a_whole() {
        let c = Config::parse(
            "[pipeline.emails]\napplied = \"application_received\"\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.pipeline.emails.len(), 1);
        // keys not given in a given table keep their defaults
        assert_eq!(c.pipeline.stages.len(), 4);
    }

    #[test]
    fn bad_duration_names_the_line_and_value() {
        let err = Config::parse("[poll]\ntimeout = \"ten\"\n", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("`ten`"), "{err}");
    }

    #[test]
    fn stage_email_accepts_name_or_table() {
        let c = Config::parse(
            "[pipeline.emails]\napplied = \"a\"\nrejected = { template = \"rejection\", delay = \"2d\" }\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.pipeline.emails["rejected"].delay, Some(Dur::days(2)));
        assert_eq!(c.pipeline.emails["applied"].template, "a");
    }

    #[test]
    fn relative_sqlite_path_is_taken_beside_the_file() {
        let mut c = Config::default();
        c.database.url = Some("sqlite://atsd.db?mode=rwc".into());
        c.resolve_paths(Path::new("/etc/atsd"));
        assert_eq!(
            c.database.url.as_deref(),
            Some("sqlite:///etc/atsd/atsd.db?mode=rwc")
        );
    }
}
