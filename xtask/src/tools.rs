//! The outside tools of the tests: what each is for, how to tell it is
//! there, and how to install it where it belongs.
//!
//! | tool | from | where |
//! |---|---|---|
//! | Python packages of `tests/requirements.txt` (aiosmtpd, prometheus-client, croniter, standardwebhooks, schemathesis, icalendar, vobject, recurring-ical-events, ats-scrapers) | PyPI | `target/tools/venv` |
//! | npm modules of `tests/node/package-lock.json` (playwright-core, axe-core, Lighthouse, Spectral) | npm, `npm ci` | `tests/node/node_modules` |
//! | flufl.bounce's test corpus (117 non-delivery reports; its scanner is in the venv) | PyPI, the source package | `target/tools/flufl-bounce` |
//! | Chromium | Debian (`chromium`) | `/usr/bin/chromium` |
//! | promtool | Debian (`prometheus`, unpacked, not installed: no service) | `target/tools/prometheus` |
//! | libfaketime (every `atsd` of the suite runs on a moved clock, tests/it/clock.rs) | Debian (`libfaketime`, unpacked) | `target/tools/faketime` |
//! | Postfix (a real MTA for the inbound-mail test; smtp-sink and smtp-source for the dispatch benchmark) | Debian (`postfix`, unpacked, not installed: installed, it would start the machine's mail server) | `target/tools/postfix` |
//!
//! and with `--bench`, the benchmarks' own: wrk (Debian's `wrk`).
//!
//! Each install writes a stamp (a copy of the pin file it installed from),
//! so that a second set-up only compares files and returns at once.

use crate::Workspace;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Node.js major version playwright-core 1.65 and Spectral need.
const NODE_MAJOR: u32 = 20;

struct Tool {
    name: &'static str,
    /// what the tests use it for
    purpose: &'static str,
    /// Ok(where it is) or Err(what is missing)
    present: fn(&Workspace) -> Result<String, String>,
    install: fn(&Workspace, &Apt) -> Result<(), String>,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "python",
        purpose: "aiosmtpd, prometheus-client, croniter, standardwebhooks, schemathesis, icalendar, vobject, recurring-ical-events, ats-scrapers (PyPI)",
        present: python_present,
        install: python_install,
    },
    Tool {
        name: "bounces",
        purpose: "flufl.bounce's corpus of real non-delivery reports, the oracle of atsd's bounce reading (PyPI sdist)",
        present: bounces_present,
        install: bounces_install,
    },
    Tool {
        name: "node",
        purpose: "playwright-core, axe-core, Lighthouse, Spectral (npm)",
        present: node_present,
        install: node_install,
    },
    Tool {
        name: "chromium",
        purpose: "the recruiter board in a real browser (Debian's chromium)",
        present: chromium_present,
        install: chromium_install,
    },
    Tool {
        name: "promtool",
        purpose: "checks /metrics in the Prometheus text format (Debian's prometheus, unpacked)",
        present: promtool_present,
        install: promtool_install,
    },
    Tool {
        name: "postfix",
        purpose: "a real MTA under the test's own folder (bounces and replies coming back over LMTP and pipe); smtp-sink and smtp-source for the dispatch benchmark (Debian's postfix, unpacked)",
        present: postfix_present,
        install: postfix_install,
    },
    Tool {
        name: "faketime",
        purpose: "moves the clock of every atsd the suite starts, so that no test passes only on some dates (Debian's libfaketime, unpacked)",
        present: faketime_present,
        install: faketime_install,
    },
];

/// The benchmarks' outside tools (`cargo xtask setup --bench`).
const BENCH_TOOLS: &[Tool] = &[Tool {
    name: "wrk",
    purpose: "the HTTP load of the board and intake benchmarks (Debian's wrk)",
    present: wrk_present,
    install: wrk_install,
}];

/// Installs every missing tool, one line each (and the benchmarks' with
/// `bench`).
pub fn setup(ws: &Workspace, bench: bool) -> Result<(), String> {
    let started = Instant::now();
    println!("== outside tools of the tests (cargo xtask tools lists them)");
    let apt = Apt::default();
    let bench_tools: &[Tool] = if bench { BENCH_TOOLS } else { &[] };
    for tool in TOOLS.iter().chain(bench_tools) {
        let t = Instant::now();
        match (tool.present)(ws) {
            Ok(at) => println!("{:<9} ok: {at}", tool.name),
            Err(missing) => {
                println!("{:<9} installing: {missing}", tool.name);
                (tool.install)(ws, &apt).map_err(|e| format!("{}: {e}", tool.name))?;
                let at = (tool.present)(ws)
                    .map_err(|e| format!("{}: installed, but still {e}", tool.name))?;
                println!("{:<9} installed in {:.0?}: {at}", tool.name, t.elapsed());
            }
        }
    }
    println!("== set-up done in {:.1?}", started.elapsed());
    Ok(())
}

