//! What each board page shows, read from the store ([`crate::store::board`],
//! every query of the board) and shaped for its template as a typed page
//! (`#[derive(Serialize)]`): a key a template reads exists at compile time.
//! Counts come from grouped queries; a column loads at most
//! [`COLUMN_CARDS`] cards. One file per page; here what they share (the
//! request's [`Ctx`], a posting's view, the lists' links).

use super::charts::{self, Bar, Fill, Row};
use super::figures::ChartCache;
use super::i18n::{Words, fill};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::rules::{self, Action, Facts};
use crate::store::board::{self as q, ListFilter, StageCount};
use crate::store::{Store, people};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entity::{outbox, posting};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

mod application;
mod interviews;
mod jobs;
mod list;
mod outbox_page;
mod overview;
mod posting_page;
mod requests;

pub use application::*;
pub use interviews::*;
pub use jobs::*;
pub use list::*;
pub use outbox_page::*;
pub use overview::*;
pub use posting_page::*;
pub use requests::*;

/// Cards per column on a posting's page.
pub const COLUMN_CARDS: u64 = 25;
/// Rows per page of a list.
pub const PAGE_ROWS: u64 = 50;
/// The stale threshold of a stage without a stale rule (as `atsd report`).
pub const DEFAULT_STALE: Duration = Duration::days(14);

/// Everything a page is built from.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub pipeline: &'a Pipeline,
    pub words: &'a Words,
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub charts: &'a Arc<ChartCache>,
    /// The stale threshold of stages without a stale rule.
    pub default_stale: Duration,
    /// The person signed in, if the session names one: an interviewer who
    /// has not given their own feedback on an application sees nobody
    /// else's (blind review).
    pub viewer: Option<i64>,
}

/// How long an application is in its stage, as every page shows it.
#[derive(Debug, Serialize)]
pub struct Stay {
    pub days: i64,
    pub days_text: String,
    /// In the stage longer than its threshold (as the report counts).
    pub stale: bool,
    pub stale_text: String,
}

impl Ctx<'_> {
    pub(super) fn w(&self, k: &str) -> String {
        self.words.get(k).cloned().unwrap_or_else(|| k.to_string())
    }

    pub fn time(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    fn thresholds(&self) -> HashMap<String, Duration> {
        crate::report::stale_thresholds(self.config, self.pipeline, self.default_stale)
    }

    /// The stale cut-off of each active stage, in pipeline order.
    pub fn cutoffs(&self) -> Vec<(String, DateTime<Utc>)> {
        let th = self.thresholds();
        self.pipeline
            .active()
            .iter()
            .filter_map(|s| th.get(s).map(|d| (s.clone(), self.now - *d)))
            .collect()
    }

    fn terminal(&self) -> Vec<String> {
        self.pipeline
            .stages()
            .filter(|s| self.pipeline.is_terminal(s))
            .map(String::from)
            .collect()
    }

    fn status_label(&self, p: &posting::Model) -> String {
        let s = match p.status.as_str() {
            "open" => self.w("status_open"),
            "closed" => self.w("status_closed"),
            _ => self.w("status_unknown"),
        };
        if p.board_missing {
            format!("{s}, {}", self.w("board_missing"))
        } else {
            s
        }
    }

    /// A stage named in a query must be one of the pipeline's.
    fn check_stage(&self, stage: Option<&String>) -> Result<()> {
        match stage {
            Some(s) if !self.pipeline.contains(s) => Err(Error::input(format!(
                "stage: `{s}` is not a stage of the pipeline"
            ))),
            _ => Ok(()),
        }
    }

    /// How long an application that entered `stage` at `entered` is in it,
    /// against the thresholds `th`.
    fn stay(&self, th: &HashMap<String, Duration>, stage: &str, entered: DateTime<Utc>) -> Stay {
        let days = (self.now - entered).num_days();
        let limit = th.get(stage);
        Stay {
            days,
            days_text: self.days_text(days),
            stale: limit.is_some_and(|l| self.now - entered > *l),
            stale_text: fill(
                &self.w("stale_badge"),
                &[("days", limit.map(|l| l.num_days()).unwrap_or(0).to_string())],
            ),
        }
    }

    fn days_text(&self, days: i64) -> String {
        if days == 1 {
            self.w("day_one")
        } else {
            fill(&self.w("day_many"), &[("n", days.to_string())])
        }
    }
}

/// A posting as the pages name it.
#[derive(Debug, Serialize)]
pub struct PostingView {
    pub id: i64,
    pub title: String,
    pub company: Option<String>,
    pub location: Option<String>,
    pub url: String,
    pub status: String,
    pub board_missing: bool,
    pub status_label: String,
}

impl PostingView {
    fn new(c: &Ctx<'_>, p: &posting::Model) -> PostingView {
        PostingView {
            id: p.id,
            title: p.title.clone(),
            company: p.company.clone(),
            location: p.location.clone(),
            url: p.url.clone(),
            status: p.status.clone(),
            board_missing: p.board_missing,
            status_label: c.status_label(p),
        }
    }
}

/// The list of a posting's applications that a filter shows: one stage,
/// the stale ones as of an instant (`stale=1&at=…`), those applied since an
/// instant. The instants go in the link, so that it lists exactly what the
/// page counted.
pub fn list_href(
    posting: i64,
    stage: Option<&str>,
    stale_at: Option<&DateTime<Utc>>,
    since: Option<&DateTime<Utc>>,
) -> String {
    let stamp =
        |t: &DateTime<Utc>| urlencode(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let mut qs = Vec::new();
    if let Some(s) = stage {
        qs.push(format!("stage={}", urlencode(s)));
    }
    if let Some(t) = stale_at {
        qs.push(format!("stale=1&at={}", stamp(t)));
    }
    if let Some(t) = since {
        qs.push(format!("since={}", stamp(t)));
    }
    let mut h = format!("/board/postings/{posting}/applications");
    if !qs.is_empty() {
        h.push('?');
        h.push_str(&qs.join("&"));
    }
    h
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Which postings the overview shows: all, or those with one status
/// (`open`, `closed`, `unknown`, or `board_missing`).
pub fn parse_posting_status(s: Option<&str>) -> Result<Option<String>> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v @ ("open" | "closed" | "unknown" | "board_missing")) => Ok(Some(v.to_string())),
        Some(v) => Err(Error::input(format!(
            "status: `{v}` is not a posting status (open, closed, unknown, board_missing)"
        ))),
    }
}

/// A count, and the list it counts.
#[derive(Debug, Serialize)]
pub struct StageLink {
    pub stage: String,
    pub count: i64,
    pub href: String,
}
