//! A real SMTP server on loopback for the tests: aiosmtpd from PyPI, in the
//! virtual environment `cargo xtask setup` makes, scripted by recipient (see
//! tests/smtp_sink.py).

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

    /// A sink that offers (and requires) STARTTLS with this certificate.
    pub fn start_with_starttls(port: u16, tls: &TestCa) -> Sink {
        let (cert, key) = tls.server_files();
        Sink::spawn(port, &["--starttls", &cert, &key])
    }

    /// A sink that speaks TLS from the first byte (implicit TLS).
    pub fn start_with_implicit_tls(port: u16, tls: &TestCa) -> Sink {
        let (cert, key) = tls.server_files();
        Sink::spawn(port, &["--smtps", &cert, &key])
    }

    /// A sink with these flags of tests/smtp_sink.py (`--refuse-mail`, …).
    pub fn start_with(port: u16, flags: &[&str]) -> Sink {
        Sink::spawn(port, flags)
    }

    fn spawn(port: u16, flags: &[&str]) -> Sink {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("messages.jsonl");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new(crate::tools::python())
            .arg(&script)
            .arg(port.to_string())
            .arg(&out)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/smtp_sink.py (cargo xtask setup installs aiosmtpd)");
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

    /// How many copies of each Message-ID arrived.
    pub fn copies_by_message_id(&self) -> std::collections::HashMap<String, usize> {
        let mut by_id = std::collections::HashMap::new();
        for m in self.messages() {
            *by_id.entry(message_id(&m)).or_insert(0) += 1;
        }
        by_id
    }

    /// How many messages are stored so far (whole lines, not parsed).
    pub fn count(&self) -> usize {
        std::fs::read(&self.out)
            .map(|b| b.iter().filter(|c| **c == b'\n').count())
            .unwrap_or(0)
    }

    /// The messages stored so far. The sink may be writing one while this
    /// reads: only whole lines count.
    pub fn messages(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |i| &text[..i]);
        whole
            .lines()
            .map(|l| serde_json::from_str(l).expect("sink JSON line"))
            .collect()
    }
}

/// The Message-ID header of a message the sink stored.
pub fn message_id(m: &Value) -> String {
    let data = m["data"].as_str().expect("message data");
    data.split("\r\n")
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("a Message-ID header")
        .to_string()
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway certificate authority and a server certificate it signed for
/// 127.0.0.1, as PEM files in a temporary folder.
pub struct TestCa {
    pub dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("server key");
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("server params")
            .signed_by(&key, &issuer)
            .expect("server certificate");
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).expect("write CA");
        std::fs::write(dir.path().join("server.pem"), cert.pem()).expect("write cert");
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).expect("write key");
        TestCa { dir }
    }

    /// The CA certificate a client should trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn server_files(&self) -> (String, String) {
        let p = |f: &str| self.dir.path().join(f).display().to_string();
        (p("server.pem"), p("server.key"))
    }
}