/// `cargo xtask tools`: each tool, what it is for, where it is.
pub fn list(ws: &Workspace) -> Result<(), String> {
    let mut missing = 0;
    for tool in TOOLS.iter().chain(BENCH_TOOLS) {
        match (tool.present)(ws) {
            Ok(at) => println!("{:<9} {at}\n          for {}", tool.name, tool.purpose),
            Err(e) => {
                missing += 1;
                println!(
                    "{:<9} MISSING: {e}\n          for {}",
                    tool.name, tool.purpose
                )
            }
        }
    }
    if missing > 0 {
        println!(
            "\n`cargo xtask setup` installs what the tests need, `cargo xtask setup --bench` the benchmarks' too"
        );
    }
    Ok(())
}

/// PostgreSQL answers on the URL's host and port (a TCP connect: enough to
/// tell "not started" apart, before a whole test run fails on it).
pub fn postgres_answers(url: &str) -> Result<(), String> {
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or(format!("{url}: not a postgres:// URL"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let addr = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    };
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(&addr.as_str())
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(3)).is_ok()
        });
    if reachable {
        Ok(())
    } else {
        Err(format!(
            "PostgreSQL does not answer at {addr} ({url}): start it \
             (Debian: pg_ctlcluster --skip-systemctl-redirect 15 main start) or pass --postgres-url"
        ))
    }
}

// ---- Python: a project-local virtual environment from PyPI ----

fn venv(ws: &Workspace) -> PathBuf {
    ws.tools.join("venv")
}

fn python_present(ws: &Workspace) -> Result<String, String> {
    let python = venv(ws).join("bin/python");
    if !python.is_file() {
        return Err(format!("no virtual environment at {}", venv(ws).display()));
    }
    stamp_matches(
        &ws.root.join("tests/requirements.txt"),
        &venv(ws).join("atsd-requirements.txt"),
    )?;
    Ok(format!("{} (tests/requirements.txt)", python.display()))
}

fn python_install(ws: &Workspace, apt: &Apt) -> Result<(), String> {
    let dir = venv(ws);
    if !dir.join("bin/python").is_file() {
        std::fs::create_dir_all(&ws.tools).map_err(|e| format!("{}: {e}", ws.tools.display()))?;
        let made = output(Command::new("python3").args(["-m", "venv"]).arg(&dir));
        if let Err(e) = made {
            // Debian's python3 has venv's pip in a package of its own
            if !e.contains("ensurepip") {
                return Err(format!("python3 -m venv: {e}"));
            }
            apt.install(&["python3-venv"])?;
            let _ = std::fs::remove_dir_all(&dir);
            output(Command::new("python3").args(["-m", "venv"]).arg(&dir))
                .map_err(|e| format!("python3 -m venv: {e}"))?;
        }
    }
    let requirements = ws.root.join("tests/requirements.txt");
    run(Command::new(dir.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--requirement")
        .arg(&requirements))?;
    write_stamp(&requirements, &dir.join("atsd-requirements.txt"))
}

// ---- flufl.bounce's corpus: its source package's tests/data ----

/// The version whose corpus the tests read (its scanner, pinned in
/// tests/requirements.txt, is the same).
const FLUFL_BOUNCE: &str = "6.0.0";

fn bounces_dir(ws: &Workspace) -> PathBuf {
    ws.tools.join("flufl-bounce")
}

fn bounces_present(ws: &Workspace) -> Result<String, String> {
    let data = bounces_dir(ws).join(format!("flufl_bounce-{FLUFL_BOUNCE}/tests/data"));
    let n = std::fs::read_dir(&data)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
                .count()
        })
        .unwrap_or(0);
    if n < 100 {
        return Err(format!("no corpus at {}", data.display()));
    }
    Ok(format!("{} ({n} reports)", data.display()))
}

fn bounces_install(ws: &Workspace, _: &Apt) -> Result<(), String> {
    let dir = bounces_dir(ws);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let python = venv(ws).join("bin/python");
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-binary",
            ":all:",
        ])
        .arg(format!("flufl.bounce=={FLUFL_BOUNCE}"))
        .arg("-d")
        .arg(&dir))?;
    let archive = dir.join(format!("flufl_bounce-{FLUFL_BOUNCE}.tar.gz"));
    run(Command::new(&python)
        .args([
            "-c",
            "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='data')",
        ])
        .arg(&archive)
        .arg(&dir))
}

// ---- Node.js modules with npm ci ----

fn node_dir(ws: &Workspace) -> PathBuf {
    ws.root.join("tests/node")
}

