//! The pipeline report (`atsd report`): per posting, applications per stage,
//! conversion from each stage to the next, median time in stage and stale
//! counts. Pure: computed from rows the store loaded.
//!
//! - *count*: applications currently in the stage.
//! - *reached*: applications that ever entered the stage (from the transition log).
//! - *conversion*: of those that reached an active stage, the share that
//!   reached the next one (the last active stage's next is `hired`).
//! - *median time in stage*: over completed stays (entered and left).
//! - *stale*: applications in an active stage for longer than the threshold:
//!   the shortest `after` of the stale rules on that stage, else the report's
//!   default (`--stale-after`, 14 days).

use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::stats::ReportData;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct StageRow {
    pub stage: String,
    pub terminal: bool,
    pub count: u64,
    pub reached: u64,
    /// Share (0..=1) of `reached` that went on to the next stage; None for
    /// terminal stages or when nobody reached this one.
    pub conversion: Option<f64>,
    /// Median completed stay, in seconds.
    pub median_seconds: Option<i64>,
    pub stale: u64,
    /// The stale threshold used, in seconds (active stages only).
    pub stale_after_seconds: Option<i64>,
}

#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PostingReport {
    pub posting_id: i64,
    pub title: String,
    pub company: Option<String>,
    pub status: String,
    pub applications: u64,
    pub stages: Vec<StageRow>,
}

#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Report {
    pub generated_at: DateTime<Utc>,
    pub postings: Vec<PostingReport>,
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

/// The stale threshold of each active stage.
pub fn stale_thresholds(
    config: &Config,
    pipeline: &Pipeline,
    default: Duration,
) -> HashMap<String, Duration> {
    pipeline
        .active()
        .iter()
        .map(|s| {
            let t = config
                .rules
                .iter()
                .filter(|r| r.on.is_none() && r.stage.as_deref() == Some(s.as_str()))
                .filter_map(|r| r.after.map(|a| a.chrono()))
                .min()
                .unwrap_or(default);
            (s.clone(), t)
        })
        .collect()
}

pub fn build(
    data: &ReportData,
    pipeline: &Pipeline,
    thresholds: &HashMap<String, Duration>,
    now: DateTime<Utc>,
) -> Report {
    let mut by_app: HashMap<i64, Vec<&entity::transition::Model>> = HashMap::new();
    for t in &data.transitions {
        by_app.entry(t.application_id).or_default().push(t);
    }
    let mut apps_by_posting: BTreeMap<i64, Vec<&entity::application::Model>> = BTreeMap::new();
    for a in &data.applications {
        apps_by_posting.entry(a.posting_id).or_default().push(a);
    }
    let stages: Vec<String> = pipeline.stages().map(String::from).collect();
    let postings = data
        .postings
        .iter()
        .map(|p| {
            let apps = apps_by_posting.get(&p.id).map(Vec::as_slice).unwrap_or(&[]);
            let mut count: HashMap<&str, u64> = HashMap::new();
            let mut reached: HashMap<&str, HashSet<i64>> = HashMap::new();
            let mut stays: HashMap<&str, Vec<i64>> = HashMap::new();
            let mut stale: HashMap<&str, u64> = HashMap::new();
            for a in apps {
                *count.entry(a.stage.as_str()).or_default() += 1;
                if let Some(limit) = thresholds.get(&a.stage)
                    && now - a.entered_stage_at > *limit
                {
                    *stale.entry(a.stage.as_str()).or_default() += 1;
                }
                let ts = by_app.get(&a.id).map(Vec::as_slice).unwrap_or(&[]);
                for (i, t) in ts.iter().enumerate() {
                    reached.entry(t.to_stage.as_str()).or_default().insert(a.id);
                    if let Some(next) = ts.get(i + 1) {
                        stays
                            .entry(t.to_stage.as_str())
                            .or_default()
                            .push((next.at - t.at).num_seconds());
                    }
                }
                // an application whose log lacks its current stage still counts as reaching it
                reached.entry(a.stage.as_str()).or_default().insert(a.id);
            }
            let rows = stages
                .iter()
                .map(|s| {
                    let r = reached.get(s.as_str()).map(HashSet::len).unwrap_or(0) as u64;
                    let conversion = pipeline.next(s).and_then(|next| {
                        let from = reached.get(s.as_str())?;
                        if from.is_empty() {
                            return None;
                        }
                        let to = reached
                            .get(next)
                            .map(|n| n.intersection(from).count())
                            .unwrap_or(0);
                        Some(to as f64 / from.len() as f64)
                    });
                    StageRow {
                        stage: s.clone(),
                        terminal: pipeline.is_terminal(s),
                        count: count.get(s.as_str()).copied().unwrap_or(0),
                        reached: r,
                        conversion,
                        median_seconds: stays.get_mut(s.as_str()).and_then(|v| median(v)),
                        stale: stale.get(s.as_str()).copied().unwrap_or(0),
                        stale_after_seconds: thresholds.get(s).map(|d| d.num_seconds()),
                    }
                })
                .collect();
            PostingReport {
                posting_id: p.id,
                title: p.title.clone(),
                company: p.company.clone(),
                status: p.status.clone(),
                applications: apps.len() as u64,
                stages: rows,
            }
        })
        .collect();
    Report {
        generated_at: now,
        postings,
    }
}

