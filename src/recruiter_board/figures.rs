//! The chart figures of a posting that come from the transition log (the
//! funnel of finished applications, the days in stage of completed stays):
//! counted in the background and kept, so that no recruiter waits for them
//! ([`ChartCache`], [`keep_warm`]).

use crate::error::Result;
use crate::store::Store;
use crate::store::board as q;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Figures younger than this are shown as they are, even when transitions
/// were written since (they are brought up to date in the background).
const REFRESH_AFTER: std::time::Duration = std::time::Duration::from_secs(60);
/// Figures older than this are never shown: the page waits for new ones.
const SHOW_AT_MOST: std::time::Duration = std::time::Duration::from_secs(600);

/// The chart figures of a posting that come from the transition log: the
/// funnel of finished applications and the histogram of completed stays —
/// the costly part of a posting page (grouped passes over every transition
/// of the posting: about 0.1 s for 100,000 applications).
///
/// Kept per posting with the newest transition id they saw. A page asks for
/// them: when none are kept, it computes them and waits; when transitions
/// were written since (or they are a minute old), it shows the kept ones
/// with the time they were counted, and one refresh per posting runs in the
/// background; figures ten minutes old are never shown. The biggest
/// postings' figures are counted ahead by [`keep_warm`].
#[derive(Default)]
pub struct ChartCache(Mutex<HashMap<i64, Cached>>);

struct Cached {
    /// The newest transition id when they were counted.
    last: i64,
    counted: Instant,
    figures: Arc<LogFigures>,
    refreshing: bool,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct LogFigures {
    /// Finished applications when counted (the funnel's base).
    pub finished: i64,
    /// Finished applications that ever reached each stage.
    pub funnel: HashMap<String, i64>,
    /// Completed stays: (stage, days, how many).
    pub stays: Vec<(String, i64, i64)>,
    pub counted_at: DateTime<Utc>,
}

/// Figures that took longer than this to count are kept in the database
/// too (`chart_figures`): a daemon started next shows them at once.
const STORE_AFTER: std::time::Duration = std::time::Duration::from_millis(20);

impl LogFigures {
    /// Counts the figures of `posting` and keeps them in `cache`, and in the
    /// database when they took a while (in the background: nobody waits).
    async fn count_and_keep(
        cache: &ChartCache,
        store: &Store,
        posting: i64,
        last: i64,
        terminal: &[String],
    ) -> Result<Arc<LogFigures>> {
        let t = Instant::now();
        let f = Arc::new(LogFigures::count(store, posting, terminal).await?);
        cache.keep(posting, last, f.clone());
        if t.elapsed() >= STORE_AFTER {
            match serde_json::to_string(&*f) {
                Ok(json) => {
                    let (store, at) = (store.clone(), f.counted_at);
                    tokio::spawn(async move {
                        if let Err(e) =
                            q::keep_figures(store.conn(), posting, last, at, &json).await
                        {
                            tracing::warn!(posting, error = %e, "board: cannot keep the chart figures");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(posting, error = %e, "board: cannot write the chart figures")
                }
            }
        }
        Ok(f)
    }

    async fn count(store: &Store, posting: i64, terminal: &[String]) -> Result<LogFigures> {
        let counted_at = Utc::now();
        // three reads side by side, on connections of their own: on SQLite
        // one after the other took 450–530 ms for a posting of 100,000
        // applications (the days-in-stage pass alone ~450 ms), side by side
        // 120–135 ms (measured with benches/board.rs)
        let (finished, funnel, stays) = tokio::try_join!(
            q::finished(store.conn(), posting, terminal),
            q::funnel(store.conn(), posting, terminal),
            q::stay_days(store.conn(), posting),
        )?;
        Ok(LogFigures {
            finished,
            funnel,
            stays,
            counted_at,
        })
    }
}

/// Postings with at least this many applications have their chart figures
/// counted ahead, in the background ([`keep_warm`]), so that no recruiter
/// waits for them; smaller postings count in a few milliseconds.
pub const WARM_MIN: i64 = 2_000;
/// At most this many postings (the biggest) are kept counted ahead.
const WARM_POSTINGS: u64 = 50;
/// How often [`keep_warm`] looks.
const WARM_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Counts ahead the chart figures of the biggest postings: a second after the
/// board starts, then every minute, those missing, behind the transition log
/// or half their shelf life old; and folds the kept stage counts
/// ([`q::fold_totals`]) as often. Ends when the board (its cache) is gone.
pub async fn keep_warm(
    cache: std::sync::Weak<ChartCache>,
    store: Store,
    current: Arc<crate::jobs::Current>,
) {
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        tokio::time::sleep(wait).await;
        wait = WARM_EVERY;
        let Some(cache) = cache.upgrade() else {
            return;
        };
        // the kept stage counts: PostgreSQL's appended rows folded into one
        // per posting and stage, so that the pages sum few rows
        match q::fold_totals(store.conn()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "board: stage counts folded"),
            Err(e) => tracing::warn!(error = %e, "board: cannot fold the stage counts"),
        }
        let Some(runner) = current.get() else {
            continue;
        };
        let terminal: Vec<String> = runner
            .pipeline
            .stages()
            .filter(|s| runner.pipeline.is_terminal(s))
            .map(String::from)
            .collect();
        let big = match q::big_postings(store.conn(), WARM_MIN, WARM_POSTINGS).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "board: cannot find the biggest postings");
                continue;
            }
        };
        for posting in big {
            let Ok(last) = q::last_transition(store.conn()).await else {
                break;
            };
            if !cache.needs(posting, last) {
                continue;
            }
            let t = Instant::now();
            match LogFigures::count_and_keep(&cache, &store, posting, last, &terminal).await {
                Ok(_) => {
                    tracing::debug!(
                        posting,
                        ms = t.elapsed().as_millis() as u64,
                        "board: counted the chart figures ahead"
                    );
                }
                Err(e) => {
                    tracing::warn!(posting, error = %e, "board: cannot count the chart figures")
                }
            }
        }
    }
}

