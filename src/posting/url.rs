//! URL recognition (SPEC §1 "Polling"): a posting URL → source, board,
//! external id and the API URL that tells whether it is open. Pure.

use serde::Serialize;
use std::fmt;
use url::Url;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Greenhouse,
    Lever,
    Ashby,
    Generic,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Greenhouse => "greenhouse",
            Source::Lever => "lever",
            Source::Ashby => "ashby",
            Source::Generic => "generic",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The API base URL of each source (`[poll.sources.*] api_base`).
#[derive(Clone, Debug)]
pub struct ApiBases {
    pub greenhouse: String,
    pub lever: String,
    pub ashby: String,
}

impl Default for ApiBases {
    fn default() -> Self {
        ApiBases {
            greenhouse: "https://boards-api.greenhouse.io".into(),
            lever: "https://api.lever.co".into(),
            ashby: "https://api.ashbyhq.com".into(),
        }
    }
}

impl From<&crate::config::SourcesConfig> for ApiBases {
    fn from(s: &crate::config::SourcesConfig) -> Self {
        ApiBases {
            greenhouse: s.greenhouse.api_base.clone(),
            lever: s.lever.api_base.clone(),
            ashby: s.ashby.api_base.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recognized {
    /// The URL in canonical form (lower-case host, no fragment): the posting's identity.
    pub url: String,
    pub source: Source,
    pub board: Option<String>,
    pub external_id: Option<String>,
    /// What the poller asks: the job, the board list (Ashby), or the page itself (generic).
    pub api_url: Option<String>,
}

fn trim_base(b: &str) -> &str {
    b.trim_end_matches('/')
}

fn is_board_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_ascii_digit())
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn query(u: &Url, key: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn greenhouse(bases: &ApiBases, url: String, board: Option<String>, id: String) -> Recognized {
    let api_url = board
        .as_ref()
        .map(|b| format!("{}/v1/boards/{b}/jobs/{id}", trim_base(&bases.greenhouse)));
    Recognized {
        url,
        source: Source::Greenhouse,
        board,
        external_id: Some(id),
        api_url,
    }
}

/// Recognises `input`. Non-http(s) schemes, URLs without a host and
/// malformed Greenhouse embed links are refused with the reason.
// Stays whole: one arm per job-board URL shape.
pub fn recognize(input: &str, bases: &ApiBases) -> Result<Recognized, String> {
    let trimmed = input.trim();
    let mut u = Url::parse(trimmed).map_err(|e| format!("`{trimmed}` is not a URL ({e})"))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!(
            "`{trimmed}`: scheme `{}` is not allowed (only http and https)",
            u.scheme()
        ));
    }
    let host = u
        .host_str()
        .ok_or_else(|| format!("`{trimmed}` has no host"))?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!(
            "`{trimmed}`: URLs with credentials are not accepted"
        ));
    }
    u.set_fragment(None);
    let canonical = u.to_string();
    let segs: Vec<&str> = u
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();

    let gh_host = matches!(
        host.as_str(),
        "boards.greenhouse.io" | "job-boards.greenhouse.io" | "job-boards.eu.greenhouse.io"
    );
    if gh_host {
        if segs
            .first()
            .is_some_and(|s| s.eq_ignore_ascii_case("embed"))
        {
            let token = query(&u, "token");
            let board = query(&u, "for");
            return match (board, token) {
                (Some(b), Some(t)) if is_board_token(&b) && is_digits(&t) => {
                    Ok(greenhouse(bases, canonical, Some(b), t))
                }
                (None, _) => Err(format!(
                    "`{trimmed}`: Greenhouse embed link without `for=` (the board) cannot be polled"
                )),
                _ => Err(format!(
                    "`{trimmed}`: Greenhouse embed link needs `for=BOARD&token=JOB_ID`"
                )),
            };
        }
        if let [board, jobs, id, ..] = segs.as_slice()
            && *jobs == "jobs"
            && is_board_token(board)
            && is_digits(id)
        {
            return Ok(greenhouse(
                bases,
                canonical,
                Some(board.to_string()),
                id.to_string(),
            ));
        }
    }
    if host == "boards-api.greenhouse.io"
        && let ["v1", "boards", board, "jobs", id, ..] = segs.as_slice()
        && is_board_token(board)
        && is_digits(id)
    {
        return Ok(greenhouse(
            bases,
            canonical,
            Some(board.to_string()),
            id.to_string(),
        ));
    }
    if let Some(id) = query(&u, "gh_jid").filter(|v| is_digits(v)) {
        // A company careers page carrying a Greenhouse job id: the board is
        // not in the URL unless the page says `for=`.
        let board = query(&u, "for").filter(|b| is_board_token(b));
        return Ok(greenhouse(bases, canonical, board, id));
    }
    if (host == "jobs.lever.co" || host == "jobs.eu.lever.co")
        && let [company, id, ..] = segs.as_slice()
        && is_board_token(company)
        && is_uuid(id)
    {
        let base =
            if host == "jobs.eu.lever.co" && trim_base(&bases.lever) == "https://api.lever.co" {
                "https://api.eu.lever.co"
            } else {
                trim_base(&bases.lever)
            };
        let id = id.to_ascii_lowercase();
        return Ok(Recognized {
            url: canonical,
            source: Source::Lever,
            board: Some(company.to_string()),
            api_url: Some(format!("{base}/v0/postings/{company}/{id}")),
            external_id: Some(id),
        });
    }
    if host == "jobs.ashbyhq.com"
        && let [org, id, ..] = segs.as_slice()
        && is_board_token(org)
        && is_uuid(id)
    {
        return Ok(Recognized {
            url: canonical,
            source: Source::Ashby,
            board: Some(org.to_string()),
            external_id: Some(id.to_ascii_lowercase()),
            api_url: Some(format!(
                "{}/posting-api/job-board/{org}",
                trim_base(&bases.ashby)
            )),
        });
    }
    Ok(Recognized {
        api_url: Some(canonical.clone()),
        url: canonical,
        source: Source::Generic,
        board: None,
        external_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GH: &str = "https://boards-api.greenhouse.io/v1/boards";

    fn rec(u: &str) -> Recognized {
        recognize(u, &ApiBases::default()).unwrap_or_else(|e| panic!("{u}: {e}"))
    }

    #[test]
    // Stays whole: a test table of real URLs, one row each.
    fn table_of_real_looking_urls() {
        // (url, source, board, id, api)
        type Case<'a> = (
            &'a str,
            Source,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            (
                "https://boards.greenhouse.io/wikimedia/jobs/2976623",
                Source::Greenhouse,
                Some("wikimedia"),
                Some("2976623"),
                Some("https://boards-api.greenhouse.io/v1/boards/wikimedia/jobs/2976623"),
            ),
            (
                "https://boards.greenhouse.io/wikimedia/jobs/2976623#app",
                Source::Greenhouse,
                Some("wikimedia"),
                Some("2976623"),
                None,
            ),
            (
                "http://BOARDS.Greenhouse.io/airbnb/jobs/7012345?gh_src=abc",
                Source::Greenhouse,
                Some("airbnb"),
                Some("7012345"),
                None,
            ),
            (
                "https://job-boards.greenhouse.io/anthropic/jobs/4020305008",
                Source::Greenhouse,
                Some("anthropic"),
                Some("4020305008"),
                None,
            ),
            (
                "https://job-boards.eu.greenhouse.io/n26/jobs/6123456002",
                Source::Greenhouse,
                Some("n26"),
                Some("6123456002"),
                None,
            ),
            (
                "https://boards.greenhouse.io/embed/job_app?for=stripe&token=5678901",
                Source::Greenhouse,
                Some("stripe"),
                Some("5678901"),
                None,
            ),
            (
                "https://boards.greenhouse.io/embed/job_app?token=5678901&for=stripe&b=https://x",
                Source::Greenhouse,
                Some("stripe"),
                Some("5678901"),
                None,
            ),
            (
                "https://boards-api.greenhouse.io/v1/boards/gitlab/jobs/8123456002",
                Source::Greenhouse,
                Some("gitlab"),
                Some("8123456002"),
                None,
            ),
            (
                "https://boards-api.greenhouse.io/v1/boards/gitlab/jobs/8123456002?content=true",
                Source::Greenhouse,
                Some("gitlab"),
                Some("8123456002"),
                None,
            ),
            (
                "https://careers.example.com/jobs?gh_jid=4567",
                Source::Greenhouse,
                None,
                Some("4567"),
                None,
            ),
            (
                "https://www.example.com/careers/open-roles/?gh_jid=4567&for=example",
                Source::Greenhouse,
                Some("example"),
                Some("4567"),
                None,
            ),
            (
                "https://jobs.lever.co/netflix/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
                Source::Lever,
                Some("netflix"),
                Some("0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"),
                Some(
                    "https://api.lever.co/v0/postings/netflix/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
                ),
            ),
            (
                "https://jobs.lever.co/netflix/0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D/apply",
                Source::Lever,
                Some("netflix"),
                Some("0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"),
                None,
            ),
            (
                "https://jobs.eu.lever.co/spotify/11111111-2222-3333-4444-555555555555",
                Source::Lever,
                Some("spotify"),
                Some("11111111-2222-3333-4444-555555555555"),
                Some(
                    "https://api.eu.lever.co/v0/postings/spotify/11111111-2222-3333-4444-555555555555",
                ),
            ),
            (
                "https://jobs.ashbyhq.com/linear/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                Source::Ashby,
                Some("linear"),
                Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
                Some("https://api.ashbyhq.com/posting-api/job-board/linear"),
            ),
            (
                "https://jobs.ashbyhq.com/linear/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee/application",
                Source::Ashby,
                Some("linear"),
                Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
                None,
            ),
            (
                "https://boards.greenhouse.io/wikimedia",
                Source::Generic,
                None,
                None,
                None,
            ),
            (
                "https://boards.greenhouse.io/wikimedia/jobs/abc",
                Source::Generic,
                None,
                None,
                None,
            ),
            (
                "https://jobs.lever.co/netflix",
                Source::Generic,
                None,
                None,
                None,
            ),
            (
                "https://jobs.ashbyhq.com/linear/not-a-uuid",
                Source::Generic,
                None,
                None,
                None,
            ),
            (
                "https://careers.example.com/jobs/123",
                Source::Generic,
                None,
                None,
                Some("https://careers.example.com/jobs/123"),
            ),
            (
                "https://example.org/jobs?gh_jid=notanumber",
                Source::Generic,
                None,
                None,
                None,
            ),
            (
                "http://127.0.0.1:8080/job",
                Source::Generic,
                None,
                None,
                None,
            ),
        ];
        for (u, source, board, id, api) in cases {
            let r = rec(u);
            assert_eq!(r.source, *source, "{u}");
            assert_eq!(r.board.as_deref(), *board, "{u}");
            assert_eq!(r.external_id.as_deref(), *id, "{u}");
            if let Some(api) = api {
                assert_eq!(r.api_url.as_deref(), Some(*api), "{u}");
            }
        }
    }

    #[test]
    fn canonical_form_drops_fragment_and_lowercases_host() {
        assert_eq!(
            rec("https://Boards.Greenhouse.IO/wikimedia/jobs/2976623#app").url,
            "https://boards.greenhouse.io/wikimedia/jobs/2976623"
        );
    }

    #[test]
    fn api_base_is_configurable() {
        let bases = ApiBases {
            greenhouse: "http://127.0.0.1:9000/".into(),
            ..ApiBases::default()
        };
        let r = recognize("https://boards.greenhouse.io/acme/jobs/1", &bases).unwrap();
        assert_eq!(
            r.api_url.as_deref(),
            Some("http://127.0.0.1:9000/v1/boards/acme/jobs/1")
        );
        let lever = ApiBases {
            lever: "http://127.0.0.1:9001".into(),
            ..ApiBases::default()
        };
        let r = recognize(
            "https://jobs.eu.lever.co/a/11111111-2222-3333-4444-555555555555",
            &lever,
        )
        .unwrap();
        assert!(
            r.api_url
                .unwrap()
                .starts_with("http://127.0.0.1:9001/v0/postings/a/")
        );
        let _ = GH;
    }

    #[test]
    fn refused_inputs_say_why() {
        for (u, why) in [
            ("file:///etc/passwd", "scheme `file`"),
            ("gopher://example.org/1", "scheme `gopher`"),
            ("ftp://example.org/job", "scheme `ftp`"),
            ("not a url", "is not a URL"),
            (
                "https://boards.greenhouse.io/embed/job_app?token=123",
                "without `for=`",
            ),
            (
                "https://boards.greenhouse.io/embed/job_app?for=acme",
                "needs `for=BOARD&token=JOB_ID`",
            ),
            ("https://user:pw@example.org/job", "credentials"),
        ] {
            let e = recognize(u, &ApiBases::default()).unwrap_err();
            assert!(e.contains(why), "{u}: {e}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_http_only(s in "\\PC{0,80}") {
            if let Ok(r) = recognize(&s, &ApiBases::default()) {
                prop_assert!(r.url.starts_with("http://") || r.url.starts_with("https://"));
            }
        }

        #[test]
        fn greenhouse_job_urls_round_trip(board in "[a-z][a-z0-9-]{0,20}", id in 1u64..u64::MAX / 2) {
            let r = rec(&format!("https://boards.greenhouse.io/{board}/jobs/{id}"));
            prop_assert_eq!(r.source, Source::Greenhouse);
            prop_assert_eq!(r.board, Some(board.clone()));
            prop_assert_eq!(r.external_id, Some(id.to_string()));
        }
    }
}
