//! The database connections themselves.

use crate::common::{Env, block_on};
use sea_orm::ConnectionTrait;

/// The TCP port of a socket's peer, if the descriptor is a connected
/// IPv4/IPv6 socket.
fn peer_port(fd: i32) -> Option<u16> {
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `addr` is writable for `len` bytes; an fd that is not a
    // socket (or no longer open) makes the call fail, which returns None
    let rc = unsafe { libc::getpeername(fd, (&raw mut addr).cast(), &mut len) };
    if rc != 0 {
        return None;
    }
    match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in
            let a: &libc::sockaddr_in = unsafe { &*(&raw const addr).cast() };
            Some(u16::from_be(a.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6
            let a: &libc::sockaddr_in6 = unsafe { &*(&raw const addr).cast() };
            Some(u16::from_be(a.sin6_port))
        }
        _ => None,
    }
}

fn nodelay(fd: i32) -> Option<bool> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` is writable for `len` bytes
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&raw mut v).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(v != 0)
}

/// Every connection to PostgreSQL has Nagle's algorithm off. With it on, a
/// statement larger than one TCP segment (the set-based writes' arrays)
/// waited ~40 ms for the server's delayed acknowledgement: the poll and the
/// rules' batches paid that on every statement (sqlx 0.9.0 dropped the
/// option, vendor/README.md).
#[test]
fn postgres_connections_send_without_delay() {
    let env = Env::new();
    if !env.db.is_postgres() {
        eprintln!("SQLite: no TCP connections to check");
        return;
    }
    let port = url::Url::parse(&env.db.url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(5432);
    block_on(async {
        let store = env.store().await;
        // a large statement, over a connection the pool opened
        let big = "x".repeat(200_000);
        let n = store
            .conn()
            .query_one_raw(atsd::store::sql(
                store.backend(),
                "SELECT length(CAST(? AS text)) AS n",
                vec![big.into()],
            ))
            .await
            .expect("query")
            .expect("row")
            .try_get::<i32>("", "n")
            .expect("n");
        assert_eq!(n, 200_000);
        let mut checked = 0;
        for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
            let Some(fd) = entry
                .ok()
                .and_then(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
            else {
                continue;
            };
            if peer_port(fd) != Some(port) {
                continue;
            }
            // (another test's connection may close meanwhile: skip it then)
            if let Some(on) = nodelay(fd) {
                assert!(
                    on,
                    "a connection to PostgreSQL (fd {fd}) has Nagle's algorithm on"
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "found no connection to port {port} to check");
        store.close().await.ok();
    });
}

/// The row writer's PostgreSQL array literals (`store::rows::pg_arrays`),
/// read by PostgreSQL itself: every text comes back as it was written, in
/// its place, NULLs as NULLs — tricky characters and random ones alike.
#[test]
fn postgresql_reads_the_array_literals_back_as_written() {
    use atsd::store::rows::{Cell, pg_arrays};
    let env = Env::new();
    if !env.db.is_postgres() {
        return;
    }
    let mut values: Vec<Option<String>> = [
        "",
        " ",
        "a,b",
        "{}",
        "{a}",
        "\"",
        "\\",
        "\\\"",
        "NULL",
        "null",
        " padded ",
        "tab\there",
        "new\nline",
        "carriage\rreturn",
        "Zoë Müller",
        "王小明",
        "🙂",
        "'quoted'",
        "a\u{202e}b",
    ]
    .iter()
    .map(|s| Some(s.to_string()))
    .collect();
    values.push(None);
    // and random texts from a fixed seed (no NUL: PostgreSQL's text has none)
    let mut rng = crate::common::Rng(0x5eed_2026_1202);
    for _ in 0..200 {
        let len = rng.below(16) as usize;
        let s: String = (0..len)
            .map(|_| {
                let pick = rng.below(6);
                match pick {
                    0 => ['"', '\\', ',', '{', '}', ' '][rng.below(6) as usize],
                    1 => char::from_u32(0x80 + rng.below(0x700) as u32).unwrap_or('x'),
                    _ => char::from_u32(0x20 + rng.below(0x5f) as u32).unwrap_or('y'),
                }
            })
            .collect();
        values.push(Some(s));
    }
    let rows: Vec<Vec<Cell>> = values.iter().map(|v| vec![Cell::S(v.clone())]).collect();
    let literal = pg_arrays(1, rows).remove(0);
    let back: Vec<Option<String>> = block_on(async {
        let store = env.store().await;
        store
            .conn()
            .query_all_raw(atsd::store::sql(
                store.backend(),
                "SELECT u.v FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS u(v, n) ORDER BY u.n",
                vec![literal],
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<Option<String>>("", "v").unwrap())
            .collect()
    });
    assert_eq!(back, values);
}