fn node_present(ws: &Workspace) -> Result<String, String> {
    let version = node_version()?;
    // npm ci empties node_modules first, so the stamp goes with it
    stamp_matches(
        &node_dir(ws).join("package-lock.json"),
        &node_dir(ws).join("node_modules/.atsd-package-lock.json"),
    )?;
    Ok(format!(
        "{} (Node.js {version})",
        node_dir(ws).join("node_modules").display()
    ))
}

fn node_version() -> Result<String, String> {
    let v = output(Command::new("node").arg("--version"))
        .map_err(|_| "no Node.js (`node`) on PATH".to_string())?;
    let v = v.trim().trim_start_matches('v').to_string();
    let major: u32 = v
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < NODE_MAJOR {
        return Err(format!(
            "Node.js {v} is older than the {NODE_MAJOR} that playwright-core and Spectral need"
        ));
    }
    Ok(v)
}

fn node_install(ws: &Workspace, apt: &Apt) -> Result<(), String> {
    if output(Command::new("node").arg("--version")).is_err() {
        apt.install(&["nodejs", "npm"])?;
    }
    node_version().map_err(|e| {
        format!("{e}: install Node.js {NODE_MAJOR} or later (Debian 12's own is 18)")
    })?;
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(node_dir(ws)))?;
    write_stamp(
        &node_dir(ws).join("package-lock.json"),
        &node_dir(ws).join("node_modules/.atsd-package-lock.json"),
    )
}

// ---- Chromium from Debian: a browser has no other source here ----

