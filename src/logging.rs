//! Where log lines go and what they look like (SPEC §4 "Logs").
//!
//! - At a terminal: timestamps, colours when stderr is a terminal.
//! - Under journald (`JOURNAL_STREAM` set, as systemd does for a service's
//!   stderr): no timestamps (the journal has them) and each line starts with
//!   its level as a syslog priority, `<3>` error, `<4>` warning, `<6>` info,
//!   `<7>` debug, which journald reads off the stream, so `journalctl -p err`
//!   shows the errors alone.
//! - `[log] format = "json"`: one JSON object per line for log shippers.
//!
//! Lines about an application, posting, email or job run carry its id as a
//! field (`application=`, `posting=`, `outbox=`, `run=`); names and email
//! addresses appear only at debug level.

use crate::config::LogFormat;
use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{DefaultFields, Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How lines are written, decided from the config and the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Timestamps; colours if `colour`.
    Terminal {
        colour: bool,
    },
    /// `<N>` priority prefix, no timestamps.
    Journal,
    Json,
}

impl Style {
    /// `format` from `[log]`; `journal_stream` is whether `JOURNAL_STREAM`
    /// is set; `tty` whether stderr is a terminal (and `NO_COLOR` unset).
    pub fn choose(format: LogFormat, journal_stream: bool, tty: bool) -> Style {
        match format {
            LogFormat::Json => Style::Json,
            LogFormat::Auto if journal_stream => Style::Journal,
            LogFormat::Plain if journal_stream => Style::Journal,
            LogFormat::Auto => Style::Terminal { colour: tty },
            LogFormat::Plain => Style::Terminal { colour: false },
        }
    }

    pub fn from_env(format: LogFormat) -> Style {
        let journal = std::env::var_os("JOURNAL_STREAM").is_some();
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none();
        Style::choose(format, journal, tty)
    }
}

/// The syslog priority journald reads from a `<N>` line prefix.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The default format without timestamps, each line prefixed `<N>`.
struct Journal {
    inner: Format<tracing_subscriber::fmt::format::Full, ()>,
}

impl<S, N> FormatEvent<S, N> for Journal
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.inner.format_event(ctx, writer, event)
    }
}

/// Installs the global subscriber: `verbose` 0 = warn, 1 = info, 2+ = debug,
/// unless `ATSD_LOG` (an `EnvFilter` directive such as `atsd=debug`) says
/// otherwise. A second call does nothing.
pub fn init(verbose: u8, style: Style) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("ATSD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match style {
        Style::Terminal { colour } => builder.with_ansi(colour).try_init(),
        Style::Journal => builder
            .with_ansi(false)
            .fmt_fields(DefaultFields::new())
            .event_format(Journal {
                inner: Format::default().without_time().with_target(false),
            })
            .try_init(),
        Style::Json => builder
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journald_gets_priorities_and_a_terminal_gets_timestamps() {
        assert_eq!(Style::choose(LogFormat::Auto, true, false), Style::Journal);
        assert_eq!(
            Style::choose(LogFormat::Auto, false, true),
            Style::Terminal { colour: true }
        );
        assert_eq!(
            Style::choose(LogFormat::Plain, false, true),
            Style::Terminal { colour: false }
        );
        assert_eq!(Style::choose(LogFormat::Json, true, true), Style::Json);
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
    }
}
