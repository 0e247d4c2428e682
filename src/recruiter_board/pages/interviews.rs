//! Interviews as the board shows them, and `/board/interviews`: the coming week's.

use super::*;

/// An interview as the board shows it, times in the viewer's zone.
#[derive(Debug, Serialize)]
pub struct InterviewView {
    pub id: i64,
    pub title: String,
    pub when: String,
    pub minutes: String,
    /// scheduled, cancelled or completed, and in words.
    pub status: String,
    pub status_text: String,
    pub location: Option<String>,
    pub video_url: Option<String>,
    pub candidate: String,
    pub application_href: String,
    pub posting: String,
    pub posting_href: String,
    pub interviewers: Vec<InterviewerView>,
    /// The candidate's calendar's answer, in words.
    pub candidate_answer: Option<String>,
}

/// An interviewer and their feedback.
#[derive(Debug, Serialize)]
pub struct InterviewerView {
    pub name: String,
    pub email: String,
    /// Their recommendation in words, or "no feedback yet".
    pub feedback: String,
    pub given: bool,
    pub note: Option<String>,
    /// Their calendar's answer to the invitation, in words.
    pub answer: Option<String>,
}

/// The board's view of `rows`, with their interviewers, candidates and
/// postings read in three queries.
pub async fn interview_views(
    c: &Ctx<'_>,
    rows: Vec<entity::interview::Model>,
) -> Result<Vec<InterviewView>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let conn = c.store.conn();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut who = crate::store::interviews::interviewers(conn, &ids).await?;
    let app_ids: Vec<i64> = rows.iter().map(|r| r.application_id).collect();
    let apps: HashMap<i64, (entity::application::Model, Option<entity::candidate::Model>)> =
        crate::store::applications::with_candidates(conn, &app_ids)
            .await?
            .into_iter()
            .map(|(a, cand)| (a.id, (a, cand)))
            .collect();
    // blind review: the applications on which the viewer interviews and has
    // given no feedback yet show them nobody else's
    let blind: std::collections::HashSet<i64> = match c.viewer {
        Some(person) => {
            crate::store::interviews::blind_applications(conn, person, &app_ids).await?
        }
        None => Default::default(),
    };
    let posting_ids: Vec<i64> = apps.values().map(|(a, _)| a.posting_id).collect();
    let postings: HashMap<i64, String> = crate::store::postings::by_ids(conn, &posting_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p.title))
        .collect();
    Ok(rows
        .into_iter()
        .map(|iv| {
            let status = crate::workflow::interviews::status_at(&iv, c.now).to_string();
            let (candidate, posting_id) = apps
                .get(&iv.application_id)
                .map(|(a, cand)| {
                    (
                        cand.as_ref().map(|x| x.name.clone()).unwrap_or_default(),
                        a.posting_id,
                    )
                })
                .unwrap_or_default();
            let hidden = blind.contains(&iv.application_id);
            let interviewers = who
                .remove(&iv.id)
                .unwrap_or_default()
                .into_iter()
                .map(|x| {
                    let theirs = hidden && Some(x.person.id) != c.viewer;
                    InterviewerView {
                        name: x.person.name.clone(),
                        email: x.person.email.clone(),
                        given: x.recommendation.is_some() && !theirs,
                        feedback: match (&x.recommendation, theirs) {
                            (Some(_), true) => c.w("feedback_hidden"),
                            (Some(r), false) => c.w(&format!("rec_{r}")),
                            (None, _) => c.w("no_feedback"),
                        },
                        note: if theirs { None } else { x.note },
                        answer: x.partstat.map(|p| c.w(&format!("partstat_{p}"))),
                    }
                })
                .collect();
            InterviewView {
                id: iv.id,
                title: iv.title.clone(),
                when: c.time(&iv.starts_at),
                minutes: fill(&c.w("minutes_n"), &[("n", iv.minutes.to_string())]),
                status_text: c.w(&format!("iv_{status}")),
                status,
                location: iv.location.clone(),
                video_url: iv.video_url.clone(),
                candidate,
                application_href: format!("/board/applications/{}", iv.application_id),
                posting: postings.get(&posting_id).cloned().unwrap_or_default(),
                posting_href: format!("/board/postings/{posting_id}"),
                interviewers,
                candidate_answer: iv
                    .candidate_partstat
                    .as_ref()
                    .map(|p| c.w(&format!("partstat_{p}"))),
            }
        })
        .collect())
}

/// `/board/interviews`: the interviews of the coming week, from the start
/// of the viewer's day.
#[derive(Debug, Serialize)]
pub struct InterviewsPage {
    pub heading: String,
    pub rows: Vec<InterviewView>,
}

pub async fn interviews_page(c: &Ctx<'_>) -> Result<InterviewsPage> {
    let today = c.now.with_timezone(&c.tz).date_naive();
    let from = today
        .and_hms_opt(0, 0, 0)
        .and_then(|t| {
            chrono::TimeZone::from_local_datetime(&c.tz, &t)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        })
        .unwrap_or(c.now);
    let to = from + Duration::days(7);
    let rows = crate::store::interviews::starting_between(c.store.conn(), from, to).await?;
    Ok(InterviewsPage {
        heading: fill(
            &c.w("interviews_week"),
            &[
                (
                    "from",
                    from.with_timezone(&c.tz).format("%Y-%m-%d").to_string(),
                ),
                (
                    "to",
                    (to - Duration::days(1))
                        .with_timezone(&c.tz)
                        .format("%Y-%m-%d")
                        .to_string(),
                ),
            ],
        ),
        rows: interview_views(c, rows).await?,
    })
}
