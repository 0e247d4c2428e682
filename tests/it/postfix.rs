//! Mail that comes back through a real MTA: Debian's Postfix (unpacked by
//! `cargo xtask setup`), run from a configuration and queue folder of the
//! test's own, its smtpd on a loopback port of its own. atsd sends through
//! it; the candidates' domain is delivered locally, where one candidate's
//! mailbox does not exist, so the bounce is Postfix's own; atsd's addresses
//! come back to atsd as the book's "Inbound mail" chapter in docs/ configures Postfix: bounces
//! over LMTP to `atsd run`, replies through `pipe` to `atsd mail receive`,
//! which is killed (-9) in the middle once — Postfix's retry stores the
//! reply once.

use crate::api::Api;
use crate::common::Env;
use crate::daemon::rows;
use crate::smtp::free_port;
use crate::tools::{Tool, needs, postfix_root};
use sea_orm::ConnectionTrait as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DOMAIN: &str = "jobs.example.org";
const KEY: &str = "an-inbound-key-of-more-than-32-bytes-0123456789";

/// Whether the tests run as root (Postfix's master must).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program` as root: as it is when the tests run as root, else through
/// `sudo -n` (which drops LD_LIBRARY_PATH: `env` sets it again).
fn as_root(program: &Path) -> Command {
    let lib = postfix_root().join("usr/lib/postfix");
    let mut c = if is_root() {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "env"])
            .arg(format!("LD_LIBRARY_PATH={}", lib.display()))
            .arg(program);
        c
    };
    c.env("LD_LIBRARY_PATH", &lib);
    c
}

