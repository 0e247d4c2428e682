//! Postings (pure): their status, which job board and API a posting's URL
//! belongs to ([`url`]), and reading posting files (`atsd posting import`,
//! [`mod@file`]).

pub mod file;
pub mod url;

pub use self::url::{ApiBases, Recognized, Source, recognize};

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Unknown,
    Open,
    Closed,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unknown" => Ok(Status::Unknown),
            "open" => Ok(Status::Open),
            "closed" => Ok(Status::Closed),
            _ => Err(format!(
                "unknown posting status `{s}` (unknown, open, closed)"
            )),
        }
    }
}