impl ChartCache {
    /// Whether the kept figures of `posting` should be counted again: none
    /// kept, behind the log, or half their shelf life old.
    fn needs(&self, posting: i64, last: i64) -> bool {
        match self.0.lock() {
            Ok(m) => m
                .get(&posting)
                .is_none_or(|c| c.last != last || c.counted.elapsed() > SHOW_AT_MOST / 2),
            Err(_) => false,
        }
    }

    fn keep(&self, posting: i64, last: i64, figures: Arc<LogFigures>) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() > 1024 {
                m.clear();
            }
            m.insert(
                posting,
                Cached {
                    last,
                    counted: Instant::now(),
                    figures,
                    refreshing: false,
                },
            );
        }
    }

    /// The figures of `posting`, and whether they are older than the log:
    /// those kept here, else those kept in the database (a daemon just
    /// started), else counted while the page waits.
    pub async fn get(
        self: &Arc<Self>,
        store: &Store,
        posting: i64,
        terminal: &[String],
    ) -> Result<(Arc<LogFigures>, bool)> {
        let last = q::last_transition(store.conn()).await?;
        if let Some(kept) = self.kept(store, posting, last, terminal) {
            return Ok(kept);
        }
        if self.load(store, posting).await
            && let Some(kept) = self.kept(store, posting, last, terminal)
        {
            return Ok(kept);
        }
        let f = LogFigures::count_and_keep(self, store, posting, last, terminal).await?;
        Ok((f, false))
    }

    /// Takes the figures of `posting` kept in the database, when they are
    /// young enough to be shown; whether it did.
    async fn load(&self, store: &Store, posting: i64) -> bool {
        let kept = match q::kept_figures(store.conn(), posting).await {
            Ok(Some(k)) => k,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(posting, error = %e, "board: cannot read the kept chart figures");
                return false;
            }
        };
        let (last, counted_at, json) = kept;
        let Some(counted) = (Utc::now() - counted_at)
            .to_std()
            .ok()
            .filter(|age| *age < SHOW_AT_MOST)
            .and_then(|age| Instant::now().checked_sub(age))
        else {
            return false;
        };
        let figures = match serde_json::from_str::<LogFigures>(&json) {
            Ok(f) => Arc::new(f),
            Err(e) => {
                tracing::warn!(posting, error = %e, "board: the kept chart figures do not read");
                return false;
            }
        };
        // unless the figures kept here are as new (an old entry, past its
        // shelf life, gives way to another daemon's newer count)
        if let Ok(mut m) = self.0.lock()
            && m.get(&posting).is_none_or(|c| c.counted < counted)
        {
            m.insert(
                posting,
                Cached {
                    last,
                    counted,
                    figures,
                    refreshing: false,
                },
            );
        }
        true
    }

    /// The figures of `posting` kept here, if any may be shown (a refresh
    /// started behind them when they are older than the log or a minute).
    fn kept(
        self: &Arc<Self>,
        store: &Store,
        posting: i64,
        last: i64,
        terminal: &[String],
    ) -> Option<(Arc<LogFigures>, bool)> {
        let mut refresh = false;
        let kept = match self.0.lock() {
            Ok(mut m) => match m.get_mut(&posting) {
                Some(c) if c.last == last && c.counted.elapsed() < REFRESH_AFTER => {
                    return Some((c.figures.clone(), false));
                }
                Some(c) if c.counted.elapsed() < SHOW_AT_MOST => {
                    if !c.refreshing {
                        c.refreshing = true;
                        refresh = true;
                    }
                    Some((c.figures.clone(), c.last != last))
                }
                _ => None,
            },
            Err(_) => None,
        };
        if kept.is_some() && refresh {
            let (cache, store, terminal) = (self.clone(), store.clone(), terminal.to_vec());
            tokio::spawn(async move {
                match LogFigures::count_and_keep(&cache, &store, posting, last, &terminal).await {
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(posting, error = %e, "board: cannot count the chart figures");
                        if let Ok(mut m) = cache.0.lock()
                            && let Some(c) = m.get_mut(&posting)
                        {
                            c.refreshing = false;
                        }
                    }
                }
            });
        }
        kept
    }
}
