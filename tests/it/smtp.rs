//! A real SMTP server on loopback for the tests: Debian's python3-aiosmtpd,
//! run with /usr/bin/python3, scripted by recipient (see tests/smtp_sink.py).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Sink {
    pub port: u16,
    out: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Sink {
    /// A sink that advertises PIPELINING, as Postfix does.
    pub fn start(port: u16) -> Sink {
        Sink::spawn(port, &[])
    }

    /// A sink that does not advertise PIPELINING.
    pub fn start_without_pipelining(port: u16) -> Sink {
        Sink::spawn(port, &["--no-pipelining"])
    }

    /// A sink that requires AUTH with this user and password.
    pub fn start_with_login(port: u16, user: &str, password: &str) -> Sink {
        Sink::spawn(port, &["--auth", &format!("{user}:{password}")])
    }

    fn spawn(port: u16, flags: &[&str]) -> Sink {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("messages.jsonl");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&out)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start /usr/bin/python3 tests/smtp_sink.py (install python3-aiosmtpd)");
        let stdout = child.stdout.take().expect("sink stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sink ready line");
        assert_eq!(line.trim(), "READY", "SMTP sink did not start");
        Sink {
            port,
            out,
            child,
            _dir: dir,
        }
    }

    pub fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("sink JSON line"))
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