/// The user Postfix's pipe runs atsd as: never root, so `nobody` when the
/// tests run as root (the test's folder is then handed to it), else the
/// tests' own user.
fn pipe_user() -> String {
    if is_root() {
        return "nobody".into();
    }
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A Postfix instance of the test's own; stopped when dropped.
pub struct Postfix {
    dir: PathBuf,
    log: PathBuf,
    master: Child,
}

impl Postfix {
    /// Starts Postfix in `dir`: smtpd on 127.0.0.1:`port`;
    /// `candidates.example.net` delivered locally (no such users: Postfix
    /// bounces), `accepted.example.net` taken and discarded; atsd's
    /// addresses of [`DOMAIN`] to LMTP on `lmtp`, except replies, which go
    /// through `pipe` to `receive` (atsd's argv, to which Postfix adds
    /// `--recipient ${recipient}`).
    pub fn start(dir: &Path, port: u16, lmtp: u16, receive: &str) -> Postfix {
        let root = postfix_root();
        for sub in ["queue", "data", "postfix-files.d"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        std::fs::copy(
            root.join("etc/postfix/postfix-files"),
            dir.join("postfix-files"),
        )
        .expect("postfix-files");
        std::fs::write(dir.join("dynamicmaps.cf"), "").expect("dynamicmaps.cf");
        let (d, r) = (dir.display(), root.display());
        std::fs::write(
            dir.join("main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {d}/queue\n\
                 data_directory = {d}/data\n\
                 meta_directory = {d}\n\
                 daemon_directory = {r}/usr/lib/postfix/sbin\n\
                 command_directory = {r}/usr/sbin\n\
                 shlib_directory = {r}/usr/lib/postfix\n\
                 import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE \
                 POSTLOG_HOSTNAME LD_LIBRARY_PATH={r}/usr/lib/postfix\n\
                 mail_owner = mail\n\
                 setgid_group = uucp\n\
                 default_privs = nobody\n\
                 maillog_file = /dev/stdout\n\
                 inet_interfaces = 127.0.0.1\n\
                 inet_protocols = ipv4\n\
                 myhostname = mx.candidates.example.net\n\
                 myorigin = $myhostname\n\
                 mynetworks = 127.0.0.0/8\n\
                 relay_domains =\n\
                 # the candidates' mailboxes: local, and nobody lives there\n\
                 mydestination = candidates.example.net\n\
                 local_recipient_maps =\n\
                 alias_maps =\n\
                 alias_database =\n\
                 biff = no\n\
                 # atsd's addresses, as README \"Inbound mail\" has them\n\
                 virtual_mailbox_domains = {DOMAIN}\n\
                 virtual_mailbox_maps = regexp:{d}/atsd-recipients\n\
                 virtual_transport = lmtp:inet:127.0.0.1:{lmtp}\n\
                 # replies through the pipe instead; a domain that takes everything\n\
                 transport_maps = regexp:{d}/transport\n\
                 lmtp_host_lookup = native\n\
                 smtp_host_lookup = native\n\
                 # retry soon: the test waits for it\n\
                 queue_run_delay = 1s\n\
                 minimal_backoff_time = 1s\n\
                 maximal_backoff_time = 2s\n"
            ),
        )
        .expect("main.cf");
        std::fs::write(
            dir.join("atsd-recipients"),
            "/^(bounces|reply)\\+[0-9]+(\\.(c|p[0-9]+))?-[0-9a-f]{12}@jobs\\.example\\.org$/ OK\n",
        )
        .expect("atsd-recipients");
        std::fs::write(
            dir.join("transport"),
            "/^reply\\+.*@jobs\\.example\\.org$/ atsd:\n/@accepted\\.example\\.net$/ discard:\n",
        )
        .expect("transport");
        let user = pipe_user();
        std::fs::write(
            dir.join("master.cf"),
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd\n\
                 pickup    unix  n - n 60  1 pickup\n\
                 cleanup   unix  n - n -   0 cleanup\n\
                 qmgr      unix  n - n 300 1 qmgr\n\
                 rewrite   unix  - - n -   - trivial-rewrite\n\
                 bounce    unix  - - n -   0 bounce\n\
                 defer     unix  - - n -   0 bounce\n\
                 trace     unix  - - n -   0 bounce\n\
                 verify    unix  - - n -   1 verify\n\
                 flush     unix  n - n 1000? 0 flush\n\
                 proxymap  unix  - - n -   - proxymap\n\
                 smtp      unix  - - n -   - smtp\n\
                 relay     unix  - - n -   - smtp\n\
                 showq     unix  n - n -   - showq\n\
                 error     unix  - - n -   - error\n\
                 retry     unix  - - n -   - error\n\
                 discard   unix  - - n -   - discard\n\
                 local     unix  - n n -   - local\n\
                 lmtp      unix  - - n -   - lmtp\n\
                 anvil     unix  - - n -   1 anvil\n\
                 scache    unix  - - n -   1 scache\n\
                 postlog   unix-dgram n - n - 1 postlogd\n\
                 # README \"Inbound mail\": the pipe\n\
                 atsd      unix  - n n -   10 pipe\n\
                 \x20 flags=R user={user} argv={receive} --recipient ${{recipient}}\n"
            ),
        )
        .expect("master.cf");
        // the data folder is the mail system owner's
        let chown = as_root(Path::new("chown"))
            .arg("mail")
            .arg(dir.join("data"))
            .status()
            .expect("chown");
        assert!(chown.success(), "chown mail {d}/data");
        let log = dir.join("postfix.log");
        let out = std::fs::File::create(&log).expect("postfix.log");
        let master = as_root(&root.join("usr/sbin/postfix"))
            .arg("-c")
            .arg(dir)
            .arg("start-fg")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("run postfix start-fg");
        let p = Postfix {
            dir: dir.to_path_buf(),
            log,
            master,
        };
        p.wait_for("Postfix's smtpd listening", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        p
    }

    /// What Postfix logged so far (its own checks' warnings left out).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.contains("postfix-script"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `postqueue -f`: try every queued message now. (A message that qmgr
    /// found still locked by the delivery that had just deferred it waits
    /// 60 seconds in the incoming queue otherwise; a flush ignores that.)
    pub fn flush(&self) {
        let _ = as_root(&postfix_root().join("usr/sbin/postqueue"))
            .arg("-c")
            .arg(&self.dir)
            .arg("-f")
            .output();
    }

    /// Waits up to a minute for `done`; fails naming `what`, with the log.
    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let t = Instant::now();
        while !done() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "waited a minute for {what}; Postfix logged:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = as_root(&postfix_root().join("usr/sbin/postfix"))
            .arg("-c")
            .arg(&self.dir)
            .arg("stop")
            .output();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.master.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

/// Sends one message to Postfix's smtpd, as a mail client would.
fn submit(port: u16, from: &str, to: &str, message: &str) {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("smtpd");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let mut answer = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            all.push_str(&line);
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        }
        all
    };
    assert!(answer().starts_with("220"));
    for (say, want) in [
        ("EHLO client.example.net".to_string(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        w.write_all(format!("{say}\r\n").as_bytes()).expect("write");
        let got = answer();
        assert!(got.starts_with(want), "{say}: {got}");
    }
    w.write_all(format!("{message}\r\n.\r\n").as_bytes())
        .expect("write");
    let got = answer();
    assert!(got.starts_with("250"), "end of data: {got}");
    let _ = w.write_all(b"QUIT\r\n");
}

/// The pids of the `atsd mail receive` processes running with `config`.
fn receivers(config: &Path) -> Vec<i32> {
    let want = config.to_string_lossy().into_owned();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let args: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            // atsd itself, not the pipe(8) that has its argv in its own
            args.first().is_some_and(|a| a.ends_with("/atsd"))
                && args.contains(&want)
                && args.windows(2).any(|w| w[0] == "mail" && w[1] == "receive")
        })
        .collect()
}

#[test]
fn a_real_postfix_brings_its_own_bounce_back_over_lmtp_and_a_reply_through_pipe_once_despite_kill_9()
 {
    needs!(Tool::Postfix);
    let (smtp, lmtp, http) = (free_port(), free_port(), free_port());
    let env = Env::with_config(&format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"Jobs <jobs@example.org>\"\nrate_per_second = 0\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"none\"\ntimeout = \"10s\"\n\
         [mail.inbound]\ndomain = \"{DOMAIN}\"\nkey_file = \"inbound.key\"\n\
         lmtp_listen = \"127.0.0.1:{lmtp}\"\n\
         [recruiters]\nemails = [\"recruiting@accepted.example.net\"]\n\
         [http]\nlisten = \"127.0.0.1:{http}\"\n\
         [schedule]\npoll = \"0 0 1 1 *\"\ndispatch = \"0 0 1 1 *\"\nadvance = \"0 0 1 1 *\"\n\
         digest = \"0 0 1 1 *\"\n"
    ));
    env.write("inbound.key", &format!("{KEY}\n"));
    env.add_posting(1, "Platform Engineer");
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Nora Nowhere",
        "--email",
        "nosuchuser@candidates.example.net",
    ]);
    env.ok(&[
        "apply",
        "1",
        "--name",
        "Alan Answer",
        "--email",
        "alan@accepted.example.net",
    ]);
    // Postfix's daemons reach the queue inside the test's folder; its pipe
    // runs atsd as a user of its own, who must open the same files
    let top = env.path("");
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(&top)
            .status()
            .expect("chown");
        assert!(ok.success());
    }
    std::fs::set_permissions(&top, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    // the pipe's user may not enter the checkout (a clone in a private
    // folder, a home of mode 0700): it runs a copy of atsd from the test's
    // folder, which it can
    let mut argv = env.std_cmd();
    argv.args(["mail", "receive"]);
    let atsd = top.join("atsd");
    std::fs::copy(argv.get_program(), &atsd).expect("copy atsd into the test's folder");
    std::fs::set_permissions(&atsd, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod atsd");
    let receive: Vec<String> = std::iter::once(atsd.as_os_str())
        .chain(argv.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert!(
        receive.iter().all(|a| !a.contains(char::is_whitespace)),
        "Postfix's pipe splits argv at spaces: {receive:?}"
    );
    let postfix = Postfix::start(&env.path("postfix"), smtp, lmtp, &receive.join(" "));
    let daemon = Api::start(&env, http);

    // the daemon sends both acknowledgements through Postfix, each with its
    // VERP sender
    postfix.wait_for("both acknowledgements to go", || {
        postfix.log().matches("from=<bounces+").count() >= 2
    });
    // Postfix finds no mailbox for Nora, writes its own report to the
    // envelope sender, and hands it to atsd over LMTP
    postfix.wait_for("Nora's address marked undeliverable", || {
        !rows(&env, "SELECT address FROM undeliverable_addresses").is_empty()
    });
    let log = postfix.log();
    assert!(
        log.contains("to=<nosuchuser@candidates.example.net>")
            && log.contains("status=bounced (unknown user: \"nosuchuser\")"),
        "{log}"
    );
    assert!(
        log.contains("sender non-delivery notification") && log.contains("relay=127.0.0.1"),
        "the report went over LMTP: {log}"
    );
    assert_eq!(
        rows(
            &env,
            "SELECT address, outbox_id, dsn_status FROM undeliverable_addresses"
        ),
        [["nosuchuser@candidates.example.net", "1", "5.1.1"]]
    );
    assert_eq!(
        rows(
            &env,
            "SELECT kind, status, outbox_id, application_id, why FROM inbound_messages"
        ),
        [[
            "bounce",
            "permanent",
            "1",
            "1",
            "recognised by its VERP address and its delivery report"
        ]]
    );
    assert_eq!(
        rows(
            &env,
            "SELECT id, status FROM outbox WHERE template = 'application_received' ORDER BY id"
        ),
        [["1", "bounced"], ["2", "sent"]]
    );
    let diagnostic = rows(&env, "SELECT diagnostic FROM undeliverable_addresses");
    assert!(
        diagnostic[0][0].contains("unknown user: \"nosuchuser\""),
        "{diagnostic:?}"
    );
    // Alan's address is fine: nothing of his is held
    env.ok(&["application", "move", "2", "screening"]);
    env.ok(&["application", "move", "2", "interview"]);
    postfix.wait_for("Alan's next email to go", || {
        rows(
            &env,
            "SELECT status FROM outbox WHERE application_id = 2 AND id > 2",
        ) == [["sent"]]
    });

    // Alan replies; while atsd cannot write (the test holds the database),
    // the pipe's `atsd mail receive` waits — and is killed
    let reply_to = atsd::mail::tags::Tags::new(DOMAIN, KEY.as_bytes()).reply(2);
    let reply = format!(
        "From: Alan Answer <alan@accepted.example.net>\r\n\
         To: <{reply_to}>\r\n\
         Subject: Re: Your application\r\n\
         Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n\
         Message-ID: <alan-1@accepted.example.net>\r\n\
         \r\n\
         Thank you, I am free all week.\r\n"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // the lock is dropped inside the runtime, also when an assertion fails
    let _in_rt = rt.enter();
    let (store, lock) = rt.block_on(async {
        let store = env.store().await;
        let txn = store.begin_write().await.expect("begin");
        if store.backend() == sea_orm::DbBackend::Postgres {
            txn.execute_unprepared("LOCK TABLE inbound_messages IN EXCLUSIVE MODE")
                .await
                .expect("lock");
        }
        (store, txn)
    });
    submit(smtp, "alan@accepted.example.net", &reply_to, &reply);
    postfix.wait_for("the pipe to start atsd mail receive", || {
        !receivers(&env.config).is_empty()
    });
    // let it reach the database (PostgreSQL shows it waiting for the
    // lock), then kill it where it waits
    if store.backend() == sea_orm::DbBackend::Postgres {
        postfix.wait_for("atsd mail receive to wait for the lock", || {
            rows(
                &env,
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND datname = current_database()",
            )
            .len()
                == 1
        });
    } else {
        std::thread::sleep(Duration::from_millis(500));
    }
    for pid in receivers(&env.config) {
        let killed = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
    }
    postfix.wait_for("Postfix to see the pipe's command die", || {
        postfix.log().contains("Command died with signal 9")
    });
    let log = postfix.log();
    assert!(log.contains("status=deferred"), "{log}");
    assert!(
        rows(&env, "SELECT id FROM inbound_messages WHERE kind = 'reply'").is_empty(),
        "nothing of the killed delivery is stored"
    );
    rt.block_on(async {
        lock.rollback().await.expect("rollback");
        store.close().await.ok();
    });
    // Postfix tries again (the test asks it to every two seconds: its
    // backoff is a second, but see `flush`): the reply is stored once,
    // forwarded once
    let mut polls = 0;
    postfix.wait_for("the retried reply to be stored", || {
        polls += 1;
        if polls % 20 == 0 {
            postfix.flush();
        }
        !rows(&env, "SELECT id FROM inbound_messages WHERE kind = 'reply'").is_empty()
    });
    // the same message delivered again (a client that sent it twice)
    submit(smtp, "alan@accepted.example.net", &reply_to, &reply);
    postfix.wait_for("the second delivery", || {
        postfix.log().matches("relay=atsd").count() >= 3
    });
    postfix.wait_for("the pipe to finish", || receivers(&env.config).is_empty());
    assert_eq!(
        rows(
            &env,
            "SELECT kind, status, application_id, sender FROM inbound_messages \
             WHERE kind = 'reply'"
        ),
        [[
            "reply",
            "forwarded",
            "2",
            "Alan Answer <alan@accepted.example.net>"
        ]]
    );
    assert_eq!(
        rows(
            &env,
            "SELECT COUNT(*) FROM events WHERE type = 'application.replied'"
        ),
        [["1"]]
    );
    assert_eq!(
        rows(
            &env,
            "SELECT recipient FROM outbox WHERE template = 'candidate_reply'"
        ),
        [["recruiting@accepted.example.net"]]
    );
    let log = postfix.log();
    assert_eq!(
        log.matches("relay=atsd").count(),
        3,
        "killed, retried, delivered again: {log}"
    );
    daemon.stop();
}