/// A duration in the largest sensible unit: `3d 4h`, `5h 10m`, `12m`, `40s`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::{application, posting, transition};

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::days(days)
    }

    fn posting(id: i64) -> posting::Model {
        posting::Model {
            id,
            url: format!("https://example.org/{id}"),
            source: "generic".into(),
            board: None,
            external_id: None,
            title: format!("Job {id}"),
            company: None,
            location: None,
            description: None,
            apply_url: None,
            posted_at: None,
            status: "open".into(),
            status_changed_at: None,
            board_missing: false,
            etag: None,
            last_modified: None,
            last_polled_at: None,
            consecutive_not_found: 0,
            last_not_found_at: None,
            consecutive_errors: 0,
            next_poll_at: None,
            last_error: None,
            raw: None,
            created_at: at(0),
            updated_at: at(0),
            published_at: None,
            first_published_at: None,
            scorecard: None,
        }
    }

    fn app(id: i64, stage: &str, entered: i64) -> application::Model {
        application::Model {
            id,
            candidate_id: id,
            posting_id: 1,
            stage: stage.into(),
            entered_stage_at: at(entered),
            applied_at: at(0),
            version: 1,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    fn tr(id: i64, app: i64, from: Option<&str>, to: &str, day: i64) -> transition::Model {
        transition::Model {
            id,
            application_id: app,
            from_stage: from.map(String::from),
            to_stage: to.into(),
            reason: None,
            actor: "cli:test".into(),
            at: at(day),
            stage_entered_at: None,
        }
    }

    #[test]
    fn counts_conversion_median_and_stale() {
        // 4 applied on day 0; 3 screened (after 2, 4, 6 days); 1 interviewed; 1 rejected from screening.
        let data = ReportData {
            postings: vec![posting(1)],
            applications: vec![
                app(1, "applied", 0),
                app(2, "screening", 2),
                app(3, "interview", 10),
                app(4, "rejected", 7),
            ],
            transitions: vec![
                tr(1, 1, None, "applied", 0),
                tr(2, 2, None, "applied", 0),
                tr(3, 2, Some("applied"), "screening", 2),
                tr(4, 3, None, "applied", 0),
                tr(5, 3, Some("applied"), "screening", 4),
                tr(6, 3, Some("screening"), "interview", 10),
                tr(7, 4, None, "applied", 0),
                tr(8, 4, Some("applied"), "screening", 6),
                tr(9, 4, Some("screening"), "rejected", 7),
            ],
        };
        let p = Pipeline::default_stages();
        let th = stale_thresholds(&Config::default(), &p, Duration::days(14));
        let r = build(&data, &p, &th, at(20));
        let rows = &r.postings[0].stages;
        let get = |s: &str| rows.iter().find(|x| x.stage == s).unwrap();
        assert_eq!(r.postings[0].applications, 4);
        assert_eq!(get("applied").count, 1);
        assert_eq!(get("applied").reached, 4);
        assert_eq!(get("applied").conversion, Some(0.75));
        assert_eq!(get("applied").median_seconds, Some(4 * 86_400));
        assert_eq!(get("screening").reached, 3);
        assert!((get("screening").conversion.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(get("screening").median_seconds, Some(302_400)); // stays of 6 and 1 days
        // applied since day 0 and screening since day 2: both past 14 days on day 20
        assert_eq!(get("applied").stale, 1);
        assert_eq!(get("screening").stale, 1);
        assert_eq!(get("interview").stale, 0);
        assert_eq!(get("rejected").count, 1);
        assert_eq!(get("rejected").conversion, None);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(3 * 86_400 + 4 * 3600), "3d 4h");
        assert_eq!(human_duration(3600 + 600), "1h 10m");
        assert_eq!(human_duration(40), "40s");
    }
}
