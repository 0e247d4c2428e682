//! Where emails go: SMTP (a pool of connections, [`super::smtp`]), one
//! `.eml` file per message in a folder, or the log only. Built once from the
//! configuration and reused.

use super::compose::eml_file_name;
use super::smtp::{Failure, Gate, SendError, SmtpPool};
use crate::config::{Config, Transport};
use crate::error::{Error, Result};
use entity::outbox;
use lettre::Message;
use std::path::PathBuf;

/// The `file` transport's folder: `[mail.file] dir`, relative to `base` (the
/// SQLite database's folder; the working directory otherwise).
pub fn file_dir(config: &Config, base: Option<PathBuf>) -> PathBuf {
    let dir = &config.mail.file.dir;
    if dir.is_absolute() {
        dir.clone()
    } else {
        base.unwrap_or_default().join(dir)
    }
}

/// Where emails go.
pub enum Sender {
    Smtp(Box<SmtpPool>),
    /// One `.eml` file per message in this folder.
    File(PathBuf),
    /// Only logged.
    Log,
}

impl Sender {
    /// Built once from the configuration and reused.
    pub fn from_config(config: &Config, outbox_dir: Option<PathBuf>) -> Result<Sender> {
        let m = &config.mail;
        Ok(match m.transport {
            Transport::Log => Sender::Log,
            Transport::File => {
                let dir = file_dir(config, outbox_dir);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
                Sender::File(dir)
            }
            Transport::Smtp => Sender::Smtp(Box::new(SmtpPool::from_config(config)?)),
        })
    }

    /// Sends `msg`, the body once `gate` opens (see [`Gate`]).
    pub async fn send(
        &self,
        msg: Message,
        row: &outbox::Model,
        gate: Gate,
    ) -> std::result::Result<(), SendError> {
        let shut = || {
            SendError::new(
                Failure::Unavailable,
                "the email could not be marked as going out in the database; not sent".into(),
            )
        };
        match self {
            Sender::Smtp(pool) => pool.send(&msg, gate).await,
            Sender::File(dir) => {
                if !gate.await {
                    return Err(shut());
                }
                let path = dir.join(eml_file_name(&row.message_id));
                let mut bytes = msg.formatted();
                // a VERP envelope sender (`[mail.inbound]`) is shown as a
                // mailbox would keep it, so that the file says where a
                // bounce of it goes
                if let Some(from) = msg.envelope().from()
                    && from.user().starts_with("bounces+")
                {
                    let mut with = format!("Return-Path: <{from}>\r\n").into_bytes();
                    with.append(&mut bytes);
                    bytes = with;
                }
                tokio::fs::write(&path, bytes).await.map_err(|e| {
                    SendError::new(
                        Failure::Unavailable,
                        format!("cannot write {}: {e}", path.display()),
                    )
                })
            }
            Sender::Log => {
                if !gate.await {
                    return Err(shut());
                }
                tracing::info!(outbox = row.id, template = %row.template, message_id = %row.message_id, "email (log transport)");
                tracing::debug!(outbox = row.id, to = %row.recipient, "email (log transport)");
                Ok(())
            }
        }
    }
}
