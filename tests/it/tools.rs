//! The outside tools some tests talk to, and where `cargo xtask setup` put
//! them (xtask/src/tools.rs installs them; this reads the same places).
//!
//! A test that needs a tool starts with `needs!(Tool::…)`. When the tool is
//! missing the test returns at once, and the one test
//! `tools::every_outside_tool_is_installed` fails with a line naming what is
//! missing and the command that installs it: plain `cargo test` on a new
//! machine runs everything else and fails once, kindly. Under `cargo xtask
//! test` (`ATSD_TEST_REQUIRE_TOOLS=1`) a missing tool fails its own test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const INSTALL: &str = "cargo xtask setup";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// aiosmtpd (PyPI), the SMTP server of tests/smtp_sink.py
    Smtp,
    /// prometheus-client (PyPI), the OpenMetrics parser
    PrometheusClient,
    /// croniter (PyPI), tests/cron_oracle.py
    Croniter,
    /// standardwebhooks (PyPI), tests/webhook_receiver.py
    StandardWebhooks,
    /// schemathesis (PyPI)
    Schemathesis,
    /// Chromium (Debian) with playwright-core, axe-core and Lighthouse (npm)
    Browser,
    /// Spectral (npm)
    Spectral,
    /// promtool (Debian's prometheus, unpacked)
    Promtool,
    /// icalendar and vobject (PyPI), tests/ics_check.py
    Calendar,
    /// flufl.bounce (PyPI) and its source package's corpus
    Bounces,
    /// Debian's postfix, unpacked; its master runs as root (or through
    /// `sudo -n`)
    Postfix,
    /// libfaketime (Debian, unpacked): every `atsd` of the suite runs on a
    /// moved clock (tests/it/clock.rs)
    Faketime,
    /// ats-scrapers (PyPI), a Greenhouse Job Board client written by
    /// others: tests/greenhouse_client.py
    GreenhouseClient,
}

const ALL: [Tool; 13] = [
    Tool::Smtp,
    Tool::PrometheusClient,
    Tool::Croniter,
    Tool::StandardWebhooks,
    Tool::Schemathesis,
    Tool::Browser,
    Tool::Spectral,
    Tool::Promtool,
    Tool::Calendar,
    Tool::Bounces,
    Tool::Postfix,
    Tool::Faketime,
    Tool::GreenhouseClient,
];

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Smtp => "aiosmtpd (Python)",
            Tool::PrometheusClient => "prometheus-client (Python)",
            Tool::Croniter => "croniter (Python)",
            Tool::StandardWebhooks => "standardwebhooks (Python)",
            Tool::Schemathesis => "schemathesis (Python)",
            Tool::Browser => "chromium with playwright-core, axe-core and lighthouse (npm)",
            Tool::Spectral => "spectral (npm)",
            Tool::Promtool => "promtool",
            Tool::Calendar => "icalendar, vobject and recurring-ical-events (Python)",
            Tool::Bounces => "flufl.bounce and its corpus (Python)",
            Tool::Postfix => "postfix (Debian, unpacked) with root or passwordless sudo",
            Tool::Faketime => "libfaketime (Debian, unpacked)",
            Tool::GreenhouseClient => "ats-scrapers (Python)",
        }
    }

    fn present(self) -> bool {
        match self {
            Tool::Smtp => python_has("aiosmtpd"),
            Tool::PrometheusClient => python_has("prometheus_client"),
            Tool::Croniter => python_has("croniter"),
            Tool::StandardWebhooks => python_has("standardwebhooks"),
            Tool::Schemathesis => venv_bin("schemathesis").is_file(),
            Tool::Browser => {
                chromium().is_file()
                    && ["playwright-core", "axe-core", "lighthouse"]
                        .iter()
                        .all(|m| node_modules().join(m).is_dir())
            }
            Tool::Spectral => spectral().is_file(),
            Tool::Promtool => promtool().is_file(),
            Tool::Calendar => {
                python_has("icalendar")
                    && python_has("vobject")
                    && python_has("recurring_ical_events")
            }
            Tool::Bounces => python_has("flufl.bounce") && bounce_corpus().is_dir(),
            Tool::Postfix => {
                postfix_root().join("usr/lib/postfix/sbin/master").is_file()
                    && (crate::postfix::is_root()
                        || Command::new("sudo")
                            .args(["-n", "true"])
                            .output()
                            .is_ok_and(|o| o.status.success()))
            }
            Tool::Faketime => libfaketime().is_some(),
            Tool::GreenhouseClient => python_has("ats_scrapers"),
        }
    }
}

