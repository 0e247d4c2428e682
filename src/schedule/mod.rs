//! Scheduling. For now: cron expressions, validated when the configuration
//! loads. The job runner joins this module in the scheduler issue.

pub mod cron_expr;

pub use cron_expr::{CronExpr, parse as parse_cron};
