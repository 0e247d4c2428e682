//! SSRF guard: which addresses the poller may talk to. Unless
//! `allow_private_addresses = true`, loopback, private, link-local,
//! unique-local, CGNAT, multicast, reserved and unspecified addresses are
//! refused — for IP literals in any spelling the `url` crate normalises
//! (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`), for names after DNS
//! resolution ([`GuardedResolver`]), and on every redirect hop. Only `http`
//! and `https` are allowed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use url::{Host, Url};

/// Why `ip` must not be contacted, if it must not.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [127, ..] => "loopback address",
        [10, ..] => "private address",
        [172, b, ..] if (16..32).contains(&b) => "private address",
        [192, 168, ..] => "private address",
        [169, 254, ..] => "link-local address",
        [100, b, ..] if (64..128).contains(&b) => "shared (CGNAT) address",
        [0, ..] => "unspecified address",
        [a, ..] if (224..240).contains(&a) => "multicast address",
        [a, ..] if a >= 240 => "reserved address",
        [192, 0, 0, _] => "reserved address",
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => "documentation address",
        [198, b, ..] if b == 18 || b == 19 => "benchmarking address",
        _ => return None,
    })
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refusal_v4(v4);
    }
    let s = ip.segments();
    if ip.is_loopback() {
        return Some("loopback address");
    }
    if ip.is_unspecified() {
        return Some("unspecified address");
    }
    Some(match s[0] {
        x if x & 0xfe00 == 0xfc00 => "unique-local address",
        x if x & 0xffc0 == 0xfe80 => "link-local address",
        x if x & 0xffc0 == 0xfec0 => "site-local address",
        x if x & 0xff00 == 0xff00 => "multicast address",
        0x2001 if s[1] == 0x0db8 => "documentation address",
        // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address
        0 if s[1..6] == [0, 0, 0, 0, 0] => {
            return refusal_v4(Ipv4Addr::new(
                (s[6] >> 8) as u8,
                s[6] as u8,
                (s[7] >> 8) as u8,
                s[7] as u8,
            ))
            .or(Some("reserved address"));
        }
        0x64 if s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] => {
            return refusal_v4(Ipv4Addr::new(
                (s[6] >> 8) as u8,
                s[6] as u8,
                (s[7] >> 8) as u8,
                s[7] as u8,
            ));
        }
        0x2002 => {
            return refusal_v4(Ipv4Addr::new(
                (s[1] >> 8) as u8,
                s[1] as u8,
                (s[2] >> 8) as u8,
                s[2] as u8,
            ));
        }
        _ => return None,
    })
}

/// The policy: private addresses allowed or not, plus exact `ip:port`
/// exceptions (for a local test server or an internal proxy).
#[derive(Clone, Debug, Default)]
pub struct Guard {
    pub allow_private: bool,
    pub allow: Vec<SocketAddr>,
}

impl Guard {
    /// Checks a socket address a connection would go to.
    pub fn check_addr(&self, addr: SocketAddr) -> Result<(), String> {
        if self.allow_private || self.allow.contains(&addr) {
            return Ok(());
        }
        match refusal(addr.ip()) {
            Some(why) => Err(format!(
                "{why} {} refused (allow_private_addresses = false)",
                addr.ip()
            )),
            None => Ok(()),
        }
    }

    /// Checks a URL before a request or a redirect hop: the scheme, and the
    /// host when it is an IP literal (names are checked after resolution).
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!(
                "scheme `{}` not allowed (only http and https)",
                url.scheme()
            ));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        match url.host() {
            None => Err(format!("{url} has no host")),
            Some(Host::Ipv4(ip)) => self.check_addr(SocketAddr::new(IpAddr::V4(ip), port)),
            Some(Host::Ipv6(ip)) => self.check_addr(SocketAddr::new(IpAddr::V6(ip), port)),
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if !self.allow_private && (d == "localhost" || d.ends_with(".localhost")) {
                    Err(format!(
                        "host {d} refused: loopback name (allow_private_addresses = false)"
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A DNS resolver that drops refused addresses, so that a name cannot lead
/// the poller to a private address; a name with nothing left is an error.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    pub guard: Arc<Guard>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host}: no addresses").into());
            }
            let mut refused = None;
            let ok: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| {
                    // the port is not known here: allow-list entries match by address
                    let allowed_exactly = guard.allow.iter().any(|x| x.ip() == a.ip());
                    match guard.check_addr(*a) {
                        Ok(()) => true,
                        Err(_) if allowed_exactly => true,
                        Err(e) => {
                            refused = Some(e);
                            false
                        }
                    }
                })
                .collect();
            if ok.is_empty() {
                let why = refused.unwrap_or_else(|| "refused".into());
                return Err(format!("{host} resolves only to refused addresses: {why}").into());
            }
            let it: reqwest::dns::Addrs = Box::new(ok.into_iter());
            Ok(it)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> Guard {
        Guard::default()
    }

    #[test]
    fn every_spelling_of_a_private_address_is_refused() {
        for u in [
            "http://127.0.0.1:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]/",
            "http://[::]/",
            "http://0.0.0.0/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://224.0.0.1/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://localhost/",
            "http://localhost./",
            "http://api.localhost/",
        ] {
            let url = Url::parse(u).unwrap();
            assert!(g().check_url(&url).is_err(), "{u} allowed");
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for u in [
            "https://boards-api.greenhouse.io/v1/boards/x/jobs",
            "http://93.184.216.34/",
            "http://[2606:4700::1111]/",
        ] {
            assert!(g().check_url(&Url::parse(u).unwrap()).is_ok(), "{u}");
        }
    }

    #[test]
    fn schemes_other_than_http_are_refused() {
        for u in [
            "file:///etc/passwd",
            "gopher://example.org/",
            "ftp://example.org/",
        ] {
            let e = g().check_url(&Url::parse(u).unwrap()).unwrap_err();
            assert!(e.contains("scheme"), "{e}");
        }
    }

    #[test]
    fn exceptions_are_exact() {
        let guard = Guard {
            allow_private: false,
            allow: vec!["127.0.0.1:9000".parse().unwrap()],
        };
        assert!(
            guard
                .check_url(&Url::parse("http://127.0.0.1:9000/x").unwrap())
                .is_ok()
        );
        assert!(
            guard
                .check_url(&Url::parse("http://127.0.0.1:9001/x").unwrap())
                .is_err()
        );
        let open = Guard {
            allow_private: true,
            allow: vec![],
        };
        assert!(
            open.check_url(&Url::parse("http://127.0.0.1:9001/x").unwrap())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        use reqwest::dns::Resolve;
        let r = GuardedResolver {
            guard: Arc::new(g()),
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let res = r.resolve(name).await;
        assert!(res.is_err());
    }
}