/// Where `cargo xtask setup` installs: `$ATSD_TEST_TOOLS`, else
/// `target/tools` of this checkout.
fn tools_dir() -> PathBuf {
    std::env::var_os("ATSD_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools"))
}

/// flufl.bounce's corpus of non-delivery reports.
pub fn bounce_corpus() -> PathBuf {
    tools_dir().join("flufl-bounce/flufl_bounce-6.0.0/tests/data")
}

/// Where `cargo xtask setup` unpacked Debian's postfix.
pub fn postfix_root() -> PathBuf {
    tools_dir().join("postfix")
}

/// libfaketime's multi-threaded library, where `cargo xtask setup`
/// unpacked Debian's libfaketime (the folder under `usr/lib` names the
/// machine's architecture).
pub fn libfaketime() -> Option<PathBuf> {
    let lib = tools_dir().join("faketime/usr/lib");
    std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.is_file())
}

pub(crate) fn required() -> bool {
    std::env::var_os("ATSD_TEST_REQUIRE_TOOLS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The virtual environment's Python, which has the tests' PyPI packages.
pub fn python() -> PathBuf {
    venv_bin("python")
}

fn venv_bin(name: &str) -> PathBuf {
    tools_dir().join("venv/bin").join(name)
}

/// A program of the tests' virtual environment (schemathesis).
pub fn python_tool(name: &str) -> PathBuf {
    venv_bin(name)
}

/// `tests/node/node_modules`, where `npm ci` put the Node.js tools.
pub fn node_modules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node/node_modules")
}

pub fn chromium() -> PathBuf {
    std::env::var_os("ATSD_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

pub fn spectral() -> PathBuf {
    node_modules().join(".bin/spectral")
}

pub fn promtool() -> PathBuf {
    tools_dir().join("prometheus/usr/bin/promtool")
}

/// Which Python modules the virtual environment has, asked once.
fn python_has(module: &str) -> bool {
    static FOUND: OnceLock<Vec<String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let script = "import importlib.util as u\n\
                 for m in ['aiosmtpd', 'prometheus_client', 'croniter', 'standardwebhooks', 'icalendar', 'vobject', 'recurring_ical_events', 'flufl.bounce', 'ats_scrapers']:\n\
                 \x20   print(m if u.find_spec(m) else '')";
            Command::new(python())
                .args(["-c", script])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        })
        .iter()
        .any(|m| m == module)
}

/// True when every tool is there. Otherwise false (the test returns), or
/// under `ATSD_TEST_REQUIRE_TOOLS` a panic naming what is missing.
pub fn have(tools: &[Tool]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|t| !t.present())
        .map(|t| t.name())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let line = format!("missing {}: run `{INSTALL}`", missing.join(", "));
    assert!(!required(), "{line}");
    eprintln!("skipped, {line}");
    false
}

/// Returns from the test when a tool it needs is missing (see the module's
/// comment).
macro_rules! needs {
    ($($tool:expr),+ $(,)?) => {
        if !$crate::tools::have(&[$($tool),+]) {
            return;
        }
    };
}
pub(crate) use needs;

/// The one failure plain `cargo test` shows on a machine without the tools.
#[test]
fn every_outside_tool_is_installed() {
    let missing: Vec<&str> = ALL
        .iter()
        .filter(|t| !t.present())
        .map(|t| t.name())
        .collect();
    assert!(
        missing.is_empty(),
        "the tests that need {} were skipped: run `{INSTALL}` (or `cargo xtask test`, which runs it)",
        missing.join(", ")
    );
}
