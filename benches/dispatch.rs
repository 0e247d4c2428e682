//! Dispatch benchmark: N pending emails (default 20,000) sent by atsd's
//! dispatcher to postfix's `smtp-sink` on loopback, beside `smtp-source`
//! sending the same number of messages of the same size over the same number
//! of connections to the same sink, in the same run. Every email is marked
//! `sent` durably: by default each outcome is recorded as its reply arrives
//! (group commit across connections), with `ATSD_BENCH_RECORD=batched` in
//! batches (`[mail] record = "batched"`). Needs postfix's smtp-sink and
//! smtp-source: `cargo xtask setup --bench` unpacks them.
//!
//!     cargo bench --bench dispatch                       # SQLite
//!     ATSD_BENCH_DATABASE_URL=postgres://... cargo bench --bench dispatch
//!     ATSD_BENCH_EMAILS=5000 cargo bench --bench dispatch
//!     ATSD_BENCH_PIPELINING=0 cargo bench --bench dispatch   # sink without PIPELINING
//!     ATSD_BENCH_RECORD=batched cargo bench --bench dispatch
//!
//! smtp-source never pipelines; smtp-sink advertises PIPELINING unless `-p`,
//! and atsd pipelines MAIL, RCPT and DATA when the server advertises it.
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

#[path = "support/mod.rs"]
mod support;

use atsd::config::{Config, Dur, Record, Tls, Transport};
use atsd::mail::dispatch;
use atsd::mail::transport::Sender;
use atsd::store::Store;
use chrono::Utc;
use entity::{outbox, outbox_body};
use sea_orm::{ActiveValue::Set, EntityTrait};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

const CONNECTIONS: u32 = 4;
const MESSAGE_BYTES: usize = 3000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn main() {
    let n: usize = std::env::var("ATSD_BENCH_EMAILS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let pipelining = std::env::var("ATSD_BENCH_PIPELINING").as_deref() != Ok("0");
    let record = match std::env::var("ATSD_BENCH_RECORD").as_deref() {
        Ok("batched") => Record::Batched,
        Ok("each") | Err(_) => Record::Each,
        Ok(other) => panic!("ATSD_BENCH_RECORD={other}: each or batched"),
    };
    // atsd's SMTP connections (`[mail.smtp] pool_size`); smtp-source keeps
    // CONNECTIONS: more connections put more emails in each commit of
    // `record = "each"` (at most one per connection unrecorded, as ever)
    let connections: usize = std::env::var("ATSD_BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CONNECTIONS as usize);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut sink_args = vec!["-u", "nobody"];
    if !pipelining {
        sink_args.push("-p");
    }
    sink_args.extend([listen.as_str(), "1024"]);
    let mut sink = support::postfix_tool("smtp-sink")
        .args(&sink_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start smtp-sink (cargo xtask setup --bench)");
    std::thread::sleep(std::time::Duration::from_millis(300));

    // the reference: smtp-source, same count, size and connections
    let start = Instant::now();
    let status = support::postfix_tool("smtp-source")
        .args([
            "-d",
            "-s",
            &CONNECTIONS.to_string(),
            "-m",
            &n.to_string(),
            "-l",
            &MESSAGE_BYTES.to_string(),
            &format!("127.0.0.1:{port}"),
        ])
        .status()
        .expect("run smtp-source (cargo xtask setup --bench)");
    let reference = start.elapsed().as_secs_f64();
    assert!(status.success(), "smtp-source failed");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (atsd_secs, sent, backend) = rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = support::BenchDb::new(dir.path()).await;
        let store = Store::open(&db.url).await.expect("open store");
        let now = Utc::now();
        // a body of about MESSAGE_BYTES on the wire, split between text and HTML
        let text = "Thank you for applying. ".repeat(MESSAGE_BYTES / 2 / 24);
        let html = format!(
            "<p>{}</p>",
            "Thank you for applying. ".repeat(MESSAGE_BYTES / 2 / 24 - 1)
        );
        let mut rows = Vec::new();
        let mut bodies = Vec::new();
        for i in 0..n {
            bodies.push(outbox_body::ActiveModel {
                outbox_id: Set(i as i64 + 1),
                subject: Set("We received your application".into()),
                body_text: Set(text.clone()),
                body_html: Set(html.clone()),
                calendar: Set(None),
            });
            rows.push(outbox::ActiveModel {
                id: Set(i as i64 + 1),
                recipient: Set(format!("candidate{i}@example.org")),
                recipient_name: Set(Some(format!("Candidate {i}"))),
                template: Set("application_received".into()),
                locale: Set("en".into()),
                message_id: Set(format!("<bench.{i}@example.org>")),
                status: Set(outbox::Status::Pending),
                attempts: Set(0),
                next_attempt_at: Set(now),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
            if rows.len() == 500 || i + 1 == n {
                outbox::Entity::insert_many(std::mem::take(&mut rows))
                    .exec(store.conn())
                    .await
                    .expect("insert");
                outbox_body::Entity::insert_many(std::mem::take(&mut bodies))
                    .exec(store.conn())
                    .await
                    .expect("insert");
            }
        }
        let mut config = Config::default();
        // ATSD_BENCH_TRANSPORT=log measures everything but the SMTP conversation
        config.mail.transport = if std::env::var("ATSD_BENCH_TRANSPORT").as_deref() == Ok("log") {
            Transport::Log
        } else {
            Transport::Smtp
        };
        config.mail.rate_per_second = 0;
        config.mail.record = record;
        config.mail.smtp.host = "127.0.0.1".into();
        config.mail.smtp.port = port;
        config.mail.smtp.tls = Tls::None;
        config.mail.smtp.pool_size = connections as _;
        config.mail.smtp.timeout = Dur::secs(30);
        let sender = Arc::new(Sender::from_config(&config, None).expect("sender"));
        let start = Instant::now();
        let r = dispatch::run(
            &store,
            &config,
            sender,
            Utc::now(),
            dispatch::LEASE,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .expect("dispatch");
        let secs = start.elapsed().as_secs_f64();
        let backend = if db.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        store.close().await.expect("close");
        db.drop_database().await;
        (secs, r.sent, backend)
    });
    let _ = sink.kill();
    let _ = sink.wait();
    assert_eq!(sent, n, "every email sent");
    let ref_rate = n as f64 / reference;
    let atsd_rate = n as f64 / atsd_secs;
    let (mode, target) = match record {
        Record::Each => ("each outcome recorded as it arrives", 25),
        Record::Batched => ("outcomes recorded in batches", 50),
    };
    println!(
        "dispatch benchmark: {n} emails of ~{MESSAGE_BYTES} bytes to smtp-sink on loopback, {connections} connections (smtp-source {CONNECTIONS}), {backend}, sink {} PIPELINING, {mode}",
        if pipelining { "advertising" } else { "without" }
    );
    println!();
    println!("| sender | emails | wall time | emails/s |");
    println!("|---|---|---|---|");
    println!(
        "| smtp-source -d -s {CONNECTIONS} -m {n} -l {MESSAGE_BYTES} (reference) | {n} | {reference:.2} s | {ref_rate:.0} |"
    );
    println!(
        "| atsd dispatch (claim, send, mark sent durably; record = {}) | {sent} | {atsd_secs:.2} s | {atsd_rate:.0} |",
        match record {
            Record::Each => "each",
            Record::Batched => "batched",
        }
    );
    println!();
    println!(
        "atsd reaches {:.0} % of smtp-source's rate (target: at least {target} %)",
        100.0 * atsd_rate / ref_rate
    );
}
