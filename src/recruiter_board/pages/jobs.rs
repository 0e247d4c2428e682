//! `/board/jobs`: each job's last run and the recent failures.

use super::*;

/// `/board/jobs`.
#[derive(Debug, Serialize)]
pub struct JobsPage {
    pub jobs: Vec<JobView>,
    pub failures: Vec<FailureView>,
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub job: &'static str,
    pub schedule: String,
    pub last: Option<LastRun>,
    pub next: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LastRun {
    pub scheduled_for: String,
    pub finished: Option<String>,
    pub outcome: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FailureView {
    pub job: String,
    pub scheduled_for: String,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub instance: String,
}

/// `/board/jobs`: per job its schedule, last run and next run, then the
/// recent failures.
pub async fn jobs_page(c: &Ctx<'_>) -> Result<JobsPage> {
    let conn = c.store.conn();
    let mut jobs = Vec::new();
    for (job, expr) in c.config.schedule.jobs() {
        let last = crate::store::stats::last_run(conn, job).await?;
        let next = crate::schedule::parse_cron(expr)
            .ok()
            .and_then(|cr| cr.next_after(c.now, c.tz));
        jobs.push(JobView {
            job,
            schedule: expr.to_string(),
            last: last.as_ref().map(|l| LastRun {
                scheduled_for: c.time(&l.scheduled_for),
                finished: l.finished_at.as_ref().map(|t| c.time(t)),
                outcome: l.outcome.clone().unwrap_or_else(|| "running".into()),
                error: l.error.clone(),
            }),
            next: next.as_ref().map(|t| c.time(t)),
        });
    }
    let failures = q::job_failures(conn, 20).await?;
    Ok(JobsPage {
        jobs,
        failures: failures
            .iter()
            .map(|f| FailureView {
                job: f.job.clone(),
                scheduled_for: c.time(&f.scheduled_for),
                outcome: f.outcome.clone(),
                error: f.error.clone(),
                instance: f.instance.clone(),
            })
            .collect(),
    })
}