/// The browser the board test drives (tests/it/tools.rs reads the same).
fn chromium_path() -> PathBuf {
    std::env::var_os("ATSD_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn chromium_present(_: &Workspace) -> Result<String, String> {
    let path = chromium_path();
    if path.is_file() {
        Ok(path.display().to_string())
    } else {
        Err(format!("no browser at {}", path.display()))
    }
}

fn chromium_install(_: &Workspace, apt: &Apt) -> Result<(), String> {
    apt.install(&["chromium"])
}

// ---- promtool: Debian's prometheus package, unpacked, never installed ----

fn promtool_dir(ws: &Workspace) -> PathBuf {
    ws.tools.join("prometheus")
}

fn promtool_present(ws: &Workspace) -> Result<String, String> {
    let bin = promtool_dir(ws).join("usr/bin/promtool");
    if bin.is_file() {
        Ok(bin.display().to_string())
    } else {
        Err(format!("no promtool at {}", bin.display()))
    }
}

fn promtool_install(ws: &Workspace, apt: &Apt) -> Result<(), String> {
    // the package proper would start a Prometheus server; only its
    // statically linked promtool is wanted
    unpack(ws, apt, "prometheus", &promtool_dir(ws))
}

// ---- the benchmarks' tools ----

fn postfix_dir(ws: &Workspace) -> PathBuf {
    ws.tools.join("postfix")
}

fn postfix_present(ws: &Workspace) -> Result<String, String> {
    let root = postfix_dir(ws);
    for tool in [
        "usr/sbin/postfix",
        "usr/sbin/smtp-sink",
        "usr/sbin/smtp-source",
        "usr/lib/postfix/sbin/master",
        "etc/postfix/postfix-files",
    ] {
        if !root.join(tool).is_file() {
            return Err(format!("no {tool} in {}", root.display()));
        }
    }
    Ok(format!(
        "{} (master, smtp-sink, smtp-source)",
        root.display()
    ))
}

fn postfix_install(ws: &Workspace, apt: &Apt) -> Result<(), String> {
    // the package proper would configure and start a mail server on port
    // 25; the tests run its programs from the unpacked files, with their
    // libraries and a configuration folder of their own
    unpack(ws, apt, "postfix", &postfix_dir(ws))
}

// ---- libfaketime: Debian's package, unpacked; the tests preload it ----

fn faketime_dir(ws: &Workspace) -> PathBuf {
    ws.tools.join("faketime")
}

fn faketime_present(ws: &Workspace) -> Result<String, String> {
    // usr/lib/<architecture>/faketime/ (tests/it/tools.rs looks the same way)
    let lib = faketime_dir(ws).join("usr/lib");
    std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
        .ok_or(format!("no libfaketimeMT.so.1 under {}", lib.display()))
}

fn faketime_install(ws: &Workspace, apt: &Apt) -> Result<(), String> {
    unpack(ws, apt, "libfaketime", &faketime_dir(ws))
}

fn wrk_present(_: &Workspace) -> Result<String, String> {
    output(Command::new("wrk").arg("--version"))
        .or_else(|e| {
            // wrk prints its version and exits 1
            if e.contains("wrk ") { Ok(e) } else { Err(e) }
        })
        .map(|_| "wrk on PATH".to_string())
        .map_err(|_| "no wrk on PATH".to_string())
}

fn wrk_install(_: &Workspace, apt: &Apt) -> Result<(), String> {
    apt.install(&["wrk"])
}

/// Downloads a Debian package and unpacks it into `into`, without
/// installing it (no maintainer scripts, no services).
fn unpack(ws: &Workspace, apt: &Apt, package: &str, into: &Path) -> Result<(), String> {
    let debs = ws.tools.join("debs");
    std::fs::create_dir_all(&debs).map_err(|e| format!("{}: {e}", debs.display()))?;
    apt.download(package, &debs)?;
    let prefix = format!("{package}_");
    let deb = std::fs::read_dir(&debs)
        .map_err(|e| format!("{}: {e}", debs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .ok_or(format!("apt-get download {package} left no .deb"))?;
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(into))
}

// ---- stamps ----

/// The stamp is a copy of the pin file the tool was installed from.
fn stamp_matches(pins: &Path, stamp: &Path) -> Result<(), String> {
    let want = std::fs::read(pins).map_err(|e| format!("{}: {e}", pins.display()))?;
    match std::fs::read(stamp) {
        Ok(have) if have == want => Ok(()),
        Ok(_) => Err(format!("{} changed since the last install", pins.display())),
        Err(_) => Err(format!("not installed from {}", pins.display())),
    }
}

fn write_stamp(pins: &Path, stamp: &Path) -> Result<(), String> {
    std::fs::copy(pins, stamp)
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", stamp.display()))
}

// ---- Debian packages ----

/// apt-get, as root or through `sudo -n`; the package lists are refreshed
/// once per set-up, and only when something is installed.
#[derive(Default)]
struct Apt {
    updated: Cell<bool>,
}

impl Apt {
    fn command(&self) -> Result<Command, String> {
        let root = output(Command::new("id").arg("-u")).is_ok_and(|u| u.trim() == "0");
        if root {
            return Ok(Command::new("apt-get"));
        }
        if Command::new("sudo")
            .args(["-n", "true"])
            .status()
            .is_ok_and(|s| s.success())
        {
            let mut c = Command::new("sudo");
            c.arg("-n").arg("apt-get");
            return Ok(c);
        }
        Err(
            "Debian packages need root: run `cargo xtask setup` as root, or with \
             passwordless sudo"
                .into(),
        )
    }

    fn update(&self) -> Result<(), String> {
        if !self.updated.get() {
            run(self.command()?.args(["update", "-qq"]))?;
            self.updated.set(true);
        }
        Ok(())
    }

    fn install(&self, packages: &[&str]) -> Result<(), String> {
        self.update()?;
        // dpkg's hundreds of lines are shown only if it fails
        output(
            self.command()?
                .args(["install", "-y", "-qq"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
        .map(|_| ())
        .map_err(|e| format!("apt-get install {}: {e}", packages.join(" ")))
    }

    /// Fetches a package's .deb into `dir` without installing it.
    fn download(&self, package: &str, dir: &Path) -> Result<(), String> {
        let fetch = || {
            output(
                Command::new("apt-get")
                    .args(["download", "-qq", package])
                    .current_dir(dir),
            )
        };
        if fetch().is_ok() {
            return Ok(());
        }
        self.update()?;
        fetch()
            .map(|_| ())
            .map_err(|e| format!("apt-get download {package}: {e}"))
    }
}

// ---- running commands ----

/// Runs a command with its output on the terminal.
fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", describe(cmd)))
    }
}

/// Runs a command and returns its standard output, or its error output.
fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_matches_only_the_pins_it_was_installed_from() {
        let dir = std::env::temp_dir().join(format!("xtask-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pins = dir.join("pins");
        let stamp = dir.join("stamp");
        std::fs::write(&pins, "a==1\n").unwrap();
        assert!(
            stamp_matches(&pins, &stamp)
                .unwrap_err()
                .contains("not installed")
        );
        write_stamp(&pins, &stamp).unwrap();
        assert!(stamp_matches(&pins, &stamp).is_ok());
        std::fs::write(&pins, "a==2\n").unwrap();
        assert!(
            stamp_matches(&pins, &stamp)
                .unwrap_err()
                .contains("changed")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn postgres_that_does_not_answer_is_named_with_its_address() {
        // a port nothing listens on: bound, then released
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let e = postgres_answers(&format!("postgres://u@127.0.0.1:{port}/db")).unwrap_err();
        assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
        let e = postgres_answers("mysql:/x").unwrap_err();
        assert!(e.contains("not a postgres:// URL"), "{e}");
    }
}
