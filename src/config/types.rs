//! Value types used in the configuration: durations (`30s`, `10m`, `2h`, `14d`),
//! sizes (`2MiB`) and stage/rule emails (`"rejection"` or `{ template, delay }`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A duration written as `30s`, `10m`, `2h`, `14d` (combinations like `1h 30m` work too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub std::time::Duration);

impl Dur {
    pub const fn secs(s: u64) -> Self {
        Dur(std::time::Duration::from_secs(s))
    }
    pub const fn days(d: u64) -> Self {
        Dur::secs(d * 86_400)
    }
    pub fn std(&self) -> std::time::Duration {
        self.0
    }
    pub fn chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err("empty duration: write e.g. 30s, 10m, 2h or 14d".into());
        }
        humantime::parse_duration(t)
            .map(Dur)
            .map_err(|e| format!("invalid duration `{s}` ({e}): write e.g. 30s, 10m, 2h or 14d"))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        if s == 0 {
            return f.write_str("0s");
        }
        for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s.is_multiple_of(n) {
                return write!(f, "{}{unit}", s / n);
            }
        }
        write!(f, "{s}s")
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A size in bytes written as `2MiB`, `512KiB`, `10MB` or a plain number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| Size(b.as_u64()))
            .map_err(|e| format!("invalid size `{s}` ({e}): write e.g. 2MiB"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: u64 = 1024 * 1024;
        const KIB: u64 = 1024;
        if self.0 >= MIB && self.0.is_multiple_of(MIB) {
            write!(f, "{}MiB", self.0 / MIB)
        } else if self.0 >= KIB && self.0.is_multiple_of(KIB) {
            write!(f, "{}KiB", self.0 / KIB)
        } else {
            write!(f, "{}B", self.0)
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a size such as \"2MiB\" or a number of bytes")]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The email a stage or rule sends: a template name, optionally delayed.
/// Written `"rejection"` or `{ template = "rejection", delay = "2d" }`;
/// `""` means no email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmailSpec {
    pub template: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Dur>,
}

impl EmailSpec {
    pub fn new(template: &str) -> Self {
        EmailSpec {
            template: template.into(),
            delay: None,
        }
    }
    /// `email = ""` switches the email off.
    pub fn is_none(&self) -> bool {
        self.template.is_empty()
    }
}

impl<'de> Deserialize<'de> for EmailSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            template: String,
            delay: Option<Dur>,
        }
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a template name, or a table { template = \"...\", delay = \"2d\" }"
        )]
        enum Raw {
            Name(String),
            Table(Table),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Name(template) => EmailSpec {
                template,
                delay: None,
            },
            Raw::Table(t) => EmailSpec {
                template: t.template,
                delay: t.delay,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_the_documented_units() {
        assert_eq!("30s".parse::<Dur>().unwrap(), Dur::secs(30));
        assert_eq!("10m".parse::<Dur>().unwrap(), Dur::secs(600));
        assert_eq!("2h".parse::<Dur>().unwrap(), Dur::secs(7200));
        assert_eq!("14d".parse::<Dur>().unwrap(), Dur::days(14));
        assert_eq!("0s".parse::<Dur>().unwrap(), Dur::secs(0));
        let err = "ten minutes".parse::<Dur>().unwrap_err();
        assert!(err.contains("`ten minutes`"), "{err}");
        assert!("".parse::<Dur>().is_err());
    }

    #[test]
    fn durations_print_in_the_largest_whole_unit() {
        assert_eq!(Dur::days(365).to_string(), "365d");
        assert_eq!(Dur::secs(600).to_string(), "10m");
        assert_eq!(Dur::secs(90).to_string(), "90s");
    }

    #[test]
    fn sizes_parse_binary_units() {
        assert_eq!("2MiB".parse::<Size>().unwrap(), Size(2 * 1024 * 1024));
        assert_eq!(Size(2 * 1024 * 1024).to_string(), "2MiB");
        assert!("two megs".parse::<Size>().is_err());
    }
}

/// What email a move sends: the one of the stage entered (from
/// `[pipeline.emails]`), none, or another instead. A rule's `email` and a
/// command's `--no-email` are choices; [`super::Config::stage_email`] turns one
/// into the template and delay to queue.
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
