//! The library's error type. Every error says what was wrong and where; the CLI
//! maps [`Error::exit_code`] to the process exit code (2: bad input, nothing
//! changed; 1: anything else).

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad usage or bad input: a file, row, field or value at fault. Nothing changed.
    #[error("{0}")]
    Input(String),
    /// The thing named does not exist. Nothing changed.
    #[error("{0}")]
    NotFound(String),
    /// The pipeline (or another rule of the domain) refuses the request. Nothing changed.
    #[error("{0}")]
    Refused(String),
    /// Another writer changed the row first (compare-and-swap lost). Nothing changed.
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A template (an email's, a board page's) could not be rendered: the
    /// change that needed it is not made.
    #[error("{0}")]
    Render(String),
    /// The database holds something it should not (a row without the row
    /// it belongs to, an event that is not JSON).
    #[error("{0}")]
    Integrity(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else: a task that stopped, an answer that could not be
    /// encoded.
    #[error("{0}")]
    Other(String),
    /// A failure whose details the command already printed (its `--json`
    /// document included): only the message goes to stderr. Exit 1.
    #[error("{0}")]
    Reported(String),
    /// Cannot be done now, may be later (the database is down or locked):
    /// exit 75, EX_TEMPFAIL, so that a mail system tries again.
    #[error("{0}")]
    TryAgain(String),
    /// The input is too big to take: exit 65, EX_DATAERR.
    #[error("{0}")]
    TooBig(String),
}

impl Error {
    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// 2 for bad usage or bad input (nothing changed), 1 for any other failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) | Error::NotFound(_) | Error::Refused(_) => 2,
            Error::Conflict(_)
            | Error::Db(_)
            | Error::Render(_)
            | Error::Integrity(_)
            | Error::Io { .. }
            | Error::Other(_)
            | Error::Reported(_) => 1,
            Error::TryAgain(_) => 75,
            Error::TooBig(_) => 65,
        }
    }

    /// A short machine-readable kind for `--json` error output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Input(_) => "invalid_input",
            Error::NotFound(_) => "not_found",
            Error::Refused(_) => "refused",
            Error::Conflict(_) => "conflict",
            Error::Db(_) => "database",
            Error::Render(_) => "template",
            Error::Integrity(_) => "integrity",
            Error::Io { .. } => "io",
            Error::Other(_) | Error::Reported(_) => "error",
            Error::TryAgain(_) => "try_again",
            Error::TooBig(_) => "too_big",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
