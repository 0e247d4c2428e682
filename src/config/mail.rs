//! `[mail]`, `[mail.smtp]`, `[mail.file]` and `[mail.inbound]`: how email
//! leaves and comes back.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Smtp,
    File,
    Log,
}

/// When the dispatcher records what became of an email.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Record {
    /// Each outcome as soon as its reply arrives (the outcomes of every
    /// connection that arrive together in one commit), and each email marked
    /// as going out before its body is written: a crash resends at most the
    /// one email each connection had on the wire, and warns of exactly those.
    #[default]
    Each,
    /// Outcomes gathered for up to 100 ms per commit, without the marks:
    /// faster for a bulk sender, but a crash may resend up to 128 emails
    /// per connection, each with a warning.
    Batched,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub transport: Transport,
    pub from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub max_attempts: u32,
    /// Emails per second, summed over every daemon of the database (0: no cap).
    pub rate_per_second: u32,
    pub record: Record,
    pub smtp: SmtpConfig,
    pub file: FileTransportConfig,
    /// Mail that comes back (bounces, replies): off without `domain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound: Option<InboundConfig>,
}

/// `[mail.inbound]`: the domain whose `bounces+…` and `reply+…` addresses
/// reach atsd, the key of their tags, and how mail gets in.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundConfig {
    pub domain: String,
    /// The tags' key (at least 32 bytes); else the systemd credential
    /// `inbound-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// The biggest message taken (default 10 MiB).
    #[serde(default = "default_inbound_max")]
    pub max_size: Size,
    /// `atsd run` serves LMTP here (loopback only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lmtp_listen: Option<String>,
    /// The most quarantined messages kept: past it the oldest go first.
    #[serde(default = "default_quarantine_messages")]
    pub quarantine_max_messages: u64,
    /// The most bytes of quarantined messages kept, all added up.
    #[serde(default = "default_quarantine_size")]
    pub quarantine_max_size: Size,
    /// The most messages of one sender quarantined in an hour (0: no
    /// limit): past it their messages are counted, not kept, so that one
    /// sender cannot push everyone else's out of the quarantine.
    #[serde(default = "default_quarantine_per_sender")]
    pub quarantine_per_sender: u64,
    /// The key itself, read when the configuration is loaded.
    #[serde(skip)]
    pub key: Option<Secret>,
}

/// Key material read from a file: shared, never printed.
#[derive(Clone)]
pub struct Secret(std::sync::Arc<Vec<u8>>);

impl Secret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl InboundConfig {
    /// The key file: `key_file`, else `$CREDENTIALS_DIRECTORY/inbound-key`.
    pub fn key_path(&self) -> Option<PathBuf> {
        self.key_file.clone().or_else(|| {
            std::env::var_os("CREDENTIALS_DIRECTORY")
                .map(|d| PathBuf::from(d).join("inbound-key"))
                .filter(|p| p.is_file())
        })
    }

    /// The key is there, or why it is not.
    pub fn check_key(&self) -> Result<()> {
        match self.key {
            Some(_) => Ok(()),
            None => self.clone().read_key(),
        }
    }

    /// Reads the key (at least 32 bytes, whitespace around it ignored).
    pub(super) fn read_key(&mut self) -> Result<()> {
        let path = self.key_path().ok_or_else(|| {
            Error::input(
                "mail.inbound: there is no key for the addresses' tags: set mail.inbound.key_file \
                 (or give the service the credential inbound-key)",
            )
        })?;
        let text =
            crate::secret_file::read(&path, "mail.inbound.key_file").map_err(Error::input)?;
        let key = text.trim().as_bytes().to_vec();
        if key.len() < 32 {
            return Err(Error::input(format!(
                "mail.inbound.key_file: {}: the key is {} bytes; use at least 32 (e.g. head -c 48 /dev/urandom | base64)",
                path.display(),
                key.len()
            )));
        }
        self.key = Some(Secret(std::sync::Arc::new(key)));
        Ok(())
    }
}

fn default_quarantine_messages() -> u64 {
    10_000
}

fn default_quarantine_per_sender() -> u64 {
    100
}

fn default_quarantine_size() -> Size {
    Size(1024 * 1024 * 1024)
}

fn default_inbound_max() -> Size {
    Size(10 * 1024 * 1024)
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: Transport::File,
            from: "Recruiting <jobs@example.org>".into(),
            reply_to: Some("recruiting@example.org".into()),
            max_attempts: 8,
            rate_per_second: 20,
            record: Record::Each,
            smtp: SmtpConfig::default(),
            file: FileTransportConfig::default(),
            inbound: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// More certificate authorities (PEM) to trust for the server's TLS
    /// certificate, beside the public roots: for a relay with an internal CA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    pub pool_size: u32,
    pub timeout: Dur,
    /// Authenticate over `tls = "none"` to a relay that is not on
    /// loopback: the password crosses the network in clear.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_plaintext_auth: bool,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "localhost".into(),
            port: 587,
            tls: Tls::Starttls,
            username: None,
            password_env: None,
            password_file: None,
            ca_file: None,
            pool_size: 4,
            timeout: Dur::secs(30),
            allow_plaintext_auth: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileTransportConfig {
    /// Relative paths are taken beside the database.
    pub dir: PathBuf,
}

impl Default for FileTransportConfig {
    fn default() -> Self {
        FileTransportConfig {
            dir: PathBuf::from("outbox"),
        }
    }
}
