//! Read-only queries behind `atsd report` and `atsd status`.

use crate::error::Result;
use entity::{application, job_run, outbox, posting, transition};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// The tables `/metrics` counts by status.
#[derive(Clone, Copy, Debug)]
pub enum Counted {
    Outbox,
    Postings,
    WebhookDeliveries,
}

/// `(status, count)` of a table's rows.
pub async fn by_status<C: ConnectionTrait>(c: &C, table: Counted) -> Result<Vec<(String, i64)>> {
    let table = match table {
        Counted::Outbox => "outbox",
        Counted::Postings => "postings",
        Counted::WebhookDeliveries => "webhook_deliveries",
    };
    let rows = c
        .query_all_raw(super::sql(
            c.get_database_backend(),
            &format!("SELECT status, COUNT(*) AS n FROM {table} GROUP BY status"),
            vec![],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "status")?, r.try_get("", "n")?)))
        .collect()
}

/// When each job last finished a run well.
pub async fn last_successes<C: ConnectionTrait>(
    c: &C,
) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    let rows = c
        .query_all_raw(super::sql(
            c.get_database_backend(),
            "SELECT job, MAX(finished_at) AS at FROM job_runs WHERE outcome = 'ok' GROUP BY job",
            vec![],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "job")?, r.try_get("", "at")?)))
        .collect()
}

/// Everything the pipeline report is computed from.
pub struct ReportData {
    pub postings: Vec<posting::Model>,
    pub applications: Vec<application::Model>,
    pub transitions: Vec<transition::Model>,
}

pub async fn report_data<C: ConnectionTrait>(c: &C, posting_id: Option<i64>) -> Result<ReportData> {
    let mut pq = posting::Entity::find().order_by_asc(posting::Column::Id);
    let mut aq = application::Entity::find().order_by_asc(application::Column::Id);
    let mut tq = transition::Entity::find()
        .order_by_asc(transition::Column::ApplicationId)
        .order_by_asc(transition::Column::At)
        .order_by_asc(transition::Column::Id);
    if let Some(p) = posting_id {
        pq = pq.filter(posting::Column::Id.eq(p));
        aq = aq.filter(application::Column::PostingId.eq(p));
        tq = tq
            .inner_join(application::Entity)
            .filter(application::Column::PostingId.eq(p));
    }
    Ok(ReportData {
        postings: pq.all(c).await?,
        applications: aq.all(c).await?,
        transitions: tq.all(c).await?,
    })
}

/// `(status, count)` of postings.
pub async fn postings_by_status<C: ConnectionTrait>(c: &C) -> Result<Vec<(String, i64)>> {
    Ok(posting::Entity::find()
        .select_only()
        .column(posting::Column::Status)
        .column_as(posting::Column::Id.count(), "n")
        .group_by(posting::Column::Status)
        .order_by_asc(posting::Column::Status)
        .into_tuple()
        .all(c)
        .await?)
}

/// `(status, count)` of outbox emails.
pub async fn outbox_by_status<C: ConnectionTrait>(c: &C) -> Result<Vec<(String, i64)>> {
    Ok(outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Status)
        .column_as(outbox::Column::Id.count(), "n")
        .group_by(outbox::Column::Status)
        .order_by_asc(outbox::Column::Status)
        .into_tuple()
        .all(c)
        .await?)
}

/// `(stage, count)` of applications.
pub async fn applications_by_stage<C: ConnectionTrait>(c: &C) -> Result<Vec<(String, i64)>> {
    Ok(application::Entity::find()
        .select_only()
        .column(application::Column::Stage)
        .column_as(application::Column::Id.count(), "n")
        .group_by(application::Column::Stage)
        .into_tuple()
        .all(c)
        .await?)
}

/// The newest run of `job`, if any.
pub async fn last_run<C: ConnectionTrait>(c: &C, job: &str) -> Result<Option<job_run::Model>> {
    Ok(job_run::Entity::find()
        .filter(job_run::Column::Job.eq(job))
        .order_by_desc(job_run::Column::ScheduledFor)
        .one(c)
        .await?)
}
