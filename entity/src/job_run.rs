use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One run of a scheduled job; `(job, scheduled_for)` is unique so that each
/// occurrence runs once across every daemon sharing the database.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "job_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub job: String,
    pub scheduled_for: DateTimeUtc,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub outcome: Option<String>,
    pub counts: Option<Json>,
    pub instance: String,
    /// Why the run failed, or that an earlier attempt was interrupted.
    pub error: Option<String>,
    /// How many times this occurrence was started (a run interrupted by a
    /// crash is taken over by the next process).
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
